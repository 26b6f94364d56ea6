//! An operator's softphone for the tests: `tests/peers/pj_operator.py`
//! (pjsua2) as a child process, commanded with JSON lines on its stdin, its
//! JSON event lines collected by a reader thread. Every wait polls the
//! collected events against a deadline; the process is killed on drop, and
//! its output printed when the test fails.

use crate::harness::{free_port, free_udp_block, poll_until, python, repo};
use serde_json::{json, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How a softphone starts (see the script's --help for each flag).
#[derive(Debug, Clone)]
pub struct PhoneOpts {
    /// Operator id = digest user name.
    pub id: String,
    pub password: String,
    /// Digest realm; `*` answers any challenge.
    pub realm: String,
    /// `sip:127.0.0.1:PORT`; None: no registrar (peer-to-peer calls only).
    pub registrar: Option<String>,
    /// REGISTER at start (else on [`Softphone::register`]).
    pub register: bool,
    pub expires: u32,
    /// answer | decline | busy | ring
    pub on_incoming: String,
    pub answer_after_ms: u64,
    pub hangup_after_ms: Option<u64>,
    /// Tone played into connected calls (0: silence).
    pub tone_hz: f64,
    /// Frequencies measured on the received audio.
    pub measure: Vec<f64>,
    /// Hard bound on the process's life.
    pub lifetime_s: u64,
    /// Its SIP port (None: a free one), for a phone the config must name
    /// before it runs (an overflow target).
    pub sip_port: Option<u16>,
    /// Also listen for SIP over TLS: (port, certificate PEM, key PEM).
    pub tls: Option<(u16, PathBuf, PathBuf)>,
    /// With `tls`: require a client certificate this CA (PEM) signed.
    pub tls_client_ca: Option<PathBuf>,
}

impl PhoneOpts {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            password: format!("secret-{id}"),
            realm: "*".into(),
            registrar: None,
            register: false,
            expires: 60,
            on_incoming: "answer".into(),
            answer_after_ms: 300,
            hangup_after_ms: None,
            tone_hz: 0.0,
            measure: Vec::new(),
            lifetime_s: 240,
            sip_port: None,
            tls: None,
            tls_client_ca: None,
        }
    }

    fn args(&self, sip_port: u16, rtp_port: u16) -> Vec<String> {
        let mut a: Vec<String> = [
            "--id",
            &self.id,
            "--password",
            &self.password,
            "--realm",
            &self.realm,
            "--local-port",
            &sip_port.to_string(),
            "--rtp-port",
            &rtp_port.to_string(),
            "--expires",
            &self.expires.to_string(),
            "--on-incoming",
            &self.on_incoming,
            "--answer-after-ms",
            &self.answer_after_ms.to_string(),
            "--tone-hz",
            &self.tone_hz.to_string(),
            "--lifetime",
            &self.lifetime_s.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let freqs: Vec<String> = self.measure.iter().map(|f| f.to_string()).collect();
        a.extend(["--measure".into(), freqs.join(",")]);
        if let Some(ms) = self.hangup_after_ms {
            a.extend(["--hangup-after-ms".into(), ms.to_string()]);
        }
        if let Some(r) = &self.registrar {
            a.extend(["--registrar".into(), r.clone()]);
        }
        if self.register {
            a.push("--register".into());
        }
        if let Some((port, cert, key)) = &self.tls {
            a.extend(["--tls-port".into(), port.to_string()]);
            a.extend(["--tls-cert".into(), cert.display().to_string()]);
            a.extend(["--tls-key".into(), key.display().to_string()]);
        }
        if let Some(ca) = &self.tls_client_ca {
            a.extend(["--tls-client-ca".into(), ca.display().to_string()]);
        }
        a
    }
}

/// A running `pj_operator.py`.
pub struct Softphone {
    pub id: String,
    /// Its SIP (UDP) port on 127.0.0.1.
    pub sip_port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Arc<Mutex<Vec<Value>>>,
    out: PathBuf,
    reader: Option<JoinHandle<()>>,
}

/// Matches an event by name and fields: `is(e, "state", &[("state", json!("CONFIRMED"))])`.
pub fn is(e: &Value, ev: &str, fields: &[(&str, Value)]) -> bool {
    e["ev"] == ev && fields.iter().all(|(k, v)| &e[*k] == v)
}

impl Softphone {
    /// Starts the softphone in `dir` and waits (20 s) for its `ready` line.
    pub fn spawn(dir: &Path, opts: &PhoneOpts) -> Softphone {
        let py = python().expect("pjsua2 python (call need_pjsua2 first)");
        let sip_port = opts.sip_port.unwrap_or_else(free_port);
        let rtp_port = free_udp_block(20);
        let out = dir.join(format!("pj_operator-{}-{sip_port}.txt", opts.id));
        let err = fs::File::create(dir.join(format!("pj_operator-{}-{sip_port}.err", opts.id)))
            .expect("softphone stderr");
        let mut child = Command::new(py)
            .arg(repo().join("tests/peers/pj_operator.py"))
            .args(opts.args(sip_port, rtp_port))
            .env("PYTHONPATH", repo().join("tests/peers"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn pj_operator.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let reader = Some(spawn_reader(stdout, out.clone(), events.clone()));
        let phone = Softphone {
            id: opts.id.clone(),
            sip_port,
            child,
            stdin,
            events,
            out,
            reader,
        };
        let ready = phone.wait(Duration::from_secs(20), |e| e["ev"] == "ready");
        assert!(
            ready.is_some(),
            "softphone {} never ready:\n{}",
            phone.id,
            phone.output()
        );
        phone
    }

    /// Sends one command (`{"cmd": ...}`); a dead process is the test's failure to find later.
    pub fn send(&mut self, cmd: Value) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "{cmd}").and_then(|_| stdin.flush());
        }
    }

    pub fn register(&mut self) {
        self.send(json!({"cmd": "register"}));
    }

    pub fn unregister(&mut self) {
        self.send(json!({"cmd": "unregister"}));
    }

    /// Sets what the phone does with the next incoming calls.
    /// (`answer` after `answer_after_ms`, `decline`, `busy`, `ring`); waits
    /// for the phone to confirm, so a call right after meets the new policy.
    pub fn policy(&mut self, on_incoming: &str, answer_after_ms: u64) {
        self.command(json!({"cmd": "policy", "on_incoming": on_incoming,
                            "answer_after_ms": answer_after_ms}));
    }

    /// Plays `hz` (0: silence) into connected calls; waits for the confirmation.
    pub fn tone(&mut self, hz: u32) {
        self.command(json!({"cmd": "tone", "hz": hz}));
    }

    /// Sends a command whose name the phone echoes as an event when done
    /// (policy, tone, measure) and waits for that echo (or an error: panics).
    pub fn command(&mut self, cmd: Value) {
        let name = cmd["cmd"].as_str().unwrap_or_default().to_string();
        let mark = self.mark();
        self.send(cmd);
        let done = self.wait_after(mark, Duration::from_secs(10), |e| {
            e["ev"] == name.as_str() || e["ev"] == "error"
        });
        match done {
            Some(e) if e["ev"] == name.as_str() => {}
            other => panic!("softphone {}: {name} not done: {other:?}", self.id),
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many events so far (a mark for [`Softphone::wait_after`]).
    pub fn mark(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The first event (from the start) matching `pred`, waiting up to `timeout`.
    pub fn wait(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        self.wait_after(0, timeout, pred)
    }

    /// The first event after `mark` matching `pred`, waiting up to `timeout`.
    pub fn wait_after(
        &self,
        mark: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let mut found = None;
        poll_until(timeout, || {
            let ev = self.events.lock().unwrap_or_else(|e| e.into_inner());
            found = ev.iter().skip(mark).find(|e| pred(e)).cloned();
            found.is_some()
        });
        found
    }

    /// Waits for a REGISTER outcome after `mark`; returns its status code.
    pub fn wait_reg(&self, mark: usize, timeout: Duration) -> Option<u64> {
        self.wait_after(mark, timeout, |e| e["ev"] == "reg")
            .and_then(|e| e["code"].as_u64())
    }

    /// Waits for an incoming call after `mark`; returns its number.
    pub fn wait_incoming(&self, mark: usize, timeout: Duration) -> Option<u64> {
        self.wait_after(mark, timeout, |e| e["ev"] == "incoming")
            .and_then(|e| e["call"].as_u64())
    }

    /// Waits for `call` to reach `state` (CONFIRMED, DISCONNECTED, ...).
    pub fn wait_state(&self, call: u64, state: &str, timeout: Duration) -> Option<Value> {
        self.wait(timeout, |e| {
            is(
                e,
                "state",
                &[("call", json!(call)), ("state", json!(state))],
            )
        })
    }

    /// Waits until `windows` level windows of `call` had `hz` at or above
    /// `min_dbm0`; returns the levels of `hz` seen in all windows of the call.
    pub fn wait_heard(
        &self,
        call: u64,
        hz: u32,
        min_dbm0: f64,
        windows: usize,
        timeout: Duration,
    ) -> (bool, Vec<f64>) {
        let levels = || -> Vec<f64> {
            self.events()
                .iter()
                .filter(|e| is(e, "levels", &[("call", json!(call))]))
                .filter_map(|e| e["levels"][hz.to_string()].as_f64())
                .collect()
        };
        let ok = poll_until(timeout, || {
            levels().iter().filter(|l| **l >= min_dbm0).count() >= windows
        });
        (ok, levels())
    }

    /// Incoming calls seen so far.
    pub fn incoming_count(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e["ev"] == "incoming")
            .count()
    }

    /// The raw output so far (pjsip's start-up lines and the events).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// SIGKILL: the phone vanishes without a word (no BYE, no unregister).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin (the script hangs up, unregisters and exits) and waits up to 10 s.
    pub fn quit(&mut self) -> bool {
        self.stdin = None;
        let mut done = false;
        poll_until(Duration::from_secs(10), || {
            done = self.child.try_wait().ok().flatten().is_some();
            done
        });
        done
    }
}

fn spawn_reader(
    stdout: std::process::ChildStdout,
    out: PathBuf,
    events: Arc<Mutex<Vec<Value>>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut file = fs::File::create(&out).ok();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v.get("ev").is_some() {
                    events.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                }
            }
        }
    })
}

impl Drop for Softphone {
    fn drop(&mut self) {
        self.stdin = None;
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if thread::panicking() {
            eprintln!("----- softphone {} ({}) -----", self.id, self.out.display());
            let out = self.output();
            let lines: Vec<&str> = out.lines().rev().take(120).collect();
            for l in lines.iter().rev() {
                eprintln!("{l}");
            }
            eprintln!("----- end of softphone {} -----", self.id);
        }
    }
}
