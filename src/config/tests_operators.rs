//! Whole-file tests of the operator side: the shipped dialplans' plans,
//! and every new key and cross-check reported at its line.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::routing::{OverflowTo, OverflowWhen, QueueId, TargetId};

fn dialplan(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dialplans")
        .join(name);
    match load_file(&path) {
        Ok(config) => config,
        Err(errs) => panic!("{name} does not validate:\n{errs}"),
    }
}

/// Loads `text` expecting failure; returns (line, key) pairs and the messages.
fn errors(text: &str) -> (Vec<(usize, String)>, Vec<String>) {
    let errs = load_str(text, "t.toml").expect_err("config should be rejected");
    let found = errs.iter().map(|e| (e.line, e.key.clone())).collect();
    (found, errs.iter().map(ConfigError::message).collect())
}

fn at(found: &[(usize, String)]) -> Vec<(usize, &str)> {
    found.iter().map(|(l, k)| (*l, k.as_str())).collect()
}

/// A valid operator side: lines 1-27.
const BASE: &str = r#"[[trunks]]
name = "lo"
allow = ["127.0.0.1"]

[[tenants]]
id = "demo"
name = "Demo"
dids = ["112"]
last_resort = "partner"

[[targets]]
id = "partner"
uri = "sip:partner@127.0.0.1:5070"
trunk = "lo"

[[queues]]
id = "main"
tenant = "demo"

[[operators]]
id = "anna"
name = "Anna"
ha1_md5 = "49387c7b0f2c025f689b4ad2369f7e0e"
queues = ["main"]

[registrar]
realm = "alarmgate"
"#;

#[test]
fn base_is_valid_with_defaults() {
    let config = load_str(BASE, "t.toml").expect("valid");
    let q = &config.queues[0];
    assert_eq!((q.ring_timeout_s, q.wrap_up_s, q.aging_per_s), (20, 30, 1));
    assert_eq!(q.priorities, Priorities::default());
    assert!(!config.operators[0].login_on_register);
    assert_eq!(
        config.tenants[0].default_class,
        crate::routing::CallClass::Voice
    );
    assert!(config.registrar.enabled && config.registrar_active());
    let off = load_str(&format!("{BASE}enabled = false\n"), "t.toml").expect("valid");
    assert!(!off.registrar_active() && off.has_operator_side());
    assert_eq!(config.trunks[0].transport, ListenTransport::Udp);
    let plan = config.routing_plan();
    assert_eq!(plan.problems(), vec![]);
    assert_eq!(plan.tenants[0].default_queue, QueueId::new("main"));
}

#[test]
fn default_dialplan_has_two_operators_and_a_last_resort() {
    let config = load_default().expect("valid");
    assert!(config.has_operator_side());
    let plan = config.routing_plan();
    assert_eq!(plan.problems(), vec![]);
    assert_eq!(plan.operators.len(), 2);
    assert!(plan.operators.iter().all(|o| o.login_on_register));
    assert_eq!(plan.tenants.len(), 1);
    assert_eq!(plan.tenants[0].last_resort, TargetId::new("dev-fallback"));
    let lines = device_ha1_lines("anna", &config.registrar.realm, "anna-dev-1001");
    let anna = &config.operators[0];
    assert!(lines.contains(anna.ha1_md5.as_deref().unwrap_or("missing")));
    assert!(lines.contains(anna.ha1_sha256.as_deref().unwrap_or("missing")));
    let line = token_sha256_line("dev-api-token-change-me");
    assert!(line.contains(&config.api.tokens[0].sha256));
}

#[test]
fn centre_dialplan_converts_to_a_consistent_plan() {
    let config = dialplan("centre.toml");
    let plan = config.routing_plan();
    assert_eq!(plan.problems(), vec![]);
    assert_eq!((plan.queues.len(), plan.operators.len()), (3, 4));
    assert_eq!((plan.targets.len(), plan.tenants.len()), (3, 3));
    let silkeborg = plan.tenant("silkeborg").expect("tenant");
    assert_eq!(silkeborg.default_queue, QueueId::new("silkeborg-alarms"));
    let aarhus = plan.queue(&QueueId::new("aarhus-alarms")).expect("queue");
    let whens: Vec<_> = aarhus.overflow.iter().map(|r| r.when).collect();
    assert_eq!(
        whens,
        [
            OverflowWhen::NoOperatorsLoggedIn,
            OverflowWhen::LongerThan(8),
            OverflowWhen::AfterWaiting(Duration::from_secs(90))
        ]
    );
    assert_eq!(
        aarhus.overflow[1].to,
        OverflowTo::Target(TargetId::new("partner-centre"))
    );
    assert_eq!((aarhus.aging_per_s, aarhus.priorities.technical), (2, 50));
    let code = crate::alarm::types::EventCode::new("100").ok();
    let emergency = crate::routing::CallClass::Emergency;
    assert_eq!(aarhus.base_priority(emergency, code.as_ref()), 1200);
    assert_eq!(plan.targets[0].trunk.as_deref(), Some("partner"));
    assert_eq!(config.default_class("odense"), emergency);
    assert_eq!(
        config.default_class("aarhus"),
        crate::routing::CallClass::Voice
    );
    assert_eq!(
        config.default_class("nowhere"),
        crate::routing::CallClass::Voice
    );
}

