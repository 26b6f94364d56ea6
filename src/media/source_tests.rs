//! The source rules in simulated time: SDP address, latch once, SSRC
//! changes with and without a gap, re-INVITE.

use super::*;
use crate::clock::epoch;

const MS: Duration = Duration::from_millis(1);
const UNIT: &str = "10.0.0.5:4000";
const FORGER: &str = "10.0.0.66:4000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn at(ms: u64) -> Instant {
    epoch() + MS * ms as u32
}

fn filter(mode: SourceMode, remote: Option<&str>) -> SourceFilter {
    let rules = SourceRules {
        mode,
        ssrc_gap: Duration::from_secs(1),
    };
    SourceFilter::new(rules, remote.map(addr))
}

/// Admits and, when admitted, commits (what the session does with valid RTP).
fn offer(f: &mut SourceFilter, ms: u64, src: &str, ssrc: u32) -> Result<(), DropReason> {
    f.admit(at(ms), addr(src), ssrc)?;
    f.commit(at(ms), addr(src), ssrc);
    Ok(())
}

#[test]
fn sdp_mode_takes_only_the_sdp_address() {
    let mut f = filter(SourceMode::Sdp, Some(UNIT));
    assert_eq!(offer(&mut f, 0, FORGER, 9), Err(DropReason::Address));
    assert_eq!(
        offer(&mut f, 0, "10.0.0.5:4002", 9),
        Err(DropReason::Address)
    );
    assert_eq!(offer(&mut f, 1, UNIT, 1), Ok(()));
    assert_eq!(offer(&mut f, 2, FORGER, 1), Err(DropReason::Address));
    assert_eq!(offer(&mut f, 3, "[::ffff:10.0.0.5]:4000", 1), Ok(()));
    assert_eq!(f.destination(), Some(addr(UNIT)));
    assert_eq!((f.dropped().address, f.dropped().total()), (3, 3));
}

#[test]
fn sdp_mode_without_an_address_takes_nothing() {
    let mut f = filter(SourceMode::Sdp, None);
    assert_eq!(offer(&mut f, 0, UNIT, 1), Err(DropReason::NoRemote));
    assert_eq!(f.dropped().get(DropReason::NoRemote), 1);
}

#[test]
fn latch_takes_the_first_source_once() {
    let mut f = filter(SourceMode::Latch, Some("192.168.1.20:4000"));
    assert_eq!(f.destination(), Some(addr("192.168.1.20:4000")));
    assert_eq!(offer(&mut f, 0, UNIT, 1), Ok(()), "NAT'd unit latches");
    assert_eq!(f.destination(), Some(addr(UNIT)));
    assert_eq!(offer(&mut f, 20, FORGER, 1), Err(DropReason::Address));
    assert_eq!(offer(&mut f, 5000, FORGER, 2), Err(DropReason::Address));
    assert_eq!(f.destination(), Some(addr(UNIT)), "latched once");
}

#[test]
fn a_refused_packet_does_not_latch() {
    let mut f = filter(SourceMode::Latch, None);
    // Admitted but not committed: it was not valid RTP of a negotiated type.
    assert_eq!(f.admit(at(0), addr(FORGER), 7), Ok(()));
    assert_eq!(offer(&mut f, 1, UNIT, 1), Ok(()));
    assert_eq!(offer(&mut f, 2, FORGER, 7), Err(DropReason::Address));
}

#[test]
fn ssrc_change_needs_a_gap() {
    for mode in [SourceMode::Sdp, SourceMode::Latch] {
        let mut f = filter(mode, Some(UNIT));
        assert_eq!(offer(&mut f, 0, UNIT, 1), Ok(()));
        assert_eq!(
            offer(&mut f, 20, UNIT, 2),
            Err(DropReason::Ssrc),
            "{mode:?}"
        );
        // The forged SSRC keeps coming; the real stream goes on.
        assert_eq!(offer(&mut f, 500, UNIT, 1), Ok(()));
        assert_eq!(offer(&mut f, 1499, UNIT, 2), Err(DropReason::Ssrc));
        // 1 s without an accepted packet: a restarted stream is taken.
        assert_eq!(offer(&mut f, 1500, UNIT, 2), Ok(()));
        assert_eq!(offer(&mut f, 1520, UNIT, 1), Err(DropReason::Ssrc));
        assert_eq!(f.dropped().ssrc, 3);
    }
}

#[test]
fn reinvite_allows_a_new_ssrc_once() {
    let mut f = filter(SourceMode::Sdp, Some(UNIT));
    assert_eq!(offer(&mut f, 0, UNIT, 1), Ok(()));
    f.renegotiate(Some(addr(UNIT)));
    assert_eq!(offer(&mut f, 20, UNIT, 2), Ok(()));
    assert_eq!(offer(&mut f, 40, UNIT, 3), Err(DropReason::Ssrc));
}

#[test]
fn reinvite_moves_the_sdp_address() {
    let mut f = filter(SourceMode::Sdp, Some(UNIT));
    assert_eq!(offer(&mut f, 0, UNIT, 1), Ok(()));
    f.renegotiate(Some(addr("10.0.0.7:5000")));
    assert_eq!(f.destination(), Some(addr("10.0.0.7:5000")));
    assert_eq!(offer(&mut f, 20, UNIT, 1), Err(DropReason::Address));
    assert_eq!(offer(&mut f, 40, "10.0.0.7:5000", 1), Ok(()));
    // A c=0.0.0.0 hold keeps the address.
    f.renegotiate(None);
    assert_eq!(f.destination(), Some(addr("10.0.0.7:5000")));
    assert_eq!(offer(&mut f, 60, "10.0.0.7:5000", 1), Ok(()));
}

#[test]
fn reinvite_lets_a_latched_leg_latch_again_once() {
    let mut f = filter(SourceMode::Latch, None);
    assert_eq!(offer(&mut f, 0, UNIT, 1), Ok(()));
    f.renegotiate(None);
    assert_eq!(offer(&mut f, 20, "10.0.0.8:6000", 5), Ok(()));
    assert_eq!(offer(&mut f, 40, UNIT, 1), Err(DropReason::Address));
    assert_eq!(f.destination(), Some(addr("10.0.0.8:6000")));
}

#[test]
fn rtcp_comes_from_the_accepted_ip() {
    let mut f = filter(SourceMode::Sdp, Some(UNIT));
    assert!(f.admits_rtcp(addr("10.0.0.5:4001")));
    assert!(!f.admits_rtcp(addr("10.0.0.66:4001")));
    assert_eq!(f.dropped().address, 1);
}
