#!/usr/bin/env bash
# bench/sip_load.sh: the SIP call-rate benchmark (BENCHMARKS.md, "SIP call rate").
#
# For each rate given: a fresh release daemon on loopback UDP, SIPp running
# tests/sipp/uac_load.xml (INVITE, 200, ACK, BYE, 200) at that rate for
# DURATION seconds' worth of calls (-m bounds it), then one result line:
# SIPp's successful/failed calls, unexpected messages, retransmissions,
# response times, the achieved rate, the daemon's CPU (utime+stime delta from
# /proc/<pid>/stat over the SIPp run) and peak RSS (VmHWM), and SIPp's own CPU.
#
# With several rates it is a stepped search: it stops at the first rate that
# fails (any failed call, any unexpected message, or an achieved rate below
# 97% of the target) and reports the highest rate that passed.
#
# Usage: bench/sip_load.sh [--duration S] [--no-build] [--keep-going] [--perf] [--nice N] [RATE...]
#   default rates: 500 1000 2000 3000 4000 5000 6000 7000 8000 10000
#   --perf        record the daemon with `perf record -g` (software clock) per rate
#   --nice N      run daemon and SIPp at nice level N (e.g. -5 on a machine
#                 shared with other jobs; needs root for N < 0)
#   env: SIP_PORT (default 15060), OUT (default target/bench/sip_load),
#        SIPP_TRANSPORT (u1 = one socket, default; un = one socket per call)
#
# Loopback only; every run is bounded by -m and by a global -timeout.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=30
BUILD=1
KEEP_GOING=0
PERF=0
NICE=0
RATES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --keep-going) KEEP_GOING=1; shift ;;
        --perf) PERF=1; shift ;;
        --nice) NICE=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) RATES+=("$1"); shift ;;
    esac
