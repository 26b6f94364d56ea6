"""pjsua2 peer for alarmgate's interop tests (tests/interop/pj.rs, standin.rs).

A full SIP user agent (pjsip, PyPI `pjsua2-python`) with a null audio device,
on 127.0.0.1 only, over --transport (UDP, TCP or TLS). Three modes:

  call    dial --uri, wait for CONFIRMED (within --timeout), keep the call
          --hold seconds from the answer while
          reading the RTP stream statistics, hang up (or with --wait-bye wait
          for the remote BYE), and print one JSON line:
          {connected, codec, rx_packets, tx_packets, telephone_event,
           disconnected_cleanly, ended_by_remote, last_status, setup_ms,
           call_id (the SIP Call-ID it sent)}
          Exit 0 only if the call connected and ended cleanly (and, with
          --wait-bye, the remote side ended it).
  register  REGISTER --user/--password (digest) at --registrar over
          --transport, wait for the final answer, unregister, and print one
          JSON line {registered, status, reason, ms}. Exit 0 only on a 2xx.
  answer  a stand-in for the daemon, used to prove `call`: answers every
          INVITE with 200, sends RTP; a request URI parameter `;hangup=N`
          makes it hang up after N s. Exits 0 after --calls calls ended
          cleanly, prints one JSON line {calls, clean}.

Every wait is a poll of pjsip's event loop against a deadline (--timeout).
Run:  .venv/bin/python tests/peers/pj_call.py call --uri sip:112@127.0.0.1:5060 \
          --local-port 5070 --rtp-port 24000 --hold 3
"""
import argparse
import json
import os
import re
import sys
import time

import pjsua2 as pj


class Call(pj.Call):
    """Tracks state changes and the stream statistics of one call."""

    def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.confirmed_at = None
        self.disconnected_at = None
        self.last_status = None
        self.last_reason = None
        self.media_active = False
        self.hangup_local = False
        self.codec = None
        self.rx_packets = 0
        self.tx_packets = 0
        self.telephone_event = None
        self.hangup_at = None
        self.sip_call_id = None

    def onCallState(self, prm):
        ci = self.getInfo()
        self.sip_call_id = self.sip_call_id or ci.callIdString or None
        self.last_status = ci.lastStatusCode
        self.last_reason = ci.lastReason
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.time()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED and self.disconnected_at is None:
            self.disconnected_at = time.time()

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media_active = True
                # feed the (null) capture device into the call so RTP flows both ways
                try:
                    pj.Endpoint.instance().audDevManager().getCaptureDevMedia().startTransmit(self.getAudioMedia(i))
                except pj.Error:
                    pass

    def sample(self):
        """Reads codec and packet counters while the stream exists."""
        if not self.media_active or self.disconnected_at:
            return
        try:
            info = self.getStreamInfo(0)
            st = self.getStreamStat(0)
        except pj.Error:
            return
        self.codec = info.codecName
        self.telephone_event = info.audTxEventPt if info.audTxEventPt > 0 else None
        self.rx_packets = max(self.rx_packets, st.rtcp.rxStat.pkt)
        self.tx_packets = max(self.tx_packets, st.rtcp.txStat.pkt)


