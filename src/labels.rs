//! The names that travel with a call from the SIP core to the journal, the
//! router and the API: the tenant that owns it, the calling number, and
//! [`CallLabels`], the three together with the SIP Call-ID.
//!
//! Each serialises as the plain string it wraps, so the journal's and the
//! API's JSON are the same as when these were bare `String`s.

use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::sip::types::CallId;

string_newtype!(
    /// A tenant (a municipality), as named in `[[tenants]]` in the dialplan.
    #[derive(Serialize, Deserialize, Default)]
    #[serde(transparent)]
    TenantId
);
string_newtype!(
    /// A calling number: the From URI's user part of a device call, or the
    /// number a recall dials.
    #[derive(Serialize, Deserialize, Default)]
    #[serde(transparent)]
    Caller
);

/// Conversions from the strings these are read as, and comparison with them.
macro_rules! from_strings {
    ($name:ident) => {
        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
from_strings!(TenantId);
from_strings!(Caller);

/// What travels with a call to the journal, the router and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLabels {
    /// The SIP Call-ID (the call's public id).
    pub call_id: CallId,
    /// The tenant that owns the call.
    pub tenant: TenantId,
    /// The calling number.
    pub caller: Caller,
}

impl CallLabels {
    /// The labels of one call.
    pub fn new(call_id: CallId, tenant: TenantId, caller: Caller) -> Self {
        Self {
            call_id,
            tenant,
            caller,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_serialise_as_plain_strings() {
        let json = serde_json::json!({
            "tenant": TenantId::new("demo"),
            "calling_number": Caller::new("4512345678"),
        });
        assert_eq!(
            json.to_string(),
            r#"{"calling_number":"4512345678","tenant":"demo"}"#
        );
        let back: TenantId = serde_json::from_str("\"north\"").unwrap_or_default();
        assert_eq!(back.as_str(), "north");
    }
}
