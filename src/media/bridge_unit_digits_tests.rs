//! The unit's RFC 4733 digits toward the operator: as events to an
//! operator leg that negotiated telephone-event (a browser that answered
//! it), in-band otherwise; the operator's digits still go the other way.

use super::tests::digit_event;
use super::*;
use crate::clock::epoch;
use crate::dsp::{DtmfConfig, DtmfDetector, DtmfEvent};
use crate::media::bridge_port::BridgePort;
use crate::media::sender::AudioSource;
use std::time::Duration;

fn bridge(operator_events: bool) -> Bridge {
    let ports = (BridgePort::default(), BridgePort::default());
    Bridge::new(BridgeConfig::default(), ports.0, ports.1, true)
        .with_operator_events(operator_events)
}

#[test]
fn unit_digits_reach_an_operator_with_telephone_event_as_events() {
    let mut b = bridge(true);
    assert_eq!(
        b.device_digit(&digit_event(Some('3'), 3, 150)),
        Some(DigitRelay::Events {
            digit: '3',
            duration_ms: 150
        })
    );
    let Some(DigitRelay::Events { duration_ms, .. }) =
        b.device_digit(&digit_event(Some('*'), 10, 5))
    else {
        panic!("events")
    };
    assert_eq!(duration_ms, MIN_DIGIT_MS, "a blip is made audible");
    assert!(
        b.device_digit(&digit_event(None, 16, 100)).is_none(),
        "flash"
    );
    assert!(!b.operator_port().is_overridden());
    let stats = b.stats();
    assert_eq!((stats.digits_events, stats.events_ignored), (2, 1));
}

#[test]
fn unit_digits_reach_an_operator_without_telephone_event_in_band() {
    let mut b = bridge(false);
    assert_eq!(
        b.device_digit(&digit_event(Some('4'), 4, 100)),
        Some(DigitRelay::InBand { digit: '4' })
    );
    let mut port = b.operator_port().clone();
    let mut detector = DtmfDetector::new(DtmfConfig::default());
    let mut heard = String::new();
    let mut out = [0i16; 160];
    for t in 0..20u32 {
        port.fill(&mut out);
        detector.process(epoch() + Duration::from_millis(20) * t, &out);
        while let Some(event) = detector.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = event {
                heard.push(digit);
            }
        }
    }
    assert_eq!(heard, "4", "the operator hears the unit's digit");
    assert_eq!(b.stats().digits_in_band, 1);
    assert!(
        b.device_port().stats().samples_in == 0,
        "nothing played back to the unit"
    );
}
