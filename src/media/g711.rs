//! ITU-T G.711 A-law (PCMA) and µ-law (PCMU) companding, as carried by RTP
//! payload types 8 and 0 (RFC 3551 §4.5.14).
//!
//! Samples are 16-bit linear PCM at 8 kHz. Decoding is a 256-entry table per
//! law, built at compile time. Encoding is the G.711 segment search done with
//! `leading_zeros`, following the ITU-T G.191 reference (`g711.c`): negative
//! inputs are folded by one's complement, so `x` and `-1 - x` share a code.
//! The tests compare both directions with the G.191 loops over every input.

/// The G.711 law of an audio stream; the integrator maps the SDP onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// A-law, RTP payload type 8 (Europe: DK and NO use this).
    Pcma,
    /// µ-law, RTP payload type 0.
    Pcmu,
}

/// The RTP clock rate of both laws, in Hz.
pub const CLOCK_RATE: u32 = 8000;

impl Codec {
    /// The static RTP payload type (RFC 3551 table 4).
    pub const fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }

    /// The SDP `a=rtpmap` encoding name.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }

    /// Compresses one linear sample.
    pub fn encode_sample(self, x: i16) -> u8 {
        match self {
            Codec::Pcma => alaw_encode(x),
            Codec::Pcmu => ulaw_encode(x),
        }
    }

    /// Expands one code to a linear sample.
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcma => ALAW_DECODE[usize::from(code)],
            Codec::Pcmu => ULAW_DECODE[usize::from(code)],
        }
    }

    /// Expands `codes` into `out`; returns how many samples were written
    /// (the shorter of the two lengths).
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) -> usize {
        let table = match self {
            Codec::Pcma => &ALAW_DECODE,
            Codec::Pcmu => &ULAW_DECODE,
        };
        for (dst, &code) in out.iter_mut().zip(codes) {
            *dst = table[usize::from(code)];
        }
        codes.len().min(out.len())
    }

    /// Compresses `samples` into `out`; returns how many codes were written.
    pub fn encode_into(self, samples: &[i16], out: &mut [u8]) -> usize {
        for (dst, &x) in out.iter_mut().zip(samples) {
            *dst = self.encode_sample(x);
        }
        samples.len().min(out.len())
    }
}

/// The code for digital silence: A-law 0xD5 (+8, the idle pattern), µ-law 0xFF (0).
pub const fn silence_byte(codec: Codec) -> u8 {
    match codec {
        Codec::Pcma => 0xd5,
        Codec::Pcmu => 0xff,
    }
}

/// A-law code to linear, for all 256 codes.
pub static ALAW_DECODE: [i16; 256] = alaw_table();
/// µ-law code to linear, for all 256 codes.
pub static ULAW_DECODE: [i16; 256] = ulaw_table();

const fn alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        let a = code as u8 ^ 0x55;
        let seg = ((a & 0x70) >> 4) as u32;
        let mut t = ((a & 0x0f) as i16) << 4;
        t += if seg == 0 { 8 } else { 0x108 };
        if seg > 1 {
            t <<= seg - 1;
        }
        table[code] = if a & 0x80 != 0 { t } else { -t };
        code += 1;
    }
    table
}

const fn ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        let u = !(code as u8);
        let t = ((((u & 0x0f) as i16) << 3) + 0x84) << ((u & 0x70) >> 4);
        table[code] = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
        code += 1;
    }
    table
}

/// Bits needed to write `n` (0 for 0).
fn bit_length(n: u16) -> u32 {
    u16::BITS - n.leading_zeros()
}

/// Magnitude folded by one's complement, as G.191 does (`~x` for negatives).
fn fold(x: i16) -> (u16, bool) {
    if x < 0 {
        (!x as u16, false)
    } else {
        (x as u16, true)
    }
}

/// A-law: 12-bit magnitude, segment = bit length - 4, 4 mantissa bits.
fn alaw_encode(x: i16) -> u8 {
    let (mag, positive) = fold(x);
    let ix = mag >> 4; // 0..=2047
    let code = if ix < 16 {
        ix as u8
    } else {
        let exp = bit_length(ix) - 4; // 1..=7
        ((exp as u8) << 4) | ((ix >> (exp - 1)) & 0x0f) as u8
    };
    (code | if positive { 0x80 } else { 0 }) ^ 0x55
}

