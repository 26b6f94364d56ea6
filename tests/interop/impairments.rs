//! The Contact ID impairment matrix: one daemon (alarm receiver on, journal
//! in the test dir) against `alarmgate simulate device`, one simulator
//! process per impairment, all at once (each case is its own calls, seeds
//! and sockets), asserted from the simulator's JSON report and the daemon's
//! `/metrics` and journal.
//!
//! ## What must pass, and what may need retries
//!
//! A real unit sends each message up to four times (alarm-protocols.md §1.4)
//! and only then fails over, so "needs a retry" costs about 3 s of an
//! alarm's time and "fails" costs the alarm. The matrix splits the cases:
//!
//! | case | expectation |
//! |---|---|
//! | clean, in-band / RFC 4733 / both | **first attempt** |
//! | level -3, -10, -20, -30 dBm0 (low tone; high tone the same) | **first attempt** |
//! | twist -4 dB and -7 dB (normal: low group louder, limit 8 dB), +3 dB (reverse: high group louder, limit 4 dB) | **first attempt** |
//! | frequency offset +1.5 % and -1.5 % (both tones) | **first attempt** |
//! | white noise at 20 dB SNR | **first attempt** |
//! | jitter 0-10 ms (below the 20 ms ptime: no reordering) | **first attempt** |
//! | packet loss 1 % and 3 % (in-band) | retries allowed, acknowledged within 4 attempts |
//! | jitter 0-30 ms (packets reorder) | retries allowed, acknowledged within 4 attempts |
//! | white noise at 12 dB SNR | retries allowed, acknowledged within 4 attempts |
//! | packet loss 3 % with RFC 4733 only | retries allowed, acknowledged within 4 attempts |
//!
//! A lost 20 ms packet removes 20 ms of a 55 ms tone or gap. The detector
//! bridges it (`dsp::dtmf`: lost time is neither tone nor gap), so one lost
//! packet no longer costs a digit; two in a row, or loss with other
//! impairments, still can, which is why these rows allow the unit's retries.
//! The first-attempt rate under 3 % loss is asserted over 66 messages in
//! `silence::first_attempts_hold_under_three_percent_loss`. Measured limits (BENCHMARKS.md, "Contact ID
//! impairment limits") are wider than these cases, which keep a margin so
//! the test does not flake: first attempt down to -33 dBm0, SNR 14 dB, twist
//! -7/+3.5 dB, ±1.5 %; within four attempts down to SNR 10 dB and 3 % loss.
//!
//! Seeds are fixed (call `i` of a case uses `seed + i`; cases are 1000
//! apart, so Call-IDs and tags never meet). Loss and noise patterns are then
//! fixed per packet index; where in the call the digits fall still depends
//! on timing by a packet or so, which is why the loss cases are "within four
//! attempts" and not "exactly these retries".
//!
//! Two cases found daemon defects, since fixed and kept as regression tests:
//! digits sent both in-band and as RFC 4733 under 60 ms jitter were counted
//! twice (frames released together by the reorder buffer were dated by the
//! tick, not by their RTP timestamps, and the two paths' copies of a digit
//! fell outside the 30 ms de-duplication window; now frames are dated on
//! the RTP clock and the window is 45 ms), and reverse twist at exactly the
//! 4 dB limit was refused (the limit now has 0.5 dB for measurement error).

use crate::harness::{metric_sum, poll_until, Config, Daemon};
use alarmgate::telemetry::metrics as m;
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Attempts a unit makes per message before it fails over.
const UNIT_ATTEMPTS: u64 = 4;
/// The unit's kissoff window after its last digit, ms.
const KISSOFF_WINDOW_MS: f64 = 1250.0;
/// The Contact ID message every call sends (602: periodic test report).
const MESSAGE: &str = "1234 18 1 602 00 000";
const MESSAGE_DIGITS: &str = "1234181602000002";

/// What a case must achieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Every message acknowledged on its first attempt.
    FirstAttempt,
    /// Every message acknowledged within the unit's four attempts.
    WithinAttempts,
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    calls: u32,
    expect: Expect,
    /// The report must show this impairment took effect.
    check: Applied,
}

/// A check that the impairment really happened (so a no-op cannot pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    Nothing,
    /// Some packets were dropped.
    Dropped,
    /// Some packets were reordered.
    Reordered,
    /// Jitter, but none reordered (below the ptime).
    NotReordered,
    /// RFC 4733 was negotiated and used, as asked.
    Dtmf(&'static str),
}

use Applied::*;
use Expect::*;

