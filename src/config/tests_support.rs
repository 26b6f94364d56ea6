//! What the config section tests share: a minimal valid config (one
//! trunk, one tenant `demo`) to append a section to, and the (line, key)
//! of every problem a rejected text reports.

use super::*;

/// One trunk from 127.0.0.1 and the tenant `demo` with DID 112.
pub(super) const BASE: &str = r#"[[trunks]]
name = "lo"
allow = ["127.0.0.1"]

[[tenants]]
id = "demo"
name = "Demo"
dids = ["112"]
"#;

/// The (line, key) of each problem of `text`, which must be rejected.
pub(super) fn errors(text: &str) -> Vec<(usize, String)> {
    let errs = load_str(text, "t.toml").expect_err("config should be rejected");
    errs.iter().map(|e| (e.line, e.key.clone())).collect()
}
