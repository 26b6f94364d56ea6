//! RTCP packets (RFC 3550 §6): building a compound RR + SDES CNAME packet
//! (§6.4.2, §6.5.1) and parsing the peer's SR and RR (§6.4.1) without
//! trusting their lengths; rtcp-mux detection (RFC 5761 §4). The statistics
//! that fill a report block are in [`super::rtcp_stats`].

use thiserror::Error;

/// RTCP packet type of a sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type of source descriptions.
pub const PT_SDES: u8 = 202;
/// Bytes of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;

/// Why an RTCP packet could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    /// Fewer bytes than a header or a declared length needs.
    #[error("RTCP packet truncated at offset {offset}: need {need} bytes, have {have}")]
    Truncated {
        /// Where the packet starts in the compound.
        offset: usize,
        /// Bytes needed from there.
        need: usize,
        /// Bytes left from there.
        have: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {0}, expected 2")]
    Version(u8),
    /// A padding count of zero or larger than the packet.
    #[error("RTCP padding count {0} invalid")]
    Padding(u8),
    /// The CNAME does not fit the 8-bit SDES length.
    #[error("CNAME of {0} bytes exceeds 255")]
    CnameTooLong(usize),
    /// More report blocks than the 5-bit count allows.
    #[error("{0} report blocks exceed 31")]
    TooManyBlocks(usize),
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Lost fraction since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative lost, 24-bit signed (negative with duplicates).
    pub cumulative_lost: i32,
    /// Cycles << 16 | highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from the source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Reads one 24-byte block.
    pub fn parse(b: &[u8; REPORT_BLOCK_LEN]) -> Self {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost = word(4) & 0x00ff_ffff;
        Self {
            ssrc: word(0),
            fraction_lost: b[4],
            cumulative_lost: ((lost << 8) as i32) >> 8,
            extended_highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        let lost = self.cumulative_lost.clamp(-(1 << 23), (1 << 23) - 1) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&(u32::from(self.fraction_lost) << 24 | lost).to_be_bytes());
        for word in [
            self.extended_highest_seq,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

/// Builds a compound RTCP packet: RR from `sender_ssrc` with `blocks`, then
/// SDES with its CNAME.
pub fn build_receiver_report(
    sender_ssrc: u32,
    blocks: &[ReportBlock],
    cname: &str,
) -> Result<Vec<u8>, RtcpError> {
    if blocks.len() > 31 {
        return Err(RtcpError::TooManyBlocks(blocks.len()));
    }
    if cname.len() > 255 {
        return Err(RtcpError::CnameTooLong(cname.len()));
    }
    let mut out = Vec::with_capacity(8 + REPORT_BLOCK_LEN * blocks.len() + 12 + cname.len());
    let rr_words = 1 + 6 * blocks.len();
    push_header(&mut out, blocks.len() as u8, PT_RR, rr_words);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    blocks.iter().for_each(|b| b.emit(&mut out));
    let item_len = 2 + cname.len();
    let nulls = 4 - item_len % 4; // at least one terminating null
    push_header(&mut out, 1, PT_SDES, 1 + (item_len + nulls) / 4);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&[1, cname.len() as u8]);
    out.extend_from_slice(cname.as_bytes());
    out.resize(out.len() + nulls, 0);
    Ok(out)
}

/// Writes a common header for a packet of `words` 32-bit words after it.
fn push_header(out: &mut Vec<u8>, count: u8, pt: u8, words: usize) {
    out.extend_from_slice(&[0x80 | (count & 0x1f), pt]);
    out.extend_from_slice(&(words as u16).to_be_bytes());
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: u32,
    /// 64-bit NTP wall-clock time.
    pub ntp_timestamp: u64,
    /// The RTP timestamp for the same instant.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
    /// Reception reports about other sources (us, typically).
    pub reports: Vec<ReportBlock>,
}

/// One packet of a parsed compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR.
    SenderReport(SenderReport),
    /// RR: the reporter and its blocks.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// Its blocks.
        reports: Vec<ReportBlock>,
    },
    /// Any other type (SDES, BYE, APP, feedback), skipped.
    Other {
        /// The packet type.
        packet_type: u8,
    },
}

/// True if the second byte marks RTCP on a muxed port (RFC 5761 §4: 192-223).
pub fn is_rtcp(bytes: &[u8]) -> bool {
    bytes.get(1).is_some_and(|&pt| (192..=223).contains(&pt))
}

