//! HTTP Digest authentication for SIP: RFC 2617, RFC 7616 and RFC 8760
//! (SHA-256 in SIP), with RFC 3261 §22.4 on top.
//!
//! - [`DigestServer`] challenges and verifies (registrar, device auth),
//!   returning an [`AuthOutcome`] value. It keeps no table of issued nonces:
//!   a nonce carries its issue time and a keyed hash that proves we made it.
//!   It tracks the highest `nc` per used nonce to refuse replays, in a
//!   bounded map whose entries expire with the nonce.
//! - [`respond`] answers a challenge for our own requests (trunks that
//!   challenge us).
//! - [`ha1`] computes the stored credential; the server never needs a
//!   password.
//!
//! Algorithms: `MD5`, `SHA-256` and their `-sess` variants (tokens are
//! case-insensitive). `qop=auth` and the RFC 2069 no-qop form; `auth-int`
//! and `userhash` are not supported (SIP bodies are not protected by
//! digest in practice, and RFC 8760 leaves `userhash` out of SIP).
//!
//! Written here rather than taken from rsip/rsipstack, whose helper rejects
//! `SHA-256`, gets `-sess` wrong and compares with `==` (research notes,
//! rust-crates §1.1).

mod client;
mod nonce;
mod outcome;
mod params;
mod server;

use md5::Md5;
use sha2::{Digest, Sha256};

pub use client::respond;
pub use outcome::{AuthOutcome, RejectReason};
pub use params::{parse_authorization, parse_challenge, Challenge, Credentials};
pub use server::DigestServer;

/// The hash function of a digest exchange (RFC 7616 §3.2, RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5, the default when `algorithm=` is absent.
    Md5,
    /// SHA-256, to be offered first (RFC 8760 §2.4).
    Sha256,
}

impl Algorithm {
    /// The token as written in headers: `MD5` or `SHA-256`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hex_hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => to_hex(&Md5::digest(data)),
            Algorithm::Sha256 => to_hex(&Sha256::digest(data)),
        }
    }
}

/// An `algorithm=` value: the hash and whether it is the `-sess` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmParam {
    /// The hash function.
    pub algorithm: Algorithm,
    /// True for `MD5-sess` / `SHA-256-sess` (HA1 bound to nonce and cnonce).
    pub session: bool,
}

impl AlgorithmParam {
    /// Parses a token case-insensitively: `MD5`, `MD5-sess`, `SHA-256`,
    /// `SHA-256-sess`.
    pub fn parse(token: &str) -> Option<Self> {
        let lower = token.trim().to_ascii_lowercase();
        let (base, session) = match lower.strip_suffix("-sess") {
            Some(base) => (base, true),
            None => (lower.as_str(), false),
        };
        let algorithm = match base {
            "md5" => Algorithm::Md5,
            "sha-256" => Algorithm::Sha256,
            _ => return None,
        };
        Some(Self { algorithm, session })
    }

    /// The token as written in headers.
    pub fn token(self) -> String {
        let suffix = if self.session { "-sess" } else { "" };
        format!("{}{suffix}", self.algorithm.token())
    }
}

impl From<Algorithm> for AlgorithmParam {
    fn from(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            session: false,
        }
    }
}

/// The stored credential `H(username:realm:password)` in lower-case hex, for
/// config tooling. Store one per algorithm you accept; the `-sess` variants
/// use the plain one.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex_hash(format!("{username}:{realm}:{password}").as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Lengths are public (both sides are hex of a known hash); a length
/// mismatch returns false without looking at the content.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// What the request digest covers besides the credential.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exchange<'a> {
    pub algorithm: AlgorithmParam,
    pub nonce: &'a str,
    pub cnonce: &'a str,
    /// `Some(nc as 8 hex digits)` for `qop=auth`, `None` for RFC 2069.
    pub nc: Option<&'a str>,
    pub method: &'a str,
    pub uri: &'a str,
}

