//! Recall from the console: a citizen's number typed in, and the "Call
//! back" of a past call in the operator's list. The console's own phone
//! rings first (the daemon calls the operator, then the unit over the
//! tenant's recall trunk); a pjsua2 softphone stands for the citizen's unit.

use super::phone::*;
use super::*;
use crate::harness::need_pjsua2;
use crate::operators::{assert_heard, wait_operator_state, OPERATOR_HZ, RING_WAIT, UNIT_HZ};
use crate::softphone::{PhoneOpts, Softphone};

/// The citizen's number the recalls dial.
const CITIZEN: &str = "4533333333";

/// The demo tenant recalls over trunk `pstn`, whose proxy is the unit's port.
fn with_recall_trunk(cfg: &mut Config, unit_port: u16) {
    cfg.tenant_keys.push_str("recall_trunk = \"pstn\"\n");
    cfg.extra.push_str(&format!(
        "[[trunks]]\nname = \"pstn\"\nallow = [\"192.0.2.0/24\"]\nproxy = \"127.0.0.1:{unit_port}\"\n\n"
    ));
}

/// op1 types the citizen's number and presses "Call back": the console
/// rings, F2 answers, the unit is called and answers, audio flows both
/// ways; F4 ends both. The call is then in "My recent calls", whose "Call
/// back" rings the console again (declined with F3).
#[test]
fn console_recall_from_a_number_and_from_a_past_call() {
    let test = "console_recall_from_a_number_and_from_a_past_call";
    if !need_pjsua2(test) {
        return;
    }
    let unit_port = free_port();
    let Some((d, _ws)) = ws_centre_with(test, 15, |c| with_recall_trunk(c, unit_port)) else {
        return;
    };
    let unit = Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            sip_port: Some(unit_port),
            tone_hz: f64::from(UNIT_HZ),
            measure: vec![f64::from(UNIT_HZ), f64::from(OPERATOR_HZ)],
            ..PhoneOpts::new("unit")
        },
    );
    let mut op1 = console_with_phone(&d, "op1");
    wait_operator_state(&d, "op1", "available", SHORT);
    op1.type_in("#recall-number", CITIZEN);
    op1.click("#recall-form button[type=\"submit\"]");
    let said = op1.wait_js(
        "document.getElementById('recall-message').textContent.startsWith('Calling 4533333333')",
        SHORT,
    );
    assert!(said, "{}", op1.text("#recall-message"));
    assert!(wait_ringing(&mut op1, RING_WAIT), "the console never rang");
    op1.keys("F2");
    wait_connected(&mut op1, "op1");
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the daemon never called the unit");
    assert!(unit.wait_state(uinc, "CONFIRMED", SHORT).is_some());
    assert_browser_hears(&mut op1);
    wait_sent(&mut op1, 150);
    op1.keys("F4");
    assert!(
        unit.wait_state(uinc, "DISCONNECTED", SHORT).is_some(),
        "the unit's call did not end"
    );
    assert_heard(&unit, uinc, OPERATOR_HZ);

    let listed = op1.wait_js(
        "document.getElementById('history').textContent.includes('4533333333')",
        SHORT,
    );
    assert!(listed, "not in my recent calls: {}", op1.text("#history"));
    op1.keys("F9");
    wait_operator_state(&d, "op1", "available", SHORT);
    op1.click("#history li button");
    assert!(
        wait_ringing(&mut op1, RING_WAIT),
        "the past call's Call back did not ring the console: {}",
        op1.text("#recall-message")
    );
    op1.keys("F3");
    wait_operator_state(&d, "op1", "available", SHORT);
}