class Acc(pj.Account):
    """Answers incoming calls (answer mode)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def onIncomingCall(self, prm):
        c = Call(self, prm.callId)
        m = re.search(r";hangup=(\d+(?:\.\d+)?)", prm.rdata.wholeMsg.split("\r\n", 1)[0])
        if m:
            c.hangup_after = float(m.group(1))
        else:
            c.hangup_after = None
        self.calls.append(c)
        op = pj.CallOpParam()
        op.statusCode = 200
        c.answer(op)


def make_endpoint(a):
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = a.log_level
    cfg.logConfig.consoleLevel = a.log_level
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "alarmgate-tests/pjsua2"
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    tc = pj.TransportConfig()
    tc.port = a.local_port
    tc.boundAddress = local_ip(a)
    tc.publicAddress = local_ip(a)
    kinds = {
        "udp": pj.PJSIP_TRANSPORT_UDP,
        "tcp": pj.PJSIP_TRANSPORT_TCP,
        "tls": pj.PJSIP_TRANSPORT_TLS,
        "udp6": pj.PJSIP_TRANSPORT_UDP6,
    }
    if a.transport == "tls":
        # A development certificate: encrypt, but do not verify the server.
        tc.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        tc.tlsConfig.verifyServer = False
    ep.transportCreate(kinds[a.transport], tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    # offer what alarm units offer: G.711 only (plus telephone-event, always on)
    wanted = [c.strip().upper() for c in a.codecs.split(",") if c.strip()]
    for c in ep.codecEnum2():
        name = c.codecId.split("/")[0].upper()
        ep.codecSetPriority(c.codecId, 255 - wanted.index(name) if name in wanted else 0)
    return ep


def local_ip(a):
    return "::1" if a.transport == "udp6" else "127.0.0.1"


def make_account(a, acc, user):
    ac = pj.AccountConfig()
    host = "[::1]" if a.transport == "udp6" else "127.0.0.1"
    params = {"udp": "", "tcp": ";transport=tcp", "tls": ";transport=tls", "udp6": ""}[a.transport]
    ac.idUri = "sip:%s@%s:%d" % (user, host, a.local_port)
    ac.sipConfig.contactForced = "<sip:%s@%s:%d%s>" % (user, host, a.local_port, params)
    ac.mediaConfig.transportConfig.boundAddress = local_ip(a)
    ac.mediaConfig.transportConfig.publicAddress = local_ip(a)
    ac.mediaConfig.transportConfig.port = a.rtp_port
    ac.mediaConfig.transportConfig.portRange = 20
    ac.natConfig.iceEnabled = False
    acc.create(ac)
    return acc


def pump(ep, until, deadline, calls=()):
    """Runs pjsip's event loop until until() or the deadline; samples stats."""
    while time.time() < deadline:
        ep.libHandleEvents(10)
        for c in calls:
            c.sample()
        if until():
            return True
    return False


def hangup(call):
    try:
        call.hangup_local = True
        call.hangup(pj.CallOpParam(True))
    except pj.Error:
        pass


def run_call(a):
    ep = make_endpoint(a)
    acc = make_account(a, pj.Account(), a.caller)
    call = Call(acc)
    t0 = time.time()
    deadline = t0 + a.timeout
    call.makeCall(a.uri, pj.CallOpParam(True))
    pump(ep, lambda: call.confirmed_at or call.disconnected_at, deadline, [call])
    if call.confirmed_at and not call.disconnected_at:
        if a.wait_bye:
            pump(ep, lambda: call.disconnected_at, deadline, [call])
        else:
            # The hold is counted from the answer, whatever the set-up took:
            # --timeout bounds the set-up; a slow one must not shorten the
            # media window the caller then judges.
            hold_end = call.confirmed_at + a.hold
            pump(ep, lambda: call.disconnected_at, hold_end, [call])
            if not call.disconnected_at:
                call.sample()
                hangup(call)
    elif not call.disconnected_at:
        hangup(call)
    # give the BYE (or CANCEL) transaction its time: up to 64*T1 is pjsip's own bound
    pump(ep, lambda: call.disconnected_at, time.time() + 10, [])
    ended_by_remote = bool(call.disconnected_at) and not call.hangup_local
    clean = bool(call.disconnected_at) and call.last_status is not None and 200 <= call.last_status < 300
    res = {
        "connected": call.confirmed_at is not None,
        "setup_ms": round((call.confirmed_at - t0) * 1000, 1) if call.confirmed_at else None,
        "codec": call.codec,
        "telephone_event": call.telephone_event,
        "rx_packets": call.rx_packets,
        "tx_packets": call.tx_packets,
        "disconnected_cleanly": clean,
        "ended_by_remote": ended_by_remote,
        "last_status": call.last_status,
        "last_reason": call.last_reason,
        "call_id": call.sip_call_id,
    }
    print(json.dumps(res), flush=True)
    ok = res["connected"] and clean and (ended_by_remote or not a.wait_bye)
    del call
    return finish(ep, 0 if ok else 1)


