//! The RFC 4566 reader: lenient about what does not matter, strict where a
//! wrong guess would send media to the wrong place.
//!
//! - CRLF or LF line ends, trailing blanks and empty lines are accepted.
//! - The structural lines (`v=`, `c=`, `m=`) must be readable; a bad one is
//!   an [`SdpError`] with its line number.
//! - A malformed `o=` or attribute does not fail the call: an alarm unit with
//!   a sloppy SDP still gets through. The line is kept as unknown.
//! - Size and media count are bounded; nothing here indexes input unchecked.

use std::net::IpAddr;

use super::{ConnectionAddr, Direction, Media, Origin, RtpMap, SdpError, SessionDescription};

/// The largest SDP body we read, in bytes.
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// The most m-lines we read.
pub const MAX_MEDIA: usize = 32;

/// Parses a session description (RFC 4566).
///
/// Unknown line types and attributes are kept (session level) or ignored
/// (media level); see the module notes for what is an error.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge {
            len: text.len(),
            limit: MAX_SDP_LEN,
        });
    }
    let mut lines = text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty());
    match lines.next() {
        Some((_, "v=0")) => {}
        _ => return Err(SdpError::NotSdp),
    }
    let mut sdp = SessionDescription {
        origin: None,
        session_name: String::new(),
        connection: None,
        direction: None,
        media: Vec::new(),
        other_lines: Vec::new(),
    };
    for (number, line) in lines {
        let (kind, value) = split_line(number, line)?;
        if kind == 'm' {
            if sdp.media.len() >= MAX_MEDIA {
                return Err(SdpError::TooManyMedia { limit: MAX_MEDIA });
            }
            sdp.media.push(parse_media_line(number, value)?);
            continue;
        }
        match sdp.media.last_mut() {
            Some(media) => media_line(media, number, kind, value)?,
            None => session_line(&mut sdp, number, kind, value, line)?,
        }
    }
    Ok(sdp)
}

/// Splits `x=value`, checking the form.
fn split_line(number: usize, line: &str) -> Result<(char, &str), SdpError> {
    let mut chars = line.chars();
    match (chars.next(), chars.next()) {
        (Some(kind), Some('=')) if kind.is_ascii_alphabetic() => Ok((kind, chars.as_str())),
        _ => Err(SdpError::BadLine { line: number }),
    }
}

fn session_line(
    sdp: &mut SessionDescription,
    number: usize,
    kind: char,
    value: &str,
    raw: &str,
) -> Result<(), SdpError> {
    match kind {
        'o' => match parse_origin(value) {
            Some(origin) if sdp.origin.is_none() => sdp.origin = Some(origin),
            _ => sdp.other_lines.push(raw.to_string()),
        },
        's' => sdp.session_name = value.to_string(),
        'c' => sdp.connection = Some(parse_connection(number, value)?),
        'a' => match Direction::from_attribute(value) {
            Some(direction) => sdp.direction = Some(direction),
            None => sdp.other_lines.push(raw.to_string()),
        },
        _ => sdp.other_lines.push(raw.to_string()),
    }
    Ok(())
}

fn media_line(media: &mut Media, number: usize, kind: char, value: &str) -> Result<(), SdpError> {
    match kind {
        'c' => media.connection = Some(parse_connection(number, value)?),
        'a' => media_attribute(media, value),
        _ => {} // i=, b=, k=: nothing we use
    }
    Ok(())
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    match fields.as_slice() {
        [username, id, version, _net, _addrtype, address] => Some(Origin {
            username: username.to_string(),
            session_id: id.to_string(),
            session_version: version.to_string(),
            address: address.to_string(),
        }),
        _ => None,
    }
}

