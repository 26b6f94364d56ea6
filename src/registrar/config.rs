//! The registrar's settings (`[registrar]` in the config) and the operators'
//! stored credentials (HA1 hashes from `[[operators]]`, never passwords).

use std::collections::HashMap;
use std::time::Duration;

use crate::routing::OperatorId;
use crate::sip::digest::Algorithm;

/// How the registrar behaves. All durations are whole seconds on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// The digest realm; the softphones' HA1 values are computed with it.
    pub realm: String,
    /// How long a nonce we issue stays fresh; a correct answer with an older
    /// one gets `401` with `stale=true`.
    pub nonce_ttl: Duration,
    /// Shortest registration accepted; shorter (but not zero) gets `423`
    /// with `Min-Expires` (RFC 3261 §10.3 step 7).
    pub min_expires: Duration,
    /// Longest registration granted; longer requests are cut to this.
    pub max_expires: Duration,
    /// Registration time when neither `expires` nor `Expires` is given.
    pub default_expires: Duration,
    /// OPTIONS keep-alive period per binding; `None` disables keep-alives
    /// (bindings then live until they expire).
    pub keepalive_interval: Option<Duration>,
    /// Bindings per operator (and contacts per REGISTER); more gets `403`.
    pub max_contacts: usize,
    /// Authentication failures from one source within `fail_window` that
    /// block it.
    pub fail_limit: u32,
    /// The window in which `fail_limit` failures block a source.
    pub fail_window: Duration,
    /// How long a blocked source's REGISTERs get `403` without digest work.
    pub block_for: Duration,
    /// Sources whose failures are tracked at most (bounded memory).
    pub max_tracked_sources: usize,
    /// The challenges of a `401`, in this order (RFC 8760: SHA-256 first).
    pub algorithms: Vec<Algorithm>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            realm: "alarmgate".into(),
            nonce_ttl: Duration::from_secs(300),
            min_expires: Duration::from_secs(60),
            max_expires: Duration::from_secs(3600),
            default_expires: Duration::from_secs(600),
            keepalive_interval: Some(Duration::from_secs(30)),
            max_contacts: 8,
            fail_limit: 10,
            fail_window: Duration::from_secs(60),
            block_for: Duration::from_secs(300),
            max_tracked_sources: 4096,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// What is wrong with a [`RegistrarConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrarConfigError {
    /// `min_expires` is zero or above `max_expires`.
    #[error("min_expires {min}s must be at least 1s and at most max_expires {max}s")]
    ExpiresRange {
        /// min_expires in seconds.
        min: u64,
        /// max_expires in seconds.
        max: u64,
    },
    /// `default_expires` lies outside `min_expires..=max_expires`.
    #[error("default_expires {default}s lies outside {min}s..={max}s")]
    DefaultExpires {
        /// default_expires in seconds.
        default: u64,
        /// min_expires in seconds.
        min: u64,
        /// max_expires in seconds.
        max: u64,
    },
    /// A value that must be positive is zero.
    #[error("{name} must be positive")]
    Zero {
        /// The setting.
        name: &'static str,
    },
    /// The realm is empty or holds a quote, backslash or control character.
    #[error("realm {realm:?} is empty or has a quote, backslash or control character")]
    Realm {
        /// The realm given.
        realm: String,
    },
}

impl RegistrarConfig {
    /// Checks the settings; [`super::Registrar::new`] refuses bad ones.
    pub fn validate(&self) -> Result<(), RegistrarConfigError> {
        let (min, max) = (self.min_expires.as_secs(), self.max_expires.as_secs());
        if min == 0 || min > max {
            return Err(RegistrarConfigError::ExpiresRange { min, max });
        }
        let default = self.default_expires.as_secs();
        if !(min..=max).contains(&default) {
            return Err(RegistrarConfigError::DefaultExpires { default, min, max });
        }
        self.check_positive()?;
        let bad = |c: char| c == '"' || c == '\\' || c.is_control();
        if self.realm.is_empty() || self.realm.chars().any(bad) {
            let realm = self.realm.clone();
            return Err(RegistrarConfigError::Realm { realm });
        }
        Ok(())
    }

    fn check_positive(&self) -> Result<(), RegistrarConfigError> {
        let zero = |name| Err(RegistrarConfigError::Zero { name });
        match () {
            _ if self.nonce_ttl.is_zero() => zero("nonce_ttl"),
            _ if self.keepalive_interval.is_some_and(|k| k.is_zero()) => zero("keepalive_interval"),
            _ if self.max_contacts == 0 => zero("max_contacts"),
            _ if self.fail_limit == 0 => zero("fail_limit"),
            _ if self.fail_window.is_zero() => zero("fail_window"),
            _ if self.block_for.is_zero() => zero("block_for"),
            _ if self.max_tracked_sources == 0 => zero("max_tracked_sources"),
            _ if self.algorithms.is_empty() => zero("algorithms"),
            _ => Ok(()),
        }
    }
}

/// One operator's stored credentials: `H(user:realm:password)` in hex per
/// algorithm. An operator without the hash of an algorithm cannot answer
/// that algorithm's challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorCredentials {
    /// HA1 for MD5.
    pub ha1_md5: Option<String>,
    /// HA1 for SHA-256.
    pub ha1_sha256: Option<String>,
}

impl OperatorCredentials {
    /// The HA1 for `algorithm`, if stored.
    pub fn ha1(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Md5 => self.ha1_md5.as_deref(),
            Algorithm::Sha256 => self.ha1_sha256.as_deref(),
        }
    }
}

/// The operators allowed to register, by id (= the SIP user name).
pub type Credentials = HashMap<OperatorId, OperatorCredentials>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(RegistrarConfig::default().validate(), Ok(()));
        let mut c = RegistrarConfig {
            min_expires: Duration::from_secs(7200),
            ..RegistrarConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(RegistrarConfigError::ExpiresRange { .. })
        ));
        c.min_expires = Duration::from_secs(60);
        c.default_expires = Duration::from_secs(30);
        assert!(matches!(
            c.validate(),
            Err(RegistrarConfigError::DefaultExpires { .. })
        ));
        c.default_expires = Duration::from_secs(600);
        c.fail_limit = 0;
        let err = c.validate().unwrap_err();
        assert_eq!(err, RegistrarConfigError::Zero { name: "fail_limit" });
        c.fail_limit = 3;
        c.realm = "a\"b".into();
        assert!(matches!(
            c.validate(),
            Err(RegistrarConfigError::Realm { .. })
        ));
    }
}
