//! RTP sockets bound when the call core draws a port, before its answer
//! names it: a port another process holds is refused there and the core
//! draws another (it used to end the call with `media_failed` once the
//! media worker failed to bind it). The media worker takes the bound
//! socket when the leg's media starts.

use crate::call::ports::PortCheck;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

/// The sockets bound for drawn ports, shared by the call core (through
/// [`PortCheck`]) and the media workers.
#[derive(Debug, Clone)]
pub struct RtpSockets {
    ip: IpAddr,
    bound: Arc<Mutex<HashMap<u16, UdpSocket>>>,
}

impl RtpSockets {
    /// Binds RTP ports on `ip`.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            bound: Arc::default(),
        }
    }

    /// The socket bound for `port`, if the core reserved it.
    pub fn take(&self, port: u16) -> Option<UdpSocket> {
        self.lock().remove(&port)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u16, UdpSocket>> {
        self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `ip:port`, non-blocking.
    pub fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
}

impl PortCheck for RtpSockets {
    fn reserve(&mut self, port: u16) -> bool {
        match Self::bind(self.ip, port) {
            Ok(socket) => {
                self.lock().insert(port, socket);
                true
            }
            Err(err) => {
                tracing::warn!(port, %err, "cannot bind RTP port");
                false
            }
        }
    }

    fn release(&mut self, port: u16) {
        self.lock().remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_held_elsewhere_is_refused_and_a_reserved_one_handed_over() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let holder = UdpSocket::bind((ip, 0)).expect("loopback");
        let held = holder.local_addr().expect("bound").port();
        let mut sockets = RtpSockets::new(ip);
        assert!(!sockets.reserve(held), "held by another socket");
        let free = UdpSocket::bind((ip, 0)).expect("loopback");
        let port = free.local_addr().expect("bound").port();
        drop(free);
        assert!(sockets.reserve(port));
        let socket = sockets.take(port).expect("handed over");
        assert_eq!(socket.local_addr().map(|a| a.port()).ok(), Some(port));
        assert!(sockets.take(port).is_none(), "once");
        drop(socket);
        assert!(sockets.reserve(port));
        sockets.release(port);
        assert!(sockets.take(port).is_none(), "released");
    }
}
