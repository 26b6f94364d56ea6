//! Recall and forward over a TLS trunk (issue 13, outgoing TLS): for a
//! recall the daemon opens TLS to the trunk's proxy, where a pjsua2 softphone listens for SIP over TLS
//! as the citizen's unit, checks its certificate against the trunk's CA
//! bundle and the proxy's address (an IP subjectAltName), and the call
//! connects with tones both ways. A unit whose certificate another CA
//! signed is refused: the handshake fails, the unit never rings, and the
//! operator's call ends at once rather than at Timer B. An alarm call
//! nobody can take is forwarded over a TLS trunk to the partner centre (a
//! pjsua2 softphone on TLS), which hears the unit.

use super::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// PEM files of a test CA and a leaf for 127.0.0.1 it signed.
struct TestPki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA named `name` and a leaf for 127.0.0.1 it signed, written in `dir`.
fn pki(dir: &Path, name: &str) -> TestPki {
    std::fs::create_dir_all(dir).expect("pki dir");
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("leaf params");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).expect("write PEM");
        path
    };
    TestPki {
        ca: write("ca.pem", ca_cert.pem()),
        cert: write("unit.pem", leaf_cert.pem()),
        key: write("unit-key.pem", leaf_key.serialize_pem()),
    }
}

/// The recall dialplan with trunk `pstn` over TLS to `127.0.0.1:<port>`,
/// trusting `ca`.
fn tls_recall_config(port: u16, ca: &Path) -> Config {
    tls_recall_config_with(port, ca, "")
}

/// [`tls_recall_config`] with more keys in `[trunks.tls]`.
fn tls_recall_config_with(port: u16, ca: &Path, tls_keys: &str) -> Config {
    let mut plan = Plan::new(&["op1"], NOWHERE);
    plan.tenant_keys
        .push_str(&format!("recall_trunk = \"{RECALL_TRUNK}\"\n"));
    let mut cfg = plan.config();
    cfg.tls = true; // our Contact for the TLS dialog: the peer's BYE comes there
    cfg.extra.push_str(&format!(
        "[[trunks]]\nname = \"{RECALL_TRUNK}\"\nallow = [\"192.0.2.0/24\"]\nproxy = \"127.0.0.1:{port}\"\ntransport = \"tls\"\n[trunks.tls]\nca = \"{}\"\n{tls_keys}\n",
        ca.display()
    ));
    cfg
}

/// The citizen's unit listening for SIP over TLS on `port` with `pki`'s leaf.
fn tls_unit(d: &Daemon, port: u16, pki: &TestPki) -> Softphone {
    Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            tone_hz: f64::from(UNIT_HZ),
            measure: vec![f64::from(UNIT_HZ), f64::from(OPERATOR_HZ)],
            tls: Some((port, pki.cert.clone(), pki.key.clone())),
            ..PhoneOpts::new("unit")
        },
    )
}

fn pki_dir(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{test}-{}", std::process::id()))
}

