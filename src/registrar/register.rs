//! Handling one REGISTER (RFC 3261 §10.3): block check, reading, digest
//! authentication, expiry rules, the binding update, the response.

use std::time::{Duration, Instant};

use super::bindings::{Origin, Update, UpdateError};
use super::events::{AuthFailure, RegisterOutcome, RegisterReply, RegistrarEvent, RemoveReason};
use super::request::{self, ContactSpec, Contacts, RegisterRequest};
use super::{metrics as m, reply, Registrar};
use crate::routing::OperatorId;
use crate::sip::digest::{AuthOutcome, RejectReason};
use crate::sip::message::{Request, Response};
use crate::sip::types::Peer;

/// Why a REGISTER's contacts were not applied.
enum Refusal {
    /// 423 with this Min-Expires.
    TooBrief(u64),
    /// 500 or 403.
    Update(UpdateError),
}

impl From<UpdateError> for Refusal {
    fn from(err: UpdateError) -> Self {
        Refusal::Update(err)
    }
}

/// What the digest check decided.
enum Verdict {
    Pass,
    Challenge { stale: bool },
    Fail(AuthFailure),
}

impl Registrar {
    /// Answers one REGISTER that arrived from `peer`. Never panics; every
    /// request gets a response (200, 400, 401, 403, 423 or 500).
    pub fn handle_register(&mut self, now: Instant, peer: Peer, req: &Request) -> RegisterReply {
        let (response, outcome) = self.decide(now, peer, req);
        self.prune_timers();
        ::metrics::counter!(m::REGISTERS, "outcome" => outcome_label(&outcome)).increment(1);
        tracing::debug!(source = %peer.addr, ?outcome, "REGISTER answered");
        RegisterReply { response, outcome }
    }

    fn decide(&mut self, now: Instant, peer: Peer, req: &Request) -> (Response, RegisterOutcome) {
        if let Some(until) = self.blocker.blocked_until(now, peer.addr.ip()) {
            ::metrics::counter!(m::AUTH_BLOCKED).increment(1);
            let resp = reply::base(req, 403, Some("Forbidden (Source Blocked)"), self.salt);
            return (resp, RegisterOutcome::Blocked { until });
        }
        let parsed = match request::read(req) {
            Ok(parsed) => parsed,
            Err(err) => {
                let resp = reply::base(req, 400, Some(&err.reason_phrase()), self.salt);
                return (resp, RegisterOutcome::Malformed(err));
            }
        };
        match self.verify(now, &parsed) {
            Verdict::Pass => self.bind(now, peer, req, &parsed),
            Verdict::Challenge { stale } => self.challenge(now, req, stale),
            Verdict::Fail(failure) => self.forbid(now, peer, req, failure),
        }
    }

    fn verify(&mut self, now: Instant, parsed: &RegisterRequest) -> Verdict {
        let Some(authorization) = parsed.authorization.as_deref() else {
            return Verdict::Challenge { stale: false };
        };
        let credentials = &self.credentials;
        let lookup = |user: &str, algorithm| {
            let creds = credentials.get(&OperatorId::new(user))?;
            creds.ha1(algorithm).map(str::to_string)
        };
        match self.digest.verify(now, "REGISTER", authorization, lookup) {
            AuthOutcome::Ok { username } if username == parsed.aor.as_str() => Verdict::Pass,
            AuthOutcome::Ok { username } => Verdict::Fail(AuthFailure::WrongUser {
                authenticated: username,
                aor: parsed.aor.clone(),
            }),
            AuthOutcome::Stale => Verdict::Challenge { stale: true },
            AuthOutcome::Rejected { reason } => match reason {
                // Not ours (another realm, another run): ask again.
                RejectReason::ForeignNonce
                | RejectReason::OpaqueMismatch
                | RejectReason::RealmMismatch { .. } => Verdict::Challenge { stale: false },
                other => Verdict::Fail(AuthFailure::Digest(other)),
            },
        }
    }

    fn challenge(
        &mut self,
        now: Instant,
        req: &Request,
        stale: bool,
    ) -> (Response, RegisterOutcome) {
        let algorithms = self.config.algorithms.clone();
        let values: Vec<String> = algorithms
            .into_iter()
            .map(|alg| self.digest.challenge(now, alg, stale))
            .collect();
        let resp = reply::challenge(req, &values, self.salt);
        (resp, RegisterOutcome::Challenged { stale })
    }

    fn forbid(
        &mut self,
        now: Instant,
        peer: Peer,
        req: &Request,
        failure: AuthFailure,
    ) -> (Response, RegisterOutcome) {
        ::metrics::counter!(m::AUTH_FAILURES, "reason" => failure.label()).increment(1);
        tracing::info!(source = %peer.addr, %failure, "REGISTER authentication failed");
        if let Some(until) = self.blocker.record_failure(now, peer.addr.ip()) {
            ::metrics::counter!(m::SOURCES_BLOCKED).increment(1);
            let source = super::blocker::source_key(peer.addr.ip());
            tracing::warn!(%source, "source blocked after repeated authentication failures");
            self.events
                .push_back(RegistrarEvent::Blocked { source, until });
        }
        let resp = reply::base(req, 403, None, self.salt);
        (resp, RegisterOutcome::Forbidden(failure))
    }

