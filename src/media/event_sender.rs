//! RFC 4733 §2.5.1 telephone-event transmission: the packet sequence of one
//! event, one packet per packetisation interval with a growing duration,
//! then the end packet three times (§2.5.1.4). The session adds RTP headers.

use super::telephone_event::{event_for_digit, TelephoneEvent};

/// How many times the sender repeats the end packet.
pub const END_REPEATS: u8 = 3;

/// One packet of an outgoing event: the session adds the RTP header, with
/// the marker as given and the timestamp of the event start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Set on the first packet of the event.
    pub marker: bool,
    /// The payload block.
    pub event: TelephoneEvent,
}

/// Produces one packet per packetisation interval for an event: growing
/// durations, then the end packet [`END_REPEATS`] times.
#[derive(Debug, Clone)]
pub struct TelephoneEventSender {
    event: u8,
    volume: u8,
    total: u16,
    step: u16,
    sent: u16,
    ends_left: u8,
}

impl TelephoneEventSender {
    /// An event of `duration_ms` sent every `ptime_ms` at 8 kHz; `volume` in
    /// -dBm0. Durations are capped at 8 s (the 16-bit field).
    pub fn new(event: u8, duration_ms: u32, ptime_ms: u32, volume: u8) -> Self {
        let to_units = |ms: u32| (ms.saturating_mul(8)).clamp(1, u32::from(u16::MAX)) as u16;
        let (total, step) = (to_units(duration_ms), to_units(ptime_ms));
        Self {
            event,
            volume: volume & 0x3f,
            total,
            step,
            sent: 0,
            ends_left: END_REPEATS,
        }
    }

    /// A sender for a DTMF character, if it is one.
    pub fn for_digit(digit: char, duration_ms: u32, ptime_ms: u32, volume: u8) -> Option<Self> {
        event_for_digit(digit).map(|e| Self::new(e, duration_ms, ptime_ms, volume))
    }

    /// True once every packet, end repeats included, was produced.
    pub fn is_finished(&self) -> bool {
        self.ends_left == 0
    }
}

impl Iterator for TelephoneEventSender {
    type Item = EventPacket;

    /// The packet for the next interval.
    fn next(&mut self) -> Option<EventPacket> {
        if self.is_finished() {
            return None;
        }
        let marker = self.sent == 0;
        self.sent = self.sent.saturating_add(self.step).min(self.total);
        let end = self.sent == self.total;
        if end {
            self.ends_left -= 1;
        }
        let (event, volume, duration) = (self.event, self.volume, self.sent);
        Some(EventPacket {
            marker,
            event: TelephoneEvent {
                event,
                end,
                volume,
                duration,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::media::telephone_event::{EventSet, TelephoneEventReceiver, DEFAULT_TIMEOUT};
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn sender_sequence_and_loopback() {
        let sender = TelephoneEventSender::for_digit('#', 100, 20, 10).expect("digit");
        let packets: Vec<_> = sender.collect();
        let durations: Vec<_> = packets
            .iter()
            .map(|p| (p.event.duration, p.event.end))
            .collect();
        let expect = [(160, false), (320, false), (480, false), (640, false)];
        assert_eq!(&durations[..4], &expect);
        assert_eq!(&durations[4..], &[(800, true); 3]);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        let mut rx = TelephoneEventReceiver::new(EventSet::default(), DEFAULT_TIMEOUT);
        for (i, p) in packets.iter().enumerate() {
            let now = epoch() + 20 * MS * i as u32;
            rx.handle_packet(now, 5000, i as u16, &p.event.emit())
                .expect("ok");
        }
        let e = rx.poll_event().expect("one digit");
        assert_eq!((e.digit, e.duration, e.timestamp), (Some('#'), 800, 5000));
        assert!(rx.poll_event().is_none());
        assert_eq!(TelephoneEventSender::new(1, 10, 20, 0).count(), 3); // shorter than ptime
    }
}
