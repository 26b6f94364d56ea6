#!/usr/bin/env bash
# bench/cluster_failover.sh: failover time of a waiting alarm (issue 13,
# BENCHMARKS.md "Cluster failover"): node killed -> alarm offered on the
# survivor, p50/p99 over N kills (default 20).
#
# Three nats-servers (JetStream cluster on loopback, started once) and two
# release alarmgate nodes `a` and `b` with [cluster] (docs/cluster.md §9).
# Operator op1 registers to b only (a SIPp UAS that rings and never answers,
# bench/sipp/operator_register.xml + operator_uas.xml with a long ring) and
# is paused, so an alarm waits. Per kill:
#   1. node a starts (fresh journal), `alarmgate simulate device` sends one
#      Contact ID 101 to a; the call waits (b's GET /api/v1/calls lists it);
#   2. a is SIGKILLed at t0, op1 is made available on b (PUT state, a few ms);
#   3. b's GET /api/v1/calls is polled every 20 ms until a call of node a is
#      `ringing` at op1: t1. Failover = t1 - t0;
#   4. op1 is paused again; the orphaned ticket is disposed of through b's API.
# Printed: every figure, p50, p99, max, and the load average at start and end.
#
# Usage: bench/cluster_failover.sh [--no-build] [--kills N]
#   env: BIN (default target/release/alarmgate), NATS (ALARMGATE_NATS_SERVER or
#        nats-server on PATH), OUT (default target/bench/cluster_failover),
#        BASE_PORT (default 15600: NATS 15600-15608, a 15620/1, b 15630/1, op 15640)
#
# Exit 3 (not run) when the daemon refuses [cluster] (the cluster driver has
# not landed). Loopback only; every wait is bounded; everything is killed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=1
KILLS=20
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --kills) KILLS=$2; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
BIN=${BIN:-$ROOT/target/release/alarmgate}
NATS=${NATS:-${ALARMGATE_NATS_SERVER:-$(command -v nats-server || true)}}
OUT=${OUT:-$ROOT/target/bench/cluster_failover}
BASE=${BASE_PORT:-15600}
TOKEN=bench-cluster-failover
REALM=alarmgate
[ -x "$NATS" ] || { echo "nats-server missing (ALARMGATE_NATS_SERVER)" >&2; exit 2; }
command -v sipp >/dev/null || { echo "sipp missing" >&2; exit 2; }
[ "$BUILD" = 1 ] && cargo build --release --quiet
rm -rf "$OUT" && mkdir -p "$OUT"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}" ${A_PID:-} ${B_PID:-} ${SIM_PID:-}; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}" ${A_PID:-} ${B_PID:-} ${SIM_PID:-}; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# node_config NAME SIP_PORT HTTP_PORT
node_config() {
    cat <<EOF
[node]
name = "$1"
[log]
level = "warn"
[http]
listen = "127.0.0.1:$3"
[sip]
advertise = "127.0.0.1"
[[sip.listen]]
transport = "udp"
addr = "127.0.0.1:$2"
[media]
rtp_port_min = $((16000 + ($2 % 10) * 400))
rtp_port_max = $((16399 + ($2 % 10) * 400))
[alarm]
contact_id = true
journal_dir = "$OUT/$1/journal"
[registrar]
enabled = true
realm = "$REALM"
algorithms = ["MD5"]
[api]
[[api.tokens]]
name = "bench"
sha256 = "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
[[trunks]]
name = "loopback"
allow = ["127.0.0.0/8"]
[[tenants]]
id = "bench"
name = "Bench"
dids = ["112"]
default_queue = "main"
last_resort = "partner"
[[targets]]
id = "partner"
uri = "sip:partner@127.0.0.1:9"
trunk = "loopback"
[[queues]]
id = "main"
tenant = "bench"
ring_timeout_s = 60
wrap_up_s = 0
[[operators]]
id = "op1"
name = "Operator 1"
queues = ["main"]
login_on_register = true
$(ALARMGATE_PASSWORD=pw-op1 "$BIN" hash-password --username op1 --realm "$REALM")
[cluster]
node = "$1"
nats = ["nats://127.0.0.1:$BASE", "nats://127.0.0.1:$((BASE + 3))", "nats://127.0.0.1:$((BASE + 6))"]
replicas = 3
EOF
}

A_SIP=$((BASE + 20)); A_HTTP=$((BASE + 21)); B_SIP=$((BASE + 30)); B_HTTP=$((BASE + 31)); OP_PORT=$((BASE + 40))
mkdir -p "$OUT/a" "$OUT/b" "$OUT/op"
node_config a "$A_SIP" "$A_HTTP" >"$OUT/a.toml"
node_config b "$B_SIP" "$B_HTTP" >"$OUT/b.toml"
if ! "$BIN" check "$OUT/a.toml" >"$OUT/check.txt" 2>&1; then
    echo "not run: the daemon refuses the [cluster] config (the cluster driver has not landed):" >&2
    head -3 "$OUT/check.txt" >&2
    exit 3
