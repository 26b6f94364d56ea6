//! The typed SCAIP request `<mrq>` (alarm-protocols.md §4.2): the tags a
//! receiver decides on, with the defaults real devices rely on (a missing
//! `mty` is an alarm, a missing `stc` is 10, a missing `cha` is 0), and
//! every tag as received for the record.
//!
//! Only `ref`, `cid` and `dty` are mandatory (missing: `snu=7`); a code that
//! is not a number, or an unknown `mty`, is wrong data (`snu=3`).

use super::codes::Code;
use super::xml::{self, Field, XmlError};

/// What the unit asks for (`mty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// `ME`: an alarm or message.
    Alarm,
    /// `RE`: the alarm is withdrawn (reset).
    Reset,
    /// `IN`: information, an update.
    Info,
    /// `PI`: a heartbeat (poll).
    Heartbeat,
}

impl MessageType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "ME" => Self::Alarm,
            "RE" => Self::Reset,
            "IN" => Self::Info,
            "PI" => Self::Heartbeat,
            _ => return None,
        })
    }

    /// The two letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alarm => "ME",
            Self::Reset => "RE",
            Self::Info => "IN",
            Self::Heartbeat => "PI",
        }
    }
}

/// One caller id (`crd`): how the unit will call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerId {
    /// `sip:` (the default scheme) or `sip-pp:` with a user or number.
    Sip(String),
    /// `gsm:` with an MSISDN (maybe empty: the unit does not know it).
    Gsm(String),
    /// `no-voice:`: the unit will not call.
    NoVoice,
}

impl CallerId {
    fn parse(text: &str) -> Self {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("no-voice:") {
            return Self::NoVoice;
        }
        // The prefixes are ASCII: the same byte offsets hold in `t`.
        let after = |p: &str| {
            lower
                .starts_with(p)
                .then(|| t.get(p.len()..).unwrap_or_default())
        };
        if let Some(rest) = after("gsm:") {
            return Self::Gsm(rest.trim().to_owned());
        }
        let rest = ["sip-pp:", "sips:", "sip:"]
            .iter()
            .find_map(|p| after(p))
            .unwrap_or(t);
        let user = rest.split('@').next().unwrap_or_default();
        Self::Sip(user.trim().to_owned())
    }

    /// The digits a voice call's caller id would show (`+4570…` → `4570…`), if any.
    pub fn number(&self) -> Option<String> {
        let raw = match self {
            Self::Sip(s) | Self::Gsm(s) => s,
            Self::NoVoice => return None,
        };
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    }
}

/// A decoded `<mrq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrq {
    /// `ref`, echoed in the answer.
    pub reference: String,
    /// `cid`, the unit's identity (account).
    pub cid: String,
    /// `dty`.
    pub dty: Code,
    /// `mty` (default: alarm).
    pub mty: MessageType,
    /// `stc` (default 10, manual alarm).
    pub stc: Code,
    /// `cha`: 1 when the centre is to call back (default 0, the unit calls).
    pub callback: bool,
    /// Every `crd`.
    pub callers: Vec<CallerId>,
    /// `lco`, when sent and numeric.
    pub lco: Option<Code>,
    /// Every tag as received, in order.
    pub fields: Vec<Field>,
}

/// Why a well-formed `<mrq>` cannot be taken (the `snu` follows from it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not XML the reader accepts (`snu=2`, or a SIP 4xx).
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A mandatory tag is missing or empty (`snu=7`).
    #[error("mandatory <{0}> missing")]
    Missing(&'static str),
    /// A tag has a value outside its definition (`snu=3`).
    #[error("<{tag}> has a wrong value")]
    Wrong {
        /// The tag.
        tag: &'static str,
    },
}

impl Mrq {
    /// Decodes a body.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        Self::from_fields(xml::read(body, "mrq")?)
    }

    /// Decodes the tags of a `<mrq>`.
    pub fn from_fields(fields: Vec<Field>) -> Result<Self, RequestError> {
        let find = |tag: &str| first(&fields, tag);
        let reference = find("ref").ok_or(RequestError::Missing("ref"))?.to_owned();
        let cid = find("cid").ok_or(RequestError::Missing("cid"))?.to_owned();
        let dty = find("dty").ok_or(RequestError::Missing("dty"))?;
        let dty = Code::parse(dty).ok_or(RequestError::Wrong { tag: "dty" })?;
        let mty = match find("mty") {
            None => MessageType::Alarm,
            Some(m) => MessageType::parse(m).ok_or(RequestError::Wrong { tag: "mty" })?,
        };
        let stc = code_or(find("stc"), "stc", Code(10))?;
        let callback = code_or(find("cha"), "cha", Code(0))?.0 == 1;
        let lco = find("lco").map(|t| Code::parse(t).ok_or(RequestError::Wrong { tag: "lco" }));
        let callers = fields
            .iter()
            .filter(|f| f.tag == "crd")
            .map(|f| CallerId::parse(&f.text))
            .collect();
        Ok(Self {
            reference,
            cid,
            dty,
            mty,
            stc,
            callback,
            callers,
            lco: lco.transpose()?,
            fields,
        })
    }

    /// True when the unit said it will place no voice call.
    pub fn no_voice(&self) -> bool {
        self.callers.contains(&CallerId::NoVoice)
    }

    /// The numbers the unit's voice call may come from.
    pub fn caller_numbers(&self) -> Vec<String> {
        self.callers.iter().filter_map(CallerId::number).collect()
    }
}

