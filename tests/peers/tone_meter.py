"""Tones in and out of a call's 8 kHz 16-bit audio, for the operator tests
(tests/peers/pj_operator.py, tests/peers/cid_peer.py device --voice-*).

- `ToneSource`: a sine of a given frequency and level (dBm0), frame by frame,
  phase-continuous across frames and frequency changes.
- `Meter`: Goertzel filters at given frequencies over 20 ms blocks, averaged
  over a window; each finished window is a dict
  {"levels": {"700": dBm0, ...}, "rms_dbm0": total level, "blocks": n}.

Level convention (as src/media/tone.rs): a sine of L dBm0 has the peak
amplitude 32767 * 10^((L - 3.14) / 20); a full-scale sine is +3.14 dBm0.
Silence is reported as -99 dBm0.

    python3 tests/peers/tone_meter.py     # self-check: 700 Hz in, levels out
"""
import array
import math

RATE = 8000
BLOCK = 160  # 20 ms
FULL_SCALE_DBM0 = 3.14
FLOOR_DBM0 = -99.0


def amplitude(level_dbm0):
    """Peak amplitude (16-bit linear) of a sine of level_dbm0."""
    return 32767.0 * 10 ** ((level_dbm0 - FULL_SCALE_DBM0) / 20.0)


def dbm0_of_amplitude(peak):
    """dBm0 of a sine whose peak amplitude is `peak` (FLOOR_DBM0 for none)."""
    if peak <= 0:
        return FLOOR_DBM0
    return max(FLOOR_DBM0, 20.0 * math.log10(peak / 32767.0) + FULL_SCALE_DBM0)


class ToneSource:
    """A continuous sine; hz = 0 (or None) is silence."""

    def __init__(self, hz=0, level_dbm0=-10.0):
        self.phase = 0.0
        self.hz = 0
        self.amp = 0.0
        self.set(hz, level_dbm0)

    def set(self, hz, level_dbm0=-10.0):
        self.hz = float(hz or 0)
        self.amp = amplitude(level_dbm0) if self.hz > 0 else 0.0

    def frame(self, n=BLOCK):
        """n samples as array('h')."""
        if self.amp == 0.0:
            return array.array("h", bytes(2 * n))
        step = 2.0 * math.pi * self.hz / RATE
        out = array.array("h", [0] * n)
        ph = self.phase
        for i in range(n):
            out[i] = int(self.amp * math.sin(ph))
            ph += step
        self.phase = ph % (2.0 * math.pi)
        return out


def goertzel_peak(samples, hz):
    """Peak amplitude of the component at hz in samples (one block)."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2.0 * math.sqrt(max(power, 0.0)) / n


def rms_peak(samples):
    """The peak amplitude of a sine with the same RMS as samples."""
    if not samples:
        return 0.0
    return math.sqrt(2.0 * sum(x * x for x in samples) / len(samples))


class Meter:
    """Goertzel levels of `freqs` averaged (in power) over window_ms windows."""

    def __init__(self, freqs, window_ms=500):
        self.freqs = [float(f) for f in freqs]
        self.blocks_per_window = max(1, int(window_ms) // 20)
        self.pending = array.array("h")
        self._reset()

    def _reset(self):
        self.power = {f: 0.0 for f in self.freqs}
        self.total = 0.0
        self.blocks = 0

    def feed(self, samples):
        """Adds samples; returns the list of windows finished by them."""
        self.pending.extend(samples)
        done = []
        while len(self.pending) >= BLOCK:
            block = self.pending[:BLOCK]
            del self.pending[:BLOCK]
            window = self._block(block)
            if window:
                done.append(window)
        return done

    def _block(self, block):
        for f in self.freqs:
            self.power[f] += goertzel_peak(block, f) ** 2
        self.total += rms_peak(block) ** 2
        self.blocks += 1
        if self.blocks < self.blocks_per_window:
            return None
        n = self.blocks
        out = {
            "levels": {fmt_hz(f): round(dbm0_of_amplitude(math.sqrt(p / n)), 1) for f, p in self.power.items()},
            "rms_dbm0": round(dbm0_of_amplitude(math.sqrt(self.total / n)), 1),
            "blocks": n,
        }
        self._reset()
        return out


def fmt_hz(f):
    """700.0 -> "700" (the JSON key of a frequency)."""
    return str(int(f)) if float(f).is_integer() else str(f)


def parse_freqs(text):
    """"700,1000" -> [700.0, 1000.0] (empty text: [])."""
    return [float(x) for x in str(text).split(",") if x.strip()]


if __name__ == "__main__":
    src, meter = ToneSource(700, -10.0), Meter([700, 1000], window_ms=200)
    for _ in range(10):
        for w in meter.feed(src.frame()):
            print(w)
