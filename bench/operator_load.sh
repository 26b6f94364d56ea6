#!/usr/bin/env bash
# bench/operator_load.sh: from an alarm's kissoff to the operator's phone
# ringing, end to end through real processes (BENCHMARKS.md, "Operators and
# routing").
#
# A fresh release daemon on loopback (UDP, Contact ID receiver on, journal on
# disk under OUT, registrar on, one tenant, one queue `main` with the given
# ring timeout and wrap-up, N operators with login_on_register = true). Each
# operator is one SIPp process on its own port: a short run REGISTERs with
# digest (bench/sipp/operator_register.xml), then a UAS on the same port
# (bench/sipp/operator_uas.xml) takes every offer: 100, 180 at once, 200
# after RING_MS, BYE after TALK_MS. Then `alarmgate simulate device` makes
# CALLS alarm calls at RATE per second, each sending one Contact ID 101
# (personal emergency, a voice alarm) in-band; after its kissoff the call is
# queued, offered to the longest-idle available operator and bridged; the
# simulator waits for the daemon's BYE (sent when the operator hangs up).
#
# Measured, per call:
#   - the daemon's histogram alarmgate_queue_to_ring_seconds (queue entry,
#     when the kissoff ends, to the first 180 received), p50/p99
#     interpolated linearly inside its buckets;
#   - from the journal (`alarmgate events replay`): alarm.acknowledged (the
#     kissoff starts) -> call.queued -> call.offered (ms resolution);
#   - from the operators' SIPp message traces (-trace_msg, µs timestamps):
#     the time each phone sent its 180, matched to the offer by operator and
#     order. kissoff -> ringing = 180 sent - alarm.acknowledged.
#   Calls that never rang: queued but no 180 (overflowed, lost, unanswered).
#
# Usage: bench/operator_load.sh [--no-build] [--operators N] [--calls N] [--rate R]
#          [--ring-ms MS] [--talk-ms MS] [--wrap-up-s S] [--ring-timeout-s S]
#          [--keepalive-s S] [--concurrency C] [--one-phone] [--tag NAME]
#   defaults: 20 operators, 200 calls at 5/s, ring 200 ms, talk 1000 ms,
#   wrap-up 0, ring timeout 15 s, keep-alive 30 s, 60 calls in progress at most
#   --one-phone: every operator registers from one port and one SIPp takes
#   all their calls (as a PBX in front of the phones would); N SIPp processes
#   cost about 0.5 % of a core each even idle, too much for N = 200 here
#   env: SIP_PORT (default 15260), OP_PORT (first operator port, default 15400),
#        OUT (default target/bench/operator_load), BIN (default target/release/alarmgate),
#        RTP_MIN/RTP_MAX (daemon RTP ports, default 16000-19999),
#        LOG_LEVEL (daemon, default warn), REV (the commit BIN was built from, for
#        results.txt; default this tree's HEAD)
#
# Loopback only; every process is bounded (timeouts) and killed on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD=1
OPS=20
CALLS=200
RATE=5
RING_MS=200
TALK_MS=1000
WRAP_UP_S=0
RING_TIMEOUT_S=15
KEEPALIVE_S=30
CONC=60
ONE_PHONE=0
TAG=
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --operators) OPS=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --ring-ms) RING_MS=$2; shift 2 ;;
        --talk-ms) TALK_MS=$2; shift 2 ;;
        --wrap-up-s) WRAP_UP_S=$2; shift 2 ;;
        --ring-timeout-s) RING_TIMEOUT_S=$2; shift 2 ;;
        --keepalive-s) KEEPALIVE_S=$2; shift 2 ;;
        --concurrency) CONC=$2; shift 2 ;;
        --tag) TAG=$2; shift 2 ;;
        --one-phone) ONE_PHONE=1; shift ;;
        -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
