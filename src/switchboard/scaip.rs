//! SCAIP on the switchboard: a MESSAGE admitted like an INVITE, answered
//! 200, decided by [`crate::scaip::receiver`], and answered again with the
//! `<mrs>` in a MESSAGE of our own to the unit.
//!
//! Every request (alarm or heartbeat) goes through the alarm core
//! (`crate::alarm::core`), which decides; this file executes its actions:
//! the core's `Store` becomes an [`Output::Store`] for the runtime, and
//! [`Switchboard::scaip_stored`] hands the journal's answer back to it.
//! `Acknowledge` is the `<mrs>` with `snu=0` (only for what is durable);
//! `Withhold` is `snu=5` (not stored, or not in time: the unit sends again
//! or fails over) or `snu=6` (busy: too many stores in flight); `List` is a
//! data alarm for the operators. A retransmitted request (same `ref` from
//! the same unit) is answered with the same `<mrs>` and stored once
//! (`scaip::repeats`).
//!
//! A stored alarm for a person either waits in the link table for the
//! unit's voice call (linked at the call's `MediaStart` and queued with the
//! alarm's class, code and fields), or is listed at once as a data alarm
//! (the unit will not call, or asked to be called back), or is listed when
//! the link window passes. `RE` withdraws the unit's waiting or listed alarm.

use super::callbacks::Detail;
use super::{EventRecord, Output, Switchboard};
use crate::alarm::classify::Classifier;
use crate::alarm::core::{AlarmAction, AlarmCore, StoreRecord, Withheld};
use crate::alarm::report::{DataAlarm, Protocol};
use crate::api::{ApiError, UnitCommandSent};
use crate::call::scaip_message::MessageAdmission;
use crate::call::CallHandle;
use crate::labels::TenantId;
use crate::routing::OperatorId;
use crate::scaip::control::InCallCommand;
use crate::scaip::link::LinkTable;
use crate::scaip::receiver::{self, Assessment, Decision, Policy};
use crate::scaip::repeats::{Repeats, RequestKey, Seen};
use crate::scaip::report::{self, Origin};
use crate::scaip::{MessageType, Mrq, Mrs, Status, CONTENT_TYPE};
use crate::sip::endpoint::ProbeHandle;
use crate::sip::message::{self, Request};
use crate::sip::transaction::TxKey;
use crate::sip::types::Peer;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The journal type of a heartbeat.
pub const UNIT_HEARTBEAT: &str = crate::events::UNIT_HEARTBEAT;
/// The journal type of a withdrawn alarm (`mty=RE`).
pub const ALARM_WITHDRAWN: &str = "alarmgate.alarm.withdrawn";
/// The journal type of an alarm linked to its voice call.
pub const ALARM_LINKED: &str = "alarmgate.alarm.linked";

/// A unit known by its `cid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRoute {
    /// Its tenant.
    pub tenant: TenantId,
    /// Numbers its voice call may come from.
    pub numbers: Vec<String>,
}

/// The SCAIP settings the switchboard needs (built from `[scaip]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScaipSettings {
    /// MESSAGE is served (else 405).
    pub enabled: bool,
    /// How long an alarm waits for its voice call.
    pub link_window: Duration,
    /// Keep the Contact ID receiver on a linked voice call (else it stops:
    /// the unit talks, it sends no DTMF alarms).
    pub contact_id_on_voice: bool,
    /// The policy of tenants with none of their own.
    pub default_policy: Policy,
    /// Per-tenant policies.
    pub policies: HashMap<TenantId, Policy>,
    /// Units by `cid`.
    pub units: HashMap<String, UnitRoute>,
    /// Per-tenant classifiers (the default classifier when absent).
    pub classifiers: HashMap<TenantId, Classifier>,
}

/// A store handed to the runtime, answered by [`Switchboard::scaip_stored`]:
/// the alarm core's id.
pub use crate::alarm::core::AlarmId as StoreToken;

