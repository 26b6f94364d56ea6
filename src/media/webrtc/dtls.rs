//! DTLS-SRTP for one leg (RFC 5763, RFC 5764) on webrtc-rs's sans-IO DTLS
//! endpoint: the handshake in our role, the peer's certificate checked
//! against the fingerprint its SDP gave (anything else ends the
//! handshake), then the SRTP keys exported from the session
//! (`EXTRACTOR-dtls_srtp`) for both directions.
//!
//! The DTLS connection is keyed by one fixed address ([`super::INNER_PEER`])
//! whatever ICE pair carries it, as webrtc-rs's own PeerConnection does,
//! so a re-nomination does not restart DTLS.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig};
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::error::Error as RtcError;
use rtc_shared::TransportProtocol;
use rtc_srtp::context::Context;
use rtc_srtp::protection_profile::ProtectionProfile;
use sha2::{Digest, Sha256};

use super::identity::DtlsIdentity;
use super::{WebRtcError, INNER_PEER};
use crate::sip::sdp::{DtlsRole, Fingerprint};

/// SRTP replay windows, packets (RFC 3711 §3.3.2 suggests at least 64).
const REPLAY_WINDOW: usize = 64;

/// What a DTLS datagram brought.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct DtlsRead {
    /// The handshake finished with this datagram: SRTP keys are ready.
    pub connected: bool,
    /// The peer sent close_notify.
    pub closed: bool,
}

/// The SRTP contexts of both directions.
pub(super) struct SrtpKeys {
    local: Context,
    remote: Context,
}

/// One leg's DTLS endpoint and, once connected, its SRTP keys.
pub(super) struct DtlsSrtp {
    endpoint: Endpoint,
    client_config: Option<Arc<HandshakeConfig>>,
    identity: DtlsIdentity,
    keys: Option<SrtpKeys>,
}

