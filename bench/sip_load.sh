#!/usr/bin/env bash
# bench/sip_load.sh: the SIP call-rate benchmark (BENCHMARKS.md, "SIP call rate").
#
# For each rate given: a fresh release daemon on loopback UDP (its journal
# fresh under the rate's directory, or JOURNAL= a journal with history, as a
# node that restarts has); as soon as its SIP port is bound (--settle 0, a
# cold start: units send when the port answers, they do not ask /readyz),
# or once /readyz answers 200 and --settle seconds more have passed,
# SIPp runs tests/sipp/uac_load.xml
# (INVITE, 200, ACK, BYE, 200) at that rate for DURATION seconds' worth of
# calls (-m bounds it), split over --sipps SIPp processes (each its own
# source port: one peer, or many). Then one result line per rate:
# - over the whole run: SIPp's successful/failed calls, unexpected,
#   out-of-call and dead-call messages, retransmissions, datagrams dropped
#   on the daemon's SIP socket, response times, the achieved rate;
# - at steady state, after the first --warmup seconds (Timer J and the
#   RFC 6026 Accepted state keep every transaction 32 s, so the first 32 s
#   are not representative): calls completed, failures, retransmissions,
#   the achieved rate, the daemon's CPU (utime+stime from /proc/<pid>/stat)
#   as % of a core and in microseconds per call, and its RSS at the end;
# - the daemon's peak RSS (VmHWM), SIPp's CPU, the CPU everything else on
#   the machine used meanwhile, and the load average before the run.
#
# A rate passes when every call of the whole run (warm-up included: a cold
# start must not stumble) succeeded, SIPp saw no unexpected, out-of-call or
# dead-call message, every SIPp exited 0, and the achieved rate is at least
# 97 % of the target, over the whole run and at steady state. With several
# rates it is a stepped search: it stops at the first rate that fails.
#
# Usage: bench/sip_load.sh [--duration S] [--warmup S] [--sipps N] [--settle S]
#                          [--no-build] [--keep-going] [--perf] [--nice N] [RATE...]
#   default rates: 500 1000 2000 3000 4000 5000 6000 7000 8000 10000
#   --duration S  seconds of calls per rate (default 30)
#   --warmup S    seconds left out of the steady-state figures (default 0;
#                 use 40 with --duration 220 for 3 minutes held)
#   --sipps N     SIPp processes, each RATE/N calls/s from its own port (default 1, max 16)
#   --settle S    seconds between /readyz 200 and the first call (default 0: cold
#                 start, the first call when the SIP port is bound)
#   --perf        record the daemon with `perf record -g` (software clock) per rate
#   --nice N      run daemon and SIPp at nice level N (needs root for N < 0)
#   env: SIP_PORT (default 15060), OUT (default target/bench/sip_load),
#        SIPP_TRANSPORT (u1 = one socket per SIPp, default; un = one socket per call),
#        BIN (the daemon binary, default target/release/alarmgate; --no-build implied),
#        JOURNAL (the daemon's journal directory, default fresh per rate)
#
# Loopback only; every run is bounded by -m and by a global -timeout, and
# every wait loop by a count.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=30
WARMUP=0
SIPPS=1
SETTLE=0
BUILD=1
KEEP_GOING=0
PERF=0
NICE=0
RATES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --sipps) SIPPS=$2; shift 2 ;;
        --settle) SETTLE=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --keep-going) KEEP_GOING=1; shift ;;
        --perf) PERF=1; shift ;;
        --nice) NICE=$2; shift 2 ;;
        -h|--help) sed -n '2,47p' "$0"; exit 0 ;;
        *) RATES+=("$1"); shift ;;
    esac
