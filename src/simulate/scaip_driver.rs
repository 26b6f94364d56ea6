//! The tokio driver of `alarmgate simulate scaip`: one UDP socket or TCP
//! connection to the centre around a [`ScaipUnit`]. Each message waits for
//! its final status and its `<mrs>` (or `--timeout-s`) before the next;
//! UDP MESSAGEs are sent again every 500 ms until a final status.

// A driver: it draws the run's random `ref` prefix (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::scaip::{Outcome, ScaipArgs, ScaipMode, ScaipTransport, ScaipUnit, UDP_RETRANSMIT};
use super::SimError;
use crate::clock;
use crate::sip::framing::{Frame, FramingLimits, StreamFramer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The most messages one run sends.
pub const MAX_COUNT: u32 = 100_000;

enum Link {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, StreamFramer),
}

impl Link {
    async fn send(&mut self, text: &str) -> Result<(), SimError> {
        let r = match self {
            Link::Udp(s, to) => s.send_to(text.as_bytes(), *to).await.map(|_| ()),
            Link::Tcp(s, _) => s.write_all(text.as_bytes()).await,
        };
        r.map_err(|e| SimError::io("send", e))
    }

    /// The next message received, or None after `wait`.
    async fn recv(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, SimError> {
        let mut buf = vec![0u8; 65_536];
        match self {
            Link::Udp(s, _) => match tokio::time::timeout(wait, s.recv_from(&mut buf)).await {
                Ok(Ok((n, _))) => Ok(buf.get(..n).map(<[u8]>::to_vec)),
                Ok(Err(e)) => Err(SimError::io("receive", e)),
                Err(_) => Ok(None),
            },
            Link::Tcp(s, framer) => loop {
                if let Ok(Some(Frame::Message(m))) = framer.next_frame() {
                    return Ok(Some(m.to_vec()));
                }
                match tokio::time::timeout(wait, s.read(&mut buf)).await {
                    Ok(Ok(0)) => return Ok(None),
                    Ok(Ok(n)) => framer.push(buf.get(..n).unwrap_or_default()),
                    Ok(Err(e)) => return Err(SimError::io("receive", e)),
                    Err(_) => return Ok(None),
                }
            },
        }
    }
}

async fn connect(args: &ScaipArgs) -> Result<(Link, String), SimError> {
    let (host, port) = super::uac::target_host_port(&args.target)?;
    let server = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SimError::io(format!("resolving {host}"), e))?
        .next()
        .ok_or_else(|| SimError::InvalidTarget {
            target: args.target.clone(),
            reason: "no address".into(),
        })?;
    let local_any = SocketAddr::new(super::driver::route_ip(server)?, 0);
    match args.transport {
        ScaipTransport::Udp => {
            let s = UdpSocket::bind(local_any)
                .await
                .map_err(|e| SimError::io("bind", e))?;
            let local = s.local_addr().map_err(|e| SimError::io("bind", e))?;
            Ok((Link::Udp(s, server), local.to_string()))
        }
        ScaipTransport::Tcp => {
            let s = TcpStream::connect(server)
                .await
                .map_err(|e| SimError::io("connect", e))?;
            let local = s.local_addr().map_err(|e| SimError::io("connect", e))?;
            let framer = StreamFramer::new(FramingLimits::default());
            Ok((Link::Tcp(s, framer), local.to_string()))
        }
    }
}

/// Sends the messages `args` asks for; one outcome per message, in order.
pub async fn run_scaip(args: ScaipArgs) -> Result<Vec<Outcome>, SimError> {
    let count = match args.mode {
        ScaipMode::Burst => args.count.clamp(1, MAX_COUNT),
        _ => 1,
    };
    let (mut link, local) = connect(&args).await?;
    let timeout = Duration::from_secs(args.timeout_s.clamp(1, 600));
    let udp = matches!(args.transport, ScaipTransport::Udp);
    let mut unit = ScaipUnit::new(args, local, rand::random());
    let mut outcomes = Vec::new();
    for _ in 0..count {
        let (reference, body) = unit.next_body();
        let text = unit.message(clock::now(), &reference, &body);
        link.send(&text).await?;
        let deadline = clock::now() + timeout;
        let mut resend = clock::now() + UDP_RETRANSMIT;
        while !unit.outcome(&reference).is_some_and(Outcome::done) && clock::now() < deadline {
            let unanswered = unit.outcome(&reference).is_some_and(|o| o.status.is_none());
            if udp && unanswered && clock::now() >= resend {
                link.send(&text).await?;
                resend = clock::now() + UDP_RETRANSMIT;
            }
            if let Some(bytes) = link.recv(Duration::from_millis(100)).await? {
                if let Some(answer) = unit.receive(clock::now(), &bytes) {
                    link.send(&answer).await?;
                }
            }
        }
        outcomes.extend(unit.outcome(&reference).cloned());
    }
    Ok(outcomes)
}
