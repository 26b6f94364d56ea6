//! SDP parse and, on success, answer it under the default tenant policy.
#![no_main]

use alarmgate::sip::sdp::{answer, parse, LocalMedia, MediaPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(offer) = parse(text) {
        let local = LocalMedia {
            addr: [192, 0, 2, 10].into(),
            port: 30000,
            session_id: 4242,
            session_version: 1,
            username: "alarmgate".into(),
        };
        let _ = answer(&offer, &MediaPolicy::default(), local);
    }
});
