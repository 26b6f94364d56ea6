//! Reading `Authorization` / `Proxy-Authorization` and `WWW-Authenticate` /
//! `Proxy-Authenticate` values (RFC 7616 §3.3-3.4, RFC 7230 §3.2.6 syntax).
//!
//! Parameters come in any order, values are tokens or quoted strings with
//! backslash escapes, unknown parameters are ignored, a repeated parameter is
//! an error (two `response=` values are an attack, not a typo). Bounded in
//! length and count; garbage gives a [`DigestError`], never a panic.

use std::iter::Peekable;
use std::str::CharIndices;

use super::{AlgorithmParam, DigestError};

/// The longest header value we read, in bytes.
pub const MAX_VALUE_LEN: usize = 4096;

/// The most parameters we read.
pub const MAX_PARAMS: usize = 32;

/// The parameters of an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as the server issued it.
    pub nonce: String,
    /// `uri`, the digest-uri (RFC 3261: the Request-URI).
    pub uri: String,
    /// `response`, the request digest in hex.
    pub response: String,
    /// `algorithm`, MD5 when absent.
    pub algorithm: AlgorithmParam,
    /// `cnonce`, required with `qop`.
    pub cnonce: Option<String>,
    /// `qop`, when present (lower case).
    pub qop: Option<String>,
    /// `nc` as a number, present exactly when `qop` is.
    pub nc: Option<u32>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
}

/// The parameters of a `WWW-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, to be echoed.
    pub opaque: Option<String>,
    /// `algorithm`, MD5 when absent.
    pub algorithm: AlgorithmParam,
    /// The `qop` options, lower case (`["auth", "auth-int"]`); empty for RFC 2069.
    pub qop: Vec<String>,
    /// `stale=true`: the credentials were right, only the nonce was old.
    pub stale: bool,
}

/// Parses an `Authorization` (or `Proxy-Authorization`) header value.
pub fn parse_authorization(value: &str) -> Result<Credentials, DigestError> {
    let params = Params::parse(value)?;
    let qop = params.get("qop").map(str::to_ascii_lowercase);
    let nc = match (&qop, params.get("nc")) {
        (Some(_), Some(nc)) => Some(parse_nc(nc)?),
        (Some(_), None) => return Err(DigestError::MissingParam { name: "nc" }),
        (None, _) => None,
    };
    let cnonce = params.get("cnonce").map(str::to_string);
    if qop.is_some() && cnonce.is_none() {
        return Err(DigestError::MissingParam { name: "cnonce" });
    }
    Ok(Credentials {
        username: params.required("username")?,
        realm: params.required("realm")?,
        nonce: params.required("nonce")?,
        uri: params.required("uri")?,
        response: params.required("response")?,
        algorithm: params.algorithm()?,
        cnonce,
        qop,
        nc,
        opaque: params.get("opaque").map(str::to_string),
    })
}

/// Parses a `WWW-Authenticate` (or `Proxy-Authenticate`) header value
/// holding one Digest challenge.
pub fn parse_challenge(value: &str) -> Result<Challenge, DigestError> {
    let params = Params::parse(value)?;
    let qop = params
        .get("qop")
        .map(|q| {
            q.split(',')
                .map(|o| o.trim().to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Challenge {
        realm: params.required("realm")?,
        nonce: params.required("nonce")?,
        opaque: params.get("opaque").map(str::to_string),
        algorithm: params.algorithm()?,
        qop,
        stale: params
            .get("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
    })
}

/// `nc`: exactly 8 hex digits, not zero (RFC 7616 §3.4).
fn parse_nc(text: &str) -> Result<u32, DigestError> {
    let bad = || DigestError::BadNonceCount {
        value: text.chars().take(16).collect(),
    };
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    u32::from_str_radix(text, 16)
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(bad)
}

/// A parsed `Digest name=value, …` list with lower-cased names.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(value: &str) -> Result<Self, DigestError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(DigestError::TooLong {
                len: value.len(),
                limit: MAX_VALUE_LEN,
            });
        }
        let mut cursor = Cursor {
            chars: value.char_indices().peekable(),
            len: value.len(),
        };
        cursor.skip_ws();
        let scheme = cursor.token();
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest {
                scheme: scheme.chars().take(32).collect(),
            });
        }
        let mut params: Vec<(String, String)> = Vec::new();
        while let Some((name, val)) = cursor.next_param()? {
            if params.iter().any(|(n, _)| *n == name) {
                return Err(DigestError::DuplicateParam { name });
            }
            if params.len() >= MAX_PARAMS {
                return Err(DigestError::TooManyParams { limit: MAX_PARAMS });
            }
            params.push((name, val));
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &'static str) -> Result<String, DigestError> {
        self.get(name)
            .map(str::to_string)
            .ok_or(DigestError::MissingParam { name })
    }

    fn algorithm(&self) -> Result<AlgorithmParam, DigestError> {
        match self.get("algorithm") {
            None => Ok(super::Algorithm::Md5.into()),
            Some(token) => {
                AlgorithmParam::parse(token).ok_or_else(|| DigestError::UnsupportedAlgorithm {
                    token: token.chars().take(32).collect(),
                })
            }
        }
    }
}

