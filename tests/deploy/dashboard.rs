//! `deploy/grafana/alarmgate.json` and `deploy/prometheus-rules.yml` name
//! only metrics the code exports (read from `src/` at test time, so a panel
//! for a metric that another branch adds passes once that branch is merged).

use crate::common::{exported_metrics, is_exported, items, metric_names_in, read, text, yaml};
use std::collections::BTreeSet;

const DASHBOARD: &str = "deploy/grafana/alarmgate.json";

/// Every `expr` of every panel (rows' nested panels too) and template query.
fn dashboard_exprs(node: &serde_json::Value, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push(s.clone())
                    }
                    _ => dashboard_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

fn unknown(exprs: &[String]) -> BTreeSet<String> {
    let exported = exported_metrics();
    exprs
        .iter()
        .flat_map(|e| metric_names_in(e))
        .filter(|name| !is_exported(name, &exported))
        .collect()
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON")
}

#[test]
fn every_dashboard_expression_names_exported_metrics() {
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard(), &mut exprs);
    assert!(exprs.len() > 20, "only {} expressions found", exprs.len());
    let missing = unknown(&exprs);
    assert!(
        missing.is_empty(),
        "{DASHBOARD} names metrics the code does not export: {missing:?}"
    );
}

#[test]
fn the_dashboard_has_the_panels_a_centre_watches() {
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard(), &mut exprs);
    let all = exprs.join("\n");
    for (what, metric) in [
        ("calls per tenant", "alarmgate_calls_answered_total"),
        ("alarms", "alarmgate_alarms_decoded_total"),
        (
            "queue waits and answer times",
            "alarmgate_queue_to_ring_seconds_bucket",
        ),
        ("operators by state", "alarmgate_operators"),
        ("kissoff latency", "alarmgate_kissoff_delay_seconds_bucket"),
        ("bus backlog", "alarmgate_bus_backlog_events"),
        ("journal size", "alarmgate_journal_bytes"),
        ("units supervised", "alarmgate_units_supervised"),
        ("supervision overdue", "alarmgate_units_overdue"),
    ] {
        assert!(
            metric_names_in(&all).contains(metric),
            "no panel shows {what} ({metric})"
        );
    }
    assert!(all.contains("by (tenant)"), "calls are shown per tenant");
    for per_tenant in ["alarmgate_units_supervised", "alarmgate_units_overdue"] {
        let shown = exprs
            .iter()
            .any(|e| e.contains(per_tenant) && e.contains("by (tenant)"));
        assert!(shown, "{per_tenant} is shown per tenant");
    }
    let ids: Vec<i64> = dashboard()["panels"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "panel ids are unique");
}

#[test]
fn every_alert_rule_names_exported_metrics() {
    let rules = yaml("deploy/prometheus-rules.yml");
    let exprs: Vec<String> = items(&rules["groups"])
        .iter()
        .flat_map(|g| items(&g["rules"]))
        .filter_map(|r| text(&r["expr"]))
        .collect();
    assert!(!exprs.is_empty());
    let missing = unknown(&exprs);
    assert!(
        missing.is_empty(),
        "prometheus-rules.yml names unknown metrics: {missing:?}"
    );
}

#[test]
fn an_unknown_metric_in_a_panel_is_caught() {
    let exprs = vec!["sum(rate(alarmgate_calls_answerd_total[5m]))".to_string()];
    assert_eq!(
        unknown(&exprs).into_iter().collect::<Vec<_>>(),
        ["alarmgate_calls_answerd_total"]
    );
}