/// `c=IN IP4 <address>[/<ttl>[/<count>]]` or `c=IN IP6 <address>`.
fn parse_connection(number: usize, value: &str) -> Result<ConnectionAddr, SdpError> {
    let bad = |reason| SdpError::Malformed {
        line: number,
        field: "c=",
        reason,
    };
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [net, addrtype, address] = fields.as_slice() else {
        return Err(bad("expected <nettype> <addrtype> <address>"));
    };
    if !net.eq_ignore_ascii_case("IN") {
        return Err(bad("network type is not IN"));
    }
    let host = address.split('/').next().unwrap_or_default();
    let parsed = host.parse::<IpAddr>().ok();
    match (addrtype.to_ascii_uppercase().as_str(), parsed) {
        ("IP4", Some(ip @ IpAddr::V4(_))) | ("IP6", Some(ip @ IpAddr::V6(_))) => {
            Ok(ConnectionAddr::Ip(ip))
        }
        ("IP4" | "IP6", Some(_)) => Err(bad("address does not match its address type")),
        ("IP4" | "IP6", None) if is_host_name(host) => Ok(ConnectionAddr::Host(host.to_string())),
        ("IP4" | "IP6", None) => Err(bad("address is neither an IP literal nor a host name")),
        _ => Err(bad("address type is not IP4 or IP6")),
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `m=<media> <port>[/<count>] <proto> <fmt> …`.
fn parse_media_line(number: usize, value: &str) -> Result<Media, SdpError> {
    let bad = |reason| SdpError::Malformed {
        line: number,
        field: "m=",
        reason,
    };
    let mut fields = value.split_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad("expected <media> <port> <proto> <fmt>…"));
    };
    let port = port
        .split('/')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or(bad("port is not a number from 0 to 65535"))?;
    Ok(Media {
        kind: kind.to_string(),
        port,
        proto: proto.to_string(),
        formats: fields.map(str::to_string).collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime_ms: None,
        direction: None,
        other_attributes: Vec::new(),
    })
}

/// Reads one media-level attribute; malformed ones are kept as unknown.
fn media_attribute(media: &mut Media, value: &str) {
    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
    let understood = match name {
        "rtpmap" => parse_rtpmap(arg).map(|m| media.rtpmaps.push(m)),
        "fmtp" => parse_fmtp(arg).map(|f| media.fmtps.push(f)),
        "ptime" => arg
            .trim()
            .parse::<u32>()
            .ok()
            .map(|p| media.ptime_ms = Some(p)),
        _ => Direction::from_attribute(value).map(|d| media.direction = Some(d)),
    };
    if understood.is_none() {
        media.other_attributes.push(value.to_string());
    }
}

/// `<pt> <encoding>/<clock>[/<channels>]`.
fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (pt, map) = arg.trim().split_once(' ')?;
    let mut parts = map.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock_rate = parts.next()?.parse::<u32>().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse::<u8>().ok()?),
        None => None,
    };
    Some(RtpMap {
        payload_type: parse_pt(pt)?,
        encoding: encoding.to_string(),
        clock_rate,
        channels,
    })
}

/// `<pt> <format-specific parameters>`.
fn parse_fmtp(arg: &str) -> Option<(u8, String)> {
    let (pt, params) = arg.trim().split_once(' ')?;
    Some((parse_pt(pt)?, params.trim().to_string()))
}

