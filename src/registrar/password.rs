//! Checking an operator's password outside SIP: the console's sign-in
//! (`POST /api/v1/session`) uses the same credentials as the softphone.
//!
//! The password is hashed into HA1 = H(id:realm:password) with each
//! algorithm the operator has a stored HA1 for, and compared in constant
//! time. A wrong password or an unknown operator counts as a failure of the
//! source in the registrar's blocker, exactly as a REGISTER with a wrong
//! digest does: a source that keeps guessing is blocked (sign-in and
//! REGISTER alike) and nobody else is locked out.

use std::net::IpAddr;
use std::time::Instant;

use super::Registrar;
use crate::routing::OperatorId;
use crate::sip::digest::{constant_time_eq, ha1, Algorithm};

/// The answer to a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The id and password match a configured operator.
    Accepted,
    /// Unknown operator or wrong password (counted against the source).
    Refused,
    /// The source is blocked until then; the password was not looked at.
    Blocked {
        /// When the block ends.
        until: Instant,
    },
}

impl Registrar {
    /// Checks `password` for `operator`, from `source`, at `now`.
    pub fn check_password(
        &mut self,
        now: Instant,
        source: IpAddr,
        operator: &OperatorId,
        password: &str,
    ) -> PasswordCheck {
        if let Some(until) = self.blocker.blocked_until(now, source) {
            ::metrics::counter!(super::metrics::AUTH_BLOCKED).increment(1);
            return PasswordCheck::Blocked { until };
        }
        if self.password_matches(operator, password) {
            return PasswordCheck::Accepted;
        }
        tracing::info!(%operator, %source, "sign-in refused: wrong password or unknown operator");
        match self.blocker.record_failure(now, source) {
            Some(until) => {
                tracing::warn!(%source, "source blocked after repeated authentication failures");
                PasswordCheck::Blocked { until }
            }
            None => PasswordCheck::Refused,
        }
    }

    /// True when one of the operator's stored HA1 values is the password's.
    fn password_matches(&self, operator: &OperatorId, password: &str) -> bool {
        let Some(stored) = self.credentials.get(operator) else {
            return false;
        };
        let realm = self.config.realm.as_str();
        let mut matched = false;
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            if let Some(expected) = stored.ha1(algorithm) {
                let computed = ha1(algorithm, operator.as_str(), realm, password);
                matched |= constant_time_eq(computed.as_bytes(), expected.as_bytes());
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::registrar::{Credentials, OperatorCredentials, RegistrarConfig};
    use std::time::Duration;

    fn registrar(fail_limit: u32) -> Registrar {
        let id = OperatorId::new("op-1");
        let creds = OperatorCredentials {
            ha1_md5: Some(ha1(Algorithm::Md5, "op-1", "alarmgate", "s3cret")),
            ha1_sha256: None,
        };
        let credentials: Credentials = [(id, creds)].into_iter().collect();
        let config = RegistrarConfig {
            fail_limit,
            ..RegistrarConfig::default()
        };
        Registrar::new(config, credentials, 1, [7; 32]).expect("valid")
    }

    #[test]
    fn the_softphone_password_signs_in_and_others_do_not() {
        let mut r = registrar(10);
        let (t, ip) = (epoch(), "192.0.2.1".parse().expect("ip"));
        let op = OperatorId::new("op-1");
        assert_eq!(
            r.check_password(t, ip, &op, "s3cret"),
            PasswordCheck::Accepted
        );
        assert_eq!(
            r.check_password(t, ip, &op, "S3cret"),
            PasswordCheck::Refused
        );
        let ghost = OperatorId::new("op-9");
        assert_eq!(
            r.check_password(t, ip, &ghost, "s3cret"),
            PasswordCheck::Refused
        );
    }

    #[test]
    fn a_guessing_source_is_blocked_and_no_one_else_is() {
        let mut r = registrar(3);
        let t = epoch();
        let (bad, good) = (
            "192.0.2.66".parse().expect("ip"),
            "192.0.2.7".parse().expect("ip"),
        );
        let op = OperatorId::new("op-1");
        assert_eq!(r.check_password(t, bad, &op, "a"), PasswordCheck::Refused);
        assert_eq!(r.check_password(t, bad, &op, "b"), PasswordCheck::Refused);
        let third = r.check_password(t, bad, &op, "c");
        let until = t + RegistrarConfig::default().block_for;
        assert_eq!(third, PasswordCheck::Blocked { until });
        let later = t + Duration::from_secs(1);
        assert_eq!(
            r.check_password(later, bad, &op, "s3cret"),
            PasswordCheck::Blocked { until },
            "a blocked source is refused even with the right password"
        );
        assert_eq!(
            r.check_password(later, good, &op, "s3cret"),
            PasswordCheck::Accepted
        );
        assert_eq!(
            r.check_password(until, bad, &op, "s3cret"),
            PasswordCheck::Accepted
        );
    }
}
