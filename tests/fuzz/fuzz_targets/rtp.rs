//! RTP: the checked packet view, header re-emit, and a whole leg's
//! receive path (source rules, reorder, decode, telephone-events).
#![no_main]

use alarmgate::media::receiver::EventParams;
use alarmgate::media::rtp::{RtpHeader, RtpPacket};
use alarmgate::media::sender::Seeds;
use alarmgate::media::session::{MediaParams, RtpSession};
use alarmgate::media::source::{SourceMode, SourceRules};
use alarmgate::media::telephone_event::EventSet;
use alarmgate::media::Codec;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = RtpPacket::new_checked(data) {
        let header = RtpHeader::parse(&packet);
        let again = header
            .to_vec(packet.payload())
            .expect("a parsed header emits");
        let reparsed = RtpPacket::new_checked(&again).expect("what we emit parses");
        assert_eq!(RtpHeader::parse(&reparsed), header);
        assert_eq!(reparsed.payload(), packet.payload());
    }
    // The same bytes cut into datagrams: byte 0 picks the source and mode.
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mode = if control & 1 == 0 {
        SourceMode::Sdp
    } else {
        SourceMode::Latch
    };
    let params = MediaParams {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(EventParams {
            payload_type: 101,
            events: EventSet::default(),
        }),
        ptime_ms: 20,
        remote: Some(SocketAddr::from(([10, 0, 0, 5], 4000))),
        rtcp_mux: control & 2 != 0,
        source: SourceRules {
            mode,
            ssrc_gap: Duration::from_millis(100),
        },
    };
    let seeds = Seeds {
        ssrc: 1,
        sequence_number: 0,
        timestamp: 0,
    };
    let start = Instant::now();
    let Ok(mut session) = RtpSession::new(start, params, seeds, "fuzz") else {
        return;
    };
    for (i, chunk) in rest.chunks(((control >> 2) as usize % 48) + 12).enumerate() {
        let now = start + Duration::from_millis(20 * i as u64);
        let host = if chunk.first().is_some_and(|b| b & 0x80 != 0) {
            6
        } else {
            5
        };
        let src = SocketAddr::from(([10, 0, 0, host], 4000));
        let _ = session.handle_packet(now, src, chunk);
        session.handle_timeout(now);
        while session.poll_audio().is_some() || session.poll_event().is_some() {}
        while session.poll_transmit(now).is_some() {}
    }
    let stats = session.stats();
    assert!(stats.packets_received <= rest.len() as u64);
});
