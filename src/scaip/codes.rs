//! SCAIP code lists (SS 91100 / CLC/TS 50134-9, as in alarm-protocols.md
//! §4.3): device types (`dty`), status codes (`stc`), location codes
//! (`lco`), with their names for events, and the Contact ID equivalent of a
//! status so one classifier serves every protocol.
//!
//! Devices pad codes as they like (`02`, `2`, `0002`): a [`Code`] is the
//! number, compared numerically, and keeps what was received for the record.

use std::fmt;

/// A numeric SCAIP code (`dty`, `stc`, `lco`, `ico`, `dco`), whatever its padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u16);

impl Code {
    /// `text` as a number: 1 to 5 decimal digits, surrounding space ignored.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok().map(Self)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The name of a device type (`dty`), when the list has it.
pub fn device_type_name(code: Code) -> Option<&'static str> {
    Some(match code.0 {
        2 => "local unit and controller",
        3 => "personal trigger",
        4 => "fixed trigger",
        5 => "fall detector",
        10 => "activity detector",
        11 => "pill dispenser",
        12 => "bed monitor",
        13 => "mat sensor",
        14 => "door sensor",
        15 => "wandering sensor",
        16 => "enuresis sensor",
        17 => "epilepsy sensor",
        21 => "gas detector",
        23 => "smoke detector",
        25 => "heat detector",
        26 => "CO detector",
        27 => "bogus-caller switch",
        30 => "automatic man-down",
        31 => "system monitor",
        32 => "communication link monitor",
        33 => "flood detector",
        41 => "power supply",
        48 => "local unit",
        51 => "tracking device",
        _ => return None,
    })
}

/// The name of a status code (`stc`), when the list has it.
pub fn status_name(code: Code) -> Option<&'static str> {
    Some(match code.0 {
        9 => "automatic alarm",
        10 => "manual alarm",
        11 => "alert",
        14 => "battery failure",
        15 => "battery OK",
        16 => "battery low",
        19 => "cancel",
        23 => "IP connection failure",
        24 => "mobile network failure",
        25 => "POTS failure",
        26 => "primary link failure",
        27 => "redundant link failure",
        42 => "failure",
        67 => "malfunction",
        85 => "power failure",
        86 => "power restored",
        87 => "planned presence",
        88 => "presence after alarm",
        94 => "restoral",
        102 => "test transmission over primary channel",
        103 => "test transmission over redundant channel",
        104 => "time-out",
        105 => "trouble",
        110 => "assistance",
        111 => "intervention complete",
        112 => "IP connection re-established",
        113 => "mobile network re-established",
        114 => "POTS re-established",
        115 => "primary link re-established",
        116 => "redundant link re-established",
        117 => "lying in bed",
        119 => "movement",
        123 => "radio test transmission missing",
        124 => "radio test transmission re-established",
        125 => "tamper alarm",
        _ => return None,
    })
}

/// The name of a location code (`lco`), when the list has it.
pub fn location_name(code: Code) -> Option<&'static str> {
    Some(match code.0 {
        2 => "home",
        3 => "away",
        11 => "bathroom",
        12 => "bedroom",
        21 => "kitchen",
        34 => "geographic position attached",
        35 => "GPS position attached",
        39 => "front door",
        43 => "living room",
        _ => return None,
    })
}

/// The Contact ID event code (§1.5) that means what status `stc` of a
/// device of type `dty` means, for the tenant's classifier and the
/// operators: an alarm from a smoke detector is 111, from a pendant 101.
pub fn contact_id_equivalent(stc: Code, dty: Option<Code>) -> Option<&'static str> {
    Some(match stc.0 {
        9 | 10 | 11 | 110 => alarm_code_for(dty),
        125 => "137",
        14 | 16 => "302",
        15 => "302",
        19 => "406",
        23..=27 | 42 | 105 => "350",
        67 => "300",
        85 | 86 => "301",
        102 | 103 => "602",
        104 => "641",
        123 => "381",
        112..=116 | 124 | 94 => "350",
        _ => return None,
    })
}

/// Whether `stc` reports the end of a condition (a restore): the event is
/// then a Contact ID restore (qualifier 3).
pub fn is_restore(stc: Code) -> bool {
    matches!(stc.0, 15 | 86 | 94 | 112..=116 | 124)
}

/// An alarm's Contact ID code by the device that raised it.
fn alarm_code_for(dty: Option<Code>) -> &'static str {
    match dty.map(|c| c.0) {
        Some(5 | 30) => "100",
        Some(21) => "151",
        Some(23) => "111",
        Some(25) => "114",
        Some(26) => "162",
        Some(33) => "154",
        Some(10 | 12 | 13) => "641",
        Some(27) => "121",
        _ => "101",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_compare_numerically_whatever_the_padding() {
        assert_eq!(Code::parse("02"), Code::parse("0002"));
        assert_eq!(Code::parse("2"), Some(Code(2)));
        assert_eq!(Code::parse(" 010 "), Some(Code(10)));
        assert_eq!(Code::parse("0x10"), None);
        assert_eq!(Code::parse("-1"), None);
        assert_eq!(Code::parse(""), None);
        assert_eq!(Code::parse("123456"), None);
    }

    #[test]
    fn names_from_the_lists() {
        assert_eq!(device_type_name(Code(3)), Some("personal trigger"));
        assert_eq!(status_name(Code(10)), Some("manual alarm"));
        assert_eq!(
            status_name(Code(102)),
            Some("test transmission over primary channel")
        );
        assert_eq!(location_name(Code(2)), Some("home"));
        assert_eq!(device_type_name(Code(9999)), None);
    }

    #[test]
    fn statuses_map_to_contact_id_codes() {
        assert_eq!(contact_id_equivalent(Code(10), Some(Code(3))), Some("101"));
        assert_eq!(contact_id_equivalent(Code(9), Some(Code(5))), Some("100"));
        assert_eq!(contact_id_equivalent(Code(9), Some(Code(23))), Some("111"));
        assert_eq!(contact_id_equivalent(Code(102), None), Some("602"));
        assert_eq!(contact_id_equivalent(Code(16), None), Some("302"));
        assert_eq!(contact_id_equivalent(Code(19), None), Some("406"));
        assert_eq!(contact_id_equivalent(Code(87), None), None);
        assert!(is_restore(Code(15)) && !is_restore(Code(16)));
    }
}
