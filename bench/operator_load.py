#!/usr/bin/env python3
"""Analysis for bench/operator_load.sh: kissoff -> operator's phone ringing.

Usage: python3 bench/operator_load.py RUN_DIR

RUN_DIR holds what the script left there: metrics.txt (the daemon's /metrics
at the end), events.jsonl (`alarmgate events replay`), op*/msg.log (each
operator SIPp's -trace_msg), sim.json (the simulator's report).

Per device call (subject = its SIP Call-ID in the journal):
  ack     alarm.acknowledged (the kissoff starts), journal time, ms
  queued  call.queued, ms
  offered the first call.offered (operator), ms
  ring    the 180 that operator's SIPp sent for the matching INVITE, µs
Offers are matched to the INVITEs an operator received in order: the first
INVITE not yet taken that arrived no earlier than 50 ms before the offer's journal
time (records are stamped when built, a few ms after the INVITE went out).

The last line is a one-line summary (key=value) for results.txt.
"""
import glob
import json
import os
import re
import sys
from datetime import datetime


def pct(values, p):
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return None
    k = max(0, min(len(values) - 1, int(round(p * len(values) + 0.5)) - 1))
    return values[k]


def hist_quantile(buckets, count, q):
    """Prometheus-style linear interpolation inside the bucket holding q."""
    if count == 0:
        return None
    rank = q * count
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def read_histogram(path, name):
    buckets, count, total = [], 0, 0.0
    if not os.path.exists(path):
        return buckets, count, total
    for line in open(path):
        if line.startswith(name + "_bucket"):
            m = re.search(r'le="([^"]+)"\}\s+(\S+)', line)
            if m:
                le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
                buckets.append((le, float(m.group(2))))
        elif line.startswith(name + "_count"):
            count = int(float(line.split()[-1]))
        elif line.startswith(name + "_sum"):
            total = float(line.split()[-1])
    buckets.sort()
    return buckets, count, total