/// The text of the first non-empty `tag`.
fn first<'a>(fields: &'a [Field], tag: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.tag == tag && !f.text.is_empty())
        .map(|f| f.text.as_str())
}

fn code_or(text: Option<&str>, tag: &'static str, default: Code) -> Result<Code, RequestError> {
    match text {
        None => Ok(default),
        Some(t) => Code::parse(t).ok_or(RequestError::Wrong { tag }),
    }
}

/// The §4.5 device samples (Essence, Possum, Telealarm, the CHAI client).
#[cfg(test)]
pub(crate) const SAMPLES: [&str; 7] = [
    "<mrq><ref>00001A85</ref><cha>0</cha><mty>PI</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>no-voice:</crd><stc>102</stc></mrq>",
    "<mrq><mty>PI</mty><ref>1998218577</ref><cid>10149471</cid><dty>2</dty></mrq>",
    "<mrq><ref>v6l7eiuzBTfybE7j</ref><cid>999998</cid><dty>0002</dty><mty>PI</mty><stc>0009</stc><lco>002</lco><crd>gsm:</crd><cha>0</cha></mrq>",
    "<mrq><ref>00001883</ref><cha>0</cha><mty>ME</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>gsm:+37284463906</crd><stc>010</stc></mrq>",
    "<mrq><ref>1193308443</ref><cid>10149471</cid><dty>3</dty><stc>10</stc><crd>gsm:</crd></mrq>",
    "<mrq><ref>yhexGeV5E49zglfi</ref><cid>999998</cid><dty>0004</dty><mty>ME</mty><stc>0010</stc><lco>002</lco><crd>gsm:</crd><cha>0</cha></mrq>",
    "<mrq><ref>787025300001</ref><cha>1</cha><mty>ME</mty><cid>4711</cid><dty>0004</dty><stc>0010</stc><crd>gsm:+4520304050</crd></mrq>",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Mrq {
        Mrq::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn the_device_samples_decode() {
        let m: Vec<Mrq> = SAMPLES.iter().map(|s| parse(s)).collect();
        assert_eq!(m[0].mty, MessageType::Heartbeat);
        assert!(m[0].no_voice());
        assert_eq!(
            (m[1].mty, m[1].dty, m[1].stc),
            (MessageType::Heartbeat, Code(2), Code(10))
        );
        assert_eq!(
            (m[2].mty, m[2].stc, m[2].lco),
            (MessageType::Heartbeat, Code(9), Some(Code(2)))
        );
        assert_eq!(m[3].reference, "00001883");
        assert_eq!(
            (m[3].mty, m[3].stc, m[3].dty),
            (MessageType::Alarm, Code(10), Code(2))
        );
        assert_eq!(m[3].caller_numbers(), vec!["37284463906".to_string()]);
        assert_eq!(
            (m[4].mty, m[4].dty),
            (MessageType::Alarm, Code(3)),
            "mty defaults to ME"
        );
        assert!(m[4].caller_numbers().is_empty());
        assert_eq!((m[5].cid.as_str(), m[5].dty), ("999998", Code(4)));
        assert!(m[6].callback);
        assert_eq!(m[6].fields.len(), 7);
    }

    #[test]
    fn mandatory_tags_and_wrong_values() {
        let missing = |s: &str| Mrq::parse(s.as_bytes()).unwrap_err();
        assert_eq!(
            missing("<mrq><cid>1</cid><dty>2</dty></mrq>"),
            RequestError::Missing("ref")
        );
        assert_eq!(
            missing("<mrq><ref>1</ref><dty>2</dty></mrq>"),
            RequestError::Missing("cid")
        );
        assert_eq!(
            missing("<mrq><ref>1</ref><cid></cid><dty>2</dty></mrq>"),
            RequestError::Missing("cid")
        );
        assert_eq!(
            missing("<mrq><ref>1</ref><cid>1</cid></mrq>"),
            RequestError::Missing("dty")
        );
        assert_eq!(
            missing("<mrq><ref>1</ref><cid>1</cid><dty>x</dty></mrq>"),
            RequestError::Wrong { tag: "dty" }
        );
        assert_eq!(
            missing("<mrq><ref>1</ref><cid>1</cid><dty>2</dty><mty>ZZ</mty></mrq>"),
            RequestError::Wrong { tag: "mty" }
        );
    }

    #[test]
    fn caller_ids_in_their_forms() {
        assert_eq!(
            CallerId::parse("sip:4512@unit.example").number().as_deref(),
            Some("4512")
        );
        assert_eq!(CallerId::parse("SIP-PP:99").number().as_deref(), Some("99"));
        assert_eq!(CallerId::parse("+4512").number().as_deref(), Some("4512"));
        assert_eq!(CallerId::parse("gsm:"), CallerId::Gsm(String::new()));
        assert_eq!(CallerId::parse("no-voice:"), CallerId::NoVoice);
    }
}
