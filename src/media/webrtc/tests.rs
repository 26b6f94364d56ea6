//! The WebRTC transport in simulated time: our leg (ICE-lite, DTLS server)
//! against a browser stand-in (a second transport as DTLS client, its
//! checks built here with webrtc-rs's STUN crate).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtc_stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message, Setter, BINDING_REQUEST};
use rtc_stun::textattrs::TextAttribute;

use super::*;
use crate::sip::sdp::{IcePwd, IceUfrag, WebRtcMedia};

const OURS: &str = "127.0.0.1:30000";
const BROWSER: &str = "127.0.0.1:50000";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn t0() -> Instant {
    crate::clock::epoch()
}

fn creds(ufrag: &str, pwd: &str) -> IceCredentials {
    IceCredentials {
        ufrag: IceUfrag::new(ufrag),
        pwd: IcePwd::new(pwd),
    }
}

/// Two ends: ours (`leg`) and the browser's (`peer`), with their credentials.
struct Pair {
    leg: WebRtcTransport,
    peer: WebRtcTransport,
    leg_ice: IceCredentials,
    peer_ice: IceCredentials,
}

/// Our leg expecting `leg_expects` against a browser presenting `peer_id`.
fn pair_with(peer_id: &DtlsIdentity, leg_expects: &crate::sip::sdp::Fingerprint) -> Pair {
    let ours = DtlsIdentity::generate().unwrap();
    let leg_ice = creds("leg1", "legpasswordlegpassword24");
    let peer_ice = creds("brws", "browserpasswordbrowser22");
    let leg_media = WebRtcMedia {
        local: leg_ice.clone(),
        remote: peer_ice.clone(),
        remote_fingerprint: leg_expects.clone(),
        role: DtlsRole::Server,
    };
    let peer_media = WebRtcMedia {
        local: peer_ice.clone(),
        remote: leg_ice.clone(),
        remote_fingerprint: ours.fingerprint().clone(),
        role: DtlsRole::Client,
    };
    Pair {
        leg: WebRtcTransport::new(t0(), &ours, &leg_media).unwrap(),
        peer: WebRtcTransport::new(t0(), peer_id, &peer_media).unwrap(),
        leg_ice,
        peer_ice,
    }
}

/// A leg that expects the browser's real certificate.
fn pair() -> Pair {
    let browser = DtlsIdentity::generate().unwrap();
    pair_with(&browser, browser.fingerprint())
}

/// The USE-CANDIDATE flag (RFC 8445 §7.1.2).
struct UseCandidate;

impl Setter for UseCandidate {
    fn add_to(&self, m: &mut Message) -> rtc_shared::error::Result<()> {
        m.add(ATTR_USE_CANDIDATE, &[]);
        Ok(())
    }
}

/// A Binding request from the controlling agent, signed with `key`'s password.
fn check(username: &str, key: &IceCredentials, nominate: bool) -> Vec<u8> {
    let crypto = rtc_crypto::default_provider().unwrap();
    let mut m = Message::new();
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(rtc_stun::message::TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, username.into())),
    ];
    if nominate {
        setters.push(Box::new(UseCandidate));
    }
    setters.push(Box::new(
        MessageIntegrity::new_short_term_integrity_with_provider(
            key.pwd.to_string(),
            crypto.crypto(),
        ),
    ));
    setters.push(Box::new(FINGERPRINT));
    m.build(&setters).unwrap();
    m.raw
}

impl Pair {
    /// The browser checks our candidate; we (for the stand-in) check its.
    fn checks(&mut self, now: Instant) {
        let to_leg = check(
            &format!("{}:{}", self.leg_ice.ufrag, self.peer_ice.ufrag),
            &self.leg_ice,
            true,
        );
        assert_eq!(self.leg.handle_datagram(now, addr(BROWSER), &to_leg), None);
        let to_peer = check(
            &format!("{}:{}", self.peer_ice.ufrag, self.leg_ice.ufrag),
            &self.peer_ice,
            true,
        );
        self.peer.handle_datagram(now, addr(OURS), &to_peer);
    }

