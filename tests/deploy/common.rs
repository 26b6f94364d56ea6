//! What the deploy tests read from the repository: files, YAML documents,
//! the HTTP routes the daemon serves and the metric names it exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A repository file as text; panics with its path when unreadable.
pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a repository file.
pub fn yaml_docs(rel: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: not YAML: {e}"))
}

/// The one YAML document of a repository file.
pub fn yaml(rel: &str) -> Yaml {
    let mut docs = yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel}: one YAML document expected");
    docs.remove(0)
}

/// A YAML sequence's items (empty when the node is absent or not a sequence).
pub fn items(node: &Yaml) -> Vec<Yaml> {
    node.as_vec().cloned().unwrap_or_default()
}

/// A YAML scalar as text (strings, integers and booleans), when it is one.
pub fn text(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The paths the daemon's operations listener routes (`.route("/path", ...)`
/// in `src/telemetry/http.rs`).
pub fn http_routes() -> BTreeSet<String> {
    let src = read("src/telemetry/http.rs");
    src.split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Every metric name the code declares: the string of each
/// `const NAME: &str = "alarmgate_..."` anywhere under `src/`.
pub fn exported_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    collect_metric_consts(&root().join("src"), &mut names);
    names
}

fn collect_metric_consts(dir: &Path, names: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_metric_consts(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let src = std::fs::read_to_string(&path).unwrap_or_default();
            for line in src
                .lines()
                .filter(|l| l.contains("const ") && l.contains("&str"))
            {
                if let Some(name) = quoted_metric(line) {
                    names.insert(name);
                }
            }
        }
    }
}

fn quoted_metric(line: &str) -> Option<String> {
    let start = line.find("\"alarmgate_")? + 1;
    let len = line.get(start..)?.find('"')?;
    Some(line.get(start..start + len)?.to_string())
}

/// The `alarmgate_*` identifiers a PromQL expression names.
pub fn metric_names_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("alarmgate_") {
        let preceded = rest.get(..i).and_then(|s| s.chars().last());
        let tail = rest.get(i..).unwrap_or_default();
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"') {
            out.insert(tail.get(..len).unwrap_or_default().to_string());
        }
        rest = tail.get(len.max(1)..).unwrap_or_default();
    }
    out
}

/// True when `name` is an exported metric, or a histogram's series of one
/// (`_bucket`, `_sum`, `_count` appended by the exporter).
pub fn is_exported(name: &str, exported: &BTreeSet<String>) -> bool {
    exported.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| exported.contains(base) && !base.ends_with("_total"))
        })
}

/// The path of an external tool, or None after logging the skip; with
/// `ALARMGATE_REQUIRE_PEERS=1` a missing `required` tool (one the test
/// command installs) fails the test instead.
pub fn tool(name: &str, test: &str, required: bool) -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if found.is_none() {
        let note = format!("SKIP {test}: {name} is not installed");
        assert!(
            !required || std::env::var("ALARMGATE_REQUIRE_PEERS").as_deref() != Ok("1"),
            "{note} (ALARMGATE_REQUIRE_PEERS=1)"
        );
        eprintln!("{note}");
        if let Ok(log) = std::env::var("ALARMGATE_SKIP_LOG") {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
                let _ = writeln!(f, "{note}");
            }
        }
    }
    found
}

/// Runs a tool in `dir`; panics with its output when it fails.
pub fn run_ok(tool: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{all}",
        tool.display()
    );
    all
}

#[test]
fn the_metric_scanner_sees_names_from_every_module_and_handles_suffixes() {
    let exported = exported_metrics();
    for name in [
        "alarmgate_calls_answered_total",
        "alarmgate_journal_bytes",
        "alarmgate_registrar_bindings",
    ] {
        assert!(exported.contains(name), "{name} not found by the scanner");
    }
    assert!(is_exported(
        "alarmgate_kissoff_delay_seconds_bucket",
        &exported
    ));
    assert!(!is_exported(
        "alarmgate_calls_answered_total_count",
        &exported
    ));
    assert!(!is_exported("alarmgate_no_such_metric", &exported));
    let names =
        metric_names_in(r#"sum(rate(alarmgate_a_total{x="alarmgate_b"}[5m])) / alarmgate_c"#);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["alarmgate_a_total", "alarmgate_c"],
        "label values are not metric names"
    );
}
