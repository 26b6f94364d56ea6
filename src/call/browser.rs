//! Operator legs to a browser: which contacts get a WebRTC offer, and the
//! fresh ICE credentials of such a leg.
//!
//! A contact is a browser when it registered over SIP over WebSocket
//! (RFC 7118): its Contact URI carries `;transport=ws` or `;transport=wss`
//! (what JsSIP and SIP.js register), whatever transport the REGISTER itself
//! came over. A browser cannot take plain RTP, so its INVITE carries the
//! WebRTC profile ([`crate::sip::sdp::webrtc_offer`]); every other contact
//! keeps `RTP/AVP`.

use crate::sip::sdp::{IceCredentials, IcePwd, IceUfrag};

/// True when `uri` (a registered Contact) names a WebSocket transport.
pub fn is_browser_contact(uri: &str) -> bool {
    let uri = uri.trim().trim_start_matches('<');
    let uri = uri.split(['>', '?']).next().unwrap_or_default();
    uri.split(';').skip(1).any(|param| {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        name.trim().eq_ignore_ascii_case("transport")
            && ["ws", "wss"]
                .iter()
                .any(|t| value.trim().eq_ignore_ascii_case(t))
    })
}

/// ICE credentials from the core's tokens: a 16-character ufrag (RFC 8839
/// asks at least 4) and a 32-character password (at least 22).
pub(crate) fn ice_credentials(mut token: impl FnMut() -> String) -> IceCredentials {
    IceCredentials {
        ufrag: IceUfrag::new(token()),
        pwd: IcePwd::new(format!("{}{}", token(), token())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_and_wss_contacts_are_browsers_others_are_not() {
        for yes in [
            "sip:op1@df7jal23ls0d.invalid;transport=ws",
            "<sip:op1@127.0.0.1:5070;ob;transport=WSS>",
            "sip:op1@h;transport=ws?x=y",
        ] {
            assert!(is_browser_contact(yes), "{yes}");
        }
        for no in [
            "sip:op1@127.0.0.1:5070",
            "sip:op1@127.0.0.1;transport=tcp",
            "sip:ws@127.0.0.1;user=phone",
            "sip:op1@h?transport=ws",
        ] {
            assert!(!is_browser_contact(no), "{no}");
        }
    }

    #[test]
    fn credentials_are_long_enough_and_fresh() {
        let mut n = 0u64;
        let ice = ice_credentials(|| {
            n += 1;
            format!("{n:016x}")
        });
        assert_eq!(ice.ufrag.as_str().len(), 16);
        assert_eq!(ice.pwd.as_str().len(), 32);
        assert_ne!(ice.pwd.as_str(), format!("{0}{0}", ice.ufrag));
    }
}
