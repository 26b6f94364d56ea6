//! `[media]`: RTP ports, where a call's RTP and SDP may point (strict
//! media), and what a held call hears.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

use super::validate::Findings;
use super::Problem;
use crate::admission::IpNet;
use crate::media::source::{SourceMode, SourceRules};

/// Default `media.ssrc_change_gap_ms`.
pub const DEFAULT_SSRC_CHANGE_GAP_MS: u64 = 1000;

/// Default `media.rtp_port_min`.
pub const DEFAULT_RTP_PORT_MIN: u16 = 20000;
/// Default `media.rtp_port_max`.
pub const DEFAULT_RTP_PORT_MAX: u16 = 29999;

/// `[media]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Lowest local RTP port. RTP uses even ports, RTCP the odd port above
    /// (RFC 3550 §11). Default 20000.
    pub rtp_port_min: u16,
    /// Highest local port, inclusive; the range must hold at least one even
    /// RTP port with its RTCP port. Each call uses one pair, so the range
    /// bounds concurrent calls at (max - min + 1) / 2. Default 29999.
    pub rtp_port_max: u16,
    /// What an answered call hears while it waits for an operator:
    /// `"silence"` or `"tone"` (see `[media.hold_tone]`). Default `"silence"`.
    pub hold: HoldKind,
    /// `[media.hold_tone]`: the tone played when `hold = "tone"`.
    pub hold_tone: HoldTone,
    /// Where a call's RTP may come from: `"sdp"`, only the address (IP and
    /// port) its SDP named; `"latch"`, symmetric RTP for units behind NAT:
    /// the first source, latched once. Anything else is dropped and counted
    /// (`alarmgate_rtp_dropped_packets_total`). Default `"sdp"`.
    pub rtp_source: RtpSource,
    /// Silence, in ms, after which the accepted source may start a new SSRC
    /// without a re-INVITE (a unit restarting its stream). 20 to 60000.
    /// Default 1000.
    pub ssrc_change_gap_ms: u64,
    /// Networks an SDP `c=` address may name, as CIDRs; empty: any unicast
    /// address. Unspecified (except the `c=0.0.0.0` hold of a re-INVITE),
    /// broadcast and multicast addresses are always refused with 488.
    /// Default empty.
    pub sdp_allow: Vec<IpNet>,
}

/// `media.rtp_source`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtpSource {
    /// Only the SDP's address.
    #[default]
    Sdp,
    /// Symmetric RTP: latch once.
    Latch,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            rtp_port_min: DEFAULT_RTP_PORT_MIN,
            rtp_port_max: DEFAULT_RTP_PORT_MAX,
            hold: HoldKind::Silence,
            hold_tone: HoldTone::default(),
            rtp_source: RtpSource::Sdp,
            ssrc_change_gap_ms: DEFAULT_SSRC_CHANGE_GAP_MS,
            sdp_allow: Vec::new(),
        }
    }
}

/// What a held call hears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldKind {
    /// Comfort silence (G.711 silence frames keep NAT bindings open).
    #[default]
    Silence,
    /// A cadenced tone, so the caller knows the line is alive.
    Tone,
}

/// `[media.hold_tone]`: a single-frequency tone with an on/off cadence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoldTone {
    /// Tone frequency in Hz, 1 to 3999 (G.711 is sampled at 8 kHz).
    /// Default 425 (the European comfort/ring tone).
    pub frequency_hz: u32,
    /// Level in dBm0, from -60.0 to 0.0. Default -13.0.
    pub level_dbm0: f64,
    /// Tone on, in milliseconds; more than 0. Default 1000.
    pub on_ms: u64,
    /// Tone off, in milliseconds; 0 gives a continuous tone. Default 4000.
    pub off_ms: u64,
}

impl Default for HoldTone {
    fn default() -> Self {
        Self {
            frequency_hz: 425,
            level_dbm0: -13.0,
            on_ms: 1000,
            off_ms: 4000,
        }
    }
}

impl HoldTone {
    /// The on period.
    pub fn on(&self) -> Duration {
        Duration::from_millis(self.on_ms)
    }
    /// The off period.
    pub fn off(&self) -> Duration {
        Duration::from_millis(self.off_ms)
    }
}

impl MediaConfig {
    /// The even ports usable for RTP (each with RTCP on port + 1).
    pub fn rtp_ports(&self) -> impl Iterator<Item = u16> {
        let first = self.rtp_port_min.saturating_add(self.rtp_port_min % 2);
        let last = self.rtp_port_max.saturating_sub(1);
        (first..=last).step_by(2)
    }

    /// How many calls the port range can carry at once.
    pub fn rtp_port_pairs(&self) -> usize {
        self.rtp_ports().count()
    }

