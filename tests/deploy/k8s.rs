//! `deploy/k8s/`: every manifest parses; Services, probes, the PDB and the
//! volume claim refer to ports, paths, labels and volumes that exist; the
//! ConfigMap's dialplan is valid.

use crate::common::{http_routes, items, root, text, yaml_docs};
use std::collections::BTreeMap;
use yaml_rust2::Yaml;

/// Every document of every `deploy/k8s/*.yaml`, by kind (several per kind).
fn manifests() -> BTreeMap<String, Vec<Yaml>> {
    let mut out: BTreeMap<String, Vec<Yaml>> = BTreeMap::new();
    let dir = root().join("deploy/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .flatten()
        .collect();
    files.sort_by_key(|f| f.path());
    for file in files {
        let name = file.file_name().to_string_lossy().to_string();
        if !name.ends_with(".yaml") {
            continue;
        }
        for doc in yaml_docs(&format!("deploy/k8s/{name}")) {
            let kind =
                text(&doc["kind"]).unwrap_or_else(|| panic!("{name}: a document without kind"));
            assert!(
                text(&doc["apiVersion"]).is_some(),
                "{name}: {kind} without apiVersion"
            );
            assert!(
                text(&doc["metadata"]["name"]).is_some(),
                "{name}: {kind} without a name"
            );
            out.entry(kind).or_default().push(doc);
        }
    }
    out
}

fn one(m: &BTreeMap<String, Vec<Yaml>>, kind: &str) -> Yaml {
    let list = m.get(kind).cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "one {kind} expected");
    list.into_iter().next().unwrap_or(Yaml::Null)
}

