//! Goertzel DTMF and tone detection on 8 kHz 16-bit PCM (pure, no I/O).
//!
//! | file | role |
//! |---|---|
//! | [`goertzel`] | single Goertzel filters, a lock-step bank, dBm0 level helpers |
//! | [`dtmf`] | ITU-T Q.24-style DTMF receiver with talk-off checks and per-digit metrics |
//! | [`tone_detect`] | single-frequency presence detector (Contact ID handshake/kissoff) |
//! | [`timeline`] | missing RTP as time: silence (suppressed or by the clock) versus lost packets |
//!
//! Audio arrives in 20 ms frames of 160 samples, but every detector accepts
//! frames of any length and takes `now`, the time of the frame's first sample.

pub mod dtmf;
pub mod goertzel;
pub mod timeline;
pub mod tone_detect;

#[cfg(test)]
pub(crate) mod test_signals;

pub use dtmf::{DigitMetrics, DtmfConfig, DtmfDetector, DtmfEvent};
pub use timeline::{AudioTimeline, Listener};
pub use tone_detect::{ToneBank, ToneConfig, ToneDetector, ToneEvent};
