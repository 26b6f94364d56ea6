//! The store on real files, fed through the real journal writer: catch-up
//! equals rebuild row for row, no double counts, migrations, and a month of
//! synthetic traffic whose extract equals an independent count.

use super::follow::catch_up;
use super::frequent::Detector;
use super::report::{self, Category, Language, Month};
use super::store::{RecordsError, Store, SCHEMA_VERSION};
use super::synth::{self, Planned, Rng};
use crate::journal::{Journal, JournalConfig, JournalReader, SyncMode};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Temp(PathBuf);

impl Temp {
    pub(crate) fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "alarmgate-records-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub(crate) fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the planned calls' events into a journal at `dir`; returns the last seq.
pub(crate) async fn write_journal(dir: &Path, tenant: &str, calls: &[Planned]) -> u64 {
    let journal = Journal::open(JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 1 << 20,
        sync: SyncMode::Never,
    })
    .expect("journal");
    let mut rng = Rng::new(7);
    let pending: Vec<_> = calls
        .iter()
        .flat_map(|c| synth::payloads(tenant, c, &mut rng))
        .map(|p| journal.append(p))
        .collect();
    let mut last = 0;
    for p in pending {
        last = p.await.expect("append");
    }
    journal.close();
    last
}

fn rebuild(db: &Path, journal: &Path, durable: u64) -> Store {
    let mut store = Store::open(db).expect("store");
    let reader = JournalReader::open(journal).expect("reader");
    catch_up(
        &mut store,
        &reader,
        durable,
        &mut Detector::default(),
        u64::MAX,
    )
    .expect("catch up");
    store
}

const NOV_2026: (i64, i64) = (1_793_487_600_000, 1_796_079_600_000); // 2026-10-31T23:00Z .. 2026-11-30T23:00Z

#[tokio::test]
async fn incremental_catch_up_equals_a_rebuild_row_for_row() {
    let tmp = Temp::new("steps");
    let calls = synth::plan("aarhus", 300, NOV_2026.0, NOV_2026.1, 40, 3);
    let last = write_journal(&tmp.join("journal"), "aarhus", &calls).await;
    let reader = JournalReader::open(tmp.join("journal")).expect("reader");
    let mut stepped = Store::open(&tmp.join("a.sqlite")).expect("store");
    let mut durable = 0;
    while durable < last {
        durable = (durable + 97).min(last);
        catch_up(
            &mut stepped,
            &reader,
            durable,
            &mut Detector::default(),
            u64::MAX,
        )
        .expect("step");
        assert_eq!(stepped.applied_seq().expect("seq"), durable);
    }
    let once = rebuild(&tmp.join("b.sqlite"), &tmp.join("journal"), last);
    let (a, b) = (stepped.all().expect("rows"), once.all().expect("rows"));
    assert_eq!(a.len(), 300);
    assert_eq!(
        a, b,
        "a row differs between catch-up in steps and one rebuild"
    );
}

#[tokio::test]
async fn two_writers_never_apply_a_batch_twice() {
    let tmp = Temp::new("writers");
    let calls = synth::plan("aarhus", 20, NOV_2026.0, NOV_2026.1, 5, 4);
    let last = write_journal(&tmp.join("journal"), "aarhus", &calls).await;
    let reader = JournalReader::open(tmp.join("journal")).expect("reader");
    let db = tmp.join("r.sqlite");
    let (mut one, mut two) = (
        Store::open(&db).expect("one"),
        Store::open(&db).expect("two"),
    );
    let events: Vec<_> = reader
        .read_from(1)
        .filter_map(Result::ok)
        .filter_map(|r| super::JournalEvent::parse(r.seq, &r.payload))
        .collect();
    one.apply_batch(&events, 0, last).expect("first writer");
    let again = two.apply_batch(&events, 0, last);
    assert!(
        matches!(again, Err(RecordsError::Moved { expected: 0, found }) if found == last),
        "{again:?}"
    );
    let rows = two.all().expect("rows");
    let fresh = rebuild(&tmp.join("fresh.sqlite"), &tmp.join("journal"), last)
        .all()
        .expect("rows");
    assert_eq!(rows, fresh, "nothing doubled");
}

