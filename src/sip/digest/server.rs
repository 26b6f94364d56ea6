//! The verifying side (registrar, device auth): challenges (RFC 7616 §3.3,
//! RFC 8760) and checks of `Authorization` values (§3.4) against stored
//! HA1 values only. Nonces and replay rules are in [`super::nonce`].
//!
//! Order of checks: syntax, realm, uri form, qop, opaque, nonce MAC, user,
//! response (constant-time), then freshness, then `nc`. A stale nonce is
//! only reported for a correct answer, so `stale=true` keeps its RFC meaning:
//! "your credentials are fine, retry with this new nonce".

use std::fmt;
use std::time::{Duration, Instant};

use super::nonce::{NonceMint, ReplayGuard, Use};
use super::outcome::{AuthOutcome, RejectReason};
use super::params::{parse_authorization, Credentials};
use super::{constant_time_eq, hmac_sha256, request_digest, to_hex, Algorithm, Exchange};

/// Issues challenges and verifies answers for one realm.
pub struct DigestServer {
    realm: String,
    opaque: String,
    mint: NonceMint,
    replay: ReplayGuard,
    require_qop: bool,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("secret", &"<redacted>")
            .field("tracked_nonces", &self.replay.len())
            .field("require_qop", &self.require_qop)
            .finish()
    }
}

impl DigestServer {
    /// A server for `realm`. `secret` keys the nonces (32 random bytes from
    /// config); nonces older than `nonce_ttl` are stale.
    pub fn new(realm: String, secret: [u8; 32], nonce_ttl: Duration) -> Self {
        let opaque = to_hex(&hmac_sha256(&secret, &[b"opaque", realm.as_bytes()])[..8]);
        Self {
            mint: NonceMint::new(secret, &realm, nonce_ttl),
            realm,
            opaque,
            replay: ReplayGuard::new(65_536),
            require_qop: false,
        }
    }

    /// Bounds the replay map (default 65 536 nonces). When it is full the
    /// oldest entry goes and every nonce issued up to it turns stale.
    pub fn with_tracking_limit(mut self, limit: usize) -> Self {
        self.replay = ReplayGuard::new(limit);
        self
    }

