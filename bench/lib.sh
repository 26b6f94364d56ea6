# bench/lib.sh: what the bench scripts share (sourced, not run).
#
#   source "$(dirname "$0")/lib.sh"    # cds to the repository, sets ROOT and TCK
#
# Start-up and clean-up:
#   bench_build [cargo args]        cargo build --release --quiet [args]
#   bench_need CMD HINT             exit 2 with HINT when CMD is missing
#   bench_raise_nofile              soft fd limit to the hard one
#   bench_at_exit FUNC              FUNC runs at exit (before the daemon is stopped)
#   daemon_start BIN CONFIG LOG [NICE]   `BIN run --config CONFIG` in the background: DAEMON_PID
#   daemon_stop                     SIGTERM DAEMON_PID and wait for it (no-op when none)
#   wait_udp_port PORT [TRIES]      the daemon bound 127.0.0.1:PORT/udp (5 ms per try, default 2000)
#   wait_tcp_port PORT [TRIES]      the same for TCP (listening)
#   wait_ready HTTP_PORT [TRIES]    /readyz answered 200 (25 ms per try, default 400)
# Config (each prints TOML to stdout; scripts add their own sections):
#   cfg_head HTTP_PORT [LOG_LEVEL]  [node] "bench", [log] human at LOG_LEVEL (warn), [http], [sip] on loopback
#   cfg_sip_udp PORT                one [[sip.listen]] on 127.0.0.1:PORT/udp
#   cfg_loopback_trunk              [[trunks]] "loopback" trusting 127.0.0.0/8
#   cfg_bench_tenant                [[tenants]] "bench" answering 112 (last: callers may add keys)
# Ports:
#   free_port [udp|tcp]             a port the kernel says is free on 127.0.0.1 now
#   port_in_use PORT                true when anything is bound to 127.0.0.1:PORT (UDP or TCP)
#   need_free_ports PORT...         exit 2 naming the first port already taken (shared machine)
# Measuring (from /proc; ticks are 1/TCK s):
#   cpu_ticks PID, busy_ticks, status_kb PID KEY, udp_drops, sock_drops PORT,
#   load1, machine_line (one "# ..." line: time, cores, CPU, load, commit)
#   metric_file FILE NAME           sum of a Prometheus metric (all label sets) in FILE
#   metric_live HTTP_PORT NAME [LABEL_FILTER]   the same from a live /metrics
#
# Every wait is bounded by a count; loopback only.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TCK=$(getconf CLK_TCK)

bench_need() {
    command -v "$1" >/dev/null || { echo "$1 missing: $2" >&2; exit 2; }
}

bench_build() {
    cargo build --release --quiet "$@"
}

bench_raise_nofile() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# Exit hooks: the script's own clean-up first (SIPp, simulators), then the daemon.
BENCH_EXIT_HOOKS=()
bench_at_exit() { BENCH_EXIT_HOOKS+=("$1"); }
_bench_exit() {
    local h
    for h in "${BENCH_EXIT_HOOKS[@]}"; do "$h" || true; done
    daemon_stop
}
trap _bench_exit EXIT

DAEMON_PID=
daemon_start() { # BIN CONFIG LOG [NICE]
    nice -n "${4:-0}" "$1" run --config "$2" >"$3" 2>&1 &
    DAEMON_PID=$!
}

daemon_stop() {
    [ -n "$DAEMON_PID" ] || return 0
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
}

_daemon_alive() {
    [ -z "$DAEMON_PID" ] || kill -0 "$DAEMON_PID" 2>/dev/null || { echo "daemon exited" >&2; return 1; }
}

_hexport() { printf '0100007F:%04X' "$1"; }

wait_udp_port() { # PORT [TRIES]
    local i
    for ((i = 0; i < ${2:-2000}; i++)); do
        grep -q " $(_hexport "$1") " /proc/net/udp && return 0
        _daemon_alive || return 1
        sleep 0.005
    done
    echo "nothing bound UDP 127.0.0.1:$1 after ${2:-2000} tries" >&2
    return 1
}

wait_tcp_port() { # PORT [TRIES]: listening (state 0A)
    local i
    for ((i = 0; i < ${2:-2000}; i++)); do
        awk -v a="$(_hexport "$1")" '$2 == a && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp && return 0
        _daemon_alive || return 1
        sleep 0.005
    done
    echo "nothing listening on TCP 127.0.0.1:$1 after ${2:-2000} tries" >&2
    return 1
}

wait_ready() { # HTTP_PORT [TRIES]
    local i
    for ((i = 0; i < ${2:-400}; i++)); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/readyz" && return 0
        _daemon_alive || return 1
        sleep 0.025
    done
    echo "daemon not ready on http://127.0.0.1:$1/readyz after ${2:-400} tries" >&2
    return 1
}

cfg_head() { # HTTP_PORT [LOG_LEVEL]
    cat <<EOF
[node]
name = "bench"

[log]
format = "human"
level = "${2:-warn}"

[http]
listen = "127.0.0.1:$1"

[sip]
user_agent = "alarmgate"
advertise = "127.0.0.1"
EOF
}

cfg_sip_udp() { # PORT
    printf '\n[[sip.listen]]\ntransport = "udp"\naddr = "127.0.0.1:%s"\n' "$1"
}

cfg_loopback_trunk() {
    printf '\n[[trunks]]\nname = "loopback"\nallow = ["127.0.0.0/8"]\n'
}

cfg_bench_tenant() {
    printf '\n[[tenants]]\nid = "bench"\nname = "Bench Kommune"\ndids = ["112"]\ncodecs = ["PCMA", "PCMU"]\n'
}

free_port() { # [udp|tcp]
    python3 -c 'import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "${1:-tcp}"
}

port_in_use() { # PORT: bound on 127.0.0.1 or the wildcard, UDP or TCP
    local p
    p=$(printf '%04X' "$1")
    awk -v p=":$p" 'FNR > 1 && substr($2, length($2) - 4) == p && ($2 ~ /^0100007F:/ || $2 ~ /^00000000:/) {f = 1} END {exit !f}' \
        /proc/net/udp /proc/net/tcp
}

need_free_ports() { # PORT...
    local p
    for p in "$@"; do
        if port_in_use "$p"; then
            echo "port $p is already in use on this machine (another engineer's daemon?): choose another base port (SIP_PORT=...)" >&2
            exit 2
        fi
    done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# UDP datagrams the kernel dropped for a full receive / send buffer (all sockets).
udp_drops() { awk '$1 == "Udp:" && $2 ~ /^[0-9]/ {print $6 + $7}' /proc/net/snmp; }
# Datagrams dropped on the socket bound at 127.0.0.1:PORT (last column of /proc/net/udp).
sock_drops() { awk -v a="$(_hexport "$1")" '$2 == a {print $NF; f = 1} END {if (!f) print 0}' /proc/net/udp; }
load1() { cut -d' ' -f1 /proc/loadavg; }

machine_line() {
    echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
}

metric_file() { # FILE NAME
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f\n", s}' "$1"
}

metric_live() { # HTTP_PORT NAME [LABEL_FILTER]
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" -v f="${3:-}" \
        '$1 !~ /^#/ && ($1 == n || index($1, n "{") == 1) && index($0, f) {s += $NF} END {printf "%.0f\n", s}'
}
