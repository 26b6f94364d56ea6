//! One extract over several nodes' records (`report calls --also`): the
//! rows of one call merged across nodes, the month cut from the merged
//! rows, and each node's own calls counted once.

use super::query::{monthly_merged, Settings, TenantSettings};
use super::report::{Category, Language};
use super::store::Store;
use super::tests_project::{alarm_call, ev, T0};
use super::tests_store::Temp;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

fn store(path: &Path, events: &[super::JournalEvent]) {
    let last = events.iter().map(|e| e.seq).max().unwrap_or(0);
    let mut s = Store::open(path).expect("store");
    s.apply_batch(events, 0, last).expect("apply");
}

fn settings(path: &Path) -> Settings {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    let aarhus = TenantSettings {
        tz_name: "Europe/Copenhagen".into(),
        tz,
        language: Language::Da,
        frequent: None,
    };
    Settings {
        path: path.to_path_buf(),
        tenants: HashMap::from([("aarhus".to_string(), aarhus)]),
    }
}

#[test]
fn two_nodes_give_one_extract_with_a_disposition_given_on_the_other_node() {
    let tmp = Temp::new("nodes");
    let (a, b) = (tmp.join("a.sqlite"), tmp.join("b.sqlite"));
    // Node A took c1 and c2 on 1 November; node B took c3, and gave c1 its
    // disposition on 2 December (a row on B with only that event).
    let mut on_a = alarm_call(1, "c1", "88", 0);
    on_a.truncate(6); // no disposition on A
    on_a.extend(alarm_call(20, "c2", "89", 60));
    store(&a, &on_a);
    let mut on_b = alarm_call(1, "c3", "90", 120);
    let december = 31 * 86_400;
    on_b.push(ev(
        40,
        "call.disposition",
        "c1",
        december,
        json!({"tenant": "aarhus", "disposition": "false_alarm", "by": "desk-b"}),
    ));
    store(&b, &on_b);
    let x = monthly_merged(&settings(&a), "aarhus", "2026-11", std::slice::from_ref(&b))
        .expect("merged");
    let ids: Vec<&str> = x.calls.iter().map(|c| c.record.call_id.as_str()).collect();
    assert_eq!(x.totals.calls, 3, "{ids:?}");
    let c1 = x
        .calls
        .iter()
        .find(|c| c.record.call_id == "c1")
        .expect("c1");
    assert_eq!(
        c1.category_key,
        Category::FalseAlarm,
        "B's disposition reaches A's call"
    );
    assert_eq!(c1.record.received_ms, Some(T0), "received when A took it");
    let dec = monthly_merged(&settings(&a), "aarhus", "2026-12", &[b]).expect("december");
    assert_eq!(
        dec.totals.calls, 0,
        "the disposition is no call of its own in December"
    );
}
