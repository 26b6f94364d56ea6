"""A browser-like operator phone over SIP/WebSocket (JsSIP's messages).

Registers with digest over ws://, answers OPTIONS keep-alives, and on an
INVITE sends 100 and 180 over the same socket, then (``--on-invite close``)
closes the socket while ringing, as a closed browser tab does, keeps
ringing (``ring``), or (``answer-no-fingerprint`` / ``answer-no-ice``)
answers with a WebRTC answer lacking ``a=fingerprint`` / the ICE
credentials and reports what the daemon does with it (ACK, BYE). One JSON
line per event on stdout: ``registered`` (with the 200's Via),
``incoming`` (Request-URI, Via), ``closed``, ``ack``, ``bye`` (its Reason
header), ``done``.
"""

import argparse
import re
import time

from websockets.sync.client import connect

from ws_sip import Browser, emit, fail, first_line, header, rand


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--on-invite", choices=["close", "ring", "answer-no-fingerprint", "answer-no-ice"],
                   default="close")
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
            if a.on_invite.startswith("answer-"):
                cut = ["a=fingerprint"] if a.on_invite == "answer-no-fingerprint" else ["a=ice-"]
                ua.respond(msg, 200, "OK", to_tag=rand(8), body=bad_answer(msg, cut),
                           extra=(f"Contact: <{ua.contact}>", "Content-Type: application/sdp"))
        elif line.startswith("ACK "):
            emit("ack")
        elif line.startswith("BYE "):
            ua.respond(msg, 200, "OK")
            emit("bye", reason=header(msg, "Reason"))
            break
        elif line.startswith("CANCEL "):
            ua.respond(msg, 200, "OK")
            emit("cancelled")
    emit("done")


def bad_answer(invite, cut):
    """A browser's WebRTC answer to `invite`'s offer, without the `cut` lines."""
    offer = invite.split("\r\n\r\n", 1)[1]
    pt = re.search(r"a=rtpmap:(\d+) PCMU/8000", offer)
    pt = pt.group(1) if pt else "0"
    lines = [
        "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0",
        f"m=audio 9 UDP/TLS/RTP/SAVPF {pt}", "c=IN IP4 127.0.0.1",
        "a=ice-ufrag:Ab12", "a=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:active",
        "a=mid:0", "a=sendrecv", "a=rtcp-mux", f"a=rtpmap:{pt} PCMU/8000",
        "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    ]
    return "".join(f"{line}\r\n" for line in lines if not any(line.startswith(c) for c in cut))


if __name__ == "__main__":
    main()