    fn bind(
        &mut self,
        now: Instant,
        peer: Peer,
        req: &Request,
        parsed: &RegisterRequest,
    ) -> (Response, RegisterOutcome) {
        let op = &parsed.aor;
        let was = self.is_reachable(op);
        match self.update(now, peer, parsed) {
            Ok(()) => {}
            Err(Refusal::TooBrief(min_expires)) => {
                let resp = reply::too_brief(req, min_expires, self.salt);
                return (resp, RegisterOutcome::TooBrief { min_expires });
            }
            Err(Refusal::Update(err)) => {
                return (self.refusal(req, &err), RegisterOutcome::Refused(err));
            }
        }
        self.note_reachability(op, was);
        self.forget_stale_probes();
        self.update_gauges();
        let bindings = self.contacts(op);
        let resp = reply::ok(req, &bindings, now, self.salt);
        let outcome = RegisterOutcome::Bound {
            operator: op.clone(),
            bindings: bindings.len(),
        };
        (resp, outcome)
    }

    /// Applies the request's contacts, all or nothing.
    fn update(
        &mut self,
        now: Instant,
        peer: Peer,
        parsed: &RegisterRequest,
    ) -> Result<(), Refusal> {
        let op = &parsed.aor;
        let origin = Origin {
            peer,
            call_id: &parsed.call_id,
            cseq: parsed.cseq,
        };
        match &parsed.contacts {
            Contacts::Query => Ok(()),
            Contacts::Wildcard => Ok(self.unregister_all(op, origin)?),
            Contacts::List(specs) => {
                let updates = self
                    .updates(specs, parsed.expires)
                    .map_err(Refusal::TooBrief)?;
                Ok(self.apply(now, op, origin, &updates)?)
            }
        }
    }

    fn apply(
        &mut self,
        now: Instant,
        op: &OperatorId,
        origin: Origin<'_>,
        updates: &[Update],
    ) -> Result<(), UpdateError> {
        let limit = self.config.max_contacts;
        let changes = self.table.apply(now, op, origin, updates, limit)?;
        for update in updates {
            self.arm_binding(op, &update.key);
        }
        for binding in changes.removed {
            self.note_removed(op, &binding, RemoveReason::Unregistered);
        }
        for binding in changes.added {
            tracing::info!(operator = %op, contact = %binding.contact, source = %binding.peer.addr, "binding added");
            self.events.push_back(RegistrarEvent::BindingAdded {
                operator: op.clone(),
                contact: binding.contact,
                peer: binding.peer,
            });
        }
        Ok(())
    }

    fn unregister_all(&mut self, op: &OperatorId, origin: Origin<'_>) -> Result<(), UpdateError> {
        for binding in self.table.remove_all(op, origin)? {
            self.note_removed(op, &binding, RemoveReason::Unregistered);
        }
        Ok(())
    }

    /// The granted expiry of each contact, or `Err(Min-Expires)` when one
    /// asks for less than the minimum (but not zero).
    fn updates(&self, specs: &[ContactSpec], header: Option<u32>) -> Result<Vec<Update>, u64> {
        let (min, max) = (self.config.min_expires, self.config.max_expires);
        let default = self.config.default_expires;
        specs
            .iter()
            .map(|spec| {
                let asked = spec
                    .expires
                    .or(header)
                    .map(|s| Duration::from_secs(s.into()));
                let expires = asked.unwrap_or(default);
                if !expires.is_zero() && expires < min {
                    return Err(min.as_secs());
                }
                Ok(Update {
                    uri: spec.uri.clone(),
                    key: spec.key.clone(),
                    expires: expires.min(max),
                })
            })
            .collect()
    }

    fn refusal(&self, req: &Request, err: &UpdateError) -> Response {
        match err {
            UpdateError::OutOfOrder { .. } => {
                reply::base(req, 500, Some("Out Of Order CSeq"), self.salt)
            }
            UpdateError::TooMany { .. } => {
                reply::base(req, 403, Some("Too Many Contacts"), self.salt)
            }
        }
    }
}

/// The `outcome` label of [`m::REGISTERS`].
fn outcome_label(outcome: &RegisterOutcome) -> &'static str {
    match outcome {
        RegisterOutcome::Bound { .. } => "ok",
        RegisterOutcome::Challenged { stale: false } => "challenged",
        RegisterOutcome::Challenged { stale: true } => "stale",
        RegisterOutcome::Forbidden(_) => "forbidden",
        RegisterOutcome::Blocked { .. } => "blocked",
        RegisterOutcome::TooBrief { .. } => "too_brief",
        RegisterOutcome::Refused(UpdateError::OutOfOrder { .. }) => "out_of_order",
        RegisterOutcome::Refused(UpdateError::TooMany { .. }) => "too_many_contacts",
        RegisterOutcome::Malformed(_) => "malformed",
    }
}