fn labels(node: &Yaml) -> BTreeMap<String, String> {
    node.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// True when every label of `selector` is on `pod`.
fn selects(selector: &Yaml, pod: &BTreeMap<String, String>) -> bool {
    let sel = labels(selector);
    !sel.is_empty() && sel.iter().all(|(k, v)| pod.get(k) == Some(v))
}

fn container(set: &Yaml) -> Yaml {
    set["spec"]["template"]["spec"]["containers"][0].clone()
}

/// The container's ports: name -> (number, protocol).
fn pod_ports(set: &Yaml) -> BTreeMap<String, (i64, String)> {
    items(&container(set)["ports"])
        .iter()
        .map(|p| {
            let proto = text(&p["protocol"]).unwrap_or_else(|| "TCP".into());
            (
                text(&p["name"]).unwrap_or_default(),
                (p["containerPort"].as_i64().unwrap_or(0), proto),
            )
        })
        .collect()
}

fn dialplan(m: &BTreeMap<String, Vec<Yaml>>) -> alarmgate::config::Config {
    let map = one(m, "ConfigMap");
    let toml = text(&map["data"]["alarmgate.toml"]).expect("data alarmgate.toml");
    alarmgate::config::load_str(&toml, "deploy/k8s/configmap.yaml")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn services_select_the_pods_and_name_ports_the_pod_has() {
    let m = manifests();
    let set = one(&m, "StatefulSet");
    let pod = labels(&set["spec"]["template"]["metadata"]["labels"]);
    assert!(selects(&set["spec"]["selector"]["matchLabels"], &pod));
    let ports = pod_ports(&set);
    let services = m.get("Service").cloned().unwrap_or_default();
    let mut offered = Vec::new();
    for svc in &services {
        let name = text(&svc["metadata"]["name"]).unwrap_or_default();
        assert!(
            selects(&svc["spec"]["selector"], &pod),
            "Service {name} selects no pod"
        );
        for p in items(&svc["spec"]["ports"]) {
            let target = text(&p["targetPort"]).unwrap_or_default();
            let proto = text(&p["protocol"]).unwrap_or_else(|| "TCP".into());
            let found = ports
                .get(&target)
                .or_else(|| ports.values().find(|(n, _)| n.to_string() == target));
            let (_, pod_proto) = found
                .unwrap_or_else(|| panic!("Service {name}: targetPort {target} is not a pod port"));
            assert_eq!(&proto, pod_proto, "Service {name} port {target}");
            offered.push(text(&p["name"]).unwrap_or_default());
        }
    }
    for needed in ["sip-udp", "sip-tcp", "sip-ws", "http"] {
        assert!(
            offered.iter().any(|o| o == needed),
            "no Service offers {needed}"
        );
    }
    let governing = text(&set["spec"]["serviceName"]).unwrap_or_default();
    let headless = services
        .iter()
        .find(|s| text(&s["metadata"]["name"]).as_deref() == Some(governing.as_str()));
    assert_eq!(
        headless
            .and_then(|s| text(&s["spec"]["clusterIP"]))
            .as_deref(),
        Some("None")
    );
}

#[test]
fn the_pod_ports_are_the_ones_the_dialplan_listens_on() {
    let m = manifests();
    let config = dialplan(&m);
    let ports = pod_ports(&one(&m, "StatefulSet"));
    assert_eq!(
        ports.get("http").map(|p| p.0),
        Some(i64::from(config.http.listen.port()))
    );
    for (transport, addr, _) in config.listen_specs() {
        let (name, proto) = match transport {
            alarmgate::sip::types::Transport::Udp => ("sip-udp", "UDP"),
            _ => ("sip-tcp", "TCP"),
        };
        assert_eq!(
            ports.get(name),
            Some(&(i64::from(addr.port()), proto.to_string())),
            "{addr}"
        );
    }
    assert!(
        config.http.listen.ip().is_unspecified(),
        "probes come from the kubelet, not loopback"
    );
}

#[test]
fn probes_ask_the_daemons_real_routes_on_a_named_port() {
    let m = manifests();
    let set = one(&m, "StatefulSet");
    let c = container(&set);
    let routes = http_routes();
    let ports = pod_ports(&set);
    for (probe, want) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let path = text(&c[probe]["httpGet"]["path"]).unwrap_or_default();
        assert_eq!(path, want, "{probe}");
        assert!(
            routes.contains(&path),
            "{probe}: {path} is not a route of src/telemetry/http.rs"
        );
        let port = text(&c[probe]["httpGet"]["port"]).unwrap_or_default();
        assert!(
            ports.contains_key(&port),
            "{probe}: port {port} is not a pod port"
        );
    }
    let grace = set["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30);
    let drain = dialplan(&m).calls.shutdown_grace_s;
    assert!(
        grace > i64::try_from(drain).unwrap_or(i64::MAX),
        "the pod is killed before its drain ends: {grace} <= {drain}"
    );
}

#[test]
fn the_journal_is_on_the_volume_claim_and_the_dialplan_on_the_configmap() {
    let m = manifests();
    let set = one(&m, "StatefulSet");
    let c = container(&set);
    let mounts: Vec<(String, String)> = items(&c["volumeMounts"])
        .iter()
        .map(|v| {
            (
                text(&v["name"]).unwrap_or_default(),
                text(&v["mountPath"]).unwrap_or_default(),
            )
        })
        .collect();
    let claim =
        text(&set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]).expect("a volume claim");
    let journal = dialplan(&m).alarm.journal_dir.to_string_lossy().to_string();
    assert!(
        mounts
            .iter()
            .any(|(n, at)| *n == claim && journal.starts_with(at.as_str())),
        "journal {journal} not on claim {claim}: {mounts:?}"
    );
    let args: Vec<String> = items(&c["args"]).iter().filter_map(text).collect();
    let config_path = args.last().cloned().unwrap_or_default();
    let volume = items(&set["spec"]["template"]["spec"]["volumes"])
        .into_iter()
        .find(|v| text(&v["configMap"]["name"]).is_some())
        .expect("a configMap volume");
    let map_name = text(&one(&m, "ConfigMap")["metadata"]["name"]);
    assert_eq!(text(&volume["configMap"]["name"]), map_name);
    let vol_name = text(&volume["name"]).unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|(n, at)| *n == vol_name && config_path == format!("{at}/alarmgate.toml")),
        "--config {config_path} is not the ConfigMap's file: {mounts:?}"
    );
    let ctx = &set["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(ctx["runAsNonRoot"].as_bool(), Some(true));
}

#[test]
fn the_disruption_budget_covers_the_pods_and_leaves_one_running() {
    let m = manifests();
    let set = one(&m, "StatefulSet");
    let pod = labels(&set["spec"]["template"]["metadata"]["labels"]);
    let pdb = one(&m, "PodDisruptionBudget");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], &pod));
    let replicas = set["spec"]["replicas"].as_i64().unwrap_or(1);
    let unavailable = pdb["spec"]["maxUnavailable"].as_i64().unwrap_or(replicas);
    assert!(
        replicas >= 2 && unavailable < replicas,
        "replicas {replicas}, maxUnavailable {unavailable}"
    );
}
