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
  refarc  a reference alarm receiving centre: answers every INVITE with 200
          and runs spandsp's Contact ID *receiver* on the call audio
          (handshake, decode, kissoff). RFC 4733 digits (pjsua2 hands them
          over as onDtmfDigit callbacks, not audio; spandsp's receiver has no
          digit input) are regenerated as tones with spandsp's DTMF generator
          and mixed into what the receiver hears, as a media gateway would.
          Exits after --calls calls ended (or --timeout), printing one JSON
          line {calls: [{reports, rfc4733_digits, confirmed, ended_by_remote}]}
          where reports are "ACCT MT Q XYZ GG CCC" strings.
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
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = a.log_level
    cfg.logConfig.consoleLevel = a.log_level
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "alarmgate-tests/cid_peer"
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    tc = pj.TransportConfig()
    tc.port = a.local_port
    tc.boundAddress = "127.0.0.1"
    tc.publicAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    wanted = [c.strip().upper() for c in a.codecs.split(",") if c.strip()]
    for c in ep.codecEnum2():
        name = c.codecId.split("/")[0].upper()
        ep.codecSetPriority(c.codecId, 255 - wanted.index(name) if name in wanted else 0)
    return ep


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

class Unit:
    """spandsp's sender plus the message queue and its timings (media thread)."""

    def __init__(self, messages):
        self.lock = threading.Lock()
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

    def tx(self, n):
        with self.lock:
            out = self.sender.tx(n)
            if any(out):
                self.last_tone_out = time.time()
            return out

    def rx(self, samples):
        with self.lock:
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


def run_device(a):
    ep = endpoint(a)
    acc = account(a, pj.Account(), a.caller)
    unit = Unit([parse_fields(m) for m in a.message or ["1234 18 1 602 00 000"]])
    call = Call(acc, unit)
    t0 = time.time()
    deadline = t0 + a.timeout
    call.makeCall(a.uri, pj.CallOpParam(True))
    pump(ep, lambda: call.ended_at or unit.all_acknowledged(), deadline)
    if unit.all_acknowledged() and not call.ended_at:
        if a.wait_bye:
            pump(ep, lambda: call.ended_at, deadline)
        else:
            pump(ep, lambda: call.ended_at, min(deadline, time.time() + a.hold_after))
    if not call.ended_at:
        call.hangup_now()
    pump(ep, lambda: call.ended_at, time.time() + 10)
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
    print(json.dumps(res), flush=True)
    ok = acked == len(msgs) and (res["ended_by_remote"] or not a.wait_bye)
    return finish(ep, 0 if ok else 1)


# ---------------------------------------------------------------- refarc

class Arc:
    """spandsp's receiver; RFC 4733 digits regenerated as spandsp DTMF tones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.receiver = Receiver()
        self.regen = Dtmf(55, 55)
        self.digits = collections.deque()
        self.rfc4733 = []

    def on_digit(self, d):
        self.digits.append(d)
        self.rfc4733.append(d)

    def rx(self, samples):
        with self.lock:
            while self.digits:
                self.regen.put(self.digits.popleft())
            tone = self.regen.tx(len(samples))
            if any(tone):
                samples = array.array("h", (max(-32768, min(32767, x + y)) for x, y in zip(samples, tone)))
            self.receiver.rx(samples)

    def tx(self, n):
        with self.lock:
            return self.receiver.tx(n)


def run_refarc(a):
    ep = endpoint(a)

    class Acc(pj.Account):
        def __init__(self):
            super().__init__()
            self.calls = []

        def onIncomingCall(self, prm):
            c = Call(self, Arc(), prm.callId)
            self.calls.append(c)
            op = pj.CallOpParam()
            op.statusCode = 200
            c.answer(op)

    acc = account(a, Acc(), "arc")
    print(json.dumps({"listening": a.local_port}), flush=True)
    deadline = time.time() + a.timeout
    pump(ep, lambda: sum(1 for c in acc.calls if c.ended_at) >= a.calls, deadline)
    calls = []
    for c in acc.calls:
        with c.dsp.lock:
            calls.append({"reports": [report_text(r) for r in c.dsp.receiver.reports],
                          "rfc4733_digits": "".join(c.dsp.rfc4733),
                          "confirmed": c.confirmed_at is not None,
                          "ended_by_remote": bool(c.ended_at) and not c.hangup_local})
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
    p.add_argument("--log-level", type=int, default=1)
    a = p.parse_args()
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