#[test]
fn centre_registrar_credentials_and_tokens() {
    let config = dialplan("centre.toml");
    let r = config.registrar_settings();
    assert_eq!(r.realm, "centre-1.example");
    assert_eq!(r.keepalive_interval, Some(Duration::from_secs(15)));
    assert_eq!((r.fail_limit, r.block_for), (5, Duration::from_secs(900)));
    assert_eq!(r.validate(), Ok(()));
    let creds = config.operator_credentials();
    let lars = &creds[&crate::routing::OperatorId::new("lars")];
    assert_eq!(lars.ha1_md5, None);
    let lines = device_ha1_lines("lars", &r.realm, "Lars-Centre-02");
    assert!(lines.contains(lars.ha1_sha256.as_deref().unwrap_or("missing")));
    let tokens = config.api_tokens();
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0].name, "console");
    assert_eq!(
        tokens[2].scope,
        crate::config::TokenScope::Tenants(["aarhus".to_string()].into())
    );
    let partner = config.trunk("partner").and_then(|t| t.proxy.clone());
    assert_eq!(
        partner.map(|p| p.port_or_default(ListenTransport::Tcp)),
        Some(5060)
    );
    let target = config
        .target(&TargetId::new("aarhus-night"))
        .expect("target");
    assert_eq!(target.trunk, "carrier-dk");
}

#[test]
fn a_dialplan_without_operators_routes_nothing() {
    let config = dialplan("multi-tenant.toml");
    assert!(!config.has_operator_side());
    let plan = config.routing_plan();
    assert!(plan.queues.is_empty() && plan.tenants.is_empty());
}

#[test]
fn unknown_references_report_their_lines() {
    let text = format!(
        "{BASE}\n[[queues]]\nid = \"night\"\ntenant = \"nowhere\"\n\
         [[queues.overflow]]\nafter_s = 30\nto_queue = \"ghost\"\n\
         [[queues.overflow]]\nno_operator_logged_in = true\nto_target = \"nobody\"\n\n\
         [[operators]]\nid = \"bo\"\nname = \"Bo\"\nha1_md5 = \"{}\"\nqueues = [\"main\", \"gone\"]\n",
        "0".repeat(32)
    );
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [
            (31, "queues[1].tenant"),
            (34, "queues[1].overflow[0].to_queue"),
            (37, "queues[1].overflow[1].to_target"),
            (43, "operators[1].queues[1]"),
        ]
    );
    assert!(
        messages[1].contains("no [[queues]] entry has id \"ghost\""),
        "{messages:?}"
    );
}

#[test]
fn duplicates_and_a_tenant_without_last_resort() {
    let text = BASE.replace("last_resort = \"partner\"\n", "")
        + "\n[[queues]]\nid = \"main\"\ntenant = \"demo\"\n\n[[operators]]\nid = \"anna\"\n\
           name = \"Anna 2\"\nha1_md5 = \"49387c7b0f2c025f689b4ad2369f7e0e\"\n";
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [
            (5, "tenants[0].default_queue"),
            (5, "tenants[0].last_resort"),
            (29, "queues[1].id"),
            (33, "operators[1].id"),
        ],
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("an alarm is never rejected")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("several [[queues]]")),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("already used at queues[0].id"),
        "{messages:?}"
    );
}

#[test]
fn overflow_rule_shape_and_default_queue_of_another_tenant() {
    let text = format!(
        "{BASE}\n[[queues.overflow]]\nafter_s = 5\nlonger_than = 3\n\n\
         [[tenants]]\nid = \"other\"\nname = \"Other\"\ndids = [\"113\"]\n\
         default_queue = \"main\"\nlast_resort = \"partner\"\n"
    );
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [
            (29, "queues[0].overflow[0]"),
            (31, "queues[0].overflow[0].longer_than"),
            (37, "tenants[1].default_queue"),
        ]
    );
    assert!(messages[0].contains("one destination"), "{messages:?}");
    assert!(
        messages[2].contains("belongs to tenant \"demo\""),
        "{messages:?}"
    );
}

