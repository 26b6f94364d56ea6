//! Torture replay: every `tests/vectors/sip/*/NAME.dat` with an entry in that
//! directory's `expect.toml` is sent to a live daemon, over UDP (one daemon)
//! and TCP (another), and the answer is checked against the expectation.
//! Afterwards the daemon must still be alive, healthy and take a SIPp call.
//!
//! `expect.toml` (format of `rfc4475/`, keyed by file stem): a status code,
//! `"accept"` (a request is handled: any final answer but 400; a response
//! message: nothing comes back) or `"drop"` (nothing comes back). `extra/`
//! also uses a list of acceptable outcomes and `{ udp = .., tcp = .. }`.
//!
//! Wire rules, applied to every vector alike:
//! - Bare LF line ends become CRLF (the RFC 4475 copies are stored with LF).
//! - The top Via's sent-by is pointed at our socket (an IPv4 literal becomes
//!   127.0.0.1, a non-loopback IPv6 literal [::1], the port that of our UDP
//!   socket or TCP connection): over UDP the answer comes back to us and
//!   nothing leaves loopback. Many RFC 4475 messages share a branch, so an
//!   RFC 3261 branch (`z9hG4bK...`, not the bare cookie) also gets a suffix:
//!   each vector is its own transaction and is judged alone, whatever the
//!   daemon's transaction matching. Every other byte is sent as stored. A Via we cannot rewrite (folded) is sent as is; over UDP its
//!   answer is awaited on 127.0.0.1:5060 too.
//! - Over TCP a message whose framing is broken (no empty line, or not exactly
//!   one Content-Length equal to the body) may also be dropped: a stream
//!   receiver cannot know where such a message ends.
//! - Messages larger than one UDP datagram are sent over TCP only.
//! - A directory or `expect.toml` that does not exist yet is a SKIP notice; a
//!   `.dat` without an expectation is listed and not sent.
//! - An entry with `known = "why"` (extra/ only), or listed in
//!   `tests/interop/known_deviations.toml`, is a deviation of today's
//!   daemon from the RFC: a mismatch is printed as KNOWN DEVIATION (and goes
//!   to the SKIP log run.sh summarises) instead of failing; once the daemon
//!   meets the expectation the test says to remove `known`.

use crate::harness::{need_sipp, repo, skip, Config, Daemon};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// One acceptable result of sending a vector.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Code(u16),
    Accept,
    Drop,
}

/// What each transport must see; None = not sent over that transport.
/// `known`: a deviation of today's daemon, reported but not failed.
#[derive(Debug, Clone)]
struct Expect {
    udp: Option<Vec<Outcome>>,
    tcp: Option<Vec<Outcome>>,
    known: Option<String>,
}

#[derive(Debug)]
struct Vector {
    id: String,
    bytes: Vec<u8>,
    expect: Expect,
}

fn outcomes(v: &toml::Value) -> Result<Vec<Outcome>, String> {
    match v {
        toml::Value::Integer(c) => u16::try_from(*c)
            .map(|c| vec![Outcome::Code(c)])
            .map_err(|e| e.to_string()),
        toml::Value::String(s) if s == "accept" => Ok(vec![Outcome::Accept]),
        toml::Value::String(s) if s == "drop" => Ok(vec![Outcome::Drop]),
        toml::Value::String(s) => s
            .parse()
            .map(|c| vec![Outcome::Code(c)])
            .map_err(|_| format!("unknown outcome {s:?}")),
        toml::Value::Array(a) => a.iter().try_fold(Vec::new(), |mut acc, x| {
            acc.extend(outcomes(x)?);
            Ok(acc)
        }),
        other => Err(format!("unsupported expectation {other}")),
    }
}