SIP_PORT=${SIP_PORT:-15260}
HTTP_PORT=$((SIP_PORT + 1))
OP_PORT=${OP_PORT:-15400}
# The daemon's RTP ports: below the dev dialplan's 20000-29999 (other
# engineers' test daemons on this machine) and the ephemeral range.
RTP_MIN=${RTP_MIN:-16000}
RTP_MAX=${RTP_MAX:-19999}
LOG_LEVEL=${LOG_LEVEL:-warn}
OUT=${OUT:-$ROOT/target/bench/operator_load}
BIN=${BIN:-$ROOT/target/release/alarmgate}
REV=${REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')}
TOKEN=bench-operator-load
REALM=alarmgate
RUN=$OUT/o${OPS}-c${CALLS}-r${RATE}$([ "$ONE_PHONE" = 1 ] && echo -one-phone || true)${TAG:+-$TAG}
bench_need sipp "apt-get install sip-tester"
bench_need python3 "apt-get install python3"
bench_raise_nofile
need_free_ports "$SIP_PORT" "$HTTP_PORT"
[ "$BUILD" = 0 ] || bench_build
rm -rf "$RUN" && mkdir -p "$RUN"

# Operator k: SIP port OP_PORT+k, SIPp media port 12000+4k (below the
# daemon's RTP range), password pw-opk.
op_port() { echo $((OP_PORT + $1)); }
op_media() { echo $((12000 + 4 * $1)); }

write_config() {
    echo "# written by bench/operator_load.sh"
    cfg_head "$HTTP_PORT" "$LOG_LEVEL"
    cfg_sip_udp "$SIP_PORT"
    cat <<EOF

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
contact_id = true
journal_dir = "$RUN/journal"
settle_technical = true

[registrar]
enabled = true
realm = "$REALM"
keepalive_interval_s = $KEEPALIVE_S
algorithms = ["MD5"]            # SIPp reads only the first challenge and knows only MD5

[api]
[[api.tokens]]
name = "bench"
sha256 = "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
EOF
    cfg_loopback_trunk
    cfg_bench_tenant
    cat <<EOF
default_queue = "main"
last_resort = "partner"

# nobody listens here: a call that reaches it shows up as never rung
[[targets]]
id = "partner"
uri = "sip:partner@127.0.0.1:9"
trunk = "loopback"

[[queues]]
id = "main"
tenant = "bench"
ring_timeout_s = $RING_TIMEOUT_S
wrap_up_s = $WRAP_UP_S
aging_per_s = 0
EOF
    local k
    for k in $(seq 1 "$OPS"); do
        printf '\n[[operators]]\nid = "op%d"\nname = "Operator %d"\nqueues = ["main"]\nlogin_on_register = true\n' "$k" "$k"
        ALARMGATE_PASSWORD="pw-op$k" "$BIN" hash-password --username "op$k" --realm "$REALM"
    done
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT$1"; }

SIM_PID=
OP_PIDS=()
cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
    local p
    for p in "${OP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${OP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
bench_at_exit cleanup

write_config >"$RUN/alarmgate.toml"
"$BIN" check "$RUN/alarmgate.toml" >"$RUN/check.txt" 2>&1 || { cat "$RUN/check.txt" >&2; exit 1; }
daemon_start "$BIN" "$RUN/alarmgate.toml" "$RUN/daemon.log"
wait_ready "$HTTP_PORT" || { tail "$RUN/daemon.log" >&2; exit 1; }

# Operators: each registers with a short SIPp run from its port, then a UAS
# on that port serves its calls: one SIPp per operator, or with --one-phone
# every operator registers from one port and a single SIPp serves them all.
SIPP_BUDGET=$((CALLS / (RATE > 0 ? RATE : 1) + 300))
# register_op K PORT DIR
register_op() {
    if ! (cd "$3" && timeout 20 sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/operator_register.xml" \
        -s "op$1" -au "op$1" -ap "pw-op$1" -i 127.0.0.1 -p "$2" -m 1 \
        -timeout 15s -timeout_error -nostdin -trace_err -error_file "register_err_op$1.log" >"register_op$1.out" 2>&1); then
        echo "op$1: REGISTER failed (see $3/register_op$1.out, register_err_op$1.log)" >&2
        tail -5 "$3/register_op$1.out" >&2
        return 1
    fi
}
# serve DIR PORT MEDIA_PORT
serve() {
    (cd "$1" && exec timeout "$SIPP_BUDGET" sipp -sf "$ROOT/bench/sipp/operator_uas.xml" \
        -i 127.0.0.1 -p "$2" -mp "$3" -set ring_ms "$RING_MS" -set talk_ms "$TALK_MS" \
        -aa -nostdin -trace_msg -message_file msg.log -trace_err -error_file err.log \
        -l $((OPS + 10)) -max_socket 4096 -buff_size 4194304 \
        -trace_stat -stf stat.csv -fd 1 -trace_screen -screen_file screen.log >uas.out 2>&1) &
    OP_PIDS+=($!)
}
if [ "$ONE_PHONE" = 1 ]; then
    mkdir -p "$RUN/op-all"
    for k in $(seq 1 "$OPS"); do register_op "$k" "$(op_port 1)" "$RUN/op-all" || exit 1; done
    serve "$RUN/op-all" "$(op_port 1)" "$(op_media 1)"
else
    for k in $(seq 1 "$OPS"); do
        mkdir -p "$RUN/op$k"
        register_op "$k" "$(op_port "$k")" "$RUN/op$k" || exit 1
        serve "$RUN/op$k" "$(op_port "$k")" "$(op_media "$k")"
    done
fi
# Every operator must be available before the first alarm.
avail=0
for _ in $(seq 100); do
    avail=$(api /api/v1/operators 2>/dev/null | python3 -c 'import json,sys
v = json.load(sys.stdin)
ops = v if isinstance(v, list) else v.get("operators", [])
print(sum(1 for o in ops if "available" in json.dumps(o.get("state", "")).lower()))' 2>/dev/null || echo 0)
    [ "$avail" = "$OPS" ] && break
    sleep 0.1
done
api /api/v1/operators >"$RUN/operators_before.json" 2>/dev/null || true
if [ "$avail" != "$OPS" ]; then
    echo "only $avail of $OPS operators available (see $RUN/operators_before.json)" >&2
    exit 1
fi

# The operators' SIPp processes (children of their `timeout`), for their CPU.
SIPP_PIDS=()
for p in "${OP_PIDS[@]}"; do SIPP_PIDS+=($(pgrep -P "$p" || true)); done
sipp_ticks() { local s=0 p; for p in "${SIPP_PIDS[@]}"; do s=$((s + $(cpu_ticks "$p"))); done; echo $s; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
s0=$(sipp_ticks)
b0=$(busy_ticks)
c0=$(cpu_ticks "$DAEMON_PID")
t0=$(date +%s.%N)
/usr/bin/time -f '%U %S %M' -o "$RUN/sim.time" \
    timeout "$SIPP_BUDGET" "$BIN" simulate device "sip:112@127.0.0.1:$SIP_PORT" -m "1234 18 1 101 01 002" \
    --wait-bye --bye-timeout-s 60 --call-timeout-s 120 \
    --calls "$CALLS" --rate "$RATE" --concurrency "$CONC" --seed $((7000000 + CALLS)) --json \
    >"$RUN/sim.json" 2>"$RUN/sim.err" &
SIM_PID=$!
peak_wait=0
while kill -0 "$SIM_PID" 2>/dev/null; do
    w=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "alarmgate_calls_waiting" {print int($2)}')
    [ -n "$w" ] && [ "$w" -gt "$peak_wait" ] && peak_wait=$w
    sleep 0.5
done
sim_rc=0
wait "$SIM_PID" || sim_rc=$?
SIM_PID=
t1=$(date +%s.%N)
c1=$(cpu_ticks "$DAEMON_PID")
s1=$(sipp_ticks)
b1=$(busy_ticks)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
hwm=$(status_kb "$DAEMON_PID" VmHWM)
sleep 1
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$RUN/metrics.txt" || true
api /api/v1/operators >"$RUN/operators_after.json" 2>/dev/null || true
for p in "${OP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
for p in "${OP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
OP_PIDS=()
daemon_stop
"$BIN" events replay --dir "$RUN/journal" >"$RUN/events.jsonl" 2>"$RUN/events.err" || true

elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
cpu=$(awk -v d=$((c1 - c0)) -v t="$TCK" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * d / t / e}')
sipp_cpu=$(awk -v d=$((s1 - s0)) -v t="$TCK" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * d / t / e}')
sim_cpu=$(awk -v e="$elapsed" 'NF >= 2 && $1 ~ /^[0-9.]+$/ {printf "%.0f", 100 * ($1 + $2) / e; f = 1} END {if (!f) print "?"}' "$RUN/sim.time" 2>/dev/null || echo '?')
# Everything else on the machine (other jobs): busy - daemon - phones - simulator.
other=$(awk -v b=$((b1 - b0)) -v d=$((c1 - c0)) -v p=$((s1 - s0)) -v t="$TCK" -v e="$elapsed" -v s="$sim_cpu" \
    'BEGIN {o = 100 * (b - d - p) / t / e - (s + 0); printf "%.0f", o < 0 ? 0 : o}')

python3 "$ROOT/bench/operator_load.py" "$RUN" >"$RUN/analysis.txt" || true
cat "$RUN/analysis.txt"
summary=$(tail -n 1 "$RUN/analysis.txt")
printf '%s operators=%s one_phone=%s calls=%s rate=%s ring_ms=%s talk_ms=%s wrap_up_s=%s sim_rc=%s peak_waiting=%s elapsed=%ss daemon_cpu=%s%% daemon_hwm=%sMiB phones_cpu=%s%% sim_cpu=%s%% other_cpu=%s%% load=%s/%s %s %s\n' \
    "$(date -u +%FT%TZ)" "$OPS" "$ONE_PHONE" "$CALLS" "$RATE" "$RING_MS" "$TALK_MS" "$WRAP_UP_S" "$sim_rc" "$peak_wait" "$elapsed" "$cpu" \
    $((hwm / 1024)) "$sipp_cpu" "$sim_cpu" "$other" "$load" "$load_end" "$REV" "$summary" \
    | tee -a "$OUT/results.txt"
