//! The thin tokio driver of one simulated call: a SIP and an RTP UDP socket
//! around [`Device`]. It reads the clock, sends what the core hands back,
//! and sleeps until the core's next deadline; all behaviour is in the core.

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

use super::args::DeviceConfig;
use super::device::{Device, DeviceSetup, Output};
use super::report::CallReport;
use super::SimError;
use crate::clock;

/// Pause after a failed receive (ICMP port unreachable when the far end died).
const RECV_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// Where one call runs and with which seed.
#[derive(Debug, Clone)]
pub struct CallPlan {
    /// The resolved target.
    pub server: SocketAddr,
    /// The local IP to bind both sockets to (port 0: any free port).
    pub local_ip: IpAddr,
    /// Seed of this call.
    pub seed: u64,
    /// Index in the run.
    pub index: u32,
}

/// Runs one call to its end and returns its report.
pub async fn run_call(config: &DeviceConfig, plan: &CallPlan) -> Result<CallReport, SimError> {
    let bind = |what: &'static str| async move {
        UdpSocket::bind(SocketAddr::new(plan.local_ip, 0))
            .await
            .map_err(|e| SimError::io(format!("binding the {what} socket"), e))
    };
    let (sip, rtp) = (bind("SIP").await?, bind("RTP").await?);
    let addr = |s: &UdpSocket| s.local_addr().map_err(|e| SimError::io("local address", e));
    let setup = DeviceSetup {
        config: config.clone(),
        local_sip: addr(&sip)?,
        local_rtp: addr(&rtp)?,
        server: plan.server,
        seed: plan.seed,
        index: plan.index,
    };
    let mut device = Device::new(clock::now(), setup)?;
    let (mut sip_buf, mut rtp_buf) = (vec![0u8; 65_535], vec![0u8; 2048]);
    loop {
        send_outputs(&mut device, &sip, &rtp).await;
        let Some(deadline) = device.poll_timeout() else {
            break;
        };
        tokio::select! {
            r = sip.recv_from(&mut sip_buf) => match r {
                Ok((n, from)) => device.handle_sip(clock::now(), from, sip_buf.get(..n).unwrap_or_default()),
                // An ICMP error (the far end is gone) would come back at once, forever.
                Err(_) => tokio::time::sleep(RECV_ERROR_PAUSE).await,
            },
            r = rtp.recv_from(&mut rtp_buf) => match r {
                Ok((n, from)) => device.handle_rtp(clock::now(), from, rtp_buf.get(..n).unwrap_or_default()),
                Err(_) => tokio::time::sleep(RECV_ERROR_PAUSE).await,
            },
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
        // Timers run even while datagrams keep arriving.
        let now = clock::now();
        if device.poll_timeout().is_some_and(|d| d <= now) {
            device.handle_timeout(now);
        }
    }
    send_outputs(&mut device, &sip, &rtp).await;
    Ok(device.report())
}

/// Sends every pending datagram; UDP send errors are ignored (a lost
/// datagram is what the transaction layer's retransmissions are for).
async fn send_outputs(device: &mut Device, sip: &UdpSocket, rtp: &UdpSocket) {
    while let Some(out) = device.poll_output() {
        let _ = match out {
            Output::Sip { to, data } => sip.send_to(&data, to).await,
            Output::Rtp { to, data } => rtp.send_to(&data, to).await,
        };
    }
}

/// The local address the system would use to reach `server`.
pub fn route_ip(server: SocketAddr) -> Result<IpAddr, SimError> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).map_err(|e| SimError::io("route probe", e))?;
    probe
        .connect(server)
        .and_then(|_| probe.local_addr())
        .map(|a| a.ip())
        .map_err(|e| SimError::io(format!("no route to {server}"), e))
}