    /// Carries datagrams both ways until quiet; returns what each side
    /// decrypted (leg, peer). STUN responses are dropped on the way.
    fn pump(&mut self, now: Instant) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mut at_leg, mut at_peer) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            let mut moved = false;
            while let Some(d) = self.leg.poll_transmit() {
                moved = true;
                assert_eq!(d.destination, addr(BROWSER));
                if d.bytes.first().is_some_and(|b| *b > 3) {
                    at_peer.extend(self.peer.handle_datagram(now, addr(OURS), &d.bytes));
                }
            }
            while let Some(d) = self.peer.poll_transmit() {
                moved = true;
                if d.bytes.first().is_some_and(|b| *b > 3) {
                    at_leg.extend(self.leg.handle_datagram(now, addr(BROWSER), &d.bytes));
                }
            }
            if !moved {
                break;
            }
        }
        (at_leg, at_peer)
    }
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![
        0x80,
        8,
        (seq >> 8) as u8,
        seq as u8,
        0,
        0,
        0,
        160,
        1,
        2,
        3,
        4,
    ];
    p.extend([0xd5u8; 160]);
    p
}

fn receiver_report() -> Vec<u8> {
    vec![0x80, 201, 0, 1, 0, 0, 0, 7]
}

#[test]
fn check_answered_then_dtls_then_srtp_media_both_ways() {
    let mut p = pair();
    assert_eq!(p.leg.state(), &WebRtcState::Waiting);
    p.checks(t0());
    assert_eq!(p.leg.state(), &WebRtcState::Checked);
    assert_eq!(p.leg.selected(), Some(addr(BROWSER)));
    p.leg.send(&rtp(1));
    assert_eq!(p.leg.stats().sent_before_keys, 1, "no keys yet: dropped");
    p.pump(t0());
    assert_eq!(p.leg.state(), &WebRtcState::Connected);
    assert_eq!(p.peer.state(), &WebRtcState::Connected);

    p.leg.send(&rtp(2));
    p.leg.send(&receiver_report());
    p.peer.send(&rtp(7));
    let sealed = p.peer.poll_transmit().unwrap();
    assert_ne!(sealed.bytes, rtp(7), "encrypted on the wire");
    assert_eq!(
        p.leg.handle_datagram(t0(), addr(BROWSER), &sealed.bytes),
        Some(rtp(7))
    );
    let (_, at_peer) = p.pump(t0());
    assert_eq!(at_peer, vec![rtp(2), receiver_report()]);
    // A replayed packet is refused.
    assert_eq!(
        p.leg.handle_datagram(t0(), addr(BROWSER), &sealed.bytes),
        None
    );
    assert_eq!(p.leg.stats().srtp_refused, 1);
}

#[test]
fn checks_with_wrong_credentials_are_refused_and_unanswered() {
    let mut p = pair();
    let wrong_user = check("someone:brws", &p.leg_ice, false);
    let wrong_key = check(
        "leg1:brws",
        &creds("x", "notthepasswordnotthepassword"),
        false,
    );
    for bytes in [wrong_user, wrong_key, vec![0, 1, 0, 0]] {
        assert_eq!(p.leg.handle_datagram(t0(), addr(BROWSER), &bytes), None);
    }
    assert_eq!(p.leg.stats().stun_refused, 3);
    assert_eq!(p.leg.poll_transmit(), None);
    assert_eq!(p.leg.state(), &WebRtcState::Waiting);
    // DTLS or SRTP from an address no check came from is not looked at.
    assert_eq!(p.leg.handle_datagram(t0(), addr(BROWSER), &rtp(1)), None);
    assert_eq!(p.leg.stats().unchecked_source, 1);
}