impl DtlsSrtp {
    /// A DTLS endpoint in `role`, accepting only a peer whose certificate
    /// hashes to `remote` (sha-256).
    pub(super) fn new(
        identity: &DtlsIdentity,
        remote: &Fingerprint,
        role: DtlsRole,
    ) -> Result<Self, WebRtcError> {
        let expected = remote.value.to_ascii_uppercase();
        let verify = Arc::new(move |certs: &[Vec<u8>], _: &[_]| -> Result<(), RtcError> {
            let cert = certs.first().ok_or(RtcError::ErrNonCertificate)?;
            match Fingerprint::sha256(&Sha256::digest(cert)).value == expected {
                true => Ok(()),
                false => Err(RtcError::ErrNoMatchingCertificateFingerprint),
            }
        });
        let config = ConfigBuilder::default()
            .with_crypto_provider(identity.provider.clone())
            .with_certificates(vec![identity.certificate.clone()])
            .with_srtp_protection_profiles(vec![
                SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            ])
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(verify))
            .with_extended_master_secret(ExtendedMasterSecretType::Require)
            .build(role == DtlsRole::Client, None)
            .map_err(|e| WebRtcError::Dtls(e.to_string()))?;
        let config = Arc::new(config);
        let (server, client) = match role {
            DtlsRole::Server => (Some(config), None),
            DtlsRole::Client => (None, Some(config)),
        };
        let local = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        Ok(Self {
            endpoint: Endpoint::new(local, TransportProtocol::UDP, server),
            client_config: client,
            identity: identity.clone(),
            keys: None,
        })
    }

    /// As the client, sends the ClientHello (once; ICE found the peer).
    pub(super) fn start(&mut self, now: Instant) -> Result<(), WebRtcError> {
        let Some(config) = self.client_config.take() else {
            return Ok(());
        };
        self.endpoint
            .connect(now, INNER_PEER, config, None)
            .map_err(|e| WebRtcError::Dtls(e.to_string()))
    }

    /// One DTLS datagram from the peer.
    pub(super) fn read(&mut self, now: Instant, bytes: &[u8]) -> Result<DtlsRead, WebRtcError> {
        let events = self
            .endpoint
            .read(now, INNER_PEER, None, BytesMut::from(bytes))
            .map_err(|e| WebRtcError::Dtls(e.to_string()))?;
        let mut read = DtlsRead::default();
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete if self.keys.is_none() => {
                    self.keys = Some(self.export_keys()?);
                    read.connected = true;
                }
                EndpointEvent::PeerClosed => read.closed = true,
                _ => {}
            }
        }
        Ok(read)
    }

    fn export_keys(&self) -> Result<SrtpKeys, WebRtcError> {
        let state = self
            .endpoint
            .get_connection_state(INNER_PEER)
            .ok_or_else(|| WebRtcError::Dtls("no DTLS state after the handshake".into()))?;
        let profile = match state.srtp_protection_profile() {
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => {
                ProtectionProfile::Aes128CmHmacSha1_80
            }
            other => return Err(WebRtcError::Dtls(format!("SRTP profile {other:?}"))),
        };
        let srtp_err = |e: rtc_shared::error::Error| WebRtcError::Srtp(e.to_string());
        let mut config = rtc_srtp::config::Config {
            profile,
            ..Default::default()
        };
        let material = state
            .export_keying_material(
                rtc_srtp::config::LABEL_EXTRACTOR_DTLS_SRTP,
                &[],
                config.keying_material_len(),
            )
            .map_err(srtp_err)?;
        config
            .set_session_keys_from_keying_material(material.as_ref(), state.is_client())
            .map_err(srtp_err)?;
        let crypto = self.identity.provider.crypto();
        let keys = &config.keys;
        let local = Context::new(
            &keys.local_master_key,
            &keys.local_master_salt,
            profile,
            None,
            None,
            crypto,
        )
        .map_err(srtp_err)?;
        let remote = Context::new(
            &keys.remote_master_key,
            &keys.remote_master_salt,
            profile,
            Some(rtc_srtp::option::srtp_replay_protection(REPLAY_WINDOW)),
            Some(rtc_srtp::option::srtcp_replay_protection(REPLAY_WINDOW)),
            crypto,
        )
        .map_err(srtp_err)?;
        Ok(SrtpKeys { local, remote })
    }

    /// The next DTLS datagram to send.
    pub(super) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.endpoint.poll_transmit().map(|t| t.message.to_vec())
    }

    /// Handshake retransmissions due at `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) -> Result<(), WebRtcError> {
        if self.endpoint.get_connection_state(INNER_PEER).is_none() {
            return Ok(());
        }
        self.endpoint
            .handle_timeout(INNER_PEER, now)
            .map_err(|e| WebRtcError::Dtls(e.to_string()))
    }

    /// When a retransmission is next due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout(&INNER_PEER)
    }

    /// Sends close_notify.
    pub(super) fn close(&mut self, now: Instant) {
        let _ = self.endpoint.stop(now, INNER_PEER);
    }

    /// The SRTP keys, once connected.
    pub(super) fn keys(&mut self) -> Option<&mut SrtpKeys> {
        self.keys.as_mut()
    }
}

impl SrtpKeys {
    /// Encrypts an RTP or RTCP datagram of ours.
    pub(super) fn protect(&mut self, plain: &[u8], rtcp: bool) -> Result<Vec<u8>, WebRtcError> {
        let sealed = match rtcp {
            true => self.local.encrypt_rtcp(plain),
            false => self.local.encrypt_rtp(plain),
        };
        sealed
            .map(|b| b.to_vec())
            .map_err(|e| WebRtcError::Srtp(e.to_string()))
    }

    /// Authenticates and decrypts an SRTP or SRTCP datagram of the peer's.
    pub(super) fn unprotect(&mut self, sealed: &[u8], rtcp: bool) -> Result<Vec<u8>, WebRtcError> {
        let plain = match rtcp {
            true => self.remote.decrypt_rtcp(sealed),
            false => self.remote.decrypt_rtp(sealed),
        };
        plain
            .map(|b| b.to_vec())
            .map_err(|e| WebRtcError::Srtp(e.to_string()))
    }
}
