//! Our DTLS certificate and its fingerprint: generated once when the
//! daemon starts (self-signed ECDSA P-256, as browsers do), passed to the
//! call core (the fingerprint goes into our SDP) and to the media workers
//! (the certificate goes into DTLS). Nothing process-wide: whoever starts the
//! engine owns it.

use std::sync::Arc;

use rtc_crypto::RTCCryptoProvider;
use rtc_dtls::crypto::Certificate;
use sha2::{Digest, Sha256};

use crate::sip::sdp::Fingerprint;

/// Why the identity could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The crypto provider is missing (a build without ring).
    #[error("no crypto provider: {0}")]
    Provider(String),
    /// Certificate generation failed.
    #[error("cannot generate the DTLS certificate: {0}")]
    Certificate(String),
}

/// Our certificate, its fingerprint and the crypto provider DTLS and SRTP use.
#[derive(Clone)]
pub struct DtlsIdentity {
    pub(super) certificate: Certificate,
    pub(super) provider: Arc<dyn RTCCryptoProvider>,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for DtlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DtlsIdentity {
    /// A fresh self-signed certificate (ring provider).
    pub fn generate() -> Result<Self, IdentityError> {
        let provider =
            rtc_crypto::default_provider().map_err(|e| IdentityError::Provider(e.to_string()))?;
        let certificate = Certificate::generate_self_signed_with_alg(
            vec!["alarmgate".to_owned()],
            &rcgen::PKCS_ECDSA_P256_SHA256,
            provider.crypto(),
        )
        .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let der = certificate
            .certificate
            .first()
            .ok_or_else(|| IdentityError::Certificate("no certificate".into()))?;
        let fingerprint = Fingerprint::sha256(&Sha256::digest(der.as_ref()));
        Ok(Self {
            certificate,
            provider,
            fingerprint,
        })
    }

    /// What our SDP says in `a=fingerprint`.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}