const fn case(name: &'static str, args: &'static [&'static str], expect: Expect) -> Case {
    Case {
        name,
        args,
        calls: 2,
        expect,
        check: Nothing,
    }
}

const fn checked(mut c: Case, check: Applied) -> Case {
    c.check = check;
    c
}

/// The matrix (see the module header for why each row expects what it does).
const MATRIX: &[Case] = &[
    checked(
        case("clean_inband", &["--dtmf", "inband"], FirstAttempt),
        Dtmf("inband"),
    ),
    checked(
        case("clean_rfc4733", &["--dtmf", "rfc4733"], FirstAttempt),
        Dtmf("rfc4733"),
    ),
    checked(
        case("clean_both", &["--dtmf", "both"], FirstAttempt),
        Dtmf("both"),
    ),
    case("level_-3", &["--level-dbm0", "-3"], FirstAttempt),
    case("level_-10", &["--level-dbm0", "-10"], FirstAttempt),
    case("level_-20", &["--level-dbm0", "-20"], FirstAttempt),
    case("level_-30", &["--level-dbm0", "-30"], FirstAttempt),
    case("twist_normal_4", &["--twist-db", "-4"], FirstAttempt),
    case("twist_normal_7", &["--twist-db", "-7"], FirstAttempt),
    case("twist_reverse_3", &["--twist-db", "3"], FirstAttempt),
    case("freq_+1.5pct", &["--freq-offset-pct", "1.5"], FirstAttempt),
    case("freq_-1.5pct", &["--freq-offset-pct", "-1.5"], FirstAttempt),
    case("snr_20", &["--snr-db", "20"], FirstAttempt),
    checked(
        case("jitter_10", &["--jitter-ms", "10"], FirstAttempt),
        NotReordered,
    ),
    checked(case("loss_1pct", &["--loss", "1"], WithinAttempts), Dropped),
    checked(case("loss_3pct", &["--loss", "3"], WithinAttempts), Dropped),
    checked(
        case(
            "loss_3pct_rfc4733",
            &["--loss", "3", "--dtmf", "rfc4733"],
            WithinAttempts,
        ),
        Dropped,
    ),
    checked(
        case("jitter_30", &["--jitter-ms", "30"], WithinAttempts),
        Reordered,
    ),
    case("snr_12", &["--snr-db", "12"], WithinAttempts),
];

/// Seed of the first case; case `k` uses `BASE_SEED + 1000 k`.
const BASE_SEED: u64 = 0x00a1_a300_0000;

/// One simulator process in flight.
struct SimRun {
    case: Case,
    seed: u64,
    child: Child,
    out: PathBuf,
}

/// What one case produced: its report and the problems found in it.
struct Outcome {
    case: Case,
    report: Value,
    problems: Vec<String>,
}

fn start_sim(d: &Daemon, case: Case, seed: u64) -> SimRun {
    let out = d.dir.path.join(format!("sim-{}.json", case.name));
    let err = d.dir.path.join(format!("sim-{}.log", case.name));
    let target = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let calls = case.calls.to_string();
    let seed_arg = seed.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "device", &target, "-m", MESSAGE, "--json"])
        .args([
            "--seed",
            &seed_arg,
            "--calls",
            &calls,
            "--concurrency",
            &calls,
        ])
        .args(["--rate", "10", "--call-timeout-s", "45"])
        .args(case.args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("sim stdout"))
        .stderr(fs::File::create(err).expect("sim stderr"))
        .spawn()
        .expect("spawn alarmgate simulate device");
    SimRun {
        case,
        seed,
        child,
        out,
    }
}

