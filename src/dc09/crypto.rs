//! DC-09 encryption (§5.4 of the reference): AES-128/192/256 in CBC mode
//! with an all-zero IV and no PKCS#7; the plaintext is `pad | data ]
//! [x-data]… _timestamp`, the pad 1-16 bytes that are never `|`, `[` or `]`,
//! sized so the whole is a multiple of 16. RustCrypto's `aes` and `cbc`.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

const IV: [u8; 16] = [0; 16];

/// How a key is written in the dialplan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyFormat {
    /// The ASCII bytes of a 16/24/32-character key (pysiaalarm, Ajax).
    Ascii,
    /// 32/48/64 hex characters.
    Hex,
}

/// Why a key or a cipher text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not 16, 24 or 32 bytes once decoded.
    #[error("an AES key has 16, 24 or 32 bytes, this one {len}")]
    KeyLength {
        /// Decoded length.
        len: usize,
    },
    /// A hex key with a non-hex character.
    #[error("the key is not hex")]
    KeyNotHex,
    /// Cipher text not a non-empty multiple of 16 bytes.
    #[error("cipher text of {len} bytes is not a multiple of 16")]
    CipherLength {
        /// Bytes.
        len: usize,
    },
    /// Decrypted, but no `|` ends a pad: a wrong key, most likely.
    #[error("decrypted text has no pad terminator (wrong key?)")]
    NoPad,
    /// Decrypted, but the text after the pad is not ASCII: a wrong key.
    #[error("decrypted text is not ASCII (wrong key?)")]
    NotAscii,
}

/// An AES key (16, 24 or 32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(AES-{})", self.0.len() * 8)
    }
}

impl Key {
    /// Reads a key as configured.
    pub fn parse(text: &str, format: KeyFormat) -> Result<Self, CryptoError> {
        let bytes = match format {
            KeyFormat::Ascii => text.as_bytes().to_vec(),
            KeyFormat::Hex => hex_bytes(text).ok_or(CryptoError::KeyNotHex)?,
        };
        Self::from_bytes(bytes)
    }

    /// Raw key bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CryptoError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(Self(bytes)),
            len => Err(CryptoError::KeyLength { len }),
        }
    }

    /// Key size in bits.
    pub fn bits(&self) -> usize {
        self.0.len() * 8
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let len = buf.len();
        let bad = CryptoError::CipherLength { len };
        if len == 0 || !len.is_multiple_of(16) {
            return Err(bad);
        }
        let done = match self.0.len() {
            16 => cbc::Decryptor::<Aes128>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .decrypt_padded_mut::<NoPadding>(buf)
                .is_ok(),
            24 => cbc::Decryptor::<Aes192>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .decrypt_padded_mut::<NoPadding>(buf)
                .is_ok(),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .decrypt_padded_mut::<NoPadding>(buf)
                .is_ok(),
        };
        done.then_some(()).ok_or(bad)
    }

    fn encrypt(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let len = buf.len();
        let bad = CryptoError::CipherLength { len };
        let done = match self.0.len() {
            16 => cbc::Encryptor::<Aes128>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .encrypt_padded_mut::<NoPadding>(buf, len)
                .is_ok(),
            24 => cbc::Encryptor::<Aes192>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .encrypt_padded_mut::<NoPadding>(buf, len)
                .is_ok(),
            _ => cbc::Encryptor::<Aes256>::new_from_slices(&self.0, &IV)
                .map_err(|_| bad.clone())?
                .encrypt_padded_mut::<NoPadding>(buf, len)
                .is_ok(),
        };
        done.then_some(()).ok_or(bad)
    }
}

/// Decrypts `cipher` and returns the text after the pad's `|`.
pub fn open(key: &Key, cipher: &[u8]) -> Result<String, CryptoError> {
    let mut buf = cipher.to_vec();
    key.decrypt(&mut buf)?;
    let bar = buf
        .iter()
        .position(|&b| b == b'|')
        .ok_or(CryptoError::NoPad)?;
    let text = buf.get(bar + 1..).unwrap_or_default();
    match std::str::from_utf8(text) {
        Ok(t) if t.is_ascii() => Ok(t.to_owned()),
        _ => Err(CryptoError::NotAscii),
    }
}

/// Encrypts `pad | text` with a pad of 1-16 bytes drawn from `random`
/// (mapped onto letters and digits: never `|`, `[`, `]`, and readable by
/// senders that decode the reply as text).
pub fn seal(key: &Key, text: &str, random: [u8; 16]) -> Result<Vec<u8>, CryptoError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body = text.len() + 1;
    let pad = 16 - body % 16;
    let mut buf: Vec<u8> = random
        .iter()
        .take(pad)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
        .collect();
    buf.push(b'|');
    buf.extend_from_slice(text.as_bytes());
    key.encrypt(&mut buf)?;
    Ok(buf)
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Upper-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §5.2: the worked `*ADM-CID` frame, AES-128 key 00 01 … 0F.
    #[test]
    fn worked_encrypted_frame_opens() {
        let key = Key::parse("000102030405060708090A0B0C0D0E0F", KeyFormat::Hex).unwrap();
        let cipher = hex_bytes("41E45D9FA4AADACC855FB345A31A001D4C1BE3AF019933F4D112158C4310590F43EFEEAC8E6B57B15AD6B0D7AA5A102D").unwrap();
        let text = open(&key, &cipher).unwrap();
        assert_eq!(text, "#1234|1101 01 001]_14:12:04,09-25-2024");
        let wrong = Key::parse("0123456789abcdef", KeyFormat::Ascii).unwrap();
        assert!(open(&wrong, &cipher).is_err());
        assert_eq!(
            open(&key, &cipher[..40]),
            Err(CryptoError::CipherLength { len: 40 })
        );
    }

    #[test]
    fn seal_pads_to_blocks_and_round_trips_for_every_key_size() {
        for (key, len) in [("0123456789abcdef", 16), ("0123456789abcdef01234567", 24)] {
            let key = Key::parse(key, KeyFormat::Ascii).unwrap();
            assert_eq!(key.bits(), len * 8);
            for text in ["]_14:12:04,09-25-2024", "", "x".repeat(15).as_str()] {
                let sealed = seal(&key, text, [b'|'; 16]).unwrap();
                assert_eq!(sealed.len() % 16, 0);
                assert!(sealed.len() > text.len());
                assert_eq!(open(&key, &sealed).unwrap(), text);
            }
        }
        let k256 = Key::parse(&"AB".repeat(32), KeyFormat::Hex).unwrap();
        assert_eq!(k256.bits(), 256);
        let sealed = seal(&k256, "#1|NRP]", [7; 16]).unwrap();
        assert_eq!(open(&k256, &sealed).unwrap(), "#1|NRP]");
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(
            Key::parse("short", KeyFormat::Ascii),
            Err(CryptoError::KeyLength { len: 5 })
        );
        assert_eq!(
            Key::parse(&"zz".repeat(16), KeyFormat::Hex),
            Err(CryptoError::KeyNotHex)
        );
        assert!(format!(
            "{:?}",
            Key::parse("0123456789abcdef", KeyFormat::Ascii).unwrap()
        )
        .contains("AES-128"));
    }
}