fn parse_pt(text: &str) -> Option<u8> {
    text.parse::<u8>().ok().filter(|pt| *pt < 128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A typical IP alarm unit offer (same as the research probe's SDP).
    const ALARM_UNIT: &str = "v=0\r\no=panel 2890844526 2890844526 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

    #[test]
    fn reads_a_typical_alarm_unit_offer() {
        let sdp = parse(ALARM_UNIT).unwrap();
        let origin = sdp.origin.as_ref().unwrap();
        assert_eq!(origin.username, "panel");
        assert_eq!(origin.session_version, "2890844526");
        assert_eq!(sdp.session_name, "-");
        assert_eq!(
            sdp.connection,
            Some(ConnectionAddr::Ip(Ipv4Addr::new(10, 0, 0, 5).into()))
        );
        assert_eq!(sdp.other_lines, vec!["t=0 0"]);
        let m = &sdp.media[0];
        assert_eq!(
            (m.kind.as_str(), m.port, m.proto.as_str()),
            ("audio", 49170, "RTP/AVP")
        );
        assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![0, 8, 101]);
        assert_eq!(m.rtpmap(101).unwrap().encoding, "telephone-event");
        assert_eq!(m.fmtp(101), Some("0-16"));
        assert_eq!(m.ptime_ms, Some(20));
        assert_eq!(sdp.direction_for(m), Direction::SendRecv);
    }

    #[test]
    fn accepts_lf_only_blank_lines_and_unknown_lines() {
        let text = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=x\n\nc=IN IP4 192.0.2.1/127\nb=AS:64\nz=weird\nt=0 0\na=tool:foo\nm=audio 4000 RTP/AVP 8\ni=info\nb=AS:80\na=x-custom:1\na=rtpmap:broken\n\n";
        let sdp = parse(text).unwrap();
        assert_eq!(
            sdp.connection,
            Some(ConnectionAddr::Ip([192, 0, 2, 1].into()))
        );
        assert_eq!(
            sdp.other_lines,
            vec!["b=AS:64", "z=weird", "t=0 0", "a=tool:foo"]
        );
        assert_eq!(
            sdp.media[0].other_attributes,
            vec!["x-custom:1", "rtpmap:broken"]
        );
    }

    #[test]
    fn reads_ipv6_and_media_level_connection_and_direction() {
        let text = "v=0\r\no=- 7 7 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\na=sendonly\r\nm=audio 5004 RTP/AVP 8\r\nc=IN IP6 2001:db8::2\r\na=recvonly\r\n";
        let sdp = parse(text).unwrap();
        let v6: Ipv6Addr = "2001:db8::2".parse().unwrap();
        assert_eq!(sdp.direction, Some(Direction::SendOnly));
        let m = &sdp.media[0];
        assert_eq!(sdp.connection_for(m), Some(&ConnectionAddr::Ip(v6.into())));
        assert_eq!(sdp.direction_for(m), Direction::RecvOnly);
    }

    #[test]
    fn host_names_are_kept_but_unusable() {
        let text = "v=0\nc=IN IP4 media.example.net\nm=audio 4000 RTP/AVP 0\n";
        let sdp = parse(text).unwrap();
        let c = sdp.connection.unwrap();
        assert_eq!(c, ConnectionAddr::Host("media.example.net".into()));
        assert_eq!(c.usable_ip(), None);
    }

    #[test]
    fn structural_errors_carry_the_line_number() {
        let cases: &[(&str, SdpError)] = &[
            ("", SdpError::NotSdp),
            ("hello world", SdpError::NotSdp),
            ("v=1\n", SdpError::NotSdp),
            ("v=0\nthis is not sdp\n", SdpError::BadLine { line: 2 }),
            ("v=0\n=x\n", SdpError::BadLine { line: 2 }),
            (
                "v=0\n\nm=audio\n",
                bad_m(3, "expected <media> <port> <proto> <fmt>…"),
            ),
            (
                "v=0\nm=audio 70000 RTP/AVP 0\n",
                bad_m(2, "port is not a number from 0 to 65535"),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err(), *expected, "{text:?}");
        }
    }

    fn bad_m(line: usize, reason: &'static str) -> SdpError {
        SdpError::Malformed {
            line,
            field: "m=",
            reason,
        }
    }

    #[test]
    fn bad_connection_lines_are_errors() {
        for c in [
            "c=IN IP4",
            "c=XX IP4 1.2.3.4",
            "c=IN IP5 1.2.3.4",
            "c=IN IP4 2001:db8::1",
            "c=IN IP4 bad_host!",
        ] {
            let text = format!("v=0\n{c}\nm=audio 1 RTP/AVP 0\n");
            assert!(
                matches!(
                    parse(&text),
                    Err(SdpError::Malformed {
                        line: 2,
                        field: "c=",
                        ..
                    })
                ),
                "{c}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let big = format!("v=0\n{}", "a=x\n".repeat(MAX_SDP_LEN / 4));
        assert!(matches!(parse(&big), Err(SdpError::TooLarge { .. })));
        let many = format!("v=0\n{}", "m=audio 0 RTP/AVP 0\n".repeat(MAX_MEDIA + 1));
        assert_eq!(
            parse(&many),
            Err(SdpError::TooManyMedia { limit: MAX_MEDIA })
        );
    }

    #[test]
    fn odd_attributes_do_not_fail_the_parse() {
        let text = "v=0\no=short\nm=audio 1 RTP/AVP 0 200 abc\na=rtpmap:200 X/8000\na=rtpmap:96 PCMA/notanumber\na=rtpmap:97 PCMA/8000/x\na=fmtp:abc 1\na=ptime:\u{e9}\na=\u{1F600}\n";
        let sdp = parse(text).unwrap();
        assert_eq!(sdp.origin, None);
        let m = &sdp.media[0];
        assert!(m.rtpmaps.is_empty() && m.fmtps.is_empty() && m.ptime_ms.is_none());
        assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![0]);
        assert_eq!(m.other_attributes.len(), 6);
    }

    #[test]
    fn random_truncations_and_corruptions_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let source = ALARM_UNIT.as_bytes();
        for _ in 0..5000 {
            let cut = (next() as usize) % (source.len() + 1);
            let mut bytes = source[..cut].to_vec();
            if !bytes.is_empty() && next() % 2 == 0 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = (next() & 0x7f) as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text);
        }
    }
}
