//! The alert rules under promtool (`check rules`, `test rules` with
//! `deploy/prometheus-rules.test.yml`, which must cover each alert firing and
//! quiet), the compose file's Prometheus config, and the systemd unit under
//! `systemd-analyze verify`.

use crate::common::{items, root, run_ok, text, tool, yaml};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let test = "promtool_checks_and_unit_tests_the_alert_rules";
    let Some(promtool) = tool("promtool", test, true) else {
        return;
    };
    let dir = root().join("deploy");
    let out = run_ok(&promtool, &["check", "rules", "prometheus-rules.yml"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_ok(
        &promtool,
        &["test", "rules", "prometheus-rules.test.yml"],
        &dir,
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let rules = yaml("deploy/prometheus-rules.yml");
    let alerts: BTreeSet<String> = items(&rules["groups"])
        .iter()
        .flat_map(|g| items(&g["rules"]))
        .filter_map(|r| text(&r["alert"]))
        .collect();
    let tests = yaml("deploy/prometheus-rules.test.yml");
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for case in items(&tests["tests"])
        .iter()
        .flat_map(|t| items(&t["alert_rule_test"]))
    {
        let name = text(&case["alertname"]).unwrap_or_default();
        let fires = !items(&case["exp_alerts"]).is_empty();
        let entry = seen.entry(name).or_default();
        if fires {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
    }
    for alert in &alerts {
        assert_eq!(
            seen.get(alert),
            Some(&(true, true)),
            "{alert}: (fires, quiet) cases"
        );
    }
}

#[test]
fn promtool_accepts_the_compose_prometheus_config() {
    let test = "promtool_accepts_the_compose_prometheus_config";
    let Some(promtool) = tool("promtool", test, true) else {
        return;
    };
    // the config names the rules at their path in the container: check a copy
    // that points at the repository's file
    let tmp = std::env::temp_dir().join(format!("alarmgate-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let text =
        std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml")).expect("read");
    let rules = root().join("deploy/prometheus-rules.yml");
    let local = text.replace(
        "/etc/prometheus/rules/alarmgate.yml",
        &rules.to_string_lossy(),
    );
    std::fs::write(tmp.join("prometheus.yml"), local).expect("write");
    let out = run_ok(&promtool, &["check", "config", "prometheus.yml"], &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_systemd_unit_verifies_with_the_built_binary() {
    let test = "the_systemd_unit_verifies_with_the_built_binary";
    let Some(analyze) = tool("systemd-analyze", test, false) else {
        return;
    };
    // ExecStart names /usr/local/bin/alarmgate: verify a copy naming this build
    let tmp = std::env::temp_dir().join(format!("alarmgate-unit-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let unit = std::fs::read_to_string(root().join("deploy/alarmgate.service")).expect("read");
    assert!(unit.contains("ExecStart=/usr/local/bin/alarmgate run --config "));
    let local = unit.replace("/usr/local/bin/alarmgate", env!("CARGO_BIN_EXE_alarmgate"));
    std::fs::write(tmp.join("alarmgate.service"), local).expect("write");
    let out = std::process::Command::new(analyze)
        .args(["verify", "alarmgate.service"])
        .current_dir(&tmp)
        .output()
        .expect("systemd-analyze runs");
    let _ = std::fs::remove_dir_all(&tmp);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // without a running systemd (a container) verify still parses the unit;
    // what must not appear is a complaint about the unit's own lines
    let own: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("alarmgate.service:"))
        .collect();
    assert!(own.is_empty(), "systemd-analyze verify:\n{all}");
}
