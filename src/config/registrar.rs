//! `[registrar]`: REGISTER for operators' softphones.
//!
//! The section is named `RegistrarSection` because the registrar core owns
//! the name `RegistrarConfig` (the settings built from this section by
//! `Config::registrar_settings`).

use std::time::Duration;

use serde::Deserialize;

use super::auth::ChallengeAlgorithm;
use super::validate::Findings;
use super::{Problem, DEFAULT_REALM};

/// `[registrar]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarSection {
    /// Accept REGISTER from operators' softphones. Off, REGISTER is refused
    /// (and operators can only be reached by calls they place). Default `true`.
    pub enabled: bool,
    /// The digest realm of our REGISTER challenges; part of every
    /// operator's HA1, so changing it invalidates them. Default `"alarmgate"`.
    pub realm: String,
    /// Shortest registration we accept, in seconds; a shorter `Expires` gets
    /// 423 with this `Min-Expires`. At least 1. Default 60.
    pub min_expires_s: u64,
    /// Longest registration we grant, in seconds; longer requests are cut to
    /// this. Default 3600.
    pub max_expires_s: u64,
    /// Registration granted when the softphone asks for none, in seconds,
    /// between the two above. Default 600.
    pub default_expires_s: u64,
    /// How often each registered contact is probed with OPTIONS, in seconds;
    /// a contact that misses two probes in a row leaves the rotation.
    /// 0 to 3600; 0 turns probing off (a dead phone then stays in the
    /// rotation until its registration expires). Default 30.
    pub keepalive_interval_s: u64,
    /// Contacts (registered phones) per operator; a REGISTER that would add
    /// more gets 403. At least 1. Default 8.
    pub max_contacts: usize,
    /// How long a nonce we issued stays valid, in seconds. At least 1. Default 300.
    pub nonce_ttl_s: u64,
    /// The challenges a 401 carries, in order of preference (`"SHA-256"`,
    /// `"MD5"`). Empty means the default `["SHA-256", "MD5"]`.
    pub algorithms: Vec<ChallengeAlgorithm>,
    /// Failed authentications from one source IP within
    /// `auth_fail_window_s` that get the source blocked. At least 1. Default 10.
    pub auth_fail_limit: u32,
    /// The window failures are counted in, in seconds. At least 1. Default 60.
    pub auth_fail_window_s: u64,
    /// How long a blocked source is refused (403), in seconds. At least 1. Default 300.
    pub auth_block_s: u64,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        Self {
            enabled: true,
            realm: DEFAULT_REALM.to_string(),
            min_expires_s: 60,
            max_expires_s: 3600,
            default_expires_s: 600,
            keepalive_interval_s: 30,
            max_contacts: 8,
            nonce_ttl_s: 300,
            algorithms: Vec::new(),
            auth_fail_limit: 10,
            auth_fail_window_s: 60,
            auth_block_s: 300,
        }
    }
}

impl RegistrarSection {
    /// The challenge order in force (the default when the list is empty).
    pub fn challenge_order(&self) -> Vec<ChallengeAlgorithm> {
        if self.algorithms.is_empty() {
            vec![ChallengeAlgorithm::Sha256, ChallengeAlgorithm::Md5]
        } else {
            self.algorithms.clone()
        }
    }

    /// The keep-alive probe interval; `None` when probing is off.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        (self.keepalive_interval_s > 0).then(|| Duration::from_secs(self.keepalive_interval_s))
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let bad = |c: char| c == '"' || c == '\\' || c.is_control();
        if self.realm.is_empty() || self.realm.chars().any(bad) {
            let value = format!("{:?}", self.realm);
            let expected = "a non-empty realm without quotes, backslashes or control characters";
            out.push("registrar.realm", Problem::Invalid { value, expected });
        }
        let at_least_one = [
            ("min_expires_s", self.min_expires_s),
            ("nonce_ttl_s", self.nonce_ttl_s),
            ("max_contacts", self.max_contacts as u64),
            ("auth_fail_limit", u64::from(self.auth_fail_limit)),
            ("auth_fail_window_s", self.auth_fail_window_s),
            ("auth_block_s", self.auth_block_s),
        ];
        for (name, value) in at_least_one.into_iter().filter(|(_, v)| *v == 0) {
            let problem = Problem::Invalid {
                value: value.to_string(),
                expected: "at least 1",
            };
            out.push(format!("registrar.{name}"), problem);
        }
        if self.keepalive_interval_s > 3600 {
            let value = self.keepalive_interval_s.to_string();
            let expected = "0 (off) to 3600 seconds";
            let key = "registrar.keepalive_interval_s";
            out.push(key, Problem::Invalid { value, expected });
        }
        self.check_expiry_order(out);
    }

    fn check_expiry_order(&self, out: &mut Findings) {
        let (min, default, max) = (
            self.min_expires_s,
            self.default_expires_s,
            self.max_expires_s,
        );
        if min > max {
            let detail = format!("min_expires_s ({min}) is above max_expires_s ({max})");
            out.push("registrar.min_expires_s", Problem::Conflict { detail });
        } else if !(min..=max).contains(&default) {
            let detail =
                format!("default_expires_s ({default}) is outside min_expires_s..=max_expires_s ({min}..={max})");
            out.push("registrar.default_expires_s", Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(r: &RegistrarSection) -> Vec<String> {
        let mut out = Findings::default();
        r.check(&mut out);
        out.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn defaults_are_valid() {
        let r = RegistrarSection::default();
        assert!(keys(&r).is_empty());
        assert!(r.enabled);
        assert_eq!(r.challenge_order()[0], ChallengeAlgorithm::Sha256);
        assert_eq!(r.keepalive_interval(), Some(Duration::from_secs(30)));
        let off = RegistrarSection {
            keepalive_interval_s: 0,
            ..RegistrarSection::default()
        };
        assert_eq!(off.keepalive_interval(), None);
        assert!(keys(&off).is_empty());
    }

    #[test]
    fn bad_values() {
        let r = RegistrarSection {
            realm: String::new(),
            min_expires_s: 0,
            keepalive_interval_s: 3601,
            auth_fail_limit: 0,
            default_expires_s: 7200,
            ..RegistrarSection::default()
        };
        assert_eq!(
            keys(&r),
            [
                "registrar.realm",
                "registrar.min_expires_s",
                "registrar.auth_fail_limit",
                "registrar.keepalive_interval_s",
                "registrar.default_expires_s",
            ]
        );
        let r = RegistrarSection {
            min_expires_s: 4000,
            ..RegistrarSection::default()
        };
        assert_eq!(keys(&r), ["registrar.min_expires_s"]);
    }
}
