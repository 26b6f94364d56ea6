//! The Python peers: the pjsua2 interpreter, `pj_call.py`, spandsp's
//! Contact ID oracle and the long-running peer processes.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The Python interpreter that has pjsua2, if any.
pub fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        let py = std::env::var_os("ALARMGATE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join(".venv/bin/python"));
        let ok = Command::new(&py)
            .args(["-c", "import pjsua2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(py)
    })
    .clone()
}

/// True when pjsua2 can run; otherwise a SKIP (or a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub fn need_pjsua2(test: &str) -> bool {
    if python().is_some() {
        return true;
    }
    assert!(
        !env_on("ALARMGATE_REQUIRE_PEERS"),
        "{test}: no Python with pjsua2 and ALARMGATE_REQUIRE_PEERS=1 (run tests/run.sh)"
    );
    skip(
        test,
        "pjsua2 not installed (.venv/bin/pip install pjsua2-python, or run tests/run.sh)",
    );
    false
}

/// Runs `tests/peers/pj_call.py` with `args`; returns (exit code, parsed JSON
/// of its last stdout line, full output).
pub fn pj_call(
    dir: &Path,
    args: &[String],
    timeout: Duration,
) -> (Option<i32>, serde_json::Value, String) {
    let py = python().expect("pjsua2 python (call need_pjsua2 first)");
    let out_path = dir.join(format!("pj_call-{}.txt", free_port()));
    let out = fs::File::create(&out_path).expect("pj out");
    let err = out.try_clone().expect("dup");
    let mut child = Command::new(py)
        .arg(repo().join("tests/peers/pj_call.py"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn pj_call.py");
    let mut status = None;
    poll_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = fs::read_to_string(&out_path).unwrap_or_default();
    let json = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (status.and_then(|s| s.code()), json, text)
}

// ---------------------------------------------------------------- Python peers (pjsua2 + spandsp)

/// True when Debian's libspandsp (the Contact ID oracle, `libspandsp-dev`)
/// loads from the pjsua2 Python through `tests/peers/spandsp_cid.py`;
/// otherwise a SKIP (or a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub fn need_spandsp(test: &str) -> bool {
    if !need_pjsua2(test) {
        return false;
    }
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        let py = python().expect("checked by need_pjsua2");
        Command::new(py)
            .args(["-c", "import spandsp_cid"])
            .env("PYTHONPATH", repo().join("tests/peers"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if have {
        return true;
    }
    assert!(
        !env_on("ALARMGATE_REQUIRE_PEERS"),
        "{test}: libspandsp does not load and ALARMGATE_REQUIRE_PEERS=1 (apt-get install libspandsp-dev)"
    );
    skip(
        test,
        "libspandsp not installed (apt-get install libspandsp-dev, or run tests/run.sh)",
    );
    false
}

/// A `tests/peers/*.py` script running in the background (killed on drop).
pub struct PyPeer {
    child: Child,
    out: PathBuf,
    deadline: Instant,
}

/// What a Python peer said: its exit code, its last JSON line, all its output.
#[derive(Debug)]
pub struct PeerResult {
    pub code: Option<i32>,
    pub json: serde_json::Value,
    pub output: String,
}

impl PyPeer {
    /// Starts `tests/peers/<script>` with `args` in `dir` (output in a file
    /// there); it is killed if still running `timeout` from now when waited for.
    pub fn spawn(script: &str, dir: &Path, args: &[String], timeout: Duration) -> PyPeer {
        let py = python().expect("pjsua2 python (call need_pjsua2 first)");
        let stem = script.trim_end_matches(".py");
        let out = dir.join(format!("{stem}-{}.txt", free_port()));
        let file = fs::File::create(&out).expect("peer output");
        let err = file.try_clone().expect("dup");
        let child = Command::new(py)
            .arg(repo().join("tests/peers").join(script))
            .args(args)
            .env("PYTHONPATH", repo().join("tests/peers"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
        PyPeer {
            child,
            out,
            deadline: Instant::now() + timeout,
        }
    }

    /// Its output so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits for exit (killing it past its deadline); the last JSON line parsed.
    pub fn wait(mut self) -> PeerResult {
        let mut status = None;
        poll_until(
            self.deadline.saturating_duration_since(Instant::now()),
            || {
                status = self.child.try_wait().ok().flatten();
                status.is_some()
            },
        );
        let output = self.output();
        let json = output
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        PeerResult {
            code: status.and_then(|s| s.code()),
            json,
            output,
        }
    }
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
