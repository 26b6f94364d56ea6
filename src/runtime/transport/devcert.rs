//! A self-signed development certificate for SIP over TLS (RFC 5922 §7.1
//! wants the SIP domain in a subjectAltName; RFC 5630 `sips:`), behind
//! `alarmgate certs dev`. For tests and labs only: production uses a
//! certificate from a CA the alarm units trust (see `certs/README.md`).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use super::TransportError;

/// File name of the certificate written by [`write_dev_cert`].
pub const DEV_CERT_FILE: &str = "dev-cert.pem";
/// File name of the private key written by [`write_dev_cert`].
pub const DEV_KEY_FILE: &str = "dev-key.pem";
/// Names every development certificate carries besides the requested ones.
const ALWAYS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Generates a self-signed ECDSA P-256 certificate whose subjectAltNames are
/// `hostnames` plus localhost, 127.0.0.1 and ::1 (IP literals become IP
/// SANs), and writes `dev-cert.pem` and `dev-key.pem` (mode 0600) into
/// `dir`, creating it if needed and replacing earlier files.
/// Returns the certificate and key paths.
pub fn write_dev_cert(
    dir: &Path,
    hostnames: &[String],
) -> Result<(PathBuf, PathBuf), TransportError> {
    let mut params = CertificateParams::new(san_list(hostnames))
        .map_err(|source| TransportError::CertGen { source })?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "alarmgate development certificate");
    params.distinguished_name = subject;
    let key = KeyPair::generate().map_err(|source| TransportError::CertGen { source })?;
    let cert = params
        .self_signed(&key)
        .map_err(|source| TransportError::CertGen { source })?;
    fs::create_dir_all(dir).map_err(|source| write_error(dir, source))?;
    let cert_path = dir.join(DEV_CERT_FILE);
    let key_path = dir.join(DEV_KEY_FILE);
    write_atomic(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

/// Requested names (trimmed, non-empty), then the fixed ones, without duplicates.
fn san_list(hostnames: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let requested = hostnames.iter().map(|h| h.trim());
    for name in requested.chain(ALWAYS) {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_string());
        }
    }
    names
}

/// Writes through a fresh temporary file created with `mode`, then renames,
/// so the key is never readable by others, not even briefly.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), TransportError> {
    let tmp = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|source| write_error(path, source))
}

fn write_error(path: &Path, source: std::io::Error) -> TransportError {
    TransportError::WriteFile {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_list_adds_loopback_names_once() {
        let names = san_list(&["sip.example.dk".into(), " ".into(), "LOCALHOST".into()]);
        assert_eq!(names, ["sip.example.dk", "LOCALHOST", "127.0.0.1", "::1"]);
    }

    #[test]
    fn writes_a_loadable_pair_with_a_private_key() {
        let dir = super::super::tests::temp_dir("devcert");
        let (cert, key) = write_dev_cert(&dir, &["alarm.example.dk".into()]).unwrap();
        assert_eq!(cert, dir.join(DEV_CERT_FILE));
        assert!(super::super::load_tls_config(&cert, &key).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Running it again replaces the pair.
        assert!(write_dev_cert(&dir, &[]).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn rejects_an_invalid_name() {
        let dir = super::super::tests::temp_dir("devcert-bad");
        let err = write_dev_cert(&dir, &["bad\u{e6}name".into()]).unwrap_err();
        assert!(matches!(err, TransportError::CertGen { .. }), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
