//! DC-09 and the journal: no ACK for what is not durable, nothing ACKed lost.
//!
//! - The journal's disk full: a DC-09 alarm over TCP and over UDP gets no
//!   answer at all (the unit retries, then fails over); once space is back
//!   the unit's retry is stored and ACKed.
//! - SIGKILL in the middle of a bounded burst of DC-09 alarms on four TCP
//!   connections: every alarm that got its ACK is in the journal afterwards,
//!   and the node restarts on that journal.

use crate::dc09::{dc09_config, frame, now_ts, tcp_exchange, text};
use crate::harness::{free_port, journal_records, poll_until, skip, Daemon, TestDir};
use crate::storage::TinyFs;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn dc09_alarms(journal: &std::path::Path) -> Vec<serde_json::Value> {
    journal_records(journal)
        .into_iter()
        .filter(|r| r["type"] == "alarmgate.alarm.received" && r["data"]["protocol"] == "dc09")
        .collect()
}

#[test]
fn dc09_full_disk_means_no_ack_and_the_retry_is_stored() {
    const TEST: &str = "dc09_full_disk_means_no_ack_and_the_retry_is_stored";
    let Some(tiny) = TinyFs::mount(1024) else {
        return skip(TEST, "cannot mount a tmpfs here");
    };
    let journal = tiny.path.join("journal");
    let port = free_port();
    let Some(d) = Daemon::start(TEST, &dc09_config(port, Some(&journal))) else {
        return;
    };
    tiny.fill();
    let alarm = |seq: u32| {
        frame(&format!(
            "\"ADM-CID\"{seq:04}L1#1001[#1001|1101 01 001]_{}",
            now_ts()
        ))
    };
    let quiet = Duration::from_secs(4);
    let reply = tcp_exchange(port, &alarm(1), quiet);
    assert_eq!(reply, None, "ACK without storage: {}", text(&reply));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(quiet)).unwrap();
    udp.send_to(&alarm(2), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 512];
    assert!(udp.recv_from(&mut buf).is_err(), "UDP ACK without storage");
    assert!(
        d.metric(
            "alarmgate_dc09_frames_total",
            &[("outcome", "store_failed")]
        )
        .unwrap_or(0.0)
            >= 2.0
    );
    tiny.empty();
    // The unit retries until the journal has healed.
    let mut acked = None;
    let healed = poll_until(Duration::from_secs(60), || {
        acked = tcp_exchange(port, &alarm(1), Duration::from_secs(3));
        acked.is_some()
    });
    assert!(healed, "no ACK after the disk had space again");
    assert!(
        text(&acked).contains("\"ACK\"0001L1#1001[]"),
        "{}",
        text(&acked)
    );
    let stored = dc09_alarms(&journal);
    assert!(
        stored
            .iter()
            .any(|r| r["data"]["dc09"]["sequence"] == "0001"),
        "{stored:#?}"
    );
}

/// One connection's share of the burst: the sequence numbers it got ACKs for.
fn sender(
    port: u16,
    first: u32,
    count: u32,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<u32>>>,
) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 256];
    for seq in first..first + count {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let zone = seq % 1000;
        let f = frame(&format!(
            "\"ADM-CID\"{seq:04}L1#1001[#1001|1602 00 {zone:03}]_{}",
            now_ts()
        ));
        if s.write_all(&f).is_err() {
            return;
        }
        match s.read(&mut buf) {
            Ok(n) if n > 0 && buf[..n].windows(5).any(|w| w == b"\"ACK\"") => {
                if let Ok(mut a) = acked.lock() {
                    a.insert(seq);
                }
            }
            _ => return,
        }
    }
}

#[test]
fn dc09_sigkill_mid_burst_loses_no_acknowledged_message() {
    const TEST: &str = "dc09_sigkill_mid_burst_loses_no_acknowledged_message";
    let dir = TestDir::new(TEST);
    let journal = dir.path.join("journal");
    let port = free_port();
    let cfg = dc09_config(port, Some(&journal));
    let Some(d) = Daemon::start(TEST, &cfg) else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let senders: Vec<_> = (0..4u32)
        .map(|t| {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || sender(port, 1 + t * 1000, 900, stop, acked))
        })
        .collect();
    let going = poll_until(Duration::from_secs(60), || {
        acked.lock().map_or(0, |a| a.len()) >= 200
    });
    drop(d); // SIGKILL, mid-burst
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.join();
    }
    assert!(going, "the burst did not get going");
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    let stored: HashSet<u32> = dc09_alarms(&journal)
        .iter()
        .filter_map(|r| r["data"]["dc09"]["sequence"].as_str()?.parse().ok())
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "ACKed but not in the journal: {lost:?}");
    assert!(
        acked.len() < 3600,
        "the kill came after the burst: {}",
        acked.len()
    );
    let d = Daemon::start(TEST, &cfg).expect("restart after SIGKILL");
    let again = tcp_exchange(
        port,
        &frame(&format!("\"NULL\"0001L1#1001[]_{}", now_ts())),
        Duration::from_secs(10),
    );
    assert!(text(&again).contains("\"ACK\""), "{}", text(&again));
    drop(d);
}
