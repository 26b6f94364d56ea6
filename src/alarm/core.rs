//! The alarm core for alarms that arrive decoded from any protocol (SIA
//! DC-09, SCAIP, ...): store, then acknowledge; what cannot be stored is
//! never acknowledged; an alarm for a person with no call goes to the
//! operators as a [`DataAlarm`]. Pure, in simulated time: it takes decoded
//! alarms, journal answers and `now`, and returns [`AlarmAction`]s.
//! (Contact ID in a call keeps its own receiver, `alarm::pipeline`, for
//! the same rule inside the kissoff timing, and `alarm::core_queue` for
//! the call's one queue request.)
//!
//! How a receiver uses it (one core per receiver task):
//!
//! ```text
//! let actions = core.handle_decoded(now, DecodedAlarm { protocol: Protocol::Dc09, .. });
//! for action in actions {
//!     match action {
//!         Store { id, record }    => journal.append_with(record, |r| tx.send((id, r.is_ok()))),
//!         Acknowledge { id, .. }  => send the protocol's ack (DC-09 ACK, <mrs snu=0>),
//!         Withhold { id, .. }     => no ack (DC-09: NAK or silence; SCAIP: snu per the standard),
//!         List(alarm)             => control.send(Control::DataAlarm(alarm)),
//!     }
//! }
//! // when the journal answers:   core.handle_stored(now, id, ok)   -> more actions
//! // at core.poll_timeout():     core.handle_timeout(now)         -> Withhold for slow stores
//! ```
//!
//! The `Store` record is `alarmgate.alarm.received` with `tenant`,
//! `protocol`, `account`, `event_code` (when there is one),
//! `classification` and the protocol's raw fields: the one event model
//! every protocol shares, and what supervision counts as a report.

use super::classify::AlarmClass;
use super::core_queue::call_class;
use super::report::{DataAlarm, Protocol};
use super::EventCode;
use crate::labels::{CallLabels, Caller};
use crate::routing::CallClass;
use crate::timer_queue::TimerQueue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// One alarm decoded by a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAlarm {
    /// The protocol that carried it.
    pub protocol: Protocol,
    /// Its public id (`call_id`, the events' subject), tenant and caller
    /// (the unit's number, or its account).
    pub labels: CallLabels,
    /// The unit: Contact ID / DC-09 account, SCAIP `cid`.
    pub account: String,
    /// The Contact ID event code, when the protocol carries one.
    pub event_code: Option<EventCode>,
    /// Its classification (the tenant's classifier).
    pub class: AlarmClass,
    /// The decoded and raw fields, kept in the event and shown to operators.
    pub fields: Value,
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
}

/// What the receiver does.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmAction {
    /// Append `record` to the journal; answer with `handle_stored(id, ok)`.
    Store {
        /// The alarm.
        id: AlarmId,
        /// The `alarmgate.alarm.received` event, JSON bytes.
        record: Vec<u8>,
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
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            store_timeout: Duration::from_secs(5),
            list_technical: false,
        }
    }
}

/// The alarms of one receiver awaiting their journal answer.
#[derive(Debug)]
pub struct AlarmCore {
    config: CoreConfig,
    node: String,
    next: u64,
    pending: HashMap<AlarmId, DecodedAlarm>,
    timers: TimerQueue<AlarmId>,
}

impl AlarmCore {
    /// A core for this node (`node.name`, the events' source).
    pub fn new(config: CoreConfig, node: &str) -> Self {
        Self {
            config,
            node: node.to_string(),
            next: 0,
            pending: HashMap::new(),
            timers: TimerQueue::default(),
        }
    }

    /// A decoded alarm: store it first. `wall` and `random` date and
    /// name its event.
    pub fn handle_decoded(
        &mut self,
        now: Instant,
        wall: SystemTime,
        random: u128,
        alarm: DecodedAlarm,
    ) -> Vec<AlarmAction> {
        self.next += 1;
        let id = AlarmId(self.next);
        let record = received_record(&self.node, &alarm, wall, random);
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
        if let Some(listed) = self.listed(alarm) {
            actions.push(AlarmAction::List(Box::new(listed)));
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

    /// Alarms awaiting their journal answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The operators' entry for a stored alarm, if it is listed.
    fn listed(&self, alarm: DecodedAlarm) -> Option<DataAlarm> {
        if alarm.voice_follows {
            return None;
        }
        let class = match (&alarm.event_code, alarm.class) {
            (Some(code), class) => call_class(class, code),
            (None, AlarmClass::Voice) => CallClass::Voice,
            (None, _) => CallClass::Technical,
        };
        if class == CallClass::Technical && !self.config.list_technical {
            return None;
        }
        Some(DataAlarm {
            labels: alarm.labels,
            protocol: alarm.protocol,
            account: alarm.account,
            class,
            event_code: alarm.event_code,
            fields: alarm.fields,
            recall: alarm.recall,
        })
    }
}

/// The `alarmgate.alarm.received` event of a decoded alarm: the shared
/// keys, then the protocol's fields (which never override them).
pub fn received_record(
    node: &str,
    alarm: &DecodedAlarm,
    wall: SystemTime,
    random: u128,
) -> Vec<u8> {
    let mut data = json!({
        "tenant": alarm.labels.tenant,
        "calling_number": alarm.labels.caller,
        "protocol": alarm.protocol,
        "account": alarm.account,
        "classification": crate::events::class_name(alarm.class),
    });
    if let Some(code) = &alarm.event_code {
        data["event_code"] = json!(code.as_str());
        data["event_name"] = json!(code.name());
    }
    if let (Some(out), Some(extra)) = (data.as_object_mut(), alarm.fields.as_object()) {
        for (k, v) in extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let subject = alarm.labels.call_id.as_str();
    crate::events::record(
        node,
        subject,
        crate::events::ALARM_RECEIVED,
        wall,
        random,
        data,
    )
}
