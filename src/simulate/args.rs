//! The options of `alarmgate simulate device` ([`DeviceArgs`]) and the
//! validated, pure [`DeviceConfig`] the core runs on.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::SimError;
use crate::alarm::contact_id::{self, ademco_to_dtmf, check_digit, MESSAGE_LEN};

/// How the Contact ID digits are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// DTMF tones in the G.711 audio (what an analogue unit behind an ATA does).
    Inband,
    /// RFC 4733 telephone-events only (a gateway that strips the tones).
    Rfc4733,
    /// Both at once: tones in the audio and events alongside.
    Both,
}

impl DtmfMode {
    /// True when tones go into the audio.
    pub fn inband(self) -> bool {
        matches!(self, DtmfMode::Inband | DtmfMode::Both)
    }
    /// True when RFC 4733 events are sent.
    pub fn events(self) -> bool {
        matches!(self, DtmfMode::Rfc4733 | DtmfMode::Both)
    }
}

/// The codecs offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecChoice {
    /// PCMA then PCMU (DK/NO carriers).
    Any,
    /// A-law only.
    Pcma,
    /// µ-law only.
    Pcmu,
}

/// `alarmgate simulate device`: play an alarm unit sending Contact ID.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// The SIP URI to dial, e.g. `sip:112@127.0.0.1:5060` (UDP).
    pub target: String,
    /// A Contact ID message: six Ademco fields `"ACCT MT Q XYZ GG CCC"` (the
    /// check digit is added) or 16 raw DTMF digits sent as given. Repeat the
    /// option to send several messages in one call, each after the previous kissoff.
    #[arg(long = "message", short = 'm', default_value = "1234 18 1 602 00 000")]
    pub messages: Vec<String>,
    /// How digits are sent: in-band tones, RFC 4733 events, or both.
    #[arg(long, value_enum, default_value = "inband")]
    pub dtmf: DtmfMode,
    /// Codecs offered in the SDP (telephone-event is always offered).
    #[arg(long, value_enum, default_value = "any")]
    pub codec: CodecChoice,
    /// The user part of our From and Contact URIs.
    #[arg(long, default_value = "alarmunit")]
    pub from_user: String,
    /// Local IP to bind SIP and RTP to; default: the address that routes to the target.
    #[arg(long)]
    pub local_ip: Option<std::net::IpAddr>,
    /// DTMF tone on time per digit, ms (units use 50-60).
    #[arg(long, default_value_t = 55)]
    pub tone_on_ms: u32,
    /// DTMF silence after each digit, ms (units use 50-60).
    #[arg(long, default_value_t = 55)]
    pub tone_off_ms: u32,
    /// Pause after the handshake and after each kissoff before digits, ms (250-300).
    #[arg(long, default_value_t = 250)]
    pub pause_ms: u32,
    /// Attempts per message before the unit gives up (a kissoff resets the count).
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
    /// How long to wait for the handshake after the answer, ms.
    #[arg(long, default_value_t = 10_000)]
    pub handshake_timeout_ms: u32,
    /// The kissoff must start within this long of the last digit, ms.
    #[arg(long, default_value_t = 1250)]
    pub kissoff_window_ms: u32,
    /// Shortest 1400 Hz tone accepted as a kissoff, ms.
    #[arg(long, default_value_t = 400)]
    pub kissoff_min_ms: u32,
    /// After the last message, wait for the far end's BYE instead of sending one.
    #[arg(long)]
    pub wait_bye: bool,
    /// Longest wait for the far end's BYE with --wait-bye, s (then we hang up).
    #[arg(long, default_value_t = 60)]
    pub bye_timeout_s: u32,
    /// Longest a call may last before it is cancelled or hung up, s.
    #[arg(long, default_value_t = 120)]
    pub call_timeout_s: u32,
    /// Packet loss applied to the RTP we send, percent (seeded, see --seed).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Send-time jitter of our RTP, 0..N ms per packet; above the ptime packets reorder.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u32,
    /// White noise added to our PCM before encoding, dB below the DTMF power.
    #[arg(long)]
    pub snr_db: Option<f32>,
    /// Level of the DTMF low tone, dBm0.
    #[arg(long, default_value_t = -10.0, allow_negative_numbers = true)]
    pub level_dbm0: f32,
    /// DTMF twist: high tone minus low tone, dB.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub twist_db: f32,
    /// DTMF frequency offset, percent (both tones).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub freq_offset_pct: f32,
    /// Seed of the impairment RNG (call i uses seed + i); default: random, printed in the report.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of calls to make.
    #[arg(long, default_value_t = 1)]
    pub calls: u32,
    /// New calls per second.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Calls in progress at most.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The impairments applied to what the simulator sends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Impairments {
    /// Packet loss, 0-100 percent.
    pub loss_pct: f64,
    /// Extra send delay, uniform in 0..=jitter_ms.
    pub jitter_ms: u32,
    /// Signal-to-noise ratio of the DTMF, dB; `None` for no noise.
    pub snr_db: Option<f32>,
    /// DTMF low-tone level, dBm0.
    pub level_dbm0: f32,
    /// High minus low tone level, dB.
    pub twist_db: f32,
    /// Frequency offset, percent.
    pub freq_offset_pct: f32,
}