#[tokio::test]
async fn a_store_ahead_of_the_journal_is_rebuilt_and_a_deleted_one_too() {
    let tmp = Temp::new("ahead");
    let calls = synth::plan("aarhus", 30, NOV_2026.0, NOV_2026.1, 5, 5);
    let last = write_journal(&tmp.join("journal"), "aarhus", &calls).await;
    let db = tmp.join("r.sqlite");
    let full = rebuild(&db, &tmp.join("journal"), last)
        .all()
        .expect("rows");
    // A replaced, shorter journal: the store is ahead and must not keep rows the journal lacks.
    let short = rebuild(&db, &tmp.join("journal"), last / 2);
    assert_eq!(short.applied_seq().expect("seq"), last / 2);
    assert_eq!(
        short.all().expect("rows"),
        rebuild(&tmp.join("half.sqlite"), &tmp.join("journal"), last / 2)
            .all()
            .expect("rows")
    );
    drop(short);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert_eq!(
        rebuild(&db, &tmp.join("journal"), last)
            .all()
            .expect("rows"),
        full,
        "deleted: rebuilt row for row"
    );
}

#[test]
fn migrations_set_the_version_and_a_newer_database_is_refused() {
    let tmp = Temp::new("schema");
    let db = tmp.join("r.sqlite");
    drop(Store::open(&db).expect("create"));
    let conn = rusqlite::Connection::open(&db).expect("raw");
    let v: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, SCHEMA_VERSION);
    drop(Store::open(&db).expect("reopen migrates nothing"));
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    assert!(matches!(Store::open(&db), Err(RecordsError::TooNew { .. })));
}

/// The category a planned call must land in, decided from the plan alone.
fn planned_category(c: &Planned) -> Category {
    match (c.settled_test, c.disposition) {
        (true, _) => Category::Technical,
        (false, Some("emergency")) => Category::Emergency,
        (false, Some("reassurance")) => Category::Reassurance,
        (false, Some("false_alarm")) => Category::FalseAlarm,
        (false, Some("technical")) => Category::Technical,
        (false, Some(_)) => Category::Recall,
        (false, None) => Category::Open,
    }
}

#[tokio::test]
async fn a_month_of_traffic_gives_an_extract_equal_to_an_independent_count() {
    let tmp = Temp::new("month");
    // Two days either side of the month, so the local month bounds matter.
    let calls = synth::plan(
        "aarhus",
        3000,
        NOV_2026.0 - 2 * 86_400_000,
        NOV_2026.1 + 2 * 86_400_000,
        300,
        6,
    );
    let last = write_journal(&tmp.join("journal"), "aarhus", &calls).await;
    let store = rebuild(&tmp.join("r.sqlite"), &tmp.join("journal"), last);
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    let month = Month::parse("2026-11").expect("month");
    assert_eq!(report::month_bounds(month, &tz), Some(NOV_2026));
    let rows = store
        .calls_between("aarhus", NOV_2026.0, NOV_2026.1)
        .expect("rows");
    let x = report::extract(
        "aarhus",
        month,
        &tz,
        "Europe/Copenhagen",
        Language::Da,
        rows,
    );
    let inside: Vec<&Planned> = calls
        .iter()
        .filter(|c| c.at_ms >= NOV_2026.0 && c.at_ms < NOV_2026.1)
        .collect();
    assert_eq!(x.totals.calls, inside.len() as u64);
    for (cat, label, n) in &x.totals.by_category {
        let expected = inside
            .iter()
            .filter(|c| planned_category(c) == *cat)
            .count() as u64;
        assert_eq!(*n, expected, "{label}");
    }
    assert_eq!(x.totals.by_day.len(), 30);
    assert_eq!(
        x.totals.by_day.iter().map(|d| d.1).sum::<u64>(),
        x.totals.calls
    );
    assert_eq!(x.totals.by_hour.iter().sum::<u64>(), x.totals.calls);
    let open = x
        .calls
        .iter()
        .take_while(|c| c.category_key == Category::Open)
        .count();
    assert_eq!(
        open as u64,
        x.totals
            .by_category
            .iter()
            .find(|c| c.0 == Category::Open)
            .map_or(0, |c| c.2),
        "open calls first"
    );
    let top = inside.iter().filter(|c| c.caller == "4500000000").count() as u64;
    assert_eq!(
        x.top_callers.first(),
        Some(&("4500000000".to_string(), top))
    );
}