fi

# Three nats-servers: client BASE+3i, cluster BASE+3i+1, monitoring BASE+3i+2.
ROUTES=$(for i in 0 1 2; do printf 'nats://127.0.0.1:%d,' $((BASE + 3 * i + 1)); done)
for i in 0 1 2; do
    "$NATS" -js -a 127.0.0.1 -p $((BASE + 3 * i)) --server_name "n$i" --cluster_name bench \
        --cluster "nats://127.0.0.1:$((BASE + 3 * i + 1))" --routes "${ROUTES%,}" \
        -m $((BASE + 3 * i + 2)) -sd "$OUT/nats-n$i" >"$OUT/nats-n$i.log" 2>&1 &
    PIDS+=($!)
done
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$((BASE + 2))/jsz" | jq -e '.meta_cluster.leader // empty' >/dev/null 2>&1 && break
    sleep 0.1
done

api() { curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    ${3:+-d "$3"} "http://127.0.0.1:$B_HTTP$2"; }
ready() { for _ in $(seq 600); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done; return 1; }
ms() { date +%s%3N; }

"$BIN" run --config "$OUT/b.toml" >"$OUT/b.log" 2>&1 & B_PID=$!
ready "$B_HTTP" || { echo "b not ready" >&2; tail "$OUT/b.log" >&2; exit 1; }
(cd "$OUT/op" && timeout 20 sipp "127.0.0.1:$B_SIP" -sf "$ROOT/bench/sipp/operator_register.xml" \
    -s op1 -au op1 -ap pw-op1 -i 127.0.0.1 -p "$OP_PORT" -m 1 -timeout 15s -timeout_error -nostdin >reg.out 2>&1)
(cd "$OUT/op" && exec timeout $((KILLS * 120)) sipp -sf "$ROOT/bench/sipp/operator_uas.xml" -i 127.0.0.1 \
    -p "$OP_PORT" -mp 12000 -set ring_ms 600000 -set talk_ms 1000 -aa -nostdin >uas.out 2>&1) &
PIDS+=($!)
api PUT /api/v1/operators/op1/state '{"state":"paused","reason":"bench"}' >/dev/null

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$OUT/failover_ms.txt"
for k in $(seq 1 "$KILLS"); do
    rm -rf "$OUT/a/journal"
    "$BIN" run --config "$OUT/a.toml" >>"$OUT/a.log" 2>&1 & A_PID=$!
    ready "$A_HTTP" || { echo "kill $k: a not ready" >&2; exit 1; }
    timeout 60 "$BIN" simulate device "sip:112@127.0.0.1:$A_SIP" -m "1234 18 1 101 01 002" \
        --call-timeout-s 50 --calls 1 --seed $((9100 + k)) --json >"$OUT/sim-$k.json" 2>&1 & SIM_PID=$!
    waiting=0
    for _ in $(seq 300); do
        api GET /api/v1/calls | jq -e '[.calls[] | select(.state == "waiting")] | length > 0' >/dev/null 2>&1 && { waiting=1; break; }
        sleep 0.1
    done
    [ "$waiting" = 1 ] || { echo "kill $k: the alarm on a never showed on b" >&2; exit 1; }
    t0=$(ms)
    kill -KILL "$A_PID"; wait "$A_PID" 2>/dev/null || true; A_PID=
    api PUT /api/v1/operators/op1/state '{"state":"available"}' >/dev/null
    t1=
    while [ $(( $(ms) - t0 )) -lt 30000 ]; do
        if api GET /api/v1/calls | jq -e '[.calls[] | select(.state == "ringing" and .operator == "op1")] | length > 0' >/dev/null 2>&1; then
            t1=$(ms); break
        fi
        sleep 0.02
    done
    [ -n "$t1" ] || { echo "kill $k: not offered on b within 30 s" >&2; exit 1; }
    echo $((t1 - t0)) | tee -a "$OUT/failover_ms.txt"
    kill -KILL "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
    api PUT /api/v1/operators/op1/state '{"state":"paused","reason":"bench"}' >/dev/null || true
    for c in $(api GET /api/v1/calls | jq -r '.calls[].id // empty'); do
        api POST "/api/v1/calls/$c/disposition" '{"outcome":"test"}' >/dev/null || true
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
sort -n "$OUT/failover_ms.txt" | awk -v ls="$LOAD_START" -v le="$LOAD_END" '
    { v[NR] = $1 }
    END {
        p50 = v[int((NR + 1) * 0.50)]; i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
        printf "failover (node SIGKILL -> alarm ringing on the survivor) over %d kills: p50 %d ms, p99 %d ms, max %d ms; load %s -> %s\n", NR, p50, v[i99], v[NR], ls, le
    }' | tee "$OUT/result.txt"
