//! Whole-file tests: every shipped dialplan loads, and broken files report
//! the right line and key.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::admission::{Admission, AdmissionDecision};
use crate::clock::epoch;

fn dialplans_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dialplans")
}

/// Loads `text` expecting failure; returns (line, key, message) triples.
fn errors(text: &str) -> Vec<(usize, String, String)> {
    let errs = load_str(text, "t.toml").expect_err("config should be rejected");
    errs.iter()
        .map(|e| (e.line, e.key.clone(), e.message()))
        .collect()
}

/// A valid minimal file to which tests append broken parts.
use super::tests_support::BASE;

#[test]
fn every_dialplan_validates() {
    let mut seen = 0;
    let entries = std::fs::read_dir(dialplans_dir()).expect("dialplans/ exists");
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(errs) = load_file(&path) {
                panic!("{} does not validate:\n{errs}", path.display());
            }
            seen += 1;
        }
    }
    assert!(
        seen >= 2,
        "expected at least default.toml and multi-tenant.toml, saw {seen}"
    );
}

#[test]
fn embedded_default_is_the_shipped_file_and_loads() {
    let on_disk =
        std::fs::read_to_string(dialplans_dir().join("default.toml")).expect("default.toml");
    assert_eq!(embedded_default(), on_disk);
    let config = load_default().expect("embedded default validates");
    assert_eq!(config.node.name, "alarmgate-dev");
    assert_eq!(config.calls.max_duration(), None);
    assert!(config.auth.devices.is_empty());
    let specs = config.listen_specs();
    assert_eq!(specs.len(), 3);
    assert_eq!(
        specs[0],
        (Transport::Udp, "0.0.0.0:5060".parse().unwrap(), None)
    );
    // The console works out of the box on the machine itself (issue 11).
    assert_eq!(
        specs[2],
        (Transport::Ws, "127.0.0.1:5066".parse().unwrap(), None)
    );
}

#[test]
fn default_trusts_loopback_and_lan_and_forbids_the_rest() {
    let config = load_default().expect("valid");
    let mut admission = Admission::new(config.admission_settings());
    let mut admit = |ip: &str| admission.admit(epoch(), ip.parse::<IpAddr>().unwrap(), 0, false);
    assert_eq!(
        admit("127.0.0.1"),
        AdmissionDecision::Trusted {
            trunk: "loopback".into()
        }
    );
    assert_eq!(
        admit("::1"),
        AdmissionDecision::Trusted {
            trunk: "loopback".into()
        }
    );
    assert_eq!(
        admit("192.168.1.20"),
        AdmissionDecision::Trusted {
            trunk: "lan".into()
        }
    );
    assert_eq!(
        admit("fd12::5"),
        AdmissionDecision::Trusted {
            trunk: "lan".into()
        }
    );
    assert_eq!(admit("203.0.113.9"), AdmissionDecision::Forbidden);
}

#[test]
fn multi_tenant_views() {
    let config = load_file(&dialplans_dir().join("multi-tenant.toml")).expect("valid");
    assert_eq!(config.tenants.len(), 3);
    assert_eq!(
        config.tenant_for_did("+4570000102").map(|t| t.id.as_str()),
        Some("aarhus")
    );
    assert_eq!(
        config
            .tenant_for_did("+47 (810) 00-302")
            .map(|t| t.id.as_str()),
        Some("bergen")
    );
    assert_eq!(
        config.tenant_for_did("4570000201"),
        None,
        "a leading + is significant"
    );
    assert_eq!(config.tenant_for_did("999"), None);
    let tls = config
        .listen_specs()
        .into_iter()
        .find(|s| s.0 == Transport::Tls)
        .expect("tls listener");
    assert_eq!(
        tls.2.map(|p| p.cert),
        Some(PathBuf::from("certs/dev-cert.pem"))
    );
    assert_eq!(
        config.log_format(),
        crate::telemetry::logging::LogFormat::Json
    );
    let settings = config.admission_settings();
    assert!(settings.devices_configured);
    assert_eq!((settings.max_per_second, settings.burst), (50, 50));
    assert_eq!(settings.retry_after, Duration::from_secs(10));
    assert_eq!(
        settings.access.trunk_for("198.51.100.17".parse().unwrap()),
        Some("carrier-no")
    );
}

#[test]
fn device_hashes_in_multi_tenant_match_their_passwords() {
    let config = load_file(&dialplans_dir().join("multi-tenant.toml")).expect("valid");
    let lines = device_ha1_lines("unit-2001", &config.auth.realm, "Aarhus-Demo-2001");
    let device = config.auth.device("unit-2001").expect("device");
    assert!(lines.contains(device.ha1_md5.as_deref().unwrap_or("missing")));
    assert!(lines.contains(device.ha1_sha256.as_deref().unwrap_or("missing")));
}

