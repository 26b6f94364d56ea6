"""Contact ID peers made of pjsua2 (PyPI `pjsua2-python`) and Debian's
libspandsp (tests/peers/spandsp_cid.py), for alarmgate's interop tests
(tests/interop/alarm_peers.rs). On 127.0.0.1 only, SIP over UDP, G.711.

Origin: the `device` and `refarc` modes grew from the project's research
tool ../shared/tools/pjdev.py (ours); `pcap` is new.

Modes:
  device  an alarm unit: dials --uri, lets spandsp's Contact ID *sender* hear
          the call audio (handshake, kissoff) and speak into it (DTMF), sends
          every --message in order (the next one is put right after the
          previous kissoff, as spandsp's sender allows), then hangs up
          --hold-after s after the last kissoff, or with --wait-bye waits for
          the far end's BYE. Prints one JSON line:
          {answered, setup_ms, handshake_ms, messages: [{fields, digits,
           acknowledged, digits_end_ms, kissoff_end_ms}], acknowledged,
           tone_events, ended_by_remote, call_ms, last_status}
          (times in ms since the 200 OK). Exit 0 when every message got its
          kissoff (and, with --wait-bye, the far end hung up).
          Voice phase (the operator tests, tests/interop/operators/): after
          the last kissoff the unit stays in the call as a speakerphone does:
          --voice-tone HZ plays a sine (--voice-dbm0) and --voice-measure
          HZ[,HZ] runs Goertzel filters (tests/peers/tone_meter.py) on what
          it hears, in --voice-window-ms windows; the JSON line then also has
          voice: {tone_hz, windows: [{ms, levels: {"700": dBm0}, rms_dbm0}],
          heard: {"700": {max_dbm0, first_ms, windows_above}}, digits_inband,
          digits_rfc4733} ("above": --voice-threshold-dbm0; the digits are the
          in-call commands heard, by spandsp's DTMF detector and as RFC 4733). --events prints progress lines before it:
          {"ev": "answered"|"handshake"|"kissoff"|"ended", "t": unix time}.
  refarc  a reference alarm receiving centre: answers every INVITE with 200
          and runs spandsp's Contact ID *receiver* on the call audio
          (handshake, decode, kissoff). RFC 4733 digits (pjsua2 hands them
          over as onDtmfDigit callbacks, not audio; spandsp's receiver has no
          digit input) are regenerated as tones with spandsp's DTMF generator
          and mixed into what the receiver hears, as a media gateway would.
          Exits after --calls calls ended (or --timeout), printing one JSON
          line {calls: [{reports, rfc4733_digits, confirmed, ended_by_remote}]}
          where reports are "ACCT MT Q XYZ GG CCC" strings. With
          --voice-tone/--voice-measure it becomes a person --voice-after-ms
          after the first decoded message (tone out, Goertzel in, each call's
          entry gains `voice` as in device mode), sends --voice-dtmf digits
          (RFC 4733) 1 s into it, and with --voice-hangup-ms hangs up that
          long into it: the stand-in operator of the unit's voice phase.
  pcap    writes an RTP capture (libpcap, Ethernet/IPv4/UDP, G.711) of a
          unit's in-band Contact ID: --lead-ms of silence, the --digits as
          spandsp DTMF (55 ms on, 55 ms off), --tail-ms of silence. Checks
          itself by decoding its own G.711 with spandsp's DTMF detector and
          decode_msg, and prints {packets, bytes, detected, report}.
  rfc2833 writes --out-dir/dNN.pcap (NN = 01..16), one per digit of --digits:
          Debian sip-tester's /usr/share/sip-tester/dtmf_2833_<digit>.pcap
          with the RTP payloads and packet timing untouched but the headers
          renumbered so that the 16 replays form what a gateway would send:
          --renumber stream (one SSRC; sequence numbers continue; each digit's
          event timestamp --step-ms after the previous one) or --renumber ssrc
          (sequence numbers and timestamps as captured, a new SSRC per digit,
          so the receiver re-latches for every digit). Replayed as captured,
          the files cannot carry a message: a repeated digit is the very same
          packets again (same SSRC, sequence numbers and event timestamp:
          duplicates), and the captures' event timestamps only rise in the
          order 1 0 2 3 ... 9 * #, so most digits would arrive as older events.

Every wait polls pjsip's event loop against a deadline (--timeout).
"""
import argparse
import array
import collections
import json
import os
import struct
import sys
import threading
import time

