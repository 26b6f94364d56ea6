use super::*;
use crate::clock::epoch;
use crate::dsp::{DtmfConfig, DtmfDetector, DtmfEvent};
use crate::media::bridge_port::BridgePort;
use crate::media::g711::Codec;
use crate::media::receiver::EventParams;
use crate::media::rtp::RtpPacket;
use crate::media::sender::AudioSource;
use crate::media::sender::Seeds;
use crate::media::session::{MediaParams, RtpSession, TransmitKind};
use crate::media::telephone_event::{EndReason, EventSet};
use std::net::SocketAddr;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn session(codec: Codec, pt: u8, te: Option<u8>, remote: &str, ssrc: u32) -> RtpSession {
    let params = MediaParams {
        codec,
        payload_type: pt,
        telephone_event: te.map(|payload_type| EventParams {
            payload_type,
            events: EventSet::default(),
        }),
        ptime_ms: 20,
        remote: Some(addr(remote)),
        rtcp_mux: false,
        source: crate::media::source::SourceRules::default(),
    };
    let seeds = Seeds {
        ssrc,
        sequence_number: 100,
        timestamp: 1000,
    };
    RtpSession::new(epoch(), params, seeds, "bridge@test").expect("valid params")
}

/// Every value in the 16-bit range, in steps, one packet at a time.
struct Ramp(i32);

impl AudioSource for Ramp {
    fn fill(&mut self, out: &mut [i16]) -> bool {
        for s in out.iter_mut() {
            *s = self.0 as i16;
            self.0 = if self.0 > 32000 { -32768 } else { self.0 + 97 };
        }
        true
    }
}

/// RTP packets (pt, payload) of `s` due at `now`.
fn sent(s: &mut RtpSession, now: std::time::Instant) -> Vec<(u8, Vec<u8>)> {
    std::iter::from_fn(|| s.poll_transmit(now))
        .filter(|t| t.kind == TransmitKind::Rtp)
        .filter_map(|t| {
            let p = RtpPacket::new_checked(&t.bytes).ok()?;
            Some((p.payload_type(), p.payload().to_vec()))
        })
        .collect()
}

fn connected(device_events: bool) -> Bridge {
    let ports = (BridgePort::default(), BridgePort::default());
    Bridge::new(BridgeConfig::default(), ports.0, ports.1, device_events)
}

#[test]
fn g711_same_law_round_trip_is_lossless() {
    for codec in [Codec::Pcma, Codec::Pcmu] {
        for code in 0..=255u8 {
            let x = codec.decode_sample(code);
            let again = codec.encode_sample(x);
            assert_eq!(codec.decode_sample(again), x, "{codec:?} {code:#x}");
            // µ-law has two zeros (0x7f and 0xff); every other code comes back.
            if (codec, code) != (Codec::Pcmu, 0x7f) {
                assert_eq!(again, code, "{codec:?} {code:#x}");
            }
        }
    }
}

/// The unit sends `from` (a ramp over the whole range) to the device leg,
/// bridged to an operator leg on `to`: (codes the unit sent, codes and
/// payload types the operator leg sent).
fn carry(from: (Codec, u8), to: (Codec, u8)) -> (Vec<u8>, Vec<(u8, u8)>) {
    let mut unit = session(from.0, from.1, Some(101), "10.0.0.1:4000", 1);
    unit.set_source(Box::new(Ramp(-32768)));
    let mut device = session(from.0, from.1, Some(101), "10.0.0.1:4000", 2);
    let mut operator = session(to.0, to.1, Some(96), "10.0.0.3:6000", 3);
    let mut bridge = connected(true);
    operator.set_source(Box::new(bridge.operator_port().clone()));
    let (mut from_unit, mut to_operator) = (Vec::new(), Vec::new());
    for tick in 0..50u32 {
        let now = epoch() + 20 * MS * tick;
        while let Some(t) = unit.poll_transmit(now) {
            let p = RtpPacket::new_checked(&t.bytes).expect("our own RTP");
            from_unit.extend_from_slice(p.payload());
            device
                .handle_packet(now, addr("10.0.0.1:4000"), &t.bytes)
                .expect("valid RTP");
        }
        device.handle_timeout(now);
        while let Some(frame) = device.poll_audio() {
            bridge.from_device(&frame);
        }
        for (pt, payload) in sent(&mut operator, now) {
            to_operator.extend(payload.into_iter().map(|c| (pt, c)));
        }
    }
    let stats = bridge.stats().to_operator;
    assert_eq!((stats.dropped, stats.underrun), (0, 0));
    (from_unit, to_operator)
}

#[test]
fn alaw_in_ulaw_out_sample_accurate_with_the_operators_payload_types() {
    // The unit sends A-law (pt 8); the operator took µ-law (pt 0), or a
    // dynamic payload type, and the other way round.
    for (from, to) in [
        (Codec::Pcma, (Codec::Pcmu, 0)),
        (Codec::Pcmu, (Codec::Pcma, 97)),
    ] {
        let (sent, got) = carry((from, from.static_payload_type()), to);
        let expected: Vec<(u8, u8)> = sent
            .iter()
            .map(|&c| (to.1, to.0.encode_sample(from.decode_sample(c))))
            .collect();
        assert_eq!(got.len(), expected.len(), "no sample lost or added");
        assert_eq!(got, expected, "{from:?} -> {to:?}");
    }
}

