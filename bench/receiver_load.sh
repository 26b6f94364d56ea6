#!/usr/bin/env bash
# bench/receiver_load.sh: DC-09 and SCAIP receiver rates (BENCHMARKS.md,
# "DC-09 and SCAIP receiver rates", issue 10).
#
# For each case: a fresh release daemon (journal on disk under OUT, synced
# as in production: an ACK or <mrs snu=0> is sent only once the alarm is
# durable), DC-09 on TCP and UDP, SCAIP on its SIP UDP listener, every
# DC-09 account accepted into tenant `bench` with a bench key (AES-256);
# then examples/dc09_load or examples/scaip_load holds the load for
# --seconds (default 220) and reports the steady state after --warmup
# (default 40): acknowledged messages per second, ACK / <mrs> latency
# p50/p99/max, the daemon's CPU per message and its RSS after the warm-up
# and at the end. Cases (default: all):
#   dc09-tcp-1  dc09-tcp-many  dc09-tcp-enc-1  dc09-tcp-enc-many
#   dc09-udp-1  dc09-udp-many  dc09-udp-enc-1  dc09-udp-enc-many
#   scaip-1     scaip-many     (scaip: mty=ME stc=0102 test alarms, stored then <mrs>)
# "1" is one connection (one panel, one unit); "many" is --conns
# connections from --sources loopback addresses (default 32 from 8).
# One JSON line per case in OUT/results.jsonl, with `uptime` before and after.
#
# Usage: bench/receiver_load.sh [--no-build] [--seconds S] [--warmup S]
#                               [--conns N] [--sources K] [CASE...]
#   env: OUT (default target/bench/receiver_load), BIN (the daemon; --no-build implied)
# Loopback only; every run is bounded by --seconds (the drivers stop
# themselves) and a timeout around them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD=1
SECONDS_=220
WARMUP=40
CONNS=32
SOURCES=8
CASES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --seconds) SECONDS_=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --sources) SOURCES=$2; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) CASES+=("$1"); shift ;;
    esac
done
[ ${#CASES[@]} -gt 0 ] || CASES=(dc09-tcp-1 dc09-tcp-many dc09-tcp-enc-1 dc09-tcp-enc-many
    dc09-udp-1 dc09-udp-many dc09-udp-enc-1 dc09-udp-enc-many scaip-1 scaip-many)
OUT=${OUT:-$ROOT/target/bench/receiver_load}
if [ -n "${BIN:-}" ]; then BUILD=0; else BIN=$ROOT/target/release/alarmgate; fi
EX=$ROOT/target/release/examples
KEY=bench-key-for-load-tests-only-32   # 32 ASCII characters: AES-256
mkdir -p "$OUT"
bench_raise_nofile
[ "$BUILD" = 0 ] || bench_build --bin alarmgate --example dc09_load --example scaip_load

write_config() { # FILE JOURNAL SIP DC09 HTTP
    {
        echo "# written by bench/receiver_load.sh"
        cfg_head "$5"
        cfg_sip_udp "$3"
        cat <<EOF
[media]
rtp_port_min = 61000
rtp_port_max = 65533
[alarm]
journal_dir = "$2"
[scaip]
enabled = true
[dc09]
unknown_account = "nak"
[[dc09.listen]]
address = "127.0.0.1:$4"
transport = "tcp"
[[dc09.listen]]
address = "127.0.0.1:$4"
transport = "udp"
[[dc09.accounts]]
tenant = "bench"
key = "$KEY"
key_format = "ascii"
EOF
        cfg_loopback_trunk
        cfg_bench_tenant
    } >"$1"
}

run_case() { # CASE
    local c=$1 dir=$OUT/$1 sip dc09 http
    rm -rf "$dir" && mkdir -p "$dir"
    sip=$(free_port udp) dc09=$(free_port tcp) http=$(free_port tcp)
    need_free_ports "$dc09"   # the UDP side of the DC-09 port too
    write_config "$dir/alarmgate.toml" "$dir/journal" "$sip" "$dc09" "$http"
    daemon_start "$BIN" "$dir/alarmgate.toml" "$dir/daemon.log"
    wait_ready "$http" || { tail "$dir/daemon.log" >&2; return 1; }
    local args=(--seconds "$SECONDS_" --warmup "$WARMUP" --pid "$DAEMON_PID")
    case $c in *-many) args+=(--conns "$CONNS" --sources "$SOURCES") ;; *) args+=(--conns 1) ;; esac
    local driver
    case $c in
        dc09-*) driver=("$EX/dc09_load" --to "127.0.0.1:$dc09" "${args[@]}")
            case $c in *-udp-*) driver+=(--udp) ;; esac
            case $c in *-enc-*) driver+=(--key "$KEY") ;; esac ;;
        scaip-*) driver=("$EX/scaip_load" --to "127.0.0.1:$sip" --number 112 --kind test "${args[@]}") ;;
        *) echo "unknown case $c" >&2; daemon_stop; return 1 ;;
    esac
    local before after line
    before=$(uptime)
    line=$(timeout $((SECONDS_ + 120)) "${driver[@]}" 2>"$dir/driver.err") || true
    after=$(uptime)
    curl -s "http://127.0.0.1:$http/metrics" >"$dir/metrics.txt" || true
    local hwm
    hwm=$(status_kb "$DAEMON_PID" VmHWM)
    daemon_stop
    [ -n "$line" ] || line='{"error":"no output"}'
    printf '{"case":"%s","commit":"%s","uptime_before":"%s","uptime_after":"%s","daemon_hwm_mib":%s,"result":%s}\n' \
        "$c" "$(git -C "$ROOT" rev-parse --short HEAD)" "${before//\"/}" "${after//\"/}" $((hwm / 1024)) "$line" |
        tee -a "$OUT/results.jsonl"
    rm -rf "$dir/journal"
}

machine_line | tee -a "$OUT/results.jsonl"
for c in "${CASES[@]}"; do run_case "$c"; done
