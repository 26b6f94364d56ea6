//! The [`Supervisor`]: reports in, `fail_to_report` and `restored` out.
//!
//! Cost: a unit lives in a slab with a hash index; a report is O(1) (one
//! hash lookup, a few stores). Each unit has **at most one** entry in the
//! [`TimerQueue`], at or before its deadline: a report only moves the
//! deadline later, so it arms nothing; when the entry pops early, it is
//! re-armed once at the real deadline (O(log n)). A sweep pops only what is
//! due: no scan of the units, ever, outside the one at the end of a
//! rebuild and the API's listing.
//!
//! Time is wall-clock time passed in (the journal's event times, the
//! driver's `now`): deadlines must survive a restart, and the journal
//! records when each report was made. The timer queue's `Instant`s are
//! those times offset from an `origin` the owner picks.
//!
//! Rebuilding: [`Supervisor::rebuilding`] starts in replay mode; the
//! journal's records are observed in order with nothing output (reports
//! move deadlines, `fail_to_report` records mark units raised, `restored`
//! records settle restores), then [`Supervisor::finish_replay`] goes live.
//! A unit whose deadline passed while the node was down is raised at the
//! first sweep, unless the journal already holds its raise: nothing is
//! raised twice across a restart.

use super::records::Observed;
use super::types::{Policy, ReportKind, SupervisionSettings, UnitKey, UnitState};
use crate::labels::TenantId;
use crate::timer_queue::TimerQueue;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the supervisor asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Journal `alarmgate.unit.fail_to_report`, then list it for the
    /// tenant's operators.
    Raise {
        /// The unit.
        key: UnitKey,
        /// The deadline it missed.
        deadline: SystemTime,
        /// Its last report, if it ever reported.
        last_report: Option<SystemTime>,
        /// Its policy (interval, grace, class).
        policy: Policy,
    },
    /// Journal `alarmgate.unit.restored`.
    Restore {
        /// The unit.
        key: UnitKey,
        /// The report that restored it.
        at: SystemTime,
        /// The deadline it had missed.
        missed: Option<SystemTime>,
    },
}

/// One unit as the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitView {
    /// The unit.
    pub key: UnitKey,
    /// Its state.
    pub state: UnitState,
    /// Its last report.
    pub last_report: Option<SystemTime>,
    /// When it becomes (or became) overdue.
    pub deadline: SystemTime,
    /// Its policy.
    pub policy: Policy,
}

#[derive(Debug)]
struct Unit {
    key: UnitKey,
    policy: Policy,
    last_report: Option<SystemTime>,
    deadline: SystemTime,
    /// The deadline of its one timer entry, if armed.
    armed: Option<SystemTime>,
    /// The deadline it missed, while overdue.
    missed: Option<SystemTime>,
    /// Restored by a report, its `restored` record not yet seen.
    restore_pending: bool,
}

/// Per tenant: units supervised, units overdue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Units supervised.
    pub supervised: u64,
    /// Units overdue.
    pub overdue: u64,
}

/// The supervision of every unit of a node.
#[derive(Debug)]
pub struct Supervisor {
    settings: SupervisionSettings,
    origin: Instant,
    units: Vec<Unit>,
    index: HashMap<UnitKey, usize>,
    timers: TimerQueue<usize>,
    replaying: bool,
    out: VecDeque<Output>,
    counts: HashMap<TenantId, Counts>,
}

impl Supervisor {
    /// Live supervision from `now`: listed units are due `interval + grace`
    /// after it. `origin`: any fixed `Instant` (the timer queue's zero).
    pub fn new(settings: SupervisionSettings, now: SystemTime, origin: Instant) -> Self {
        let mut s = Self::rebuilding(settings, now, origin);
        s.replaying = false;
        s
    }

    /// Supervision that first replays the journal (see the module doc).
    pub fn rebuilding(settings: SupervisionSettings, now: SystemTime, origin: Instant) -> Self {
        let mut s = Self {
            settings,
            origin,
            units: Vec::new(),
            index: HashMap::new(),
            timers: TimerQueue::default(),
            replaying: true,
            out: VecDeque::new(),
            counts: HashMap::new(),
        };
        let listed: Vec<UnitKey> = s.settings.units.keys().cloned().collect();
        for key in listed {
            s.enrol(&key, false, now);
        }
        s
    }

    /// Ends the replay: restores the journal lacks are output now; overdue
    /// units are raised by the next [`Self::handle_timeout`].
    pub fn finish_replay(&mut self) {
        self.replaying = false;
        for unit in self.units.iter().filter(|u| u.restore_pending) {
            self.out.push_back(Output::Restore {
                key: unit.key.clone(),
                at: unit.last_report.unwrap_or(unit.deadline),
                missed: None,
            });
        }
    }

    /// One journal record about a unit.
    pub fn observe(&mut self, observed: Observed) {
        match observed {
            Observed::Report { key, at, kind } => self.report(&key, at, kind),
            Observed::Raised { key, deadline } => self.raised(&key, deadline),
            Observed::Restored { key } => {
                if let Some(&i) = self.index.get(&key) {
                    self.units[i].restore_pending = false;
                }
            }
        }
    }