/// The `response` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1 without qop),
/// from the stored HA1 in hex.
pub(crate) fn request_digest(ha1_hex: &str, x: &Exchange<'_>) -> String {
    let h = x.algorithm.algorithm;
    let base = ha1_hex.to_ascii_lowercase();
    let ha1 = if x.algorithm.session {
        h.hex_hash(format!("{base}:{}:{}", x.nonce, x.cnonce).as_bytes())
    } else {
        base
    };
    let ha2 = h.hex_hash(format!("{}:{}", x.method, x.uri).as_bytes());
    let data = match x.nc {
        Some(nc) => format!("{ha1}:{}:{nc}:{}:auth:{ha2}", x.nonce, x.cnonce),
        None => format!("{ha1}:{}:{ha2}", x.nonce),
    };
    h.hex_hash(data.as_bytes())
}

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Why a digest header could not be read or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The header value is longer than we read.
    #[error("header value of {len} bytes exceeds the limit of {limit}")]
    TooLong {
        /// The value length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The scheme is not `Digest`.
    #[error("auth scheme {scheme:?} is not Digest")]
    NotDigest {
        /// The scheme found.
        scheme: String,
    },
    /// The parameter list does not follow `name=value, …`.
    #[error("syntax error at byte {at}: expected {expected}")]
    Syntax {
        /// The byte offset (the length at the end of the value).
        at: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A parameter appears twice.
    #[error("parameter {name:?} appears twice")]
    DuplicateParam {
        /// The parameter name.
        name: String,
    },
    /// More parameters than we read.
    #[error("more than {limit} parameters")]
    TooManyParams {
        /// The limit.
        limit: usize,
    },
    /// A required parameter is absent.
    #[error("missing parameter {name}")]
    MissingParam {
        /// The parameter name.
        name: &'static str,
    },
    /// `algorithm=` names something we do not implement.
    #[error("unsupported algorithm {token:?}")]
    UnsupportedAlgorithm {
        /// The token found.
        token: String,
    },
    /// The challenge offers no `qop` we implement (only `auth-int`).
    #[error("unsupported qop {qop:?}")]
    UnsupportedQop {
        /// The qop value found.
        qop: String,
    },
    /// `nc` is not 8 hex digits, or is zero.
    #[error("bad nonce count {value:?}")]
    BadNonceCount {
        /// The value found.
        value: String,
    },
    /// A value we would send contains a character a header cannot carry.
    #[error("parameter {name} has a control character or is empty")]
    InvalidValue {
        /// The parameter name.
        name: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE_2617: &str = "dcd98b7102dd2f0e8b11d0f600bfb0c093";

    fn exchange<'a>(
        algorithm: &str,
        nonce: &'a str,
        cnonce: &'a str,
        nc: Option<&'a str>,
    ) -> Exchange<'a> {
        Exchange {
            algorithm: AlgorithmParam::parse(algorithm).unwrap(),
            nonce,
            cnonce,
            nc,
            method: "GET",
            uri: "/dir/index.html",
        }
    }

    #[test]
    fn rfc2617_section_3_5_md5_qop_auth() {
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let x = exchange("MD5", NONCE_2617, "0a4f113b", Some("00000001"));
        assert_eq!(request_digest(&ha1, &x), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn md5_without_qop_rfc2069_form() {
        // Computed independently (Python hashlib): H(HA1:nonce:HA2).
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let x = exchange("md5", NONCE_2617, "", None);
        assert_eq!(request_digest(&ha1, &x), "670fd8c2df070c60b045671b8b24ff02");
        // RFC 2069 §2.4's own example, with its erratum's corrected value.
        let ha1 = super::ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "CircleOfLife",
        );
        assert_eq!(request_digest(&ha1, &x), "1949323746fe6a43ef61f9606e7febea");
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256_and_md5() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let realm = "http-auth@example.org";
        let sha = ha1(Algorithm::Sha256, "Mufasa", realm, "Circle of Life");
        let x = exchange("SHA-256", nonce, cnonce, Some("00000001"));
        assert_eq!(
            request_digest(&sha, &x),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = ha1(Algorithm::Md5, "Mufasa", realm, "Circle of Life");
        let x = exchange("MD5", nonce, cnonce, Some("00000001"));
        assert_eq!(request_digest(&md5, &x), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn md5_sess_uses_the_hex_ha1_with_nonce_and_cnonce() {
        // RFC 7616 §3.4.2 form, computed independently (Python hashlib).
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let x = exchange("MD5-sess", NONCE_2617, "0a4f113b", Some("00000001"));
        assert_eq!(request_digest(&ha1, &x), "8e3825c57e897f5a0dec6c2d4e5059d0");
        // An upper-case stored HA1 gives the same answer.
        assert_eq!(
            request_digest(&ha1.to_uppercase(), &x),
            "8e3825c57e897f5a0dec6c2d4e5059d0"
        );
    }

    #[test]
    fn algorithm_tokens_are_case_insensitive() {
        let cases = [
            ("MD5", Algorithm::Md5, false),
            ("md5-SESS", Algorithm::Md5, true),
            ("SHA-256", Algorithm::Sha256, false),
            ("sha-256-sess", Algorithm::Sha256, true),
        ];
        for (token, algorithm, session) in cases {
            let parsed = AlgorithmParam::parse(token).unwrap();
            assert_eq!(parsed, AlgorithmParam { algorithm, session }, "{token}");
            assert!(parsed.token().eq_ignore_ascii_case(token));
        }
        for bad in ["SHA256", "SHA-512-256", "", "-sess", "md5-sess-sess"] {
            assert_eq!(AlgorithmParam::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"6629fae4", b"6629fae4"));
        assert!(
            !constant_time_eq(b"6629fae4", b"6629fae5"),
            "last byte differs"
        );
        assert!(
            !constant_time_eq(b"7629fae4", b"6629fae4"),
            "first byte differs"
        );
        assert!(
            !constant_time_eq(b"6629fae4", b"6629fae"),
            "prefix is not equal"
        );
        assert!(!constant_time_eq(b"", b"a"));
        assert!(
            !constant_time_eq(&[0x80], &[0x00]),
            "high bit alone differs"
        );
    }

    #[test]
    fn hmac_matches_rfc4231() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(
            to_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let long_key = [0xaau8; 131];
        let mac = hmac_sha256(
            &long_key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            to_hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