/// What waits for the journal.
#[derive(Debug, Clone)]
struct PendingStore {
    mrq: Box<Mrq>,
    assessment: Assessment,
    tenant: TenantId,
    calling_number: String,
    id: String,
    reply_to: (Peer, String),
}

/// The switchboard's SCAIP state.
#[derive(Debug, Default)]
pub(crate) struct ScaipState {
    links: LinkTable,
    /// Store, then acknowledge or withhold: the decisions.
    pub(super) core: AlarmCore,
    /// What each of the core's pending stores answers.
    stores: HashMap<StoreToken, PendingStore>,
    /// Requests already answered (or in flight), by unit and `ref`.
    repeats: Repeats,
    /// Our `<mrs>` MESSAGEs still in their transaction.
    sent: HashSet<ProbeHandle>,
}

impl ScaipState {
    /// The earliest link or store deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let links = self.links.next_deadline();
        links.into_iter().chain(self.core.next_deadline()).min()
    }
}

impl Switchboard {
    /// A MESSAGE out of a dialog: SCAIP when enabled, else 405.
    pub(crate) fn on_message(&mut self, now: Instant, tx: &TxKey, peer: Peer, request: &Request) {
        if !self.config.scaip.enabled {
            return self.endpoint.reply_not_allowed(now, tx, request);
        }
        let tl = self.endpoint.transactions();
        let MessageAdmission::Admitted(by_did) =
            self.core.admit_message(tl, now, tx, &peer, request)
        else {
            return;
        };
        let content_type = message::header_value(request, "Content-Type");
        let decision = receiver::decide(content_type, &request.body);
        let tenant = match &decision {
            Decision::Heartbeat(m) | Decision::Store(m) => self.unit_tenant(&m.cid).or(by_did),
            _ => by_did,
        };
        let reply_to = (peer, reply_uri(request));
        match (decision, tenant) {
            (Decision::Refuse(code), _) => self.answer_message(now, tx, request, code),
            (Decision::Reject(mrs), _) => {
                tracing::info!(status = mrs.status.number(), "SCAIP request rejected");
                self.answer_message(now, tx, request, 200);
                self.send_mrs(now, &reply_to, &mrs);
            }
            (_, None) => self.answer_message(now, tx, request, 404),
            (Decision::Heartbeat(mrq) | Decision::Store(mrq), Some(tenant)) => {
                self.answer_message(now, tx, request, 200);
                let caller = crate::call::reply::calling_number(request);
                self.store_scaip(now, mrq, tenant, caller.as_str(), reply_to);
            }
        }
    }

    fn unit_tenant(&self, cid: &str) -> Option<TenantId> {
        self.config.scaip.units.get(cid).map(|u| u.tenant.clone())
    }

    fn policy(&self, tenant: &TenantId) -> &Policy {
        let s = &self.config.scaip;
        s.policies.get(tenant).unwrap_or(&s.default_policy)
    }

    fn answer_message(&mut self, now: Instant, tx: &TxKey, request: &Request, code: u16) {
        let resp = message::response_to(request, code, None);
        if let Err(err) = self.endpoint.respond(now, tx, resp) {
            tracing::debug!(%err, "MESSAGE answer not sent");
        }
    }

