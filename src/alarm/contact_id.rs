//! Ademco Contact ID messages (SIA DC-05): parse and encode the 16 DTMF
//! digits `ACCT MT Q XYZ GG CCC S`, with the mod-15 checksum.
//!
//! DTMF ↔ Ademco digit (alarm-protocols.md §1.2): `0-9` are themselves, `*` B,
//! `#` C, `A` D, `B` E, `C` F. Checksum weights: `0`→10, `1-9`, `*`→11, `#`→12,
//! `A`→13, `B`→14, `C`→15; the 16 weights sum to a multiple of 15. The sender
//! sends check value 10 as `0` and 15 as `C`.
//!
//! Pitfall P1: spandsp's `encode_msg` sends check value 10 as `D`. We accept
//! `D` (weight 10) in the check-digit position only; in a field `D` would mean
//! hex A, which Contact ID never uses, and is refused.

use serde::{Deserialize, Serialize};

use super::types::{AccountNo, EventCode, FieldError, GroupNo, Qualifier, ZoneNo};

/// Digits in a Contact ID message.
pub const MESSAGE_LEN: usize = 16;

/// Why 16 digits are not a Contact ID message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactIdError {
    /// Not 16 digits.
    #[error("a Contact ID message has 16 digits, got {len}")]
    WrongLength {
        /// Digits received.
        len: usize,
    },
    /// A character that is not a DTMF digit, or `D` outside the check digit.
    #[error("digit {pos} is {ch:?}, not a Contact ID DTMF digit")]
    InvalidDigit {
        /// 0-based position.
        pos: usize,
        /// The character.
        ch: char,
    },
    /// The weights do not sum to a multiple of 15 (the unit will repeat).
    #[error("checksum failed: weights sum to {sum}, not a multiple of 15")]
    Checksum {
        /// The weight sum.
        sum: u32,
    },
    /// MT is not 18 or 98, so this is another Ademco format.
    #[error("message type {mt:?} is not Contact ID (18 or 98)")]
    UnsupportedMessageType {
        /// The two MT digits as Ademco text.
        mt: String,
    },
    /// A field holds a digit it may not (hex A, for example).
    #[error(transparent)]
    Field(#[from] FieldError),
}

impl ContactIdError {
    /// True for a checksum failure, the outcome a receiver answers by waiting
    /// for the repeat.
    pub fn is_checksum(&self) -> bool {
        matches!(self, ContactIdError::Checksum { .. })
    }
}

/// The MT field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageType {
    /// `18`, the preferred Contact ID type.
    Preferred18,
    /// `98`, the optional Contact ID type.
    Optional98,
}

impl MessageType {
    /// The two digits on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Preferred18 => "18",
            MessageType::Optional98 => "98",
        }
    }
}

/// One decoded Contact ID report; every field is Ademco hex text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContactIdMessage {
    /// ACCT.
    pub account: AccountNo,
    /// MT.
    pub message_type: MessageType,
    /// Q.
    pub qualifier: Qualifier,
    /// XYZ.
    pub event: EventCode,
    /// GG.
    pub group: GroupNo,
    /// CCC.
    pub zone: ZoneNo,
}

/// Checksum weight of a DTMF digit (`D` counts 10, per pitfall P1).
pub fn dtmf_weight(c: char) -> Option<u32> {
    match c {
        '0' | 'D' => Some(10),
        '1'..='9' => c.to_digit(10),
        '*' => Some(11),
        '#' => Some(12),
        'A' => Some(13),
        'B' => Some(14),
        'C' => Some(15),
        _ => None,
    }
}

/// The Ademco digit a DTMF digit carries (`D` → `A`, as spandsp maps it).
pub fn dtmf_to_ademco(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '*' => Some('B'),
        '#' => Some('C'),
        'A' => Some('D'),
        'B' => Some('E'),
        'C' => Some('F'),
        'D' => Some('A'),
        _ => None,
    }
}

/// The DTMF digit that sends an Ademco digit (`0-9`, `B-F`).
pub fn ademco_to_dtmf(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        'B' => Some('*'),
        'C' => Some('#'),
        'D' => Some('A'),
        'E' => Some('B'),
        'F' => Some('C'),
        _ => None,
    }
}

