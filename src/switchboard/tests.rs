//! The switchboard with real SIP text in simulated time: a scripted alarm
//! unit, operator softphones (REGISTER with digest, ringing, answering,
//! hanging up), a trunk and external targets. Everything sent is read back
//! from `poll_transmit`, media commands and journal records from
//! `poll_output`, router state through the API commands. The harness is
//! here with the operator's basic flows; the others are in `tests_flows`.

use super::*;
use crate::admission::Admission;
use crate::api::{ApiError, ApiReply, ApiRequest, OperatorState as Api, RequestedState};
use crate::call::{CoreConfig, EndReason};
use crate::clock::epoch;
use crate::registrar::{OperatorCredentials, RegistrarConfig};
use crate::routing::{OperatorId, OperatorPlan, QueuePlan, TargetId, TargetPlan, TenantPlan};
use crate::sip::digest::{ha1, respond, Algorithm};
use crate::sip::message::{self, Method, Request, SipMessage};
use crate::sip::types::Tag;
use std::net::SocketAddr;
use std::time::Duration;

pub(super) const REALM: &str = "alarm.example";
pub(super) const UNIT: &str = "127.0.0.1:5070";
pub(super) const OP1: &str = "127.0.0.1:5081";
pub(super) const OP2: &str = "127.0.0.1:5082";
pub(super) const TRUNK: &str = "127.0.0.1:5090";
pub(super) const PARTNER: &str = "127.0.0.1:5091";
pub(super) const LAST: &str = "127.0.0.1:5092";

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn peer(addr: &str) -> Peer {
    Peer::udp(addr.parse::<SocketAddr>().expect("address"))
}

fn route(uri: &str, addr: &str) -> Route {
    Route {
        uri: uri.into(),
        peer: peer(addr),
    }
}

/// Tenant `demo` (the core's test tenant), queue `q1` (ring 15 s, wrap-up
/// 10 s), operators op1 and op2 logged in by the API, targets `partner`
/// and `lr` (the last resort).
pub(super) fn plan() -> Plan {
    let target = |id: &str| TargetPlan {
        id: TargetId::new(id),
        uri: format!("sip:{id}@x"),
        trunk: None,
    };
    let operator = |id: &str| OperatorPlan {
        login_on_register: false,
        ..OperatorPlan::new(id, &["q1"])
    };
    Plan {
        queues: vec![QueuePlan::new("q1", "demo", secs(15), secs(10))],
        operators: vec![operator("op1"), operator("op2")],
        targets: vec![target("partner"), target("lr")],
        tenants: vec![TenantPlan {
            id: "demo".into(),
            default_queue: crate::routing::QueueId::new("q1"),
            last_resort: TargetId::new("lr"),
        }],
    }
}

pub(super) fn config() -> SwitchboardConfig {
    let mut c = SwitchboardConfig::default();
    let partner = route(&format!("sip:partner@{PARTNER}"), PARTNER);
    c.targets.insert(TargetId::new("partner"), partner);
    c.targets
        .insert(TargetId::new("lr"), route(&format!("sip:lr@{LAST}"), LAST));
    c.recall_trunks.insert("demo".into(), route(TRUNK, TRUNK));
    c
}

/// The switchboard under test, the simulated clock and what came out.
pub(super) struct Sim {
    pub sb: Switchboard,
    pub now: Instant,
}

impl Sim {
    /// Keep-alives off unless `keepalive` is given.
    pub fn new(plan: Plan, keepalive: Option<Duration>) -> Self {
        Self::with_ports(plan, keepalive, CoreConfig::for_tests().rtp_ports)
    }

