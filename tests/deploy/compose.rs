//! `deploy/compose.yaml`: alarmgate, NATS with JetStream, Prometheus and
//! Grafana wired together; every mounted file exists, every name and port
//! one service uses for another is the one that service has.

use crate::common::{items, read, root, text, yaml, yaml_docs};
use yaml_rust2::Yaml;

const FILE: &str = "deploy/compose.yaml";

fn service(name: &str) -> Yaml {
    let doc = yaml(FILE);
    let svc = doc["services"][name].clone();
    assert!(!svc.is_badvalue(), "{FILE}: no service {name}");
    svc
}

/// The bind mounts of a service: (file under deploy/, path in the container).
fn binds(svc: &Yaml) -> Vec<(String, String)> {
    items(&svc["volumes"])
        .iter()
        .filter_map(text)
        .filter(|v| v.starts_with("./"))
        .map(|v| {
            let mut parts = v.split(':');
            let host = parts.next().unwrap_or_default().trim_start_matches("./");
            let inside = parts.next().unwrap_or_default();
            (format!("deploy/{host}"), inside.to_string())
        })
        .collect()
}

fn mounted_at(svc: &Yaml, inside: &str) -> String {
    binds(svc)
        .into_iter()
        .find(|(_, at)| at == inside)
        .map(|(host, _)| host)
        .unwrap_or_else(|| panic!("nothing mounted at {inside}"))
}

#[test]
fn every_bind_mounted_file_exists_and_the_build_uses_the_containerfile() {
    let doc = yaml(FILE);
    let services = doc["services"].as_hash().expect("services").clone();
    for (name, svc) in services {
        for (host, _) in binds(&svc) {
            assert!(
                root().join(&host).exists(),
                "{name:?}: {host} does not exist"
            );
        }
    }
    let build = &service("alarmgate")["build"];
    let file = text(&build["dockerfile"]).unwrap_or_default();
    assert!(root().join(&file).exists(), "build.dockerfile {file}");
    assert_eq!(text(&build["context"]).as_deref(), Some(".."));
}

#[test]
fn alarmgate_runs_the_mounted_dialplan_and_publishes_its_ports() {
    let svc = service("alarmgate");
    let command: Vec<String> = items(&svc["command"]).iter().filter_map(text).collect();
    let at = command.last().cloned().unwrap_or_default();
    let source = mounted_at(&svc, &at);
    let config = alarmgate::config::load_file(&root().join(&source))
        .unwrap_or_else(|e| panic!("{source}: {e}"));
    let ports: Vec<String> = items(&svc["ports"]).iter().filter_map(text).collect();
    let published = |port: u16, proto: &str| {
        ports
            .iter()
            .any(|p| p.ends_with(&format!(":{port}/{proto}")))
    };
    assert!(published(config.http.listen.port(), "tcp"), "{ports:?}");
    for (transport, addr, _) in config.listen_specs() {
        let proto = if transport == alarmgate::sip::types::Transport::Udp {
            "udp"
        } else {
            "tcp"
        };
        assert!(
            published(addr.port(), proto),
            "SIP {addr} {proto} not in {ports:?}"
        );
    }
    let rtp = format!(
        "{}-{}",
        config.media.rtp_port_min, config.media.rtp_port_max
    );
    assert!(
        ports.contains(&format!("{rtp}:{rtp}/udp")),
        "RTP {rtp} not in {ports:?}"
    );
    let journal = config.alarm.journal_dir.to_string_lossy().to_string();
    let volumes: Vec<String> = items(&svc["volumes"]).iter().filter_map(text).collect();
    assert!(
        volumes.iter().any(|v| !v.starts_with("./")
            && v.split(':')
                .nth(1)
                .is_some_and(|at| journal.starts_with(at))),
        "the journal {journal} is not on a named volume: {volumes:?}"
    );
    // the bus goes to the compose file's NATS, which runs JetStream
    let bus = config.bus.expect("[bus] in the compose dialplan");
    assert!(bus.url.starts_with("nats://nats:"), "{}", bus.url);
    let nats: Vec<String> = items(&service("nats")["command"])
        .iter()
        .filter_map(text)
        .collect();
    assert!(
        nats.iter().any(|a| a == "-js"),
        "NATS without JetStream: {nats:?}"
    );
}

#[test]
fn prometheus_scrapes_alarmgate_and_loads_the_rules() {
    let prom = service("prometheus");
    let config_path = mounted_at(&prom, "/etc/prometheus/prometheus.yml");
    let config = yaml(&config_path);
    let rule_files: Vec<String> = items(&config["rule_files"])
        .iter()
        .filter_map(text)
        .collect();
    assert!(!rule_files.is_empty());
    for inside in &rule_files {
        assert_eq!(mounted_at(&prom, inside), "deploy/prometheus-rules.yml");
    }
    let dialplan =
        alarmgate::config::load_file(&root().join("deploy/compose.toml")).expect("valid");
    let job = items(&config["scrape_configs"])
        .into_iter()
        .find(|j| text(&j["job_name"]).as_deref() == Some("alarmgate"))
        .expect("a scrape job named alarmgate (the AlarmgateDown rule names it)");
    assert_eq!(text(&job["metrics_path"]).as_deref(), Some("/metrics"));
    let target = text(&job["static_configs"][0]["targets"][0]).unwrap_or_default();
    assert_eq!(target, format!("alarmgate:{}", dialplan.http.listen.port()));
    assert!(read("deploy/prometheus-rules.yml").contains("up{job=\"alarmgate\"}"));
}

#[test]
fn grafana_is_provisioned_with_the_datasource_and_the_dashboard() {
    let graf = service("grafana");
    let sources = mounted_at(&graf, "/etc/grafana/provisioning/datasources");
    let ds = yaml(&format!("{sources}/prometheus.yml"));
    let first = &ds["datasources"][0];
    assert_eq!(
        text(&first["url"]).as_deref(),
        Some("http://prometheus:9090")
    );
    let uid = text(&first["uid"]).unwrap_or_default();
    let ports: Vec<String> = items(&service("prometheus")["ports"])
        .iter()
        .filter_map(text)
        .collect();
    assert!(ports.iter().any(|p| p.ends_with(":9090/tcp")), "{ports:?}");
    let providers = mounted_at(&graf, "/etc/grafana/provisioning/dashboards");
    let provider = yaml_docs(&format!("{providers}/alarmgate.yml")).remove(0);
    let dir = text(&provider["providers"][0]["options"]["path"]).unwrap_or_default();
    let dashboard = mounted_at(&graf, &format!("{dir}/alarmgate.json"));
    assert_eq!(dashboard, "deploy/grafana/alarmgate.json");
    let json: serde_json::Value = serde_json::from_str(&read(&dashboard)).expect("JSON");
    let text = json.to_string();
    assert!(
        text.contains(&format!("\"uid\":\"{uid}\"")),
        "the dashboard uses datasource {uid}"
    );
}
