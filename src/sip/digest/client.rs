//! The answering side: our own requests to trunks that challenge us
//! (RFC 7616 §3.4, RFC 3261 §22.2).
//!
//! The caller keeps `nc` per nonce (1 for the first request with a nonce,
//! then counting up) and supplies a fresh random `cnonce`; both are inputs so
//! that this stays a pure function.

use std::fmt::Write as _;

use super::params::parse_challenge;
use super::{ha1, request_digest, DigestError, Exchange};

/// Builds the `Authorization` (or `Proxy-Authorization`) value answering
/// `challenge_header_value` for a request `method uri`.
///
/// Uses `qop=auth` when the challenge offers it and the RFC 2069 form when
/// it offers no qop; a challenge that offers only `auth-int`, or an unknown
/// algorithm, is an error. `nc` must not be 0; `cnonce` must be a non-empty
/// token (it is quoted but not escaped).
pub fn respond(
    challenge_header_value: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, DigestError> {
    let challenge = parse_challenge(challenge_header_value)?;
    let use_qop = match challenge.qop.as_slice() {
        [] => false,
        offered if offered.iter().any(|q| q == "auth") => true,
        offered => {
            return Err(DigestError::UnsupportedQop {
                qop: offered.join(","),
            })
        }
    };
    check_value("username", username)?;
    check_value("uri", uri)?;
    check_value("method", method)?;
    if use_qop || challenge.algorithm.session {
        check_token("cnonce", cnonce)?;
    }
    if nc == 0 {
        return Err(DigestError::BadNonceCount {
            value: "00000000".into(),
        });
    }
    let nc_hex = format!("{nc:08x}");
    let base = ha1(
        challenge.algorithm.algorithm,
        username,
        &challenge.realm,
        password,
    );
    let exchange = Exchange {
        algorithm: challenge.algorithm,
        nonce: &challenge.nonce,
        cnonce,
        nc: use_qop.then_some(nc_hex.as_str()),
        method,
        uri,
    };
    let response = request_digest(&base, &exchange);
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        escape(username),
        escape(&challenge.realm),
        escape(&challenge.nonce),
        escape(uri),
        challenge.algorithm.token(),
    );
    if use_qop || challenge.algorithm.session {
        let _ = write!(out, ", cnonce=\"{cnonce}\"");
    }
    if use_qop {
        let _ = write!(out, ", qop=auth, nc={nc_hex}");
    }
    if let Some(opaque) = &challenge.opaque {
        let _ = write!(out, ", opaque=\"{}\"", escape(opaque));
    }
    Ok(out)
}

/// Rejects values that cannot travel in a header (CR, LF, other controls).
fn check_value(name: &'static str, value: &str) -> Result<(), DigestError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(DigestError::InvalidValue { name });
    }
    Ok(())
}

fn check_token(name: &'static str, value: &str) -> Result<(), DigestError> {
    check_value(name, value)?;
    if value.contains(['"', '\\', ' ']) {
        return Err(DigestError::InvalidValue { name });
    }
    Ok(())
}

/// Escapes a value for a quoted string.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{parse_authorization, Algorithm, AlgorithmParam};

    const CHALLENGE_2617: &str = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn answers_the_rfc2617_challenge() {
        let value = respond(
            CHALLENGE_2617,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(
            value,
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             uri=\"/dir/index.html\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, \
             cnonce=\"0a4f113b\", qop=auth, nc=00000001, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        );
    }

    #[test]
    fn answers_the_rfc7616_sha256_challenge() {
        let challenge = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let value = respond(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            cnonce,
            1,
        )
        .unwrap();
        let creds = parse_authorization(&value).unwrap();
        assert_eq!(
            creds.response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(creds.algorithm, Algorithm::Sha256.into());
        assert_eq!(
            creds.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
    }

    #[test]
    fn answers_a_challenge_without_qop_in_rfc2069_form() {
        let challenge =
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#;
        let value = respond(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "ignored",
            1,
        )
        .unwrap();
        let creds = parse_authorization(&value).unwrap();
        assert_eq!(creds.response, "670fd8c2df070c60b045671b8b24ff02");
        assert!(creds.qop.is_none() && creds.nc.is_none() && creds.cnonce.is_none());
    }

    #[test]
    fn md5_sess_sends_cnonce_and_counts_in_hex() {
        let challenge = CHALLENGE_2617.replace("qop=", "algorithm=MD5-sess, qop=");
        let value = respond(
            &challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
            1,
        )
        .unwrap();
        let creds = parse_authorization(&value).unwrap();
        assert_eq!(
            creds.algorithm,
            AlgorithmParam {
                algorithm: Algorithm::Md5,
                session: true
            }
        );
        assert_eq!(creds.response, "8e3825c57e897f5a0dec6c2d4e5059d0");
        let later = respond(&challenge, "GET", "/x", "Mufasa", "p", "c", 26).unwrap();
        assert!(later.contains("nc=0000001a"));
    }

    #[test]
    fn quotes_in_values_are_escaped_and_read_back() {
        let challenge = r#"Digest realm="a \"b\" \\ c", nonce="n", qop="auth""#;
        let value = respond(
            challenge,
            "REGISTER",
            "sip:reg.example",
            "us\"er",
            "pw",
            "c1",
            1,
        )
        .unwrap();
        let creds = parse_authorization(&value).unwrap();
        assert_eq!(
            (creds.realm.as_str(), creds.username.as_str()),
            ("a \"b\" \\ c", "us\"er")
        );
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        let only_int = r#"Digest realm="r", nonce="n", qop="auth-int""#;
        let sha512 = r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#;
        let ok = r#"Digest realm="r", nonce="n", qop="auth""#;
        let call = |ch: &str, user: &str, cnonce: &str, nc: u32| {
            respond(ch, "INVITE", "sip:x@y", user, "pw", cnonce, nc)
        };
        assert_eq!(
            call(only_int, "u", "c", 1),
            Err(DigestError::UnsupportedQop {
                qop: "auth-int".into()
            })
        );
        assert!(matches!(
            call(sha512, "u", "c", 1),
            Err(DigestError::UnsupportedAlgorithm { .. })
        ));
        assert_eq!(
            call(ok, "u\r\nVia: x", "c", 1),
            Err(DigestError::InvalidValue { name: "username" })
        );
        assert_eq!(
            call(ok, "u", "", 1),
            Err(DigestError::InvalidValue { name: "cnonce" })
        );
        assert_eq!(
            call(ok, "u", "a\"b", 1),
            Err(DigestError::InvalidValue { name: "cnonce" })
        );
        assert!(matches!(
            call(ok, "u", "c", 0),
            Err(DigestError::BadNonceCount { .. })
        ));
        assert!(matches!(
            call("Basic realm=\"r\"", "u", "c", 1),
            Err(DigestError::NotDigest { .. })
        ));
        assert_eq!(
            call(r#"Digest nonce="n""#, "u", "c", 1),
            Err(DigestError::MissingParam { name: "realm" })
        );
    }
}
