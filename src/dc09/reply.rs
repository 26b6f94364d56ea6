//! What the receiver sends back: `ACK` (encrypted, `*ACK`, when the
//! request was), `NAK` with our time (never encrypted, always
//! timestamped, sequence 0000, as in the standard and pysiaalarm) and `DUH`
//! ("unable to process"). Each reply is a whole frame with CRC and length,
//! the CRC in the form the request used.

use super::crc::CrcForm;
use super::crypto::{self, CryptoError, Key};
use super::frame::{seal, Header};
use super::timestamp::Timestamp;

/// Who a reply answers: the request's header fields, echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee<'a> {
    /// The request header (sequence, receiver, line, CRC form).
    pub header: &'a Header,
    /// The account (the header's, else the one inside the data).
    pub account: Option<&'a str>,
}

impl Addressee<'_> {
    /// `seq R… L… #acct` as the request had them (`L0` when it had no line).
    fn route(&self) -> String {
        let h = self.header;
        let receiver = h
            .receiver
            .as_ref()
            .map(|r| format!("R{r}"))
            .unwrap_or_default();
        let line = h.line.as_ref().map_or("0", |l| l.as_str());
        let account = self.account.map(|a| format!("#{a}")).unwrap_or_default();
        format!("{}{receiver}L{line}{account}", h.seq)
    }
}

/// A plain `ACK`.
pub fn ack(to: &Addressee<'_>) -> Vec<u8> {
    let region = format!("\"ACK\"{}[]", to.route());
    seal(region.as_bytes(), to.header.crc_form)
}

/// An encrypted `*ACK`: cipher text of `pad|]_<now>`.
pub fn ack_encrypted(
    to: &Addressee<'_>,
    key: &Key,
    now: Timestamp,
    random: [u8; 16],
) -> Result<Vec<u8>, CryptoError> {
    let sealed = crypto::seal(key, &format!("]_{now}"), random)?;
    let region = format!("\"*ACK\"{}[{}", to.route(), crypto::to_hex(&sealed));
    Ok(seal(region.as_bytes(), to.header.crc_form))
}

/// `NAK` with our time, so the sender can correct its clock.
pub fn nak(now: Timestamp, form: CrcForm) -> Vec<u8> {
    let region = format!("\"NAK\"0000R0L0A0[]_{now}");
    seal(region.as_bytes(), form)
}

/// `DUH`: the receiver cannot process this message.
pub fn duh(to: &Addressee<'_>) -> Vec<u8> {
    let region = format!("\"DUH\"{}[]", to.route());
    seal(region.as_bytes(), to.header.crc_form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dc09::frame::{parse, Content};

    fn request(bytes: &[u8]) -> Header {
        parse(bytes).unwrap().header
    }

    const ADM: &[u8] =
        b"\n8344003D\"ADM-CID\"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024\r";

    /// §5.2: our ACK and NAK byte for byte.
    #[test]
    fn worked_ack_and_nak() {
        let header = request(ADM);
        let to = Addressee {
            header: &header,
            account: Some("1234"),
        };
        assert_eq!(ack(&to), b"\nD2770014\"ACK\"0001R1L1#1234[]\r");
        let now = Timestamp::parse("14:12:30,09-25-2024").unwrap();
        assert_eq!(
            nak(now, CrcForm::Hex),
            b"\nBD1A0025\"NAK\"0000R0L0A0[]_14:12:30,09-25-2024\r"
        );
        let duh = duh(&to);
        assert!(duh.starts_with(b"\n"));
        assert!(parse(&duh).is_ok());
    }

    #[test]
    fn encrypted_ack_opens_with_the_key_and_carries_our_time() {
        let header = request(ADM);
        let to = Addressee {
            header: &header,
            account: Some("1234"),
        };
        let key = Key::parse("0123456789abcdef0123456789abcdef", crypto::KeyFormat::Ascii).unwrap();
        let now = Timestamp::parse("14:12:30,09-25-2024").unwrap();
        let frame = ack_encrypted(&to, &key, now, [3; 16]).unwrap();
        let parsed = parse(&frame).unwrap();
        assert_eq!(parsed.header.id.to_string(), "*ACK");
        let Content::Encrypted(cipher) = parsed.content else {
            panic!("not encrypted");
        };
        assert_eq!(
            crypto::open(&key, &cipher).unwrap(),
            "]_14:12:30,09-25-2024"
        );
    }

    #[test]
    fn binary_crc_requests_get_binary_crc_replies() {
        let region = br#""NULL"0003R1L1#1234[]"#;
        let frame = seal(region, CrcForm::Binary);
        let header = request(&frame);
        assert_eq!(header.crc_form, CrcForm::Binary);
        let to = Addressee {
            header: &header,
            account: Some("1234"),
        };
        let reply = ack(&to);
        assert_eq!(reply.get(7), Some(&b'"'));
        assert_eq!(parse(&reply).unwrap().header.crc_form, CrcForm::Binary);
    }
}
