//! Supervision across a restart with a real journal: the live supervisor's
//! reports and its own `fail_to_report` / `restored` records are written
//! to a journal; a new supervisor rebuilt from that journal raises nothing
//! twice, and raises what went overdue while the node was down.

use super::supervision::rebuild;
use crate::alarm::report::Protocol;
use crate::journal::{Journal, JournalConfig, JournalHandle, SyncMode};
use crate::labels::TenantId;
use crate::routing::CallClass;
use crate::supervision::records::{self, observe};
use crate::supervision::{Output, SupervisionSettings, Supervisor, TenantPolicy, UnitKey};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const H: Duration = Duration::from_secs(3600);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn settings() -> SupervisionSettings {
    let policy = TenantPolicy {
        interval: 24 * H,
        grace: H,
        enrol_reporting: true,
        tests_only: false,
        class: CallClass::Technical,
    };
    SupervisionSettings {
        tenants: [(TenantId::new("demo"), policy)].into(),
        units: Default::default(),
    }
}

fn open(name: &str) -> (JournalHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("alarmgate-sv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = JournalConfig {
        dir: dir.clone(),
        segment_bytes: 1 << 20,
        sync: SyncMode::Never,
    };
    let journal = Journal::open(config).unwrap_or_else(|e| panic!("{e}"));
    (journal, dir)
}

/// Writes one record and shows it to the live supervisor, as the task does.
async fn write(journal: &JournalHandle, live: &mut Supervisor, payload: Vec<u8>) {
    if let Some(observed) = observe(&payload) {
        live.observe(observed);
    }
    let stored = journal.append(payload).await;
    assert!(stored.is_ok(), "{stored:?}");
}

fn heartbeat(account: &str, at: SystemTime) -> Vec<u8> {
    let data = json!({"tenant": "demo", "protocol": "dc09", "account": account});
    crate::events::record("n", account, records::UNIT_HEARTBEAT, at, 1, data)
}

/// Runs the live supervisor's sweep at `now` and journals what it outputs.
async fn sweep(journal: &JournalHandle, live: &mut Supervisor, now: SystemTime) -> Vec<String> {
    live.handle_timeout(now);
    let mut kinds = Vec::new();
    while let Some(output) = live.poll_output() {
        let (kind, key, data) = records::record_data(&output);
        kinds.push(format!("{kind} {}", key.account));
        let payload = crate::events::record("n", &records::subject(key), kind, now, 2, data);
        write(journal, live, payload).await;
    }
    kinds
}

fn restart(journal: &JournalHandle, dir: &std::path::Path, now: SystemTime) -> Supervisor {
    let fresh = Supervisor::rebuilding(settings(), now, crate::clock::epoch());
    match rebuild(fresh, dir, journal.last_durable_seq()) {
        Ok((sup, _)) => sup,
        Err(e) => panic!("{e}"),
    }
}

fn overdue(sup: &Supervisor) -> u64 {
    sup.counts()
        .get(&TenantId::new("demo"))
        .map_or(0, |c| c.overdue)
}

#[tokio::test]
async fn a_rebuilt_supervisor_raises_nothing_twice() {
    let (journal, dir) = open("restart");
    let mut live = Supervisor::new(settings(), t0(), crate::clock::epoch());
    for account in ["A", "B", "C"] {
        write(&journal, &mut live, heartbeat(account, t0())).await;
    }
    write(&journal, &mut live, heartbeat("C", t0() + 20 * H)).await;
    let raised = sweep(&journal, &mut live, t0() + 25 * H).await;
    assert_eq!(
        raised,
        [
            records::UNIT_FAIL_TO_REPORT.to_string() + " A",
            records::UNIT_FAIL_TO_REPORT.to_string() + " B"
        ]
    );
    write(&journal, &mut live, heartbeat("B", t0() + 26 * H)).await;
    assert_eq!(
        sweep(&journal, &mut live, t0() + 26 * H).await,
        [records::UNIT_RESTORED.to_string() + " B"]
    );

    // Restart at 30 h: A stays overdue without a second raise.
    let mut again = restart(&journal, &dir, t0() + 30 * H);
    assert_eq!(again.poll_output(), None);
    again.handle_timeout(t0() + 30 * H);
    assert_eq!(again.poll_output(), None, "nothing raised twice");
    assert_eq!(overdue(&again), 1);

    // Restart at 50 h: C (last report at 20 h) went overdue at 45 h while down.
    let mut later = restart(&journal, &dir, t0() + 50 * H);
    later.handle_timeout(t0() + 50 * H);
    let out: Vec<Output> = std::iter::from_fn(|| later.poll_output()).collect();
    let key = UnitKey::new("demo", Protocol::Dc09, "C");
    assert!(
        matches!(out.as_slice(), [Output::Raise { key: k, deadline, .. }] if *k == key && *deadline == t0() + 45 * H),
        "{out:?}"
    );
    journal.close();
    let _ = std::fs::remove_dir_all(&dir);
}
