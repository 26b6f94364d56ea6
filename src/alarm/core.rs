//! The alarm core for every protocol (Contact ID decoded in a call's
//! pipeline, SIA DC-09, SCAIP): store, then acknowledge; what cannot be
//! stored (or not in time, or not now: too many stores in flight) is never
//! acknowledged; an alarm for a person with no call goes to the operators
//! as a [`DataAlarm`]. Pure, in simulated time: it takes decoded alarms,
//! journal answers and `now`, and returns [`AlarmAction`]s. (Contact ID in
//! a call keeps its receiver, `alarm::pipeline`, for the same rule inside
//! the kissoff timing, and `alarm::core_queue` for the call's one queue
//! request; the classification below is the one all of them use.)
//!
//! How a receiver uses it (one core per receiver):
//!
//! ```text
//! let actions = core.handle_decoded(now, DecodedAlarm { protocol: Protocol::Dc09, .. });
//! for action in actions {
//!     match action {
//!         Store { id, record }    => journal.append(envelope(record)) -> core.handle_stored(now, id, ok),
//!         Acknowledge { id }      => send the protocol's ack (DC-09 ACK, <mrs snu=0>),
//!         Withhold { id, reason } => no ack (DC-09: silence; SCAIP: snu=5, snu=6 when Busy),
//!         List(alarm)             => control.send(Control::DataAlarm(alarm)),
//!     }
//! }
//! // at core.poll_timeout():     core.handle_timeout(now)         -> Withhold for slow stores
//! ```
//!
//! The `Store` record is `alarmgate.alarm.received` (a heartbeat:
//! `alarmgate.unit.heartbeat`) with `tenant`, `protocol`, `account`,
//! `event_code` (when there is one), `classification` and the protocol's
//! raw fields: the one event model every protocol shares, and what
//! supervision counts as a report. The runtime adds the envelope's time
//! and id (`events::record`).

use super::classify::AlarmClass;
use super::core_queue::routing_class;
use super::report::{DataAlarm, Protocol};
use super::EventCode;
use crate::labels::{CallLabels, Caller};
use crate::routing::CallClass;
use crate::timer_queue::TimerQueue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What a decoded message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// An alarm or status event (`alarmgate.alarm.received`).
    Alarm,
    /// A unit saying it is alive (DC-09 `NULL`, SCAIP `PI`):
    /// `alarmgate.unit.heartbeat`, acknowledged once durable, never listed.
    Heartbeat,
}

/// One alarm decoded by a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAlarm {
    /// The protocol that carried it.
    pub protocol: Protocol,
    /// Alarm or heartbeat.
    pub report: Report,
    /// Its public id (`call_id`, the events' subject), tenant and caller
    /// (the unit's number, or its account).
    pub labels: CallLabels,
    /// The unit: Contact ID / DC-09 account, SCAIP `cid`.
    pub account: String,
    /// The Contact ID event code, when the protocol carries one.
    pub event_code: Option<EventCode>,
    /// Its classification (the tenant's classifier).
    pub class: AlarmClass,
    /// The decoded fields shown to operators (and kept in the event).
    pub fields: Value,
    /// The protocol's raw fields, kept in the event only (DC-09 `dc09`,
    /// SCAIP `scaip`).
    pub raw: Value,
    /// The number a recall calls, when the unit has one.
    pub recall: Option<Caller>,
    /// A voice call carries it, or will (SCAIP with voice): the call
    /// reaches the operator, so it is not listed as data.
    pub voice_follows: bool,
}

/// One pending or stored alarm, by the core's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlarmId(pub u64);

/// Why an alarm is not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// The journal refused it (disk full, I/O error).
    StorageFailed,
    /// The journal did not answer within the store timeout.
    StorageTimeout,
    /// Too many stores in flight: not even tried (SCAIP `snu=6`, busy).
    Busy,
}

/// What to append: the event's type, subject and data (the runtime adds
/// the envelope's time and id).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRecord {
    /// `alarmgate.alarm.received` or `alarmgate.unit.heartbeat`.
    pub kind: &'static str,
    /// The alarm's public id (a heartbeat: the unit, `<protocol>-<account>`).
    pub subject: String,
    /// The event's data.
    pub data: Value,
}

impl StoreRecord {
    /// The CloudEvent bytes to append: `node` is the source, `wall` and
    /// `random` date and name it (the runtime reads the clock).
    pub fn into_event(self, node: &str, wall: std::time::SystemTime, random: u128) -> Vec<u8> {
        crate::events::record(node, &self.subject, self.kind, wall, random, self.data)
    }
}

/// What the receiver does.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmAction {
    /// Append `record` to the journal; answer with `handle_stored(id, ok)`.
    Store {
        /// The alarm.
        id: AlarmId,
        /// The event to append.
        record: StoreRecord,
    },
    /// It is durable: send the protocol's acknowledgement.
    Acknowledge {
        /// The alarm.
        id: AlarmId,
    },
    /// It is not durable: never acknowledge it (the unit repeats).
    Withhold {
        /// The alarm.
        id: AlarmId,
        /// Why.
        reason: Withheld,
    },
    /// List it for the tenant's operators (`Control::DataAlarm`).
    List(Box<DataAlarm>),
}

/// The core's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreConfig {
    /// A store not answered within this is withheld (the unit's own
    /// timeout is the bound: DC-09 units wait 20-30 s).
    pub store_timeout: Duration,
    /// List technical, test and cancel alarms for operators too (else
    /// they are journalled and acknowledged only).
    pub list_technical: bool,
    /// At most this many stores in flight; more are withheld as busy.
    pub max_pending: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            store_timeout: Duration::from_secs(5),
            list_technical: false,
            max_pending: 4096,
        }
    }
}

