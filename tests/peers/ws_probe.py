"""Bad input against a SIP/WebSocket listener; one JSON line per case.

Cases (``--case``, repeatable, in order):
- ``no-subprotocol``: an upgrade offering only ``chat``: the HTTP status and body.
- ``malformed``: a frame of broken SIP text: the answer (400) or nothing,
  and whether the socket stays open.
- ``malformed-400``: broken SIP with a usable Via (a CSeq that is no
  number): the answer, 400.
- ``binary-garbage``: a binary frame that is not UTF-8: the close code.
- ``big``: a 1 MB text frame: the close code.
- ``no-upgrade``: a TCP connection that never finishes its HTTP upgrade:
  how long until the daemon closes it.
- ``offer-no-fingerprint`` / ``offer-no-ice``: an INVITE over the socket
  whose WebRTC offer (UDP/TLS/RTP/SAVPF) lacks ``a=fingerprint`` / the ICE
  credentials: the final status and its Warning header.
- ``options``: an OPTIONS over a fresh socket: the status (the node is up).
"""

import argparse
import socket
import time
import warnings
from urllib.parse import urlparse

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_sip import emit, first_line, header, rand

# The sync client's connect() outside a `with` is what these short probes want.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def sip_socket(url):
    return connect(url, subprotocols=["sip"], open_timeout=10, max_size=None)


def close_code(ws, timeout=10.0):
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None
    except TimeoutError:
        return "open"


def no_subprotocol(url):
    try:
        ws = connect(url, subprotocols=["chat"], open_timeout=10)
        ws.close()
        emit("no-subprotocol", status=101, chosen=ws.subprotocol)
    except InvalidStatus as e:
        body = e.response.body.decode(errors="replace") if e.response.body else ""
        emit("no-subprotocol", status=e.response.status_code, body=body)


def malformed(url):
    ws = sip_socket(url)
    ws.send("INVITE sip:112@x SIP/2.0\r\nVia: SIP/2.0/WS !!broken\r\nCSeq: x\r\n\r\n")
    try:
        answer = first_line(ws.recv(timeout=3))
    except TimeoutError:
        answer = None
    still = options_on(ws)
    emit("malformed", answer=answer, then_options=still)
    ws.close()


def malformed_400(url):
    """Broken SIP that still names its Via: the daemon can answer 400."""
    ws = sip_socket(url)
    host = rand(10) + ".invalid"
    ws.send(
        f"OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS {host};branch=z9hG4bK{rand(9)}\r\n"
        f"To: <sip:probe@127.0.0.1>\r\nFrom: <sip:p@{host}>;tag=1\r\nCall-ID: {rand(9)}\r\n"
        "CSeq: banana OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        answer = first_line(ws.recv(timeout=3))
    except TimeoutError:
        answer = None
    emit("malformed-400", answer=answer)
    ws.close()


def binary_garbage(url):
    ws = sip_socket(url)
    ws.send(bytes([0xFF, 0xFE, 0x00, 0x81]) * 64)
    emit("binary-garbage", close=close_code(ws))


def big(url):
    ws = sip_socket(url)
    try:
        ws.send("X" * (1024 * 1024))
    except ConnectionClosed:
        pass
    emit("big", close=close_code(ws))


def no_upgrade(url):
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
    start = time.time()
    s.settimeout(60)
    try:
        while s.recv(1024):
            pass
        how = "closed"
    except (ConnectionResetError, socket.timeout) as e:
        how = type(e).__name__
    emit("no-upgrade", how=how, after_s=round(time.time() - start, 2))


def options_on(ws):
    host = rand(10) + ".invalid"
    ws.send(
        "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/WS {host};branch=z9hG4bK{rand(9)}\r\nMax-Forwards: 70\r\n"
        f"To: <sip:probe@127.0.0.1>\r\nFrom: <sip:probe@{host}>;tag={rand(6)}\r\n"
        f"Call-ID: {rand(16)}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        return first_line(ws.recv(timeout=5))
    except (TimeoutError, ConnectionClosed):
        return None


def options(url):
    ws = sip_socket(url)
    emit("options", answer=options_on(ws))
    ws.close()


# A browser's offer as Chromium makes it (trimmed), for the cut cases.
WEBRTC_OFFER = (
    "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Zx9q\r\na=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
    "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"
)


def bad_offer(url, case, cut):
    """An INVITE whose WebRTC offer lacks the lines starting with `cut`."""
    ws = sip_socket(url)
    host = rand(10) + ".invalid"
    body = "".join(line + "\r\n" for line in WEBRTC_OFFER.split("\r\n")
                   if line and not any(line.startswith(c) for c in cut))
    ws.send(
        "INVITE sip:112@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/WS {host};branch=z9hG4bK{rand(9)}\r\nMax-Forwards: 70\r\n"
        f"To: <sip:112@127.0.0.1>\r\nFrom: <sip:4511111111@{host}>;tag={rand(6)}\r\n"
        f"Call-ID: {rand(16)}\r\nCSeq: 1 INVITE\r\nContact: <sip:u@{host};transport=ws>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )
    final, warning = None, None
    deadline = time.time() + 10
    try:
        while time.time() < deadline and final is None:
            msg = ws.recv(timeout=max(0.1, deadline - time.time()))
            msg = msg.decode() if isinstance(msg, bytes) else msg
            code = int(first_line(msg).split(" ")[1]) if msg.startswith("SIP/2.0 ") else 0
            if code >= 200:
                final, warning = first_line(msg), header(msg, "Warning")
    except (TimeoutError, ConnectionClosed):
        pass
    emit(case, answer=final, warning=warning, then_options=options_on(ws))
    ws.close()


CASES = {
    "offer-no-fingerprint": lambda url: bad_offer(url, "offer-no-fingerprint", ["a=fingerprint"]),
    "offer-no-ice": lambda url: bad_offer(url, "offer-no-ice", ["a=ice-ufrag", "a=ice-pwd"]),
    "no-subprotocol": no_subprotocol,
    "malformed": malformed,
    "malformed-400": malformed_400,
    "binary-garbage": binary_garbage,
    "big": big,
    "no-upgrade": no_upgrade,
    "options": options,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--case", action="append", choices=sorted(CASES), required=True)
    a = p.parse_args()
    for case in a.case:
        CASES[case](a.url)
    emit("done")


if __name__ == "__main__":
    main()