#[test]
fn the_same_law_passes_through_byte_for_byte() {
    for law in [Codec::Pcma, Codec::Pcmu] {
        let (sent, got) = carry((law, 8), (law, 96));
        let codes: Vec<u8> = got.iter().map(|&(_, c)| c).collect();
        assert_eq!(codes, sent, "{law:?}");
        assert!(got.iter().all(|&(pt, _)| pt == 96));
    }
}

#[test]
fn the_queue_is_bounded_and_drops_the_oldest() {
    let mut bridge = connected(false);
    for n in 0..10i16 {
        let frame = AudioFrame::Audio {
            seq: n as u16,
            timestamp: 160 * n as u32,
            samples: vec![n + 1; 160],
        };
        bridge.from_operator(&frame);
    }
    let mut port = bridge.device_port().clone();
    assert_eq!(port.queued(), 960, "120 ms");
    let mut out = [0i16; 160];
    port.fill(&mut out);
    assert_eq!(out, [5; 160], "frames 1-4 were dropped");
    let stats = port.stats();
    assert_eq!((stats.samples_in, stats.dropped), (1600, 640));
    let huge = AudioFrame::Audio {
        seq: 11,
        timestamp: 0,
        samples: vec![7; 5000],
    };
    bridge.from_operator(&huge);
    assert_eq!(port.queued(), 960);
}

#[test]
fn silence_when_nothing_arrives_and_gaps_are_counted_not_concealed() {
    let mut bridge = connected(false);
    let mut port = bridge.operator_port().clone();
    bridge.from_device(&AudioFrame::Audio {
        seq: 1,
        timestamp: 0,
        samples: vec![100; 100],
    });
    bridge.from_device(&AudioFrame::Gap {
        first_seq: 2,
        packets: 3,
    });
    let mut out = [9i16; 160];
    assert!(port.fill(&mut out), "a bridge port never ends");
    assert_eq!((&out[..100], &out[100..]), (&[100; 100][..], &[0; 60][..]));
    let stats = port.stats();
    assert_eq!(
        (stats.samples_out, stats.underrun, stats.gap_packets),
        (100, 60, 3)
    );
}

#[test]
fn an_override_tone_wins_then_the_voice_resumes_in_real_time() {
    let mut bridge = connected(true);
    let mut port = bridge.device_port().clone();
    port.play_override(ToneSpec::contact_id_kissoff());
    assert!(port.is_overridden());
    let mut out = [0i16; 160];
    // 850 ms of kissoff = 43 packets; the voice keeps coming meanwhile.
    for n in 0..43u16 {
        bridge.from_operator(&AudioFrame::Audio {
            seq: n,
            timestamp: 0,
            samples: vec![1234; 160],
        });
        port.fill(&mut out);
        assert!(out.iter().any(|&s| s != 1234), "tone, not voice");
    }
    assert_eq!(
        port.queued(),
        0,
        "voice under the tone was consumed in step"
    );
    bridge.from_operator(&AudioFrame::Audio {
        seq: 43,
        timestamp: 0,
        samples: vec![1234; 160],
    });
    port.fill(&mut out);
    assert_eq!(out, [1234; 160]);
    assert!(!port.is_overridden());
    port.play_override(ToneSpec::contact_id_kissoff());
    port.stop_override();
    assert!(!port.is_overridden());
    assert_eq!(port.stats().overridden, 43 * 160);
}

pub(super) fn digit_event(digit: Option<char>, event: u8, ms: u16) -> DigitEvent {
    DigitEvent {
        event,
        digit,
        timestamp: 0,
        duration: ms * 8,
        volume: 10,
        ended_by: EndReason::EndBit,
        ssrc: 0,
    }
}

