//! RTP data packets (RFC 3550 §5.1): a checked read-only view and a header
//! representation that emits into a buffer.
//!
//! [`RtpPacket::new_checked`] validates the version, the CSRC list, the
//! header extension (RFC 3550 §5.3.1, skipped but bounds-checked) and the
//! padding count once; after that no accessor can panic, whatever the bytes.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers             |
//! ```

use thiserror::Error;

/// Length of the fixed RTP header.
pub const HEADER_LEN: usize = 12;
/// The only RTP version we accept.
pub const VERSION: u8 = 2;
/// Most CSRC identifiers a header can carry (4-bit CC field).
pub const MAX_CSRC: usize = 15;

/// Byte offsets of the fixed header fields.
mod field {
    /// V (2 bits), P, X, CC (4 bits).
    pub const FLAGS: usize = 0;
    /// M and PT (7 bits).
    pub const MARKER_PT: usize = 1;
    /// Sequence number, 16 bits.
    pub const SEQ: usize = 2;
    /// Timestamp, 32 bits.
    pub const TIMESTAMP: usize = 4;
    /// SSRC, 32 bits.
    pub const SSRC: usize = 8;
    /// Start of the CSRC list.
    pub const CSRC: usize = 12;
    /// Extension header: 16-bit profile word and 16-bit length in words.
    pub const EXT_HEADER_LEN: usize = 4;
}

/// Why bytes are not a valid RTP packet, or a buffer cannot take one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Fewer bytes than the header (fixed part, CSRCs and extension) claims.
    #[error("RTP packet of {len} bytes is shorter than its {need}-byte header")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    /// The padding count is zero or larger than the payload area.
    #[error("RTP padding count {count} invalid with {available} bytes after the header")]
    Padding {
        /// The padding count from the last byte.
        count: u8,
        /// Bytes after the header, padding included.
        available: usize,
    },
    /// More than 15 CSRCs asked for on emit.
    #[error("{0} CSRCs do not fit the 4-bit CC field")]
    TooManyCsrcs(usize),
    /// The output buffer is too small on emit.
    #[error("buffer of {have} bytes cannot hold the {need}-byte packet")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

/// A validated, read-only view of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    bytes: &'a [u8],
    fixed: [u8; HEADER_LEN],
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates `bytes` as an RTP packet; every accessor is infallible after.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, RtpError> {
        let fixed: [u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(RtpError::Truncated {
                len: bytes.len(),
                need: HEADER_LEN,
            })?;
        let version = fixed[field::FLAGS] >> 6;
        if version != VERSION {
            return Err(RtpError::Version(version));
        }
        let header_len = header_len(bytes, fixed[field::FLAGS])?;
        let payload_end = payload_end(bytes, fixed[field::FLAGS], header_len)?;
        Ok(Self {
            bytes,
            fixed,
            header_len,
            payload_end,
        })
    }

    /// True when the P bit is set (padding was removed from [`Self::payload`]).
    pub fn padding(&self) -> bool {
        self.fixed[field::FLAGS] & 0x20 != 0
    }

    /// True when the X bit is set (the extension was skipped).
    pub fn extension(&self) -> bool {
        self.fixed[field::FLAGS] & 0x10 != 0
    }

    /// The CSRC count.
    pub fn csrc_count(&self) -> usize {
        usize::from(self.fixed[field::FLAGS] & 0x0f)
    }

    /// The marker bit (start of a talkspurt, or of a telephone event).
    pub fn marker(&self) -> bool {
        self.fixed[field::MARKER_PT] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.fixed[field::MARKER_PT] & 0x7f
    }

    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        let s = field::SEQ;
        u16::from_be_bytes([self.fixed[s], self.fixed[s + 1]])
    }

    /// The 32-bit media timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(&self.fixed, field::TIMESTAMP)
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        be32(&self.fixed, field::SSRC)
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let end = field::CSRC + 4 * self.csrc_count();
        self.bytes
            .get(field::CSRC..end)
            .unwrap_or(&[])
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Header length including CSRCs and extension: where the payload starts.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, without header, extension or padding.
    pub fn payload(&self) -> &'a [u8] {
        self.bytes
            .get(self.header_len..self.payload_end)
            .unwrap_or(&[])
    }
}

fn be32(bytes: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_be_bytes(word)
}

