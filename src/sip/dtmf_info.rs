//! DTMF in SIP INFO bodies: `application/dtmf-relay` (`Signal=5` and
//! `Duration=160` on separate lines, the de-facto format Cisco introduced
//! and JsSIP sends by default) and `application/dtmf` (the key alone).
//!
//! Pure: a content type and a body in, a key and its duration out. A body
//! of another type is not DTMF (`Ok(None)`); a DTMF body without a valid
//! key is an error, answered 400. The duration defaults to 160 ms (JsSIP's
//! default when absent) and is clamped to 40–5000 ms here; the media bridge
//! clamps again to what it relays.

/// A duration written as absent, ms.
pub const DEFAULT_DURATION_MS: u32 = 160;
const MIN_DURATION_MS: u32 = 40;
const MAX_DURATION_MS: u32 = 5000;

/// One key from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub key: char,
    /// How long it was pressed, ms.
    pub duration_ms: u32,
}

/// Why a DTMF INFO body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfInfoError {
    /// No `Signal=` line (dtmf-relay) or an empty body (dtmf).
    #[error("no DTMF signal in the {content_type} body")]
    NoSignal {
        /// The body's content type.
        content_type: String,
    },
    /// The signal is not one DTMF key.
    #[error("{signal:?} is not a DTMF key (0-9, *, #, A-D)")]
    BadKey {
        /// What was written.
        signal: String,
    },
}

/// The key in an INFO body of `content_type`, if the type is a DTMF one.
pub fn parse(content_type: &str, body: &[u8]) -> Result<Option<InfoDigit>, DtmfInfoError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let text = String::from_utf8_lossy(body);
    if media.eq_ignore_ascii_case("application/dtmf-relay") {
        return relay(media, &text).map(Some);
    }
    if media.eq_ignore_ascii_case("application/dtmf") {
        let signal = text.trim();
        if signal.is_empty() {
            return Err(no_signal(media));
        }
        let key = key(signal)?;
        let duration_ms = DEFAULT_DURATION_MS;
        return Ok(Some(InfoDigit { key, duration_ms }));
    }
    Ok(None)
}

fn relay(media: &str, text: &str) -> Result<InfoDigit, DtmfInfoError> {
    let mut signal = None;
    let mut duration = None;
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("signal") {
            signal = Some(value);
        } else if name.eq_ignore_ascii_case("duration") {
            duration = value.parse::<u32>().ok();
        }
    }
    let signal = signal
        .filter(|s| !s.is_empty())
        .ok_or_else(|| no_signal(media))?;
    let duration_ms = duration
        .unwrap_or(DEFAULT_DURATION_MS)
        .clamp(MIN_DURATION_MS, MAX_DURATION_MS);
    Ok(InfoDigit {
        key: key(signal)?,
        duration_ms,
    })
}

/// One DTMF key; RFC 4733's event numbers 10 and 11 are `*` and `#`.
fn key(signal: &str) -> Result<char, DtmfInfoError> {
    let bad = || DtmfInfoError::BadKey {
        signal: signal.chars().take(16).collect(),
    };
    match signal {
        "10" => return Ok('*'),
        "11" => return Ok('#'),
        _ => {}
    }
    let mut chars = signal.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return Err(bad());
    };
    let c = c.to_ascii_uppercase();
    if c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D') {
        Ok(c)
    } else {
        Err(bad())
    }
}

fn no_signal(media: &str) -> DtmfInfoError {
    DtmfInfoError::NoSignal {
        content_type: media.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(key: char, duration_ms: u32) -> Result<Option<InfoDigit>, DtmfInfoError> {
        Ok(Some(InfoDigit { key, duration_ms }))
    }

    #[test]
    fn jssip_dtmf_relay_bodies() {
        let jssip = b"Signal=5\r\nDuration=160\r\n";
        assert_eq!(parse("application/dtmf-relay", jssip), digit('5', 160));
        assert_eq!(
            parse(
                "Application/DTMF-Relay; charset=x",
                b"Signal= #\r\nDuration= 250"
            ),
            digit('#', 250)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=*"),
            digit('*', 160)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=10"),
            digit('*', 160)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=a\nDuration=9"),
            digit('A', 40)
        );
    }

    #[test]
    fn application_dtmf_is_the_key_alone() {
        assert_eq!(parse("application/dtmf", b"7\r\n"), digit('7', 160));
        assert!(parse("application/dtmf", b"").is_err());
    }

    #[test]
    fn other_bodies_are_not_dtmf_and_bad_keys_are_errors() {
        assert_eq!(parse("application/media_control+xml", b"<x/>"), Ok(None));
        assert_eq!(parse("", b""), Ok(None));
        let no_signal = parse("application/dtmf-relay", b"Duration=100");
        assert!(matches!(no_signal, Err(DtmfInfoError::NoSignal { .. })));
        let bad = parse("application/dtmf-relay", b"Signal=55\r\n");
        assert!(matches!(bad, Err(DtmfInfoError::BadKey { .. })));
        let flash = parse("application/dtmf-relay", b"Signal=!\r\n");
        assert!(matches!(flash, Err(DtmfInfoError::BadKey { .. })));
    }
}