    /// Hands the request to the alarm core (unless it is a repeat of one
    /// already answered or in flight); answered in [`Self::scaip_stored`].
    fn store_scaip(
        &mut self,
        now: Instant,
        mrq: Box<Mrq>,
        tenant: TenantId,
        caller: &str,
        reply_to: (Peer, String),
    ) {
        let key = RequestKey::new(&tenant, &mrq.cid, &mrq.reference);
        match self.scaip.repeats.check(now, &key) {
            Seen::New => {}
            Seen::InFlight => {
                return tracing::info!(cid = %mrq.cid, r#ref = %mrq.reference, "SCAIP request repeated while storing: answered once stored");
            }
            Seen::Answered(mrs) => {
                tracing::info!(cid = %mrq.cid, r#ref = %mrq.reference, "SCAIP request repeated: same answer, not stored again");
                return self.send_mrs(now, &reply_to, &mrs);
            }
        }
        let classifier = self.config.scaip.classifiers.get(&tenant);
        let assessment = receiver::assess(&mrq, classifier.unwrap_or(&Classifier::default()));
        let id = match mrq.mty {
            MessageType::Heartbeat => mrq.cid.clone(),
            _ => self.alarm_id(&mrq.reference),
        };
        let origin = Origin {
            tenant: &tenant,
            calling_number: caller,
        };
        let alarm = report::decoded(&id, &origin, &mrq, &assessment);
        tracing::info!(%id, cid = %mrq.cid, mty = mrq.mty.as_str(), stc = mrq.stc.0, "SCAIP request: storing");
        let pending = PendingStore {
            mrq,
            assessment,
            tenant,
            calling_number: caller.to_owned(),
            id,
            reply_to,
        };
        for action in self.scaip.core.handle_decoded(now, alarm) {
            match action {
                AlarmAction::Store { id, record } => {
                    self.scaip.repeats.in_flight(now, key.clone());
                    self.out.push_back(Output::Store {
                        token: id,
                        record: event_record(record),
                    });
                    self.scaip.stores.insert(id, pending.clone());
                }
                AlarmAction::Withhold { reason, .. } => {
                    self.withheld(now, &pending, reason);
                }
                AlarmAction::Acknowledge { .. } | AlarmAction::List(_) => {}
            }
        }
    }

    /// `scaip-<ref>-<8 hex>`: the ref's letters and digits (at most 32), and
    /// 32 bits from the endpoint's token generator so repeats stay apart.
    fn alarm_id(&mut self, reference: &str) -> String {
        let clean: String = reference
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        let token = self.endpoint.token();
        format!("scaip-{clean}-{}", token.get(..8).unwrap_or(&token))
    }

    /// The journal's word on a store, for the alarm core to decide on.
    pub fn scaip_stored(&mut self, now: Instant, token: StoreToken, durable: bool) {
        let actions = self.scaip.core.handle_stored(now, token, durable);
        self.execute(now, actions);
        self.pump(now);
    }

    /// Executes the alarm core's actions on stored (or not) requests.
    fn execute(&mut self, now: Instant, actions: Vec<AlarmAction>) {
        for action in actions {
            match action {
                AlarmAction::Acknowledge { id } => {
                    if let Some(p) = self.scaip.stores.remove(&id) {
                        self.acknowledged(now, p);
                    }
                }
                AlarmAction::Withhold { id, reason } => {
                    if let Some(p) = self.scaip.stores.remove(&id) {
                        self.withheld(now, &p, reason);
                    }
                }
                AlarmAction::List(alarm) => self.queue_data_alarm(now, *alarm),
                AlarmAction::Store { .. } => {}
            }
        }
    }

    /// Durable: `snu=0` (with the voice call asked for, or `hbi`), then a
    /// reset withdraws, an alarm that wants voice waits for its call.
    fn acknowledged(&mut self, now: Instant, p: PendingStore) {
        let policy = self.policy(&p.tenant);
        let mrs = match p.mrq.mty {
            MessageType::Heartbeat => receiver::heartbeat_answer(&p.mrq, policy),
            _ => receiver::answer(&p.mrq, &p.assessment, policy, true),
        };
        self.answer_unit(now, &p, &mrs);
        if p.mrq.mty == MessageType::Reset {
            self.withdraw(&p.tenant, &p.mrq.cid, &p.id);
        } else if p.assessment.wants_voice {
            self.wait_for_voice(now, p);
        }
    }

    /// Not durable: `snu=5` (send again or elsewhere), or `snu=6` when busy.
    fn withheld(&mut self, now: Instant, p: &PendingStore, reason: Withheld) {
        let status = match reason {
            Withheld::Busy => Status::Busy,
            Withheld::StorageFailed | Withheld::StorageTimeout => Status::NotTreated,
        };
        tracing::error!(id = %p.id, ?reason, snu = status.number(), "SCAIP request not stored: the unit sends again");
        self.answer_unit(now, p, &Mrs::new(&p.mrq.reference, status));
    }

    /// Sends `mrs` and remembers it for the request's repeats.
    fn answer_unit(&mut self, now: Instant, p: &PendingStore, mrs: &Mrs) {
        let key = RequestKey::new(&p.tenant, &p.mrq.cid, &p.mrq.reference);
        self.scaip.repeats.answered(now, key, mrs);
        self.send_mrs(now, &p.reply_to, mrs);
    }

    fn wait_for_voice(&mut self, now: Instant, p: PendingStore) {
        let origin = Origin {
            tenant: &p.tenant,
            calling_number: &p.calling_number,
        };
        let decoded = report::decoded(&p.id, &origin, &p.mrq, &p.assessment);
        let alarm = crate::alarm::core::data_alarm(decoded);
        let mut numbers = p.mrq.caller_numbers();
        numbers.push(p.calling_number.clone());
        numbers.push(p.mrq.cid.clone());
        if let Some(unit) = self.config.scaip.units.get(&p.mrq.cid) {
            numbers.extend(unit.numbers.iter().cloned());
        }
        let window = self.config.scaip.link_window;
        self.scaip
            .links
            .insert(now, window, &p.mrq.cid, numbers, alarm);
    }

    /// `RE`: the unit's waiting or listed alarms are withdrawn (journalled).
    fn withdraw(&mut self, tenant: &TenantId, cid: &str, by: &str) {
        let mut ids: Vec<String> = self
            .scaip
            .links
            .withdraw(tenant, cid)
            .into_iter()
            .map(|w| w.alarm.labels.call_id.to_string())
            .collect();
        let listed = |d: &Detail| matches!(d, Detail::Data(a) if a.protocol == Protocol::Scaip && a.account == cid);
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.callbacks)
            .into_iter()
            .partition(|c| c.labels.tenant == *tenant && listed(&c.detail));
        self.callbacks = kept;
        ids.extend(gone.into_iter().map(|c| c.labels.call_id.to_string()));
        for id in ids {
            tracing::info!(%id, %cid, "SCAIP alarm withdrawn by the unit");
            let data =
                json!({"tenant": tenant, "protocol": "scaip", "account": cid, "withdrawn_by": by});
            self.out.push_back(Output::Event(EventRecord {
                kind: ALARM_WITHDRAWN,
                subject: id,
                data,
            }));
        }
    }

    /// Stores the journal did not answer in time (`snu=5`), and alarms
    /// whose voice call did not come in time: listed as data alarms.
    pub(crate) fn scaip_timeout(&mut self, now: Instant) {
        let late = self.scaip.core.handle_timeout(now);
        self.execute(now, late);
        for waiting in self.scaip.links.expire(now) {
            tracing::warn!(id = %waiting.alarm.labels.call_id, cid = %waiting.cid, "SCAIP alarm: no voice call within the window; listed as a data alarm");
            self.queue_data_alarm(now, waiting.alarm);
        }
    }

    /// A device call's media opened: if an alarm waits for it, link and queue.
    pub(crate) fn link_scaip(&mut self, now: Instant, call: CallHandle) {
        let Some(device) = self.devices.get_mut(&call) else {
            return;
        };
        let (tenant, caller) = (&device.labels.tenant, device.labels.caller.as_str());
        let Some(waiting) = self.scaip.links.link(tenant, caller) else {
            return;
        };
        let alarm: DataAlarm = waiting.alarm;
        let data = json!({
            "tenant": alarm.labels.tenant,
            "call_id": device.labels.call_id.as_str(),
            "protocol": "scaip",
            "account": alarm.account,
        });
        tracing::info!(id = %alarm.labels.call_id, call_id = %device.labels.call_id, "SCAIP alarm linked to its voice call");
        let (class, code) = (alarm.class, alarm.event_code.clone());
        let subject = alarm.labels.call_id.to_string();
        device.alarm = Some(Box::new(alarm));
        self.out.push_back(Output::Event(EventRecord {
            kind: ALARM_LINKED,
            subject,
            data,
        }));
        if !self.config.scaip.contact_id_on_voice {
            self.out.push_back(Output::StopAlarm { group: call });
        }
        self.queue(now, call, class, code);
    }

    /// `POST /api/v1/calls/{id}/unit-command`: an operator's session may
    /// command only a call it took (as for a disposition); an admin token
    /// any call.
    pub(crate) fn api_unit_command(
        &mut self,
        call_id: &str,
        command: InCallCommand,
        by: &str,
        taken_by: Option<OperatorId>,
    ) -> Result<UnitCommandSent, ApiError> {
        if let Some(op) = taken_by.filter(|op| !self.recent.taken_by(call_id, op)) {
            return Err(ApiError::forbidden(format!(
                "operator {op} did not take call {call_id}: only the operator on the call commands its unit"
            )));
        }
        self.unit_command(call_id, command)?;
        tracing::info!(%call_id, ?command, %by, "in-call command sent to the unit");
        Ok(UnitCommandSent {
            call: call_id.to_owned(),
            command,
            digit: command.digit().to_string(),
        })
    }

    /// An operator's in-call command to the SCAIP unit of device call
    /// `call_id` (its public id): the command's digit on the unit's leg.
    /// `NotFound` when no device call has that id; `Conflict` when it
    /// carries no SCAIP alarm (another unit would take the digit for
    /// something else).
    pub fn unit_command(&mut self, call_id: &str, command: InCallCommand) -> Result<(), ApiError> {
        let found = self
            .device_by_call_id(call_id)
            .and_then(|call| self.devices.get(&call).map(|device| (call, device)));
        let Some((call, device)) = found else {
            return Err(ApiError::not_found(format!("device call {call_id}")));
        };
        let scaip = device
            .alarm
            .as_ref()
            .is_some_and(|a| a.protocol == Protocol::Scaip);
        if !scaip {
            return Err(ApiError::conflict(format!(
                "call {call_id} carries no SCAIP alarm: its unit takes no SCAIP in-call commands"
            )));
        }
        self.out.push_back(Output::Digits {
            group: call,
            leg: call,
            digits: command.digit().to_string(),
            duration_ms: crate::scaip::control::DIGIT_MS,
        });
        Ok(())
    }

    fn send_mrs(&mut self, now: Instant, (peer, uri): &(Peer, String), mrs: &Mrs) {
        let body = mrs.to_xml().into_bytes();
        match self.core.message_request(peer, uri, CONTENT_TYPE, body) {
            Ok(req) => {
                let handle = self.endpoint.send_request(now, *peer, req);
                self.scaip.sent.insert(handle);
            }
            Err(err) => tracing::warn!(%err, %uri, "SCAIP answer not sent"),
        }
    }

    /// A MESSAGE of ours finished; true when it was one.
    pub(crate) fn scaip_sent(&mut self, handle: ProbeHandle, ok: bool) -> bool {
        if !self.scaip.sent.remove(&handle) {
            return false;
        }
        if !ok {
            tracing::warn!("SCAIP answer not delivered (no final response)");
        }
        true
    }
}

/// The core's record as the switchboard's output.
fn event_record(record: StoreRecord) -> EventRecord {
    EventRecord {
        kind: record.kind,
        subject: record.subject,
        data: record.data,
    }
}

/// Where our `<mrs>` goes: the unit's Contact, else its From URI.
fn reply_uri(request: &Request) -> String {
    let contact = message::header_value(request, "Contact");
    let from = message::header_value(request, "From");
    contact
        .or(from)
        .map(uri_of)
        .unwrap_or_else(|| request.uri.to_string())
}

/// The URI of a name-addr (`"x" <sip:a@b>;tag=1` → `sip:a@b`) or addr-spec.
fn uri_of(value: &str) -> String {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value.get(a + 1..b).unwrap_or_default().to_owned(),
        _ => value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}