/// µ-law: 14-bit magnitude plus bias 33, clipped at 0x1FFF, inverted bits.
fn ulaw_encode(x: i16) -> u8 {
    let (mag, positive) = fold(x);
    let biased = ((mag >> 2) + 33).min(0x1fff);
    let seg = bit_length(biased >> 6) + 1; // 1..=8
    let high = (8 - seg) as u8;
    let low = 0x0f - ((biased >> seg) & 0x0f) as u8;
    (high << 4) | low | if positive { 0x80 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ITU-T G.191 `alaw_compress`, loop for loop.
    fn ref_alaw_compress(lin: i16) -> u8 {
        let mut ix: i32 = if lin < 0 {
            (!lin as i32) >> 4
        } else {
            lin as i32 >> 4
        };
        if ix > 15 {
            let mut iexp = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if lin >= 0 {
            ix |= 0x80;
        }
        (ix ^ 0x55) as u8
    }

    /// ITU-T G.191 `alaw_expand`.
    fn ref_alaw_expand(log: u8) -> i16 {
        let ix = (log ^ 0x55) as i32 & 0x7f;
        let iexp = ix >> 4;
        let mut mant = ix & 0x0f;
        if iexp > 0 {
            mant += 16;
        }
        mant = (mant << 4) + 8;
        if iexp > 1 {
            mant <<= iexp - 1;
        }
        (if log > 127 { mant } else { -mant }) as i16
    }

    /// ITU-T G.191 `ulaw_compress`.
    fn ref_ulaw_compress(lin: i16) -> u8 {
        let mut absno: i32 = if lin < 0 {
            ((!lin) as i32 >> 2) + 33
        } else {
            (lin as i32 >> 2) + 33
        };
        if absno > 0x1fff {
            absno = 0x1fff;
        }
        let mut i = absno >> 6;
        let mut segno = 1;
        while i != 0 {
            segno += 1;
            i >>= 1;
        }
        let high = 8 - segno;
        let low = 0x0f - ((absno >> segno) & 0x0f);
        let code = (high << 4) | low;
        (if lin >= 0 { code | 0x80 } else { code }) as u8
    }

    /// ITU-T G.191 `ulaw_expand`.
    fn ref_ulaw_expand(log: u8) -> i16 {
        let sign = if log < 0x80 { -1 } else { 1 };
        let mantissa = !(log as i32);
        let exponent = (mantissa >> 4) & 0x07;
        let step = 4 << (exponent + 1);
        let value = (0x80 << exponent) + step * (mantissa & 0x0f) + step / 2 - 4 * 33;
        (sign * value) as i16
    }

    #[test]
    fn encoders_match_g191_for_every_i16() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(alaw_encode(x), ref_alaw_compress(x), "A-law {x}");
            assert_eq!(ulaw_encode(x), ref_ulaw_compress(x), "µ-law {x}");
        }
    }

    #[test]
    fn decode_tables_match_g191() {
        for code in 0..=255u8 {
            assert_eq!(
                ALAW_DECODE[usize::from(code)],
                ref_alaw_expand(code),
                "A {code:#x}"
            );
            assert_eq!(
                ULAW_DECODE[usize::from(code)],
                ref_ulaw_expand(code),
                "µ {code:#x}"
            );
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(silence_byte(Codec::Pcma), 0xd5);
        assert_eq!(Codec::Pcma.encode_sample(0), 0xd5);
        assert_eq!(Codec::Pcma.decode_sample(0xd5), 8);
        assert_eq!(Codec::Pcma.decode_sample(0x55), -8);
        assert_eq!(Codec::Pcma.decode_sample(0xaa), 32256);
        assert_eq!(Codec::Pcma.decode_sample(0x2a), -32256);
        assert_eq!(Codec::Pcma.encode_sample(i16::MAX), 0xaa);
        assert_eq!(Codec::Pcma.encode_sample(i16::MIN), 0x2a);
        assert_eq!(silence_byte(Codec::Pcmu), 0xff);
        assert_eq!(Codec::Pcmu.encode_sample(0), 0xff);
        assert_eq!(Codec::Pcmu.decode_sample(0xff), 0);
        assert_eq!(Codec::Pcmu.decode_sample(0x7f), 0);
        assert_eq!(Codec::Pcmu.decode_sample(0x80), 32124);
        assert_eq!(Codec::Pcmu.decode_sample(0x00), -32124);
        assert_eq!(Codec::Pcmu.encode_sample(i16::MAX), 0x80);
        assert_eq!(
            (
                Codec::Pcma.static_payload_type(),
                Codec::Pcmu.static_payload_type()
            ),
            (8, 0)
        );
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let a = Codec::Pcma;
            assert_eq!(a.encode_sample(a.decode_sample(code)), code);
            let u = Codec::Pcmu;
            let expect = if code == 0x7f { 0xff } else { code }; // -0 becomes +0
            assert_eq!(u.encode_sample(u.decode_sample(code)), expect);
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for codec in [Codec::Pcma, Codec::Pcmu] {
            for x in i16::MIN..=i16::MAX {
                let y = codec.decode_sample(codec.encode_sample(x));
                let err = (i32::from(x) - i32::from(y)).abs();
                // Largest step: A-law 1024, µ-law 1024 (plus clipping at the top).
                let clip = (i32::from(x).abs() - 32256).max(0);
                let bound = 8 + i32::from(x).unsigned_abs() as i32 / 32;
                assert!(err <= bound.max(16) + clip, "{codec:?} {x} -> {y}");
            }
        }
    }

    #[test]
    fn slice_helpers_stop_at_the_shorter_side() {
        let mut pcm = [0i16; 3];
        assert_eq!(
            Codec::Pcma.decode_into(&[0xd5, 0x55, 0xaa, 0xaa], &mut pcm),
            3
        );
        assert_eq!(pcm, [8, -8, 32256]);
        let mut codes = [0u8; 4];
        assert_eq!(Codec::Pcmu.encode_into(&[0, 0], &mut codes), 2);
        assert_eq!(codes, [0xff, 0xff, 0, 0]);
    }
}
