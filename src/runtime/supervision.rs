//! The supervision task: follows the journal and drives the
//! [`Supervisor`] (see `crate::supervision`).
//!
//! **Following the journal.** Every protocol's receiver journals its
//! alarms (`alarmgate.alarm.received`) and heartbeats
//! (`alarmgate.unit.heartbeat`) before acknowledging them; this task reads
//! the journal as it is written, like the bus forwarder (a [`Tail`] up to
//! the durable seq, woken by each group commit), so supervision sees every
//! report of every protocol with no coupling to the receivers. Deadlines
//! are swept only after the tail has caught up with the durable seq, so a
//! report already stored is never missed by the sweep that follows it.
//!
//! **Surviving a restart: replay from the journal's start.** At start the
//! task reads every record the journal keeps (up to the durable seq of
//! that moment) in replay mode, then goes live. Why not a snapshot: the
//! journal already *is* the durable state, a snapshot would be a second
//! truth to keep consistent (and to get wrong after a crash between the
//! two), and the replay is cheap enough: records of other types are
//! skipped on a byte search without JSON parsing, and a report costs a
//! hash lookup (BENCHMARKS.md: 100,000 units, a test a day, 90 days =
//! 9 million reports). Retention (`alarm.journal_max_age_days`) bounds the
//! journal read; a retention shorter than a unit's interval loses units
//! that have not reported within it, which is why the docs ask retention
//! to be longer than the longest interval. Nothing is raised during the
//! replay; the journal's own `fail_to_report` records mark units already
//! raised, so nothing is raised twice across a restart; units that went
//! overdue while the node was down are raised at the first sweep.
//!
//! **Outputs.** A raise is journalled as `alarmgate.unit.fail_to_report`
//! and then listed for the tenant's operators as a [`DataAlarm`]
//! (`Protocol::Supervision`, the tenant's class). Should the journal fail,
//! the operators still get it (a silent unit must be seen) and the error
//! is logged. A restore is journalled as `alarmgate.unit.restored`; the
//! listed entry stays until an operator closes it (a unit that was silent
//! a day is followed up: battery, line, a fall), and `GET /api/v1/calls`
//! and `/units` show it reporting again.

