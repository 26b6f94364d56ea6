//! Which RTP datagrams a call leg accepts (strict media), sans-IO.
//!
//! Without this check any host that guessed a call's RTP port could send
//! RFC 4733 events or in-band DTMF into it and have them decoded as the
//! unit's alarm. A leg accepts packets:
//!
//! - [`SourceMode::Sdp`]: only from the address (IP and port) the SDP
//!   named; a re-INVITE or UPDATE naming another address moves it there.
//! - [`SourceMode::Latch`] (symmetric RTP, for units behind NAT whose SDP
//!   shows a private address): from the first source that sends a valid
//!   packet, once; then only from it. A re-INVITE or UPDATE lets the leg
//!   latch once more.
//!
//! In both modes the first accepted SSRC is kept: another SSRC from the
//! accepted source is taken only after a re-INVITE/UPDATE or after
//! [`SourceRules::ssrc_gap`] without an accepted packet (a unit restarting
//! its stream). Everything else is dropped and counted by [`DropReason`].
//!
//! The leg asks [`SourceFilter::admit`] before decoding and calls
//! [`SourceFilter::commit`] once the packet proved valid RTP of a
//! negotiated payload type, so garbage cannot take the latch.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Default [`SourceRules::ssrc_gap`].
pub const DEFAULT_SSRC_GAP: Duration = Duration::from_secs(1);

/// Where a leg's RTP may come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceMode {
    /// Only the address the SDP named.
    #[default]
    Sdp,
    /// Symmetric RTP: the first source, latched once.
    Latch,
}

/// A leg's source rules, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRules {
    /// SDP address or latch.
    pub mode: SourceMode,
    /// Silence after which the accepted source may start another SSRC.
    pub ssrc_gap: Duration,
}

impl Default for SourceRules {
    fn default() -> Self {
        Self {
            mode: SourceMode::Sdp,
            ssrc_gap: DEFAULT_SSRC_GAP,
        }
    }
}

/// Why a datagram was dropped; `label` is the metric's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// From an address other than the SDP's or the latched one.
    Address,
    /// From the right address with another SSRC, no re-INVITE, no gap.
    Ssrc,
    /// The SDP named no address (held with `c=0.0.0.0` from the start).
    NoRemote,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 3] = [DropReason::Address, DropReason::Ssrc, DropReason::NoRemote];

    /// The metric label (no personal data).
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Address => "address",
            DropReason::Ssrc => "ssrc",
            DropReason::NoRemote => "no_remote",
        }
    }
}

/// Dropped datagrams of one leg, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// [`DropReason::Address`].
    pub address: u64,
    /// [`DropReason::Ssrc`].
    pub ssrc: u64,
    /// [`DropReason::NoRemote`].
    pub no_remote: u64,
}

impl DropCounts {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Address => self.address,
            DropReason::Ssrc => self.ssrc,
            DropReason::NoRemote => self.no_remote,
        }
    }

    fn add(&mut self, reason: DropReason) {
        match reason {
            DropReason::Address => self.address += 1,
            DropReason::Ssrc => self.ssrc += 1,
            DropReason::NoRemote => self.no_remote += 1,
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.address + self.ssrc + self.no_remote
    }
}

/// The source check of one leg.
#[derive(Debug, Clone)]
pub struct SourceFilter {
    rules: SourceRules,
    /// The SDP's address (IPv4-mapped addresses unmapped).
    expected: Option<SocketAddr>,
    /// The accepted source (latch mode: once latched).
    source: Option<SocketAddr>,
    ssrc: Option<u32>,
    last_accepted: Option<Instant>,
    /// A re-INVITE/UPDATE since the last accepted packet: one new SSRC (and,
    /// latching, one new source) may start.
    renegotiated: bool,
    dropped: DropCounts,
}

impl SourceFilter {
    /// A filter for a leg whose SDP named `remote`.
    pub fn new(rules: SourceRules, remote: Option<SocketAddr>) -> Self {
        Self {
            rules,
            expected: remote.map(unmapped),
            source: None,
            ssrc: None,
            last_accepted: None,
            renegotiated: false,
            dropped: DropCounts::default(),
        }
    }

    /// Whether an RTP packet from `src` with `ssrc` may be decoded at
    /// `now`; a refusal is counted. Changes nothing else.
    pub fn admit(&mut self, now: Instant, src: SocketAddr, ssrc: u32) -> Result<(), DropReason> {
        let verdict = self.check(now, unmapped(src), ssrc);
        if let Err(reason) = verdict {
            self.dropped.add(reason);
        }
        verdict
    }

    fn check(&self, now: Instant, src: SocketAddr, ssrc: u32) -> Result<(), DropReason> {
        match (self.rules.mode, self.expected, self.source) {
            (SourceMode::Sdp, None, _) => return Err(DropReason::NoRemote),
            (SourceMode::Sdp, Some(expected), _) if expected != src => {
                return Err(DropReason::Address)
            }
            (SourceMode::Latch, _, Some(latched)) if latched != src && !self.renegotiated => {
                return Err(DropReason::Address)
            }
            _ => {}
        }
        match self.ssrc {
            Some(kept) if kept != ssrc && !self.renegotiated && !self.gap_passed(now) => {
                Err(DropReason::Ssrc)
            }
            _ => Ok(()),
        }
    }

    fn gap_passed(&self, now: Instant) -> bool {
        self.last_accepted
            .is_some_and(|t| now.saturating_duration_since(t) >= self.rules.ssrc_gap)
    }

    /// Records an admitted packet that proved valid: latches its source and SSRC.
    pub fn commit(&mut self, now: Instant, src: SocketAddr, ssrc: u32) {
        self.source = Some(unmapped(src));
        self.ssrc = Some(ssrc);
        self.last_accepted = Some(now);
        self.renegotiated = false;
    }

    /// Whether RTCP from `src` is taken: from the accepted IP (any port:
    /// RTCP may come from RTP port + 1), else from the SDP's IP.
    pub fn admits_rtcp(&mut self, src: SocketAddr) -> bool {
        let ip = unmapped(src).ip();
        let allowed = self.source.or(self.expected).map(|a| a.ip());
        let ok = allowed == Some(ip);
        if !ok {
            self.dropped.add(DropReason::Address);
        }
        ok
    }

    /// A re-INVITE or UPDATE was answered: `remote` is the new SDP address
    /// (`None`, a `c=0.0.0.0` hold, keeps the old one).
    pub fn renegotiate(&mut self, remote: Option<SocketAddr>) {
        if let Some(remote) = remote.map(unmapped) {
            self.expected = Some(remote);
            if self.rules.mode == SourceMode::Sdp {
                self.source = Some(remote);
            }
        }
        self.renegotiated = true;
    }

    /// Where to send: the accepted source when latching, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self.rules.mode {
            SourceMode::Sdp => self.expected,
            SourceMode::Latch => self.source.or(self.expected),
        }
    }

    /// Drops so far.
    pub fn dropped(&self) -> DropCounts {
        self.dropped
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`: a dual-stack socket reports IPv4 peers
/// mapped, the SDP names them plain.
fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
