//! The daemon side of the operator tests: a centre started on a [`Plan`],
//! its API, operators' phones registered at it, and callers dialling it.

use super::*;

/// A daemon running `plan`, when spandsp and pjsua2 are there.
pub(crate) fn centre(test: &str, plan: &Plan) -> Option<Daemon> {
    centre_with(test, &plan.config())
}

/// [`centre`] with a config built from a plan and changed.
pub(crate) fn centre_with(test: &str, config: &Config) -> Option<Daemon> {
    if !need_spandsp(test) {
        return None;
    }
    Daemon::start(test, config)
}

pub(crate) fn device_uri(d: &Daemon) -> String {
    format!("sip:112@127.0.0.1:{}", d.sip_port)
}

/// `method path` on the API with the tests' token; (status, JSON body or Null).
pub(crate) fn api(d: &Daemon, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, text) = http_request(d.http_port, method, path, Some(TOKEN), body.as_deref())
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `GET /api/v1/operators/{id}`.
pub(crate) fn operator(d: &Daemon, id: &str) -> Value {
    let (status, v) = api(d, "GET", &format!("/api/v1/operators/{id}"), None);
    assert_eq!(status, 200, "GET /api/v1/operators/{id}: {v}");
    v
}

/// Polls until operator `id` is in `state`; panics with what it was.
pub(crate) fn wait_operator_state(d: &Daemon, id: &str, state: &str, timeout: Duration) {
    let mut last = Value::Null;
    let ok = poll_until(timeout, || {
        last = operator(d, id);
        last["state"] == state
    });
    assert!(ok, "operator {id} never {state}: {last}");
}

/// `PUT /api/v1/operators/{id}/state` with `{"state": state[, "reason"]}`.
pub(crate) fn set_state(d: &Daemon, id: &str, state: &str, reason: Option<&str>) {
    let mut body = json!({"state": state});
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    let (status, v) = api(
        d,
        "PUT",
        &format!("/api/v1/operators/{id}/state"),
        Some(body),
    );
    assert!(
        (200..300).contains(&status),
        "PUT state {state} for {id}: {status} {v}"
    );
}

/// `GET /api/v1/calls`: the calls array.
pub(crate) fn calls(d: &Daemon) -> Vec<Value> {
    let (status, v) = api(d, "GET", "/api/v1/calls", None);
    assert_eq!(status, 200, "GET /api/v1/calls: {v}");
    v["calls"].as_array().cloned().unwrap_or_default()
}

/// Polls `GET /api/v1/calls` until some call matches `pred`; returns it.
pub(crate) fn wait_call(
    d: &Daemon,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Vec::new();
    let mut found = None;
    poll_until(timeout, || {
        last = calls(d);
        found = last.iter().find(|c| pred(c)).cloned();
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no call {what} in GET /api/v1/calls: {last:?}"))
}

/// `GET /api/v1/queues`: queue `id`.
pub(crate) fn queue(d: &Daemon, id: &str) -> Value {
    let (status, v) = api(d, "GET", "/api/v1/queues", None);
    assert_eq!(status, 200, "GET /api/v1/queues: {v}");
    let queues = v["queues"].as_array().cloned().unwrap_or_default();
    queues
        .into_iter()
        .find(|q| q["id"] == id)
        .unwrap_or(Value::Null)
}

/// A softphone registered with the daemon as `opts.id`; waits for the 200
/// and (login_on_register) for the operator to be available.
pub(crate) fn operator_phone(d: &Daemon, opts: PhoneOpts) -> Softphone {
    let opts = PhoneOpts {
        registrar: Some(format!("sip:127.0.0.1:{}", d.sip_port)),
        ..opts
    };
    let mut phone = Softphone::spawn(&d.dir.path, &opts);
    phone.register();
    assert_eq!(
        phone.wait_reg(0, SHORT),
        Some(200),
        "{}: REGISTER: {:?}",
        opts.id,
        phone.events()
    );
    wait_operator_state(d, &opts.id, "available", SHORT);
    phone
}

/// A softphone outside the daemon (a partner centre) on a port chosen now,
/// so that the config can name it: (uri, opts to spawn it with).
pub(crate) fn target_phone(id: &str) -> (String, PhoneOpts) {
    let port = free_port();
    let opts = PhoneOpts {
        sip_port: Some(port),
        hangup_after_ms: Some(4000),
        ..operator_opts(id)
    };
    (format!("sip:{id}@127.0.0.1:{port}"), opts)
}

/// The `from` of incoming call `n` (1-based) of `phone`.
pub(crate) fn incoming_from(phone: &Softphone, n: u64) -> String {
    let e = phone
        .wait(SHORT, |e| is(e, "incoming", &[("call", json!(n))]))
        .unwrap_or(Value::Null);
    e["from"].as_str().unwrap_or_default().to_string()
}
/// `id`'s phone, doing `on_incoming` with every call ("ring": ring until
/// cancelled, "decline": 603).
pub(crate) fn phone_that(d: &Daemon, id: &str, on_incoming: &str) -> Softphone {
    let opts = PhoneOpts {
        on_incoming: on_incoming.into(),
        ..operator_opts(id)
    };
    operator_phone(d, opts)
}

/// `id`'s phone, answering every call and hanging up `ms` after.
pub(crate) fn phone_hanging_up_after(d: &Daemon, id: &str, ms: u64) -> Softphone {
    let opts = PhoneOpts {
        hangup_after_ms: Some(ms),
        ..operator_opts(id)
    };
    operator_phone(d, opts)
}

/// op1 paused ("meeting") while a voice call from `UNIT_B` (pjsua2) and
/// then an emergency from the unit at `UNIT_A` (101) come in and wait:
/// (the voice caller, the unit, their `GET /api/v1/calls` entries).
pub(crate) fn voice_then_emergency_waiting(d: &Daemon) -> (PyPeer, PyPeer, Value, Value) {
    set_state(d, "op1", "paused", Some("meeting"));
    wait_operator_state(d, "op1", "paused", SHORT);
    let voice = voice_caller(d, UNIT_B);
    let voice_call = wait_call(d, RING_WAIT, "voice waiting", |c| {
        c["class"] == "voice" && c["state"] == "waiting"
    });
    let unit = spawn_unit(&d.dir.path, &device_uri(d), UNIT_A, &["--wait-bye"]);
    let emergency = wait_call(d, RING_WAIT, "emergency waiting", |c| {
        c["class"] == "emergency" && c["state"] == "waiting"
    });
    (voice, unit, voice_call, emergency)
}

pub(crate) fn event_time(e: &Value) -> f64 {
    e["t"].as_f64().unwrap_or(0.0)
}

/// A citizen's voice call (pjsua2 sending silence, no Contact ID), from `caller`.
pub(crate) fn voice_caller(d: &Daemon, caller: &str) -> PyPeer {
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let mut a = strings(&["call", "--uri", &device_uri(d), "--caller", caller]);
    a.extend(strings(&[
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
        "--wait-bye",
        "--timeout",
        "90",
    ]));
    PyPeer::spawn("pj_call.py", &d.dir.path, &a, Duration::from_secs(110))
}