    /// With this RTP port range (a small one runs out of ports).
    pub fn with_ports(plan: Plan, keepalive: Option<Duration>, ports: (u16, u16)) -> Self {
        let mut core_config = CoreConfig::for_tests();
        core_config.registrar = true;
        core_config.rtp_ports = ports;
        let admission = Admission::for_tests(&["127.0.0.0/8"], 100, 0);
        let core = CallCore::new(core_config, admission, None, 11);
        let creds = |user: &str| OperatorCredentials {
            ha1_md5: Some(ha1(Algorithm::Md5, user, REALM, &format!("{user}-pw"))),
            ha1_sha256: Some(ha1(Algorithm::Sha256, user, REALM, &format!("{user}-pw"))),
        };
        let credentials = ["op1", "op2"]
            .into_iter()
            .map(|u| (OperatorId::new(u), creds(u)))
            .collect();
        let registrar_config = RegistrarConfig {
            realm: REALM.into(),
            keepalive_interval: keepalive,
            ..RegistrarConfig::default()
        };
        let registrar =
            Registrar::new(registrar_config, credentials, 5, [5; 32]).expect("registrar");
        let router = Router::new(plan, epoch()).expect("plan");
        let sb = Switchboard::new(core, Some(registrar), Some(router), config());
        Self { sb, now: epoch() }
    }

    pub fn send(&mut self, from: &str, text: &str) {
        self.sb
            .handle_message(self.now, peer(from), text.as_bytes());
    }

    /// Everything sent since the last call: (destination, text).
    pub fn sent(&mut self) -> Vec<(String, String)> {
        std::iter::from_fn(|| self.sb.poll_transmit())
            .map(|t| {
                let text = String::from_utf8_lossy(&t.data).into_owned();
                (t.peer.addr.to_string(), text)
            })
            .collect()
    }

