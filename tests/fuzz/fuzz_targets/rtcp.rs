//! RTCP: the compound parser, and a receiver report we build from what it read.
#![no_main]

use alarmgate::media::rtcp::{build_receiver_report, is_rtcp, parse_compound, RtcpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = is_rtcp(data);
    let Ok(packets) = parse_compound(data) else {
        return;
    };
    for packet in packets {
        let (ssrc, reports) = match packet {
            RtcpPacket::SenderReport(sr) => (sr.ssrc, sr.reports),
            RtcpPacket::ReceiverReport { ssrc, reports } => (ssrc, reports),
            RtcpPacket::Other { .. } => continue,
        };
        let blocks: Vec<_> = reports.into_iter().take(31).collect();
        if let Ok(bytes) = build_receiver_report(ssrc, &blocks, "fuzz@alarmgate") {
            let again = parse_compound(&bytes).expect("what we build parses");
            match again.first() {
                Some(RtcpPacket::ReceiverReport { ssrc: s, reports }) => {
                    assert_eq!(*s, ssrc);
                    assert_eq!(reports, &blocks);
                }
                other => panic!("not our RR: {other:?}"),
            }
        }
    }
});
