//! `[auth]`: digest authentication for IP alarm units that are not on a
//! trusted trunk (RFC 8760: MD5 and SHA-256).
//!
//! Passwords are never stored: each device carries HA1 =
//! H(username:realm:password), printed by `alarmgate hash-password`
//! ([`device_ha1_lines`]). Changing `auth.realm` invalidates every HA1.

use std::collections::HashMap;
use std::time::Duration;

use md5::{Digest, Md5};
use serde::Deserialize;
use sha2::Sha256;

use super::validate::Findings;
use super::Problem;

/// Default `auth.realm`.
pub const DEFAULT_REALM: &str = "alarmgate";

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The digest realm in our challenges; part of every HA1. Default `"alarmgate"`.
    pub realm: String,
    /// How long a nonce we issued stays valid, in seconds; a device using an
    /// older one is challenged again with `stale=true`. Default 300.
    pub nonce_ttl_s: u64,
    /// The challenges a 401 carries, in order of preference: `"SHA-256"`,
    /// `"MD5"`. RFC 7616 clients take the first they support, but some older
    /// units (and SIPp) read only the first challenge and only know MD5: put
    /// `"MD5"` first, or alone, for such a fleet. Empty means the default,
    /// `["SHA-256", "MD5"]`.
    pub algorithms: Vec<ChallengeAlgorithm>,
    /// `[[auth.devices]]`: units allowed to call in with digest credentials.
    /// When empty, calls from sources on no trunk are refused with 403.
    /// Default: none.
    pub devices: Vec<Device>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            realm: DEFAULT_REALM.to_string(),
            nonce_ttl_s: 300,
            algorithms: default_algorithms(),
            devices: Vec::new(),
        }
    }
}

/// A digest algorithm we challenge with (RFC 8760 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ChallengeAlgorithm {
    /// `SHA-256`.
    #[serde(rename = "SHA-256")]
    Sha256,
    /// `MD5`.
    #[serde(rename = "MD5")]
    Md5,
}

fn default_algorithms() -> Vec<ChallengeAlgorithm> {
    vec![ChallengeAlgorithm::Sha256, ChallengeAlgorithm::Md5]
}

impl AuthConfig {
    /// The challenge order in force (the default when the list is empty).
    pub fn challenge_order(&self) -> Vec<ChallengeAlgorithm> {
        if self.algorithms.is_empty() {
            default_algorithms()
        } else {
            self.algorithms.clone()
        }
    }

    /// Nonce lifetime.
    pub fn nonce_ttl(&self) -> Duration {
        Duration::from_secs(self.nonce_ttl_s)
    }

    /// The device with this digest username.
    pub fn device(&self, username: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.username == username)
    }
}

/// One `[[auth.devices]]` entry: an IP alarm unit's digest credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The digest username the unit sends. Required, unique, no `:`.
    pub username: String,
    /// MD5(username:realm:password) as 32 hex digits. Optional, but a device
    /// needs this or `ha1_sha256`. Stored lowercase after loading.
    pub ha1_md5: Option<String>,
    /// SHA-256(username:realm:password) as 64 hex digits. Optional. When
    /// both are set the device may authenticate with either algorithm.
    pub ha1_sha256: Option<String>,
    /// `"alarm"` or `"normal"`: under overload, a normal device's calls are
    /// shed first once it has authenticated. Default `"alarm"`.
    #[serde(default)]
    pub priority: crate::admission::Priority,
}

