#!/usr/bin/env bash
# bench/alarm_load.sh: concurrent alarm calls with media (BENCHMARKS.md,
# "Concurrent alarm calls").
#
# For each concurrency C given: a fresh release daemon (loopback UDP, Contact
# ID receiver on, journal on disk under OUT, log level warn) and
# `alarmgate simulate device` making calls that each send one Contact ID 602
# (periodic test) as in-band DTMF, check the kissoff (starts within the
# unit's 1.25 s of the last digit, >= 400 ms), then wait for the daemon's BYE
# (--wait-bye): the daemon decodes, journals (fdatasync), sends the kissoff,
# and settles the quiet technical call 5 s later. A call lasts about 8.9 s,
# so the simulator starts calls at R = C / 8 per second with at most C in
# progress, for CALLS_PER_SLOT * C calls; the daemon holds ~C calls, each
# with RTP both ways (50 packets/s each way).
#
# A concurrency passes when every call succeeded, no message needed a retry
# (the unit's first attempt was acknowledged in its window), the daemon's
# counters agree (decoded == acknowledged == calls, nothing withheld or
# failed to store), and the daemon's peak of active calls reached 95 % of C.
# With several C it is a stepped search: it stops at the first C that fails.
#
# The simulator allows at most 1000 calls in progress per process, so C is
# split over ceil(C/PER_SIM) simulator processes (each its own seeds). The
# simulator runs on the same 2 cores as the daemon and needs about as much
# CPU: its figure is in the result line.
#
# Usage: bench/alarm_load.sh [--no-build] [--keep-going] [--slots N] [--dtmf MODE] [C...]
#   default C: 100 250 500 1000 1500 2000 2500 3000
#   --slots N   calls per unit of concurrency (default 3: each slot is used 3 times)
#   --dtmf MODE inband (default), rfc4733 or both
#   --per-sim N calls in progress per simulator process (default 1000, its maximum)
#   --warmup S  seconds left out of the steady-state CPU figure (default 40);
#               hold 3 minutes after it with --slots 28 (28 x ~8.9 s per slot)
#   env: BIN (the daemon and simulator binary; --no-build implied), SIP_PORT (default 15160, outside the RTP range), OUT (default target/bench/alarm_load),
#        LOG_LEVEL (daemon log level, default warn; info logs every decoded/rejected message)
#
# Loopback only; every run is bounded (--calls, --call-timeout-s, and a
# timeout around the simulators).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD=1
KEEP_GOING=0
SLOTS=3
DTMF=inband
PER_SIM=1000
WARMUP=40
CONC=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --keep-going) KEEP_GOING=1; shift ;;
        --slots) SLOTS=$2; shift 2 ;;
        --dtmf) DTMF=$2; shift 2 ;;
        --per-sim) PER_SIM=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        *) CONC+=("$1"); shift ;;
    esac