class RegAcc(pj.Account):
    """Records the registration's final status (register mode)."""

    def __init__(self):
        super().__init__()
        self.status = None
        self.reason = None

    def onRegState(self, prm):
        if prm.code >= 200:
            self.status = prm.code
            self.reason = prm.reason


def run_register(a):
    ep = make_endpoint(a)
    acc = RegAcc()
    ac = pj.AccountConfig()
    ac.idUri = "sip:%s@127.0.0.1" % a.user
    ac.regConfig.registrarUri = a.registrar
    ac.regConfig.timeoutSec = 60
    ac.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", a.user, 0, a.password))
    ac.natConfig.iceEnabled = False
    t0 = time.time()
    acc.create(ac)
    pump(ep, lambda: acc.status is not None, t0 + a.timeout)
    ms = round((time.time() - t0) * 1000, 1)
    ok = acc.status is not None and 200 <= acc.status < 300
    print(json.dumps({"registered": ok, "status": acc.status, "reason": acc.reason, "ms": ms}), flush=True)
    if ok:
        try:
            acc.setRegistration(False)
        except pj.Error:
            pass
        pump(ep, lambda: False, time.time() + 1)
    del acc
    return finish(ep, 0 if ok else 1)


def run_answer(a):
    ep = make_endpoint(a)
    acc = make_account(a, Acc(), "standin")
    deadline = time.time() + a.timeout

    def step():
        for c in acc.calls:
            if c.confirmed_at and not c.disconnected_at and c.hangup_after is not None and c.hangup_at is None:
                if time.time() - c.confirmed_at >= c.hangup_after:
                    c.hangup_at = time.time()
                    hangup(c)
        ended = [c for c in acc.calls if c.disconnected_at]
        return len(ended) >= a.calls

    pump(ep, step, deadline, acc.calls)
    clean = sum(1 for c in acc.calls if c.disconnected_at and c.confirmed_at and c.last_status and 200 <= c.last_status < 300)
    print(json.dumps({"calls": len(acc.calls), "clean": clean}), flush=True)
    acc.calls.clear()
    return finish(ep, 0 if clean >= a.calls else 1)


def finish(ep, code):
    """Shuts pjsip down and exits without running Python's finalizers: pjsua2
    objects collected after libDestroy() abort the process."""
    try:
        ep.libDestroy()
    except pj.Error:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["call", "register", "answer"])
    p.add_argument("--uri", default="sip:112@127.0.0.1:5060")
    p.add_argument("--caller", default="4512345678")
    p.add_argument("--local-port", type=int, default=5070)
    # udp6 needs a pjsip built with IPv6; the PyPI wheel is not (its account
    # set-up asserts), so the IPv6 tests use SIPp.
    p.add_argument("--transport", choices=["udp", "tcp", "tls", "udp6"], default="udp",
                   help="SIP transport (the URI must match: ;transport=tls, [::1])")
    p.add_argument("--rtp-port", type=int, default=24000)
    p.add_argument("--hold", type=float, default=3.0, help="seconds to keep the call before hanging up")
    p.add_argument("--wait-bye", action="store_true", help="do not hang up; wait for the remote BYE")
    p.add_argument("--calls", type=int, default=1, help="answer mode: calls to serve before exiting")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="deadline in seconds for the set-up (call mode: the hold comes on top), for --wait-bye, or overall")
    p.add_argument("--codecs", default="PCMA,PCMU", help="codecs to offer/accept, in order (pjsip names)")
    p.add_argument("--registrar", default="sip:127.0.0.1:5060", help="register mode: the registrar URI")
    p.add_argument("--user", default="op1", help="register mode: digest user name")
    p.add_argument("--password", default="secret-op1", help="register mode: digest password")
    p.add_argument("--log-level", type=int, default=1)
    a = p.parse_args()
    modes = {"call": run_call, "register": run_register, "answer": run_answer}
    return modes[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
