#!/usr/bin/env bash
# Fuzz every target for N seconds each (default 60), one job at a time.
#   tests/fuzz/run.sh [seconds] [target...]   (default: every target)
# Seeds: tests/fuzz/seeds/<target>/ (tracked) plus, generated here, the RFC 4475
# vectors (tests/vectors/sip/**/*.dat) for sip_message, their SDP bodies for sdp,
# and stream-framing inputs built from them. Corpora live in tests/fuzz/corpus/
# (git-ignored); crashes land in tests/fuzz/artifacts/<target>/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on stable Rust through
# RUSTC_BOOTSTRAP=1 (see README.md). Set FUZZ_SANITIZER=none to skip ASan.
set -euo pipefail
secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"

seed_corpora() {
    local t
    for t in $(cargo fuzz list --fuzz-dir tests/fuzz); do
        mkdir -p "tests/fuzz/corpus/$t"
        if [ -d "tests/fuzz/seeds/$t" ]; then
            cp -n tests/fuzz/seeds/"$t"/* "tests/fuzz/corpus/$t/" 2>/dev/null || true
        fi
    done
    python3 - "$root" <<'PY'
import glob, os, sys
root = sys.argv[1]
vec = sorted(glob.glob(os.path.join(root, "tests/vectors/sip/**/*.dat"), recursive=True))
corpus = os.path.join(root, "tests/fuzz/corpus")
def put(target, name, data):
    d = os.path.join(corpus, target)
    if os.path.isdir(d):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
msgs = []
for p in vec:
    name = "vec-" + os.path.basename(p)[:-4]
    data = open(p, "rb").read()
    put("sip_message", name, data)
    if b"\r\n" not in data:
        # The RFC 4475 copies have LF line ends; add the CRLF wire form too.
        data = data.replace(b"\n", b"\r\n")
        put("sip_message", name + "-crlf", data)
    msgs.append(data)
    head, sep, body = data.partition(b"\r\n\r\n")
    if sep and b"v=0" in body:
        put("sdp", name, body)
    # stream_framing: first byte is the chunk size, then the stream
    put("stream_framing", name, bytes([7]) + data)
    auth = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
            if l.lower().startswith((b"authorization:", b"proxy-authorization:",
                                     b"www-authenticate:", b"proxy-authenticate:"))]
    if auth:
        put("digest_header", name, auth[0])
for i in range(0, len(msgs) - 1, 3):
    put("stream_framing", f"vec-stream-{i}", bytes([i * 13 % 256]) + b"".join(msgs[i:i + 3]))
PY
}

seed_corpora
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cargo fuzz list --fuzz-dir tests/fuzz))
status=0
for t in "${targets[@]}"; do
    echo "=== $t: ${secs}s (sanitizer: $sanitizer)"
    cargo fuzz run --fuzz-dir tests/fuzz --sanitizer "$sanitizer" "$t" \
        "tests/fuzz/corpus/$t" -- -max_total_time="$secs" -max_len=8192 -timeout=10 \
        || { echo "!!! $t failed: see tests/fuzz/artifacts/$t/"; status=1; }
done
exit "$status"