/// Validated settings of one simulated unit (shared by every call).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// The Request-URI.
    pub target: String,
    /// Messages as the 16 DTMF digits to send.
    pub messages: Vec<String>,
    /// Digit transport.
    pub dtmf: DtmfMode,
    /// Offered codecs in order.
    pub codecs: Vec<crate::sip::sdp::Codec>,
    /// From/Contact user.
    pub from_user: String,
    /// DTMF on time.
    pub tone_on: Duration,
    /// DTMF off time.
    pub tone_off: Duration,
    /// Pause before digits (after the handshake or a kissoff, and before a retry).
    pub pause: Duration,
    /// Attempts per message.
    pub attempts: u32,
    /// Handshake wait after the answer.
    pub handshake_timeout: Duration,
    /// Kissoff start window after the last digit.
    pub kissoff_window: Duration,
    /// Kissoff minimum length.
    pub kissoff_min: Duration,
    /// Kissoff maximum length (spandsp accepts up to 1500 ms).
    pub kissoff_max: Duration,
    /// Wait for the far end's BYE.
    pub wait_bye: bool,
    /// Longest wait for it.
    pub bye_timeout: Duration,
    /// Longest call.
    pub call_timeout: Duration,
    /// What is done to our media.
    pub impairments: Impairments,
}

impl DeviceConfig {
    /// Checks and converts the command-line options.
    pub fn from_args(args: &DeviceArgs) -> Result<Self, SimError> {
        check_ranges(args)?;
        let messages = args
            .messages
            .iter()
            .map(|m| message_digits(m))
            .collect::<Result<Vec<_>, _>>()?;
        use crate::sip::sdp::Codec;
        let codecs = match args.codec {
            CodecChoice::Any => vec![Codec::Pcma, Codec::Pcmu],
            CodecChoice::Pcma => vec![Codec::Pcma],
            CodecChoice::Pcmu => vec![Codec::Pcmu],
        };
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        Ok(Self {
            target: args.target.clone(),
            messages,
            dtmf: args.dtmf,
            codecs,
            from_user: args.from_user.clone(),
            tone_on: ms(args.tone_on_ms),
            tone_off: ms(args.tone_off_ms),
            pause: ms(args.pause_ms),
            attempts: args.attempts,
            handshake_timeout: ms(args.handshake_timeout_ms),
            kissoff_window: ms(args.kissoff_window_ms),
            kissoff_min: ms(args.kissoff_min_ms),
            kissoff_max: ms(1500).max(ms(args.kissoff_min_ms)),
            wait_bye: args.wait_bye,
            bye_timeout: Duration::from_secs(u64::from(args.bye_timeout_s)),
            call_timeout: Duration::from_secs(u64::from(args.call_timeout_s)),
            impairments: Impairments {
                loss_pct: args.loss,
                jitter_ms: args.jitter_ms,
                snr_db: args.snr_db,
                level_dbm0: args.level_dbm0,
                twist_db: args.twist_db,
                freq_offset_pct: args.freq_offset_pct,
            },
        })
    }
}

fn invalid(option: &'static str, reason: impl Into<String>) -> SimError {
    SimError::InvalidOption {
        option,
        reason: reason.into(),
    }
}