#[test]
fn operator_digits_go_to_a_device_with_telephone_event_as_events() {
    let mut bridge = connected(true);
    let relay = bridge.operator_digit(&digit_event(Some('7'), 7, 120));
    assert_eq!(
        relay,
        Some(DigitRelay::Events {
            digit: '7',
            duration_ms: 120
        })
    );
    let relay = bridge.operator_digit(&digit_event(Some('#'), 11, 10));
    let Some(DigitRelay::Events { duration_ms, .. }) = relay else {
        panic!("events")
    };
    assert_eq!(duration_ms, MIN_DIGIT_MS);
    // The phone sends '7' with telephone-event 96; the operator leg decodes
    // it, and the runtime sends it on the device leg with the device's 101.
    let mut phone = session(Codec::Pcmu, 0, Some(96), "10.0.0.3:6000", 4);
    let mut operator = session(Codec::Pcmu, 0, Some(96), "10.0.0.4:6000", 3);
    phone.send_digits("7", 120).expect("negotiated");
    for t in 0..20u32 {
        let now = epoch() + 20 * MS * t;
        while let Some(out) = phone.poll_transmit(now) {
            let _ = operator.handle_packet(now, addr("10.0.0.4:6000"), &out.bytes);
        }
        operator.handle_timeout(now);
    }
    let event = operator.poll_event().expect("the phone's digit");
    let Some(DigitRelay::Events { digit, duration_ms }) = bridge.operator_digit(&event) else {
        panic!("events")
    };
    assert_eq!((digit, duration_ms), ('7', 120));
    let mut device = session(Codec::Pcma, 8, Some(101), "10.0.0.1:4000", 1);
    device.send_digits("7", duration_ms).expect("negotiated");
    let packets: Vec<_> = (0..20u32)
        .flat_map(|t| sent(&mut device, epoch() + 20 * MS * t))
        .collect();
    assert!(packets.iter().any(|(pt, p)| *pt == 101 && p[0] == 7));
    assert!(!bridge.device_port().is_overridden());
    assert!(bridge.operator_digit(&digit_event(None, 16, 100)).is_none());
    let stats = bridge.stats();
    assert_eq!((stats.digits_events, stats.events_ignored), (3, 1));
}

#[test]
fn operator_digits_go_in_band_to_a_device_without_telephone_event() {
    let mut bridge = connected(false);
    assert_eq!(
        bridge.operator_digit(&digit_event(Some('5'), 5, 100)),
        Some(DigitRelay::InBand { digit: '5' })
    );
    assert_eq!(
        bridge.operator_digit(&digit_event(Some('9'), 9, 100)),
        Some(DigitRelay::InBand { digit: '9' })
    );
    let mut port = bridge.device_port().clone();
    let mut detector = DtmfDetector::new(DtmfConfig::default());
    let mut heard = String::new();
    let mut out = [0i16; 160];
    for t in 0..30u32 {
        bridge.from_operator(&AudioFrame::Audio {
            seq: t as u16,
            timestamp: 0,
            samples: vec![0; 160],
        });
        port.fill(&mut out);
        detector.process(epoch() + 20 * MS * t, &out);
        while let Some(event) = detector.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = event {
                heard.push(digit);
            }
        }
    }
    assert_eq!(
        heard, "59",
        "both digits, in order, heard by a DTMF detector"
    );
    assert!(!port.is_overridden());
    assert_eq!(bridge.stats().digits_in_band, 2);
    assert!(bridge.relay_in_band('x', 100).is_none());
}

#[test]
fn hold_plays_until_bridged_and_again_after_the_bridge_drops() {
    let (device, operator) = (BridgePort::default(), BridgePort::default());
    device.set_hold(Some(ToneSpec::continuous(425.0, -10.0)));
    let mut out = [0i16; 160];
    let voice = AudioFrame::Audio {
        seq: 1,
        timestamp: 0,
        samples: vec![321; 160],
    };
    device.push(&voice);
    assert_eq!(device.queued(), 0, "nothing queues while not bridged");
    device.clone().fill(&mut out);
    assert!(out.iter().any(|&s| s.abs() > 1000), "hold tone");
    let mut bridge = Bridge::new(
        BridgeConfig::default(),
        device.clone(),
        operator.clone(),
        false,
    );
    assert!(device.is_bridged() && operator.is_bridged());
    bridge.from_operator(&voice);
    device.clone().fill(&mut out);
    assert_eq!(out, [321; 160], "the operator, not the hold tone");
    operator.clone().fill(&mut out);
    assert_eq!(out, [0; 160], "silence when the device sent nothing");
    bridge.from_operator(&voice);
    drop(bridge);
    assert!(!device.is_bridged() && !operator.is_bridged());
    assert_eq!(device.queued(), 0, "the queue is emptied");
    device.clone().fill(&mut out);
    assert!(out.iter().any(|&s| s.abs() > 1000), "back to hold");
    operator.clone().fill(&mut out);
    assert_eq!(out, [0; 160], "no hold set: silence");
}

#[test]
fn info_keys_from_the_operator_are_relayed_like_its_rfc4733_digits() {
    // JsSIP's INFO "Signal=5 Duration=160": the same relay as an RFC 4733 '5'.
    let mut bridge = connected(true);
    let by_info = bridge.operator_key('5', 160);
    let by_rtp = bridge.operator_digit(&digit_event(Some('5'), 5, 160));
    assert_eq!(by_info, by_rtp);
    assert_eq!(
        by_info,
        Some(DigitRelay::Events {
            digit: '5',
            duration_ms: 160
        })
    );
    assert_eq!(
        bridge.operator_key('1', 5000),
        Some(DigitRelay::Events {
            digit: '1',
            duration_ms: MAX_DIGIT_MS
        })
    );
    let mut in_band = connected(false);
    assert_eq!(
        in_band.operator_key('#', 160),
        Some(DigitRelay::InBand { digit: '#' })
    );
    assert_eq!(in_band.stats().digits_in_band, 1);
}