    fn report(&mut self, key: &UnitKey, at: SystemTime, kind: ReportKind) {
        let Some(i) = self.enrol(key, true, at) else {
            return;
        };
        let unit = &mut self.units[i];
        if unit.policy.tests_only && kind != ReportKind::Test {
            return;
        }
        if unit.last_report.is_some_and(|last| last >= at) {
            return;
        }
        unit.last_report = Some(at);
        unit.deadline = at + unit.policy.allowance();
        if let Some(missed) = unit.missed.take() {
            unit.restore_pending = true;
            self.count(i, |c| c.overdue = c.overdue.saturating_sub(1));
            if !self.replaying {
                let key = key.clone();
                let missed = Some(missed);
                self.out.push_back(Output::Restore { key, at, missed });
            }
        }
        self.arm(i);
    }

    /// A `fail_to_report` record: the unit is overdue since `deadline`,
    /// unless it reported after that deadline (a report that overtook the
    /// raise in the journal).
    fn raised(&mut self, key: &UnitKey, deadline: SystemTime) {
        let Some(i) = self.enrol(key, true, deadline) else {
            return;
        };
        let unit = &mut self.units[i];
        if unit.missed.is_some() || unit.last_report.is_some_and(|l| l >= deadline) {
            return;
        }
        unit.missed = Some(deadline);
        unit.restore_pending = false;
        self.count(i, |c| c.overdue += 1);
    }

    /// The unit's slot, enrolling it (due `allowance` after `at`) if it is
    /// supervised and new.
    fn enrol(&mut self, key: &UnitKey, reported: bool, at: SystemTime) -> Option<usize> {
        if let Some(&i) = self.index.get(key) {
            return Some(i);
        }
        let policy = self.settings.policy(key, reported)?;
        let i = self.units.len();
        self.units.push(Unit {
            key: key.clone(),
            policy,
            last_report: None,
            deadline: at + policy.allowance(),
            armed: None,
            missed: None,
            restore_pending: false,
        });
        self.index.insert(key.clone(), i);
        self.count(i, |c| c.supervised += 1);
        self.arm(i);
        Some(i)
    }

    /// Arms the unit's one timer unless an entry at or before its deadline exists.
    fn arm(&mut self, i: usize) {
        let unit = &mut self.units[i];
        if unit.armed.is_some_and(|a| a <= unit.deadline) || unit.missed.is_some() {
            return;
        }
        unit.armed = Some(unit.deadline);
        let at = instant(self.origin, unit.deadline);
        self.timers.arm(at, i);
    }

    fn count(&mut self, i: usize, change: impl FnOnce(&mut Counts)) {
        let tenant = self.units[i].key.tenant.clone();
        change(self.counts.entry(tenant).or_default());
    }

    /// Raises every unit whose deadline is at or before `now` (live only).
    pub fn handle_timeout(&mut self, now: SystemTime) {
        if self.replaying {
            return;
        }
        let due = instant(self.origin, now);
        while let Some((_, i)) = self.timers.pop_due(due) {
            self.expire(i, now);
        }
    }

    fn expire(&mut self, i: usize, now: SystemTime) {
        let Some(unit) = self.units.get_mut(i) else {
            return;
        };
        unit.armed = None;
        if unit.missed.is_some() {
            return;
        }
        if unit.deadline > now {
            self.arm(i);
            return;
        }
        unit.missed = Some(unit.deadline);
        self.out.push_back(Output::Raise {
            key: unit.key.clone(),
            deadline: unit.deadline,
            last_report: unit.last_report,
            policy: unit.policy,
        });
        self.count(i, |c| c.overdue += 1);
    }

    /// When [`Self::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<SystemTime> {
        let next = self.timers.next_deadline()?;
        let since = next.saturating_duration_since(self.origin);
        Some(UNIX_EPOCH + since)
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Supervised and overdue units per tenant.
    pub fn counts(&self) -> &HashMap<TenantId, Counts> {
        &self.counts
    }

    /// Every supervised unit, in the order they were enrolled.
    pub fn units(&self) -> impl Iterator<Item = UnitView> + '_ {
        self.units.iter().map(|u| UnitView {
            key: u.key.clone(),
            state: match (u.missed, u.last_report) {
                (Some(_), _) => UnitState::Overdue,
                (None, Some(_)) => UnitState::Ok,
                (None, None) => UnitState::Waiting,
            },
            last_report: u.last_report,
            deadline: u.missed.unwrap_or(u.deadline),
            policy: u.policy,
        })
    }

    /// Units held and timer entries held (for the benchmark's bounds).
    pub fn sizes(&self) -> (usize, usize) {
        (self.units.len(), self.timers.len())
    }
}

/// A wall-clock time on the timer queue's scale.
fn instant(origin: Instant, t: SystemTime) -> Instant {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    origin.checked_add(since).unwrap_or(origin)
}
