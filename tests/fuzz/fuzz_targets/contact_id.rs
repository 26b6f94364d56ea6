//! The Contact ID message parser: a message that parses encodes back to the
//! same 15 field digits with a valid check digit (`0` and `D` both weigh 10,
//! so the check digit itself may differ), and parses again to itself.
#![no_main]

use alarmgate::alarm::contact_id::{encode, parse, verify_checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = parse(text) {
        assert!(verify_checksum(text).is_ok());
        let digits = encode(&message);
        assert_eq!(digits.get(..15), text.get(..15), "encode(parse(x)) == x");
        assert!(verify_checksum(&digits).is_ok());
        assert_eq!(parse(&digits).as_ref(), Ok(&message));
    }
});
