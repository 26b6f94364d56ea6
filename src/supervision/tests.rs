//! The supervisor in simulated time: a unit's test every 24 h with 1 h of
//! grace, fail-to-report at 25 h exactly and once, restored on the next
//! report, nothing raised twice across a restart (the rebuild reads the
//! records the live supervisor wrote).

use super::records::{self, Observed};
use super::*;
use crate::alarm::report::Protocol;
use crate::labels::TenantId;
use crate::routing::CallClass;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const H: Duration = Duration::from_secs(3600);
const MS: Duration = Duration::from_millis(1);

pub(super) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub(super) fn settings(enrol: bool, tests_only: bool) -> SupervisionSettings {
    let policy = TenantPolicy {
        interval: 24 * H,
        grace: H,
        enrol_reporting: enrol,
        tests_only,
        class: CallClass::Technical,
    };
    SupervisionSettings {
        tenants: [(TenantId::new("demo"), policy)].into(),
        units: Default::default(),
    }
}

pub(super) fn unit(account: &str) -> UnitKey {
    UnitKey::new("demo", Protocol::ContactId, account)
}

fn report(s: &mut Supervisor, account: &str, at: SystemTime) {
    let (key, kind) = (unit(account), ReportKind::Test);
    s.observe(Observed::Report { key, at, kind });
}

fn outputs(s: &mut Supervisor) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn raised(out: &[Output]) -> Vec<(String, SystemTime)> {
    let raise = |o: &Output| match o {
        Output::Raise { key, deadline, .. } => Some((key.account.to_string(), *deadline)),
        Output::Restore { .. } => None,
    };
    out.iter().filter_map(raise).collect()
}

fn restored(out: &[Output]) -> Vec<String> {
    let restore = |o: &Output| match o {
        Output::Restore { key, .. } => Some(key.account.to_string()),
        Output::Raise { .. } => None,
    };
    out.iter().filter_map(restore).collect()
}

fn live() -> Supervisor {
    Supervisor::new(settings(true, false), t0(), crate::clock::epoch())
}

#[test]
fn a_silent_unit_fails_to_report_at_25_hours_exactly_and_once() {
    let mut s = live();
    report(&mut s, "1234", t0());
    assert_eq!(s.poll_timeout(), Some(t0() + 25 * H));
    s.handle_timeout(t0() + 25 * H - MS);
    assert!(outputs(&mut s).is_empty(), "not before 25 h");
    s.handle_timeout(t0() + 25 * H);
    assert_eq!(raised(&outputs(&mut s)), [("1234".into(), t0() + 25 * H)]);
    for hours in [26, 48, 24 * 30] {
        s.handle_timeout(t0() + hours * H);
    }
    assert!(outputs(&mut s).is_empty(), "raised once only");
    assert_eq!(s.counts()[&TenantId::new("demo")].overdue, 1);
    assert_eq!(s.units().next().map(|u| u.state), Some(UnitState::Overdue));
}

#[test]
fn the_next_report_restores_the_unit_and_starts_a_new_interval() {
    let mut s = live();
    report(&mut s, "1234", t0());
    s.handle_timeout(t0() + 25 * H);
    outputs(&mut s);
    report(&mut s, "1234", t0() + 30 * H);
    let out = outputs(&mut s);
    assert_eq!(restored(&out), ["1234"]);
    assert!(matches!(&out[0], Output::Restore { missed: Some(d), .. } if *d == t0() + 25 * H));
    assert_eq!(s.counts()[&TenantId::new("demo")].overdue, 0);
    s.handle_timeout(t0() + 55 * H - MS);
    assert!(outputs(&mut s).is_empty());
    s.handle_timeout(t0() + 55 * H);
    assert_eq!(raised(&outputs(&mut s)), [("1234".into(), t0() + 55 * H)]);
}

#[test]
fn daily_tests_keep_a_unit_ok_with_one_timer_entry() {
    let mut s = live();
    for day in 0..30 {
        let at = t0() + day * 24 * H;
        report(&mut s, "1234", at);
        // Chatty units: more messages within the day arm nothing more.
        report(&mut s, "1234", at + H);
        s.handle_timeout(at + 2 * H);
        assert_eq!(s.sizes(), (1, 1));
    }
    assert!(outputs(&mut s).is_empty());
    assert_eq!(s.units().next().map(|u| u.state), Some(UnitState::Ok));
}

#[test]
fn a_listed_unit_never_heard_is_due_an_allowance_after_start() {
    let mut settings = settings(false, false);
    let own = Override {
        supervised: true,
        interval: Some(2 * H),
        grace: None,
    };
    settings.units.insert(unit("7777"), own);
    let mut s = Supervisor::new(settings, t0(), crate::clock::epoch());
    assert_eq!(s.units().next().map(|u| u.state), Some(UnitState::Waiting));
    report(&mut s, "5555", t0()); // not listed, tenant does not enrol
    assert_eq!(s.sizes().0, 1);
    s.handle_timeout(t0() + 3 * H);
    assert_eq!(raised(&outputs(&mut s)), [("7777".into(), t0() + 3 * H)]);
}

