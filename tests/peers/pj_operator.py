"""An operator's softphone for alarmgate's operator tests
(tests/interop/operators/): pjsua2 (PyPI `pjsua2-python`) with a null audio
device, on 127.0.0.1 only, SIP over UDP, G.711. One process hosts one account;
run several for several operators.

Controlled over stdin, reporting over stdout, one JSON object per line.

Commands (stdin), each {"cmd": NAME, ...}:
  register                      REGISTER to --registrar (digest: --id, --password, --realm)
  unregister                    REGISTER with Expires: 0
  policy  on_incoming=answer|decline|busy|ring, answer_after_ms=N,
          hangup_after_ms=N|null  what to do with the next incoming calls
  answer  [call=N]              answer a ringing call now (200)
  reject  [call=N] code=603     reject a ringing call with code
  hangup  [call=N]              end a call (CANCEL/BYE/final response as the state needs)
  call    uri=SIP-URI           place a call (the peer-to-peer smoke test)
  tone    hz=700 [dbm0=-10]     play a sine into every connected call (hz=0: silence)
  measure freqs=[700,1000] [window_ms=500]  Goertzel levels of the received audio
  dtmf    digits="12#" [call=N] send RFC 4733 digits
  status                        report registration and calls
  quit                          hang up, unregister, exit
Without `call`, a command acts on the newest call that fits.

Events (stdout), each {"ev": NAME, "t": unix time, ...}:
  ready     {id, local_port, rtp_port}
  reg       {code, reason, active, expires}        every REGISTER outcome
  incoming  {call, from, to, request_uri, call_id}
  state     {call, state, code, reason}            CALLING EARLY CONNECTING CONFIRMED DISCONNECTED
  media     {call, active, codec, telephone_event}
  levels    {call, levels: {"700": dBm0, ...}, rms_dbm0, blocks}   one per window while connected
  dtmf_in   {call, digit}                          RFC 4733 digit received
  dtmf_sent {call, digits}
  policy    {on_incoming, answer_after_ms, hangup_after_ms}   a policy command done
  tone      {hz, dbm0} / measure {freqs, window_ms}          those commands done
  status    {registered, calls: [{call, state, role}]}
  error     {cmd, message}                         a command that could not be done
  bye       {reason}                               last line before exit

Exits on stdin EOF, `quit`, or --lifetime seconds (always bounded); every
wait polls pjsip's event loop (threadCnt=0, libHandleEvents) against a deadline.

    .venv/bin/python tests/peers/pj_operator.py --id op1 --password secret \\
        --registrar sip:127.0.0.1:5060 --local-port 5071 --rtp-port 24100
"""
import argparse
import array
import collections
import json
import os
import queue
import sys
import threading
import time

import pjsua2 as pj

from pj_setup import loopback_endpoint
from tone_meter import BLOCK, Meter, ToneSource

STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}

_out_lock = threading.Lock()


def emit(ev, **fields):
    """One event line on stdout."""
    line = json.dumps(dict({"ev": ev, "t": round(time.time(), 3)}, **fields))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------- audio

class Audio:
    """What one call sends (a tone) and hears (Goertzel windows); shared by
    the media clock thread (rx/tx) and the main loop (settings, results)."""

    def __init__(self, tone_hz, tone_dbm0, freqs, window_ms):
        self.lock = threading.Lock()
        self.source = ToneSource(tone_hz, tone_dbm0)
        self.meter = Meter(freqs, window_ms)
        self.windows = collections.deque()

    def set_tone(self, hz, dbm0):
        with self.lock:
            self.source.set(hz, dbm0)

    def set_meter(self, freqs, window_ms):
        with self.lock:
            self.meter = Meter(freqs, window_ms)

    def tx(self, n):
        with self.lock:
            return self.source.frame(n)

    def rx(self, samples):
        with self.lock:
            if self.meter.freqs:
                self.windows.extend(self.meter.feed(samples))

    def finished_windows(self):
        out = []
        while self.windows:
            out.append(self.windows.popleft())
        return out


def media_format():
    f = pj.MediaFormatAudio()
    f.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
    return f