/// Waits for the simulator (killed past `deadline`) and judges its report.
fn finish_sim(mut run: SimRun, deadline: Instant) -> Outcome {
    let mut status = None;
    poll_until(deadline.saturating_duration_since(Instant::now()), || {
        status = run.child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = run.child.kill();
        let _ = run.child.wait();
    }
    let text = fs::read_to_string(&run.out).unwrap_or_default();
    let report: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    if report.is_null() {
        problems.push(format!(
            "no JSON report (exit {status:?}, seed {}): {}",
            run.seed,
            text.chars().take(300).collect::<String>()
        ));
    } else {
        judge(&run.case, &report, &mut problems);
    }
    Outcome {
        case: run.case,
        report,
        problems,
    }
}

/// The per-case assertions, collected as text so the whole matrix reports.
fn judge(case: &Case, report: &Value, problems: &mut Vec<String>) {
    let calls = report["calls"].as_array().cloned().unwrap_or_default();
    if calls.len() != case.calls as usize {
        problems.push(format!(
            "{} calls reported, {} made",
            calls.len(),
            case.calls
        ));
    }
    for call in &calls {
        let id = call["call_id"].as_str().unwrap_or("?");
        if call["final_status"].as_u64() != Some(200) || call["success"] != Value::Bool(true) {
            problems.push(format!(
                "call {id}: status {}, failure {}",
                call["final_status"], call["failure"]
            ));
        }
        if let Dtmf(mode) = case.check {
            if call["dtmf"].as_str() != Some(mode) {
                problems.push(format!("call {id}: dtmf {} (asked {mode})", call["dtmf"]));
            }
        }
        for msg in call["messages"].as_array().into_iter().flatten() {
            let attempts = msg["attempts"].as_u64().unwrap_or(0);
            let acked = msg["outcome"].as_str() == Some("acknowledged");
            let allowed = match case.expect {
                FirstAttempt => 1,
                WithinAttempts => UNIT_ATTEMPTS,
            };
            if !acked || attempts > allowed || attempts == 0 {
                problems.push(format!(
                    "call {id}: {} after {attempts} attempt(s), {allowed} allowed",
                    msg["outcome"]
                ));
            }
            let delay = msg["last_digit_to_kissoff_ms"].as_f64();
            if acked && !delay.is_some_and(|v| v <= KISSOFF_WINDOW_MS) {
                problems.push(format!("call {id}: kissoff after {delay:?} ms"));
            }
        }
    }
    let sum = |key: &str| -> u64 { calls.iter().filter_map(|c| c[key].as_u64()).sum() };
    let applied = match case.check {
        Dropped => sum("rtp_dropped") > 0,
        Reordered => sum("rtp_reordered") > 0,
        NotReordered => sum("rtp_reordered") == 0,
        Nothing | Dtmf(_) => true,
    };
    if !applied {
        problems.push(format!(
            "impairment not as expected ({:?}): dropped {}, reordered {}",
            case.check,
            sum("rtp_dropped"),
            sum("rtp_reordered")
        ));
    }
}

/// The journal directory the daemon uses (its config's `[alarm] journal_dir`,
/// default `var/journal`, relative to its working directory, the test dir).
fn journal_dir(d: &Daemon) -> PathBuf {
    let cfg = fs::read_to_string(d.dir.path.join("alarmgate.toml")).unwrap_or_default();
    let table: toml::Table = toml::from_str(&cfg).unwrap_or_default();
    let dir = table
        .get("alarm")
        .and_then(|a| a.get("journal_dir"))
        .and_then(|v| v.as_str())
        .unwrap_or("var/journal");
    d.dir.path.join(dir)
}

/// Alarm records by subject (the Call-ID): the raw digits of each.
fn journal_by_call(dir: &Path) -> HashMap<String, Vec<String>> {
    let reader = alarmgate::journal::JournalReader::open(dir).expect("open the journal");
    let mut by_call: HashMap<String, Vec<String>> = HashMap::new();
    for record in reader.read_from(0) {
        let record = record.expect("journal record");
        let event: Value = serde_json::from_slice(&record.payload).expect("journal JSON");
        if event["type"] != alarmgate::events::ALARM_RECEIVED {
            continue; // call and acknowledgement events
        }
        let subject = event["subject"].as_str().unwrap_or("").to_string();
        let raw = event["data"]["raw"].as_str().unwrap_or("").to_string();
        by_call.entry(subject).or_default().push(raw);
    }
    by_call
}

/// Runs `cases` at once against one daemon; returns the outcomes and the daemon.
fn run_matrix(test: &str, cases: &[Case]) -> Option<(Daemon, Vec<Outcome>)> {
    let d = Daemon::start(test, &Config::default())?;
    let runs: Vec<SimRun> = cases
        .iter()
        .enumerate()
        .map(|(k, c)| start_sim(&d, *c, BASE_SEED + 1000 * k as u64))
        .collect();
    // Four attempts take about 15 s; 60 s bounds a stuck simulator.
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcomes = runs.into_iter().map(|r| finish_sim(r, deadline)).collect();
    Some((d, outcomes))
}

fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from("case                 expect          calls ok  attempts       kissoff ms (max)  dropped reordered\n");
    for o in outcomes {
        let calls = o.report["calls"].as_array().cloned().unwrap_or_default();
        let ok = calls
            .iter()
            .filter(|c| c["success"] == Value::Bool(true))
            .count();
        let attempts: Vec<u64> = calls
            .iter()
            .flat_map(|c| c["messages"].as_array().cloned().unwrap_or_default())
            .map(|m| m["attempts"].as_u64().unwrap_or(0))
            .collect();
        let kiss = calls
            .iter()
            .flat_map(|c| c["messages"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| m["last_digit_to_kissoff_ms"].as_f64())
            .fold(0.0f64, f64::max);
        let sum = |k: &str| -> u64 { calls.iter().filter_map(|c| c[k].as_u64()).sum() };
        t.push_str(&format!(
            "{:20} {:15} {:>5} {:>3}  {:14} {:>16.0}  {:>7} {:>9}{}\n",
            o.case.name,
            format!("{:?}", o.case.expect),
            calls.len(),
            ok,
            format!("{attempts:?}"),
            kiss,
            sum("rtp_dropped"),
            sum("rtp_reordered"),
            if o.problems.is_empty() { "" } else { "  FAIL" }
        ));
    }
    t
}

/// The matrix of the module header, against one daemon: every case as
/// expected, and the daemon's counters and journal agree with the units.
#[test]
fn impairment_matrix() {
    let test = "impairment_matrix";
    let Some((d, outcomes)) = run_matrix(test, MATRIX) else {
        return;
    };
    let summary = table(&outcomes);
    eprintln!("{test}:\n{summary}");
    let problems: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            o.problems
                .iter()
                .map(move |p| format!("{}: {p}", o.case.name))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}\n\n{summary}",
        problems.len(),
        problems.join("\n")
    );

    // Every message acknowledged by a unit was decoded, journalled and
    // acknowledged exactly once by the daemon (a second kissoff would mean
    // the unit missed the first: late or lost).
    let acked: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.report["calls"].as_array().cloned().unwrap_or_default())
        .map(|c| c["call_id"].as_str().unwrap_or("").to_string())
        .collect();
    let messages = acked.len() as f64;
    let counters_settle = poll_until(Duration::from_secs(10), || {
        let text = d.metrics();
        let get = |name| metric_sum(&text, name, &[]).unwrap_or(0.0);
        get(m::ALARMS_ACKNOWLEDGED) == messages
            && get(m::ALARMS_DECODED) == messages
            && get(m::CALLS_ACTIVE) == 0.0
    });
    let text = d.metrics();
    let get = |name| metric_sum(&text, name, &[]).unwrap_or(0.0);
    assert!(
        counters_settle,
        "{test}: daemon acknowledged {} / decoded {} / calls active {}; units had {messages} acknowledged",
        get(m::ALARMS_ACKNOWLEDGED),
        get(m::ALARMS_DECODED),
        get(m::CALLS_ACTIVE)
    );
    for name in [m::ALARMS_WITHHELD, m::ALARMS_STORE_FAILED] {
        assert_eq!(get(name), 0.0, "{test}: {name} is not 0:\n{text}");
    }
    let journal = journal_by_call(&journal_dir(&d));
    for id in &acked {
        assert_eq!(
            journal.get(id).map(Vec::as_slice),
            Some(&[MESSAGE_DIGITS.to_string()][..]),
            "{test}: call {id} not journalled exactly once"
        );
    }
    assert_eq!(
        journal.len(),
        acked.len(),
        "{test}: journal has other calls"
    );
}

