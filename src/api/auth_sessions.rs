//! The operator sessions inside [`ApiTokens`]: opening (with the daemon's
//! randomness), renewing, closing, and looking a session up at `now`. The
//! table itself is the pure [`Sessions`]; this wraps it for the clones of
//! [`ApiTokens`] the HTTP handlers share.

use super::super::scope::OperatorScope;
use super::super::session::{Session, SessionError, SessionToken, Sessions};
use super::ApiTokens;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where session tokens' random bytes come from: the daemon passes the
/// operating system's generator; tests pass a counter.
#[derive(Clone)]
pub struct Entropy(Arc<dyn Fn() -> [u8; 32] + Send + Sync>);

impl Entropy {
    /// Randomness from `source`.
    pub fn new(source: impl Fn() -> [u8; 32] + Send + Sync + 'static) -> Self {
        Self(Arc::new(source))
    }

    fn bytes(&self) -> [u8; 32] {
        (self.0)()
    }
}

impl ApiTokens {
    /// Enables operator sessions lasting `ttl`, with tokens from `entropy`.
    pub fn with_sessions(mut self, ttl: Duration, entropy: Entropy) -> Self {
        self.sessions = Arc::new(Mutex::new(Some(Sessions::new(ttl))));
        self.entropy = Some(entropy);
        self
    }

    /// Changes the session lifetime (a reloaded `[api] session_ttl_s`).
    pub fn set_session_ttl(&self, ttl: Duration) {
        self.with_table(|t| t.set_ttl(ttl));
    }

    /// The session lifetime; `None` when sessions are not enabled.
    pub fn session_ttl(&self) -> Option<Duration> {
        self.with_table(|t| t.ttl())
    }

    /// Opens a session for `scope` at `now`. `None`: sessions are not enabled.
    pub fn open_session(
        &self,
        now: Instant,
        scope: OperatorScope,
    ) -> Option<Result<(SessionToken, Session), SessionError>> {
        let random = self.entropy.as_ref()?.bytes();
        self.with_table(|t| t.open(now, scope, random))
    }

    /// Extends the session of `token`.
    pub fn renew_session(&self, now: Instant, token: &str) -> Option<Session> {
        self.with_table(|t| t.renew(now, token)).flatten()
    }

    /// Ends the session of `token`; true when there was one.
    pub fn close_session(&self, token: &str) -> bool {
        self.with_table(|t| t.close(token)).unwrap_or(false)
    }

    pub(super) fn with_table<T>(&self, f: impl FnOnce(&mut Sessions) -> T) -> Option<T> {
        let mut guard = match self.sessions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.as_mut().map(f)
    }

    /// The live session of `token` at `now`.
    pub(super) fn session(&self, now: Instant, token: &str) -> Option<Session> {
        self.with_table(|t| t.check(now, token).cloned()).flatten()
    }
}