    pub fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.sb.poll_output()).collect()
    }

    /// Moves the clock on by `d`, firing every deadline on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..10_000 {
            match self.sb.poll_timeout().filter(|at| *at <= end) {
                Some(at) => {
                    self.now = self.now.max(at);
                    self.sb.handle_timeout(self.now);
                }
                None => break,
            }
        }
        self.now = end;
        self.sb.handle_timeout(end);
    }

    /// One API request, answered at once.
    pub fn api<T: Answer>(&mut self, request: ApiRequest) -> Result<T, ApiError> {
        T::answer(self.sb.handle_api(self.now, request))
    }

    pub fn op_state(&mut self, id: &str) -> (Api, Option<String>) {
        let ops: Result<Vec<crate::api::OperatorView>, _> = self.api(ApiRequest::ListOperators);
        let op = ops
            .expect("operators")
            .into_iter()
            .find(|o| o.id.as_str() == id);
        let op = op.expect("operator listed");
        (op.state, op.reason)
    }

    pub fn set_state(&mut self, id: &str, state: RequestedState) -> Result<Api, ApiError> {
        self.api::<crate::api::OperatorView>(ApiRequest::SetOperatorState {
            id: OperatorId::new(id),
            state,
            by: "test".into(),
        })
        .map(|view| view.state)
    }

    /// The calls the API lists: (id, state, operator).
    pub fn calls(&mut self) -> Vec<(String, crate::api::CallState, Option<String>)> {
        let calls: Result<Vec<crate::api::CallView>, _> = self.api(ApiRequest::ListCalls);
        let calls = calls.expect("calls").into_iter();
        calls
            .map(|c| (c.id, c.state, c.operator.map(|o| o.to_string())))
            .collect()
    }

    /// Whether the router has a live contact for the operator.
    pub fn reachable(&self, id: &str) -> bool {
        let router = self.sb.router.as_ref().expect("router");
        let view = router.snapshot(self.now);
        view.operators
            .iter()
            .any(|o| o.id.as_str() == id && o.reachable)
    }

    /// The phone of `user` at `addr` registers: 401, then the digest answer,
    /// 200. Returns what was sent after the 200.
    pub fn register(&mut self, user: &str, addr: &str) -> Vec<(String, String)> {
        self.send(addr, &register(user, addr, 1, None));
        let out = self.sent();
        assert_eq!(lines(&out), vec!["SIP/2.0 401 Unauthorized"], "{out:?}");
        let challenge = out[0]
            .1
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("SHA-256"))
            .map(|l| l["WWW-Authenticate:".len()..].trim().to_string())
            .expect("a SHA-256 challenge");
        let uri = format!("sip:{REALM}");
        let pw = format!("{user}-pw");
        let auth = respond(&challenge, "REGISTER", &uri, user, &pw, "c0ffee42", 1);
        let auth = auth.expect("answerable");
        self.send(addr, &register(user, addr, 2, Some(&auth)));
        let mut out = self.sent();
        assert_eq!(lines(&out[..1]), vec!["SIP/2.0 200 OK"], "{out:?}");
        assert_eq!(out[0].0, addr);
        out.split_off(1)
    }

    /// A unit calls 112 and is answered; it ACKs. Returns the device call
    /// handle and the 200 OK's text.
    pub fn device_call(&mut self, call_id: &str) -> (CallHandle, String) {
        self.send(UNIT, &invite(call_id));
        let out = self.sent();
        assert_eq!(lines(&out), vec!["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]);
        let ok = out[1].1.clone();
        self.send(UNIT, &from_unit("ACK", call_id, &to_tag(&ok), 1));
        assert!(self.sent().is_empty());
        let device = self.outputs().into_iter().find_map(|o| match o {
            Output::Call(CallEvent::MediaStart {
                call,
                outgoing: false,
                ..
            }) => Some(call),
            _ => None,
        });
        (device.expect("the device's media starts"), ok)
    }

    /// A logged-in, registered operator set available by the API.
    pub fn available(&mut self, user: &str, addr: &str) {
        assert!(self.register(user, addr).is_empty());
        assert!(self.reachable(user));
        assert_eq!(
            self.set_state(user, RequestedState::Available),
            Ok(Api::Available)
        );
        self.outputs();
    }
}

pub(super) fn register(user: &str, addr: &str, cseq: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKr{user}{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{REALM}>;tag=r{user}\r\nTo: <sip:{user}@{REALM}>\r\n\
Call-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{addr}>\r\nExpires: 600\r\n\
{auth}Content-Length: 0\r\n\r\n"
    )
}

const OFFER: &str = "v=0\r\no=unit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

pub(super) fn invite(call_id: &str) -> String {
    format!(
        "INVITE sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {UNIT};branch=z9hG4bKi{call_id};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:4512345678@127.0.0.1>;tag=u1\r\nTo: <sip:112@127.0.0.1>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:unit@{UNIT}>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

/// ACK or BYE from the unit in its dialog.
pub(super) fn from_unit(method: &str, call_id: &str, to_tag: &str, cseq: u32) -> String {
    format!(
        "{method} sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {UNIT};branch=z9hG4bK{method}{cseq}{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:4512345678@127.0.0.1>;tag=u1\r\nTo: <sip:112@127.0.0.1>;tag={to_tag}\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

pub(super) fn to_tag(response: &str) -> String {
    let to = header(response, "To");
    to.split("tag=")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The value of the first header `name`.
pub(super) fn header<'a>(text: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}:");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    line.map_or("", |l| l[prefix.len()..].trim())
}

/// First lines of what was sent.
pub(super) fn lines(out: &[(String, String)]) -> Vec<String> {
    out.iter()
        .map(|(_, m)| m.lines().next().unwrap_or_default().to_string())
        .collect()
}

/// The one message sent whose first line starts with `start`.
pub(super) fn find<'a>(out: &'a [(String, String)], start: &str) -> &'a (String, String) {
    let mut hits = out.iter().filter(|(_, m)| m.starts_with(start));
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no {start} in {out:?}"));
    assert!(hits.next().is_none(), "two {start} in {out:?}");
    hit
}

fn parse_request(text: &str) -> Request {
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// A phone's response to one of our requests, To tag `ph`.
pub(super) fn reply(request: &str, code: u16, body: &str) -> String {
    let req = parse_request(request);
    let mut resp = message::response_to(&req, code, None);
    if code > 100 && message::to_tag(&resp).is_none() {
        message::set_to_tag(&mut resp, &Tag::new("ph"));
    }
    if (200..300).contains(&code) && req.method == Method::Invite {
        let uri = req.uri.to_string();
        message::add_header(&mut resp, "Contact", &format!("<{uri}>"));
    }
    if !body.is_empty() {
        message::set_body(&mut resp, "application/sdp", body.as_bytes().to_vec());
    }
    String::from_utf8_lossy(&message::serialize(&SipMessage::Response(resp))).into_owned()
}

/// A phone's SDP answer (µ-law only) to our offer.
pub(super) use crate::call::tests_uac::pcmu_answer as answer_sdp;

/// A request from the phone that answered our INVITE, in its dialog.
pub(super) fn from_phone(method: &str, invite: &str, addr: &str, cseq: u32) -> String {
    let our_tag = header(invite, "From")
        .split("tag=")
        .nth(1)
        .unwrap_or_default();
    let (to_uri, from_uri) = (header(invite, "From"), header(invite, "To"));
    let to_uri = to_uri.split(';').next().unwrap_or_default();
    format!(
        "{method} sip:gw@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKp{method}{cseq}\r\n\
Max-Forwards: 70\r\nFrom: {from_uri};tag=ph\r\nTo: {to_uri};tag={our_tag}\r\nCall-ID: {}\r\n\
CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        header(invite, "Call-ID")
    )
}

/// The journal records among `outputs`: (kind, subject, data). Each is
/// checked, as the runtime writes it, against the event schema.
pub(super) fn records(outputs: &[Output]) -> Vec<(&'static str, String, Value)> {
    let records: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Event(r) => Some((r.kind, r.subject.clone(), r.data.clone())),
            _ => None,
        })
        .collect();
    for (kind, subject, data) in &records {
        let time = crate::clock::wall();
        let bytes = crate::events::record("n1", subject, kind, time, 7, data.clone());
        let event: Value = serde_json::from_slice(&bytes).expect("json");
        let problems = crate::bus::schema::validate(&event);
        assert!(problems.is_empty(), "{problems:?} in {event}");
    }
    records
}

pub(super) fn kinds(outputs: &[Output]) -> Vec<&'static str> {
    records(outputs).into_iter().map(|(k, _, _)| k).collect()
}

pub(super) fn bridges(outputs: &[Output]) -> Vec<(CallHandle, CallHandle, CallHandle)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Bridge { group, a, b } => Some((*group, *a, *b)),
            _ => None,
        })
        .collect()
}

