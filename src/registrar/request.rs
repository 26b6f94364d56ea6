//! Reading a REGISTER (RFC 3261 §10.2, §10.3 steps 5-7): the address of
//! record, the Contact list (or `*`), the expiry asked for, Call-ID and
//! CSeq. Anything we cannot read is a [`RegisterError`], answered with 400.

use crate::routing::OperatorId;
use crate::sip::message::{self, rsip, split_commas, split_params, Method, Request};
use crate::sip::types::CallId;

/// Longest Contact URI we store (longer ones are refused).
const MAX_URI_LEN: usize = 512;

/// A REGISTER we can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisterRequest {
    /// The user part of the To URI: the operator.
    pub aor: OperatorId,
    pub call_id: CallId,
    pub cseq: u32,
    pub contacts: Contacts,
    /// The `Expires` header, in seconds (saturated at u32::MAX).
    pub expires: Option<u32>,
    /// The first `Authorization` value, if any.
    pub authorization: Option<String>,
}

/// What the Contact headers ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Contacts {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding.
    Wildcard,
    /// Contacts to add, refresh or remove.
    List(Vec<ContactSpec>),
}

/// One Contact value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactSpec {
    /// The URI as sent, without angle brackets or header parameters.
    pub uri: String,
    /// The URI for comparisons: scheme, host and parameters in lower case.
    pub key: String,
    /// Its `expires` parameter, in seconds.
    pub expires: Option<u32>,
}

/// Why a REGISTER cannot be read (answered with 400 and this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The request is not a REGISTER.
    #[error("not a REGISTER")]
    NotRegister,
    /// A required header is missing or malformed.
    #[error(transparent)]
    Header(#[from] message::MessageError),
    /// The To header holds no usable SIP URI.
    #[error("To {value:?} is not a sip: or sips: URI")]
    BadTo {
        /// The value (truncated).
        value: String,
    },
    /// The To URI has no user part to name an operator.
    #[error("To URI has no user part")]
    NoUser,
    /// A Contact value is not a usable SIP URI.
    #[error("Contact {value:?} is not a sip: or sips: URI")]
    BadContact {
        /// The value (truncated).
        value: String,
    },
    /// An `expires` parameter or `Expires` header is not a number.
    #[error("expires value {value:?} is not a number")]
    BadExpires {
        /// The value (truncated).
        value: String,
    },
    /// `*` together with other contacts, or with an expiry other than 0.
    #[error("Contact * needs Expires: 0 and no other contact")]
    BadWildcard,
}

impl RegisterError {
    /// A short reason phrase for the 400.
    pub fn reason_phrase(&self) -> String {
        match self {
            Self::NotRegister => "Not a REGISTER".into(),
            Self::Header(e) => e.reason_phrase(),
            Self::BadTo { .. } | Self::NoUser => "Invalid To Header".into(),
            Self::BadContact { .. } => "Invalid Contact Header".into(),
            Self::BadExpires { .. } => "Invalid Expires".into(),
            Self::BadWildcard => "Invalid Wildcard Contact".into(),
        }
    }
}

/// Reads `req` as a REGISTER.
pub(crate) fn read(req: &Request) -> Result<RegisterRequest, RegisterError> {
    if req.method != Method::Register {
        return Err(RegisterError::NotRegister);
    }
    let call_id = message::call_id(req)?;
    let (cseq, _) = message::cseq(req)?;
    let to = message::header_value(req, "To").ok_or_else(|| missing("To"))?;
    let aor = aor_user(to)?;
    let expires = match message::header_value(req, "Expires") {
        Some(v) => Some(seconds(v)?),
        None => None,
    };
    let contacts = contacts(req, expires)?;
    let authorization = message::header_value(req, "Authorization").map(str::to_string);
    Ok(RegisterRequest {
        aor,
        call_id,
        cseq,
        contacts,
        expires,
        authorization,
    })
}

fn missing(name: &str) -> RegisterError {
    RegisterError::Header(message::MessageError::MissingHeader { name: name.into() })
}

fn truncated(value: &str) -> String {
    value.chars().take(64).collect()
}

/// The operator named by the To URI's user part.
fn aor_user(to: &str) -> Result<OperatorId, RegisterError> {
    let uri = sip_uri(uri_part(to)).ok_or_else(|| RegisterError::BadTo {
        value: truncated(to),
    })?;
    match uri.user() {
        Some(user) if !user.is_empty() => Ok(OperatorId::new(user)),
        _ => Err(RegisterError::NoUser),
    }
}

