//! The DC-09 timestamp `_HH:MM:SS,MM-DD-YYYY` (always UTC) and the window
//! a message's timestamp must fall in (now −40 s … now +20 s by default;
//! pysiaalarm's `allowed_timeband`). Wall time is passed in as Unix seconds.

use std::fmt;

/// A message timestamp, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    unix: i64,
}

/// Why timestamp text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {text:?} is not HH:MM:SS,MM-DD-YYYY")]
pub struct TimestampError {
    /// The text after `_`.
    pub text: String,
}

/// The 19 characters after `_`.
pub const TEXT_LEN: usize = 19;

impl Timestamp {
    /// From Unix seconds.
    pub fn from_unix(unix: i64) -> Self {
        Self { unix }
    }

    /// Unix seconds.
    pub fn unix(self) -> i64 {
        self.unix
    }

    /// Parses `HH:MM:SS,MM-DD-YYYY` (without the leading `_`).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError { text: text.into() };
        let b = text.as_bytes();
        if b.len() != TEXT_LEN || b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
            return Err(err());
        }
        if b.get(8) != Some(&b',') || b.get(11) != Some(&b'-') || b.get(14) != Some(&b'-') {
            return Err(err());
        }
        let num = |from: usize, to: usize| -> Result<i64, TimestampError> {
            let part = text.get(from..to).ok_or_else(err)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (h, mi, s) = (num(0, 2)?, num(3, 5)?, num(6, 8)?);
        let (mo, d, y) = (num(9, 11)?, num(12, 14)?, num(15, 19)?);
        if h > 23 || mi > 59 || s > 60 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return Err(err());
        }
        let days = days_from_civil(y, mo, d);
        Ok(Self::from_unix(days * 86_400 + h * 3600 + mi * 60 + s))
    }
}

impl fmt::Display for Timestamp {
    /// `HH:MM:SS,MM-DD-YYYY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rem) = (self.unix.div_euclid(86_400), self.unix.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
        write!(f, "{h:02}:{mi:02}:{s:02},{m:02}-{d:02}-{y:04}")
    }
}

/// How far a message's timestamp may be from our clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Seconds a timestamp may lag our clock (default 40).
    pub past_s: u32,
    /// Seconds a timestamp may lead our clock (default 20).
    pub future_s: u32,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            past_s: 40,
            future_s: 20,
        }
    }
}

impl Window {
    /// True when `ts` is within the window around `now_unix`.
    pub fn accepts(&self, ts: Timestamp, now_unix: i64) -> bool {
        let skew = ts.unix - now_unix;
        -i64::from(self.past_s) <= skew && skew <= i64::from(self.future_s)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of days since 1970-01-01 (Hinnant).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_utc() {
        let ts = Timestamp::parse("14:12:04,09-25-2024").unwrap();
        assert_eq!(ts.unix(), 1_727_273_524);
        assert_eq!(ts.to_string(), "14:12:04,09-25-2024");
        let leap = Timestamp::parse("00:00:00,02-29-2000").unwrap();
        assert_eq!(leap.unix(), 951_782_400);
        assert_eq!(Timestamp::from_unix(0).to_string(), "00:00:00,01-01-1970");
    }

    #[test]
    fn refuses_malformed_text() {
        for bad in [
            "14:12:04 09-25-2024",
            "24:00:00,09-25-2024",
            "14:12:04,13-25-2024",
            "14:12:04,09-25-24",
            "1a:12:04,09-25-2024",
            "+1:12:04,09-25-2024",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_is_minus_40_plus_20_by_default() {
        let w = Window::default();
        let now = 1_000_000;
        let at = |d: i64| Timestamp::from_unix(now + d);
        assert!(w.accepts(at(-40), now));
        assert!(!w.accepts(at(-41), now));
        assert!(w.accepts(at(20), now));
        assert!(!w.accepts(at(21), now));
        let wide = Window {
            past_s: 300,
            future_s: 300,
        };
        assert!(wide.accepts(at(-299), now));
    }
}