def epoch(ts):
    """RFC 3339 UTC with milliseconds -> seconds since the epoch."""
    return datetime.strptime(ts.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def read_events(path):
    calls = {}
    types = {}
    if not os.path.exists(path):
        return calls, types
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        kind = e.get("type", "").replace("alarmgate.", "")
        types[kind] = types.get(kind, 0) + 1
        c = calls.setdefault(e.get("subject", "?"), {})
        t = epoch(e["time"])
        data = e.get("data") or {}
        if kind == "alarm.acknowledged":
            c.setdefault("ack", t)
        elif kind == "call.queued":
            c.setdefault("queued", t)
        elif kind == "call.offered":
            c.setdefault("offers", []).append((t, data.get("operator")))
        elif kind == "call.answered":
            c.setdefault("answered", t)
        elif kind == "call.overflowed":
            c.setdefault("overflowed", []).append(data)
        elif kind == "call.started":
            c.setdefault("started", t)
        elif kind == "call.ended":
            c["ended"] = (t, data.get("reason"))
    calls = {k: v for k, v in calls.items() if "started" in v or "ack" in v}
    return calls, types


# SIPp 3.6: "----...---- 2026-11-22 11:45:35.404109" (local time, µs)
SEP = re.compile(r"^-{20,}\s+(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)")


def read_trace(path):
    """(time, direction, first line, Call-ID) for each message in a -trace_msg log."""
    out = []
    cur = None
    for line in open(path, errors="replace"):
        m = SEP.match(line)
        if m:
            if cur:
                out.append(cur)
            t = datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            cur = {"t": t, "dir": None, "first": None, "cid": None}
            continue
        if cur is None:
            continue
        s = line.strip()
        if cur["dir"] is None and "message" in s:
            cur["dir"] = "in" if "received" in s else "out"
        elif cur["first"] is None and s and cur["dir"] is not None:
            cur["first"] = s
        elif s.lower().startswith("call-id:") and cur["cid"] is None:
            cur["cid"] = s.split(":", 1)[1].strip()
    if cur:
        out.append(cur)
    return out


def read_phones(run):
    """Per operator (the INVITE's Request-URI user): INVITEs in arrival order, each {cid, invite, ring}."""
    phones = {}
    for path in glob.glob(os.path.join(run, "op*", "msg.log")):
        legs = {}
        for m in read_trace(path):
            if not m["cid"] or not m["first"]:
                continue
            if m["dir"] == "in" and m["first"].startswith("INVITE ") and m["cid"] not in legs:
                user = re.match(r"INVITE sips?:([^@;>\s]+)@", m["first"])
                op = user.group(1) if user else "?"
                legs[m["cid"]] = {"cid": m["cid"], "invite": m["t"], "ring": None}
                phones.setdefault(op, []).append(legs[m["cid"]])
            elif m["dir"] == "out" and m["first"].startswith("SIP/2.0 18") and m["cid"] in legs:
                if legs[m["cid"]]["ring"] is None:
                    legs[m["cid"]]["ring"] = m["t"]
    for legs in phones.values():
        legs.sort(key=lambda leg: leg["invite"])
    return phones


def read_phone_stats(run):
    """SIPp's own verdict per phone: cumulative successful/failed calls, OPTIONS answered."""
    ok = failed = options = 0
    for path in glob.glob(os.path.join(run, "op*", "uas.out")):
        last = {}
        for line in open(path, errors="replace"):
            for key in ("Successful call", "Failed call"):
                if line.strip().startswith(key):
                    last[key] = int(line.split("|")[2].strip())
        ok += last.get("Successful call", 0)
        failed += last.get("Failed call", 0)
    for path in glob.glob(os.path.join(run, "op*", "msg.log")):
        options += sum(1 for line in open(path, errors="replace") if line.startswith("OPTIONS "))
    return ok, failed, options


def ms(x):
    return "-" if x is None else f"{1000 * x:.1f}"


def main():
    run = sys.argv[1]
    buckets, count, total = read_histogram(
        os.path.join(run, "metrics.txt"), "alarmgate_queue_to_ring_seconds"
    )
    h50 = hist_quantile(buckets, count, 0.5)
    h99 = hist_quantile(buckets, count, 0.99)
    print(f"histogram alarmgate_queue_to_ring_seconds: count={count} mean={ms(total / count if count else None)} ms "
          f"p50~{ms(h50)} ms p99~{ms(h99)} ms (linear inside buckets)")
    print("  buckets: " + " ".join(f"le{le:g}={c:g}" for le, c in buckets))

    calls, types = read_events(os.path.join(run, "events.jsonl"))
    print("journal events: " + " ".join(f"{k}={v}" for k, v in sorted(types.items())))
    phones = read_phones(run)
    taken = {op: 0 for op in phones}
    used = {op: set() for op in phones}

    k2r, k2o, q2r, o2r, k2q = [], [], [], [], []
    never, unmatched, rang = [], 0, 0
    for cid, c in sorted(calls.items(), key=lambda kv: kv[1].get("ack", kv[1].get("started", 0))):
        if "queued" not in c:
            continue
        ring = None
        if c.get("offers"):
            t_off, op = c["offers"][0]
            legs = phones.get(op, [])
            for i, leg in enumerate(legs):
                if i in used.get(op, set()):
                    continue
                if leg["invite"] >= t_off - 0.050:
                    used[op].add(i)
                    ring = leg["ring"]
                    o2r.append((ring - t_off) if ring else None)
                    break
            else:
                unmatched += 1
            if "ack" in c:
                k2o.append(t_off - c["ack"])
        if "ack" in c:
            k2q.append(c["queued"] - c["ack"])
        if ring is None:
            never.append((cid, c))
            continue
        rang += 1
        if "ack" in c:
            k2r.append(ring - c["ack"])
        q2r.append(ring - c["queued"])

    def line(name, v):
        v = sorted(x for x in v if x is not None)
        if not v:
            print(f"{name}: none")
            return None, None
        p50, p99 = pct(v, 0.5), pct(v, 0.99)
        print(f"{name}: n={len(v)} min={ms(v[0])} p50={ms(p50)} p90={ms(pct(v, 0.9))} p99={ms(p99)} max={ms(v[-1])} ms")
        return p50, p99

    print("per call, journal times (ms resolution) and the phone's 180 (µs):")
    line("  kissoff (alarm.acknowledged) -> call.queued", k2q)
    line("  kissoff -> call.offered", k2o)
    line("  call.offered -> 180 sent by the phone", o2r)
    line("  call.queued -> 180 sent", q2r)
    k50, k99 = line("  kissoff -> 180 sent (kissoff to ringing)", k2r)

    queued = sum(1 for c in calls.values() if "queued" in c)
    acked = sum(1 for c in calls.values() if "ack" in c)
    print(f"calls: started={sum(1 for c in calls.values() if 'started' in c)} acknowledged={acked} "
          f"queued={queued} rang={rang} "
          f"never_rang={len(never)} offers_without_invite={unmatched}")
    for cid, c in never[:20]:
        print(f"  never rang: {cid} offers={c.get('offers')} overflowed={c.get('overflowed')} ended={c.get('ended')}")

    p_ok, p_failed, p_options = read_phone_stats(run)
    print(f"phones (SIPp): calls ok={p_ok} failed={p_failed}; keep-alive OPTIONS answered={p_options}")
    sim_ok = sim_n = 0
    fails = {}
    try:
        r = json.load(open(os.path.join(run, "sim.json")))
        for c in r["calls"]:
            sim_n += 1
            sim_ok += bool(c["success"])
            if not c["success"]:
                k = (c.get("failure") or "?")[:70]
                fails[k] = fails.get(k, 0) + 1
    except Exception as e:  # noqa: BLE001 - a missing report is a result too
        fails[f"no simulator report: {e}"] = 1
    for k, n in fails.items():
        print(f"  simulator failure x{n}: {k}")
    print(
        f"summary: sim_calls={sim_n} sim_ok={sim_ok} phones_ok={p_ok} phones_failed={p_failed} "
        f"queued={queued} never_rang={len(never)} "
        f"k2r_p50={ms(k50)}ms k2r_p99={ms(k99)}ms hist_n={count} hist_p50~{ms(h50)}ms hist_p99~{ms(h99)}ms"
    )


if __name__ == "__main__":
    main()
