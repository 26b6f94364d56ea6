#!/usr/bin/env python3
"""Reads alarmgate's DC-09 replies with pysiaalarm (PyPI), a parser nobody
here wrote. pysiaalarm parses requests, not replies (its line regex takes
SIA-DCS, ADM-CID and NULL only), so each reply is checked with its parts:
its CRC function and length rule on our frame, its AES decryption of our
*ACK (which must open to `]_<timestamp>`, a time its format parses), and
its own answer to the same request, which our plain ACK/NAK must equal in
type (and, for a plain ACK, byte for byte).

usage: dc09_pysia_check.py CASES_JSON
CASES_JSON: a list of {"request", "reply", "account", "key" (ASCII or null)}.
Prints one JSON line per case.
"""
import json
import re
import sys
from datetime import datetime

from pysiaalarm import SIAAccount
from pysiaalarm.event import SIAEvent


def check(case):
    out = {}
    request, reply = case["request"].strip("\n\r"), case["reply"]
    accounts = {case["account"]: SIAAccount(case["account"], case.get("key"))}
    event = SIAEvent.from_line(request, accounts)
    out["request_crc_ok"] = event.valid_message
    ours = reply[1:-1]
    crc, length, body = ours[0:4], ours[4:8], ours[8:]
    out["crc_ok"] = SIAEvent._crc_calc(body) == crc
    out["length_ok"] = int(length, 16) == len(body)
    m = re.match(r'"(\*?)(ACK|NAK|DUH)"', body)
    out["type"] = (m.group(1) + m.group(2)) if m else None
    theirs = event.create_response().decode("ascii")
    out["pysia_type"] = event.response.value if event.response else None
    if out["type"] == "ACK":
        out["same_as_pysia"] = theirs == reply
        out["pysia_reply"] = theirs
    if out["type"] == "*ACK":
        enc = SIAEvent(full_message=body, msg_crc=crc, length=length, encrypted=True,
                       encrypted_content=body[body.index("[") + 1:], sia_account=accounts[case["account"]])
        enc.decrypt_content()
        out["decrypted"] = enc.content
        ts = enc.content.split("]_")[-1]
        out["time_ok"] = bool(datetime.strptime(ts, "%H:%M:%S,%m-%d-%Y"))
    if out["type"] == "NAK":
        ts = body.split("]_")[-1]
        out["time_ok"] = bool(datetime.strptime(ts, "%H:%M:%S,%m-%d-%Y"))
    return out


def main():
    for case in json.loads(sys.argv[1]):
        print(json.dumps(check(case)), flush=True)


if __name__ == "__main__":
    main()