/// Length of fixed header + CSRC list + extension, checked against `bytes`.
fn header_len(bytes: &[u8], flags: u8) -> Result<usize, RtpError> {
    let truncated = |need| RtpError::Truncated {
        len: bytes.len(),
        need,
    };
    let mut len = HEADER_LEN + 4 * usize::from(flags & 0x0f);
    if flags & 0x10 != 0 {
        let ext = bytes.get(len..len + field::EXT_HEADER_LEN);
        let ext = ext.ok_or(truncated(len + field::EXT_HEADER_LEN))?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        len += field::EXT_HEADER_LEN + 4 * words;
    }
    if bytes.len() < len {
        return Err(truncated(len));
    }
    Ok(len)
}

/// End of the payload: the packet end less the padding count, if any.
fn payload_end(bytes: &[u8], flags: u8, header_len: usize) -> Result<usize, RtpError> {
    if flags & 0x20 == 0 {
        return Ok(bytes.len());
    }
    let available = bytes.len().saturating_sub(header_len);
    let count = bytes.last().copied().unwrap_or(0);
    if count == 0 || usize::from(count) > available {
        return Err(RtpError::Padding { count, available });
    }
    Ok(bytes.len() - usize::from(count))
}

/// The header fields we send (no extension is ever emitted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The marker bit.
    pub marker: bool,
    /// The 7-bit payload type (the top bit is masked off on emit).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence_number: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources, at most [`MAX_CSRC`].
    pub csrcs: Vec<u32>,
}

impl RtpHeader {
    /// The header of a parsed packet (the extension, if any, is not kept).
    pub fn parse(packet: &RtpPacket<'_>) -> Self {
        Self {
            marker: packet.marker(),
            payload_type: packet.payload_type(),
            sequence_number: packet.sequence_number(),
            timestamp: packet.timestamp(),
            ssrc: packet.ssrc(),
            csrcs: packet.csrcs().collect(),
        }
    }