class AudioPort(pj.AudioMediaPort):
    """The call's audio to and from an Audio object (runs in the media thread)."""

    def __init__(self, audio):
        super().__init__()
        self.audio = audio

    def onFrameRequested(self, frame):
        out = self.audio.tx(BLOCK)
        frame.buf = pj.ByteVector(out.tobytes())
        frame.size = len(out) * 2
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO

    def onFrameReceived(self, frame):
        raw = bytes(bytearray(frame.buf))
        if len(raw) >= 2:
            self.audio.rx(array.array("h", raw[: len(raw) // 2 * 2]))


# ---------------------------------------------------------------- calls

class Call(pj.Call):
    """One call, incoming or outgoing, with its audio and timers."""

    def __init__(self, phone, acc, n, role, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.phone = phone
        self.n = n
        self.role = role
        self.state = "INCOMING" if role == "in" else "NULL"
        self.audio = phone.new_audio()
        self.port = None
        self.media_reported = False
        self.answer_at = None
        self.hangup_at = None
        self.confirmed_at = None

    def onCallState(self, prm):
        ci = self.getInfo()
        self.state = STATE_NAMES.get(ci.state, str(ci.state))
        emit("state", call=self.n, state=self.state, code=ci.lastStatusCode, reason=ci.lastReason)
        if self.state == "CONFIRMED" and self.confirmed_at is None:
            self.confirmed_at = time.time()
            if self.phone.policy["hangup_after_ms"] is not None:
                self.hangup_at = self.confirmed_at + self.phone.policy["hangup_after_ms"] / 1000.0
        if self.state == "DISCONNECTED":
            self.answer_at = self.hangup_at = None

    def onCallMediaState(self, prm):
        """Connects our port to the call's audio, again after every media
        update (a re-INVITE may re-create the stream and its conference slot)."""
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                if self.port is None:
                    self.port = AudioPort(self.audio)
                    self.port.createPort("op%d" % self.n, media_format())
                am = self.getAudioMedia(i)
                am.startTransmit(self.port)
                self.port.startTransmit(am)

    def onDtmfDigit(self, prm):
        emit("dtmf_in", call=self.n, digit=prm.digit)

    def alive(self):
        return self.state != "DISCONNECTED"

    def report_media(self):
        """Emits `media` once the stream exists (main loop)."""
        if self.media_reported or self.port is None or not self.alive():
            return
        try:
            info = self.getStreamInfo(0)
        except pj.Error:
            return
        self.media_reported = True
        pt = info.audTxEventPt if info.audTxEventPt > 0 else None
        emit("media", call=self.n, active=True, codec=info.codecName, telephone_event=pt)

    def report_levels(self):
        for w in self.audio.finished_windows():
            if self.state == "CONFIRMED":
                emit("levels", call=self.n, **w)


class Account(pj.Account):
    def __init__(self, phone):
        super().__init__()
        self.phone = phone

    def onRegState(self, prm):
        info = self.getInfo()
        emit("reg", code=prm.code, reason=prm.reason, active=info.regIsActive, expires=prm.expiration)

    def onIncomingCall(self, prm):
        self.phone.incoming(self, prm)


def first_line(msg):
    return msg.split("\r\n", 1)[0]


def header(msg, names):
    """The first value of any of the header names (long or compact form)."""
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            return value.strip()
    return None


# ---------------------------------------------------------------- the phone

class Phone:
    """The endpoint, the one account, its calls, and what the commands set."""

    def __init__(self, a):
        self.a = a
        self.calls = []
        self.count = 0
        self.tone = (a.tone_hz, a.tone_dbm0)
        self.measure = (a.measure, a.window_ms)
        self.policy = {"on_incoming": a.on_incoming, "answer_after_ms": a.answer_after_ms,
                       "hangup_after_ms": a.hangup_after_ms}
        self.ep = make_endpoint(a)
        self.acc = Account(self)
        self.acc.create(account_config(a))

    def new_audio(self):
        return Audio(self.tone[0], self.tone[1], self.measure[0], self.measure[1])

    def next_n(self):
        self.count += 1
        return self.count

    def incoming(self, acc, prm):
        c = Call(self, acc, self.next_n(), "in", prm.callId)
        self.calls.append(c)
        msg = prm.rdata.wholeMsg
        parts = first_line(msg).split(" ")
        emit("incoming", call=c.n, request_uri=parts[1] if len(parts) > 1 else None,
             call_id=header(msg, ("call-id", "i")),
             **{"from": header(msg, ("from", "f")), "to": header(msg, ("to", "t"))})
        self.apply_policy(c)

    def apply_policy(self, c):
        mode = self.policy["on_incoming"]
        if mode == "decline":
            respond(c, 603)
        elif mode == "busy":
            respond(c, 486)
        else:
            respond(c, 180)
            if mode == "answer":
                c.answer_at = time.time() + self.policy["answer_after_ms"] / 1000.0

    def tick(self):
        """Timers, media reports, level windows (main loop)."""
        now = time.time()
        for c in self.calls:
            if c.answer_at is not None and now >= c.answer_at:
                c.answer_at = None
                respond(c, 200)
            if c.hangup_at is not None and now >= c.hangup_at:
                c.hangup_at = None
                end_call(c)
            c.report_media()
            c.report_levels()

    def live_calls(self):
        return [c for c in self.calls if c.alive()]

    def shutdown(self, reason):
        """Hangs up, unregisters, waits (bounded) for both, exits."""
        for c in self.live_calls():
            end_call(c)
        if self.acc.getInfo().regIsActive:
            try:
                self.acc.setRegistration(False)
            except pj.Error as e:
                emit("error", cmd="quit", message=error_text(e))
        pump(self.ep, lambda: not self.live_calls() and not self.acc.getInfo().regIsActive, time.time() + 3)
        emit("bye", reason=reason)
        self.calls.clear()
        finish(self.ep, 0)


def respond(c, code):
    """A response to an incoming call (provisional, 200, or a rejection)."""
    op = pj.CallOpParam()
    op.statusCode = code
    try:
        if code >= 300:
            c.hangup(op)
        else:
            c.answer(op)
    except pj.Error as e:
        emit("error", cmd="respond", message="%d on call %d: %s" % (code, c.n, error_text(e)))


def end_call(c):
    try:
        c.hangup(pj.CallOpParam(True))
    except pj.Error as e:
        emit("error", cmd="hangup", message="call %d: %s" % (c.n, error_text(e)))


# ---------------------------------------------------------------- commands

def pick(phone, cmd, want):
    """The call named by cmd["call"], or the newest live call whose state is in want."""
    calls = phone.live_calls()
    if "call" in cmd:
        calls = [c for c in calls if c.n == cmd["call"]]
    if want:
        calls = [c for c in calls if c.state in want]
    return calls[-1] if calls else None


def cmd_register(phone, cmd):
    phone.acc.setRegistration(True)


def cmd_unregister(phone, cmd):
    phone.acc.setRegistration(False)


def cmd_policy(phone, cmd):
    for key in ("on_incoming", "answer_after_ms", "hangup_after_ms"):
        if key in cmd:
            phone.policy[key] = cmd[key]
    if phone.policy["on_incoming"] not in ("answer", "decline", "busy", "ring"):
        raise ValueError("on_incoming must be answer, decline, busy or ring")
    emit("policy", **phone.policy)


def ringing(phone, cmd):
    c = pick(phone, cmd, ("INCOMING", "EARLY"))
    if c is None or c.role != "in":
        raise ValueError("no ringing incoming call")
    c.answer_at = None
    return c


def cmd_answer(phone, cmd):
    respond(ringing(phone, cmd), 200)


def cmd_reject(phone, cmd):
    respond(ringing(phone, cmd), int(cmd.get("code", 603)))


def cmd_hangup(phone, cmd):
    c = pick(phone, cmd, ())
    if c is None:
        raise ValueError("no call to hang up")
    end_call(c)


def cmd_call(phone, cmd):
    c = Call(phone, phone.acc, phone.next_n(), "out")
    phone.calls.append(c)
    c.makeCall(cmd["uri"], pj.CallOpParam(True))
    emit("outgoing", call=c.n, uri=cmd["uri"])


def cmd_tone(phone, cmd):
    phone.tone = (float(cmd.get("hz", 0)), float(cmd.get("dbm0", -10.0)))
    for c in phone.calls:
        c.audio.set_tone(*phone.tone)
    emit("tone", hz=phone.tone[0], dbm0=phone.tone[1])


def cmd_measure(phone, cmd):
    phone.measure = ([float(f) for f in cmd.get("freqs", [])], int(cmd.get("window_ms", 500)))
    for c in phone.calls:
        c.audio.set_meter(*phone.measure)
    emit("measure", freqs=phone.measure[0], window_ms=phone.measure[1])


def cmd_dtmf(phone, cmd):
    c = pick(phone, cmd, ("CONFIRMED",))
    if c is None:
        raise ValueError("no connected call")
    c.dialDtmf(str(cmd["digits"]))
    emit("dtmf_sent", call=c.n, digits=str(cmd["digits"]))


def cmd_status(phone, cmd):
    info = phone.acc.getInfo()
    emit("status", registered=info.regIsActive,
         calls=[{"call": c.n, "state": c.state, "role": c.role} for c in phone.calls])


COMMANDS = {
    "register": cmd_register, "unregister": cmd_unregister, "policy": cmd_policy,
    "answer": cmd_answer, "reject": cmd_reject, "hangup": cmd_hangup, "call": cmd_call,
    "tone": cmd_tone, "measure": cmd_measure, "dtmf": cmd_dtmf, "status": cmd_status,
}


def run_command(phone, line):
    """Parses and runs one command line; returns False on quit."""
    try:
        cmd = json.loads(line)
    except ValueError as e:
        emit("error", cmd=None, message="not JSON: %s" % e)
        return True
    name = cmd.get("cmd") if isinstance(cmd, dict) else None
    if name == "quit":
        return False
    fn = COMMANDS.get(name)
    if fn is None:
        emit("error", cmd=name, message="unknown command")
        return True
    try:
        fn(phone, cmd)
    except (pj.Error, ValueError, KeyError, TypeError) as e:
        emit("error", cmd=name, message=error_text(e))
    return True


def error_text(e):
    """pjsua2 errors carry their text in .info(); others in str()."""
    return e.info() if isinstance(e, pj.Error) else "%s: %s" % (type(e).__name__, e)


def stdin_reader(lines):
    """Reads stdin lines into `lines`; None marks EOF (a plain thread: no pjsua2 calls)."""
    for line in sys.stdin:
        if line.strip():
            lines.put(line)
    lines.put(None)


# ---------------------------------------------------------------- pjsua2 set-up

def make_endpoint(a):
    return loopback_endpoint(a, "alarmgate-tests/pj_operator")


def account_config(a):
    ac = pj.AccountConfig()
    host = a.domain or registrar_host(a.registrar) or "127.0.0.1"
    ac.idUri = "sip:%s@%s" % (a.id, host)
    ac.sipConfig.contactForced = "<sip:%s@127.0.0.1:%d>" % (a.id, a.local_port)
    if a.registrar:
        ac.regConfig.registrarUri = a.registrar
        ac.regConfig.registerOnAdd = a.register
        ac.regConfig.timeoutSec = a.expires
        ac.regConfig.retryIntervalSec = 0  # no silent retries: the test decides
        ac.sipConfig.authCreds.append(pj.AuthCredInfo("digest", a.realm, a.id, 0, a.password))
    ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.port = a.rtp_port
    ac.mediaConfig.transportConfig.portRange = 20
    ac.natConfig.iceEnabled = False
    ac.natConfig.sipOutboundUse = False
    ac.natConfig.contactRewriteUse = False
    ac.natConfig.viaRewriteUse = False
    ac.natConfig.sdpNatRewriteUse = False
    return ac


def registrar_host(uri):
    """"sip:127.0.0.1:5060;transport=udp" -> "127.0.0.1:5060"."""
    if not uri:
        return None
    return uri.split(":", 1)[1].split(";", 1)[0]


def pump(ep, until, deadline):
    while time.time() < deadline:
        ep.libHandleEvents(10)
        if until():
            return True
    return False


def finish(ep, code):
    """pjsua2 objects collected after libDestroy() abort: exit without finalizers."""
    try:
        ep.libDestroy()
    except pj.Error:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(phone, a):
    lines = queue.Queue()
    threading.Thread(target=stdin_reader, args=(lines,), daemon=True).start()
    emit("ready", id=a.id, local_port=a.local_port, rtp_port=a.rtp_port)
    deadline = time.time() + a.lifetime
    while time.time() < deadline:
        phone.ep.libHandleEvents(10)
        phone.tick()
        while not lines.empty():
            line = lines.get_nowait()
            if line is None:
                return phone.shutdown("stdin closed")
            if not run_command(phone, line):
                return phone.shutdown("quit")
    return phone.shutdown("lifetime")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--id", default="op1", help="operator id = digest username")
    p.add_argument("--password", default="")
    p.add_argument("--realm", default="*", help='digest realm ("*": any)')
    p.add_argument("--registrar", default="", help="e.g. sip:127.0.0.1:5060 (empty: no registration)")
    p.add_argument("--domain", default="", help="host part of the AOR (default: the registrar's)")
    p.add_argument("--register", action="store_true", help="register at start (else on the register command)")
    p.add_argument("--expires", type=int, default=60)
    p.add_argument("--local-port", type=int, default=5071)
    p.add_argument("--rtp-port", type=int, default=24100)
    p.add_argument("--codecs", default="PCMA,PCMU")
    p.add_argument("--on-incoming", choices=["answer", "decline", "busy", "ring"], default="answer")
    p.add_argument("--answer-after-ms", type=int, default=0)
    p.add_argument("--hangup-after-ms", type=int, default=None)
    p.add_argument("--tone-hz", type=float, default=0.0, help="tone played into connected calls (0: silence)")
    p.add_argument("--tone-dbm0", type=float, default=-10.0)
    p.add_argument("--measure", default="", help="frequencies to measure, e.g. 700,1000")
    p.add_argument("--window-ms", type=int, default=500)
    p.add_argument("--lifetime", type=float, default=300.0, help="exit after this many seconds regardless")
    p.add_argument("--tls-port", type=int, default=0, help="also listen for SIP over TLS on this port")
    p.add_argument("--tls-cert", default="", help="PEM certificate of the TLS listener")
    p.add_argument("--tls-key", default="", help="PEM key of the TLS listener")
    p.add_argument("--tls-client-ca", default="", help="require client certificates signed by this CA (mutual TLS)")
    p.add_argument("--log-level", type=int, default=1)
    a = p.parse_args()
    a.measure = [float(x) for x in a.measure.split(",") if x.strip()]
    return serve(Phone(a), a)


if __name__ == "__main__":
    sys.exit(main())