#[test]
fn unknown_key_reports_its_line() {
    let text = format!("{BASE}\n[calls]\nmax_concurent = 10\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (11, "calls.max_concurent"));
    assert!(
        errs[0].2.contains("unknown field `max_concurent`"),
        "{}",
        errs[0].2
    );
}

#[test]
fn bad_cidr_reports_element_line_and_key() {
    let text = format!("{BASE}\n[[trunks]]\nname = \"carrier\"\nallow = [\n  \"192.0.2.0/24\",\n  \"192.0.2.300/32\",\n]\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (14, "trunks[1].allow[1]"));
    assert!(errs[0].2.contains("192.0.2.300/32"), "{}", errs[0].2);
}

#[test]
fn duplicate_did_and_tenant_id() {
    let text =
        format!("{BASE}\n[[tenants]]\nid = \"demo\"\nname = \"Other\"\ndids = [\"1-1-2\"]\n");
    let errs = errors(&text);
    let found: Vec<_> = errs.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    assert_eq!(found, [(11, "tenants[1].id"), (13, "tenants[1].dids[0]")]);
    assert!(
        errs[1].2.contains("already used at tenants[0].dids[0]"),
        "{}",
        errs[1].2
    );
}

#[test]
fn many_errors_at_once_in_file_order() {
    let text = r#"[log]
level = "info,alarmgate=loud"
colour = true

[http]
listen = "localhost"

[sip]
[[sip.listen]]
transport = "udp"
addr = "0.0.0.0:5060"
cert = "c.pem"
[sip.timers]
t1_ms = 5000

[media]
rtp_port_min = 30000
rtp_port_max = 20000
hold = "music"

[[trunks]]
name = "x"
allow = ["10.0.0.0/33", "::1"]

[[tenants]]
id = "Demo"
name = "Demo"
dids = ["112"]
codecs = ["G729"]

[[auth.devices]]
username = "u"
ha1_md5 = "abc"
"#;
    let errs = errors(text);
    let found: Vec<_> = errs.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "log.level"),
            (3, "log.colour"),
            (6, "http.listen"),
            (12, "sip.listen[0].cert"),
            (14, "sip.timers.t1_ms"),
            (17, "media.rtp_port_min"),
            (19, "media.hold"),
            (23, "trunks[0].allow[0]"),
            (26, "tenants[0].id"),
            (29, "tenants[0].codecs[0]"),
            (33, "auth.devices[0].ha1_md5"),
        ],
        "{errs:#?}"
    );
}

#[test]
fn tls_without_files_points_at_the_listener() {
    let text = format!("{BASE}\n[[sip.listen]]\ntransport = \"tls\"\naddr = \"[::]:5061\"\n");
    let found: Vec<_> = errors(&text).into_iter().map(|(l, k, _)| (l, k)).collect();
    assert_eq!(
        found,
        [
            (10, "sip.listen[0].cert".to_string()),
            (10, "sip.listen[0].key".to_string())
        ]
    );
}

#[test]
fn missing_required_key() {
    let text = "[[tenants]]\nid = \"a\"\ndids = [\"1\"]\n";
    let errs = errors(text);
    assert_eq!((errs[0].0, errs[0].1.as_str()), (1, "tenants[0].name"));
    assert!(errs[0].2.contains("missing field `name`"));
}

#[test]
fn syntax_errors_have_positions() {
    let errs = load_str("[node]\nname = \"x\nfoo = \n", "s.toml").expect_err("syntax");
    let first = &errs.errors[0];
    assert_eq!(first.line, 2, "{errs}");
    assert!(errs.to_string().starts_with("s.toml:2:"), "{errs}");
}

#[test]
fn display_format_is_file_line_col_key_message() {
    let text = format!("{BASE}\n[calls]\nretry_after_s = 0\n");
    let errs = load_str(&text, "dialplans/x.toml").expect_err("invalid");
    assert_eq!(
        errs.to_string(),
        "dialplans/x.toml:11:1: calls.retry_after_s: 0 is invalid: \
         at least 1 (0 would invite an immediate retry storm)"
    );
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let errs = load_file(&dialplans_dir().join("does-not-exist.toml")).expect_err("missing");
    assert!(matches!(errs.errors[0].problem, Problem::Io { .. }));
}

#[test]
fn uppercase_ha1_is_accepted_and_normalised() {
    let text = format!(
        "{BASE}\n[[auth.devices]]\nusername = \"u\"\nha1_md5 = \"{}\"\n",
        "AB".repeat(16)
    );
    let config = load_str(&text, "t.toml").expect("valid");
    assert_eq!(
        config.auth.devices[0].ha1_md5.as_deref(),
        Some("ab".repeat(16).as_str())
    );
}

#[test]
fn wss_without_a_certificate_points_at_the_listener_and_ws_takes_none() {
    let text = format!(
        "{BASE}\n[[sip.listen]]\ntransport = \"wss\"\naddr = \"[::]:5067\"\n\
         [[sip.listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:5066\"\ncert = \"c.pem\"\n"
    );
    let found: Vec<_> = errors(&text).into_iter().map(|(l, k, _)| (l, k)).collect();
    assert_eq!(
        found,
        [
            (10, "sip.listen[0].cert".to_string()),
            (10, "sip.listen[0].key".to_string()),
            (16, "sip.listen[1].cert".to_string()),
        ]
    );
}

#[test]
fn ws_and_wss_listeners_load() {
    let text = format!(
        "{BASE}\n[[sip.listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:5066\"\n\
         [[sip.listen]]\ntransport = \"wss\"\naddr = \"[::]:5067\"\n\
         cert = \"certs/dev-cert.pem\"\nkey = \"certs/dev-key.pem\"\n"
    );
    let config = load_str(&text, "ws.toml").expect("valid");
    let specs = config.listen_specs();
    assert_eq!(specs[0].0, Transport::Ws);
    assert_eq!(specs[0].2, None);
    assert_eq!(specs[1].0, Transport::Wss);
    let cert = specs[1].2.as_ref().map(|p| p.cert.clone());
    assert_eq!(cert, Some("certs/dev-cert.pem".into()));
}