/// Range checks that keep the simulation meaningful and bounded.
fn check_ranges(a: &DeviceArgs) -> Result<(), SimError> {
    let checks: [(&'static str, bool, &str); 11] = [
        ("--loss", (0.0..=100.0).contains(&a.loss), "0-100"),
        ("--jitter-ms", a.jitter_ms <= 1000, "0-1000"),
        ("--tone-on-ms", (20..=500).contains(&a.tone_on_ms), "20-500"),
        (
            "--tone-off-ms",
            (20..=500).contains(&a.tone_off_ms),
            "20-500",
        ),
        ("--attempts", (1..=20).contains(&a.attempts), "1-20"),
        ("--calls", a.calls >= 1, "at least 1"),
        ("--rate", a.rate > 0.0 && a.rate.is_finite(), "above 0"),
        (
            "--concurrency",
            (1..=1000).contains(&a.concurrency),
            "1-1000",
        ),
        (
            "--level-dbm0",
            (-60.0..=3.0).contains(&a.level_dbm0),
            "-60..3",
        ),
        ("--twist-db", a.twist_db.abs() <= 20.0, "-20..20"),
        (
            "--freq-offset-pct",
            a.freq_offset_pct.abs() <= 20.0,
            "-20..20",
        ),
    ];
    if let Some((option, _, range)) = checks.iter().find(|(_, ok, _)| !ok) {
        return Err(invalid(option, format!("must be {range}")));
    }
    if a.messages.is_empty() {
        return Err(invalid("--message", "at least one message"));
    }
    Ok(())
}

/// The 16 DTMF digits for a `--message`: six Ademco fields (15 digits once
/// blanks are removed; the check digit is added) or 16 raw DTMF digits.
pub fn message_digits(text: &str) -> Result<String, SimError> {
    let bad = |reason: String| SimError::InvalidMessage {
        message: text.to_owned(),
        reason,
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.to_ascii_uppercase();
    match compact.chars().count() {
        15 => {
            let dtmf: Option<String> = compact.chars().map(ademco_to_dtmf).collect();
            let mut dtmf = dtmf.ok_or_else(|| bad("fields hold 0-9 and B-F only".into()))?;
            let check = check_digit(&dtmf).map_err(|e| bad(e.to_string()))?;
            dtmf.push(check);
            contact_id::parse(&dtmf).map_err(|e| bad(e.to_string()))?;
            Ok(dtmf)
        }
        MESSAGE_LEN if compact.chars().all(|c| "0123456789*#ABCD".contains(c)) => Ok(compact),
        n => Err(bad(format!(
            "expected \"ACCT MT Q XYZ GG CCC\" (15 digits) or 16 DTMF digits, got {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeviceArgs,
    }

    fn parse(line: &[&str]) -> DeviceArgs {
        let mut argv = vec!["x"];
        argv.extend_from_slice(line);
        Cli::try_parse_from(argv).expect("valid").args
    }

    #[test]
    fn messages_from_fields_or_raw_digits() {
        assert_eq!(
            message_digits("1234 18 1 602 00 000").ok().as_deref(),
            Some("1234181602000002")
        );
        assert_eq!(
            message_digits("1234 18 1 101 01 001").ok().as_deref(),
            Some("123418110101001*")
        );
        assert_eq!(
            message_digits("1234 18 3 401 03 005").ok().as_deref(),
            Some("123418340103005C")
        );
        // Raw digits are sent as given, even with a bad checksum (tests receivers).
        assert_eq!(
            message_digits("1234181602000003").ok().as_deref(),
            Some("1234181602000003")
        );
        for bad in [
            "1234 18 1 602 00",
            "12341816020000X2",
            "1234 18 1 6A2 00 000",
            "",
        ] {
            assert!(message_digits(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn options_parse_and_validate() {
        let args = parse(&[
            "sip:112@127.0.0.1:5060",
            "-m",
            "1234 18 1 602 00 000",
            "-m",
            "5678 18 1 100 00 001",
            "--dtmf",
            "both",
            "--level-dbm0",
            "-20",
            "--twist-db",
            "-3",
            "--loss",
            "3",
        ]);
        let cfg = DeviceConfig::from_args(&args).expect("valid");
        assert_eq!(cfg.messages, ["1234181602000002", "5678181100000017"]);
        assert_eq!(cfg.dtmf, DtmfMode::Both);
        assert_eq!(cfg.impairments.level_dbm0, -20.0);
        assert_eq!(cfg.impairments.twist_db, -3.0);
        let mut bad = args.clone();
        bad.loss = 101.0;
        assert!(matches!(
            DeviceConfig::from_args(&bad),
            Err(SimError::InvalidOption {
                option: "--loss",
                ..
            })
        ));
        let default = parse(&["sip:112@127.0.0.1"]);
        let cfg = DeviceConfig::from_args(&default).expect("valid");
        assert_eq!(cfg.messages, ["1234181602000002"]);
        assert_eq!((cfg.tone_on.as_millis(), cfg.attempts), (55, 4));
    }
}
