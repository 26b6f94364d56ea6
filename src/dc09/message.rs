//! The event inside a DC-09 body: `ADM-CID` data `#acct|QXYZ GG CCC` or
//! `SIA-DCS` data `#acct|N[ri<area>][id<user>][ti<hh:mm>]<CODE><zone>[|A<text>]`
//! (several `/`-separated items; the first event code is the event).

use super::sia_codes;
use crate::alarm::{EventCode, GroupNo, Qualifier, ZoneNo};

/// Why event data was refused (answered with `DUH`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// `ADM-CID` data not `QXYZ GG CCC`.
    #[error("ADM-CID data {data:?} is not QXYZ GG CCC")]
    BadContactId {
        /// The data after `#acct|`.
        data: String,
    },
    /// `SIA-DCS` data without an event code.
    #[error("SIA-DCS data {data:?} has no event code")]
    BadSia {
        /// The data after `#acct|`.
        data: String,
    },
}

/// A decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `#acct` inside the data, when present.
    pub account: Option<String>,
    /// The Contact ID event (for SIA-DCS: its twin, when the code has one).
    pub contact_id: Option<(Qualifier, EventCode)>,
    /// Area / group (`GG` or `ri`).
    pub group: Option<String>,
    /// Zone or user (`CCC`, or the digits after the SIA code).
    pub zone: Option<String>,
    /// The SIA code, for `SIA-DCS`.
    pub sia_code: Option<String>,
    /// SIA `id` (user), `ti` (time) and `|A` text, when sent.
    pub user: Option<String>,
    /// SIA `|A…` text.
    pub text: Option<String>,
}

/// Splits `#acct|rest` (the account prefix is optional).
fn split_account(data: &str) -> (Option<String>, &str) {
    match data.strip_prefix('#').and_then(|d| d.split_once('|')) {
        Some((acct, rest)) => (Some(acct.to_owned()), rest),
        None => (None, data),
    }
}

/// `ADM-CID` data.
pub fn parse_adm_cid(data: &str) -> Result<Event, MessageError> {
    let (account, rest) = split_account(data);
    let bad = || MessageError::BadContactId { data: rest.into() };
    let mut parts = rest.split(' ');
    let (Some(qe), Some(gg), Some(ccc), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let q = Qualifier::new(qe.get(..1).ok_or_else(bad)?).map_err(|_| bad())?;
    let code = EventCode::new(qe.get(1..).ok_or_else(bad)?).map_err(|_| bad())?;
    let group = GroupNo::new(gg).map_err(|_| bad())?;
    let zone = ZoneNo::new(ccc).map_err(|_| bad())?;
    Ok(Event {
        account,
        contact_id: Some((q, code)),
        group: Some(group.to_string()),
        zone: Some(zone.to_string()),
        sia_code: None,
        user: None,
        text: None,
    })
}

/// `SIA-DCS` data.
pub fn parse_sia_dcs(data: &str) -> Result<Event, MessageError> {
    let (account, rest) = split_account(data);
    let bad = || MessageError::BadSia { data: rest.into() };
    let (items, text) = match rest.split_once("|A") {
        Some((items, text)) => (items, Some(text.to_owned())),
        None => (rest, None),
    };
    let items = items.strip_prefix(['N', 'O']).ok_or_else(bad)?;
    let mut event = Event {
        account,
        contact_id: None,
        group: None,
        zone: None,
        sia_code: None,
        user: None,
        text,
    };
    for item in items.split('/') {
        sia_item(strip_names(item).as_str(), &mut event);
    }
    let code = event.sia_code.clone().ok_or_else(bad)?;
    event.contact_id = sia_codes::to_contact_id(&code).map(|(c, q)| (q, c));
    Ok(event)
}

/// Drops `^name^` annotations.
fn strip_names(item: &str) -> String {
    item.split('^').step_by(2).collect()
}

/// One `/`-separated item: modifiers (`ri`, `id`, `ti`, …) then a code.
fn sia_item(mut item: &str, event: &mut Event) {
    while let (Some(tag), Some(rest)) = (item.get(..2), item.get(2..)) {
        let value_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b':')
            .count();
        let (value, after) = (
            rest.get(..value_len).unwrap_or_default(),
            rest.get(value_len..).unwrap_or_default(),
        );
        match tag {
            "ri" => event.group = Some(value.to_owned()),
            "id" => event.user = Some(value.to_owned()),
            "ti" | "pi" | "ai" => {}
            code if code.bytes().all(|b| b.is_ascii_uppercase()) => {
                if event.sia_code.is_none() {
                    event.sia_code = Some(code.to_owned());
                    event.zone = (!value.is_empty()).then(|| value.to_owned());
                }
            }
            _ => return,
        }
        item = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adm_cid_worked_frame_data() {
        let e = parse_adm_cid("#1234|1101 01 001").unwrap();
        assert_eq!(e.account.as_deref(), Some("1234"));
        let (q, code) = e.contact_id.unwrap();
        assert_eq!((q.as_str(), code.as_str()), ("1", "101"));
        assert_eq!(e.group.as_deref(), Some("01"));
        assert_eq!(e.zone.as_deref(), Some("001"));
        assert!(parse_adm_cid("1602 00 000").is_ok());
        for bad in ["#1234|1101 01", "#1234|1101 01 001 9", "#1|X101 01 001", ""] {
            assert!(parse_adm_cid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sia_dcs_items_modifiers_and_text() {
        let e = parse_sia_dcs("#1234|Nri1/MA001").unwrap();
        assert_eq!(e.sia_code.as_deref(), Some("MA"));
        assert_eq!(e.group.as_deref(), Some("1"));
        assert_eq!(e.zone.as_deref(), Some("001"));
        let (q, code) = e.contact_id.unwrap();
        assert_eq!((q.as_str(), code.as_str()), ("1", "100"));
        let e = parse_sia_dcs("#AAA|Nri1/CL501").unwrap();
        assert_eq!(e.sia_code.as_deref(), Some("CL"));
        assert!(e.contact_id.is_none());
        let e = parse_sia_dcs("#9|Nri2^Hall^id7ti10:10QA12^Door^|Ahelp").unwrap();
        assert_eq!(e.sia_code.as_deref(), Some("QA"));
        assert_eq!(e.zone.as_deref(), Some("12"));
        assert_eq!(e.user.as_deref(), Some("7"));
        assert_eq!(e.text.as_deref(), Some("help"));
        let e = parse_sia_dcs("NRP").unwrap();
        assert_eq!(
            e.contact_id.map(|(_, c)| c.to_string()).as_deref(),
            Some("602")
        );
        for bad in ["#1|Nri1", "#1|X", "", "#1|N"] {
            assert!(parse_sia_dcs(bad).is_err(), "{bad}");
        }
    }
}
