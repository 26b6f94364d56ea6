//! SIA DC-03 event codes (as carried in `SIA-DCS` messages) mapped to the
//! Contact ID code and qualifier they correspond to, so one tenant
//! classifier (`crate::alarm::classify`) settles both. The table is the
//! ADM-CID ↔ SIA mapping of alarm-protocols.md §1.5 (pysiaalarm's
//! `adm_mapping.json`), read backwards; a few common SIA codes without a
//! Contact ID twin there are added by meaning (marked below).

use crate::alarm::{EventCode, Qualifier};

/// SIA code → (Contact ID event, qualifier 1 new / 3 restore).
const TABLE: &[(&str, &str, &str)] = &[
    ("MA", "100", "1"),
    ("MH", "100", "3"),
    ("QA", "101", "1"),
    ("QH", "101", "3"),
    ("FA", "110", "1"),
    ("FH", "110", "3"),
    ("KA", "114", "1"),
    ("KH", "114", "3"),
    ("PA", "120", "1"),
    ("PH", "120", "3"), // by meaning: panic restore
    ("HA", "121", "1"),
    ("HH", "121", "3"), // by meaning: hold-up restore
    ("TA", "137", "1"),
    ("TR", "137", "3"),
    ("GA", "151", "1"),
    ("GH", "151", "3"),
    ("WA", "154", "1"),
    ("WH", "154", "3"), // by meaning: water alarm restore
    ("ZA", "159", "1"),
    ("YX", "300", "1"),
    ("YZ", "300", "3"),
    ("AT", "301", "1"),
    ("AR", "301", "3"),
    ("YT", "302", "1"),
    ("YR", "302", "3"),
    ("YM", "311", "1"),
    ("YC", "350", "1"),
    ("YK", "350", "3"), // by meaning: communications restored
    ("LT", "351", "1"),
    ("LR", "351", "3"), // by meaning: phone line restored
    ("OC", "406", "1"),
    ("RX", "601", "1"),
    ("RP", "602", "1"),
    ("TX", "608", "1"),
    ("NA", "654", "1"),
];

/// The Contact ID event and qualifier of a SIA code, when known.
pub fn to_contact_id(sia: &str) -> Option<(EventCode, Qualifier)> {
    let (_, cid, q) = TABLE.iter().find(|(code, _, _)| *code == sia)?;
    Some((EventCode::new(cid).ok()?, Qualifier::new(q).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_a_valid_contact_id_pair() {
        for (sia, _, _) in TABLE {
            assert!(to_contact_id(sia).is_some(), "{sia}");
        }
        let (code, q) = to_contact_id("QA").unwrap();
        assert_eq!((code.as_str(), q.as_str()), ("101", "1"));
        let (code, q) = to_contact_id("TR").unwrap();
        assert_eq!((code.as_str(), q.as_str()), ("137", "3"));
        assert!(to_contact_id("ZZ").is_none());
    }
}