#[test]
fn rtp_range_holding_a_sip_port() {
    let text = format!(
        "{BASE}\n[sip]\n[[sip.listen]]\ntransport = \"udp\"\naddr = \"0.0.0.0:20000\"\n\
         [[sip.listen]]\ntransport = \"tcp\"\naddr = \"0.0.0.0:20002\"\n"
    );
    let (found, messages) = errors(&text);
    assert_eq!(at(&found), [(32, "sip.listen[0].addr")]);
    assert!(messages[0].contains("20000..=29999"), "{messages:?}");
}

#[test]
fn trunk_target_api_and_registrar_values() {
    let text = BASE
        .replace("trunk = \"lo\"\n", "trunk = \"gone\"\n")
        .replace(
            "allow = [\"127.0.0.1\"]\n",
            "allow = [\"127.0.0.1\"]\nproxy = \"sbc:99999\"\ntransport = \"sctp\"\n",
        )
        + "min_expires_s = 7200\nkeepalive_interval_s = 4000\n\n[api]\n[[api.tokens]]\n\
         name = \"console\"\nsha256 = \"abc\"\n\n[[operators.extra]]\n";
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [
            (4, "trunks[0].proxy"),
            (5, "trunks[0].transport"),
            (16, "targets[0].trunk"),
            (30, "registrar.min_expires_s"),
            (31, "registrar.keepalive_interval_s"),
            (36, "api.tokens[0].sha256"),
            (38, "operators[0].extra"),
        ]
    );
    assert!(
        messages[0].contains("not a valid host or host:port"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("unknown variant `sctp`"),
        "{messages:?}"
    );
}

#[test]
fn recall_trunk_must_exist_and_have_a_proxy() {
    let text = BASE.replace(
        "last_resort = \"partner\"\n",
        "last_resort = \"partner\"\nrecall_trunk = \"lo\"\n",
    )
        + "\n[[tenants]]\nid = \"b\"\nname = \"B\"\ndids = [\"2\"]\ndefault_queue = \"main\"\n\
         last_resort = \"partner\"\nrecall_trunk = \"gone\"\n";
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [
            (10, "tenants[0].recall_trunk"),
            (34, "tenants[1].default_queue"),
            (36, "tenants[1].recall_trunk"),
        ]
    );
    assert!(messages[0].contains("has no proxy"), "{messages:?}");
    assert!(messages[2].contains("no [[trunks]] entry"), "{messages:?}");
}

#[test]
fn skills_the_operator_lacks_and_unknown_keys() {
    let text = BASE.replace(
        "id = \"main\"\ntenant = \"demo\"\n",
        "id = \"main\"\ntenant = \"demo\"\nskills = [\"danish\"]\npriority = 3\n",
    );
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        [(20, "queues[0].priority"), (26, "operators[0].queues[0]")]
    );
    assert!(
        messages[0].contains("unknown field `priority`"),
        "{messages:?}"
    );
    let text = text.replace("priority = 3\n", "");
    let (found, messages) = errors(&text);
    assert_eq!(at(&found), [(25, "operators[0].queues[0]")]);
    assert!(messages[0].contains("lacks: danish"), "{messages:?}");
}

#[test]
fn an_outgoing_tls_trunk_is_accepted_and_its_tls_table_checked_at_its_lines() {
    let trunk = "[[trunks]]\nname = \"p\"\nallow = [\"198.51.100.40/30\"]\ntransport = \"tls\"\n";
    let (found, messages) = errors(trunk);
    assert_eq!(at(&found), vec![(4, "trunks[0].transport")]);
    assert!(messages[0].contains("sip.listen"), "{messages:?}");
    // Lines 1-5: the TLS listener; 6-9: the trunk; 10-12: its tls table.
    let listener = "[[sip.listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:5061\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n";
    let text = format!("{listener}{trunk}");
    assert!(load_str(&text, "t.toml").is_ok());
    let text = format!("{text}[trunks.tls]\nclient_key = \"k.pem\"\nserver_name = \"a b\"\n");
    let (found, messages) = errors(&text);
    assert_eq!(
        at(&found),
        vec![
            (11, "trunks[0].tls.client_key"),
            (12, "trunks[0].tls.server_name")
        ]
    );
    assert!(messages[0].contains("client_cert"), "{messages:?}");
    let plain = text.replace(
        "allow = [\"198.51.100.40/30\"]\ntransport = \"tls\"\n",
        "allow = [\"198.51.100.40/30\"]\n",
    );
    let (found, _) = errors(&plain);
    assert!(at(&found).contains(&(9, "trunks[0].tls")), "{found:?}");
}
