//! SDP parse and, on success, check its `c=` addresses (strict media) and
//! answer it under the default tenant policy.
#![no_main]

use alarmgate::admission::IpNet;
use alarmgate::sip::sdp::{answer, check_addresses, parse, LocalMedia, MediaPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(offer) = parse(text) {
        let allow: [IpNet; 1] = ["10.0.0.0/8".parse().expect("cidr")];
        let _ = check_addresses(&offer, &allow, text.len() % 2 == 0);
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
