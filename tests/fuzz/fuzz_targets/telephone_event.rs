//! RFC 4733 telephone-events: the payload parser (and re-emit), the event
//! set from `a=fmtp`, and the digit receiver fed a stream of 8-byte records
//! (timestamp delta, sequence delta, 4-byte payload).
#![no_main]

use alarmgate::media::telephone_event::{EventSet, TelephoneEvent, TelephoneEventReceiver};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = TelephoneEvent::parse(data) {
        let again = TelephoneEvent::parse(&event.emit()).expect("what we emit parses");
        assert_eq!(again, event);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = EventSet::parse(text);
    }
    let start = Instant::now();
    let mut rx = TelephoneEventReceiver::new(EventSet::default(), Duration::from_millis(200));
    let (mut ts, mut seq) = (0u32, 0u16);
    for (i, rec) in data.chunks_exact(8).enumerate() {
        let now = start + Duration::from_millis(10 * i as u64);
        ts = ts.wrapping_add(u32::from(u16::from_be_bytes([rec[0], rec[1]])));
        seq = seq.wrapping_add(u16::from_be_bytes([rec[2], rec[3]]));
        let _ = rx.handle_packet(now, ts, seq, &rec[4..]);
        rx.handle_timeout(now);
        while let Some(digit) = rx.poll_event() {
            assert!(digit.digit.is_none_or(|d| "0123456789*#ABCD".contains(d)));
        }
    }
});
