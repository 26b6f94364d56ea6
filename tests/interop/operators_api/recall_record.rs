//! A recall's call record (issue 12): op1 recalls the citizen's unit (a
//! softphone at the recall trunk's proxy), they talk, op1 gives the
//! disposition `recall` and hangs up; the month's extract then has the
//! recall as its own row, keyed by the recall's id, with op1 as operator,
//! a wait (the recall to the unit's answer), a talk time, an end, and the
//! category genkald.

use super::*;

#[test]
fn operators_api_a_recall_has_its_talk_time_in_the_call_records() {
    let test = "operators_api_a_recall_has_its_talk_time_in_the_call_records";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let unit = Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            sip_port: Some(unit_port),
            ..PhoneOpts::new("unit")
        },
    );
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let id = accepted["id"].as_str().unwrap_or_default().to_string();
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1's phone rang");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 connected"
    );
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the unit was called");
    assert!(
        unit.wait_state(uinc, "CONFIRMED", SHORT).is_some(),
        "the unit connected"
    );
    wait_call(&d, SHORT, "recall connected", |c| c["state"] == "connected");
    std::thread::sleep(std::time::Duration::from_secs(2)); // the talk time under test
    let body = json!({"disposition": "recall", "note": "Checked the unit."});
    assert_eq!(disposition(&d, &id, &body).0, 204);
    op1.send(json!({"cmd": "hangup"}));
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "the recall ended"
    );
    let month = crate::records::this_month();
    let path = format!("/api/v1/reports/calls?tenant=demo&month={month}&format=json");
    let mut row = Value::Null;
    let found = poll_until(SHORT, || {
        let x = crate::operators::api(&d, "GET", &path, None).1;
        let calls = x["calls"].as_array().cloned().unwrap_or_default();
        row = calls
            .into_iter()
            .find(|c| c["call_id"] == id.as_str())
            .unwrap_or(Value::Null);
        row["ended"].is_string() && row["disposition"].is_string()
    });
    assert!(
        found,
        "the recall's record ended with its disposition: {row}"
    );
    assert_eq!(
        (&row["protocol"], &row["caller"]),
        (&json!("recall"), &json!(CITIZEN)),
        "{row}"
    );
    assert_eq!(
        (&row["operators"], &row["category"]),
        (&json!(["op1"]), &json!("genkald")),
        "{row}"
    );
    let talk = row["talk_s"].as_f64().unwrap_or_default();
    assert!(
        talk >= 1.5,
        "talk time from the unit's answer to the end: {row}"
    );
    assert!(row["wait_s"].is_number(), "{row}");
}
