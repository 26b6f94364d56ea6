//! Contact ID field newtypes (SIA DC-05 message layout `ACCT MT Q XYZ GG CCC S`).
//!
//! Every field holds *Ademco hex* text, upper case: digits `0-9` and `B-F`
//! (DTMF `*` `#` `A` `B` `C` carry B-F; see [`super::contact_id`]). Fields are
//! never parsed as decimal (pitfall P6: accounts and zones can hold B-F).
//! Hex `A` is not allowed anywhere: Contact ID sends value 10 as the digit 0.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a field value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The value does not have the field's fixed width.
    #[error("{field} must be {expected} Ademco hex digits, got {got:?}")]
    WrongLength {
        /// Field name.
        field: &'static str,
        /// Required width.
        expected: usize,
        /// The rejected value.
        got: String,
    },
    /// A character outside `0-9 B-F` (hex `A` included).
    #[error("{field} holds {ch:?}, which is not an Ademco digit (0-9, B-F)")]
    InvalidDigit {
        /// Field name.
        field: &'static str,
        /// The rejected character.
        ch: char,
    },
}

/// True for the Ademco digits Contact ID fields may hold.
pub fn is_ademco_digit(c: char) -> bool {
    matches!(c, '0'..='9' | 'B'..='F')
}

fn check(field: &'static str, width: usize, value: &str) -> Result<String, FieldError> {
    let upper = value.to_ascii_uppercase();
    if upper.chars().count() != width {
        return Err(FieldError::WrongLength {
            field,
            expected: width,
            got: value.to_owned(),
        });
    }
    match upper.chars().find(|&c| !is_ademco_digit(c)) {
        Some(ch) => Err(FieldError::InvalidDigit { field, ch }),
        None => Ok(upper),
    }
}

macro_rules! hex_field {
    ($(#[$doc:meta])* $name:ident, $label:literal, $width:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Field width in digits.
            pub const WIDTH: usize = $width;

            /// Validates Ademco hex text of the field's width (case-insensitive).
            pub fn new(value: &str) -> Result<Self, FieldError> {
                check($label, $width, value).map(Self)
            }
            /// The Ademco hex text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(value: String) -> Result<Self, FieldError> {
                Self::new(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

hex_field!(
    /// Subscriber account, 4 Ademco digits (`1234`, `12B4`).
    AccountNo,
    "account",
    4
);
hex_field!(
    /// Event qualifier, 1 digit: `1` new event/opening, `3` restore/closing,
    /// `6` previously reported, still present.
    Qualifier,
    "qualifier",
    1
);
hex_field!(
    /// Event code `XYZ`, 3 Ademco digits (`101` personal emergency).
    EventCode,
    "event code",
    3
);
hex_field!(
    /// Group or partition, 2 digits; `00` means none.
    GroupNo,
    "group",
    2
);
hex_field!(
    /// Zone (event reports) or user number (open/close), 3 digits; `000` means none.
    ZoneNo,
    "zone",
    3
);

impl Qualifier {
    /// The DC-05 meaning of the qualifier, if it is one of 1, 3, 6.
    pub fn name(&self) -> Option<&'static str> {
        match self.0.as_str() {
            "1" => Some("New event or opening"),
            "3" => Some("New restore or closing"),
            "6" => Some("Previously reported condition still present"),
            _ => None,
        }
    }

    /// True for qualifier 3 (restore or closing).
    pub fn is_restore(&self) -> bool {
        self.0 == "3"
    }
}

impl EventCode {
    /// The DC-05 name of the code, if it is in the table.
    pub fn name(&self) -> Option<&'static str> {
        super::event_codes::event_name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_validate_width_and_digits() {
        assert_eq!(
            AccountNo::new("12b4").map(|a| a.to_string()),
            Ok("12B4".into())
        );
        assert!(matches!(
            AccountNo::new("12A4"),
            Err(FieldError::InvalidDigit { ch: 'A', .. })
        ));
        assert!(matches!(
            ZoneNo::new("01"),
            Err(FieldError::WrongLength { .. })
        ));
        assert!(matches!(
            GroupNo::new("0*"),
            Err(FieldError::InvalidDigit { ch: '*', .. })
        ));
        assert_eq!(
            EventCode::new("0FF").map(|c| c.as_str().to_owned()),
            Ok("0FF".into())
        );
    }

    #[test]
    fn qualifier_and_event_names() {
        assert_eq!(
            Qualifier::new("3").ok().and_then(|q| q.name()),
            Some("New restore or closing")
        );
        assert_eq!(Qualifier::new("7").ok().and_then(|q| q.name()), None);
        let code = EventCode::new("101").ok();
        assert_eq!(code.and_then(|c| c.name()), Some("Personal emergency"));
    }

    #[test]
    fn serde_goes_through_validation() {
        let ok: Result<EventCode, _> = serde_json::from_str("\"6c2\"");
        assert_eq!(ok.map(String::from).ok(), Some("6C2".to_owned()));
        let bad: Result<AccountNo, _> = serde_json::from_str("\"1A34\"");
        assert!(bad.is_err());
    }
}
