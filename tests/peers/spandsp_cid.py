"""ctypes bindings to Debian's libspandsp (`apt-get install libspandsp-dev`):
the Ademco Contact ID sender and receiver, and the DTMF generator.

An independent implementation (LGPL, Steve Underwood) used by the interop
tests as an oracle only: nothing of it is linked into alarmgate.

Origin: copied from the project's research tools (../shared/tools/
spandsp_cid.py, ours), then extended for the tests: `Dtmf` (spandsp's DTMF
generator, to regenerate RFC 4733 digits as tones and to make in-band
captures), `decode` (spandsp's `decode_msg`), arrays instead of lists, and
`report_text`. Bound against the Debian 0.0.6 headers: `dtmf_tx_init(s)`
takes one argument there (master's takes three).

Semantics worth knowing (read from spandsp's ademco_contactid.c):
- the sender's tone callback gets code -1 when the handshake was heard,
  1 (true) after a good kissoff ended, 0 (false) when it gave up;
- `Sender.put` fails (-1) while a message is in flight; a next message must be
  put right after the kissoff callback (the sender sends what is queued
  250 ms after the kissoff, and only then);
- `encode_msg` writes check digit 10 as DTMF 'D' (alarm-protocols.md P1).

    python3 tests/peers/spandsp_cid.py    # sender against receiver in memory
"""
import array
import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("spandsp") or "libspandsp.so.2")


class Report(ctypes.Structure):
    _fields_ = [("acct", ctypes.c_int), ("mt", ctypes.c_int), ("q", ctypes.c_int),
                ("xyz", ctypes.c_int), ("gg", ctypes.c_int), ("ccc", ctypes.c_int)]


TONE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
REPORT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Report))
I16P = ctypes.POINTER(ctypes.c_int16)

_lib.ademco_contactid_sender_init.restype = ctypes.c_void_p
_lib.ademco_contactid_sender_init.argtypes = [ctypes.c_void_p, TONE_CB, ctypes.c_void_p]
_lib.ademco_contactid_sender_tx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.ademco_contactid_sender_rx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.ademco_contactid_sender_put.argtypes = [ctypes.c_void_p, ctypes.POINTER(Report)]
_lib.ademco_contactid_receiver_init.restype = ctypes.c_void_p
_lib.ademco_contactid_receiver_init.argtypes = [ctypes.c_void_p, REPORT_CB, ctypes.c_void_p]
_lib.ademco_contactid_receiver_tx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.ademco_contactid_receiver_rx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.encode_msg.argtypes = [ctypes.c_char_p, ctypes.POINTER(Report)]
_lib.decode_msg.argtypes = [ctypes.POINTER(Report), ctypes.c_char_p]
_lib.dtmf_tx_init.restype = ctypes.c_void_p
_lib.dtmf_tx_init.argtypes = [ctypes.c_void_p]
_lib.dtmf_tx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.dtmf_tx_put.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_lib.dtmf_tx_set_timing.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_lib.dtmf_tx_set_level.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_lib.dtmf_rx_init.restype = ctypes.c_void_p
_lib.dtmf_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
_lib.dtmf_rx.argtypes = [ctypes.c_void_p, I16P, ctypes.c_int]
_lib.dtmf_rx_get.restype = ctypes.c_size_t
_lib.dtmf_rx_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]


def _buf(n):
    return (ctypes.c_int16 * n)()


def _in(samples):
    a = array.array("h", samples)
    return (ctypes.c_int16 * len(a)).from_buffer(a), len(a)


def _out(fill, n):
    """Calls fill(buffer, n); returns n samples (zero-padded) as array('h')."""
    buf = _buf(n)
    got = fill(buf, n)
    out = array.array("h", bytes(buf))
    if got < n:
        out[got:] = array.array("h", bytes(2 * (n - got)))
    return out


def parse_fields(text):
    """"ACCT MT Q XYZ GG CCC" (Ademco hex digits) -> (acct, mt, q, xyz, gg, ccc) ints."""
    acct, mt, q, xyz, gg, ccc = text.split()
    return int(acct, 16), int(mt, 16), int(q, 16), int(xyz, 16), int(gg, 16), int(ccc, 16)