FRAME = 160  # 20 ms at 8 kHz


# ---------------------------------------------------------------- pjsua2 glue

def load_pj():
    import pjsua2  # imported here so that `pcap` runs without pjsua2
    return pjsua2


pj = None
Dtmf = DtmfDetector = Receiver = Sender = decode = encode = parse_fields = report_text = None


def load_spandsp():
    """spandsp is loaded only by the modes that use it (not `rfc2833`)."""
    global Dtmf, DtmfDetector, Receiver, Sender, decode, encode, parse_fields, report_text
    from spandsp_cid import Dtmf, DtmfDetector, Receiver, Sender, decode, encode, parse_fields, report_text


def endpoint(a):
    from pj_setup import loopback_endpoint  # pjsua2 only where it is used

    return loopback_endpoint(a, "alarmgate-tests/cid_peer")


def account(a, acc, user):
    ac = pj.AccountConfig()
    ac.idUri = "sip:%s@127.0.0.1:%d" % (user, a.local_port)
    ac.sipConfig.contactForced = "<sip:%s@127.0.0.1:%d>" % (user, a.local_port)
    ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.port = a.rtp_port
    ac.mediaConfig.transportConfig.portRange = 20
    ac.natConfig.iceEnabled = False
    acc.create(ac)
    return acc


def fmt8k():
    f = pj.MediaFormatAudio()
    f.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
    return f