fn single_case(test: &str, case: Case) {
    let Some((_d, outcomes)) = run_matrix(test, &[case]) else {
        return;
    };
    let summary = table(&outcomes);
    let problems = &outcomes[0].problems;
    assert!(
        problems.is_empty(),
        "{test}:\n{}\n\n{summary}",
        problems.join("\n")
    );
}

/// Regression: digits sent in-band *and* as RFC 4733 events (what many
/// gateways do), with 0-60 ms jitter, must each count once. Before the fix
/// a digit was counted twice (`raw=1233418160200000 reason=Checksum`) and
/// about half the calls failed all four attempts.
#[test]
fn impairment_both_paths_under_jitter() {
    let c = Case {
        calls: 10,
        ..checked(
            case(
                "both_jitter_60",
                &["--dtmf", "both", "--jitter-ms", "60"],
                WithinAttempts,
            ),
            Reordered,
        )
    };
    single_case("impairment_both_paths_under_jitter", c);
}

/// Regression: reverse twist (high group louder) of exactly Q.24's 4 dB is
/// accepted (it was refused on every attempt: the limit had no margin for
/// measurement error).
#[test]
fn impairment_reverse_twist_at_limit() {
    let c = case("twist_reverse_4", &["--twist-db", "4"], WithinAttempts);
    single_case("impairment_reverse_twist_at_limit", c);
}