/// The alarms of one receiver awaiting their journal answer.
#[derive(Debug, Default)]
pub struct AlarmCore {
    config: CoreConfig,
    next: u64,
    pending: HashMap<AlarmId, DecodedAlarm>,
    timers: TimerQueue<AlarmId>,
}

impl AlarmCore {
    /// A core with `config`.
    pub fn new(config: CoreConfig) -> Self {
        Self {
            config,
            next: 0,
            pending: HashMap::new(),
            timers: TimerQueue::default(),
        }
    }

    /// A decoded alarm: store it first (or withhold it at once when too
    /// many stores are in flight).
    pub fn handle_decoded(&mut self, now: Instant, alarm: DecodedAlarm) -> Vec<AlarmAction> {
        self.next += 1;
        let id = AlarmId(self.next);
        if self.pending.len() >= self.config.max_pending {
            let reason = Withheld::Busy;
            return vec![AlarmAction::Withhold { id, reason }];
        }
        let record = store_record(&alarm);
        self.pending.insert(id, alarm);
        self.timers.arm(now + self.config.store_timeout, id);
        vec![AlarmAction::Store { id, record }]
    }

    /// The journal's answer for `id`: acknowledge (and list) when durable,
    /// withhold otherwise. An answer after the timeout changes nothing.
    pub fn handle_stored(&mut self, _now: Instant, id: AlarmId, ok: bool) -> Vec<AlarmAction> {
        let Some(alarm) = self.pending.remove(&id) else {
            return Vec::new();
        };
        if !ok {
            let reason = Withheld::StorageFailed;
            return vec![AlarmAction::Withhold { id, reason }];
        }
        let mut actions = vec![AlarmAction::Acknowledge { id }];
        if self.is_listed(&alarm) {
            actions.push(AlarmAction::List(Box::new(data_alarm(alarm))));
        }
        actions
    }

    /// Withholds the alarms whose store did not answer in time.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<AlarmAction> {
        let mut actions = Vec::new();
        while let Some((_, id)) = self.timers.pop_due(now) {
            if self.pending.remove(&id).is_some() {
                let reason = Withheld::StorageTimeout;
                actions.push(AlarmAction::Withhold { id, reason });
            }
        }
        actions
    }

    /// When [`Self::handle_timeout`] should run next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let pending = &self.pending;
        self.timers.prune(|_, id| pending.contains_key(id));
        self.timers.next_deadline()
    }

    /// [`Self::poll_timeout`] without pruning: a deadline of an alarm
    /// already answered may come first (its timeout then does nothing).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Alarms awaiting their journal answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// A stored alarm goes to the operators as data: an alarm (not a
    /// heartbeat) with no call to carry it, for a person (or technical,
    /// when configured).
    fn is_listed(&self, alarm: &DecodedAlarm) -> bool {
        if alarm.voice_follows || alarm.report == Report::Heartbeat {
            return false;
        }
        let class = routing_class(alarm.class, alarm.event_code.as_ref());
        class != CallClass::Technical || self.config.list_technical
    }
}

/// The operators' entry for an alarm: its routing class (the one
/// classification), and its fields with the shared keys.
pub fn data_alarm(alarm: DecodedAlarm) -> DataAlarm {
    let class = routing_class(alarm.class, alarm.event_code.as_ref());
    let mut fields = shared_keys(&alarm);
    merge(&mut fields, &alarm.fields);
    DataAlarm {
        labels: alarm.labels,
        protocol: alarm.protocol,
        account: alarm.account,
        class,
        event_code: alarm.event_code,
        fields,
        recall: alarm.recall,
    }
}

/// `protocol`, `account`, `event_code` and `event_name` (when there is one).
fn shared_keys(alarm: &DecodedAlarm) -> Value {
    let mut data = json!({
        "protocol": alarm.protocol,
        "account": alarm.account,
    });
    if let Some(code) = &alarm.event_code {
        data["event_code"] = json!(code.as_str());
        data["event_name"] = json!(code.name());
    }
    data
}

/// Adds `extra`'s members that `out` does not have.
fn merge(out: &mut Value, extra: &Value) {
    if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The event of a decoded alarm: the shared keys, then the protocol's
/// fields and raw fields (which never override them; only
/// `calling_number` may come from the raw fields). A heartbeat keeps
/// `tenant`, `protocol`, `account` and its raw fields only.
pub fn store_record(alarm: &DecodedAlarm) -> StoreRecord {
    let subject = alarm.labels.call_id.to_string();
    let mut data = json!({
        "tenant": alarm.labels.tenant,
        "protocol": alarm.protocol,
        "account": alarm.account,
    });
    if alarm.report == Report::Heartbeat {
        merge(&mut data, &alarm.raw);
        let kind = crate::events::UNIT_HEARTBEAT;
        return StoreRecord {
            kind,
            subject,
            data,
        };
    }
    data["classification"] = json!(crate::events::class_name(alarm.class));
    merge(&mut data, &shared_keys(alarm));
    merge(&mut data, &alarm.fields);
    merge(&mut data, &alarm.raw);
    // The caller the protocol saw (SCAIP: the MESSAGE's From) when it
    // gives one, else the labels' (the unit's number or account).
    merge(&mut data, &json!({ "calling_number": alarm.labels.caller }));
    let kind = crate::events::ALARM_RECEIVED;
    StoreRecord {
        kind,
        subject,
        data,
    }
}
