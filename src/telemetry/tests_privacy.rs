//! `/metrics` is open (no token), so no label may carry personal data: a
//! citizen's calling number or account. This test reads every metric macro
//! in `src/` and allows only label keys whose values are bounded and
//! impersonal (methods, codes, reasons, classes, tenant ids). A new label
//! key must be added here after checking what it carries. The interop test
//! `events_auth::metrics_carry_no_callers_or_accounts` scrapes a running
//! daemon after an alarm call for the values themselves.

use std::fs;
use std::path::Path;

/// Label keys whose values are fixed strings, numbers of a fixed form, or
/// configuration ids (tenants are municipalities, not people).
const ALLOWED: &[&str] = &[
    "type",
    "kind",
    "reason",
    "method",
    "code",
    "transport",
    "class",
    "result",
    "outcome",
    "command",
    "version",
    "tenant",
    "priority",
    "window",
    "state", // alarmgate_operators: the six routing state names
    "op",    // alarmgate_cluster_kv_ops_total: the KV operation (get, create, ...)
];

const MACROS: &[&str] = &["counter!(", "gauge!(", "histogram!("];

/// The label keys (`"key" =>`) of every metric macro call in `text`.
fn label_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for mac in MACROS {
        for (start, _) in text.match_indices(mac) {
            let call = &text[start..];
            let end = [";", ".increment(", ".set(", ".record(", ".absolute("]
                .iter()
                .filter_map(|stop| call.find(stop))
                .min()
                .unwrap_or(call.len());
            let call = &call[..end];
            for (i, _) in call.match_indices("=>") {
                let before = call[..i].trim_end();
                let Some(quoted) = before.strip_suffix('"') else {
                    keys.push(format!("<not a literal: {}>", before.trim()));
                    continue;
                };
                let key = quoted.rsplit('"').next().unwrap_or("");
                keys.push(key.to_string());
            }
        }
    }
    keys
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_metric_label_key_is_impersonal() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 50, "found the sources");
    let mut seen = 0;
    let mut bad = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("tests_privacy.rs")) {
        let text = fs::read_to_string(file).unwrap_or_default();
        for key in label_keys(&text) {
            seen += 1;
            if !ALLOWED.contains(&key.as_str()) {
                bad.push(format!("{}: {key}", file.display()));
            }
        }
    }
    assert!(seen > 20, "found the labelled metrics ({seen})");
    assert_eq!(
        bad,
        Vec::<String>::new(),
        "labels to review for personal data"
    );
}

#[test]
fn the_scan_finds_a_personal_label() {
    let text = r#"metrics::counter!(m::X, "caller" => from.user()).increment(1);
        metrics::gauge!(m::Y, "tenant" => t).set(1.0);"#;
    assert_eq!(label_keys(text), ["caller", "tenant"]);
}
