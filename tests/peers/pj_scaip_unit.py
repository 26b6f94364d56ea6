"""pjsua2 SCAIP unit for alarmgate's interop tests (tests/interop/scaip.rs).

A pjsip user agent (PyPI `pjsua2-python`, null audio) on 127.0.0.1 that
plays a SCAIP social-alarm unit: it sends each --body as a SIP MESSAGE with
Content-Type application/scaip+xml to --uri (pjsua2 sends MESSAGE with any
content type), collects the final status of each and the centre's <mrs>
answers (a MESSAGE back to us, which pjsua answers 200), then, with --call,
places the voice call to --uri from the same number and keeps it until the
far end hangs up (or --hold seconds after the answer). Prints one JSON line:
  {statuses: [int...], mrs: [str...], connected, ended_by_remote, call_id}
Exit 0 when every MESSAGE got a 2xx, --expect-mrs answers came, and (with
--call) the call connected.

Run: .venv/bin/python tests/peers/pj_scaip_unit.py --uri sip:112@127.0.0.1:5060 \
        --body '<mrq>...</mrq>' --expect-mrs 1
"""
import argparse
import json
import sys
import time

import pjsua2 as pj

from pj_call import Call, finish, hangup, make_account, make_endpoint, pump

CONTENT_TYPE = "application/scaip+xml"


class UnitAcc(pj.Account):
    """Records MESSAGE statuses and the <mrs> bodies received."""

    def __init__(self):
        super().__init__()
        self.statuses = []
        self.mrs = []

    def onInstantMessageStatus(self, prm):
        self.statuses.append(prm.code)

    def onInstantMessage(self, prm):
        self.mrs.append(prm.msgBody)


def send(acc, uri, body, buddies):
    cfg = pj.BuddyConfig()
    cfg.uri = uri
    cfg.subscribe = False
    b = pj.Buddy()
    b.create(acc, cfg)
    buddies.append(b)
    prm = pj.SendInstantMessageParam()
    prm.content = body
    prm.contentType = CONTENT_TYPE
    b.sendInstantMessage(prm)


def run(a):
    ep = make_endpoint(a)
    acc = make_account(a, UnitAcc(), a.caller)
    deadline = time.time() + a.timeout
    buddies = []
    for i, body in enumerate(a.body):
        send(acc, a.uri, body, buddies)
        # one at a time, as a unit does: wait for this one's final status
        pump(ep, lambda: len(acc.statuses) > i, deadline)
    pump(ep, lambda: len(acc.mrs) >= a.expect_mrs, deadline)
    res = {"statuses": acc.statuses, "mrs": list(acc.mrs), "connected": False,
           "ended_by_remote": False, "call_id": None}
    ok = len(acc.statuses) == len(a.body) and all(200 <= s < 300 for s in acc.statuses)
    ok = ok and len(acc.mrs) >= a.expect_mrs
    if a.call:
        call = Call(acc)
        call.makeCall(a.uri, pj.CallOpParam(True))
        call_deadline = time.time() + a.timeout
        pump(ep, lambda: call.confirmed_at or call.disconnected_at, call_deadline, [call])
        if call.confirmed_at and not call.disconnected_at:
            pump(ep, lambda: call.disconnected_at, call.confirmed_at + a.hold, [call])
        if not call.disconnected_at:
            hangup(call)
        pump(ep, lambda: call.disconnected_at, time.time() + 10, [])
        res["connected"] = call.confirmed_at is not None
        res["ended_by_remote"] = bool(call.disconnected_at) and not call.hangup_local
        res["call_id"] = call.sip_call_id
        ok = ok and res["connected"]
        del call
    res["mrs"] = list(acc.mrs)
    print(json.dumps(res), flush=True)
    del buddies
    return finish(ep, 0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", default="sip:112@127.0.0.1:5060")
    p.add_argument("--caller", default="4512345678")
    p.add_argument("--local-port", type=int, default=5070)
    p.add_argument("--transport", choices=["udp", "tcp", "tls"], default="udp")
    p.add_argument("--rtp-port", type=int, default=24000)
    p.add_argument("--body", action="append", default=[], help="an <mrq> to send (repeatable, in order)")
    p.add_argument("--expect-mrs", type=int, default=0, help="<mrs> answers to wait for")
    p.add_argument("--call", action="store_true", help="then place the voice call")
    p.add_argument("--hold", type=float, default=30.0, help="seconds to keep the call after the answer")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--codecs", default="PCMA,PCMU")
    p.add_argument("--log-level", type=int, default=1)
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