fn expectation(v: &toml::Value) -> Result<Expect, String> {
    if let toml::Value::Table(t) = v {
        if let Some(k) = t
            .keys()
            .find(|k| !["udp", "tcp", "known"].contains(&k.as_str()))
        {
            return Err(format!("unknown key {k:?} (udp, tcp, known)"));
        }
        let get = |k: &str| t.get(k).map(outcomes).transpose();
        let known = match t.get("known") {
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(format!("known must be a string, not {other}")),
            None => None,
        };
        return Ok(Expect {
            udp: get("udp")?,
            tcp: get("tcp")?,
            known,
        });
    }
    let o = outcomes(v)?;
    Ok(Expect {
        udp: Some(o.clone()),
        tcp: Some(o),
        known: None,
    })
}

/// Bare LF -> CRLF when the message has no CRLF CRLF yet.
fn normalize(raw: &[u8]) -> Vec<u8> {
    if raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Loads one vector directory. Problems with the directory itself are SKIP
/// notices; a malformed `expect.toml` entry fails the test.
fn load_dir(test: &str, dir: &Path) -> Vec<Vector> {
    let set = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_string();
    let Ok(text) = fs::read_to_string(dir.join("expect.toml")) else {
        skip(test, &format!("{} has no expect.toml yet", dir.display()));
        return Vec::new();
    };
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}/expect.toml: {e}", dir.display()));
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".dat"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let Some(v) = table.get(&name) else {
            eprintln!("interop: {set}/{name}.dat has no expectation in expect.toml; not sent");
            continue;
        };
        let expect = expectation(v).unwrap_or_else(|e| panic!("{set}/expect.toml {name}: {e}"));
        let raw = fs::read(dir.join(format!("{name}.dat"))).expect("read vector");
        out.push(Vector {
            id: format!("{set}/{name}"),
            bytes: normalize(&raw),
            expect,
        });
    }
    for key in table
        .keys()
        .filter(|k| !dir.join(format!("{k}.dat")).exists())
    {
        eprintln!("interop: {set}/expect.toml names {key} but {key}.dat does not exist");
    }
    out
}