/// Sum of the weights of `digits`, refusing anything that is not DTMF.
fn weight_sum(digits: &str) -> Result<u32, ContactIdError> {
    digits.chars().enumerate().try_fold(0, |sum, (pos, ch)| {
        dtmf_weight(ch)
            .map(|w| sum + w)
            .ok_or(ContactIdError::InvalidDigit { pos, ch })
    })
}

/// Checks the mod-15 sum of a full message.
pub fn verify_checksum(digits: &str) -> Result<(), ContactIdError> {
    let sum = weight_sum(digits)?;
    if sum % 15 == 0 {
        Ok(())
    } else {
        Err(ContactIdError::Checksum { sum })
    }
}

/// The check digit that completes the first 15 DTMF digits.
pub fn check_digit(first15: &str) -> Result<char, ContactIdError> {
    let value = 15 - weight_sum(first15)? % 15;
    Ok(match value {
        10 => '0',
        11 => '*',
        12 => '#',
        13 => 'A',
        14 => 'B',
        15 => 'C',
        v => char::from_digit(v, 10).unwrap_or('0'),
    })
}

/// Parses and validates 16 received DTMF digits.
pub fn parse(digits: &str) -> Result<ContactIdMessage, ContactIdError> {
    let chars: Vec<char> = digits.chars().collect();
    if chars.len() != MESSAGE_LEN {
        return Err(ContactIdError::WrongLength { len: chars.len() });
    }
    verify_checksum(digits)?;
    let ademco = to_ademco(&chars[..MESSAGE_LEN - 1])?;
    let field = |from: usize, to: usize| ademco.get(from..to).unwrap_or("");
    let message_type = match field(4, 6) {
        "18" => MessageType::Preferred18,
        "98" => MessageType::Optional98,
        other => {
            return Err(ContactIdError::UnsupportedMessageType {
                mt: other.to_owned(),
            })
        }
    };
    Ok(ContactIdMessage {
        account: AccountNo::new(field(0, 4))?,
        message_type,
        qualifier: Qualifier::new(field(6, 7))?,
        event: EventCode::new(field(7, 10))?,
        group: GroupNo::new(field(10, 12))?,
        zone: ZoneNo::new(field(12, 15))?,
    })
}

/// Ademco text of the 15 field digits; `D` (hex A) is refused here.
fn to_ademco(chars: &[char]) -> Result<String, ContactIdError> {
    chars
        .iter()
        .enumerate()
        .map(|(pos, &ch)| match dtmf_to_ademco(ch) {
            Some(a) if a != 'A' => Ok(a),
            _ => Err(ContactIdError::InvalidDigit { pos, ch }),
        })
        .collect()
}