#[test]
fn supervised_false_keeps_a_reporting_unit_out() {
    let mut settings = settings(true, false);
    let off = Override {
        supervised: false,
        interval: None,
        grace: None,
    };
    settings.units.insert(unit("9999"), off);
    let mut s = Supervisor::new(settings, t0(), crate::clock::epoch());
    report(&mut s, "9999", t0());
    report(&mut s, "1234", t0());
    let listed: Vec<String> = s.units().map(|u| u.key.account.to_string()).collect();
    assert_eq!(listed, ["1234"]);
}

#[test]
fn with_tests_only_other_messages_do_not_count() {
    let mut s = Supervisor::new(settings(true, true), t0(), crate::clock::epoch());
    report(&mut s, "1234", t0());
    let (key, kind) = (unit("1234"), ReportKind::Other);
    s.observe(Observed::Report {
        key,
        at: t0() + 10 * H,
        kind,
    });
    s.handle_timeout(t0() + 25 * H);
    assert_eq!(raised(&outputs(&mut s)).len(), 1);
}

/// The journal records a live run writes: reports and its own outputs, in order.
fn journal_payload(kind: &str, key: &UnitKey, at: SystemTime, data: serde_json::Value) -> Vec<u8> {
    let mut data = data;
    data["tenant"] = json!(key.tenant);
    data["protocol"] = json!(key.protocol);
    data["account"] = json!(key.account);
    crate::events::record("n", "s", kind, at, 7, data)
}

fn report_payload(account: &str, at: SystemTime) -> Vec<u8> {
    let data = json!({"event_code": "602", "classification": "test"});
    journal_payload(records::ALARM_RECEIVED, &unit(account), at, data)
}

fn output_payload(output: &Output, at: SystemTime) -> Vec<u8> {
    let (kind, key, data) = records::record_data(output);
    journal_payload(kind, key, at, data)
}

fn rebuild(journal: &[Vec<u8>], now: SystemTime) -> Supervisor {
    let mut s = Supervisor::rebuilding(settings(true, false), now, crate::clock::epoch());
    for observed in journal.iter().filter_map(|p| records::observe(p)) {
        s.observe(observed);
    }
    s.finish_replay();
    s
}

#[test]
fn nothing_is_raised_twice_across_a_restart() {
    let mut s = live();
    let mut journal = vec![report_payload("1111", t0()), report_payload("2222", t0())];
    report(&mut s, "1111", t0());
    report(&mut s, "2222", t0());
    journal.push(report_payload("2222", t0() + 20 * H));
    report(&mut s, "2222", t0() + 20 * H);
    s.handle_timeout(t0() + 25 * H);
    for out in outputs(&mut s) {
        journal.push(output_payload(&out, t0() + 25 * H));
    }
    // Restart at 40 h: 1111 was raised before, 2222 went overdue while down.
    let mut s = rebuild(&journal, t0() + 40 * H);
    assert!(outputs(&mut s).is_empty());
    s.handle_timeout(t0() + 40 * H);
    assert!(
        outputs(&mut s).is_empty(),
        "1111 was raised before the restart"
    );
    s.handle_timeout(t0() + 45 * H);
    assert_eq!(raised(&outputs(&mut s)), [("2222".into(), t0() + 45 * H)]);
    assert_eq!(s.counts()[&TenantId::new("demo")].overdue, 2);
    // A report after the restart restores the unit raised before it.
    report(&mut s, "1111", t0() + 46 * H);
    assert_eq!(restored(&outputs(&mut s)), ["1111"]);
}

#[test]
fn a_restore_lost_in_a_crash_is_written_after_the_rebuild() {
    let mut s = live();
    report(&mut s, "1111", t0());
    s.handle_timeout(t0() + 25 * H);
    let mut journal = vec![report_payload("1111", t0())];
    journal.extend(
        outputs(&mut s)
            .iter()
            .map(|o| output_payload(o, t0() + 25 * H)),
    );
    journal.push(report_payload("1111", t0() + 26 * H));
    // The node died before `restored` was written.
    let mut s = rebuild(&journal, t0() + 27 * H);
    assert_eq!(restored(&outputs(&mut s)), ["1111"]);
    s.handle_timeout(t0() + 27 * H);
    assert!(outputs(&mut s).is_empty());
}

#[test]
fn a_report_that_overtook_the_raise_in_the_journal_wins() {
    let raise = Observed::Raised {
        key: unit("1111"),
        deadline: t0() + 25 * H,
    };
    let mut s = Supervisor::rebuilding(settings(true, false), t0(), crate::clock::epoch());
    report(&mut s, "1111", t0());
    report(&mut s, "1111", t0() + 25 * H + MS);
    s.observe(raise);
    s.finish_replay();
    assert_eq!(s.units().next().map(|u| u.state), Some(UnitState::Ok));
}
