//! SIP message parse -> validate -> serialise -> re-parse, plus the 400 salvager.
#![no_main]

use alarmgate::sip::message::{best_effort_400, parse, serialize, SipMessage};
use alarmgate::sip::validate::validate_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        if let SipMessage::Request(r) = &msg {
            let _ = validate_request(r);
        }
        let out = serialize(&msg);
        if let Err(e) = parse(&out) {
            panic!(
                "our own serialisation does not re-parse: {e}\ninput: {:?}\noutput: {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&out)
            );
        }
    }
    let _ = best_effort_400(data);
});