def report_text(r):
    """(acct, mt, q, xyz, gg, ccc) -> "ACCT MT Q XYZ GG CCC" (upper-case hex digits)."""
    acct, mt, q, xyz, gg, ccc = r
    return "%04X %02X %X %03X %02X %03X" % (acct, mt, q, xyz, gg, ccc)


def encode(acct, mt, q, xyz, gg, ccc):
    """spandsp's encode_msg: the 16 DTMF digits (P1: check digit 10 is 'D')."""
    buf = ctypes.create_string_buffer(32)
    _lib.encode_msg(buf, ctypes.byref(Report(acct, mt, q, xyz, gg, ccc)))
    return buf.value.decode()


def decode(digits):
    """spandsp's decode_msg: 16 DTMF digits -> report tuple, or None (bad checksum/format)."""
    r = Report()
    if _lib.decode_msg(ctypes.byref(r), digits.encode()) < 0:
        return None
    return (r.acct, r.mt, r.q, r.xyz, r.gg, r.ccc)


class Sender:
    """The alarm unit: waits for the receiver's handshake, sends DTMF, waits for kissoff."""

    def __init__(self):
        self.events = []
        self._cb = TONE_CB(lambda ud, code, level, delay: self.events.append(code))
        self.s = _lib.ademco_contactid_sender_init(None, self._cb, None)

    def put(self, acct, mt, q, xyz, gg, ccc):
        return _lib.ademco_contactid_sender_put(self.s, ctypes.byref(Report(acct, mt, q, xyz, gg, ccc)))

    def rx(self, samples):  # audio heard from the receiver
        arr, n = _in(samples)
        _lib.ademco_contactid_sender_rx(self.s, arr, n)

    def tx(self, n):
        return _out(lambda b, k: _lib.ademco_contactid_sender_tx(self.s, b, k), n)


class Receiver:
    """The alarm receiving centre: handshake, DTMF decoding, kissoff."""

    def __init__(self):
        self.reports = []
        self._cb = REPORT_CB(lambda ud, rp: self.reports.append(
            (rp.contents.acct, rp.contents.mt, rp.contents.q, rp.contents.xyz, rp.contents.gg, rp.contents.ccc)))
        self.s = _lib.ademco_contactid_receiver_init(None, self._cb, None)

    def rx(self, samples):
        arr, n = _in(samples)
        _lib.ademco_contactid_receiver_rx(self.s, arr, n)

    def tx(self, n):
        return _out(lambda b, k: _lib.ademco_contactid_receiver_tx(self.s, b, k), n)


class Dtmf:
    """spandsp's DTMF generator (default level -10 dBm0, twist 0)."""

    def __init__(self, on_ms=55, off_ms=55):
        self.s = _lib.dtmf_tx_init(None)
        _lib.dtmf_tx_set_timing(self.s, on_ms, off_ms)

    def put(self, digits):
        return _lib.dtmf_tx_put(self.s, digits.encode(), len(digits))

    def tx(self, n):
        return _out(lambda b, k: _lib.dtmf_tx(self.s, b, k), n)

    def tx_until_done(self, n):
        """Frames of n samples until the queued digits are all sent (the last zero-padded)."""
        frames = []
        while True:
            got = []
            f = _out(lambda b, k: got.append(_lib.dtmf_tx(self.s, b, k)) or got[0], n)
            if got[0] == 0:
                return frames
            frames.append(f)


class DtmfDetector:
    """spandsp's DTMF detector (digits collected in its buffer)."""

    def __init__(self):
        self.s = _lib.dtmf_rx_init(None, None, None)

    def rx(self, samples):
        arr, n = _in(samples)
        _lib.dtmf_rx(self.s, arr, n)

    def digits(self):
        buf = ctypes.create_string_buffer(128)
        n = _lib.dtmf_rx_get(self.s, buf, 127)
        return buf.raw[:n].decode()


if __name__ == "__main__":
    print("encoded:", encode(*parse_fields("1234 18 1 101 01 015")))
    snd, rcv = Sender(), Receiver()
    snd.put(*parse_fields("1234 18 1 101 01 015"))
    for i in range(8000 // 160 * 10):
        b, a = rcv.tx(160), snd.tx(160)
        snd.rx(b)
        rcv.rx(a)
        if 1 in snd.events:
            break
    print("receiver got:", [report_text(r) for r in rcv.reports], "sender tone events:", snd.events)
