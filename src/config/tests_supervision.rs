//! `[tenants.supervision]` and `[[units]]`: defaults, settings for the
//! supervisor, and every problem reported at its line and key.

use super::*;
use crate::alarm::report::Protocol;
use crate::supervision::UnitKey;
use std::time::Duration;

use super::tests_support::{errors, BASE};

#[test]
fn a_tenant_section_defaults_to_a_daily_test_with_an_hour_of_grace() {
    let text = format!("{BASE}[tenants.supervision]\n\n[[units]]\ntenant = \"demo\"\nprotocol = \"dc09\"\naccount = \"1234\"\ngrace_s = 60\n");
    let config = load_str(&text, "t.toml").expect("valid");
    let settings = config.supervision_settings();
    let policy = &settings.tenants[&crate::labels::TenantId::new("demo")];
    assert_eq!(policy.interval, Duration::from_secs(86_400));
    assert_eq!(policy.grace, Duration::from_secs(3_600));
    assert!(policy.enrol_reporting && !policy.tests_only);
    let unit = &settings.units[&UnitKey::new("demo", Protocol::Dc09, "1234")];
    assert_eq!(
        (unit.supervised, unit.grace),
        (true, Some(Duration::from_secs(60)))
    );
}

#[test]
fn bad_values_are_reported_at_their_line_and_key() {
    let text = format!(
        "{BASE}[tenants.supervision]\ninterval_s = 0\ngrace_s = 9999999\nclass = \"recall\"\n\n\
[[units]]\ntenant = \"nowhere\"\nprotocol = \"supervision\"\naccount = \"\"\n\n\
[[units]]\ntenant = \"demo\"\nprotocol = \"scaip\"\naccount = \"a1\"\n\n\
[[units]]\ntenant = \"demo\"\nprotocol = \"scaip\"\naccount = \"a1\"\n"
    );
    let got = errors(&text);
    let want = [
        (10, "tenants[0].supervision.interval_s"),
        (11, "tenants[0].supervision.grace_s"),
        (12, "tenants[0].supervision.class"),
        (15, "units[0].tenant"),
        (16, "units[0].protocol"),
        (17, "units[0].account"),
        (14, "units[0].interval_s"),
        (27, "units[2].account"),
    ];
    for (line, key) in want {
        assert!(
            got.iter().any(|(l, k)| *l == line && k == key),
            "{key} at line {line}: {got:?}"
        );
    }
}

#[test]
fn unknown_keys_are_refused() {
    let got = errors(&format!("{BASE}[tenants.supervision]\nintervall_s = 5\n"));
    assert_eq!(got.first().map(|g| g.0), Some(10), "{got:?}");
}

#[test]
fn a_unit_of_a_tenant_without_supervision_needs_its_own_interval() {
    let text = format!(
        "{BASE}[[units]]\ntenant = \"demo\"\nprotocol = \"contact_id\"\naccount = \"1234\"\n"
    );
    assert_eq!(errors(&text), [(9, "units[0].interval_s".to_string())]);
    let ok = format!("{text}interval_s = 600\n");
    assert!(load_str(&ok, "t.toml").is_ok());
}