done
[ ${#RATES[@]} -gt 0 ] || RATES=(500 1000 2000 3000 4000 5000 6000 7000 8000 10000)
[ "$WARMUP" -lt "$DURATION" ] || { echo "--warmup must be below --duration" >&2; exit 2; }
[ "$SIPPS" -ge 1 ] && [ "$SIPPS" -le 16 ] || { echo "--sipps takes 1 to 16" >&2; exit 2; }
SIP_PORT=${SIP_PORT:-15060}
HTTP_PORT=$((SIP_PORT + 1))
SIPP_PORT=$((SIP_PORT + 100))   # SIPp i: signalling SIPP_PORT+i, media SIPP_MEDIA+4i
SIPP_MEDIA=$((SIP_PORT + 200))
SIPP_TRANSPORT=${SIPP_TRANSPORT:-u1}
OUT=${OUT:-$ROOT/target/bench/sip_load}
if [ -n "${BIN:-}" ]; then BUILD=0; else BIN=$ROOT/target/release/alarmgate; fi
mkdir -p "$OUT"
bench_raise_nofile
bench_need sipp "apt-get install sip-tester"
bench_need curl "apt-get install curl"
need_free_ports "$SIP_PORT" "$HTTP_PORT"
[ "$BUILD" = 0 ] || bench_build

write_config() {
    {
        echo "# written by bench/sip_load.sh"
        cfg_head "$HTTP_PORT"
        cfg_sip_udp "$SIP_PORT"
        cat <<EOF

[media]
rtp_port_min = 61000
rtp_port_max = 65533
hold = "silence"

[alarm]
journal_dir = "$2"

[calls]
max_duration_s = 0
max_concurrent = 0
max_per_second = 0
shutdown_grace_s = 1
EOF
        cfg_loopback_trunk
        cfg_bench_tenant
    } >"$1"
}

# The last value of column $2 in SIPp's ;-separated stat file $1.
stat_col() {
    awk -F';' -v col="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i; next}
        c {v = $c} END {print (v == "" ? "?" : v)}' "$1"
}

# Column $2 of the first row of stat file $1 written at least $3 s after
# SIPp started (ElapsedTime(C), "HH:MM:SS:uuuuuu"): the steady state's start.
stat_at() {
    awk -F';' -v col="$2" -v t="$3" 'NR == 1 {for (i = 1; i <= NF; i++) {if ($i == col) c = i; if ($i == "ElapsedTime(C)") e = i}; next}
        c && e && !f {split($e, p, ":"); if (p[1] * 3600 + p[2] * 60 + p[3] + p[4] / 1e6 >= t) {v = $c; f = 1}}
        END {print (t == 0 ? 0 : (f ? v : "?"))}' "$1"
}

# Sum of column $2 (last row, or the row at $3 s with stat_at) over every SIPp of run dir $1.
sum_col() {
    local dir=$1 col=$2 at=${3:-} total=0 v i
    for ((i = 0; i < SIPPS; i++)); do
        if [ -n "$at" ]; then v=$(stat_at "$dir/sipp$i/stat.csv" "$col" "$at"); else v=$(stat_col "$dir/sipp$i/stat.csv" "$col"); fi
        [[ "$v" =~ ^[0-9]+$ ]] || { echo "?"; return; }
        total=$((total + v))
    done
    echo "$total"
}

# $1 + $2 and $1 - $2, or "?" when either is not a count.
add() { awk -v a="$1" -v b="$2" 'BEGIN {print (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) ? a + b : "?"}'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {print (a ~ /^-?[0-9]+$/ && b ~ /^[0-9]+$/) ? a - b : "?"}'; }

# SIPp's "HH:MM:SS:uuuuuu" (microseconds) to milliseconds.
to_ms() {
    awk -F: '{ if (NF == 4) printf "%.3f", ($1 * 3600 + $2 * 60 + $3) * 1000 + $4 / 1000; else print "?" }' <<<"$1"
}

PERF_PID=
SIPP_PIDS=()
cleanup() {
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null || true
    for p in "${SIPP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
bench_at_exit cleanup

# Starts SIPp number $2 of rate dir $1 in the background, at $3 calls/s for $4 calls.
start_sipp() {
    local dir=$1/sipp$2 rate=$3 calls=$4
    mkdir -p "$dir"
    # -l: concurrent calls; calls take ~1 ms, so a cap of 2 s worth only
    # bites when the daemon falls behind (and then the achieved rate drops).
    (cd "$dir" && exec /usr/bin/time -f '%U %S %M' -o sipp.time \
        nice -n "$NICE" sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/tests/sipp/uac_load.xml" -s 112 \
        -i 127.0.0.1 -p $((SIPP_PORT + $2)) -mp $((SIPP_MEDIA + 4 * $2)) -t "$SIPP_TRANSPORT" \
        -r "$rate" -rp 1000 -m "$calls" -l $((rate * 2 + 100)) -max_socket 4096 -buff_size 4194304 \
        -timeout $((DURATION * 3 + 30))s -timeout_error -nostdin \
        -trace_stat -stf stat.csv -fd 1 -trace_err -trace_screen \
        >sipp.out 2>&1) &
    SIPP_PIDS+=($!)
}

# Runs one rate; prints the result line and returns 0 when the rate passed.
run_rate() {
    local rate=$1 calls=$(($1 * DURATION / SIPPS * SIPPS))
    local dir=$OUT/r$rate
    rm -rf "$dir" && mkdir -p "$dir"
    write_config "$dir/alarmgate.toml" "${JOURNAL:-$dir/journal}"
    local load_before
    load_before=$(load1)
    daemon_start "$BIN" "$dir/alarmgate.toml" "$dir/daemon.log" "$NICE"
    # Cold: the first call as soon as the SIP port is bound, as units do
    # (they do not ask /readyz). Settled: /readyz 200, then SETTLE seconds.
    wait_udp_port "$SIP_PORT"
    if [ "$SETTLE" != 0 ]; then
        wait_ready "$HTTP_PORT"
        sleep "$SETTLE"
    fi
    if [ "$PERF" = 1 ]; then
        perf record -e cpu-clock -F 999 -g -p "$DAEMON_PID" -o "$dir/perf.data" >"$dir/perf.log" 2>&1 &
        PERF_PID=$!
        sleep 0.5
    fi
    local d0 b0 c0 t0 cw tw i
    d0=$(udp_drops)
    b0=$(busy_ticks)
    c0=$(cpu_ticks "$DAEMON_PID")
    t0=$(date +%s.%N)
    SIPP_PIDS=()
    for ((i = 0; i < SIPPS; i++)); do
        start_sipp "$dir" "$i" $((rate / SIPPS)) $((calls / SIPPS))
    done
    # Sample the daemon's CPU every second (cpu.csv) and mark the end of the
    # warm-up; bounded by SIPp's own global timeout plus a margin.
    cw=$c0 tw=$t0
    local marked=0 now
    [ "$WARMUP" != 0 ] || marked=1
    echo "elapsed_s;daemon_cpu_ticks;daemon_rss_kib" >"$dir/cpu.csv"
    for ((i = 0; i < (DURATION * 3 + 60) * 10; i++)); do
        local running=0 p
        for p in "${SIPP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
        [ $running = 1 ] || break
        sleep 0.1
        now=$(date +%s.%N)
        if [ $marked = 0 ] && awk -v a="$t0" -v b="$now" -v w="$WARMUP" 'BEGIN {exit !(b - a >= w)}'; then
            cw=$(cpu_ticks "$DAEMON_PID") tw=$now marked=1
        fi
        ((i % 10)) || echo "$(awk -v a="$t0" -v b="$now" 'BEGIN {printf "%.1f", b - a}');$(cpu_ticks "$DAEMON_PID");$(status_kb "$DAEMON_PID" VmRSS)" >>"$dir/cpu.csv"
    done
    local rc=0
    for p in "${SIPP_PIDS[@]}"; do wait "$p" || rc=$?; done
    SIPP_PIDS=()
    local c1 t1 d1 b1
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$DAEMON_PID")
    d1=$(udp_drops)
    b1=$(busy_ticks)
    local sip_drops hwm rss threads
    sip_drops=$(sock_drops "$SIP_PORT")
    hwm=$(status_kb "$DAEMON_PID" VmHWM)
    rss=$(status_kb "$DAEMON_PID" VmRSS)
    threads=$(status_kb "$DAEMON_PID" Threads)
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$dir/metrics.txt" 2>/dev/null || true
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=
    fi
    daemon_stop

    # The whole run.
    local ok failed unexp ooc retrans elapsed rt_ms
    ok=$(sum_col "$dir" 'SuccessfulCall(C)')
    failed=$(sum_col "$dir" 'FailedCall(C)')
    unexp=$(sum_col "$dir" 'FailedUnexpectedMessage(C)')
    retrans=$(sum_col "$dir" 'Retransmissions(C)')
    ooc=$(add "$(sum_col "$dir" 'OutOfCallMsgs(C)')" "$(sum_col "$dir" 'DeadCallMsgs(C)')")
    rt_ms=$(to_ms "$(stat_col "$dir/sipp0/stat.csv" 'ResponseTime1(C)')")
    # Response-time repartition (INVITE sent -> 200 received): share under
    # 10 ms, and how many took 100 ms or more.
    local lt10 ge100
    lt10=$(sum_col "$dir" 'ResponseTimeRepartition1_<10')
    ge100=$(add "$(add "$(sum_col "$dir" 'ResponseTimeRepartition1_<200')" "$(sum_col "$dir" 'ResponseTimeRepartition1_<500')")" \
        "$(add "$(sum_col "$dir" 'ResponseTimeRepartition1_<1000')" "$(sum_col "$dir" 'ResponseTimeRepartition1_>=1000')")")
    lt10=$(awk -v a="$lt10" -v n="$ok" 'BEGIN {printf "%.1f", (n > 0) ? 100 * a / n : 0}')
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    local achieved cpu sipp_u=0 sipp_s=0 su ss sr
    achieved=$(awk -v n="$ok" -v e="$elapsed" 'BEGIN {printf "%.0f", (n ~ /^[0-9]+$/ && e > 0) ? n / e : 0}')
    cpu=$(awk -v d=$((c1 - c0)) -v t="$TCK" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * d / t / e}')
    for ((i = 0; i < SIPPS; i++)); do
        read -r su ss sr <"$dir/sipp$i/sipp.time" 2>/dev/null || continue
        sipp_u=$(awk -v a="$sipp_u" -v b="$su" 'BEGIN {print a + b}')
        sipp_s=$(awk -v a="$sipp_s" -v b="$ss" 'BEGIN {print a + b}')
    done
    local sipp_cpu other_cpu
    sipp_cpu=$(awk -v u="$sipp_u" -v s="$sipp_s" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * (u + s) / e}')
    # CPU used by everything else on the machine during the run (other jobs).
    other_cpu=$(awk -v b=$((b1 - b0)) -v d=$((c1 - c0)) -v t="$TCK" -v u="$sipp_u" -v s="$sipp_s" -v e="$elapsed" \
        'BEGIN {o = 100 * ((b - d) / t - u - s) / e; printf "%.0f", o < 0 ? 0 : o}')

    # Steady state: from the end of the warm-up to the end of the run.
    local s_ok s_failed s_retrans s_ooc s_elapsed s_rate s_cpu s_us
    s_ok=$(sub "$ok" "$(sum_col "$dir" 'SuccessfulCall(C)' "$WARMUP")")
    s_failed=$(sub "$failed" "$(sum_col "$dir" 'FailedCall(C)' "$WARMUP")")
    s_retrans=$(sub "$retrans" "$(sum_col "$dir" 'Retransmissions(C)' "$WARMUP")")
    s_ooc=$(sub "$ooc" "$(add "$(sum_col "$dir" 'OutOfCallMsgs(C)' "$WARMUP")" "$(sum_col "$dir" 'DeadCallMsgs(C)' "$WARMUP")")")
    s_elapsed=$(awk -v a="$tw" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    s_rate=$(awk -v n="$s_ok" -v e="$s_elapsed" 'BEGIN {printf "%.0f", (e > 0) ? n / e : 0}')
    s_cpu=$(awk -v d=$((c1 - cw)) -v t="$TCK" -v e="$s_elapsed" 'BEGIN {printf "%.0f", (e > 0) ? 100 * d / t / e : 0}')
    s_us=$(awk -v d=$((c1 - cw)) -v t="$TCK" -v n="$s_ok" 'BEGIN {printf "%.0f", (n > 0) ? 1e6 * d / t / n : 0}')

    local pass=1
    [ "$ok" = "$calls" ] || pass=0
    [ "$failed" = 0 ] || pass=0
    [ "$unexp" = 0 ] || pass=0
    [ "$ooc" = 0 ] || pass=0
    [ "$rc" = 0 ] || pass=0
    awk -v a="$achieved" -v r="$rate" 'BEGIN {exit !(a >= 0.97 * r)}' || pass=0
    awk -v a="$s_rate" -v r="$rate" 'BEGIN {exit !(a >= 0.97 * r)}' || pass=0
    printf 'rate=%s sipps=%s settle=%ss calls=%s ok=%s failed=%s unexpected=%s out_of_call=%s retrans=%s udp_buf_drops=%s daemon_sip_drops=%s achieved=%s/s elapsed=%ss rt_avg=%sms rt_lt10ms=%s%% rt_ge100ms=%s daemon_cpu=%s%% | steady after %ss: ok=%s failed=%s retrans=%s out_of_call=%s achieved=%s/s over %ss daemon_cpu=%s%% cpu_per_call=%sus daemon_rss_end=%sMiB | daemon_hwm=%sMiB threads=%s sipp_cpu=%s%% other_cpu=%s%% load1=%s sipp_rc=%s %s\n' \
        "$rate" "$SIPPS" "$SETTLE" "$calls" "$ok" "$failed" "$unexp" "$ooc" "$retrans" $((d1 - d0)) "$sip_drops" "$achieved" "$elapsed" "$rt_ms" "$lt10" "$ge100" "$cpu" \
        "$WARMUP" "$s_ok" "$s_failed" "$s_retrans" "$s_ooc" "$s_rate" "$s_elapsed" "$s_cpu" "$s_us" $((rss / 1024)) \
        $((hwm / 1024)) "$threads" "$sipp_cpu" "$other_cpu" "$load_before" "$rc" \
        "$([ $pass = 1 ] && echo PASS || echo FAIL)" | tee -a "$OUT/results.txt"
    [ $pass = 1 ]
}

echo "$(machine_line), duration ${DURATION}s, warmup ${WARMUP}s, $SIPPS sipp -t $SIPP_TRANSPORT, settle ${SETTLE}s, $BIN" | tee -a "$OUT/results.txt"
best=0
for rate in "${RATES[@]}"; do
    if run_rate "$rate"; then
        best=$rate
    elif [ "$KEEP_GOING" = 0 ]; then
        break
    fi
done
echo "highest rate with zero failures: $best calls/s" | tee -a "$OUT/results.txt"
