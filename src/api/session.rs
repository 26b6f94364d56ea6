//! Operator sessions: the short-lived tokens the console signs in for
//! (`POST /api/v1/session`), pure state with `now` and randomness passed in.
//!
//! A token is `ags_` and 64 hex digits of 32 random bytes the daemon passes
//! in ([`Sessions::open`]); only its SHA-256 is kept, and a presented token
//! is hashed and compared with every stored hash in constant time (no early
//! exit), as the admin tokens are. A session lasts `ttl` from its opening or
//! its last renewal ([`Sessions::renew`]), then is gone. The table is
//! bounded: at most [`PER_OPERATOR`] sessions per operator (the oldest goes
//! when a new one opens) and [`MAX_SESSIONS`] in all (a sign-in beyond that
//! is refused, never someone else's session).

use super::scope::OperatorScope;
use crate::sip::digest::constant_time_eq;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Sessions one operator may hold at once (tabs, a second screen).
pub const PER_OPERATOR: usize = 8;
/// Sessions the node keeps at most.
pub const MAX_SESSIONS: usize = 4096;
/// The prefix of every session token (tells it from admin tokens in logs).
pub const TOKEN_PREFIX: &str = "ags_";

/// A session token as handed to the console (never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// The token text, for the `Authorization: Bearer` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// One live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// What the operator may see and do.
    pub scope: OperatorScope,
    /// When it lapses unless renewed.
    pub expires: Instant,
    opened: Instant,
    sha256: [u8; 32],
}

/// Why a session could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// [`MAX_SESSIONS`] live sessions already.
    #[error("the node holds {max} sessions already; try again later")]
    Full {
        /// The bound.
        max: usize,
    },
}

/// Every live session of the node.
#[derive(Debug, Clone)]
pub struct Sessions {
    ttl: Duration,
    live: Vec<Session>,
}

impl Sessions {
    /// An empty table whose sessions last `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Vec::new(),
        }
    }

    /// The lifetime of a session.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Changes the lifetime of sessions opened or renewed from now on.
    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// Opens a session for `scope` with the token made of `random`.
    pub fn open(
        &mut self,
        now: Instant,
        scope: OperatorScope,
        random: [u8; 32],
    ) -> Result<(SessionToken, Session), SessionError> {
        self.purge(now);
        let own: Vec<usize> = (self.live.iter().enumerate())
            .filter(|(_, s)| s.scope.operator == scope.operator)
            .map(|(i, _)| i)
            .collect();
        if own.len() >= PER_OPERATOR {
            let oldest = own
                .into_iter()
                .min_by_key(|i| self.live.get(*i).map(|s| s.opened));
            if let Some(i) = oldest {
                self.live.remove(i);
            }
        } else if self.live.len() >= MAX_SESSIONS {
            return Err(SessionError::Full { max: MAX_SESSIONS });
        }
        let token = SessionToken(format!("{TOKEN_PREFIX}{}", hex(&random)));
        let session = Session {
            scope,
            expires: now + self.ttl,
            opened: now,
            sha256: Sha256::digest(token.0.as_bytes()).into(),
        };
        self.live.push(session.clone());
        Ok((token, session))
    }

    /// The live session of `token` at `now`, found in constant time.
    pub fn check(&self, now: Instant, token: &str) -> Option<&Session> {
        let index = self.find(token)?;
        self.live.get(index).filter(|s| now < s.expires)
    }

    /// Extends the session of `token` to `now + ttl`; the new expiry.
    pub fn renew(&mut self, now: Instant, token: &str) -> Option<Session> {
        let index = self.find(token)?;
        let ttl = self.ttl;
        let session = self.live.get_mut(index).filter(|s| now < s.expires)?;
        session.expires = now + ttl;
        Some(session.clone())
    }

    /// Ends the session of `token`; true when there was one.
    pub fn close(&mut self, token: &str) -> bool {
        match self.find(token) {
            Some(index) => {
                self.live.remove(index);
                true
            }
            None => false,
        }
    }

    /// True when a live session's token hashes to `sha256` (a long-lived
    /// stream checking that its session still stands).
    pub fn is_live(&self, now: Instant, sha256: &[u8; 32]) -> bool {
        let mut live = false;
        for s in &self.live {
            live |= constant_time_eq(sha256, &s.sha256) && now < s.expires;
        }
        live
    }

    /// Drops lapsed sessions.
    pub fn purge(&mut self, now: Instant) {
        self.live.retain(|s| now < s.expires);
    }

    /// Live sessions (lapsed ones included until the next purge).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no session is kept.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The index of the session whose hash is the token's; every entry is
    /// compared, whatever matched first.
    fn find(&self, token: &str) -> Option<usize> {
        if !token.starts_with(TOKEN_PREFIX) {
            return None;
        }
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (i, s) in self.live.iter().enumerate() {
            if constant_time_eq(&presented, &s.sha256) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "tests_session.rs"]
mod tests;
