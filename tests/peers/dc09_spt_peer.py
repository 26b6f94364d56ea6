#!/usr/bin/env python3
"""An independent SIA DC-09 sender: my-dc09-spt (PyPI) builds every frame
(CRC, length, AES with its own pad, timestamp), sends it over its own TCP or
UDP transmit path and checks our answer with its own dc09answer().

usage: dc09_spt_peer.py HOST PORT CASES_JSON
CASES_JSON: a list of {"name", "transport": "tcp"|"udp", "account", "key"
(ASCII, 16 or 32 chars, or null), "receiver", "line", "type":
"ADM-CID"|"SIA-DCS"|"NULL", "seq", "params": {...}}.
Prints one JSON line per case: {"name", "answer", "raw", "error"}.
"""
import json
import sys

from my_dc09_spt.comm.transpath import TransPath
from my_dc09_spt.msg.dc03_msg import dc03_msg
from my_dc09_spt.msg.dc05_msg import dc05_msg
from my_dc09_spt.msg.dc09_msg import dc09_msg


def payload(case):
    params = case.get("params", {})
    if case["type"] == "ADM-CID":
        return dc05_msg.dc05event(case["account"], params)
    if case["type"] == "SIA-DCS":
        return dc03_msg.dc03event(case["account"], params)
    return "]"


def run(host, port, case):
    key = case["key"].encode() if case.get("key") else None
    path = TransPath(host, port, case["account"], key=key, receiver=case.get("receiver"),
                     line=case.get("line"), type=case["transport"], timeout=10.0)
    msg = dc09_msg(case["account"], key, case.get("receiver"), case.get("line"))
    block = msg.dc09block(case["seq"], case["type"], payload(case))
    conn = path.connect()
    answer = conn.sendAndReceive(block.encode("ascii"), 1024)
    conn.disconnect()
    out = {"name": case["name"], "answer": None, "raw": None, "error": None}
    if answer is None:
        out["error"] = "no answer"
        return out
    out["raw"] = answer.decode("ascii", "replace")
    try:
        out["answer"] = msg.dc09answer(case["seq"], answer.decode("ascii"))[0]
    except Exception as e:  # the library's own check failed
        out["error"] = repr(e)
    return out


def main():
    host, port, cases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    for case in cases:
        print(json.dumps(run(host, port, case)), flush=True)


if __name__ == "__main__":
    main()
