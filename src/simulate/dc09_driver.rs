//! The sockets of `alarmgate simulate dc09`: blocking std TCP (one
//! connection, frames in order) or UDP (one datagram per frame), one answer
//! awaited per frame with a timeout. Reads the clock and draws the pad.

// A driver: it reads the clock and draws random pads (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::dc09::{as_expected, read_answer, Answer, Dc09Args, Dc09SimError, Expect};
use crate::dc09::crypto::{Key, KeyFormat};

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum Dc09RunError {
    /// Bad options.
    #[error(transparent)]
    Options(#[from] Dc09SimError),
    /// The receiver address, the connection or a send failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One frame's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dc09Result {
    /// Sequence number sent.
    pub seq: u16,
    /// The answer wanted.
    pub expect: Expect,
    /// The answer got.
    pub answer: Answer,
    /// From send to answer (or to the timeout).
    pub round_trip_ms: f64,
    /// `answer` is what `expect` wanted.
    pub as_expected: bool,
}

/// Every frame's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dc09Report {
    /// In order.
    pub messages: Vec<Dc09Result>,
    /// All as expected.
    pub all_as_expected: bool,
}

impl fmt::Display for Dc09Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.messages {
            let mark = if m.as_expected { "ok" } else { "UNEXPECTED" };
            let time = m
                .answer
                .receiver_time
                .as_deref()
                .map(|t| format!(", receiver time {t}"))
                .unwrap_or_default();
            writeln!(
                f,
                "seq {:04}: expected {:?}, got {} in {:.1} ms{time}: {mark}",
                m.seq, m.expect, m.answer.kind, m.round_trip_ms
            )?;
        }
        let ok = self.messages.iter().filter(|m| m.as_expected).count();
        write!(f, "{ok}/{} answered as expected", self.messages.len())
    }
}

enum Link {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Dc09RunError {
    let what = what.into();
    move |source| Dc09RunError::Io { what, source }
}

impl Link {
    fn open(args: &Dc09Args, timeout: Duration) -> Result<Self, Dc09RunError> {
        let addr = args
            .to
            .to_socket_addrs()
            .map_err(io(format!("resolve {}", args.to)))?
            .next()
            .ok_or_else(|| {
                io(format!("resolve {}", args.to))(std::io::ErrorKind::NotFound.into())
            })?;
        if args.udp {
            let bind = if addr.is_ipv6() {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind).map_err(io("bind"))?;
            s.connect(addr).map_err(io(format!("connect {addr}")))?;
            s.set_read_timeout(Some(timeout)).map_err(io("timeout"))?;
            return Ok(Link::Udp(s));
        }
        let s =
            TcpStream::connect_timeout(&addr, timeout).map_err(io(format!("connect {addr}")))?;
        s.set_read_timeout(Some(timeout)).map_err(io("timeout"))?;
        Ok(Link::Tcp(s))
    }

    /// Sends `frame`; the answer, or None on timeout or a closed connection.
    fn exchange(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, Dc09RunError> {
        let mut buf = vec![0u8; 4200];
        let n = match self {
            Link::Tcp(s) => {
                s.write_all(frame).map_err(io("send"))?;
                s.read(&mut buf).ok().filter(|n| *n > 0)
            }
            Link::Udp(s) => {
                s.send(frame).map_err(io("send"))?;
                s.recv(&mut buf).ok()
            }
        };
        Ok(n.map(|n| buf[..n].to_vec()))
    }
}

/// Runs the scenario.
pub fn run_dc09(args: &Dc09Args) -> Result<Dc09Report, Dc09RunError> {
    let now = crate::clock::wall()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let plan = args.plan(now, rand::random())?;
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut link = Link::open(args, timeout)?;
    let format = if matches!(args.key_format, super::dc09::KeyFormatArg::Hex) {
        KeyFormat::Hex
    } else {
        KeyFormat::Ascii
    };
    let key = args.key.as_deref().and_then(|k| Key::parse(k, format).ok());
    let mut messages = Vec::new();
    for p in plan {
        let sent = Instant::now();
        let reply = link.exchange(&p.bytes)?;
        let answer = read_answer(reply.as_deref(), key.as_ref());
        messages.push(Dc09Result {
            seq: p.seq,
            expect: p.expect,
            as_expected: as_expected(p.expect, &answer),
            answer,
            round_trip_ms: sent.elapsed().as_secs_f64() * 1000.0,
        });
        if reply.is_none() && !args.udp {
            // A TCP receiver that stayed silent may have closed: reconnect.
            link = Link::open(args, timeout)?;
        }
    }
    let all_as_expected = messages.iter().all(|m| m.as_expected);
    Ok(Dc09Report {
        messages,
        all_as_expected,
    })
}