/// `tests/interop/known_deviations.toml`: "set/name" -> what the daemon does instead.
fn known_deviations() -> toml::Table {
    let path = repo().join("tests/interop/known_deviations.toml");
    fs::read_to_string(&path)
        .map(|t| {
            t.parse()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .unwrap_or_default()
}

fn load_all(test: &str) -> Vec<Vector> {
    let root = repo().join("tests/vectors/sip");
    let Ok(rd) = fs::read_dir(&root) else {
        skip(test, "tests/vectors/sip does not exist yet");
        return Vec::new();
    };
    let mut dirs: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let known = known_deviations();
    let mut all: Vec<Vector> = dirs.iter().flat_map(|d| load_dir(test, d)).collect();
    for v in &mut all {
        if let Some(why) = known.get(&v.id).and_then(|w| w.as_str()) {
            v.expect.known = Some(why.to_string());
        }
    }
    all
}

/// True when a stream receiver cannot frame this message reliably.
fn framing_broken(msg: &[u8]) -> bool {
    let Some(end) = msg.windows(4).position(|w| w == b"\r\n\r\n") else {
        return true;
    };
    let head = String::from_utf8_lossy(&msg[..end]);
    let lengths: Vec<&str> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| {
            n.trim().eq_ignore_ascii_case("content-length") || n.trim().eq_ignore_ascii_case("l")
        })
        .map(|(_, v)| v.trim())
        .collect();
    let body = msg.len() - end - 4;
    !(lengths.len() == 1 && lengths[0].parse::<usize>().ok() == Some(body))
}

/// Points the top Via's sent-by at 127.0.0.1:`port` (see the module doc).
/// Returns None when the top Via is not a plain one-line `SIP/2.0/TRANSPORT host[:port]`.
fn rewrite_via(msg: &[u8], port: u16, tag: &str) -> Option<Vec<u8>> {
    let head_end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(msg.len());
    let mut pos = 0;
    while pos < head_end {
        let line_end = msg[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(msg.len(), |i| pos + i);
        let line = &msg[pos..line_end];
        let colon = line.iter().position(|&b| b == b':');
        let is_via = colon.is_some_and(|c| {
            let name = String::from_utf8_lossy(&line[..c]);
            name.trim().eq_ignore_ascii_case("via") || name.trim().eq_ignore_ascii_case("v")
        });
        if is_via {
            let c = colon?;
            let value = std::str::from_utf8(&line[c + 1..]).ok()?;
            let trimmed = value.trim_start();
            // "SIP/2.0/" and a transport token (TCP and TLS Vias are rewritten too)
            if trimmed.len() < 8 || !trimmed[..8].eq_ignore_ascii_case("SIP/2.0/") {
                return None;
            }
            let proto_len = 8 + trimmed[8..].find([' ', '\t']).unwrap_or(trimmed.len() - 8);
            let after = &trimmed[proto_len..];
            let sent_by_start = after.len() - after.trim_start().len();
            if sent_by_start == 0 {
                return None;
            }
            let rest = &after[sent_by_start..];
            let sb_len = rest.find([';', ',', ' ', '\t']).unwrap_or(rest.len());
            let sent_by = &rest[..sb_len];
            let host = if let Some(v6) = sent_by.strip_prefix('[') {
                let h = &v6[..v6.find(']')?];
                let ip: Ipv6Addr = h.parse().ok()?;
                if ip.is_loopback() {
                    format!("[{h}]")
                } else {
                    "[::1]".to_string()
                }
            } else {
                let h = sent_by.split(':').next()?;
                if h.parse::<Ipv4Addr>().is_ok() {
                    "127.0.0.1".to_string()
                } else {
                    h.to_string()
                }
            };
            if host.is_empty() {
                return None;
            }
            let prefix_len = (c + 1) + (value.len() - trimmed.len()) + proto_len + sent_by_start;
            let mut out = msg[..pos + prefix_len].to_vec();
            out.extend_from_slice(format!("{host}:{port}").as_bytes());
            out.extend_from_slice(&unique_branch(
                &msg[pos + prefix_len + sb_len..line_end],
                tag,
            ));
            out.extend_from_slice(&msg[line_end..]);
            return Some(out);
        }
        pos = line_end + 2;
    }
    None
}

/// Appends `-tag` to an RFC 3261 branch (`z9hG4bK` and more) in this Via
/// line's parameters, so vectors that share a branch stay apart. A branch
/// that is the bare cookie or lacks it (RFC 2543 style) is left as it is.
fn unique_branch(params: &[u8], tag: &str) -> Vec<u8> {
    let lower = params.to_ascii_lowercase();
    let Some(at) = lower.windows(8).position(|w| w == b";branch=") else {
        return params.to_vec();
    };
    let start = at + 8;
    let len = params[start..]
        .iter()
        .position(|b| matches!(b, b';' | b',' | b' ' | b'\t'))
        .unwrap_or(params.len() - start);
    let value = &params[start..start + len];
    if len <= 7 || !value[..7].eq_ignore_ascii_case(b"z9hG4bK") {
        return params.to_vec();
    }
    let mut out = params[..start + len].to_vec();
    out.extend_from_slice(format!("-{tag}").as_bytes());
    out.extend_from_slice(&params[start + len..]);
    out
}

/// Status codes of every SIP response in `buf`.
fn status_codes(buf: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(buf);
    text.match_indices("SIP/2.0 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .filter_map(|(i, _)| text.get(i + 8..i + 11)?.parse().ok())
        .collect()
}

fn is_response(msg: &[u8]) -> bool {
    msg.len() >= 8 && msg[..8].eq_ignore_ascii_case(b"SIP/2.0 ")
}

/// Does what came back (the codes seen, in order) match one of `want`?
fn judge(msg: &[u8], codes: &[u16], want: &[Outcome]) -> bool {
    let final_code = codes.iter().copied().find(|c| *c >= 200);
    want.iter().any(|o| match o {
        Outcome::Drop => codes.is_empty(),
        Outcome::Accept if is_response(msg) => codes.is_empty(),
        Outcome::Accept => final_code.is_some_and(|c| c != 400),
        Outcome::Code(c) => final_code == Some(*c),
    })
}

/// How long to listen: until a final answer when one is wanted, else the quiet window.
fn windows(want: &[Outcome]) -> (Duration, bool) {
    let wants_answer = want
        .iter()
        .any(|o| matches!(o, Outcome::Code(_) | Outcome::Accept));
    (
        if wants_answer {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(800)
        },
        wants_answer,
    )
}

fn send_udp(daemon_port: u16, msg: &[u8], want: &[Outcome]) -> Vec<u16> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let port = sock.local_addr().expect("addr").port();
    let (payload, fallback) = match rewrite_via(msg, port, &format!("u{port}")) {
        Some(p) => (p, None),
        None => (msg.to_vec(), UdpSocket::bind("127.0.0.1:5060").ok()),
    };
    sock.send_to(&payload, ("127.0.0.1", daemon_port))
        .expect("udp send");
    let (window, wants_answer) = windows(want);
    let deadline = Instant::now() + window;
    let mut codes = Vec::new();
    let mut buf = vec![0u8; 65536];
    while Instant::now() < deadline {
        for s in std::iter::once(&sock).chain(fallback.as_ref()) {
            let _ = s.set_read_timeout(Some(Duration::from_millis(25)));
            if let Ok(n) = s.recv(&mut buf) {
                codes.extend(status_codes(&buf[..n]));
            }
        }
        if wants_answer && codes.iter().any(|c| *c >= 200) {
            break;
        }
    }
    codes
}

fn send_tcp(daemon_port: u16, msg: &[u8], want: &[Outcome]) -> Vec<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", daemon_port)).expect("tcp connect");
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let port = s.local_addr().expect("addr").port();
    let payload = rewrite_via(msg, port, &format!("t{port}")).unwrap_or_else(|| msg.to_vec());
    if let Err(e) = s.write_all(&payload) {
        // the daemon may close on a message it refuses before reading it all
        eprintln!("interop: tcp write: {e}");
    }
    let (window, wants_answer) = windows(want);
    let deadline = Instant::now() + window;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if wants_answer && status_codes(&got).iter().any(|c| *c >= 200) {
            break;
        }
    }
    status_codes(&got)
}