struct Cursor<'a> {
    chars: Peekable<CharIndices<'a>>,
    len: usize,
}

impl Cursor<'_> {
    fn at(&mut self) -> usize {
        self.chars.peek().map_or(self.len, |(i, _)| *i)
    }

    fn skip_ws(&mut self) {
        while self
            .chars
            .next_if(|(_, c)| matches!(c, ' ' | '\t' | '\r' | '\n'))
            .is_some()
        {}
    }

    /// RFC 7230 tchar run.
    fn token(&mut self) -> String {
        let mut out = String::new();
        while let Some((_, c)) = self.chars.next_if(|(_, c)| is_tchar(*c)) {
            out.push(c);
        }
        out
    }

    /// The next `name=value`, after a separating comma; `None` at the end.
    fn next_param(&mut self) -> Result<Option<(String, String)>, DigestError> {
        self.skip_ws();
        while self.chars.next_if(|(_, c)| *c == ',').is_some() {
            self.skip_ws();
        }
        if self.chars.peek().is_none() {
            return Ok(None);
        }
        let name = self.token().to_ascii_lowercase();
        if name.is_empty() {
            return Err(DigestError::Syntax {
                at: self.at(),
                expected: "a parameter name",
            });
        }
        self.skip_ws();
        if self.chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(DigestError::Syntax {
                at: self.at(),
                expected: "'='",
            });
        }
        self.skip_ws();
        let value = self.value()?;
        self.skip_ws();
        match self.chars.peek() {
            None | Some((_, ',')) => Ok(Some((name, value))),
            Some(_) => Err(DigestError::Syntax {
                at: self.at(),
                expected: "',' or the end",
            }),
        }
    }

    /// A quoted string (with `\` escapes) or a bare value up to `,` or blank.
    fn value(&mut self) -> Result<String, DigestError> {
        let mut out = String::new();
        if self.chars.next_if(|(_, c)| *c == '"').is_none() {
            while let Some((_, c)) = self
                .chars
                .next_if(|(_, c)| !matches!(c, ',' | ' ' | '\t' | '"'))
            {
                out.push(c);
            }
            return Ok(out);
        }
        loop {
            match self.chars.next() {
                Some((_, '"')) => return Ok(out),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                Some((_, c)) => out.push(c),
                None => break,
            }
        }
        Err(DigestError::Syntax {
            at: self.len,
            expected: "a closing quote",
        })
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::Algorithm;

    const RFC2617: &str = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn reads_the_rfc2617_authorization() {
        let c = parse_authorization(RFC2617).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.algorithm, Algorithm::Md5.into());
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    #[test]
    fn any_order_escapes_blanks_and_unknown_params() {
        let value = "  digest  response=\"ab\" ,uri=\"sip:a@b;transport=tcp\",,\r\n nonce=n1 , realm=\"r \\\"q\\\" \\\\\", x-vendor=\"1,2\", username=\"J\u{f8}rn\", algorithm=sha-256 , nc=0000000A, qop=AUTH, cnonce=c";
        let c = parse_authorization(value).unwrap();
        assert_eq!(c.realm, "r \"q\" \\");
        assert_eq!(c.uri, "sip:a@b;transport=tcp");
        assert_eq!(c.nonce, "n1");
        assert_eq!(c.username, "J\u{f8}rn");
        assert_eq!(c.algorithm, Algorithm::Sha256.into());
        assert_eq!((c.nc, c.qop.as_deref()), (Some(10), Some("auth")));
    }

    #[test]
    fn reads_challenges() {
        let ch = parse_challenge(r#"Digest realm="alarm.example", qop="auth,auth-int", nonce="abc", opaque="xyz", algorithm=SHA-256, stale=TRUE"#).unwrap();
        assert_eq!(ch.qop, vec!["auth", "auth-int"]);
        assert_eq!(ch.algorithm, Algorithm::Sha256.into());
        assert!(ch.stale);
        let plain = parse_challenge(r#"Digest realm="r", nonce="n""#).unwrap();
        assert!(plain.qop.is_empty() && !plain.stale && plain.opaque.is_none());
        assert_eq!(plain.algorithm, Algorithm::Md5.into());
    }

    #[test]
    fn garbage_gives_errors() {
        let cases: &[(&str, DigestError)] = &[
            (
                "Basic dXNlcjpwYXNz",
                DigestError::NotDigest {
                    scheme: "Basic".into(),
                },
            ),
            (
                "",
                DigestError::NotDigest {
                    scheme: String::new(),
                },
            ),
            (
                "Digest realm",
                DigestError::Syntax {
                    at: 12,
                    expected: "'='",
                },
            ),
            (
                "Digest =x",
                DigestError::Syntax {
                    at: 7,
                    expected: "a parameter name",
                },
            ),
            (
                "Digest a=\"open",
                DigestError::Syntax {
                    at: 14,
                    expected: "a closing quote",
                },
            ),
            (
                "Digest a=\"x\\",
                DigestError::Syntax {
                    at: 12,
                    expected: "a closing quote",
                },
            ),
            (
                "Digest a=b c=d",
                DigestError::Syntax {
                    at: 11,
                    expected: "',' or the end",
                },
            ),
            (
                "Digest a=\"x\"y",
                DigestError::Syntax {
                    at: 12,
                    expected: "',' or the end",
                },
            ),
            (
                "Digest realm=a, REALM=b",
                DigestError::DuplicateParam {
                    name: "realm".into(),
                },
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_challenge(value).unwrap_err(), *expected, "{value:?}");
        }
        let many: String = (0..40).map(|i| format!("p{i}=1,")).collect();
        let err = parse_challenge(&format!("Digest {many}")).unwrap_err();
        assert_eq!(err, DigestError::TooManyParams { limit: MAX_PARAMS });
        let long = format!("Digest realm=\"{}\"", "x".repeat(MAX_VALUE_LEN));
        assert!(matches!(
            parse_challenge(&long),
            Err(DigestError::TooLong { .. })
        ));
    }

    #[test]
    fn required_params_and_nonce_counts_are_checked() {
        let without = |name: &str| {
            let kept: Vec<&str> = RFC2617["Digest ".len()..]
                .split(", ")
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect();
            parse_authorization(&format!("Digest {}", kept.join(", ")))
        };
        for name in [
            "username", "realm", "nonce", "uri", "response", "nc", "cnonce",
        ] {
            assert_eq!(
                without(name).unwrap_err(),
                DigestError::MissingParam { name },
                "{name}"
            );
        }
        assert!(without("qop").is_ok(), "nc without qop is ignored");
        for nc in ["00000000", "1", "0000000g", "000000001", "+0000001"] {
            let value = RFC2617.replace("nc=00000001", &format!("nc={nc}"));
            assert!(
                matches!(
                    parse_authorization(&value),
                    Err(DigestError::BadNonceCount { .. })
                ),
                "{nc}"
            );
        }
        let value = RFC2617.replace("qop=auth", "qop=auth, algorithm=SHA-512-256");
        assert!(matches!(
            parse_authorization(&value),
            Err(DigestError::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn random_truncations_and_corruptions_never_panic() {
        let mut seed: u64 = 0xD1B5_4A32_D192_ED03;
        let source = RFC2617.as_bytes();
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = source[..(seed as usize) % (source.len() + 1)].to_vec();
            if let Some(b) = bytes.get_mut((seed >> 20) as usize % source.len()) {
                *b = [b'"', b'\\', b',', b'=', b' ', 0xC3][(seed >> 40) as usize % 6];
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_authorization(&text);
            let _ = parse_challenge(&text);
        }
    }
}