/// Parses every packet of a compound; any malformed packet fails the lot.
pub fn parse_compound(bytes: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut packets = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = bytes.get(offset..).unwrap_or(&[]);
        let truncated = |need| RtcpError::Truncated {
            offset,
            need,
            have: rest.len(),
        };
        let head = rest.get(..4).ok_or(truncated(4))?;
        if head[0] >> 6 != 2 {
            return Err(RtcpError::Version(head[0] >> 6));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1);
        let packet = rest.get(..len).ok_or(truncated(len))?;
        let body = strip_padding(packet)?;
        packets.push(parse_one(head[0] & 0x1f, head[1], body).ok_or(truncated(len))?);
        offset += len;
    }
    Ok(packets)
}

/// The packet after its 4-byte header, less padding.
fn strip_padding(packet: &[u8]) -> Result<&[u8], RtcpError> {
    let body = packet.get(4..).unwrap_or(&[]);
    if packet.first().is_some_and(|b| b & 0x20 == 0) {
        return Ok(body);
    }
    let count = body.last().copied().unwrap_or(0);
    let keep = body
        .len()
        .checked_sub(usize::from(count))
        .filter(|_| count > 0);
    keep.and_then(|k| body.get(..k))
        .ok_or(RtcpError::Padding(count))
}

/// One packet's body; `None` if it is shorter than its count implies.
fn parse_one(count: u8, packet_type: u8, body: &[u8]) -> Option<RtcpPacket> {
    let word = |i: usize| {
        body.get(i..i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    match packet_type {
        PT_SR => Some(RtcpPacket::SenderReport(SenderReport {
            ssrc: word(0)?,
            ntp_timestamp: u64::from(word(4)?) << 32 | u64::from(word(8)?),
            rtp_timestamp: word(12)?,
            packet_count: word(16)?,
            octet_count: word(20)?,
            reports: parse_blocks(body.get(24..)?, count)?,
        })),
        PT_RR => {
            let reports = parse_blocks(body.get(4..)?, count)?;
            Some(RtcpPacket::ReceiverReport {
                ssrc: word(0)?,
                reports,
            })
        }
        _ => Some(RtcpPacket::Other { packet_type }),
    }
}

fn parse_blocks(bytes: &[u8], count: u8) -> Option<Vec<ReportBlock>> {
    let bytes = bytes.get(..usize::from(count) * REPORT_BLOCK_LEN)?;
    let blocks = bytes.chunks_exact(REPORT_BLOCK_LEN);
    blocks
        .map(|b| b.try_into().ok().map(ReportBlock::parse))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rr_with_sdes_vector() {
        let block = ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 0x40,
            cumulative_lost: -2,
            extended_highest_seq: 0x0001_0005,
            jitter: 12,
            last_sr: 0xaabb_ccdd,
            delay_since_last_sr: 0x0001_0000,
        };
        let bytes = build_receiver_report(0xdead_beef, &[block], "ag").expect("fits");
        let expect_rr: [u8; 32] = [
            0x81, 201, 0, 7, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 0x40, 0xff, 0xff, 0xfe, 0, 1, 0,
            5, 0, 0, 0, 12, 0xaa, 0xbb, 0xcc, 0xdd, 0, 1, 0, 0,
        ];
        assert_eq!(&bytes[..32], &expect_rr);
        let expect_sdes = [
            0x81, 202, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, b'a', b'g', 0, 0, 0, 0,
        ];
        assert_eq!(&bytes[32..], &expect_sdes);
        let parsed = parse_compound(&bytes).expect("valid");
        let rr = RtcpPacket::ReceiverReport {
            ssrc: 0xdead_beef,
            reports: vec![block],
        };
        assert_eq!(
            parsed,
            vec![
                rr,
                RtcpPacket::Other {
                    packet_type: PT_SDES
                }
            ]
        );
    }

    #[test]
    fn hostile_compounds_fail_cleanly() {
        let good = build_receiver_report(1, &[ReportBlock::default()], "x").expect("fits");
        for len in 1..good.len() {
            if len != 32 {
                assert!(parse_compound(&good[..len]).is_err(), "cut at {len}");
            }
        }
        let mut bad_count = good.clone();
        bad_count[0] = 0x82; // claims 2 blocks, holds 1
        assert!(parse_compound(&bad_count).is_err());
        let mut bad_version = good.clone();
        bad_version[0] = 0x41;
        assert_eq!(parse_compound(&bad_version), Err(RtcpError::Version(1)));
        let mut bad_pad = good;
        bad_pad[32] |= 0x20;
        let last = bad_pad.len() - 1;
        bad_pad[last] = 200;
        assert_eq!(parse_compound(&bad_pad), Err(RtcpError::Padding(200)));
        assert!(is_rtcp(&[0x80, 201]) && !is_rtcp(&[0x80, 0x88]) && !is_rtcp(&[]));
        assert_eq!(
            build_receiver_report(1, &[], &"x".repeat(256)),
            Err(RtcpError::CnameTooLong(256))
        );
        assert!(build_receiver_report(1, &[ReportBlock::default(); 32], "").is_err());
    }
}
