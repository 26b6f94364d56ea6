//! The DC-09 frame check: CRC-16/ARC (poly 0x8005 reflected as 0xA001,
//! init 0, no final XOR) over the bytes from the first `"` up to, not
//! including, the closing `<CR>`. Sent as 4 upper-case hex characters, or
//! by some panels as 2 binary bytes (high byte first); both are read.

/// CRC-16/ARC of `bytes`.
pub fn crc16_arc(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// How a frame carried its CRC; replies use the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcForm {
    /// 4 ASCII hex characters (the standard form).
    Hex,
    /// 2 binary bytes, high byte first.
    Binary,
}

impl CrcForm {
    /// The header bytes before the length field.
    pub fn encode(self, crc: u16) -> Vec<u8> {
        match self {
            CrcForm::Hex => format!("{crc:04X}").into_bytes(),
            CrcForm::Binary => crc.to_be_bytes().to_vec(),
        }
    }

    /// Bytes the CRC takes in the header.
    pub fn width(self) -> usize {
        match self {
            CrcForm::Hex => 4,
            CrcForm::Binary => 2,
        }
    }
}

/// Parses 4 ASCII hex characters (either case).
pub fn parse_hex4(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_and_reference_vectors() {
        assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
        // pysiaalarm's vector (alarm-protocols.md §5.1).
        let body = br#""SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019"#;
        assert_eq!(crc16_arc(body), 0xE5D5);
        assert_eq!(body.len(), 0x34);
        // §5.2 worked frames.
        let adm = br#""ADM-CID"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024"#;
        assert_eq!(crc16_arc(adm), 0x8344);
        assert_eq!(crc16_arc(br#""ACK"0001R1L1#1234[]"#), 0xD277);
        assert_eq!(crc16_arc(br#""NULL"0003R1L1#1234[]"#), 0x25A7);
    }

    #[test]
    fn forms_encode_and_hex_parses() {
        assert_eq!(CrcForm::Hex.encode(0x0DEF), b"0DEF");
        assert_eq!(CrcForm::Binary.encode(0x0DEF), [0x0D, 0xEF]);
        assert_eq!(parse_hex4(b"e5d5"), Some(0xE5D5));
        assert_eq!(parse_hex4(b"E5G5"), None);
        assert_eq!(parse_hex4(b"E5D"), None);
    }
}