#[test]
fn no_check_fails_at_the_connect_deadline() {
    let mut p = pair();
    assert_eq!(p.leg.poll_timeout(), Some(t0() + CONNECT_TIMEOUT));
    p.leg
        .handle_timeout(t0() + CONNECT_TIMEOUT - Duration::from_millis(1));
    assert_eq!(p.leg.state(), &WebRtcState::Waiting);
    p.leg.handle_timeout(t0() + CONNECT_TIMEOUT);
    assert_eq!(p.leg.state(), &WebRtcState::Failed(FailReason::NoCheck));
    assert_eq!(p.leg.poll_timeout(), None);
}

#[test]
fn a_check_without_dtls_fails_at_the_connect_deadline() {
    let mut p = pair();
    p.checks(t0() + Duration::from_secs(1));
    p.leg.handle_timeout(t0() + CONNECT_TIMEOUT);
    assert_eq!(p.leg.state(), &WebRtcState::Failed(FailReason::NoDtls));
}

#[test]
fn a_certificate_not_matching_the_sdp_fingerprint_fails_dtls() {
    let browser = DtlsIdentity::generate().unwrap();
    let impostor = DtlsIdentity::generate().unwrap();
    // The leg expects `browser`'s fingerprint; the peer presents `impostor`.
    let mut p = pair_with(&impostor, browser.fingerprint());
    p.checks(t0());
    p.pump(t0());
    assert!(
        matches!(p.leg.state(), WebRtcState::Failed(FailReason::Dtls(_))),
        "{:?}",
        p.leg.state()
    );
    p.leg.send(&rtp(1));
    assert_eq!(p.leg.poll_transmit(), None, "no media without keys");
}

#[test]
fn consent_lost_after_thirty_silent_seconds() {
    let mut p = pair();
    p.checks(t0());
    p.pump(t0());
    assert_eq!(p.leg.state(), &WebRtcState::Connected);
    // A consent check at 20 s moves the deadline.
    let later = t0() + Duration::from_secs(20);
    let again = check("leg1:brws", &p.leg_ice, false);
    p.leg.handle_datagram(later, addr(BROWSER), &again);
    p.leg.handle_timeout(t0() + CONSENT_TIMEOUT);
    assert_eq!(p.leg.state(), &WebRtcState::Connected);
    assert_eq!(
        p.leg.poll_timeout().map(|t| t >= later + CONSENT_TIMEOUT),
        Some(true)
    );
    p.leg.handle_timeout(later + CONSENT_TIMEOUT);
    assert_eq!(p.leg.state(), &WebRtcState::Failed(FailReason::ConsentLost));
}

#[test]
fn closing_sends_close_notify_and_the_peer_sees_it() {
    let mut p = pair();
    p.checks(t0());
    p.pump(t0());
    p.leg.close(t0());
    assert_eq!(p.leg.state(), &WebRtcState::Closed);
    p.pump(t0());
    assert_eq!(p.peer.state(), &WebRtcState::Closed);
}

#[test]
fn dtls_from_another_checked_address_is_taken_media_goes_to_the_nominated_one() {
    let mut p = pair();
    let other = addr("127.0.0.1:50002");
    // A first, unnominated check from another candidate of the browser.
    let first = check("leg1:brws", &p.leg_ice, false);
    p.leg.handle_datagram(t0(), other, &first);
    assert_eq!(p.leg.selected(), Some(other));
    while p.leg.poll_transmit().is_some() {}
    // The nominated pair wins; DTLS from either checked address is read.
    p.checks(t0());
    assert_eq!(p.leg.selected(), Some(addr(BROWSER)));
    p.pump(t0());
    assert_eq!(p.leg.state(), &WebRtcState::Connected);
    assert_eq!(
        p.leg
            .handle_datagram(t0(), addr("127.0.0.1:50003"), &rtp(1)),
        None
    );
    assert_eq!(p.leg.stats().unchecked_source, 1);
}
