//! Self-validating nonces and the replay guard of [`super::DigestServer`]
//! (RFC 7616 §3.3 and §5.5 on nonce design and replay).
//!
//! **Nonce** (80 hex digits): `instance ‖ issued_ms ‖ counter ‖ mac`, where
//! `mac` is the first 16 bytes of HMAC-SHA-256(secret, realm ‖ instance ‖
//! issued_ms ‖ counter). No table of issued nonces is kept: a nonce proves
//! itself. `issued_ms` counts from the first `now` the mint saw, and
//! `instance` is derived from the secret, which is random per process, so a nonce from before a restart with a
//! valid MAC is recognised as ours but not fresh.
//!
//! **Replay guard:** for each nonce that authenticated a request the highest
//! `nc` is kept, in a bounded map whose entries go when the nonce expires.
//! When the map is full the oldest entry goes and every nonce issued up to it
//! counts as stale, so forgetting never re-opens a replay. A no-qop (RFC
//! 2069) answer has no `nc`: its nonce is good for one request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{constant_time_eq, hmac_sha256, to_hex};

/// Bytes in a decoded nonce.
pub(super) const NONCE_BYTES: usize = 40;
const MAC_BYTES: usize = 16;

/// What a nonce says about itself once its MAC checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NonceInfo {
    instance: u64,
    issued_ms: u64,
    counter: u64,
}

/// Issues and opens nonces for one realm and secret.
pub(super) struct NonceMint {
    secret: [u8; 32],
    realm: String,
    ttl: Duration,
    instance: u64,
    base: Option<Instant>,
    counter: u64,
}

/// The mint's instance: the first 8 bytes of HMAC-SHA-256(secret,
/// "instance"), so a fresh secret (per process) gives a fresh instance and
/// the mint itself draws no random numbers.
fn instance_of(secret: &[u8; 32]) -> u64 {
    let mac = super::hmac_sha256(secret, &[b"instance"]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&mac[..8]);
    u64::from_be_bytes(first)
}

impl NonceMint {
    pub(super) fn new(secret: [u8; 32], realm: &str, ttl: Duration) -> Self {
        Self::with_instance(secret, realm, ttl, instance_of(&secret))
    }

    /// A mint with an explicit instance: tests model a restart that kept
    /// the secret.
    pub(super) fn with_instance(
        secret: [u8; 32],
        realm: &str,
        ttl: Duration,
        instance: u64,
    ) -> Self {
        let realm = realm.to_string();
        Self {
            secret,
            realm,
            ttl,
            instance,
            base: None,
            counter: 0,
        }
    }

    /// Milliseconds since the first `now` this mint saw.
    pub(super) fn elapsed_ms(&mut self, now: Instant) -> u64 {
        let base = *self.base.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(base).as_millis()).unwrap_or(u64::MAX)
    }

    /// The nonce lifetime in ms.
    pub(super) fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// A fresh nonce, unique even for equal `now`.
    pub(super) fn issue(&mut self, now: Instant) -> String {
        let issued_ms = self.elapsed_ms(now);
        self.counter += 1;
        let info = NonceInfo {
            instance: self.instance,
            issued_ms,
            counter: self.counter,
        };
        let mut bytes = Vec::with_capacity(NONCE_BYTES);
        bytes.extend_from_slice(&info.instance.to_be_bytes());
        bytes.extend_from_slice(&info.issued_ms.to_be_bytes());
        bytes.extend_from_slice(&info.counter.to_be_bytes());
        bytes.extend_from_slice(&self.mac(&info)[..MAC_BYTES]);
        to_hex(&bytes)
    }

    /// Decodes a nonce; `None` unless a mint with our secret and realm made it.
    pub(super) fn open(&self, nonce: &str) -> Option<NonceInfo> {
        let bytes = from_hex(nonce).filter(|b| b.len() == NONCE_BYTES)?;
        let field = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let info = NonceInfo {
            instance: field(0)?,
            issued_ms: field(8)?,
            counter: field(16)?,
        };
        let expected = self.mac(&info);
        let matches = constant_time_eq(bytes.get(24..)?, expected.get(..MAC_BYTES)?);
        matches.then_some(info)
    }

    /// True when this process issued the nonce and it has not expired.
    pub(super) fn is_fresh(&mut self, now: Instant, info: &NonceInfo) -> bool {
        let age = self.elapsed_ms(now).checked_sub(info.issued_ms);
        info.instance == self.instance && age.is_some_and(|ms| ms <= self.ttl_ms())
    }

    fn mac(&self, info: &NonceInfo) -> [u8; 32] {
        let instance = info.instance.to_be_bytes();
        let issued = info.issued_ms.to_be_bytes();
        let counter = info.counter.to_be_bytes();
        hmac_sha256(
            &self.secret,
            &[self.realm.as_bytes(), &instance, &issued, &counter],
        )
    }
}