    /// Bytes this header takes on the wire.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + 4 * self.csrcs.len()
    }

    /// Bytes of a whole packet with `payload_len` and `padding` bytes.
    pub fn buffer_len(&self, payload_len: usize, padding: u8) -> usize {
        self.header_len() + payload_len + usize::from(padding)
    }

    /// Writes header, payload and `padding` bytes (0 = none; the last padding
    /// byte holds the count) into `buf`; returns the packet length.
    pub fn emit(&self, payload: &[u8], padding: u8, buf: &mut [u8]) -> Result<usize, RtpError> {
        if self.csrcs.len() > MAX_CSRC {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        let need = self.buffer_len(payload.len(), padding);
        let have = buf.len();
        let out = buf
            .get_mut(..need)
            .ok_or(RtpError::BufferTooSmall { need, have })?;
        let (head, rest) = out.split_at_mut(self.header_len());
        self.emit_header(head, padding != 0);
        let (body, pad) = rest.split_at_mut(payload.len());
        body.copy_from_slice(payload);
        pad.fill(0);
        if let Some(last) = pad.last_mut() {
            *last = padding;
        }
        Ok(need)
    }

    /// The whole packet in a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Result<Vec<u8>, RtpError> {
        let mut buf = vec![0; self.buffer_len(payload.len(), 0)];
        self.emit(payload, 0, &mut buf)?;
        Ok(buf)
    }

    /// Fills `head`, which is exactly `self.header_len()` bytes.
    fn emit_header(&self, head: &mut [u8], padding: bool) {
        let cc = self.csrcs.len() as u8 & 0x0f;
        let mut fixed = [0u8; HEADER_LEN];
        fixed[field::FLAGS] = VERSION << 6 | u8::from(padding) << 5 | cc;
        fixed[field::MARKER_PT] = u8::from(self.marker) << 7 | (self.payload_type & 0x7f);
        fixed[field::SEQ..field::SEQ + 2].copy_from_slice(&self.sequence_number.to_be_bytes());
        fixed[field::TIMESTAMP..field::TIMESTAMP + 4]
            .copy_from_slice(&self.timestamp.to_be_bytes());
        fixed[field::SSRC..field::SSRC + 4].copy_from_slice(&self.ssrc.to_be_bytes());
        let csrc_words = head.chunks_exact_mut(4).skip(HEADER_LEN / 4);
        for (dst, csrc) in csrc_words.zip(&self.csrcs) {
            dst.copy_from_slice(&csrc.to_be_bytes());
        }
        for (dst, src) in head.iter_mut().zip(fixed) {
            *dst = src;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PCMA, marker, seq 0x1234, ts 0xdeadbeef, SSRC 0x01020304, 4-byte payload.
    const SIMPLE: [u8; 16] = [
        0x80, 0x88, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xd5, 0xd5, 0xd5,
        0xd5,
    ];

    /// P, X and CC=1: one CSRC, a one-word extension, payload "ab", 2 padding bytes.
    const FULL: [u8; 30] = [
        0xb1, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa0, 0xca, 0xfe, 0xba, 0xbe, // fixed
        0x11, 0x22, 0x33, 0x44, // CSRC
        0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00, // extension (RFC 8285 one-byte)
        b'a', b'b', 0x00, 0x00, 0x00, 0x04, // payload "ab" then 4 padding bytes
    ];

    #[test]
    fn parses_fixed_header() {
        let p = RtpPacket::new_checked(&SIMPLE).expect("valid");
        assert!(p.marker());
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.sequence_number(), 0x1234);
        assert_eq!(p.timestamp(), 0xdead_beef);
        assert_eq!(p.ssrc(), 0x0102_0304);
        assert_eq!(p.payload(), &[0xd5; 4]);
        assert!(!p.padding() && !p.extension());
    }

    #[test]
    fn skips_csrc_extension_and_padding() {
        let p = RtpPacket::new_checked(&FULL).expect("valid");
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0x1122_3344]);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), b"ab");
        assert!(p.padding() && p.extension() && !p.marker());
        assert_eq!(p.ssrc(), 0xcafe_babe);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(
            RtpPacket::new_checked(&SIMPLE[..11]).unwrap_err(),
            RtpError::Truncated { len: 11, need: 12 }
        );
        let mut v1 = SIMPLE;
        v1[0] = 0x40;
        assert_eq!(
            RtpPacket::new_checked(&v1).unwrap_err(),
            RtpError::Version(1)
        );
        let mut zero_pad = FULL;
        zero_pad[29] = 0;
        assert!(matches!(
            RtpPacket::new_checked(&zero_pad),
            Err(RtpError::Padding { .. })
        ));
        let mut big_pad = FULL;
        big_pad[29] = 7;
        assert!(matches!(
            RtpPacket::new_checked(&big_pad),
            Err(RtpError::Padding { .. })
        ));
        let mut long_ext = FULL;
        long_ext[19] = 9;
        assert!(matches!(
            RtpPacket::new_checked(&long_ext),
            Err(RtpError::Truncated { .. })
        ));
        assert!(RtpPacket::new_checked(&FULL[..14]).is_err()); // CSRC cut
    }

    #[test]
    fn every_truncation_and_every_first_byte_is_safe() {
        for len in 0..FULL.len() {
            let _ = RtpPacket::new_checked(&FULL[..len]).map(|p| p.payload().len());
        }
        for b0 in 0..=255u8 {
            let mut pkt = FULL;
            pkt[0] = b0;
            if let Ok(p) = RtpPacket::new_checked(&pkt) {
                assert!(p.header_len() + p.payload().len() <= pkt.len());
                let _ = p.csrcs().count();
            }
        }
    }

    #[test]
    fn emit_round_trips() {
        let header = RtpHeader {
            marker: true,
            payload_type: 101,
            sequence_number: 65535,
            timestamp: 160,
            ssrc: 42,
            csrcs: vec![7, 8],
        };
        let mut buf = [0u8; 64];
        let len = header.emit(b"xyz", 3, &mut buf).expect("fits");
        assert_eq!(len, 12 + 8 + 3 + 3);
        let p = RtpPacket::new_checked(&buf[..len]).expect("valid");
        assert_eq!(RtpHeader::parse(&p), header);
        assert_eq!(p.payload(), b"xyz");
        assert_eq!(header.to_vec(b"").map(|v| v.len()), Ok(20));
    }

    #[test]
    fn emit_matches_vector_and_checks_sizes() {
        let header = RtpHeader {
            marker: true,
            payload_type: 8,
            sequence_number: 0x1234,
            timestamp: 0xdead_beef,
            ssrc: 0x0102_0304,
            csrcs: vec![],
        };
        assert_eq!(header.to_vec(&[0xd5; 4]).expect("fits"), SIMPLE);
        let mut small = [0u8; 15];
        assert_eq!(
            header.emit(&[0xd5; 4], 0, &mut small),
            Err(RtpError::BufferTooSmall { need: 16, have: 15 })
        );
        let many = RtpHeader {
            csrcs: vec![0; 16],
            ..header
        };
        assert_eq!(many.to_vec(&[]), Err(RtpError::TooManyCsrcs(16)));
    }
}
