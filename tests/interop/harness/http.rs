//! A hand-written HTTP/1.0 client for `/readyz`, `/metrics` and the API,
//! and sums over Prometheus text.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `method path` over HTTP/1.0 with an optional bearer token and JSON body;
/// returns (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = json_body.unwrap_or("");
    let kind = if json_body.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// `GET path` over HTTP/1.0; returns (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, None, None)
}

/// Sums the samples of `name` whose label set contains every `labels` pair
/// (`("method", "INVITE")` matches `method="INVITE"`). None when no sample matched.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_part, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        let wanted = labels
            .iter()
            .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")));
        let value: Option<f64> = value.split_whitespace().next().and_then(|v| v.parse().ok());
        if let (true, Some(v)) = (wanted, value) {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sum_matches_labels_and_sums() {
        let text = "# HELP x\nalarmgate_sip_requests_received_total{method=\"INVITE\",transport=\"udp\"} 3\n\
                    alarmgate_sip_requests_received_total{method=\"INVITE\",transport=\"tcp\"} 2\n\
                    alarmgate_sip_requests_received_total{method=\"BYE\"} 1\nalarmgate_calls_active 0\n";
        let m = "alarmgate_sip_requests_received_total";
        assert_eq!(metric_sum(text, m, &[("method", "INVITE")]), Some(5.0));
        assert_eq!(metric_sum(text, m, &[("method", "ACK")]), None);
        assert_eq!(metric_sum(text, "alarmgate_calls_active", &[]), Some(0.0));
        assert_eq!(metric_sum(text, "alarmgate_calls", &[]), None);
    }
}
