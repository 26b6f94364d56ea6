//! Three nats-server processes as a JetStream cluster on loopback (issue 13):
//! free client, cluster and monitoring ports, one store dir each in a test
//! dir, `--cluster_name`, `--routes` to all three, server names `n0..n2`.
//! [`NatsCluster::start`] returns once the JetStream meta leader exists and
//! an R3 stream can be created (bounded polling). One server at a time can
//! be SIGKILLed, SIGSTOPped, continued and restarted (same ports and store).
//! Dropping the cluster SIGKILLs every server and removes the test dir.

use super::{free_port, http_get, poll_until, port_bound, repo, skip, TestDir};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh cluster may take to elect its meta leader and accept an
/// R3 stream on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The nats-server binary: `ALARMGATE_NATS_SERVER`, `.venv/bin` or `PATH`.
pub fn nats_server_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ALARMGATE_NATS_SERVER").map(PathBuf::from),
        Some(repo().join(".venv/bin/nats-server")),
        Some(PathBuf::from("nats-server")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

struct Server {
    name: String,
    client_port: u16,
    cluster_port: u16,
    http_port: u16,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A running three-server JetStream cluster.
pub struct NatsCluster {
    bin: PathBuf,
    servers: Vec<Server>,
    routes: String,
    /// The test dir holding stores and logs (removed on drop, after the servers).
    _dir: TestDir,
}

impl NatsCluster {
    /// Starts three servers and waits until JetStream is usable; `None` (a
    /// SKIP) without nats-server, a failure under `ALARMGATE_REQUIRE_PEERS=1`.
    pub fn start(test: &str) -> Option<NatsCluster> {
        let Some(bin) = nats_server_binary() else {
            assert!(
                std::env::var("ALARMGATE_REQUIRE_PEERS").as_deref() != Ok("1"),
                "{test}: nats-server not found and ALARMGATE_REQUIRE_PEERS=1"
            );
            skip(test, "nats-server not installed (run tests/run.sh)");
            return None;
        };
        let dir = TestDir::new(test);
        let servers: Vec<Server> = (0..3)
            .map(|i| Server {
                name: format!("n{i}"),
                client_port: free_port(),
                cluster_port: free_port(),
                http_port: free_port(),
                store: dir.path.join(format!("store-n{i}")),
                log: dir.path.join(format!("nats-n{i}.log")),
                child: None,
            })
            .collect();
        let routes = servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = NatsCluster {
            bin,
            servers,
            routes,
            _dir: dir,
        };
        for i in 0..3 {
            cluster.spawn(i);
        }
        cluster.wait_ready(READY_WITHIN);
        Some(cluster)
    }

    fn spawn(&mut self, i: usize) {
        let s = &self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .expect("nats log");
        let err = log.try_clone().expect("dup log");
        let child = Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &s.client_port.to_string()])
            .args(["--server_name", &s.name, "--cluster_name", "agtest"])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", s.cluster_port)])
            .args(["--routes", &self.routes])
            .args(["-m", &s.http_port.to_string()])
            .arg("-sd")
            .arg(&s.store)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn nats-server");
        let port = s.client_port;
        self.servers[i].child = Some(child);
        assert!(
            poll_until(Duration::from_secs(30), || port_bound(port, true)),
            "nats-server n{i} did not listen on {port}:\n{}",
            self.log(i)
        );
    }

    /// Every server's client URL (for a client's server list).
    pub fn urls(&self) -> Vec<String> {
        (0..self.servers.len()).map(|i| self.url(i)).collect()
    }

    /// Server `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].client_port)
    }

    /// Server `i`'s log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.servers[i].log).unwrap_or_default()
    }

    fn signal(&self, i: usize, sig: &str) {
        if let Some(child) = &self.servers[i].child {
            let _ = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status();
        }
    }

    /// SIGKILLs server `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes server `i` (SIGSTOP): its sockets stay open, it answers nothing.
    pub fn stop(&self, i: usize) {
        self.signal(i, "-STOP");
    }

    /// Thaws server `i` (SIGCONT).
    pub fn cont(&self, i: usize) {
        self.signal(i, "-CONT");
    }

    /// Starts server `i` again (after [`Self::kill`]) on its ports and store.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        let port = self.servers[i].client_port;
        assert!(
            poll_until(Duration::from_secs(10), || !port_bound(port, true)),
            "port {port} still bound after killing n{i}"
        );
        self.spawn(i);
    }

    /// True when server `i`'s monitoring endpoint names a JetStream meta
    /// leader of a three-server cluster.
    pub fn has_meta_leader(&self, i: usize) -> bool {
        let Some((200, body)) = http_get(self.servers[i].http_port, "/jsz") else {
            return false;
        };
        let Ok(jsz) = serde_json::from_str::<serde_json::Value>(&body) else {
            return false;
        };
        let meta = &jsz["meta_cluster"];
        meta["leader"].as_str().is_some_and(|l| !l.is_empty())
            && meta["cluster_size"].as_u64() == Some(3)
    }

    /// Polls until a meta leader exists and an R3 stream can be created (and
    /// deleted again); panics with the servers' logs after `within`.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let leader = poll_until(within, || (0..3).any(|i| self.has_meta_leader(i)));
        assert!(leader, "no JetStream meta leader:\n{}", self.logs());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let urls = self.urls();
        let created = rt.block_on(async {
            while Instant::now() < deadline {
                if try_r3_stream(&urls).await.is_ok() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        });
        assert!(created, "no R3 stream could be created:\n{}", self.logs());
    }

    /// Every server's log, for a failure message.
    pub fn logs(&self) -> String {
        (0..self.servers.len())
            .map(|i| format!("--- n{i}\n{}", self.log(i)))
            .collect()
    }
}

async fn try_r3_stream(urls: &[String]) -> Result<(), String> {
    let client = async_nats::connect(urls).await.map_err(|e| e.to_string())?;
    let js = async_nats::jetstream::new(client);
    let config = async_nats::jetstream::stream::Config {
        name: "HARNESS_READY".into(),
        subjects: vec!["harness.ready".into()],
        num_replicas: 3,
        ..Default::default()
    };
    let work = async {
        js.get_or_create_stream(config)
            .await
            .map_err(|e| e.to_string())?;
        js.delete_stream("HARNESS_READY")
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "timed out".to_owned())?
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}
