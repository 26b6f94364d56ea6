"""A browser-like operator phone over SIP/WebSocket (JsSIP's messages).

Registers with digest over ws://, answers OPTIONS keep-alives, and on an
INVITE sends 100 and 180 over the same socket, then (``--on-invite close``)
closes the socket while ringing, as a closed browser tab does, or keeps
ringing (``ring``). One JSON line per event on stdout:
``registered`` (with the 200's Via), ``incoming`` (Request-URI, Via),
``closed``, ``done``.
"""

import argparse
import re
import socket
import time

from websockets.sync.client import connect

from ws_sip import Browser, emit, fail, first_line, header, rand


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--on-invite", choices=["close", "ring", "answer-dtmf"], default="close")
    p.add_argument("--dtmf", default="1#")
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
            if a.on_invite == "answer-dtmf":
                answer_and_send_dtmf(ua, msg, a.dtmf)
                break
        elif line.startswith("CANCEL "):
            ua.respond(msg, 200, "OK")
            emit("cancelled")
    emit("done")


def sdp_answer(offer, port):
    """PCMU and telephone-event with the offer's payload types."""
    te = re.search(r"a=rtpmap:(\d+) telephone-event/8000", offer)
    te_pt = te.group(1) if te else "101"
    return (
        f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 {te_pt}\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:{te_pt} telephone-event/8000\r\na=fmtp:{te_pt} 0-16\r\na=sendrecv\r\n"
    )


def in_dialog(ua, invite, our_tag, method, cseq, ctype=None, body=""):
    target = re.search(r"<([^>]+)>", header(invite, "Contact")).group(1)
    lines = [
        f"{method} {target} SIP/2.0",
        f"Via: SIP/2.0/WS {ua.host};branch=z9hG4bK{rand(9)}",
        "Max-Forwards: 69",
        f"To: {header(invite, 'From')}",
        f"From: {header(invite, 'To')};tag={our_tag}",
        f"Call-ID: {header(invite, 'Call-ID')}",
        f"CSeq: {cseq} {method}",
    ]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    ua.ws.send("\r\n".join(lines))


def wait_response(ua, method, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = ua.recv(timeout=max(0.1, deadline - time.time()))
        if msg.startswith("SIP/2.0 ") and header(msg, "CSeq").endswith(method):
            return first_line(msg)
        if first_line(msg).startswith("OPTIONS "):
            ua.respond(msg, 200, "OK")
    return None


def answer_and_send_dtmf(ua, invite, keys):
    """200 with SDP, wait for the ACK, INFO per key, BYE."""
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    body = sdp_answer(invite.split("\r\n\r\n", 1)[1], rtp.getsockname()[1])
    tag = rand(8)
    ua.respond(invite, 200, "OK", to_tag=tag, extra=(
        f"Contact: <{ua.contact}>", "Content-Type: application/sdp"), body=body)
    deadline = time.time() + 5
    while time.time() < deadline:
        if first_line(ua.recv(timeout=5)).startswith("ACK "):
            break
    emit("answered")
    time.sleep(1.0)
    for i, key in enumerate(keys):
        in_dialog(ua, invite, tag, "INFO", i + 1, "application/dtmf-relay",
                  f"Signal={key}\r\nDuration=160\r\n")
        emit("info", key=key, status=wait_response(ua, "INFO"))
        time.sleep(0.4)
    time.sleep(1.0)
    in_dialog(ua, invite, tag, "BYE", len(keys) + 1)
    emit("bye", status=wait_response(ua, "BYE"))


if __name__ == "__main__":
    main()
