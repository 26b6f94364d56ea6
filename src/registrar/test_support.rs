//! Test helpers: REGISTER texts as softphones send them, the client side of
//! digest (through [`crate::sip::digest::respond`]) and a counting metrics
//! recorder.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::metrics::{Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder};
use ::metrics::{SharedString, Unit};

use super::*;
use crate::clock::epoch;
use crate::sip::digest::{ha1, respond, Algorithm};
use crate::sip::message::{self, Request, SipMessage};
use crate::sip::types::{ConnId, Peer, Transport};

pub const REALM: &str = "alarm.example";
pub const S: Duration = Duration::from_secs(1);
/// The keep-alive interval of [`config`].
pub const K: Duration = Duration::from_secs(30);

pub fn at(secs: u64) -> Instant {
    epoch() + Duration::from_secs(secs)
}

pub fn op(name: &str) -> OperatorId {
    OperatorId::new(name)
}

/// alice has both hashes, bob only MD5; passwords are `<name>-pw`.
pub fn credentials() -> Credentials {
    let hashes = |name: &str, sha: bool| OperatorCredentials {
        ha1_md5: Some(ha1(Algorithm::Md5, name, REALM, &format!("{name}-pw"))),
        ha1_sha256: sha.then(|| ha1(Algorithm::Sha256, name, REALM, &format!("{name}-pw"))),
    };
    [("alice", true), ("bob", false)]
        .into_iter()
        .map(|(name, sha)| (op(name), hashes(name, sha)))
        .collect()
}

pub fn config() -> RegistrarConfig {
    RegistrarConfig {
        realm: REALM.into(),
        nonce_ttl: Duration::from_secs(300),
        keepalive_interval: Some(K),
        fail_limit: 3,
        fail_window: Duration::from_secs(60),
        block_for: Duration::from_secs(120),
        ..RegistrarConfig::default()
    }
}

pub fn registrar() -> Registrar {
    Registrar::new(config(), credentials(), 7, [7; 32]).expect("valid config")
}

pub fn udp(addr: &str) -> Peer {
    Peer::udp(addr.parse::<SocketAddr>().expect("address"))
}

pub fn tcp(addr: &str, conn: u64) -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: addr.parse().expect("address"),
        conn: Some(ConnId(conn)),
    }
}

pub fn parse(text: &str) -> Request {
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// A REGISTER as pjsua sends it (full header names).
pub fn pjsua(user: &str, contact: &str, call_id: &str, cseq: u32, expires: u32) -> String {
    format!(
        "REGISTER sip:{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.168.1.20:5060;rport;branch=z9hG4bKPj{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{REALM}>;tag=pj{cseq}\r\n\
         To: <sip:{user}@{REALM}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         User-Agent: PJSUA v2.14.1 Linux-6.1/x86_64/glibc-2.36\r\n\
         Contact: <{contact};ob>\r\n\
         Expires: {expires}\r\n\
         Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n\
         Content-Length:  0\r\n\r\n"
    )
}

/// A REGISTER as Linphone sends it over TCP, with compact header names and
/// the expiry as a Contact parameter.
pub fn linphone(user: &str, contact: &str, call_id: &str, cseq: u32, expires: u32) -> String {
    format!(
        "REGISTER sip:{REALM};transport=tcp SIP/2.0\r\n\
         v: SIP/2.0/TCP 10.0.0.5:43210;branch=z9hG4bK.{call_id}{cseq};rport\r\n\
         f: <sip:{user}@{REALM}>;tag=lp{cseq}\r\n\
         t: sip:{user}@{REALM}\r\n\
         i: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         m: <{contact};transport=tcp>;+sip.instance=\"<urn:uuid:9b2c3f4e-1a2b>\";expires={expires}\r\n\
         Max-Forwards: 70\r\n\
         Supported: replaces, outbound, gruu, path\r\n\
         User-Agent: Linphone-Desktop/5.2.6 (belle-sip/5.2.94)\r\n\
         l: 0\r\n\r\n"
    )
}

/// Adds an Authorization header before the blank line.
pub fn with_auth(text: &str, authorization: &str) -> String {
    text.replacen(
        "\r\n\r\n",
        &format!("\r\nAuthorization: {authorization}\r\n\r\n"),
        1,
    )
}

/// The values of every header named `name`.
pub fn headers(resp: &message::Response, name: &str) -> Vec<String> {
    resp.headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value().to_string())
        .collect()
}

pub fn code(reply: &RegisterReply) -> u16 {
    reply.response.status_code.code()
}

/// The answer to the reply's challenge for `algorithm`, as the phone computes it.
pub fn answer(
    reply: &RegisterReply,
    algorithm: &str,
    user: &str,
    password: &str,
    nc: u32,
) -> String {
    let challenges = headers(&reply.response, "WWW-Authenticate");
    let challenge = challenges
        .iter()
        .find(|c| c.contains(&format!("algorithm={algorithm},")))
        .expect("challenge offered");
    respond(
        challenge,
        "REGISTER",
        &format!("sip:{REALM}"),
        user,
        password,
        "c0ffee42",
        nc,
    )
    .expect("answerable")
}

/// 401 then the answer with the right password (SHA-256 when the user has
/// it): the 200 reply.
pub fn register(r: &mut Registrar, now: Instant, peer: Peer, text: &str) -> RegisterReply {
    let challenge = r.handle_register(now, peer, &parse(text));
    assert_eq!(code(&challenge), 401, "{:?}", challenge.outcome);
    let user = message::header_value(&parse(text), "To")
        .and_then(|to| to.split("sip:").nth(1))
        .and_then(|rest| rest.split('@').next())
        .expect("user")
        .to_string();
    let algorithm = if user == "alice" { "SHA-256" } else { "MD5" };
    let auth = answer(&challenge, algorithm, &user, &format!("{user}-pw"), 1);
    r.handle_register(now, peer, &parse(&with_auth(text, &auth)))
}

pub fn events(r: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

pub fn reachable(name: &str, reachable: bool) -> RegistrarEvent {
    RegistrarEvent::Reachable {
        operator: op(name),
        reachable,
    }
}

/// Counters by `name{label=value,…}`.
#[derive(Default)]
pub struct Counting(Mutex<HashMap<String, Arc<AtomicU64>>>);

struct Cell(Arc<AtomicU64>);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl Counting {
    pub fn get(&self, name: &str) -> u64 {
        let map = self.0.lock().expect("lock");
        map.get(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let mut map = self.0.lock().expect("lock");
        let cell = map.entry(name).or_default().clone();
        Counter::from_arc(Arc::new(Cell(cell)))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