fn replay(test: &str, tcp: bool) {
    if !need_sipp(test) {
        return;
    }
    let vectors = load_all(test);
    if vectors.is_empty() {
        skip(test, "no torture vectors with expectations");
        return;
    }
    let Some(mut d) = Daemon::start(test, &Config::default()) else {
        return;
    };
    let mut failures = Vec::new();
    let mut sent = 0;
    for v in &vectors {
        let want = if tcp {
            v.expect.tcp.clone()
        } else {
            v.expect.udp.clone()
        };
        let Some(mut want) = want else { continue };
        if !tcp && v.bytes.len() > 65_000 {
            continue;
        }
        if tcp && framing_broken(&v.bytes) && !want.contains(&Outcome::Drop) {
            want.push(Outcome::Drop);
        }
        sent += 1;
        let codes = if tcp {
            send_tcp(d.sip_port, &v.bytes, &want)
        } else {
            send_udp(d.sip_port, &v.bytes, &want)
        };
        let ok = judge(&v.bytes, &codes, &want);
        match (&v.expect.known, ok) {
            (None, true) => {}
            (None, false) => {
                failures.push(format!("  {:<36} wanted {want:?}, got {codes:?}", v.id))
            }
            (Some(why), false) => skip(
                test,
                &format!(
                    "KNOWN DEVIATION {}: wanted {want:?}, got {codes:?} ({why})",
                    v.id
                ),
            ),
            (Some(_), true) => eprintln!(
                "interop: {test}: {} now meets its expectation: remove its `known` note (expect.toml or tests/interop/known_deviations.toml)",
                v.id
            ),
        }
        assert!(
            d.alive(),
            "{test}: daemon died after {}; failures so far:\n{}",
            v.id,
            failures.join("\n")
        );
    }
    eprintln!(
        "interop: {test}: {sent} vectors sent, {} mismatches",
        failures.len()
    );
    assert!(d.alive(), "{test}: daemon died");
    assert!(
        matches!(
            crate::harness::http_get(d.http_port, "/healthz"),
            Some((200, _))
        ),
        "{test}: /healthz not 200 after the torture run"
    );
    let mut call = d.sipp("uac_basic.xml").hold_ms(200);
    if tcp {
        call = call.tcp();
    }
    call.run().assert_ok(1);
    assert!(
        failures.is_empty(),
        "{test}: {} of {sent} vectors answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every vector over UDP, then a SIPp call.
#[test]
fn torture_udp() {
    replay("torture_udp", false);
}

/// Every vector over TCP (one connection each), then a SIPp call over TCP.
#[test]
fn torture_tcp() {
    replay("torture_tcp", true);
}

/// The vector files and their expectations load, without a daemon.
#[test]
fn torture_vectors_load() {
    let root = repo().join("tests/vectors/sip/extra");
    let extra = load_dir("torture_vectors_load", &root);
    assert!(extra.len() >= 15, "only {} extra vectors", extra.len());
    let _ = load_all("torture_vectors_load");
}

#[test]
fn via_rewrite_points_answers_at_us() {
    let m = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let r = String::from_utf8(rewrite_via(m, 4000, "x").expect("rewritten")).expect("utf8");
    assert!(
        r.contains("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKx-x\r\nCSeq: 1 OPTIONS\r\n\r\n"),
        "{r}"
    );
    let m = b"X sip:a@b SIP/2.0\r\nv:SIP/2.0/UDP host.example.com\r\n\r\n";
    let r = String::from_utf8(rewrite_via(m, 4000, "x").expect("rewritten")).expect("utf8");
    assert!(r.contains("v:SIP/2.0/UDP host.example.com:4000\r\n"), "{r}");
    let m = b"X sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8::9]:5070;branch=z\r\n\r\n";
    let r = String::from_utf8(rewrite_via(m, 4000, "x").expect("rewritten")).expect("utf8");
    assert!(
        r.contains("Via: SIP/2.0/UDP [::1]:4000;branch=z\r\n"),
        "{r}"
    );
    // the bare cookie (RFC 4475 badbranch) keeps its meaning
    let m = b"X sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;BRANCH=z9hG4bK;rport\r\n\r\n";
    let r = String::from_utf8(rewrite_via(m, 4000, "x").expect("rewritten")).expect("utf8");
    assert!(r.contains("127.0.0.1:4000;BRANCH=z9hG4bK;rport\r\n"), "{r}");
    assert!(rewrite_via(
        b"X sip:a@b SIP/2.0\r\nVia  : SIP  /   2.0\r\n /UDP\r\n h\r\n\r\n",
        1,
        "x"
    )
    .is_none());
}

#[test]
fn judging_and_framing() {
    assert_eq!(
        status_codes(b"SIP/2.0 100 Trying\r\n\r\nSIP/2.0 404 Not Found\r\n\r\n"),
        vec![100, 404]
    );
    let inv = b"INVITE sip:x SIP/2.0\r\n\r\n";
    assert!(judge(inv, &[100, 404], &[Outcome::Accept]));
    assert!(!judge(inv, &[400], &[Outcome::Accept]));
    assert!(!judge(inv, &[100], &[Outcome::Code(404)]));
    assert!(judge(inv, &[], &[Outcome::Code(400), Outcome::Drop]));
    assert!(judge(b"SIP/2.0 200 OK\r\n\r\n", &[], &[Outcome::Accept]));
    assert!(framing_broken(b"A\r\nContent-Length: 5\r\n\r\nabc"));
    assert!(!framing_broken(b"A\r\nl: 3\r\n\r\nabc"));
    assert!(framing_broken(b"A\r\nContent-Length: -1\r\n\r\n"));
    assert_eq!(normalize(b"A\nB\r\n\n"), b"A\r\nB\r\n\r\n".to_vec());
}
