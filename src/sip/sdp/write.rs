//! Renders our own session descriptions (RFC 4566 §5 line order, CRLF).
//!
//! Only what we send is rendered: one G.711 audio stream, optional
//! telephone-event, and rejected streams (port 0) echoing the offer's m-line.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Codec, Direction, LocalMedia, Media, CLOCK_RATE};

/// Our audio m-line and its attributes.
pub(super) struct AudioLine<'a> {
    /// The RTP profile, echoed from the offer (`RTP/AVP` or `RTP/AVPF`).
    pub proto: &'a str,
    /// The codecs with the payload types they use, in preference order.
    pub codecs: Vec<(u8, Codec)>,
    /// The telephone-event payload type and its fmtp event range.
    pub telephone_event: Option<(u8, &'a str)>,
    /// `a=ptime`.
    pub ptime_ms: u32,
    /// Our direction attribute.
    pub direction: Direction,
}

/// One m-line of what we send.
pub(super) enum Stream<'a> {
    /// The audio stream we accept or offer, on the local port.
    Audio(AudioLine<'a>),
    /// An offered stream we decline: port 0, same media, proto and formats.
    Rejected(&'a Media),
}

/// Renders a complete description with the session-level lines from `local`.
pub(super) fn render(local: &LocalMedia, streams: &[Stream<'_>]) -> String {
    let mut out = String::with_capacity(320);
    let family = address_family(local.addr);
    let username = if is_token(&local.username) {
        local.username.as_str()
    } else {
        "-"
    };
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "v=0\r\no={username} {} {} IN {family} {addr}\r\ns=-\r\nc=IN {family} {addr}\r\nt=0 0\r\n",
        local.session_id,
        local.session_version,
        addr = local.addr,
    );
    for stream in streams {
        match stream {
            Stream::Audio(audio) => render_audio(&mut out, local.port, audio),
            Stream::Rejected(media) => render_rejected(&mut out, media),
        }
    }
    out
}

fn render_audio(out: &mut String, port: u16, audio: &AudioLine<'_>) {
    let _ = write!(out, "m=audio {port} {}", audio.proto);
    let pts = audio.codecs.iter().map(|(pt, _)| *pt);
    for pt in pts.chain(audio.telephone_event.map(|(pt, _)| pt)) {
        let _ = write!(out, " {pt}");
    }
    out.push_str("\r\n");
    for (pt, codec) in &audio.codecs {
        let _ = write!(
            out,
            "a=rtpmap:{pt} {}/{CLOCK_RATE}\r\n",
            codec.encoding_name()
        );
    }
    if let Some((pt, range)) = audio.telephone_event {
        let _ = write!(
            out,
            "a=rtpmap:{pt} telephone-event/{CLOCK_RATE}\r\na=fmtp:{pt} {range}\r\n"
        );
    }
    let _ = write!(
        out,
        "a=ptime:{}\r\na={}\r\n",
        audio.ptime_ms,
        audio.direction.attribute()
    );
}

/// RFC 3264 §6: a declined stream keeps its place with port 0 and at least
/// one format.
fn render_rejected(out: &mut String, media: &Media) {
    let _ = write!(out, "m={} 0 {}", media.kind, media.proto);
    if media.formats.is_empty() {
        out.push_str(" 0");
    }
    for format in &media.formats {
        let _ = write!(out, " {format}");
    }
    out.push_str("\r\n");
}

fn address_family(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// True for a non-empty run of visible ASCII (an RFC 4566 `username`).
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn local(addr: IpAddr, username: &str) -> LocalMedia {
        LocalMedia {
            addr,
            port: 30000,
            session_id: 42,
            session_version: 7,
            username: username.to_string(),
        }
    }

    #[test]
    fn renders_the_session_lines_for_ipv4_and_ipv6() {
        let v4 = render(&local([192, 0, 2, 10].into(), "alarmgate"), &[]);
        assert_eq!(
            v4,
            "v=0\r\no=alarmgate 42 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        );
        let v6 = render(&local(Ipv6Addr::LOCALHOST.into(), "has space"), &[]);
        assert!(v6.starts_with("v=0\r\no=- 42 7 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\n"));
    }

    #[test]
    fn renders_audio_and_rejected_streams() {
        let video = Media {
            kind: "video".into(),
            port: 5006,
            proto: "RTP/AVP".into(),
            formats: vec!["96".into(), "97".into()],
            connection: None,
            rtpmaps: vec![],
            fmtps: vec![],
            ptime_ms: None,
            direction: None,
            other_attributes: vec![],
        };
        let audio = AudioLine {
            proto: "RTP/AVP",
            codecs: vec![(8, Codec::Pcma)],
            telephone_event: Some((101, "0-15")),
            ptime_ms: 20,
            direction: Direction::RecvOnly,
        };
        let text = render(
            &local([192, 0, 2, 10].into(), "a"),
            &[Stream::Audio(audio), Stream::Rejected(&video)],
        );
        let body = text.split_once("t=0 0\r\n").unwrap().1;
        assert_eq!(
            body,
            "m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=recvonly\r\nm=video 0 RTP/AVP 96 97\r\n"
        );
    }
}