    /// The media core's source rules.
    pub fn source_rules(&self) -> SourceRules {
        let mode = match self.rtp_source {
            RtpSource::Sdp => SourceMode::Sdp,
            RtpSource::Latch => SourceMode::Latch,
        };
        SourceRules {
            mode,
            ssrc_gap: Duration::from_millis(self.ssrc_change_gap_ms),
        }
    }

    /// The configured range as written.
    pub fn rtp_port_range(&self) -> RangeInclusive<u16> {
        self.rtp_port_min..=self.rtp_port_max
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let (min, max) = (self.rtp_port_min, self.rtp_port_max);
        if min == 0 {
            out.push(
                "media.rtp_port_min",
                Problem::Invalid {
                    value: "0".into(),
                    expected: "a port from 1 to 65535",
                },
            );
        } else if min > max {
            let detail = format!("rtp_port_min ({min}) is above rtp_port_max ({max})");
            out.push("media.rtp_port_min", Problem::Conflict { detail });
        } else if self.rtp_port_pairs() == 0 {
            let detail =
                format!("{min}..={max} holds no even RTP port with its RTCP port above it");
            out.push("media.rtp_port_max", Problem::Conflict { detail });
        }
        if !(20..=60_000).contains(&self.ssrc_change_gap_ms) {
            out.push(
                "media.ssrc_change_gap_ms",
                Problem::Invalid {
                    value: self.ssrc_change_gap_ms.to_string(),
                    expected: "20 to 60000 ms",
                },
            );
        }
        self.hold_tone.check(out);
    }
}

impl HoldTone {
    fn check(&self, out: &mut Findings) {
        if !(1..=3999).contains(&self.frequency_hz) {
            let value = self.frequency_hz.to_string();
            out.push(
                "media.hold_tone.frequency_hz",
                Problem::Invalid {
                    value,
                    expected: "1 to 3999 Hz",
                },
            );
        }
        if !(-60.0..=0.0).contains(&self.level_dbm0) {
            let value = self.level_dbm0.to_string();
            out.push(
                "media.hold_tone.level_dbm0",
                Problem::Invalid {
                    value,
                    expected: "-60.0 to 0.0 dBm0",
                },
            );
        }
        if self.on_ms == 0 {
            out.push(
                "media.hold_tone.on_ms",
                Problem::Invalid {
                    value: "0".into(),
                    expected: "at least 1 ms",
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(min: u16, max: u16) -> MediaConfig {
        MediaConfig {
            rtp_port_min: min,
            rtp_port_max: max,
            ..MediaConfig::default()
        }
    }

    fn keys(m: &MediaConfig) -> Vec<String> {
        let mut out = Findings::default();
        m.check(&mut out);
        out.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn port_pairs() {
        assert_eq!(media(20000, 29999).rtp_port_pairs(), 5000);
        assert_eq!(media(20001, 20003).rtp_ports().collect::<Vec<_>>(), [20002]);
        assert_eq!(media(20000, 20001).rtp_port_pairs(), 1);
        assert_eq!(media(20001, 20002).rtp_port_pairs(), 0);
        assert_eq!(media(65534, 65535).rtp_port_pairs(), 1);
        assert_eq!(media(65535, 65535).rtp_port_pairs(), 0);
    }

    #[test]
    fn port_range_checks() {
        assert!(keys(&MediaConfig::default()).is_empty());
        assert_eq!(keys(&media(30000, 20000)), ["media.rtp_port_min"]);
        assert_eq!(keys(&media(20001, 20002)), ["media.rtp_port_max"]);
        assert_eq!(keys(&media(0, 20002)), ["media.rtp_port_min"]);
    }

    #[test]
    fn strict_media_keys() {
        let m: MediaConfig = toml::from_str(
            "rtp_source = \"latch\"\nssrc_change_gap_ms = 500\nsdp_allow = [\"10.0.0.0/8\"]",
        )
        .expect("valid");
        assert_eq!(m.source_rules().mode, SourceMode::Latch);
        assert_eq!(m.source_rules().ssrc_gap, Duration::from_millis(500));
        assert_eq!(m.sdp_allow.len(), 1);
        assert_eq!(
            MediaConfig::default().source_rules(),
            SourceRules::default()
        );
        let bad = MediaConfig {
            ssrc_change_gap_ms: 0,
            ..MediaConfig::default()
        };
        assert_eq!(keys(&bad), ["media.ssrc_change_gap_ms"]);
        assert!(toml::from_str::<MediaConfig>("rtp_source = \"any\"").is_err());
    }

    #[test]
    fn tone_checks() {
        let m = MediaConfig {
            hold_tone: HoldTone {
                frequency_hz: 4000,
                level_dbm0: 3.0,
                on_ms: 0,
                off_ms: 0,
            },
            ..MediaConfig::default()
        };
        assert_eq!(
            keys(&m),
            [
                "media.hold_tone.frequency_hz",
                "media.hold_tone.level_dbm0",
                "media.hold_tone.on_ms"
            ]
        );
    }
}
