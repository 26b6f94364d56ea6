#!/usr/bin/env bash
# bench/overload.sh: goodput under overload (BENCHMARKS.md, "Overload").
#
# A release daemon on loopback UDP with a normal-priority trunk on 127.0.0.3
# (plain calls) and the alarm trunk on the rest of loopback. SIPp offers
# tests/sipp/uac_storm.xml (taken: INVITE 200 ACK BYE 200; refused: INVITE
# 503 ACK) from 127.0.0.3 at RATE calls/s (default 6000, about twice what the
# daemon sustains on the 2-core benchmark machine) for WARMUP + HOLD seconds
# (default 40 + 180). Completed calls are read from the daemon's own
# alarmgate_calls_ended_total{reason="remote_bye"} at the end of the warm-up
# and at the end, so goodput is the steady-state rate, not the start. Also
# reported: the daemon's CPU over the same window (utime+stime from
# /proc/<pid>/stat) and per completed call, refusals by reason, SIPp's
# retransmissions, the lag gauges, and `uptime` before and after.
#
# Usage: bench/overload.sh [--rate R] [--warmup S] [--hold S] [--bin PATH]
#   env: SIP_PORT (default 15160), OUT (default target/bench/overload)
# Loopback only; bounded by -m and a global -timeout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RATE=6000
WARMUP=40
HOLD=180
BIN=$ROOT/target/release/alarmgate
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) RATE=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --hold) HOLD=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
SIP_PORT=${SIP_PORT:-15160}
HTTP_PORT=$((SIP_PORT + 1))
SIPP_PORT=$((SIP_PORT + 2))
SIPP_MEDIA=$((SIP_PORT + 10))
OUT=${OUT:-$ROOT/target/bench/overload}
mkdir -p "$OUT"
bench_need sipp "apt-get install sip-tester"
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release" >&2; exit 2; }
need_free_ports "$SIP_PORT" "$HTTP_PORT" "$SIPP_PORT"

{
echo "# written by bench/overload.sh"
cfg_head "$HTTP_PORT"
cfg_sip_udp "$SIP_PORT"
cat <<CONF
[media]
rtp_port_min = 16000
rtp_port_max = 32599
hold = "silence"
[calls]
max_duration_s = 0
max_concurrent = 0
max_per_second = 0
shutdown_grace_s = 1
[[trunks]]
name = "plain-calls"
allow = ["127.0.0.3/32"]
priority = "normal"
[[trunks]]
name = "alarm-units"
allow = ["127.0.0.0/8"]
CONF
cfg_bench_tenant
} >"$OUT/alarmgate.toml"

metric() { metric_live "$HTTP_PORT" "$@"; } # name, label filter (substring), summed
SIPP=
stop_sipp() { [ -z "$SIPP" ] || kill "$SIPP" 2>/dev/null || true; }
bench_at_exit stop_sipp

echo "$(machine_line), offered $RATE/s, warmup ${WARMUP}s, hold ${HOLD}s, $BIN"
echo "uptime before: $(uptime)"
daemon_start "$BIN" "$OUT/alarmgate.toml" "$OUT/daemon.log"
DAEMON=$DAEMON_PID
wait_ready "$HTTP_PORT"

TOTAL=$((WARMUP + HOLD))
(cd "$OUT" && sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/tests/sipp/uac_storm.xml" -s 112 \
    -i 127.0.0.3 -p "$SIPP_PORT" -mp "$SIPP_MEDIA" -t u1 \
    -r "$RATE" -l $((RATE * 10)) -m $((RATE * TOTAL)) -timeout "${TOTAL}s" \
    -nostdin -trace_stat -fd 10 >"$OUT/sipp.txt" 2>&1) &
SIPP=$!
sleep "$WARMUP"
echo "uptime at the end of the warm-up: $(uptime)"
c0=$(metric alarmgate_calls_ended_total 'reason="remote_bye"'); t0=$(date +%s.%N); k0=$(cpu_ticks $DAEMON); r0=$(status_kb $DAEMON VmRSS)
sleep "$HOLD"
c1=$(metric alarmgate_calls_ended_total 'reason="remote_bye"'); t1=$(date +%s.%N); k1=$(cpu_ticks $DAEMON); r1=$(status_kb $DAEMON VmRSS); hwm=$(status_kb $DAEMON VmHWM)
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E '^alarmgate_(overload|admission_refusals|sip_driver_lag|media_tick_lag)' >"$OUT/metrics.txt" || true
wait $SIPP || true
SIPP=
echo "uptime after:  $(uptime)"
echo "daemon RSS at the end of the warm-up $((r0 / 1024)) MiB, at the end of the hold $((r1 / 1024)) MiB, peak $((hwm / 1024)) MiB"
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v k0="$k0" -v k1="$k1" -v tck="$TCK" -v rate="$RATE" 'BEGIN {
    secs = t1 - t0; calls = c1 - c0; cpu = (k1 - k0) / tck
    printf "offered %d calls/s; steady state over %.0f s: %d completed = %.0f calls/s; daemon CPU %.0f%% of a core, %.0f us per completed call\n",
        rate, secs, calls, calls / secs, 100 * cpu / secs, (calls > 0 ? 1e6 * cpu / calls : 0)
}'
cat "$OUT/metrics.txt"
grep -E "INVITE ---|503 <---|200 <---|Successful call|Failed call" "$OUT/sipp.txt" | tail -6
