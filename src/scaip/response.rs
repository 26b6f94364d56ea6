//! The SCAIP response `<mrs>` (alarm-protocols.md §4.4): written by the
//! centre in its own MESSAGE to the unit, and read by `alarmgate simulate
//! scaip` (from that MESSAGE, or from a 200 body as some peers send it).
//!
//! `snu` says what became of the request; only 0 means "stored, handled".
//! An alarm that wants voice gets `mre`/`cre`/`tnu` (the tenant's policy),
//! a heartbeat gets `hbi` when the centre sets the interval.

use super::xml::{self, XmlError};
use std::fmt::Write;

/// The status number `snu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: received and stored.
    Ok,
    /// 1: message too long.
    TooLong,
    /// 2: invalid format (not the XML the standard defines).
    InvalidFormat,
    /// 3: wrong data content (a tag outside its definition).
    WrongData,
    /// 4: hold.
    Hold,
    /// 5: not treated (here: could not be stored; send again or elsewhere).
    NotTreated,
    /// 6: busy.
    Busy,
    /// 7: a mandatory tag is missing.
    MandatoryMissing,
}

impl Status {
    /// The number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::TooLong => 1,
            Self::InvalidFormat => 2,
            Self::WrongData => 3,
            Self::Hold => 4,
            Self::NotTreated => 5,
            Self::Busy => 6,
            Self::MandatoryMissing => 7,
        }
    }

    /// The status text `ste` we send with it.
    pub fn text(self) -> &'static str {
        match self {
            Self::Ok => "",
            Self::TooLong => "message too long",
            Self::InvalidFormat => "invalid format",
            Self::WrongData => "wrong data content",
            Self::Hold => "hold",
            Self::NotTreated => "not stored, send again",
            Self::Busy => "busy",
            Self::MandatoryMissing => "mandatory tag missing",
        }
    }
}

/// How a unit is to place its voice call (`mre`, `cre`, `tnu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceRequest {
    /// `mre`: 1 duplex, 2 microphone only, 3 speaker only.
    pub mre: u8,
    /// `cre`: 61 the predefined receiver, 62 the number in `tnu`.
    pub cre: u8,
    /// `tnu`, with `cre=62`.
    pub tnu: Option<String>,
}

/// A `<mrs>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrs {
    /// `ref` of the request (empty when it had none).
    pub reference: String,
    /// `snu`.
    pub status: Status,
    /// The voice call asked for, if any (otherwise `mre=0` is not written).
    pub voice: Option<VoiceRequest>,
    /// `hbi`: the heartbeat interval the unit is to keep, in seconds.
    pub hbi: Option<u32>,
}

impl Mrs {
    /// A bare answer to `reference`.
    pub fn new(reference: &str, status: Status) -> Self {
        Self {
            reference: reference.to_owned(),
            status,
            voice: None,
            hbi: None,
        }
    }

    /// The XML body (no declaration, no namespace, as devices send theirs).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("<mrs>");
        tag(&mut out, "ref", &self.reference);
        tag(&mut out, "snu", &self.status.number().to_string());
        tag(&mut out, "ste", self.status.text());
        tag(&mut out, "cve", "01.00");
        if let Some(v) = &self.voice {
            tag(&mut out, "mre", &v.mre.to_string());
            tag(&mut out, "cre", &v.cre.to_string());
            if let Some(tnu) = &v.tnu {
                tag(&mut out, "tnu", tnu);
            }
        }
        if let Some(hbi) = self.hbi {
            tag(&mut out, "hbi", &hbi.to_string());
        }
        out.push_str("</mrs>");
        out
    }
}

fn tag(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", quick_xml::escape::escape(text));
}

/// What a peer's `<mrs>` says (for `simulate scaip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMrs {
    /// `ref`.
    pub reference: String,
    /// `snu` as a number (absent: `None`).
    pub snu: Option<u32>,
    /// Every tag as received.
    pub fields: Vec<(String, String)>,
}

/// Reads a `<mrs>` body.
pub fn read_mrs(body: &[u8]) -> Result<ReadMrs, XmlError> {
    let fields: Vec<(String, String)> = xml::read(body, "mrs")?
        .into_iter()
        .map(|f| (f.tag, f.text))
        .collect();
    let get = |t: &str| fields.iter().find(|(k, _)| k == t).map(|(_, v)| v.clone());
    Ok(ReadMrs {
        reference: get("ref").unwrap_or_default(),
        snu: get("snu").and_then(|s| s.trim().parse().ok()),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_answer_asks_for_the_call() {
        let mut mrs = Mrs::new("00001883", Status::Ok);
        mrs.voice = Some(VoiceRequest {
            mre: 1,
            cre: 62,
            tnu: Some("+4570000000".into()),
        });
        assert_eq!(
            mrs.to_xml(),
            "<mrs><ref>00001883</ref><snu>0</snu><ste></ste><cve>01.00</cve>\
             <mre>1</mre><cre>62</cre><tnu>+4570000000</tnu></mrs>"
        );
    }

    #[test]
    fn a_heartbeat_answer_sets_the_interval_and_refs_are_escaped() {
        let mut mrs = Mrs::new("a<&b", Status::Ok);
        mrs.hbi = Some(3600);
        let xml = mrs.to_xml();
        assert!(
            xml.starts_with("<mrs><ref>a&lt;&amp;b</ref><snu>0</snu>"),
            "{xml}"
        );
        assert!(xml.ends_with("<hbi>3600</hbi></mrs>"), "{xml}");
        let back = read_mrs(xml.as_bytes()).unwrap();
        assert_eq!((back.reference.as_str(), back.snu), ("a<&b", Some(0)));
    }

    #[test]
    fn status_numbers_are_the_standards() {
        let all = [
            Status::Ok,
            Status::TooLong,
            Status::InvalidFormat,
            Status::WrongData,
            Status::Hold,
            Status::NotTreated,
            Status::Busy,
            Status::MandatoryMissing,
        ];
        let numbers: Vec<u8> = all.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        let mrs = Mrs::new("9", Status::MandatoryMissing).to_xml();
        assert_eq!(read_mrs(mrs.as_bytes()).unwrap().snu, Some(7));
    }
}
