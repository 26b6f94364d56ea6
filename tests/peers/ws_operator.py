"""A browser-like operator phone over SIP/WebSocket (JsSIP's messages).

Registers with digest over ws://, answers OPTIONS keep-alives, and on an
INVITE sends 100 and 180 over the same socket, then (``--on-invite close``)
closes the socket while ringing, as a closed browser tab does, or keeps
ringing (``ring``). One JSON line per event on stdout:
``registered`` (with the 200's Via), ``incoming`` (Request-URI, Via),
``closed``, ``done``.
"""

import argparse
import time

from websockets.sync.client import connect

from ws_sip import Browser, emit, fail, first_line, header, rand


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--on-invite", choices=["close", "ring"], default="close")
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()

    ws = connect(a.url, subprotocols=["sip"], open_timeout=10)
    if ws.subprotocol != "sip":
        fail(f"server chose subprotocol {ws.subprotocol!r}")
    ua = Browser(ws, a.user, a.realm)
    resp = ua.login(a.password)
    if " 200 " not in first_line(resp):
        fail(f"REGISTER: {first_line(resp)}")
    emit("registered", via=header(resp, "Via"), contact=header(resp, "Contact"))
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        try:
            msg = ua.recv(timeout=max(0.1, deadline - time.time()))
        except TimeoutError:
            break
        line = first_line(msg)
        if line.startswith("OPTIONS "):
            ua.respond(msg, 200, "OK")
        elif line.startswith("INVITE "):
            ua.respond(msg, 100, "Trying")
            ua.respond(msg, 180, "Ringing", to_tag=rand(8))
            emit("incoming", ruri=line.split(" ")[1], via=header(msg, "Via"),
                 contact=header(msg, "Contact"), call_id=header(msg, "Call-ID"))
            if a.on_invite == "close":
                time.sleep(0.3)
                ws.close()
                emit("closed")
                break
        elif line.startswith("CANCEL "):
            ua.respond(msg, 200, "OK")
            emit("cancelled")
    emit("done")


if __name__ == "__main__":
    main()
