"""Minimal SIP over WebSocket (RFC 7118) helpers for the interop tests.

Messages are written the way JsSIP 3.x writes them (Via ``SIP/2.0/WS`` with a
``.invalid`` sent-by, Contact ``sip:user@host.invalid;transport=ws`` with
``reg-id``/``+sip.instance``), so the daemon sees what a browser phone sends.
Uses the ``websockets`` package (sync client).
"""

import hashlib
import json
import random
import re
import string
import sys
import time


def rand(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def emit(ev, **kw):
    kw = {"ev": ev, "t": time.time(), **kw}
    print(json.dumps(kw), flush=True)


def first_line(msg):
    return msg.split("\r\n", 1)[0]


def header(msg, name):
    """The first value of header `name` (compact forms not handled)."""
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def headers(msg, name):
    out = []
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def digest_answer(challenges, user, password, method, uri):
    """An Authorization value answering the MD5 challenge among `challenges`."""
    for c in challenges:
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', c[len("Digest"):]))
        if params.get("algorithm", "MD5").upper() != "MD5":
            continue
        ha1 = md5(f"{user}:{params['realm']}:{password}")
        ha2 = md5(f"{method}:{uri}")
        cnonce, nc = rand(8), "00000001"
        resp = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest algorithm=MD5, username="{user}", realm="{params["realm"]}", '
            f'nonce="{params["nonce"]}", uri="{uri}", response="{resp}", qop=auth, '
            f'cnonce="{cnonce}", nc={nc}'
            + (f', opaque="{params["opaque"]}"' if "opaque" in params else "")
        )
    raise SystemExit(f"no MD5 challenge in {challenges}")


class Browser:
    """One JsSIP-like user agent on one WebSocket."""

    def __init__(self, ws, user, realm):
        self.ws, self.user, self.realm = ws, user, realm
        self.host = rand(12) + ".invalid"
        self.contact = f"sip:{rand(8)}@{self.host};transport=ws"
        self.call_id = rand(20)
        self.tag = rand(10)
        self.cseq = 0
        self.instance = f"urn:uuid:{rand(8)}-{rand(4)}-{rand(4)}"

    def register(self, password, auth=None):
        self.cseq += 1
        uri = f"sip:{self.realm}"
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/WS {self.host};branch=z9hG4bK{rand(9)}",
            "Max-Forwards: 69",
            f"To: <sip:{self.user}@{self.realm}>",
            f"From: <sip:{self.user}@{self.realm}>;tag={self.tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f'Contact: <{self.contact}>;+sip.ice;reg-id=1;+sip.instance="<{self.instance}>";expires=600',
            "Expires: 600",
            "Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY",
            "Supported: path,gruu,outbound",
            "User-Agent: JsSIP 3.13.0 (ws_sip.py)",
        ]
        if auth:
            lines.append(f"Authorization: {auth}")
        lines += ["Content-Length: 0", "", ""]
        self.ws.send("\r\n".join(lines))

    def recv(self, timeout):
        msg = self.ws.recv(timeout=timeout)
        return msg.decode() if isinstance(msg, bytes) else msg

    def login(self, password, timeout=10.0):
        """REGISTER, answer the digest challenge; returns the final response."""
        self.register(password)
        resp = self.recv(timeout)
        if " 401 " in first_line(resp):
            auth = digest_answer(
                headers(resp, "WWW-Authenticate"), self.user, password, "REGISTER", f"sip:{self.realm}"
            )
            self.register(password, auth)
            resp = self.recv(timeout)
        return resp

    def respond(self, req, code, reason, to_tag=None, extra=(), body=""):
        to = header(req, "To")
        if to_tag and "tag=" not in to:
            to = f"{to};tag={to_tag}"
        lines = [f"SIP/2.0 {code} {reason}"]
        lines += [f"Via: {v}" for v in headers(req, "Via")]
        lines += [
            f"To: {to}",
            f"From: {header(req, 'From')}",
            f"Call-ID: {header(req, 'Call-ID')}",
            f"CSeq: {header(req, 'CSeq')}",
        ]
        lines += list(extra)
        lines += [f"Content-Length: {len(body.encode())}", "", body]
        self.ws.send("\r\n".join(lines))


def fail(why):
    emit("error", why=why)
    sys.exit(1)
