//! [`WebRtcTransport`]'s state machine: demultiplexing, checks, DTLS, SRTP
//! and the failure deadlines (see [`super::webrtc`]).

use std::net::SocketAddr;
use std::time::Instant;

use super::dtls::DtlsSrtp;
use super::ice_lite::answer_check;
use super::{
    Datagram, DtlsIdentity, FailReason, WebRtcError, WebRtcState, WebRtcStats, WebRtcTransport,
    CONNECT_TIMEOUT, CONSENT_TIMEOUT,
};
use crate::sip::sdp::{DtlsRole, WebRtcMedia};

/// What a datagram is, by its first byte (RFC 7983 §7).
enum Kind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Unknown,
}

fn kind(bytes: &[u8]) -> Kind {
    match (bytes.first(), bytes.get(1)) {
        (Some(0..=3), _) => Kind::Stun,
        (Some(20..=63), _) => Kind::Dtls,
        (Some(128..=191), Some(pt)) if (192..=223).contains(pt) => Kind::Rtcp,
        (Some(128..=191), Some(_)) => Kind::Rtp,
        _ => Kind::Unknown,
    }
}

impl WebRtcTransport {
    /// A transport for `media`, started at `now`, presenting `identity`.
    pub fn new(
        now: Instant,
        identity: &DtlsIdentity,
        media: &WebRtcMedia,
    ) -> Result<Self, WebRtcError> {
        let dtls = DtlsSrtp::new(identity, &media.remote_fingerprint, media.role)?;
        Ok(Self {
            ice: (media.local.clone(), media.remote.clone()),
            identity: identity.clone(),
            dtls,
            role: media.role,
            selected: None,
            checked: Vec::new(),
            nominated: false,
            state: WebRtcState::Waiting,
            started: now,
            last_check: None,
            out: Default::default(),
            stats: WebRtcStats::default(),
        })
    }

    /// Where the transport is.
    pub fn state(&self) -> &WebRtcState {
        &self.state
    }

    /// The browser's address media goes to, once checked.
    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// Counters now.
    pub fn stats(&self) -> WebRtcStats {
        self.stats
    }

    /// One datagram from the socket. Returns decrypted RTP or RTCP for the
    /// leg's session (from [`super::INNER_PEER`]), if it carried any.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        if matches!(self.state, WebRtcState::Failed(_) | WebRtcState::Closed) {
            return None;
        }
        if let Kind::Stun = kind(bytes) {
            self.check(now, from, bytes);
            return None;
        }
        if !self.checked.contains(&from) {
            self.stats.unchecked_source += 1;
            return None;
        }
        match kind(bytes) {
            Kind::Dtls => {
                self.dtls_read(now, bytes);
                None
            }
            Kind::Rtp => self.unprotect(bytes, false),
            Kind::Rtcp => self.unprotect(bytes, true),
            Kind::Stun | Kind::Unknown => {
                self.stats.unknown += 1;
                None
            }
        }
    }

    fn check(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let (local, remote) = &self.ice;
        let crypto = self.identity.provider.crypto();
        let check = match answer_check(bytes, from, local, remote, crypto) {
            Ok(check) => check,
            Err(err) => {
                tracing::debug!(%from, %err, "STUN refused");
                self.stats.stun_refused += 1;
                return;
            }
        };
        self.stats.checks += 1;
        self.last_check = Some(now);
        self.out.push_back(Datagram {
            destination: from,
            bytes: check.response,
        });
        if !self.checked.contains(&from) && self.checked.len() < super::MAX_CHECKED {
            self.checked.push(from);
        }
        if self.selected.is_none() || (check.nominated && !self.nominated) {
            self.selected = Some(from);
            self.nominated |= check.nominated;
        }
        if self.state == WebRtcState::Waiting {
            self.state = WebRtcState::Checked;
            if self.role == DtlsRole::Client {
                let started = self.dtls.start(now);
                self.after_dtls(started);
            }
        }
    }

    fn dtls_read(&mut self, now: Instant, bytes: &[u8]) {
        let read = self.dtls.read(now, bytes);
        self.flush_dtls();
        match read {
            Ok(read) if read.closed => self.state = WebRtcState::Closed,
            Ok(read) if read.connected => self.state = WebRtcState::Connected,
            Ok(_) => {}
            Err(err) => self.fail(FailReason::Dtls(err.to_string())),
        }
    }

    fn after_dtls(&mut self, result: Result<(), WebRtcError>) {
        self.flush_dtls();
        if let Err(err) = result {
            self.fail(FailReason::Dtls(err.to_string()));
        }
    }

    fn flush_dtls(&mut self) {
        let Some(destination) = self.selected else {
            return;
        };
        while let Some(bytes) = self.dtls.poll_transmit() {
            self.out.push_back(Datagram { destination, bytes });
        }
    }

    fn unprotect(&mut self, bytes: &[u8], rtcp: bool) -> Option<Vec<u8>> {
        let keys = self.dtls.keys()?;
        match keys.unprotect(bytes, rtcp) {
            Ok(plain) => Some(plain),
            Err(_) => {
                self.stats.srtp_refused += 1;
                None
            }
        }
    }

    /// Sends one RTP or RTCP datagram of the leg's session, encrypted, to the
    /// checked address; dropped (and counted) before the keys exist.
    pub fn send(&mut self, plain: &[u8]) {
        let rtcp = matches!(kind(plain), Kind::Rtcp);
        let (Some(destination), Some(keys)) = (self.selected, self.dtls.keys()) else {
            self.stats.sent_before_keys += 1;
            return;
        };
        if self.state != WebRtcState::Connected {
            return;
        }
        match keys.protect(plain, rtcp) {
            Ok(bytes) => self.out.push_back(Datagram { destination, bytes }),
            Err(err) => tracing::debug!(%err, "SRTP protect failed"),
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    /// DTLS retransmissions and the failure deadlines at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let result = self.dtls.handle_timeout(now);
        self.after_dtls(result);
        let connect_by = self.started + CONNECT_TIMEOUT;
        match self.state {
            WebRtcState::Waiting if now >= connect_by => self.fail(FailReason::NoCheck),
            WebRtcState::Checked if now >= connect_by => self.fail(FailReason::NoDtls),
            WebRtcState::Connected
                if self.last_check.is_some_and(|t| now >= t + CONSENT_TIMEOUT) =>
            {
                self.fail(FailReason::ConsentLost)
            }
            _ => {}
        }
    }

    /// The next instant [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadline = match self.state {
            WebRtcState::Waiting | WebRtcState::Checked => Some(self.started + CONNECT_TIMEOUT),
            WebRtcState::Connected => self.last_check.map(|t| t + CONSENT_TIMEOUT),
            WebRtcState::Failed(_) | WebRtcState::Closed => return None,
        };
        match (deadline, self.dtls.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends the transport: close_notify to the browser if connected.
    pub fn close(&mut self, now: Instant) {
        if self.state == WebRtcState::Connected {
            self.dtls.close(now);
            self.flush_dtls();
        }
        self.state = WebRtcState::Closed;
    }

    fn fail(&mut self, reason: FailReason) {
        if !matches!(self.state, WebRtcState::Failed(_) | WebRtcState::Closed) {
            tracing::info!(reason = reason.label(), "WebRTC transport failed");
            self.state = WebRtcState::Failed(reason);
        }
    }
}