    /// Refuses RFC 2069 answers without `qop` (default: accepted, one
    /// request per nonce, for old devices).
    pub fn require_qop(mut self, required: bool) -> Self {
        self.require_qop = required;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` value with a fresh nonce.
    /// Send one per algorithm, SHA-256 first (RFC 8760 §2.4).
    pub fn challenge(&mut self, now: Instant, algorithm: Algorithm, stale: bool) -> String {
        let nonce = self.mint.issue(now);
        let stale = if stale { ", stale=true" } else { "" };
        format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", opaque=\"{}\", algorithm={}, qop=\"auth\"{stale}",
            quote_escape(&self.realm),
            self.opaque,
            algorithm.token(),
        )
    }

    /// Checks an `Authorization` value for a request with `method`.
    /// `lookup(username, algorithm)` returns the stored HA1 (hex) for that
    /// algorithm, or `None` when the user has none.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        authorization: &str,
        lookup: impl Fn(&str, Algorithm) -> Option<String>,
    ) -> AuthOutcome {
        match self.check(now, method, authorization, lookup) {
            Ok(outcome) => outcome,
            Err(reason) => AuthOutcome::Rejected { reason },
        }
    }

    fn check(
        &mut self,
        now: Instant,
        method: &str,
        authorization: &str,
        lookup: impl Fn(&str, Algorithm) -> Option<String>,
    ) -> Result<AuthOutcome, RejectReason> {
        let creds = parse_authorization(authorization)?;
        self.check_fields(&creds)?;
        let nonce = self
            .mint
            .open(&creds.nonce)
            .ok_or(RejectReason::ForeignNonce)?;
        let username = creds.username.clone();
        let Some(ha1) = lookup(&username, creds.algorithm.algorithm) else {
            return Err(RejectReason::UnknownUser { username });
        };
        if !response_matches(&ha1, method, &creds) {
            return Err(RejectReason::BadResponse { username });
        }
        if !self.mint.is_fresh(now, &nonce) {
            return Ok(AuthOutcome::Stale);
        }
        let (now_ms, ttl_ms) = (self.mint.elapsed_ms(now), self.mint.ttl_ms());
        match self.replay.record(&nonce, creds.nc, now_ms, ttl_ms) {
            Use::Accepted => Ok(AuthOutcome::Ok { username }),
            Use::Stale => Ok(AuthOutcome::Stale),
            Use::Replay { last } => {
                let nc = creds.nc.unwrap_or_default();
                Err(RejectReason::Replay { username, nc, last })
            }
        }
    }

    /// The checks that need no hashing.
    fn check_fields(&self, creds: &Credentials) -> Result<(), RejectReason> {
        if creds.realm != self.realm {
            let realm = creds.realm.chars().take(64).collect();
            return Err(RejectReason::RealmMismatch { realm });
        }
        if !is_sip_uri(&creds.uri) {
            let uri = creds.uri.chars().take(64).collect();
            return Err(RejectReason::UriForm { uri });
        }
        match creds.qop.as_deref() {
            Some("auth") => {}
            None if !self.require_qop => {}
            other => {
                let qop = other.unwrap_or_default().chars().take(32).collect();
                return Err(RejectReason::Qop { qop });
            }
        }
        match &creds.opaque {
            Some(opaque) if *opaque != self.opaque => Err(RejectReason::OpaqueMismatch),
            _ => Ok(()),
        }
    }
}

fn response_matches(ha1: &str, method: &str, creds: &Credentials) -> bool {
    let nc = creds.nc.map(|n| format!("{n:08x}"));
    let exchange = Exchange {
        algorithm: creds.algorithm,
        nonce: &creds.nonce,
        cnonce: creds.cnonce.as_deref().unwrap_or_default(),
        nc: nc.as_deref(),
        method,
        uri: &creds.uri,
    };
    let expected = request_digest(ha1, &exchange);
    let given = creds.response.to_ascii_lowercase();
    constant_time_eq(expected.as_bytes(), given.as_bytes())
}

/// The RFC 3261 digest-uri is the Request-URI: `sip:`, `sips:` or `tel:`.
fn is_sip_uri(uri: &str) -> bool {
    let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    matches!(scheme.as_deref(), Some("sip" | "sips" | "tel"))
        && uri.len() > "tel:".len()
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn quote_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::sip::digest::{ha1, parse_challenge, respond};

    const REALM: &str = "alarm.example";
    const URI: &str = "sip:alarm@alarm.example";
    const TTL: Duration = Duration::from_secs(300);

    fn server() -> DigestServer {
        DigestServer::new(REALM.into(), [7; 32], TTL)
    }

    fn lookup(user: &str, algorithm: Algorithm) -> Option<String> {
        (user == "unit42").then(|| ha1(algorithm, "unit42", REALM, "s3cret"))
    }

    fn answer(challenge: &str, password: &str, nc: u32) -> String {
        respond(challenge, "INVITE", URI, "unit42", password, "c0ffee", nc).unwrap()
    }

    fn verify(server: &mut DigestServer, at: Duration, authorization: &str) -> AuthOutcome {
        server.verify(epoch() + at, "INVITE", authorization, lookup)
    }

    fn ok() -> AuthOutcome {
        AuthOutcome::Ok {
            username: "unit42".into(),
        }
    }

    fn rejected(reason: RejectReason) -> AuthOutcome {
        AuthOutcome::Rejected { reason }
    }

    #[test]
    fn challenge_is_well_formed_and_nonces_are_unique() {
        let mut s = server();
        let first = s.challenge(epoch(), Algorithm::Sha256, true);
        let second = s.challenge(epoch(), Algorithm::Sha256, false);
        let (a, b) = (
            parse_challenge(&first).unwrap(),
            parse_challenge(&second).unwrap(),
        );
        assert_eq!(a.realm, REALM);
        assert_eq!(
            (a.algorithm, a.qop.as_slice()),
            (Algorithm::Sha256.into(), &["auth".to_string()][..])
        );
        assert!(a.stale && !b.stale);
        assert_eq!(a.nonce.len(), 80);
        assert_ne!(a.nonce, b.nonce, "same instant, different nonces");
        assert_eq!(a.opaque, b.opaque);
        assert!(s
            .challenge(epoch(), Algorithm::Md5, false)
            .contains("algorithm=MD5,"));
    }

    #[test]
    fn md5_and_sha256_answers_pass_and_nc_must_grow() {
        for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
            let mut s = server();
            let ch = s.challenge(epoch(), algorithm, false);
            assert_eq!(
                verify(&mut s, Duration::from_secs(1), &answer(&ch, "s3cret", 1)),
                ok()
            );
            assert_eq!(
                verify(&mut s, Duration::from_secs(2), &answer(&ch, "s3cret", 2)),
                ok()
            );
            for replayed in [2, 1] {
                let outcome = verify(
                    &mut s,
                    Duration::from_secs(3),
                    &answer(&ch, "s3cret", replayed),
                );
                let reason = RejectReason::Replay {
                    username: "unit42".into(),
                    nc: replayed,
                    last: 2,
                };
                assert_eq!(outcome, rejected(reason), "{algorithm:?} nc={replayed}");
            }
            assert_eq!(
                verify(&mut s, Duration::from_secs(4), &answer(&ch, "s3cret", 7)),
                ok(),
                "gaps are fine"
            );
        }
    }

    #[test]
    fn nonces_expire_in_simulated_time() {
        let mut s = server();
        s.challenge(epoch(), Algorithm::Md5, false); // fixes the base instant
        let ch = s.challenge(epoch() + Duration::from_secs(10), Algorithm::Md5, false);
        let at_limit = Duration::from_secs(10) + TTL;
        assert_eq!(verify(&mut s, at_limit, &answer(&ch, "s3cret", 1)), ok());
        let late = at_limit + Duration::from_millis(1);
        assert_eq!(
            verify(&mut s, late, &answer(&ch, "s3cret", 2)),
            AuthOutcome::Stale
        );
        // A stale nonce with the wrong password is a wrong password.
        let reason = RejectReason::BadResponse {
            username: "unit42".into(),
        };
        assert_eq!(
            verify(&mut s, late, &answer(&ch, "guess", 3)),
            rejected(reason)
        );
        assert!(s.replay.len() <= 1);
        let fresh = s.challenge(epoch() + late, Algorithm::Md5, false);
        assert_eq!(verify(&mut s, late, &answer(&fresh, "s3cret", 1)), ok());
        assert_eq!(s.replay.len(), 1, "the expired nonce's entry is gone");
    }

    #[test]
    fn wrong_password_and_unknown_user_are_rejected() {
        let mut s = server();
        let ch = s.challenge(epoch(), Algorithm::Md5, false);
        let reason = RejectReason::BadResponse {
            username: "unit42".into(),
        };
        assert_eq!(
            verify(&mut s, Duration::ZERO, &answer(&ch, "s3cre", 1)),
            rejected(reason)
        );
        let stranger = respond(&ch, "INVITE", URI, "unit43", "s3cret", "c", 1).unwrap();
        let reason = RejectReason::UnknownUser {
            username: "unit43".into(),
        };
        assert_eq!(verify(&mut s, Duration::ZERO, &stranger), rejected(reason));
        // The answer is bound to the method.
        let good = answer(&ch, "s3cret", 1);
        let outcome = s.verify(epoch(), "BYE", &good, lookup);
        assert!(matches!(
            outcome,
            AuthOutcome::Rejected {
                reason: RejectReason::BadResponse { .. }
            }
        ));
        assert_eq!(
            verify(&mut s, Duration::ZERO, &good),
            ok(),
            "failures do not burn the nonce"
        );
    }

    #[test]
    fn tampered_and_foreign_nonces_are_rejected() {
        let mut s = server();
        let ch = s.challenge(epoch(), Algorithm::Md5, false);
        let nonce = parse_challenge(&ch).unwrap().nonce;
        // Move the issue time forward by one digit, as a forger would.
        let mut forged = nonce.clone().into_bytes();
        forged[20] = if forged[20] == b'f' { b'e' } else { b'f' };
        let forged = String::from_utf8(forged).unwrap();
        for bad in [
            forged.as_str(),
            "abc",
            &nonce[..78],
            &format!("{}zz", &nonce[..78]),
        ] {
            let outcome = verify(
                &mut s,
                Duration::ZERO,
                &answer(&ch.replace(&nonce, bad), "s3cret", 1),
            );
            assert_eq!(outcome, rejected(RejectReason::ForeignNonce), "{bad}");
        }
        let mut other_secret = DigestServer::new(REALM.into(), [8; 32], TTL);
        let theirs = other_secret.challenge(epoch(), Algorithm::Md5, false);
        let outcome = verify(&mut s, Duration::ZERO, &answer(&theirs, "s3cret", 1));
        assert_eq!(
            outcome,
            rejected(RejectReason::OpaqueMismatch),
            "their opaque gives them away"
        );
        let opaque = parse_challenge(&theirs).unwrap().opaque.unwrap();
        let theirs = theirs.replace(&format!(", opaque=\"{opaque}\""), "");
        let outcome = verify(&mut s, Duration::ZERO, &answer(&theirs, "s3cret", 1));
        assert_eq!(
            outcome,
            rejected(RejectReason::ForeignNonce),
            "and so does their nonce"
        );
    }

    #[test]
    fn a_nonce_from_before_a_restart_is_stale() {
        let mut before = server();
        let ch = before.challenge(epoch(), Algorithm::Sha256, false);
        let mut after = server(); // same secret, new instance
        after.mint = NonceMint::with_instance([7; 32], REALM, TTL, 1);
        assert_eq!(
            verify(
                &mut after,
                Duration::from_secs(1),
                &answer(&ch, "s3cret", 1)
            ),
            AuthOutcome::Stale
        );
    }

    #[test]
    fn realm_uri_qop_and_opaque_are_checked() {
        let mut s = server();
        let ch = s.challenge(epoch(), Algorithm::Md5, false);
        let good = answer(&ch, "s3cret", 1);
        let other_realm = good.replace("realm=\"alarm.example\"", "realm=\"other\"");
        let reason = RejectReason::RealmMismatch {
            realm: "other".into(),
        };
        assert_eq!(
            verify(&mut s, Duration::ZERO, &other_realm),
            rejected(reason)
        );
        let http = respond(&ch, "INVITE", "/dir/index.html", "unit42", "s3cret", "c", 1).unwrap();
        let reason = RejectReason::UriForm {
            uri: "/dir/index.html".into(),
        };
        assert_eq!(verify(&mut s, Duration::ZERO, &http), rejected(reason));
        let auth_int = good.replace("qop=auth", "qop=auth-int");
        let reason = RejectReason::Qop {
            qop: "auth-int".into(),
        };
        assert_eq!(verify(&mut s, Duration::ZERO, &auth_int), rejected(reason));
        let opaque = parse_challenge(&ch).unwrap().opaque.unwrap();
        let wrong_opaque = good.replace(&opaque, "00");
        assert_eq!(
            verify(&mut s, Duration::ZERO, &wrong_opaque),
            rejected(RejectReason::OpaqueMismatch)
        );
        let no_opaque = good.replace(&format!(", opaque=\"{opaque}\""), "");
        assert_eq!(verify(&mut s, Duration::ZERO, &no_opaque), ok());
        let garbage = verify(&mut s, Duration::ZERO, "Digest username=\"unterminated");
        assert!(matches!(
            garbage,
            AuthOutcome::Rejected {
                reason: RejectReason::Malformed(_)
            }
        ));
    }

    #[test]
    fn no_qop_answers_are_one_shot_and_can_be_forbidden() {
        let mut s = server();
        let ch = s
            .challenge(epoch(), Algorithm::Md5, false)
            .replace(", qop=\"auth\"", "");
        let legacy = answer(&ch, "s3cret", 1);
        assert!(!legacy.contains("qop"));
        assert_eq!(verify(&mut s, Duration::ZERO, &legacy), ok());
        assert_eq!(
            verify(&mut s, Duration::ZERO, &legacy),
            AuthOutcome::Stale,
            "replay"
        );
        let mut strict = server().require_qop(true);
        let ch = strict
            .challenge(epoch(), Algorithm::Md5, false)
            .replace(", qop=\"auth\"", "");
        let outcome = verify(&mut strict, Duration::ZERO, &answer(&ch, "s3cret", 1));
        assert_eq!(outcome, rejected(RejectReason::Qop { qop: String::new() }));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let text = format!("{:?}", server());
        assert!(text.contains("alarm.example") && text.contains("<redacted>"));
        assert!(!text.contains("7, 7"));
    }

    #[test]
    fn random_garbage_never_panics_the_verifier() {
        let mut s = server();
        let ch = s.challenge(epoch(), Algorithm::Sha256, false);
        let good = answer(&ch, "s3cret", 1);
        let mut seed: u64 = 0x5851_F42D_4C95_7F2D;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let cut = good.len() - (seed as usize) % 40;
            let _ = s.verify(epoch(), "INVITE", good.get(..cut).unwrap_or(""), lookup);
        }
    }
}