#[test]
fn operators_api_recall_over_a_tls_trunk_checks_the_certificate_and_connects() {
    let test = "operators_api_recall_over_a_tls_trunk_checks_the_certificate_and_connects";
    let dir = pki_dir(test);
    let pki = pki(&dir, "alarmgate test CA");
    let tls_port = free_port();
    let Some(d) = daemon(test, &tls_recall_config(tls_port, &pki.ca)) else {
        return;
    };
    let unit = tls_unit(&d, tls_port, &pki);
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    assert!(op1.wait_state(inc, "CONFIRMED", SHORT).is_some());
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the daemon never called the unit over TLS");
    assert!(
        unit.wait_state(uinc, "CONFIRMED", SHORT).is_some(),
        "the unit did not connect over TLS: {:?}",
        unit.events()
    );
    assert_heard(&op1, inc, UNIT_HZ);
    assert_heard(&unit, uinc, OPERATOR_HZ);
    op1.send(json!({"cmd": "hangup"}));
    assert!(
        unit.wait_state(uinc, "DISCONNECTED", SHORT).is_some(),
        "the BYE did not reach the unit over the TLS connection: {:?}",
        unit.events()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn operators_api_recall_over_a_tls_trunk_refuses_a_certificate_of_another_ca() {
    let test = "operators_api_recall_over_a_tls_trunk_refuses_a_certificate_of_another_ca";
    let dir = pki_dir(test);
    let trusted = pki(&dir.join("trusted"), "alarmgate test CA");
    let other = pki(&dir.join("other"), "somebody else's CA");
    let tls_port = free_port();
    let Some(d) = daemon(test, &tls_recall_config(tls_port, &trusted.ca)) else {
        return;
    };
    let unit = tls_unit(&d, tls_port, &other);
    let op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    assert!(op1.wait_state(inc, "CONFIRMED", SHORT).is_some());
    assert!(
        op1.wait_state(inc, "DISCONNECTED", Duration::from_secs(20))
            .is_some(),
        "op1's call stayed up although the unit's TLS was refused"
    );
    let refused = d
        .metric(
            "alarmgate_sip_connections_closed_total",
            &[("reason", "tls_connect_failed")],
        )
        .unwrap_or(0.0);
    assert!(refused >= 1.0, "no refused TLS connection counted");
    assert_eq!(
        unit.incoming_count(),
        0,
        "the unit rang despite its certificate"
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "{:?}",
        calls(&d)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Nobody logged in: the spandsp unit's alarm call is forwarded at once to
/// the partner centre over the TLS trunk (no proxy: the target URI's host),
/// whose certificate the trunk's CA signed; the partner hears the unit.
#[test]
fn operators_api_forward_to_a_partner_over_a_tls_trunk() {
    let test = "operators_api_forward_to_a_partner_over_a_tls_trunk";
    if !crate::harness::need_spandsp(test) {
        return;
    }
    let dir = pki_dir(test);
    let pki = pki(&dir, "partner centre CA");
    let tls_port = free_port();
    let uri = format!("sip:partner@127.0.0.1:{tls_port};transport=tls");
    let mut plan = Plan::new(&["op1"], &uri);
    plan.queue
        .push_str("\n[[queues.overflow]]\nno_operator_logged_in = true\nto_target = \"partner\"\n");
    let mut cfg = plan.config();
    cfg.tls = true; // our Contact for the TLS dialog: the partner's BYE comes there
    cfg.extra = cfg.extra.replace(
        &format!("uri = \"{uri}\"\ntrunk = \"loopback\""),
        &format!("uri = \"{uri}\"\ntrunk = \"partner-tls\""),
    );
    cfg.extra.push_str(&format!(
        "[[trunks]]\nname = \"partner-tls\"\nallow = [\"192.0.2.0/24\"]\ntransport = \"tls\"\n[trunks.tls]\nca = \"{}\"\n\n",
        pki.ca.display()
    ));
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let mut partner = tls_unit(&d, tls_port, &pki);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let inc = partner
        .wait_incoming(0, RING_WAIT)
        .expect("the alarm was never forwarded to the partner over TLS");
    assert!(
        partner.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "the partner did not connect over TLS: {:?}",
        partner.events()
    );
    assert_heard(&partner, inc, UNIT_HZ);
    partner.send(json!({"cmd": "hangup"}));
    assert!(
        partner.wait_state(inc, "DISCONNECTED", SHORT).is_some(),
        "the partner's hang-up did not end its call"
    );
    let unit = unit.wait();
    eprintln!("{test}: unit {}", unit.json);
    assert_eq!(unit.json["ended_by_remote"], true, "{}", unit.json);
    let _ = std::fs::remove_dir_all(dir);
}

/// Mutual TLS: the unit asks for a client certificate its CA signed. With
/// `client_cert`/`client_key` on the trunk the recall connects; without
/// them the handshake fails and the unit never rings.
#[test]
fn operators_api_recall_over_a_tls_trunk_presents_our_certificate_when_asked() {
    let test = "operators_api_recall_over_a_tls_trunk_presents_our_certificate_when_asked";
    let dir = pki_dir(test);
    let unit_pki = pki(&dir.join("unit"), "unit CA");
    let ours = pki(&dir.join("ours"), "alarmgate client CA");
    let identity = format!(
        "client_cert = \"{}\"\nclient_key = \"{}\"\n",
        ours.cert.display(),
        ours.key.display()
    );
    for (keys, connects) in [(identity.as_str(), true), ("", false)] {
        let tls_port = free_port();
        let cfg = tls_recall_config_with(tls_port, &unit_pki.ca, keys);
        let Some(d) = daemon(test, &cfg) else {
            return;
        };
        let unit = Softphone::spawn(
            &d.dir.path,
            &PhoneOpts {
                tls: Some((tls_port, unit_pki.cert.clone(), unit_pki.key.clone())),
                tls_client_ca: Some(ours.ca.clone()),
                ..PhoneOpts::new("unit")
            },
        );
        let op1 = operator_phone(&d, operator_opts("op1"));
        let (status, accepted) = recall(&d, "op1", CITIZEN);
        assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
        let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
        assert!(op1.wait_state(inc, "CONFIRMED", SHORT).is_some());
        if connects {
            let uinc = unit
                .wait_incoming(0, RING_WAIT)
                .expect("the unit never rang although we presented our certificate");
            assert!(unit.wait_state(uinc, "CONFIRMED", SHORT).is_some());
        } else {
            assert!(
                op1.wait_state(inc, "DISCONNECTED", Duration::from_secs(20))
                    .is_some(),
                "op1's call stayed up although the unit refused us"
            );
            assert_eq!(
                unit.incoming_count(),
                0,
                "the unit rang without our certificate"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
