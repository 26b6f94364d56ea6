//! The bus acknowledging slowly: a TCP proxy written here (tokio, loopback
//! only) sits between the daemon and a real nats-server and holds every
//! server-to-client byte for [`DELAY`], so each JetStream ack arrives two
//! seconds after its publish (the publishes themselves pass at once).
//! Alarm calls go on meanwhile and must not notice: every message is
//! acknowledged to the unit on its first attempt, within the unit's window;
//! the backlog rises while acks are late and drains afterwards; every
//! event is in the stream exactly once, in journal order.

use super::{
    acknowledged, assert_stream_matches_journal, count, need_nats, simulate, wait_drained, Nats,
    STREAM,
};
use crate::harness::{poll_until, Config, Daemon, TestDir};
use alarmgate::telemetry::metrics as m;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// How long the proxy holds the server's bytes.
const DELAY: Duration = Duration::from_millis(2000);

/// A loopback TCP proxy to `127.0.0.1:upstream` that passes client bytes at
/// once and delivers server bytes `delay` after they arrived, in order.
/// Runs on its own thread and runtime; dropping it closes every connection.
struct SlowProxy {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowProxy {
    fn start(upstream: u16, delay: Duration) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("proxy addr").port();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("proxy listener");
                let accept = async {
                    while let Ok((client, _)) = listener.accept().await {
                        tokio::spawn(relay(client, upstream, delay));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: client → server as it comes; server → client held back.
async fn relay(client: TcpStream, upstream: u16, delay: Duration) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let (held_tx, mut held_rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let up = async move {
        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
        let _ = server_tx.shutdown().await;
    };
    let hold = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = server_rx.read(&mut buf).await {
            let due = tokio::time::Instant::now() + delay;
            if n == 0 || held_tx.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let down = async move {
        while let Some((due, bytes)) = held_rx.recv().await {
            tokio::time::sleep_until(due).await;
            if client_tx.write_all(&bytes).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, hold, down);
}

#[test]
fn bus_acking_slowly_never_delays_kissoffs_and_every_alarm_arrives_once() {
    let test = "bus_acking_slowly_never_delays_kissoffs_and_every_alarm_arrives_once";
    let Some(bin) = need_nats(test) else { return };
    let dir = TestDir::new(test);
    let nats = Nats::start(bin, &dir.path);
    let proxy = SlowProxy::start(nats.port, DELAY);
    let journal = dir.path.join("journal");
    // ack_timeout above the delay: late acks are waited for, not retried
    let cfg = Config {
        extra: format!(
            "[alarm]\njournal_dir = \"{}\"\n\n[bus]\nurl = \"nats://127.0.0.1:{}\"\nstream = \"{STREAM}\"\nack_timeout_ms = 6000\nretry_initial_ms = 100\nretry_max_ms = 1000\n",
            journal.display(),
            proxy.port
        ),
        ..Config::default()
    };
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    assert!(
        poll_until(Duration::from_secs(30), || d.metric(m::BUS_UP, &[])
            == Some(1.0)),
        "the forwarder did not get through the proxy"
    );
    let msgs = ["1234 18 1 602 00 000", "1234 18 1 131 01 004"];
    let mut sim = simulate(&d, 6, 2.0, &msgs)
        .args(["--attempts", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate");
    // the backlog while the calls run (bounded: the simulator's end or 120 s)
    let (mut max_backlog, deadline) = (0.0f64, Instant::now() + Duration::from_secs(120));
    while sim.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        max_backlog = max_backlog.max(d.metric(m::BUS_BACKLOG, &[]).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = sim.wait_with_output().expect("simulator output");
    assert!(
        out.status.success(),
        "every message acknowledged first time: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(acknowledged(&out), 12);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    for msg in report["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["messages"].as_array().into_iter().flatten())
    {
        assert_eq!(msg["attempts"], 1, "{msg}");
        let after = msg["last_digit_to_kissoff_ms"].as_f64().unwrap_or(f64::MAX);
        assert!(after < 1250.0, "kissoff within the unit's window: {msg}");
    }
    assert_eq!(d.metric(m::ALARMS_WITHHELD, &[]).unwrap_or(0.0), 0.0);
    assert!(
        max_backlog >= 2.0,
        "the backlog rose while acks were late: {max_backlog}"
    );
    assert!(
        wait_drained(&d, &journal, Duration::from_secs(60)),
        "the backlog drained"
    );
    // the acks really were late: every publish waited for the proxy's delay
    let metrics = d.metrics();
    let sum = crate::harness::metric_sum(&metrics, &format!("{}_sum", m::BUS_ACK_SECONDS), &[]);
    let n = crate::harness::metric_sum(&metrics, &format!("{}_count", m::BUS_ACK_SECONDS), &[]);
    let mean = sum.zip(n).map(|(s, n)| s / n.max(1.0)).unwrap_or(0.0);
    assert!(mean >= DELAY.as_secs_f64() * 0.9, "mean ack wait {mean} s");
    // read the stream straight from the server, not through the proxy
    assert_stream_matches_journal(&nats.url(), &journal);
    assert_eq!(count(&journal, "alarm.received"), 12);
    assert_eq!(d.metric(m::BUS_DUPLICATES, &[]).unwrap_or(0.0), 0.0);
    drop(proxy);
}