done
[ ${#CONC[@]} -gt 0 ] || CONC=(100 250 500 1000 1500 2000 2500 3000)
SIP_PORT=${SIP_PORT:-15160}
LOG_LEVEL=${LOG_LEVEL:-warn}
HTTP_PORT=$((SIP_PORT + 1))
OUT=${OUT:-$ROOT/target/bench/alarm_load}
if [ -n "${BIN:-}" ]; then BUILD=0; else BIN=$ROOT/target/release/alarmgate; fi
CALL_S=8            # a call's length used to pick the rate (measured ~8.9 s)
mkdir -p "$OUT"
bench_need python3 "apt-get install python3"
# 2 fds per simulated call, 2-3 per daemon call: raise the soft limit.
bench_raise_nofile
need_free_ports "$SIP_PORT" "$HTTP_PORT"
[ "$BUILD" = 0 ] || bench_build

# RTP ports 16000-32599: 8300 calls of 2 ports each, below the kernel's
# ephemeral range (32768-60999 here; the simulator's sockets live there).
write_config() {
    {
        echo "# written by bench/alarm_load.sh"
        cfg_head "$HTTP_PORT" "$LOG_LEVEL"
        cfg_sip_udp "$SIP_PORT"
        cat <<EOF

[media]
rtp_port_min = 16000
rtp_port_max = 32599
hold = "silence"

[calls]
max_duration_s = 0
max_concurrent = 0
max_per_second = 0
shutdown_grace_s = 1

[alarm]
contact_id = true
journal_dir = "$2"
settle_technical = true
EOF
        cfg_loopback_trunk
        cfg_bench_tenant
    } >"$1"
}

metric() { metric_file "$@"; } # FILE NAME: summed over label sets

SIM_PIDS=()
cleanup() {
    for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
bench_at_exit cleanup

# Runs one concurrency; prints the result line; returns 0 when it passed.
run_conc() {
    local c=$1
    local dir=$OUT/c$c
    rm -rf "$dir" && mkdir -p "$dir"
    write_config "$dir/alarmgate.toml" "$dir/journal"
    daemon_start "$BIN" "$dir/alarmgate.toml" "$dir/daemon.log"
    wait_ready "$HTTP_PORT"
    local procs=$(((c + PER_SIM - 1) / PER_SIM))
    local per=$((c / procs))
    local calls=$((per * SLOTS))
    local rate
    rate=$(awk -v c="$per" -v s="$CALL_S" 'BEGIN {printf "%.3f", c / s}')
    local load c0 b0 t0 q0 busy_before
    # What the rest of the machine used in the 3 s before (other jobs skew the result).
    q0=$(busy_ticks)
    sleep 3
    busy_before=$(awk -v b=$(($(busy_ticks) - q0)) -v t="$TCK" 'BEGIN {printf "%.0f", 100 * b / t / 3}')
    load=$(load1)
    b0=$(busy_ticks)
    c0=$(cpu_ticks "$DAEMON_PID")
    t0=$(date +%s.%N)
    SIM_PIDS=()
    local budget=$((calls * CALL_S / per + 120))
    for p in $(seq 0 $((procs - 1))); do
        /usr/bin/time -f '%U %S %M' -o "$dir/sim$p.time" \
            timeout "$budget" "$BIN" simulate device "sip:112@127.0.0.1:$SIP_PORT" -m "1234 18 1 602 00 000" \
            --dtmf "$DTMF" --wait-bye --bye-timeout-s 30 --call-timeout-s 60 \
            --calls "$calls" --rate "$rate" --concurrency "$per" \
            --seed $((1000000 * (p + 1) + c)) --json >"$dir/sim$p.json" 2>"$dir/sim$p.err" &
        SIM_PIDS+=($!)
    done
    # Sample the daemon while the simulators run: peak active calls, and
    # its CPU when the warm-up ends (bounded by the simulators' budget).
    local peak=0 active cw=$c0 tw=$t0 marked=0 i now rss_w=0 rss_end
    for ((i = 0; i < budget + 30; i++)); do
        local running=0 pid
        for pid in "${SIM_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && running=1; done
        [ $running = 1 ] || break
        active=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "alarmgate_calls_active" {print int($2)}')
        [ -n "$active" ] && [ "$active" -gt "$peak" ] && peak=$active
        sleep 1
        now=$(date +%s.%N)
        if [ $marked = 0 ] && awk -v a="$t0" -v b="$now" -v w="$WARMUP" 'BEGIN {exit !(b - a >= w)}'; then
            cw=$(cpu_ticks "$DAEMON_PID") tw=$now marked=1 rss_w=$(status_kb "$DAEMON_PID" VmRSS)
        fi
    done
    local sim_rc=0
    for pid in "${SIM_PIDS[@]}"; do wait "$pid" || sim_rc=$?; done
    SIM_PIDS=()
    local t1 c1 b1
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$DAEMON_PID")
    b1=$(busy_ticks)
    local hwm
    hwm=$(status_kb "$DAEMON_PID" VmHWM)
    rss_end=$(status_kb "$DAEMON_PID" VmRSS)
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$dir/metrics.txt" || true
    local sip_drops
    sip_drops=$(sock_drops "$SIP_PORT")
    daemon_stop

    local elapsed cpu sim_cpu other
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    cpu=$(awk -v d=$((c1 - c0)) -v t="$TCK" -v e="$elapsed" 'BEGIN {printf "%.0f", 100 * d / t / e}')
    local steady_cpu steady_s
    steady_s=$(awk -v a="$tw" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')
    steady_cpu=$(awk -v d=$((c1 - cw)) -v t="$TCK" -v a="$tw" -v b="$t1" 'BEGIN {printf "%.0f", (b > a) ? 100 * d / t / (b - a) : 0}')
    sim_cpu=$(cat "$dir"/sim*.time 2>/dev/null | awk -v e="$elapsed" 'NF >= 2 && $1 ~ /^[0-9.]+$/ {s += $1 + $2} END {printf "%.0f", 100 * s / e}')
    other=$(awk -v b=$((b1 - b0)) -v d=$((c1 - c0)) -v t="$TCK" -v s="$sim_cpu" -v e="$elapsed" \
        'BEGIN {o = 100 * (b - d) / t / e - s; printf "%.0f", o < 0 ? 0 : o}')
    local decoded acked withheld failed rejected
    decoded=$(metric "$dir/metrics.txt" alarmgate_alarms_decoded_total)
    acked=$(metric "$dir/metrics.txt" alarmgate_alarms_acknowledged_total)
    withheld=$(metric "$dir/metrics.txt" alarmgate_alarms_kissoff_withheld_total)
    failed=$(metric "$dir/metrics.txt" alarmgate_alarms_store_failed_total)
    rejected=$(metric "$dir/metrics.txt" alarmgate_alarms_rejected_total)
    # The simulators' reports: calls, failures, retries, kissoff delays.
    local sims
    sims=$(python3 - "$dir" <<'PY'
import glob, json, sys
calls = ok = retried = remote = 0
delays, failures, answer = [], {}, []
for path in sorted(glob.glob(sys.argv[1] + "/sim*.json")):
    try:
        r = json.load(open(path))
    except Exception:
        failures["no report from " + path.rsplit("/", 1)[-1]] = 1
        continue
    for c in r["calls"]:
        calls += 1
        ok += c["success"]
        remote += c["hangup"] == "remote"
        if c.get("invite_to_answer_ms") is not None:
            answer.append(c["invite_to_answer_ms"])
        if not c["success"]:
            k = (c["failure"] or "?")[:60]
            failures[k] = failures.get(k, 0) + 1
        for m in c["messages"]:
            retried += m["attempts"] > 1
            if m["last_digit_to_kissoff_ms"] is not None:
                delays.append(m["last_digit_to_kissoff_ms"])
delays.sort(); answer.sort()
pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else -1
why = ";".join(f"{k}x{n}" for k, n in failures.items()) or "-"
print(f"{calls} {ok} {retried} {remote} {pct(delays, .5):.0f} {pct(delays, .99):.0f} "
      f"{(delays[-1] if delays else -1):.0f} {pct(answer, .99):.0f} {why.replace(' ', '_')}")
PY
)
    local n ok retried remote p50 p99 pmax ans99 why
    read -r n ok retried remote p50 p99 pmax ans99 why <<<"$sims"
    local expected=$((calls * procs))
    local pass=1
    [ "$n" = "$expected" ] && [ "$ok" = "$expected" ] || pass=0
    [ "$retried" = 0 ] || pass=0
    [ "$decoded" = "$expected" ] && [ "$acked" = "$expected" ] || pass=0
    [ "$withheld" = 0 ] && [ "$failed" = 0 ] || pass=0
    [ "$sim_rc" = 0 ] || pass=0
    [ $((peak * 100)) -ge $((c * 95)) ] || pass=0
    printf 'conc=%s sims=%s calls=%s ok=%s retried=%s settled_by_daemon=%s decoded=%s acked=%s withheld=%s store_failed=%s rejected=%s peak_active=%s kissoff_p50=%sms p99=%sms max=%sms answer_p99=%sms daemon_sip_drops=%s elapsed=%ss daemon_cpu=%s%% steady_cpu=%s%% over the last %ss daemon_rss_after_warmup=%sMiB daemon_rss_end=%sMiB daemon_hwm=%sMiB sim_cpu=%s%% other_cpu=%s%% busy_before=%s%% load1=%s failures=%s %s\n' \
        "$c" "$procs" "$expected" "$ok" "$retried" "$remote" "$decoded" "$acked" "$withheld" "$failed" "$rejected" "$peak" \
        "$p50" "$p99" "$pmax" "$ans99" "$sip_drops" "$elapsed" "$cpu" "$steady_cpu" "$steady_s" $((rss_w / 1024)) $((rss_end / 1024)) $((hwm / 1024)) "$sim_cpu" "$other" "$busy_before" "$load" "$why" \
        "$([ $pass = 1 ] && echo PASS || echo FAIL)" | tee -a "$OUT/results.txt"
    [ $pass = 1 ]
}

echo "$(machine_line), dtmf $DTMF, slots $SLOTS, per-sim $PER_SIM" | tee -a "$OUT/results.txt"
best=0
for c in "${CONC[@]}"; do
    if run_conc "$c"; then
        best=$c
    elif [ "$KEEP_GOING" = 0 ]; then
        break
    fi
done
echo "highest concurrency with every alarm acknowledged on the first attempt: $best calls" | tee -a "$OUT/results.txt"
