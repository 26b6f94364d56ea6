//! The console's routes over a loopback listener: the page and its assets
//! come from the binary with a strict CSP; nothing points off the node.

use super::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config(ws: Option<&str>) -> ConsoleConfig {
    ConsoleConfig {
        ws_url: ws.map(str::to_string),
        sip_domain: "127.0.0.1".into(),
        session_ttl_s: 43200,
    }
}

async fn serve(config: ConsoleConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = routes(config);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// (status line, lower-cased head, body) of a GET.
async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let addr = serve(config(Some("ws://127.0.0.1:5066"))).await;
    let paths = [
        ("/console", "text/html"),
        ("/console/", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/jssip-3.13.8.min.js", "text/javascript"),
        ("/console/LICENSE-jssip.txt", "text/plain"),
    ];
    for (path, kind) in paths {
        let (status, head, body) = get(addr, path).await;
        assert!(status.contains(" 200 "), "{path}: {status}");
        assert!(
            head.contains(&format!("content-type: {kind}")),
            "{path}: {head}"
        );
        assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self';"));
        assert!(
            head.contains("connect-src 'self' ws://127.0.0.1:5066;"),
            "{head}"
        );
        assert!(
            head.contains("frame-ancestors 'none'")
                && head.contains("x-content-type-options: nosniff")
        );
        assert!(!body.is_empty(), "{path}");
    }
    let (_, _, jssip) = get(addr, "/console/jssip-3.13.8.min.js").await;
    assert!(jssip.contains("JsSIP 3.13.8"), "the pinned build");
    let (_, _, licence) = get(addr, "/console/LICENSE-jssip.txt").await;
    assert!(licence.contains("The MIT License"));
    let (status, _, _) = get(addr, "/console/elsewhere.js").await;
    assert!(status.contains(" 404 "), "{status}");
}

#[tokio::test]
async fn the_config_route_tells_the_page_where_to_register() {
    let addr = serve(config(Some("wss://centre.example:5067/sip"))).await;
    let (status, head, body) = get(addr, CONFIG_PATH).await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(head.contains("application/json"));
    let seen: ConsoleConfig = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        seen.ws_url.as_deref(),
        Some("wss://centre.example:5067/sip")
    );
    let addr = serve(config(None)).await;
    let (_, head, body) = get(addr, "/console").await;
    assert!(head.contains("connect-src 'self';"), "{head}");
    assert!(body.contains("console.js"));
}

#[test]
fn hosts_and_origins_of_websocket_urls() {
    assert_eq!(url_host("ws://127.0.0.1:5066"), Some("127.0.0.1"));
    assert_eq!(url_host("wss://centre.example/sip"), Some("centre.example"));
    assert_eq!(url_host("wss://[::1]:5067"), Some("::1"));
    assert_eq!(
        url_origin("wss://centre.example:5067/sip").as_deref(),
        Some("wss://centre.example:5067")
    );
    assert_eq!(
        url_origin("ws://evil;script-src *"),
        None,
        "nothing that could widen the CSP"
    );
}

#[test]
fn no_asset_reaches_off_the_node() {
    for (name, text) in [
        ("index.html", INDEX_HTML),
        ("console.js", CONSOLE_JS),
        ("console.css", CONSOLE_CSS),
    ] {
        for needle in [
            "http://", "https://", "//cdn", "<script>", "style=\"", "onclick", "eval(",
        ] {
            assert!(!text.contains(needle), "{name} contains {needle:?}");
        }
    }
}