def make_port_class():
    class DspPort(pj.AudioMediaPort):
        """Bridges the call's audio to a DSP object with rx(samples)/tx(n)."""

        def __init__(self, dsp):
            super().__init__()
            self.dsp = dsp

        def onFrameRequested(self, frame):
            out = self.dsp.tx(FRAME)
            frame.buf = pj.ByteVector(out.tobytes())
            frame.size = len(out) * 2
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO

        def onFrameReceived(self, frame):
            b = bytes(bytearray(frame.buf))
            pcm = array.array("h", b[: len(b) // 2 * 2]) if len(b) >= 2 else array.array("h", bytes(2 * FRAME))
            self.dsp.rx(pcm)

    return DspPort


def make_call_class():
    class Call(pj.Call):
        def __init__(self, acc, dsp, call_id=pj.PJSUA_INVALID_ID):
            super().__init__(acc, call_id)
            self.dsp = dsp
            self.port = None
            self.confirmed_at = None
            self.ended_at = None
            self.last_status = None
            self.hangup_local = False

        def onCallState(self, prm):
            ci = self.getInfo()
            self.last_status = ci.lastStatusCode
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
                self.confirmed_at = time.time()
            if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED and self.ended_at is None:
                self.ended_at = time.time()

        def onCallMediaState(self, prm):
            ci = self.getInfo()
            for i, mi in enumerate(ci.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.port is None:
                    am = self.getAudioMedia(i)
                    self.port = DspPort(self.dsp)
                    self.port.createPort("cid", fmt8k())
                    am.startTransmit(self.port)
                    self.port.startTransmit(am)

        def onDtmfDigit(self, prm):
            on_digit = getattr(self.dsp, "on_digit", None)
            if on_digit:
                on_digit(prm.digit)

        def hangup_now(self):
            self.hangup_local = True
            try:
                self.hangup(pj.CallOpParam(True))
            except pj.Error:
                pass

    return Call


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
    except Exception:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---------------------------------------------------------------- device

def progress(enabled, ev, **fields):
    """A progress line (device --events) before the final JSON line."""
    if enabled:
        print(json.dumps(dict({"ev": ev, "t": round(time.time(), 3)}, **fields)), flush=True)


class Voice:
    """After the last kissoff: a tone out, Goertzel windows in (media thread,
    under the Unit's lock)."""

    def __init__(self, a):
        from tone_meter import Meter, ToneSource, fmt_hz  # only the voice phase needs it
        self.key = fmt_hz
        self.tone_hz = a.voice_tone
        self.source = ToneSource(a.voice_tone, a.voice_dbm0)
        self.meter = Meter(a.voice_measure, a.voice_window_ms)
        self.started = None
        self.windows = []
        self.detector = DtmfDetector()  # in-band digits (in-call commands)
        self.rfc4733 = []

    def tx(self, n):
        return self.source.frame(n)

    def rx(self, samples):
        now = time.time()
        self.detector.rx(samples)
        for w in self.meter.feed(samples):
            self.windows.append(dict(w, at=now))

    def report(self, rel, threshold):
        """The JSON `voice` object; rel() turns unix times into ms since the answer."""
        windows = [{"ms": rel(w["at"]), "levels": w["levels"], "rms_dbm0": w["rms_dbm0"]} for w in self.windows]
        keys = [self.key(f) for f in self.meter.freqs]
        return {"tone_hz": self.tone_hz, "started_ms": rel(self.started), "windows": windows,
                "heard": {k: heard(windows, k, threshold) for k in keys},
                "digits_inband": self.detector.digits(), "digits_rfc4733": "".join(self.rfc4733)}


def heard(windows, key, threshold):
    """How one measured frequency was heard across the windows."""
    above = [w for w in windows if w["levels"][key] >= threshold]
    return {"max_dbm0": max((w["levels"][key] for w in windows), default=None),
            "first_ms": above[0]["ms"] if above else None,
            "windows_above": len(above)}


class Unit:
    """spandsp's sender plus the message queue and its timings (media thread)."""

    def __init__(self, messages, voice=None):
        self.lock = threading.Lock()
        self.voice = voice
        self.sender = Sender()
        self.messages = [{"fields": report_text(m), "digits": encode(*m), "acknowledged": False,
                          "digits_end": None, "kissoff_end": None} for m in messages]
        self.queue = list(messages)
        self.current = 0
        self.handshake_at = None
        self.last_tone_out = None
        self.seen_events = 0
        self.put_next()

    def put_next(self):
        if self.queue and self.sender.put(*self.queue[0]) >= 0:
            self.queue.pop(0)

    def in_voice(self):
        """True once every message is acknowledged and a voice phase was asked for."""
        return self.voice is not None and self.current >= len(self.messages)

    def on_digit(self, digit):
        """An RFC 4733 digit (pjsua2's onDtmfDigit): an in-call command in the voice phase."""
        with self.lock:
            if self.in_voice():
                self.voice.rfc4733.append(digit)

    def tx(self, n):
        with self.lock:
            if self.in_voice():
                if self.voice.started is None:
                    self.voice.started = time.time()
                return self.voice.tx(n)
            out = self.sender.tx(n)
            if any(out):
                self.last_tone_out = time.time()
            return out

    def rx(self, samples):
        with self.lock:
            if self.in_voice():
                self.voice.rx(samples)
                return
            self.sender.rx(samples)
            while self.seen_events < len(self.sender.events):
                code = self.sender.events[self.seen_events]
                self.seen_events += 1
                now = time.time()
                if code == -1 and self.handshake_at is None:
                    self.handshake_at = now
                elif code == 1 and self.current < len(self.messages):
                    m = self.messages[self.current]
                    m["acknowledged"], m["kissoff_end"], m["digits_end"] = True, now, self.last_tone_out
                    self.current += 1
                    self.put_next()  # must be now: spandsp sends it 250 ms after this kissoff

    def all_acknowledged(self):
        with self.lock:
            return self.current >= len(self.messages)


def device_progress(a, call, unit, told):
    """Prints each progress line once (device --events); returns False (a pump condition)."""
    steps = [("answered", call.confirmed_at), ("handshake", unit.handshake_at),
             ("kissoff", unit.all_acknowledged()), ("ended", call.ended_at)]
    for name, done in steps:
        if done and name not in told:
            told.add(name)
            progress(a.events, name)
    return False


def run_device(a):
    ep = endpoint(a)
    acc = account(a, pj.Account(), a.caller)
    voice = Voice(a) if a.voice_tone or a.voice_measure else None
    unit = Unit([parse_fields(m) for m in a.message or ["1234 18 1 602 00 000"]], voice)
    call = Call(acc, unit)
    t0 = time.time()
    deadline = t0 + a.timeout
    told = set()
    call.makeCall(a.uri, pj.CallOpParam(True))
    pump(ep, lambda: device_progress(a, call, unit, told) or call.ended_at or unit.all_acknowledged(), deadline)
    device_progress(a, call, unit, told)
    if unit.all_acknowledged() and not call.ended_at:
        if a.wait_bye:
            pump(ep, lambda: call.ended_at, deadline)
        else:
            pump(ep, lambda: call.ended_at, min(deadline, time.time() + a.hold_after))
    if not call.ended_at:
        call.hangup_now()
    pump(ep, lambda: call.ended_at, time.time() + 10)
    device_progress(a, call, unit, told)
    ans = call.confirmed_at

    def rel(t):
        return round((t - ans) * 1000, 1) if t and ans else None

    with unit.lock:
        msgs = [{"fields": m["fields"], "digits": m["digits"], "acknowledged": m["acknowledged"],
                 "digits_end_ms": rel(m["digits_end"]), "kissoff_end_ms": rel(m["kissoff_end"])}
                for m in unit.messages]
        events = list(unit.sender.events)
    acked = sum(1 for m in msgs if m["acknowledged"])
    res = {
        "answered": ans is not None,
        "setup_ms": round((ans - t0) * 1000, 1) if ans else None,
        "handshake_ms": rel(unit.handshake_at),
        "messages": msgs,
        "acknowledged": acked,
        "tone_events": events,
        "ended_by_remote": bool(call.ended_at) and not call.hangup_local,
        "call_ms": rel(call.ended_at),
        "last_status": call.last_status,
    }
    if voice is not None:
        with unit.lock:
            res["voice"] = voice.report(rel, a.voice_threshold_dbm0)
    print(json.dumps(res), flush=True)
    ok = acked == len(msgs) and (res["ended_by_remote"] or not a.wait_bye)
    return finish(ep, 0 if ok else 1)


# ---------------------------------------------------------------- refarc

class Arc:
    """spandsp's receiver; RFC 4733 digits regenerated as spandsp DTMF tones.
    With a Voice, it turns into a person --voice-after-ms after the first
    decoded message (time for its kissoff): a tone out, Goertzel in."""

    def __init__(self, voice=None, voice_after_ms=1500):
        self.lock = threading.Lock()
        self.receiver = Receiver()
        self.regen = Dtmf(55, 55)
        self.digits = collections.deque()
        self.rfc4733 = []
        self.voice = voice
        self.voice_after = voice_after_ms / 1000.0
        self.decoded_at = None

    def in_voice(self):
        if self.voice is None or self.decoded_at is None:
            return False
        return time.time() - self.decoded_at >= self.voice_after

    def on_digit(self, d):
        self.digits.append(d)
        self.rfc4733.append(d)

    def rx(self, samples):
        with self.lock:
            if self.in_voice():
                self.voice.rx(samples)
                return
            while self.digits:
                self.regen.put(self.digits.popleft())
            tone = self.regen.tx(len(samples))
            if any(tone):
                samples = array.array("h", (max(-32768, min(32767, x + y)) for x, y in zip(samples, tone)))
            self.receiver.rx(samples)
            if self.receiver.reports and self.decoded_at is None:
                self.decoded_at = time.time()

    def tx(self, n):
        with self.lock:
            if self.in_voice():
                if self.voice.started is None:
                    self.voice.started = time.time()
                return self.voice.tx(n)
            return self.receiver.tx(n)


def hang_up_after_voice(calls, after_ms):
    """refarc --voice-hangup-ms: BYE once a call's voice phase has lasted after_ms."""
    if after_ms is None:
        return
    for c in calls:
        started = c.dsp.voice.started if c.dsp.voice is not None else None
        if started and not c.ended_at and not c.hangup_local and time.time() - started >= after_ms / 1000.0:
            c.hangup_now()


def send_voice_dtmf(calls, digits):
    """refarc --voice-dtmf: the digits as RFC 4733, once, 1 s into each call's voice phase."""
    if not digits:
        return
    for c in calls:
        started = c.dsp.voice.started if c.dsp.voice is not None else None
        if started and not c.ended_at and not getattr(c, "dtmf_sent", False) and time.time() - started >= 1.0:
            c.dtmf_sent = True
            try:
                c.dialDtmf(digits)
            except pj.Error as e:
                print(json.dumps({"error": "dialDtmf: %s" % e.info()}), flush=True)


def run_refarc(a):
    ep = endpoint(a)

    class Acc(pj.Account):
        def __init__(self):
            super().__init__()
            self.calls = []

        def onIncomingCall(self, prm):
            voice = Voice(a) if a.voice_tone or a.voice_measure else None
            c = Call(self, Arc(voice, a.voice_after_ms), prm.callId)
            self.calls.append(c)
            op = pj.CallOpParam()
            op.statusCode = 200
            c.answer(op)

    acc = account(a, Acc(), "arc")
    print(json.dumps({"listening": a.local_port}), flush=True)
    deadline = time.time() + a.timeout

    def served():
        send_voice_dtmf(acc.calls, a.voice_dtmf)
        hang_up_after_voice(acc.calls, a.voice_hangup_ms)
        return sum(1 for c in acc.calls if c.ended_at) >= a.calls

    pump(ep, served, deadline)
    calls = []
    for c in acc.calls:
        with c.dsp.lock:
            calls.append({"reports": [report_text(r) for r in c.dsp.receiver.reports],
                          "rfc4733_digits": "".join(c.dsp.rfc4733),
                          "confirmed": c.confirmed_at is not None,
                          "ended_by_remote": bool(c.ended_at) and not c.hangup_local})
            if c.dsp.voice is not None:
                ans = c.confirmed_at
                calls[-1]["voice"] = c.dsp.voice.report(
                    lambda t: round((t - ans) * 1000, 1) if t and ans else None, a.voice_threshold_dbm0)
    print(json.dumps({"calls": calls}), flush=True)
    ok = sum(1 for c in calls if c["confirmed"]) >= a.calls
    acc.calls.clear()
    return finish(ep, 0 if ok else 1)


# ---------------------------------------------------------------- pcap

def alaw(sample):
    """ITU-T G.711 A-law encoding of one 16-bit sample."""
    s = sample >> 3  # 13-bit
    if s >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        s = -s - 1
    if s > 0xFFF:
        s = 0xFFF
    seg = 0
    while seg < 7 and s >= (0x20 << seg):
        seg += 1
    aval = (seg << 4) | ((s >> (seg + 1 if seg else 1)) & 0x0F)
    return aval ^ mask


def alaw_decode(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def packet(payload, seq, ts, ssrc, sport, dport, marker):
    rtp = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 8, seq, ts, ssrc) + payload
    udp = struct.pack("!HHHH", sport, dport, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = bytes(6) + bytes(6) + b"\x08\x00"
    return eth + ip + udp


def run_pcap(a):
    gen = Dtmf(55, 55)
    gen.put(a.digits)
    frames = [array.array("h", bytes(2 * FRAME)) for _ in range(a.lead_ms // 20)]
    frames += gen.tx_until_done(FRAME)
    frames += [array.array("h", bytes(2 * FRAME)) for _ in range(a.tail_ms // 20)]
    det = DtmfDetector()
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    t0 = 1_795_339_200  # a fixed epoch: the file is reproducible byte for byte
    for i, f in enumerate(frames):
        payload = bytes(alaw(s) for s in f)
        det.rx(array.array("h", (alaw_decode(b) for b in payload)))
        pkt = packet(payload, 1000 + i, i * FRAME, 0x43494431, 40000, 6000, i == 0)
        usec = i * 20_000
        out.append(struct.pack("<IIII", t0 + usec // 1_000_000, usec % 1_000_000, len(pkt), len(pkt)) + pkt)
    data = b"".join(out)
    with open(a.out, "wb") as fh:
        fh.write(data)
    heard = det.digits()
    report = decode(heard) if len(heard) == 16 else None
    res = {"packets": len(frames), "bytes": len(data), "detected": heard,
           "report": report_text(report) if report else None}
    print(json.dumps(res), flush=True)
    return 0 if heard == a.digits and report else 1


DIGIT_FILE = {"*": "star", "#": "pound"}


def read_pcap(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4 or struct.unpack("<I", data[20:24])[0] != 1:
        raise SystemExit("%s: not a little-endian Ethernet libpcap file" % path)
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec, usec, bytearray(data[off + 16:off + 16 + incl])))
        off += 16 + incl
    return data[:24], out


def run_rfc2833(a):
    os.makedirs(a.out_dir, exist_ok=True)
    seq, ts0, files = 20000, 50000, []
    for i, d in enumerate(a.digits):
        header, pkts = read_pcap(os.path.join(a.captures, "dtmf_2833_%s.pcap" % DIGIT_FILE.get(d, d)))
        out = [header]
        for sec, usec, pkt in pkts:
            ihl = (pkt[14] & 0x0F) * 4
            udp = 14 + ihl
            rtp = udp + 8
            struct.pack_into("!H", pkt, udp + 6, 0)  # no UDP checksum (the header changes)
            if a.renumber == "stream":
                struct.pack_into("!HII", pkt, rtp + 2, seq, ts0 + i * a.step_ms * 8, 0x32383333)
                seq += 1
            else:
                struct.pack_into("!I", pkt, rtp + 8, 0x53530000 + i)
            out.append(struct.pack("<IIII", sec, usec, len(pkt), len(pkt)) + bytes(pkt))
        name = os.path.join(a.out_dir, "d%02d.pcap" % (i + 1))
        with open(name, "wb") as fh:
            fh.write(b"".join(out))
        files.append(name)
    print(json.dumps({"files": len(files), "digits": a.digits, "renumber": a.renumber}), flush=True)
    return 0


# ---------------------------------------------------------------- main

def main():
    global pj, Call, DspPort
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["device", "refarc", "pcap", "rfc2833"])
    p.add_argument("--uri", default="sip:112@127.0.0.1:5060")
    p.add_argument("--caller", default="4512345678")
    p.add_argument("--message", "-m", action="append",
                   help='device: "ACCT MT Q XYZ GG CCC" (repeat for several in one call)')
    p.add_argument("--codecs", default="PCMA,PCMU")
    p.add_argument("--local-port", type=int, default=5090)
    p.add_argument("--rtp-port", type=int, default=24000)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--hold-after", type=float, default=1.0, help="device: s to stay after the last kissoff")
    p.add_argument("--wait-bye", action="store_true", help="device: wait for the far end's BYE")
    p.add_argument("--calls", type=int, default=1, help="refarc: calls to serve")
    p.add_argument("--digits", default="1234181602000002", help="pcap: the 16 DTMF digits")
    p.add_argument("--out", help="pcap: the file to write")
    p.add_argument("--out-dir", default="rfc2833", help="rfc2833: where dNN.pcap go")
    p.add_argument("--captures", default="/usr/share/sip-tester", help="rfc2833: sip-tester's dtmf_2833_*.pcap")
    p.add_argument("--renumber", choices=["stream", "ssrc"], default="stream")
    p.add_argument("--step-ms", type=int, default=160, help="rfc2833 stream: event timestamp step per digit")
    p.add_argument("--lead-ms", type=int, default=200)
    p.add_argument("--tail-ms", type=int, default=400)
    p.add_argument("--voice-tone", type=float, default=0.0,
                   help="device: after the last kissoff, play this tone (Hz) until the call ends")
    p.add_argument("--voice-dbm0", type=float, default=-10.0, help="device: level of --voice-tone")
    p.add_argument("--voice-measure", default="",
                   help="device: after the last kissoff, Goertzel levels of these tones (Hz, comma-separated)")
    p.add_argument("--voice-window-ms", type=int, default=500)
    p.add_argument("--voice-threshold-dbm0", type=float, default=-30.0,
                   help="device: a measured tone at or above this level counts as heard")
    p.add_argument("--voice-after-ms", type=int, default=1500,
                   help="refarc: the voice phase starts this long after the first decoded message")
    p.add_argument("--voice-dtmf", default="",
                   help="refarc: send these digits (RFC 4733) 1 s into the voice phase")
    p.add_argument("--voice-hangup-ms", type=int, default=None,
                   help="refarc: hang up this long after the voice phase started")
    p.add_argument("--events", action="store_true", help="device: progress lines before the JSON result")
    p.add_argument("--vad", action="store_true",
                   help="pjsua2's voice activity detection on: no RTP after 400 ms of silence")
    p.add_argument("--tx-drop-pct", type=int, default=0,
                   help="pjsua2 drops this share of the RTP packets it sends (pjmedia counts 'rand %% 100 <= pct')")
    p.add_argument("--log-level", type=int, default=1)
    a = p.parse_args()
    a.voice_measure = [float(x) for x in a.voice_measure.split(",") if x.strip()]
    if a.mode == "rfc2833":
        return run_rfc2833(a)
    load_spandsp()
    if a.mode == "pcap":
        return run_pcap(a)
    pj = load_pj()
    DspPort = make_port_class()
    Call = make_call_class()
    return run_device(a) if a.mode == "device" else run_refarc(a)


Call = DspPort = None

if __name__ == "__main__":
    sys.exit(main())
