//! The Via header: parsing one value, `received`/`rport` stamping and where
//! a response goes (RFC 3261 §18.2.1, §18.2.2, §20.42; RFC 3581 §4).

use std::net::{IpAddr, SocketAddr};

use super::split::{split_commas, split_params};
use super::{rsip, MessageError};
use crate::sip::types::{Branch, Peer, Transport};
use rsip::{HasHeaders, Header};

/// The transport token of a Via value: one we speak, or any other token
/// (RFC 4475 §3.1.1.10 expects unknown tokens to parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViaTransport {
    /// UDP, TCP or TLS.
    Known(Transport),
    /// Any other token (`SCTP`, `WS`, `TLS-SCTP`...), upper-cased.
    Other(String),
}

/// One parsed Via value (`SIP/2.0/UDP host:port;branch=..;rport;received=..`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaInfo {
    /// The transport token.
    pub transport: ViaTransport,
    /// The sent-by host as written (an IPv6 address keeps its brackets).
    pub host: String,
    /// The sent-by port, when written.
    pub port: Option<u16>,
    /// The `branch` parameter.
    pub branch: Option<Branch>,
    /// `rport`: absent (`None`), without value (`Some(None)`) or with one.
    pub rport: Option<Option<u16>>,
    /// The `received` parameter, when it holds an IP address.
    pub received: Option<IpAddr>,
}

impl ViaInfo {
    /// The sent-by host as an IP address, when it is an IP literal.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    }
}

/// Parses one Via value (already split from its neighbours).
pub fn parse_via(value: &str) -> Result<ViaInfo, MessageError> {
    let invalid = || MessageError::InvalidHeader {
        name: "Via".into(),
        value: value.into(),
    };
    let head = value.split(';').next().unwrap_or("");
    let mut proto = head.splitn(3, '/');
    let (name, version, rest) = match (proto.next(), proto.next(), proto.next()) {
        (Some(n), Some(v), Some(r)) => (n.trim(), v.trim(), r.trim()),
        _ => return Err(invalid()),
    };
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
        return Err(invalid());
    }
    let (token, sent_by) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let sent_by: String = sent_by.split_whitespace().collect();
    let (host, port) = split_host_port(&sent_by).ok_or_else(invalid)?;
    let transport = match Transport::from_token(token) {
        Some(t) => ViaTransport::Known(t),
        None if !token.is_empty() => ViaTransport::Other(token.to_ascii_uppercase()),
        None => return Err(invalid()),
    };
    let mut info = ViaInfo {
        transport,
        host,
        port,
        branch: None,
        rport: None,
        received: None,
    };
    for (pname, pvalue) in split_params(value) {
        apply_param(&mut info, pname, pvalue).ok_or_else(invalid)?;
    }
    Ok(info)
}

/// Records one Via parameter; `None` when it is malformed.
fn apply_param(info: &mut ViaInfo, name: &str, value: Option<&str>) -> Option<()> {
    if name.is_empty() {
        return None;
    }
    if name.eq_ignore_ascii_case("branch") {
        info.branch = Some(Branch::new(value.filter(|v| !v.is_empty())?));
    } else if name.eq_ignore_ascii_case("rport") {
        info.rport = Some(match value {
            None => None,
            Some(v) => Some(v.parse().ok()?),
        });
    } else if name.eq_ignore_ascii_case("received") {
        info.received = value.and_then(|v| v.parse().ok());
    }
    Some(())
}

/// Splits `host[:port]` (IPv6 in brackets); `None` when malformed.
fn split_host_port(sent_by: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if sent_by.starts_with('[') {
        let close = sent_by.find(']')?;
        let (h, rest) = sent_by.split_at(close + 1);
        (h, rest.strip_prefix(':'))
    } else {
        match sent_by.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (sent_by, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:_".contains(c));
    let port = port
        .map(|p| p.parse::<u16>().ok())
        .map_or(Some(None), |p| p.map(Some))?;
    host_ok.then(|| (host.to_string(), port))
}

/// Every Via value of the message, in order, comma-joined lines split.
pub fn via_values(msg: &impl HasHeaders) -> Vec<String> {
    msg.headers()
        .iter()
        .filter_map(|h| match h {
            Header::Via(v) => Some(v.value()),
            _ => None,
        })
        .flat_map(split_commas)
        .map(str::to_string)
        .collect()
}

/// The topmost Via value, parsed.
pub fn top_via(msg: &impl HasHeaders) -> Result<ViaInfo, MessageError> {
    let first = msg
        .headers()
        .iter()
        .find_map(|h| match h {
            Header::Via(v) => Some(v.value()),
            _ => None,
        })
        .ok_or_else(|| MessageError::MissingHeader { name: "Via".into() })?;
    parse_via(split_commas(first).first().copied().unwrap_or(""))
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: adds `received=<source ip>` to the top
/// Via when its sent-by host is not the source address (always when `rport`
/// is present), and fills a valueless `rport` with the source port.
/// A request without a parseable top Via is left unchanged.
pub fn stamp_received(req: &mut rsip::Request, source: SocketAddr) {
    let Some(Header::Via(via)) = req.headers.iter_mut().find(|h| matches!(h, Header::Via(_)))
    else {
        return;
    };
    let values = split_commas(via.value());
    let Some(top) = values.first() else { return };
    let Ok(info) = parse_via(top) else { return };
    let mut stamped = String::with_capacity(top.len() + 40);
    for (i, part) in top.split(';').enumerate() {
        let name = part.split('=').next().unwrap_or("").trim();
        if i > 0 && name.eq_ignore_ascii_case("received") {
            continue;
        }
        if i > 0 {
            stamped.push(';');
        }
        if i > 0 && name.eq_ignore_ascii_case("rport") && info.rport == Some(None) {
            stamped.push_str(&format!("rport={}", source.port()));
        } else {
            stamped.push_str(part);
        }
    }
    if info.rport.is_some() || info.host_ip() != Some(source.ip()) {
        stamped.push_str(&format!(";received={}", source.ip()));
    }
    let rest = values.get(1..).unwrap_or(&[]);
    let joined = std::iter::once(stamped.as_str()).chain(rest.iter().copied());
    via.replace(joined.collect::<Vec<_>>().join(", "));
}

/// RFC 3261 §18.2.2 and RFC 3581 §4: where a response to `req`, received
/// from `source`, goes. Streams answer on the same connection. UDP goes to
/// `received` (else the sent-by IP, else the source IP) at the `rport` port
/// when `rport` was requested, else the sent-by port or 5060. `maddr` is
/// ignored; a broadcast, multicast or unspecified target falls back to the source.
pub fn response_target(req: &rsip::Request, source: Peer) -> Peer {
    if source.transport.is_reliable() {
        return source;
    }
    let Ok(via) = top_via(req) else { return source };
    let ip = via
        .received
        .or_else(|| via.host_ip())
        .unwrap_or(source.addr.ip());
    let port = match via.rport {
        Some(Some(p)) => p,
        Some(None) => source.addr.port(),
        None => via.port.unwrap_or(5060),
    };
    if !is_unicast(ip) || port == 0 {
        return source;
    }
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::new(ip, port),
        conn: None,
    }
}

/// False for broadcast, multicast and unspecified addresses (RFC 4475 §3.3.10).
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_broadcast() || v4.is_multicast() || v4.is_unspecified()),
        IpAddr::V6(v6) => !(v6.is_multicast() || v6.is_unspecified()),
    }
}