/// The handle of the outgoing leg whose media started among `outputs`.
pub(super) fn leg_started(outputs: &[Output]) -> Option<(usize, CallHandle, CallHandle)> {
    outputs.iter().enumerate().find_map(|(i, o)| match o {
        Output::Call(CallEvent::MediaStart {
            call,
            group,
            outgoing: true,
            ..
        }) => Some((i, *call, *group)),
        _ => None,
    })
}

pub(super) fn emergency() -> Option<EventCode> {
    EventCode::new("101").ok()
}

pub(super) fn end_reasons(outputs: &[Output]) -> Vec<EndReason> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Call(CallEvent::Ended { reason, .. }) => Some(*reason),
            _ => None,
        })
        .collect()
}

/// Rings op1 for a new device call `call_id`: (device, our INVITE to op1,
/// the 200 OK the device got).
pub(super) fn offered(s: &mut Sim, call_id: &str) -> (CallHandle, String, String) {
    let (device, ok) = s.device_call(call_id);
    s.sb.queue(s.now, device, CallClass::Emergency, emergency());
    let out = s.sent();
    let (to, invite) = find(&out, "INVITE ").clone();
    assert_eq!(to, OP1);
    (device, invite, ok)
}

/// The answer of one kind taken out of an [`ApiReply`].
pub trait Answer: Sized {
    /// The result, or a panic when the reply is of another kind.
    fn answer(reply: ApiReply) -> Result<Self, ApiError>;
}

macro_rules! answer {
    ($t:ty, $variant:ident) => {
        impl Answer for $t {
            fn answer(reply: ApiReply) -> Result<Self, ApiError> {
                match reply {
                    ApiReply::$variant(result) => result,
                    other => panic!("expected {}, got {other:?}", stringify!($variant)),
                }
            }
        }
    };
}
answer!(Vec<crate::api::OperatorView>, Operators);
answer!(crate::api::OperatorView, Operator);
answer!(Vec<crate::api::CallView>, Calls);
answer!(crate::api::RecallAccepted, Recall);
answer!((), Disposition);
answer!(Vec<crate::api::QueueView>, Queues);
answer!(crate::api::OperatorScope, SignIn);