/// What the replay guard makes of a nonce count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// First use, or `nc` above the last: accepted and recorded.
    Accepted,
    /// The nonce's history was dropped, or a no-qop nonce was used again.
    Stale,
    /// `nc` not above the last one seen.
    Replay {
        /// The highest nc seen before.
        last: u32,
    },
}

/// The highest `nc` per used nonce, bounded.
pub(super) struct ReplayGuard {
    last_nc: BTreeMap<u64, (u32, u64)>, // counter -> (last nc, issued_ms)
    stale_below: u64,
    limit: usize,
}

impl ReplayGuard {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            last_nc: BTreeMap::new(),
            stale_below: 0,
            limit: limit.max(1),
        }
    }

    /// Nonces currently tracked.
    pub(super) fn len(&self) -> usize {
        self.last_nc.len()
    }

    /// Checks `nc` (None for no-qop) for a fresh nonce and records it.
    pub(super) fn record(
        &mut self,
        info: &NonceInfo,
        nc: Option<u32>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Use {
        if info.counter < self.stale_below {
            return Use::Stale;
        }
        let next = match (nc, self.last_nc.get(&info.counter)) {
            (None, Some(_)) => return Use::Stale,
            (Some(nc), Some((last, _))) if nc <= *last => return Use::Replay { last: *last },
            (Some(nc), _) => nc,
            (None, None) => u32::MAX,
        };
        self.expire(now_ms, ttl_ms);
        while self.last_nc.len() >= self.limit && !self.last_nc.contains_key(&info.counter) {
            let Some((oldest, _)) = self.last_nc.pop_first() else {
                break;
            };
            self.stale_below = self.stale_below.max(oldest.saturating_add(1));
        }
        self.last_nc.insert(info.counter, (next, info.issued_ms));
        Use::Accepted
    }

    /// Drops expired nonces; counters grow with issue time, so they are at
    /// the front.
    fn expire(&mut self, now_ms: u64, ttl_ms: u64) {
        while let Some(first) = self.last_nc.first_entry() {
            if now_ms.saturating_sub(first.get().1) <= ttl_ms {
                break;
            }
            first.remove();
        }
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digits: Option<Vec<u8>> = text
        .chars()
        .map(|c| c.to_digit(16).map(|d| d as u8))
        .collect();
    Some(
        digits?
            .chunks(2)
            .map(|p| p.iter().fold(0u8, |acc, d| acc << 4 | d))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    const TTL: Duration = Duration::from_secs(300);

    fn mint() -> NonceMint {
        NonceMint::new([7; 32], "alarm.example", TTL)
    }

    fn fresh(m: &mut NonceMint, at: Duration) -> NonceInfo {
        let nonce = m.issue(epoch() + at);
        m.open(&nonce).unwrap()
    }

    #[test]
    fn issued_nonces_open_and_are_unique() {
        let mut m = mint();
        let (a, b) = (m.issue(epoch()), m.issue(epoch()));
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * NONCE_BYTES);
        let info = m.open(&a).unwrap();
        assert_eq!((info.issued_ms, info.counter), (0, 1));
        assert!(m.is_fresh(epoch(), &info));
    }

    #[test]
    fn tampered_truncated_and_foreign_nonces_do_not_open() {
        let mut m = mint();
        let nonce = m.issue(epoch());
        for at in [0, 20, 40, 79] {
            let mut forged = nonce.clone().into_bytes();
            forged[at] = if forged[at] == b'f' { b'e' } else { b'f' };
            assert_eq!(
                m.open(std::str::from_utf8(&forged).unwrap()),
                None,
                "digit {at}"
            );
        }
        for bad in [
            "",
            "abc",
            &nonce[..78],
            &format!("{}zz", &nonce[..78]),
            &format!("{nonce}00"),
        ] {
            assert_eq!(m.open(bad), None, "{bad}");
        }
        let other_secret = NonceMint::new([8; 32], "alarm.example", TTL);
        let other_realm = NonceMint::new([7; 32], "other.example", TTL);
        assert_eq!(other_secret.open(&nonce), None);
        assert_eq!(other_realm.open(&nonce), None);
    }

    #[test]
    fn nonces_expire_and_do_not_survive_a_restart() {
        let mut m = mint();
        m.issue(epoch());
        let info = fresh(&mut m, Duration::from_secs(10));
        assert!(m.is_fresh(epoch() + Duration::from_secs(10) + TTL, &info));
        assert!(!m.is_fresh(
            epoch() + Duration::from_secs(10) + TTL + Duration::from_millis(1),
            &info
        ));
        let mut restarted = NonceMint::with_instance([7; 32], "alarm.example", TTL, 1);
        let seen = restarted.open(&m.issue(epoch())).unwrap();
        assert!(
            !restarted.is_fresh(epoch(), &seen),
            "same secret, other instance"
        );
    }

    #[test]
    fn nonce_counts_must_grow_and_no_qop_is_one_shot() {
        let mut m = mint();
        let info = fresh(&mut m, Duration::ZERO);
        let mut g = ReplayGuard::new(16);
        assert_eq!(g.record(&info, Some(1), 0, 1000), Use::Accepted);
        assert_eq!(g.record(&info, Some(3), 0, 1000), Use::Accepted);
        assert_eq!(g.record(&info, Some(3), 0, 1000), Use::Replay { last: 3 });
        assert_eq!(g.record(&info, Some(2), 0, 1000), Use::Replay { last: 3 });
        let legacy = fresh(&mut m, Duration::ZERO);
        assert_eq!(g.record(&legacy, None, 0, 1000), Use::Accepted);
        assert_eq!(g.record(&legacy, None, 0, 1000), Use::Stale);
        assert_eq!(
            g.record(&legacy, Some(1), 0, 1000),
            Use::Replay { last: u32::MAX }
        );
    }

    #[test]
    fn expired_entries_go_and_a_full_guard_forgets_safely() {
        let mut m = mint();
        let infos: Vec<NonceInfo> = (0..3).map(|_| fresh(&mut m, Duration::ZERO)).collect();
        let mut g = ReplayGuard::new(2);
        for info in &infos {
            assert_eq!(g.record(info, Some(1), 0, 1000), Use::Accepted);
        }
        assert_eq!(g.len(), 2);
        assert_eq!(
            g.record(&infos[0], Some(2), 0, 1000),
            Use::Stale,
            "evicted, not replayable"
        );
        assert_eq!(
            g.record(&infos[2], Some(1), 0, 1000),
            Use::Replay { last: 1 }
        );
        let later = fresh(&mut m, Duration::from_secs(5));
        assert_eq!(g.record(&later, Some(1), 5000, 1000), Use::Accepted);
        assert_eq!(g.len(), 1, "entries older than the TTL are dropped");
    }
}