/// The 16 DTMF digits that send `msg`, check digit included.
pub fn encode(msg: &ContactIdMessage) -> String {
    let fields = [
        msg.account.as_str(),
        msg.message_type.as_str(),
        msg.qualifier.as_str(),
        msg.event.as_str(),
        msg.group.as_str(),
        msg.zone.as_str(),
    ];
    // Field newtypes only hold 0-9 and B-F, so every digit maps.
    let mut out: String = fields
        .iter()
        .flat_map(|f| f.chars())
        .filter_map(ademco_to_dtmf)
        .collect();
    let check = check_digit(&out).unwrap_or('0');
    out.push(check);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(
        acct: &str,
        mt: MessageType,
        q: &str,
        ev: &str,
        gg: &str,
        ccc: &str,
    ) -> ContactIdMessage {
        fn field<T>(r: Result<T, FieldError>) -> T {
            r.unwrap_or_else(|e| panic!("{e}"))
        }
        ContactIdMessage {
            account: field(AccountNo::new(acct)),
            message_type: mt,
            qualifier: field(Qualifier::new(q)),
            event: field(EventCode::new(ev)),
            group: field(GroupNo::new(gg)),
            zone: field(ZoneNo::new(ccc)),
        }
    }

    /// The §1.3 worked example and spandsp-encoded rows (MT 18).
    const VECTORS: &[(&str, &str, &str, &str, &str, &str)] = &[
        ("123418110101001*", "1234", "1", "101", "01", "001"),
        ("1234181131010158", "1234", "1", "131", "01", "015"),
        ("1234183131010156", "1234", "3", "131", "01", "015"),
        ("1234181401020035", "1234", "1", "401", "02", "003"),
        ("123418340103005C", "1234", "3", "401", "03", "005"),
        ("1234181602000002", "1234", "1", "602", "00", "000"),
        ("5678181100000017", "5678", "1", "100", "00", "001"),
        ("1234181101010020", "1234", "1", "101", "01", "002"),
    ];

    #[test]
    fn table_vectors_parse_and_encode() {
        for &(wire, acct, q, ev, gg, ccc) in VECTORS {
            let expected = msg(acct, MessageType::Preferred18, q, ev, gg, ccc);
            assert_eq!(parse(wire), Ok(expected.clone()), "{wire}");
            assert_eq!(encode(&expected), wire);
        }
    }

    /// Pitfall P1: spandsp's `…002D` is accepted and means the same message;
    /// we re-encode it with the standard `0`.
    #[test]
    fn spandsp_d_check_digit_is_tolerated() {
        let parsed = parse("123418110101002D");
        assert_eq!(parsed, parse("1234181101010020"));
        assert!(parsed.is_ok());
    }

    /// The hex-remapping row `1234 56 7 890 BC DEF` → `1234567890*#ABCC`:
    /// checksum and mapping hold, but MT 56 is Super Fast, not Contact ID.
    #[test]
    fn hex_remapping_row() {
        assert_eq!(check_digit("1234567890*#ABC"), Ok('C'));
        assert_eq!(verify_checksum("1234567890*#ABCC"), Ok(()));
        let ademco: String = "*#ABC".chars().filter_map(dtmf_to_ademco).collect();
        assert_eq!(ademco, "BCDEF");
        assert_eq!(
            parse("1234567890*#ABCC"),
            Err(ContactIdError::UnsupportedMessageType { mt: "56".into() })
        );
        let hexy = msg("B2F4", MessageType::Optional98, "1", "1BC", "DE", "F00");
        let wire = encode(&hexy);
        assert_eq!(&wire[..15], "*2C49811*#ABC00");
        assert_eq!(parse(&wire), Ok(hexy));
    }

    #[test]
    fn bad_checksum_is_a_checksum_error() {
        let err = parse("123418110101001#").err();
        assert_eq!(err, Some(ContactIdError::Checksum { sum: 76 }));
        assert!(err.is_some_and(|e| e.is_checksum()));
    }

    #[test]
    fn wrong_length_and_junk() {
        assert_eq!(
            parse("12341811010100"),
            Err(ContactIdError::WrongLength { len: 14 })
        );
        assert_eq!(parse(""), Err(ContactIdError::WrongLength { len: 0 }));
        assert_eq!(
            parse("123418110101001*0"),
            Err(ContactIdError::WrongLength { len: 17 })
        );
        assert!(matches!(
            parse("1234X8110101001*"),
            Err(ContactIdError::InvalidDigit { pos: 4, ch: 'X' })
        ));
        assert!(matches!(
            parse("ééééééééééééééé*"),
            Err(ContactIdError::InvalidDigit { .. })
        ));
    }

    /// Hex A in the account (DTMF `D`) is refused even with a good checksum;
    /// DTMF `A` there is hex D and fine.
    #[test]
    fn hex_a_in_account_is_refused() {
        let first15 = "12D418110101001";
        let wire = format!("{first15}{}", check_digit(first15).unwrap_or('?'));
        assert_eq!(verify_checksum(&wire), Ok(()));
        assert_eq!(
            parse(&wire),
            Err(ContactIdError::InvalidDigit { pos: 2, ch: 'D' })
        );
        assert!(AccountNo::new("12A4").is_err());
        let first15 = "12A418110101001";
        let wire = format!("{first15}{}", check_digit(first15).unwrap_or('?'));
        assert_eq!(
            parse(&wire).map(|m| m.account.to_string()),
            Ok("12D4".into())
        );
    }

    #[test]
    fn check_digit_extremes() {
        // sum15 already a multiple of 15 → value 15 → 'C'; value 10 → '0'.
        assert_eq!(check_digit("123418340103005"), Ok('C'));
        assert_eq!(check_digit("123418110101002"), Ok('0'));
    }
}
