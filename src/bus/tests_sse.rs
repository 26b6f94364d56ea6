//! The event stream's access rules without HTTP: which events a grant sees,
//! and a stream that ends when its token is revoked by a reload.

use super::*;
use crate::config::{TokenEntry, TokenScope};
use crate::journal::{Journal, JournalConfig, SyncMode};
use sha2::{Digest, Sha256};

const ADMIN: &str = "admin-token";
const AARHUS: &str = "aarhus-token";

fn entry(name: &str, token: &str, scope: TokenScope) -> TokenEntry {
    TokenEntry {
        name: name.into(),
        sha256: Sha256::digest(token.as_bytes()).into(),
        scope,
    }
}

fn tokens() -> ApiTokens {
    let aarhus = TokenScope::Tenants(["aarhus".to_string()].into());
    ApiTokens::from_hashes([
        entry("admin", ADMIN, TokenScope::AllTenants),
        entry("aarhus", AARHUS, aarhus),
    ])
}

fn grant(tokens: &ApiTokens, token: &str) -> Grant {
    match tokens.identify(token) {
        Some((_, grant)) => grant,
        None => panic!("{token} is configured"),
    }
}

fn event(n: u32, tenant: Option<&str>) -> Vec<u8> {
    let data = tenant.map_or("{}".to_string(), |t| format!(r#"{{"tenant":"{t}"}}"#));
    format!(
        r#"{{"specversion":"1.0","id":"id-{n}","type":"alarmgate.call.started","data":{data}}}"#
    )
    .into_bytes()
}

#[test]
fn a_scoped_token_sees_only_its_tenants_events() {
    let tokens = tokens();
    let (admin, aarhus) = (grant(&tokens, ADMIN), grant(&tokens, AARHUS));
    assert!(sse_event(&event(1, Some("aarhus")), &aarhus).is_some());
    assert!(sse_event(&event(2, Some("demo")), &aarhus).is_none());
    assert!(
        sse_event(&event(3, None), &aarhus).is_none(),
        "no tenant: all-tenant tokens only"
    );
    for n in [Some("aarhus"), Some("demo"), None] {
        assert!(sse_event(&event(4, n), &admin).is_some(), "{n:?}");
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked() {
    let dir = std::env::temp_dir().join(format!("alarmgate-sse-revoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let journal = Journal::open(JournalConfig {
        dir: dir.clone(),
        segment_bytes: 1 << 20,
        sync: SyncMode::Never,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let tokens = tokens();
    let reader = Reader {
        tokens: tokens.clone(),
        grant: grant(&tokens, AARHUS),
    };
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(follow(journal.clone(), 1, reader, tx));
    let wait = Duration::from_secs(10);
    let _ = journal.append(event(1, Some("demo"))).await;
    let _ = journal.append(event(2, Some("aarhus"))).await;
    let first = tokio::time::timeout(wait, rx.recv()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "aarhus's event arrives");
    tokens.replace(Vec::<TokenEntry>::new());
    let _ = journal.append(event(3, Some("aarhus"))).await;
    let mut after = 0;
    while let Ok(Some(_)) = tokio::time::timeout(wait, rx.recv()).await {
        after += 1;
    }
    assert_eq!(after, 1, "only the 'token revoked' comment, then the end");
    assert!(rx.is_closed(), "the stream ended");
    journal.close();
    let _ = std::fs::remove_dir_all(&dir);
}