/// Every Contact value, on any number of lines and comma-joined.
fn contacts(req: &Request, expires: Option<u32>) -> Result<Contacts, RegisterError> {
    let values: Vec<&str> = req
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Contact"))
        .flat_map(|h| split_commas(h.value()))
        .collect();
    if values.is_empty() {
        return Ok(Contacts::Query);
    }
    if values.contains(&"*") {
        return match (values.len(), expires) {
            (1, Some(0)) => Ok(Contacts::Wildcard),
            _ => Err(RegisterError::BadWildcard),
        };
    }
    values
        .into_iter()
        .map(contact)
        .collect::<Result<_, _>>()
        .map(Contacts::List)
}

fn contact(value: &str) -> Result<ContactSpec, RegisterError> {
    let bad = || RegisterError::BadContact {
        value: truncated(value),
    };
    let text = uri_part(value);
    if text.len() > MAX_URI_LEN {
        return Err(bad());
    }
    sip_uri(text).ok_or_else(bad)?;
    let mut expires = None;
    for (name, v) in split_params(split_name_addr(value).1) {
        if name.eq_ignore_ascii_case("expires") {
            expires = Some(seconds(v.unwrap_or(""))?);
        }
    }
    Ok(ContactSpec {
        uri: text.to_string(),
        key: compare_key(text),
        expires,
    })
}

/// Splits a Contact or To value into its URI and its header parameters:
/// a name-addr's URI is between the first `<` outside the display name's
/// quotes and the next `>` (a parameter such as `+sip.instance="<urn:…>"`
/// may hold more angle brackets); an addr-spec's ends at the first `;`.
fn split_name_addr(value: &str) -> (&str, &str) {
    let value = value.trim();
    let Some(open) = angle_open(value) else {
        let end = value.find(';').unwrap_or(value.len());
        return (
            value.get(..end).unwrap_or(""),
            value.get(end..).unwrap_or(""),
        );
    };
    let rest = value.get(open + 1..).unwrap_or("");
    match rest.find('>') {
        Some(close) => (
            rest.get(..close).unwrap_or("").trim(),
            rest.get(close + 1..).unwrap_or(""),
        ),
        None => ("", ""),
    }
}

/// The byte index of the first `<` outside double quotes.
fn angle_open(value: &str) -> Option<usize> {
    let (mut in_quotes, mut escaped) = (false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

/// The URI of a name-addr or addr-spec.
fn uri_part(value: &str) -> &str {
    split_name_addr(value).0
}

/// A `sip:`/`sips:` URI with a host and no white space or controls.
fn sip_uri(text: &str) -> Option<rsip::Uri> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let uri = rsip::Uri::try_from(text).ok()?;
    let sip = matches!(uri.scheme, Some(rsip::Scheme::Sip | rsip::Scheme::Sips));
    (sip && !uri.host().to_string().is_empty()).then_some(uri)
}

/// Lower case except the user part, which is case-sensitive (RFC 3261 §19.1.4).
fn compare_key(uri: &str) -> String {
    let (scheme, rest) = uri.split_once(':').unwrap_or(("", uri));
    match rest.rsplit_once('@') {
        Some((user, host)) => format!(
            "{}:{user}@{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        ),
        None => uri.to_ascii_lowercase(),
    }
}

/// A delta-seconds value; numbers beyond u32 saturate (RFC 3261 §20.19).
fn seconds(value: &str) -> Result<u32, RegisterError> {
    let v = value.trim().trim_matches('"');
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegisterError::BadExpires {
            value: truncated(value),
        });
    }
    Ok(v.parse::<u32>().unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts_keys_and_seconds() {
        assert_eq!(uri_part("\"A, B\" <sip:a@h;ob>;expires=5"), "sip:a@h;ob");
        assert_eq!(uri_part("sip:a@h;expires=5"), "sip:a@h");
        let linphone = "<sip:a@h;transport=tcp>;+sip.instance=\"<urn:uuid:1>\";expires=9";
        assert_eq!(
            split_name_addr(linphone),
            (
                "sip:a@h;transport=tcp",
                ";+sip.instance=\"<urn:uuid:1>\";expires=9"
            )
        );
        assert_eq!(uri_part("\"x<y\" <sip:a@h>"), "sip:a@h");
        assert_eq!(uri_part("<sip:a@h"), "");
        assert_eq!(
            compare_key("SIP:Alice@Host.EXAMPLE;Transport=TCP"),
            "sip:Alice@host.example;transport=tcp"
        );
        assert_eq!(seconds(" 3600 "), Ok(3600));
        assert_eq!(seconds("99999999999"), Ok(u32::MAX));
        assert!(seconds("-1").is_err() && seconds("").is_err() && seconds("1h").is_err());
        assert!(sip_uri("http://x").is_none() && sip_uri("sip:a b@h").is_none());
        assert!(sip_uri("sip:a@192.0.2.1:5060;transport=udp").is_some());
    }
}
