//! Stream framing (RFC 3261 §18.3): the input arrives in chunks of
//! `(data[0] & 0x7f) + 1` bytes; bit 7 of `data[0]` picks small limits
//! (512-byte header, 2 KiB message) instead of the defaults so that the
//! limit paths are reachable with short inputs.
//!
//! Checks: no panic; frames and the final error do not depend on how the
//! stream was chunked (one push versus many); the buffer stays bounded; every
//! byte pushed is accounted for (frames + keep-alives + buffered).
#![no_main]

use alarmgate::sip::framing::{Frame, FramingError, FramingLimits, StreamFramer};
use alarmgate::sip::message;
use libfuzzer_sys::fuzz_target;

type Outcome = Vec<Result<Frame, FramingError>>;

fn drain(framer: &mut StreamFramer, out: &mut Outcome, limits: FramingLimits) -> bool {
    loop {
        match framer.next_frame() {
            Ok(Some(frame)) => out.push(Ok(frame)),
            Ok(None) => {
                assert!(
                    framer.buffered() <= limits.max_header.max(limits.max_message),
                    "{} bytes buffered with nothing to return",
                    framer.buffered()
                );
                return true;
            }
            Err(e) => {
                assert_eq!(framer.next_frame(), Err(e.clone()), "error is not sticky");
                out.push(Err(e));
                return false;
            }
        }
    }
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Message(m) => m.len(),
        Frame::KeepAlivePing => 4,
        Frame::KeepAlivePong => 2,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first & 0x7f) + 1;
    let limits = if first & 0x80 != 0 {
        FramingLimits {
            max_header: 512,
            max_message: 2048,
        }
    } else {
        FramingLimits::default()
    };

    let mut chunked = StreamFramer::new(limits);
    let mut got = Outcome::new();
    for piece in stream.chunks(chunk) {
        chunked.push(piece);
        if !drain(&mut chunked, &mut got, limits) {
            break;
        }
    }

    let mut whole = StreamFramer::new(limits);
    whole.push(stream);
    let mut once = Outcome::new();
    let ok = drain(&mut whole, &mut once, limits);
    assert_eq!(got, once, "framing depends on how the stream was chunked");

    if ok {
        let framed: usize = once.iter().flatten().map(frame_len).sum();
        assert_eq!(
            framed + whole.buffered(),
            stream.len(),
            "bytes lost or invented"
        );
    }
    for frame in once.iter().flatten() {
        if let Frame::Message(m) = frame {
            assert!(m.len() <= limits.max_message);
            // What the transport does next with a frame.
            if message::parse(m).is_err() {
                let _ = message::best_effort_400(m);
            }
        }
    }
});
