//! Alarms waiting for their voice call (alarm-protocols.md §4.1, §4.6):
//! stored and acknowledged with `mre`/`cre`, kept until the unit's INVITE
//! arrives (linked by a `crd` number, the MESSAGE's caller, the `cid`, or a
//! number the config gives the unit), the unit withdraws the alarm (`RE`),
//! or the window passes (the alarm then goes to the operators as data).
//!
//! Pure: deadlines are `Instant`s passed in; the switchboard asks for
//! [`LinkTable::next_deadline`] and calls [`LinkTable::expire`].

use crate::alarm::report::DataAlarm;
use crate::labels::TenantId;
use std::time::{Duration, Instant};

/// Numbers shorter than this must match exactly (no suffix matching).
const MIN_SUFFIX: usize = 6;

/// One alarm waiting for its call.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingAlarm {
    /// The unit's `cid`.
    pub cid: String,
    /// The digits its voice call may show as caller id.
    pub numbers: Vec<String>,
    /// When it becomes a data alarm.
    pub deadline: Instant,
    /// The alarm as the operators will see it (the tenant is in its labels).
    pub alarm: DataAlarm,
}

impl WaitingAlarm {
    fn tenant(&self) -> &TenantId {
        &self.alarm.labels.tenant
    }

    fn matches(&self, caller: &str) -> bool {
        let caller: String = caller.chars().filter(char::is_ascii_digit).collect();
        !caller.is_empty() && self.numbers.iter().any(|n| same_number(n, &caller))
    }
}

/// Equal digits, or one the tail of the other when both are long enough to
/// mean one subscriber (`4520304050` and `20304050`).
fn same_number(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    short.len() >= MIN_SUFFIX && long.ends_with(short)
}

/// The alarms waiting for their voice call, oldest first.
#[derive(Debug, Default)]
pub struct LinkTable {
    waiting: Vec<WaitingAlarm>,
}

impl LinkTable {
    /// Waits for `alarm`'s call from one of `numbers` until `now + window`.
    pub fn insert(
        &mut self,
        now: Instant,
        window: Duration,
        cid: &str,
        numbers: Vec<String>,
        alarm: DataAlarm,
    ) {
        let numbers = numbers.into_iter().filter(|n| !n.is_empty()).collect();
        self.waiting.push(WaitingAlarm {
            cid: cid.to_owned(),
            numbers,
            deadline: now + window,
            alarm,
        });
    }

    /// The oldest alarm of `tenant` whose numbers match `caller` (an
    /// INVITE's From user), taken out of the table.
    pub fn link(&mut self, tenant: &TenantId, caller: &str) -> Option<WaitingAlarm> {
        let at = self
            .waiting
            .iter()
            .position(|w| w.tenant() == tenant && w.matches(caller))?;
        Some(self.waiting.remove(at))
    }

    /// The unit `cid` of `tenant` withdrew its alarm: every waiting one of it.
    pub fn withdraw(&mut self, tenant: &TenantId, cid: &str) -> Vec<WaitingAlarm> {
        let (gone, kept) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.tenant() == tenant && w.cid == cid);
        self.waiting = kept;
        gone
    }

    /// True when `cid` of `tenant` has an alarm waiting.
    pub fn is_waiting(&self, tenant: &TenantId, cid: &str) -> bool {
        self.waiting
            .iter()
            .any(|w| w.tenant() == tenant && w.cid == cid)
    }

    /// The alarms whose window has passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<WaitingAlarm> {
        let (due, kept) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.deadline <= now);
        self.waiting = kept;
        due
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.deadline).min()
    }

    /// How many alarms wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}
