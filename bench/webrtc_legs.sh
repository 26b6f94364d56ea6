#!/usr/bin/env bash
# bench/webrtc_legs.sh: WebRTC operator legs through a release daemon
# (BENCHMARKS.md, "WebRTC operator legs").
#
# A fresh release daemon on loopback: SIP over UDP (the units) and a `ws`
# listener (the browsers), registrar on, Contact ID off (each call is
# queued at once), one tenant (DID 112, PCMA/PCMU), one queue with N
# operators (login_on_register). examples/webrtc_bench.rs then plays N
# browsers (webrtc-rs `rtc` PeerConnections, SIP over their own WebSocket)
# and the units (plain RTP callers), and prints its measurements; this
# script adds the load average before and after.
#
# Usage: bench/webrtc_legs.sh [--no-build] [--operators N] [--calls N]
#          [--concurrent C] [--rate R] [--hold-s S] [--tick-ms T] [--tag NAME]
#   defaults: 20 operators, 20 calls, 1 at a time, 5/s, hold 3 s, tick 1 ms
#   env: SIP_PORT (default 15660; HTTP +1, WS +2), RTP_MIN/RTP_MAX (daemon
#        RTP ports, default 16000-19999), OUT (default target/bench/webrtc_legs),
#        BIN (default target/release/alarmgate), LOG_LEVEL (default warn)
#
# Loopback only; the driver's loops are bounded (calls, and a deadline);
# the daemon is killed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=1
OPS=20
CALLS=20
CONC=1
RATE=5
HOLD=3
TICK=1
TAG=
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --operators) OPS=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --concurrent) CONC=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --hold-s) HOLD=$2; shift 2 ;;
        --tick-ms) TICK=$2; shift 2 ;;
        --tag) TAG=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
SIP_PORT=${SIP_PORT:-15660}
HTTP_PORT=$((SIP_PORT + 1))
WS_PORT=$((SIP_PORT + 2))
RTP_MIN=${RTP_MIN:-16000}
RTP_MAX=${RTP_MAX:-19999}
LOG_LEVEL=${LOG_LEVEL:-warn}
OUT=${OUT:-$ROOT/target/bench/webrtc_legs}
BIN=${BIN:-$ROOT/target/release/alarmgate}
DRIVER=${DRIVER:-$ROOT/target/release/examples/webrtc_bench}
REALM=alarmgate
RUN=$OUT/o${OPS}-c${CALLS}-k${CONC}${TAG:+-$TAG}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$BUILD" = 1 ]; then
    cargo build --release --quiet --bin alarmgate --example webrtc_bench
fi
rm -rf "$RUN" && mkdir -p "$RUN"

write_config() {
    cat <<EOF
# written by bench/webrtc_legs.sh
[node]
name = "bench"

[log]
format = "human"
level = "$LOG_LEVEL"

[http]
listen = "127.0.0.1:$HTTP_PORT"

[sip]
user_agent = "alarmgate"
advertise = "127.0.0.1"

[[sip.listen]]
transport = "udp"
addr = "127.0.0.1:$SIP_PORT"

[[sip.listen]]
transport = "ws"
addr = "127.0.0.1:$WS_PORT"

[media]
rtp_port_min = $RTP_MIN
rtp_port_max = $RTP_MAX
hold = "silence"

[calls]
max_duration_s = 0
max_concurrent = 0
max_per_second = 0
shutdown_grace_s = 1

[alarm]
contact_id = false
journal_dir = "$RUN/journal"

[registrar]
enabled = true
realm = "$REALM"
algorithms = ["MD5"]

[[trunks]]
name = "loopback"
allow = ["127.0.0.0/8"]

[[tenants]]
id = "bench"
name = "Bench Kommune"
dids = ["112"]
codecs = ["PCMA", "PCMU"]
default_queue = "main"
last_resort = "partner"

# nobody listens here: a call that reaches it was never taken by a browser
[[targets]]
id = "partner"
uri = "sip:partner@127.0.0.1:9"
trunk = "loopback"

[[queues]]
id = "main"
tenant = "bench"
ring_timeout_s = 15
wrap_up_s = 0
aging_per_s = 0
EOF
    local k
    for k in $(seq 1 "$OPS"); do
        printf '\n[[operators]]\nid = "op%d"\nname = "Operator %d"\nqueues = ["main"]\nlogin_on_register = true\n' "$k" "$k"
        ALARMGATE_PASSWORD="pw-op$k" "$BIN" hash-password --username "op$k" --realm "$REALM"
    done
}

DAEMON_PID=
cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
    [ -n "$DAEMON_PID" ] && wait "$DAEMON_PID" 2>/dev/null || true
}
trap cleanup EXIT

write_config >"$RUN/alarmgate.toml"
"$BIN" check "$RUN/alarmgate.toml" >"$RUN/check.txt" 2>&1 || { cat "$RUN/check.txt" >&2; exit 1; }
"$BIN" run --config "$RUN/alarmgate.toml" >"$RUN/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { echo "daemon not ready" >&2; tail "$RUN/daemon.log" >&2; exit 1; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
timeout $((CALLS * 4 / RATE + HOLD + 180)) "$DRIVER" --ws "127.0.0.1:$WS_PORT" --sip "127.0.0.1:$SIP_PORT" \
    --operators "$OPS" --calls "$CALLS" --concurrent "$CONC" --rate "$RATE" --hold-s "$HOLD" \
    --tick-ms "$TICK" --daemon-pid "$DAEMON_PID" >"$RUN/driver.txt" 2>"$RUN/driver.err" || true
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E '^alarmgate_webrtc' >"$RUN/metrics.txt" || true
cat "$RUN/driver.txt"
printf '%s operators=%s calls=%s concurrent=%s rate=%s hold_s=%s load=%s/%s %s\n' \
    "$(date -u +%FT%TZ)" "$OPS" "$CALLS" "$CONC" "$RATE" "$HOLD" "$load" "$load_end" \
    "$(tr '\n' ' ' <"$RUN/driver.txt")" | tee -a "$OUT/results.txt"