// An async driver: it reads the clock and sleeps (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::sip_driver::Control;
use crate::alarm::report::{DataAlarm, Protocol};
use crate::bus::emit::short;
use crate::bus::tail::Tail;
use crate::clock;
use crate::events;
use crate::journal::{JournalError, JournalHandle};
use crate::labels::{CallLabels, Caller};
use crate::routing::CallClass;
use crate::sip::types::CallId;
use crate::supervision::records::{self, observe};
use crate::supervision::UnitKey;
use crate::supervision::{Output, SupervisionSettings, Supervisor, UnitView};
use crate::telemetry::metrics as m;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The longest the task sleeps without looking at the wall clock (a clock
/// step, a missed wake-up).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// How long `GET /api/v1/units` waits for the task (busy rebuilding: 503).
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A request for the units list (`GET /api/v1/units`).
pub struct UnitsQuery {
    /// Which units: `true` for those to list.
    pub filter: Box<dyn Fn(&UnitView) -> bool + Send>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Vec<UnitView>>,
}

/// The running task.
pub struct SupervisionTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Asks the task for units; clones share the task.
#[derive(Clone)]
pub struct UnitsHandle {
    tx: mpsc::Sender<UnitsQuery>,
}

impl UnitsHandle {
    /// A handle and the queries it sends (the task's side; tests answer them).
    pub fn channel() -> (Self, mpsc::Receiver<UnitsQuery>) {
        let (tx, rx) = mpsc::channel(16);
        (Self { tx }, rx)
    }

    /// The units `filter` keeps; `None` when the task is gone or still rebuilding.
    pub async fn list(
        &self,
        filter: Box<dyn Fn(&UnitView) -> bool + Send>,
    ) -> Option<Vec<UnitView>> {
        let (reply, rx) = oneshot::channel();
        self.tx.try_send(UnitsQuery { filter, reply }).ok()?;
        tokio::time::timeout(QUERY_TIMEOUT, rx).await.ok()?.ok()
    }
}

/// What the task needs from the daemon.
pub struct Wiring {
    /// The journal it follows and writes to.
    pub journal: JournalHandle,
    /// Where listed alarms go.
    pub control: mpsc::Sender<Control>,
    /// This node's name, the events' source.
    pub node: Arc<str>,
}

impl SupervisionTask {
    /// Starts supervision: rebuild from the journal, then live.
    pub fn start(settings: SupervisionSettings, wiring: Wiring) -> (Self, UnitsHandle) {
        let (stop, stop_rx) = watch::channel(false);
        let (handle, rx) = UnitsHandle::channel();
        let task = tokio::spawn(run(settings, wiring, rx, stop_rx));
        (Self { stop, task }, handle)
    }

    /// Stops the task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

/// Replays `dir` up to `upto` into a rebuilding supervisor; returns it
/// and the seq to follow from.
pub fn rebuild(
    mut sup: Supervisor,
    dir: &Path,
    upto: u64,
) -> Result<(Supervisor, u64), JournalError> {
    let mut tail = Tail::new(dir, 1);
    let mut seen = 0u64;
    while let Some(record) = tail.next_record(Some(upto))? {
        seen += 1;
        if let Some(observed) = observe(&record.payload) {
            sup.observe(observed);
        }
    }
    sup.finish_replay();
    let (units, _) = sup.sizes();
    tracing::info!(
        records = seen,
        units,
        "supervision rebuilt from the journal"
    );
    Ok((sup, tail.next_seq()))
}

async fn run(
    settings: SupervisionSettings,
    wiring: Wiring,
    mut queries: mpsc::Receiver<UnitsQuery>,
    mut stop: watch::Receiver<bool>,
) {
    let fresh = Supervisor::rebuilding(settings, clock::wall(), clock::now());
    let dir = wiring.journal.dir().to_path_buf();
    let upto = wiring.journal.last_durable_seq();
    let rebuilt = tokio::task::spawn_blocking(move || rebuild(fresh, &dir, upto)).await;
    let (mut sup, next) = match rebuilt {
        Ok(Ok(done)) => done,
        Ok(Err(err)) => {
            return tracing::error!(%err, "supervision: cannot read the journal; not supervising")
        }
        Err(err) => return tracing::error!(%err, "supervision: rebuild failed; not supervising"),
    };
    let mut tail = Tail::new(wiring.journal.dir(), next);
    let mut commits = wiring.journal.subscribe();
    loop {
        follow(&mut sup, &mut tail, &wiring.journal);
        sup.handle_timeout(clock::wall());
        act(&mut sup, &wiring);
        publish_gauges(&sup);
        let sleep = sleep_for(&sup);
        tokio::select! {
            _ = commits.changed() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some(q) = queries.recv() => answer(&sup, q),
            _ = stop.changed() => return,
        }
    }
}

/// Observes every durable record not yet read.
fn follow(sup: &mut Supervisor, tail: &mut Tail, journal: &JournalHandle) {
    let durable = journal.last_durable_seq();
    loop {
        match tail.next_record(Some(durable)) {
            Ok(Some(record)) => {
                if let Some(observed) = observe(&record.payload) {
                    sup.observe(observed);
                }
            }
            Ok(None) => return,
            Err(err) => return tracing::warn!(%err, "supervision: journal read failed; retrying"),
        }
    }
}

fn sleep_for(sup: &Supervisor) -> Duration {
    // A deadline already past (the wall clock stepped) is swept at once.
    let until = sup
        .poll_timeout()
        .map(|t| t.duration_since(clock::wall()).unwrap_or_default());
    until.unwrap_or(MAX_SLEEP).min(MAX_SLEEP)
}

fn answer(sup: &Supervisor, query: UnitsQuery) {
    let units = sup.units().filter(|u| (query.filter)(u)).collect();
    let _ = query.reply.send(units);
}

fn publish_gauges(sup: &Supervisor) {
    for (tenant, counts) in sup.counts() {
        let tenant = tenant.to_string();
        metrics::gauge!(m::UNITS_SUPERVISED, "tenant" => tenant.clone())
            .set(counts.supervised as f64);
        metrics::gauge!(m::UNITS_OVERDUE, "tenant" => tenant).set(counts.overdue as f64);
    }
}

/// Journals each output; a raise is then listed for the operators.
fn act(sup: &mut Supervisor, wiring: &Wiring) {
    while let Some(output) = sup.poll_output() {
        let (kind, key, data) = records::record_data(&output);
        let payload = events::record(
            &wiring.node,
            &records::subject(key),
            kind,
            clock::wall(),
            rand::random(),
            data.clone(),
        );
        let listed = match &output {
            Output::Raise {
                key,
                deadline,
                policy,
                ..
            } => Some(data_alarm(key, *deadline, policy.class, data)),
            Output::Restore { .. } => None,
        };
        tracing::info!(unit = %records::subject(key), kind, "supervision");
        let (journal, control) = (wiring.journal.clone(), wiring.control.clone());
        tokio::spawn(async move {
            match journal.append(payload).await {
                Ok(_) => metrics::counter!(m::EVENTS_WRITTEN, "type" => short(kind)).increment(1),
                Err(err) => tracing::error!(%err, kind, "supervision event not stored"),
            }
            if let Some(alarm) = listed {
                let _ = control.send(Control::DataAlarm(Box::new(alarm))).await;
            }
        });
    }
}

/// The operators' entry for a unit that failed to report.
fn data_alarm(key: &UnitKey, deadline: SystemTime, class: CallClass, fields: Value) -> DataAlarm {
    let ms = deadline
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let id = format!(
        "ftr-{}-{}-{}-{ms}",
        key.tenant,
        key.protocol.as_str(),
        key.account
    );
    let mut fields = fields;
    fields["event_name"] = json!("Fail to report");
    DataAlarm {
        labels: CallLabels::new(
            CallId::new(id),
            key.tenant.clone(),
            Caller::new(key.account.as_str()),
        ),
        protocol: Protocol::Supervision,
        account: key.account.to_string(),
        class,
        event_code: None,
        fields,
        recall: None,
    }
}