/// The two `ha1_*` lines for a device entry, ready to paste under
/// `[[auth.devices]]` (this is what `alarmgate hash-password` prints).
pub fn device_ha1_lines(username: &str, realm: &str, password: &str) -> String {
    let input = format!("{username}:{realm}:{password}");
    let md5 = hex(&Md5::digest(input.as_bytes()));
    let sha256 = hex(&Sha256::digest(input.as_bytes()));
    format!("ha1_md5 = \"{md5}\"\nha1_sha256 = \"{sha256}\"\n")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AuthConfig {
    pub(crate) fn check(&self, out: &mut Findings) {
        if self.realm.is_empty() || self.realm.contains('"') {
            let value = format!("{:?}", self.realm);
            out.push(
                "auth.realm",
                Problem::Invalid {
                    value,
                    expected: "a non-empty realm without quotes",
                },
            );
        }
        if self.nonce_ttl_s == 0 {
            out.push(
                "auth.nonce_ttl_s",
                Problem::Invalid {
                    value: "0".into(),
                    expected: "at least 1 second",
                },
            );
        }
        let mut seen = HashMap::new();
        for (i, d) in self.devices.iter().enumerate() {
            let path = format!("auth.devices[{i}]");
            d.check(&path, out);
            if let Some(first) = seen.insert(d.username.as_str(), i) {
                let first = format!("auth.devices[{first}].username");
                out.push(
                    format!("{path}.username"),
                    Problem::Duplicate {
                        value: d.username.clone(),
                        first,
                    },
                );
            }
        }
    }

    /// Lowercases the HA1 values so the digest code can compare hex as is.
    pub(crate) fn normalise(&mut self) {
        for d in &mut self.devices {
            for ha1 in [&mut d.ha1_md5, &mut d.ha1_sha256].into_iter().flatten() {
                ha1.make_ascii_lowercase();
            }
        }
    }
}

impl Device {
    fn check(&self, path: &str, out: &mut Findings) {
        if self.username.is_empty() || self.username.contains([':', '"']) {
            let value = format!("{:?}", self.username);
            let expected = "a non-empty username without `:` or quotes";
            out.push(
                format!("{path}.username"),
                Problem::Invalid { value, expected },
            );
        }
        check_ha1(path, &self.ha1_md5, &self.ha1_sha256, out);
    }
}

/// Checks a credential pair: at least one HA1, each of the right length in hex.
pub(crate) fn check_ha1(
    path: &str,
    ha1_md5: &Option<String>,
    ha1_sha256: &Option<String>,
    out: &mut Findings,
) {
    if ha1_md5.is_none() && ha1_sha256.is_none() {
        let because = "(ha1_md5 or ha1_sha256, or both; see `alarmgate hash-password`)";
        out.push(format!("{path}.ha1_md5"), Problem::Missing { because });
    }
    let fields = [
        ("ha1_md5", ha1_md5, 32, "32 hex digits"),
        ("ha1_sha256", ha1_sha256, 64, "64 hex digits"),
    ];
    for (name, value, len, expected) in fields {
        if let Some(v) = value
            .as_ref()
            .filter(|v| v.len() != len || !v.chars().all(|c| c.is_ascii_hexdigit()))
        {
            out.push(
                format!("{path}.{name}"),
                Problem::Invalid {
                    value: format!("{v:?}"),
                    expected,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_lines_match_known_digests() {
        // RFC 2617 §3.5 example: Mufasa / testrealm@host.com / Circle Of Life.
        let lines = device_ha1_lines("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert!(
            lines.starts_with("ha1_md5 = \"939e7578ed9e3c518a452acee763bce9\"\n"),
            "{lines}"
        );
        // RFC 7616 §3.9.1 example: Mufasa / http-auth@example.org / Circle of Life.
        let lines = device_ha1_lines("Mufasa", "http-auth@example.org", "Circle of Life");
        assert!(
            lines.contains(
                "ha1_sha256 = \"7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232\""
            ),
            "{lines}"
        );
        assert_eq!(lines.lines().count(), 2);
    }

    fn device(name: &str, md5: Option<&str>, sha: Option<&str>) -> Device {
        Device {
            username: name.into(),
            ha1_md5: md5.map(Into::into),
            ha1_sha256: sha.map(Into::into),
            priority: Default::default(),
        }
    }

    #[test]
    fn device_checks() {
        let good = "0123456789abcdefABCDEF0123456789";
        let auth = AuthConfig {
            devices: vec![
                device("a", Some(good), None),
                device("b", None, None),
                device("a", Some("xyz"), Some(&"f".repeat(63))),
                device("c:d", None, Some(&"0".repeat(64))),
            ],
            ..AuthConfig::default()
        };
        let mut out = Findings::default();
        auth.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "auth.devices[1].ha1_md5",
                "auth.devices[2].ha1_md5",
                "auth.devices[2].ha1_sha256",
                "auth.devices[2].username",
                "auth.devices[3].username",
            ]
        );
    }

    #[test]
    fn normalise_lowercases() {
        let mut auth = AuthConfig {
            devices: vec![device("a", Some("ABC"), None)],
            ..AuthConfig::default()
        };
        auth.normalise();
        assert_eq!(auth.devices[0].ha1_md5.as_deref(), Some("abc"));
        assert!(auth.device("a").is_some());
        assert_eq!(auth.nonce_ttl(), Duration::from_secs(300));
    }
}
