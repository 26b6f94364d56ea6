//! In-call control of a SCAIP unit (alarm-protocols.md §4.4): the operator's
//! commands and the DTMF digit each is sent as, on the unit's leg, as RFC
//! 4733 events of [`DIGIT_MS`] (the reference receiver clears down with
//! `0` of 150 ms and allows the unit 5 s to hang up).

/// How long each command digit lasts.
pub const DIGIT_MS: u32 = 150;

/// A command to the unit during its voice call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InCallCommand {
    /// `0`: end the call (the unit hangs up).
    ClearDown,
    /// `1`: louder.
    VolumeUp,
    /// `3`: quieter.
    VolumeDown,
    /// `4`: talk both ways.
    Duplex,
    /// `7`: microphone only (listen in).
    ListenIn,
    /// `8`: speaker only.
    SpeakerOnly,
    /// `9`: output control.
    OutputControl,
}

impl InCallCommand {
    /// The DTMF digit.
    pub fn digit(self) -> char {
        match self {
            Self::ClearDown => '0',
            Self::VolumeUp => '1',
            Self::VolumeDown => '3',
            Self::Duplex => '4',
            Self::ListenIn => '7',
            Self::SpeakerOnly => '8',
            Self::OutputControl => '9',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_the_standards_digits() {
        let all = [
            InCallCommand::ClearDown,
            InCallCommand::VolumeUp,
            InCallCommand::VolumeDown,
            InCallCommand::Duplex,
            InCallCommand::ListenIn,
            InCallCommand::SpeakerOnly,
            InCallCommand::OutputControl,
        ];
        let digits: String = all.iter().map(|c| c.digit()).collect();
        assert_eq!(digits, "0134789");
        let parsed: InCallCommand = serde_json::from_str("\"listen_in\"").unwrap();
        assert_eq!(parsed, InCallCommand::ListenIn);
    }
}