done
[ ${#RATES[@]} -gt 0 ] || RATES=(500 1000 2000 3000 4000 5000 6000 7000 8000 10000)
SIP_PORT=${SIP_PORT:-15060}
HTTP_PORT=$((SIP_PORT + 1))
SIPP_PORT=$((SIP_PORT + 2))
SIPP_MEDIA=$((SIP_PORT + 10))
SIPP_TRANSPORT=${SIPP_TRANSPORT:-u1}
OUT=${OUT:-$ROOT/target/bench/sip_load}
BIN=$ROOT/target/release/alarmgate
TCK=$(getconf CLK_TCK)
mkdir -p "$OUT"

command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 2; }
if [ "$BUILD" = 1 ]; then
    cargo build --release --quiet
fi

write_config() {
    cat >"$1" <<EOF
# written by bench/sip_load.sh
[node]
name = "bench"

[log]
format = "human"
level = "warn"

[http]
listen = "127.0.0.1:$HTTP_PORT"

[sip]
user_agent = "alarmgate"
advertise = "127.0.0.1"

[[sip.listen]]
transport = "udp"
addr = "127.0.0.1:$SIP_PORT"

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
name = "loopback"
allow = ["127.0.0.0/8"]

[[tenants]]
id = "bench"
name = "Bench Kommune"
dids = ["112"]
codecs = ["PCMA", "PCMU"]
EOF
}

# utime+stime of a pid, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# UDP datagrams the kernel dropped for a full receive / send buffer (all sockets).
udp_drops() { awk '$1 == "Udp:" && $2 ~ /^[0-9]/ {print $6 + $7}' /proc/net/snmp; }
# Datagrams dropped on the socket bound at 127.0.0.1:$1 (last column of /proc/net/udp).
sock_drops() { awk -v a="0100007F:$(printf '%04X' "$1")" '$2 == a {print $NF; f = 1} END {if (!f) print 0}' /proc/net/udp; }
# Busy clock ticks of the whole machine (everything but idle and iowait).
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

wait_port() {
    for _ in $(seq 100); do
        if grep -qi ":$(printf '%04X' "$SIP_PORT") " /proc/net/udp; then return 0; fi
        sleep 0.05
    done
    echo "daemon did not bind UDP $SIP_PORT" >&2
    return 1
}

# The last value of column $2 in SIPp's ;-separated stat file $1.
stat_col() {
    awk -F';' -v col="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i; next}
        c {v = $c} END {print (v == "" ? "?" : v)}' "$1"
}

# SIPp's "HH:MM:SS:uuuuuu" (microseconds) to milliseconds.
to_ms() {
    awk -F: '{ if (NF == 4) printf "%.3f", ($1 * 3600 + $2 * 60 + $3) * 1000 + $4 / 1000; else print "?" }' <<<"$1"
}

DAEMON_PID=
PERF_PID=
cleanup() {
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null || true
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
}
trap cleanup EXIT

# Runs one rate; prints the result line and returns 0 when the rate passed.
run_rate() {
    local rate=$1 calls=$(($1 * DURATION))
    local dir=$OUT/r$rate
    rm -rf "$dir" && mkdir -p "$dir"
    write_config "$dir/alarmgate.toml"
    nice -n "$NICE" "$BIN" run --config "$dir/alarmgate.toml" >"$dir/daemon.log" 2>&1 &
    DAEMON_PID=$!
    wait_port
    if [ "$PERF" = 1 ]; then
        perf record -e cpu-clock -F 999 -g -p "$DAEMON_PID" -o "$dir/perf.data" >"$dir/perf.log" 2>&1 &
        PERF_PID=$!
        sleep 0.5
    fi
    local c0 c1 t0 t1 rc=0
    local d0 d1
    d0=$(udp_drops)
    local b0 b1 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    b0=$(busy_ticks)
    c0=$(cpu_ticks "$DAEMON_PID")
    t0=$(date +%s.%N)
    # -l: concurrent calls; calls take ~1 ms, so a cap of 2 s worth only
    # bites when the daemon falls behind (and then the achieved rate drops).
    (cd "$dir" && /usr/bin/time -f '%U %S %M' -o sipp.time \
        nice -n "$NICE" sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/tests/sipp/uac_load.xml" -s 112 \
        -i 127.0.0.1 -p "$SIPP_PORT" -mp "$SIPP_MEDIA" -t "$SIPP_TRANSPORT" \
        -r "$rate" -rp 1000 -m "$calls" -l $((rate * 2 + 100)) -max_socket 4096 -buff_size 4194304 \
        -timeout $((DURATION * 3 + 30))s -timeout_error -nostdin \
        -trace_stat -stf stat.csv -fd 1 -trace_err -trace_screen \
        >sipp.out 2>&1) || rc=$?
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$DAEMON_PID")
    d1=$(udp_drops)
    b1=$(busy_ticks)
    local sip_drops
    sip_drops=$(sock_drops "$SIP_PORT")
    local hwm rss threads
    hwm=$(status_kb "$DAEMON_PID" VmHWM)
    rss=$(status_kb "$DAEMON_PID" VmRSS)
    threads=$(status_kb "$DAEMON_PID" Threads)
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$dir/metrics.txt" 2>/dev/null || true
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=
    fi
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=

    local s=$dir/stat.csv
    local ok failed unexp ooc retrans elapsed rt_ms
    ok=$(stat_col "$s" 'SuccessfulCall(C)')
    failed=$(stat_col "$s" 'FailedCall(C)')
    unexp=$(stat_col "$s" 'FailedUnexpectedMessage(C)')
    retrans=$(stat_col "$s" 'Retransmissions(C)')
    ooc=$(( $(stat_col "$s" 'OutOfCallMsgs(C)') + $(stat_col "$s" 'DeadCallMsgs(C)') ))
    rt_ms=$(to_ms "$(stat_col "$s" 'ResponseTime1(C)')")
    # Response-time repartition (INVITE sent -> 200 received): share under
    # 10 ms, and how many took 100 ms or more.
    local lt10 ge100 total_rt
    lt10=$(stat_col "$s" 'ResponseTimeRepartition1_<10')
    ge100=$(( $(stat_col "$s" 'ResponseTimeRepartition1_<200') + $(stat_col "$s" 'ResponseTimeRepartition1_<500') \
        + $(stat_col "$s" 'ResponseTimeRepartition1_<1000') + $(stat_col "$s" 'ResponseTimeRepartition1_>=1000') ))
    lt10=$(awk -v a="$lt10" -v n="$ok" 'BEGIN {printf "%.1f", (n > 0) ? 100 * a / n : 0}')
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    local achieved cpu sipp_cpu sipp_u sipp_s sipp_rss
    achieved=$(awk -v n="$ok" -v e="$elapsed" 'BEGIN {printf "%.0f", (n ~ /^[0-9]+$/ && e > 0) ? n / e : 0}')
    cpu=$(awk -v d=$((c1 - c0)) -v t="$TCK" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * d / t / e}')
    read -r sipp_u sipp_s sipp_rss <"$dir/sipp.time" 2>/dev/null || true
    sipp_cpu=$(awk -v u="${sipp_u:-0}" -v s="${sipp_s:-0}" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * (u + s) / e}')
    # CPU used by everything else on the machine during the run (other jobs).
    local other_cpu
    other_cpu=$(awk -v b=$((b1 - b0)) -v d=$((c1 - c0)) -v t="$TCK" -v u="${sipp_u:-0}" -v s="${sipp_s:-0}" -v e="$elapsed" \
        'BEGIN {o = 100 * ((b - d) / t - u - s) / e; printf "%.0f", o < 0 ? 0 : o}')
    local pass=1
    [ "$ok" = "$calls" ] || pass=0
    [ "$failed" = 0 ] || pass=0
    [ "$unexp" = 0 ] || pass=0
    [ "$ooc" = 0 ] || pass=0
    [ "$rc" = 0 ] || pass=0
    awk -v a="$achieved" -v r="$rate" 'BEGIN {exit !(a >= 0.97 * r)}' || pass=0
    printf 'rate=%s calls=%s ok=%s failed=%s unexpected=%s out_of_call=%s retrans=%s udp_buf_drops=%s daemon_sip_drops=%s achieved=%s/s elapsed=%ss rt_avg=%sms rt_lt10ms=%s%% rt_ge100ms=%s daemon_cpu=%s%% daemon_hwm=%sMiB daemon_rss_end=%sMiB threads=%s sipp_cpu=%s%% other_cpu=%s%% load1=%s sipp_rc=%s %s\n' \
        "$rate" "$calls" "$ok" "$failed" "$unexp" "$ooc" "$retrans" $((d1 - d0)) "$sip_drops" "$achieved" "$elapsed" "$rt_ms" "$lt10" "$ge100" \
        "$cpu" $((hwm / 1024)) $((rss / 1024)) "$threads" "$sipp_cpu" "$other_cpu" "$load" "$rc" \
        "$([ $pass = 1 ] && echo PASS || echo FAIL)" | tee -a "$OUT/results.txt"
    [ $pass = 1 ]
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), duration ${DURATION}s, sipp -t $SIPP_TRANSPORT, $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" | tee -a "$OUT/results.txt"
best=0
for rate in "${RATES[@]}"; do
    if run_rate "$rate"; then
        best=$rate
    elif [ "$KEEP_GOING" = 0 ]; then
        break
    fi
done
echo "highest rate with zero failures: $best calls/s" | tee -a "$OUT/results.txt"
