//! `deploy/Containerfile`: stages, the non-root user, the volume, the
//! health check and the baked-in dialplan, read as text (no container engine
//! here; `hadolint` lints it when installed).

use crate::common::{http_routes, read, root, run_ok, tool};
use std::collections::BTreeSet;

const FILE: &str = "deploy/Containerfile";

/// The instructions, continuation lines joined, comments dropped: (keyword, rest).
fn instructions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in read(FILE).lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() && pending.is_empty() {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\'));
        pending.push(' ');
        if !line.ends_with('\\') {
            let (key, rest) = pending
                .trim()
                .split_once(' ')
                .unwrap_or((pending.trim(), ""));
            out.push((key.to_ascii_uppercase(), rest.trim().to_string()));
            pending.clear();
        }
    }
    out
}

/// The instructions of the last stage (after the last FROM).
fn final_stage() -> Vec<(String, String)> {
    let all = instructions();
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").unwrap_or(0);
    all.into_iter().skip(last_from).collect()
}

fn values(stage: &[(String, String)], key: &str) -> Vec<String> {
    stage
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The words of a JSON-array instruction (`["a", "b"]`) or a plain one.
fn words(value: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(value) {
        Ok(list) => list,
        Err(_) => value.split_whitespace().map(str::to_string).collect(),
    }
}

/// The baked-in dialplan's path in the image and its source in the repository.
fn baked_config() -> (String, String) {
    let copy = values(&final_stage(), "COPY")
        .into_iter()
        .find(|c| c.contains(".toml"))
        .expect("the runtime stage copies a dialplan");
    let parts = words(&copy);
    (parts[1].clone(), parts[0].clone())
}

#[test]
fn the_image_builds_in_a_rust_stage_and_runs_in_a_small_one() {
    let all = instructions();
    let froms = values(&all, "FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(
        froms[0].contains("rust") && froms[0].contains(" AS builder"),
        "{froms:?}"
    );
    let last = froms.last().cloned().unwrap_or_default();
    assert!(
        !last.contains("rust") && (last.contains("slim") || last.contains("distroless")),
        "the runtime image is small, not the toolchain: {last}"
    );
    let stage = final_stage();
    assert!(values(&stage, "COPY")
        .iter()
        .any(|c| c.starts_with("--from=builder")));
    let builds = values(&all, "RUN").join(" ");
    assert!(
        builds.contains("cargo build --release --locked --bin alarmgate"),
        "{builds}"
    );
}

#[test]
fn the_build_context_has_every_file_the_crate_includes() {
    let copied: BTreeSet<String> = instructions()
        .into_iter()
        .filter(|(k, v)| k == "COPY" && !v.starts_with("--from"))
        .flat_map(|(_, v)| {
            let w = words(&v);
            w[..w.len() - 1].to_vec()
        })
        .collect();
    for source in &copied {
        assert!(
            root().join(source).exists(),
            "COPY {source}: not in the repository"
        );
    }
    // include_str!("../../schema/...") and the like: their top directory must be copied
    let mut needed = BTreeSet::from(["src".to_string(), "Cargo.lock".to_string()]);
    for path in ["src/bus/schema.rs", "src/config/mod.rs"] {
        for inc in read(path).split("include_str!(\"../../").skip(1) {
            needed.insert(inc.split('/').next().unwrap_or_default().to_string());
        }
    }
    for dir in needed {
        assert!(
            copied.contains(&dir),
            "the build needs {dir}/ but {FILE} does not COPY it"
        );
    }
}

#[test]
fn it_runs_as_a_non_root_user_with_the_journal_on_a_volume() {
    let stage = final_stage();
    let user = values(&stage, "USER")
        .pop()
        .expect("USER in the runtime stage");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(
        uid != "0" && uid != "root" && !uid.is_empty(),
        "USER {user}"
    );
    let (path, source) = baked_config();
    let config = alarmgate::config::load_file(&root().join(&source))
        .unwrap_or_else(|e| panic!("{source}: {e}"));
    let journal = config.alarm.journal_dir.to_string_lossy().to_string();
    let volumes: Vec<String> = values(&stage, "VOLUME")
        .iter()
        .flat_map(|v| words(v))
        .collect();
    assert!(
        volumes.iter().any(|v| journal.starts_with(v.as_str())),
        "the journal {journal} is not under a VOLUME {volumes:?}"
    );
    let cmd = words(&values(&stage, "CMD").pop().unwrap_or_default()).join(" ");
    assert!(
        cmd.contains(&format!("--config {path}")),
        "CMD {cmd} runs {path}"
    );
}

#[test]
fn the_healthcheck_asks_readyz_on_the_configured_http_port() {
    let stage = final_stage();
    let check = values(&stage, "HEALTHCHECK").pop().expect("HEALTHCHECK");
    let url = words(check.split(" CMD ").nth(1).unwrap_or_default())
        .into_iter()
        .find(|w| w.starts_with("http://"))
        .expect("a URL in the HEALTHCHECK");
    let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}"));
    assert_eq!(path.as_deref(), Some("/readyz"));
    assert!(
        http_routes().contains("/readyz"),
        "routes: {:?}",
        http_routes()
    );
    let (_, source) = baked_config();
    let config = alarmgate::config::load_file(&root().join(&source)).expect("valid");
    let port = config.http.listen.port();
    assert!(
        url.contains(&format!(":{port}/")),
        "{url} vs http.listen {port}"
    );
    assert!(
        config.http.listen.ip().is_unspecified(),
        "http must listen beyond loopback in a container"
    );
    let exposed = values(&stage, "EXPOSE").join(" ");
    assert!(exposed.contains(&format!("{port}/tcp")), "EXPOSE {exposed}");
    for (transport, addr, _) in config.listen_specs() {
        let proto = if transport == alarmgate::sip::types::Transport::Udp {
            "udp"
        } else {
            "tcp"
        };
        let want = format!("{}/{proto}", addr.port());
        assert!(exposed.contains(&want), "EXPOSE {exposed} lacks SIP {want}");
    }
}

#[test]
fn hadolint_finds_nothing_when_installed() {
    // not in Debian, so never required: deploy/README.md says what it would add
    let Some(hadolint) = tool("hadolint", "hadolint_finds_nothing_when_installed", false) else {
        return;
    };
    run_ok(&hadolint, &[FILE], &root());
}
