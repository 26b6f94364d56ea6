//! [`run_device`]: one call, or `--calls N` started at `--rate R/s` with at
//! most `--concurrency C` in progress, each on its own sockets and seed
//! (`seed + index`), summarised in one [`SimReport`].

// The load driver: real time and a random seed (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::args::{DeviceArgs, DeviceConfig};
use super::driver::{self, CallPlan};
use super::report::{CallReport, MessageReport, SimReport};
use super::{uac, SimError};

/// Runs the simulation the options describe and reports every call.
///
/// Errors are for what prevents running at all (bad options, an unresolvable
/// target, no sockets); a refused call or a missing kissoff is in the report.
pub async fn run_device(args: DeviceArgs) -> Result<SimReport, SimError> {
    let config = Arc::new(DeviceConfig::from_args(&args)?);
    let (host, port) = uac::target_host_port(&config.target)?;
    let server = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SimError::io(format!("resolving {host}"), e))?
        .next()
        .ok_or_else(|| SimError::InvalidTarget {
            target: config.target.clone(),
            reason: "the host resolves to no address".into(),
        })?;
    let local_ip = match args.local_ip {
        Some(ip) => ip,
        None => driver::route_ip(server)?,
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let plan = |index: u32| CallPlan {
        server,
        local_ip,
        seed: seed.wrapping_add(u64::from(index)),
        index,
    };
    if args.calls == 1 {
        let call = driver::run_call(&config, &plan(0)).await?;
        return Ok(SimReport::new(
            config.target.clone(),
            seed,
            config.impairments,
            vec![call],
        ));
    }
    let limit = Arc::new(Semaphore::new(args.concurrency as usize));
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..args.calls {
        tokio::time::sleep_until(start + interval.mul_f64(f64::from(index))).await;
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (config, plan) = (config.clone(), plan(index));
        tasks.spawn(async move {
            let _permit = permit;
            let result = driver::run_call(&config, &plan).await;
            result.unwrap_or_else(|e| failed_call(&config, index, e))
        });
    }
    let mut calls = Vec::with_capacity(args.calls as usize);
    while let Some(done) = tasks.join_next().await {
        if let Ok(call) = done {
            calls.push(call);
        }
    }
    calls.sort_by_key(|c| c.index);
    Ok(SimReport::new(
        config.target.clone(),
        seed,
        config.impairments,
        calls,
    ))
}

/// The report of a call that could not run (no socket, for example).
fn failed_call(config: &DeviceConfig, index: u32, error: SimError) -> CallReport {
    CallReport {
        index,
        call_id: String::new(),
        success: false,
        failure: Some(error.to_string()),
        final_status: None,
        invite_to_answer_ms: None,
        answer_to_handshake_ms: None,
        codec: None,
        dtmf: config.dtmf,
        messages: config
            .messages
            .iter()
            .map(|m| MessageReport::pending(m))
            .collect(),
        rtp_packets: 0,
        rtp_dropped: 0,
        rtp_reordered: 0,
        rx_longest_silence_ms: 0.0,
        hangup: "none",
        duration_ms: 0.0,
    }
}
