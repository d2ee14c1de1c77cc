//! Sender and receiver reports (RFC 3550 §6.4).

use super::{NtpTimestamp, RtcpError, packet_type};
use crate::rtp::{Ssrc, be_u32};

/// Length of one report block.
pub(crate) const REPORT_BLOCK_LEN: usize = 24;
/// Length of the sender information in an SR, after the sender's SSRC.
pub(crate) const SENDER_INFO_LEN: usize = 20;

/// One reception report block: what a receiver says about one source it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Packets lost since the previous report, as a fraction of those expected, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since reception began (24-bit signed on the wire: duplicates can make it
    /// negative; written clamped to -8388608..=8388607).
    pub cumulative_lost: i32,
    /// Cycles in the high 16 bits, the highest sequence number received in the low 16.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source, 0 if none.
    pub last_sr: u32,
    /// Delay between receiving that SR and sending this block, in 1/65536 s; 0 if none.
    pub delay_since_last_sr: u32,
}

/// The largest and smallest 24-bit signed values, the range of `cumulative_lost`.
const CUMULATIVE_LOST_RANGE: (i32, i32) = (-0x80_0000, 0x7f_ffff);

impl ReportBlock {
    /// Reads a block from exactly [`REPORT_BLOCK_LEN`] bytes.
    fn read(bytes: &[u8]) -> Self {
        let lost = be_u32(&bytes[4..8]);
        Self {
            ssrc: Ssrc::new(be_u32(&bytes[0..4])),
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_sequence: be_u32(&bytes[8..12]),
            jitter: be_u32(&bytes[12..16]),
            last_sr: be_u32(&bytes[16..20]),
            delay_since_last_sr: be_u32(&bytes[20..24]),
        }
    }

    /// The block's wire form.
    pub(crate) fn to_bytes(self) -> [u8; REPORT_BLOCK_LEN] {
        let (min, max) = CUMULATIVE_LOST_RANGE;
        let lost = self.cumulative_lost.clamp(min, max) as u32 & 0x00ff_ffff;
        let words = [
            self.ssrc.get(),
            u32::from(self.fraction_lost) << 24 | lost,
            self.highest_sequence,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ];
        let mut bytes = [0; REPORT_BLOCK_LEN];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        bytes
    }
}

/// Sender information from an SR: what the sender sent, and when on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SenderInfo {
    /// Wall-clock time of the report.
    pub ntp: NtpTimestamp,
    /// The same instant on the media clock.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start (wrapping).
    pub packet_count: u32,
    /// RTP payload octets sent since the start (wrapping).
    pub octet_count: u32,
}

impl SenderInfo {
    fn read(bytes: &[u8]) -> Self {
        let ntp = u64::from(be_u32(&bytes[0..4])) << 32 | u64::from(be_u32(&bytes[4..8]));
        Self {
            ntp: NtpTimestamp::new(ntp),
            rtp_timestamp: be_u32(&bytes[8..12]),
            packet_count: be_u32(&bytes[12..16]),
            octet_count: be_u32(&bytes[16..20]),
        }
    }

    /// The wire form.
    pub(crate) fn to_bytes(self) -> [u8; SENDER_INFO_LEN] {
        let mut bytes = [0; SENDER_INFO_LEN];
        bytes[0..8].copy_from_slice(&self.ntp.get().to_be_bytes());
        bytes[8..12].copy_from_slice(&self.rtp_timestamp.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.packet_count.to_be_bytes());
        bytes[16..20].copy_from_slice(&self.octet_count.to_be_bytes());
        bytes
    }
}

/// The report blocks of an SR or RR, read on demand.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    blocks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        self.blocks.next().map(ReportBlock::read)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.blocks.size_hint()
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// An SR (packet type 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender.
    pub ssrc: Ssrc,
    /// What it sent, and when.
    pub sender_info: SenderInfo,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// Reads the body after the common header; `count` is the header's RC field.
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let fixed = 4 + SENDER_INFO_LEN;
        let (blocks, extension) = split_blocks(packet_type::SR, count, body, fixed)?;
        Ok(Self {
            ssrc: Ssrc::new(be_u32(&body[0..4])),
            sender_info: SenderInfo::read(&body[4..fixed]),
            blocks,
            extension,
        })
    }

    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        report_blocks(self.blocks)
    }

    /// Profile-specific extension bytes after the blocks (RFC 3550 §6.4.1), usually empty.
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// An RR (packet type 201).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The receiver sending the report.
    pub ssrc: Ssrc,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// Reads the body after the common header; `count` is the header's RC field.
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let (blocks, extension) = split_blocks(packet_type::RR, count, body, 4)?;
        Ok(Self {
            ssrc: Ssrc::new(be_u32(&body[0..4])),
            blocks,
            extension,
        })
    }

    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        report_blocks(self.blocks)
    }

    /// Profile-specific extension bytes after the blocks, usually empty.
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}

fn report_blocks(blocks: &[u8]) -> ReportBlocks<'_> {
    ReportBlocks {
        blocks: blocks.chunks_exact(REPORT_BLOCK_LEN),
    }
}

/// Splits `body` after its `fixed` part into `count` report blocks and the extension.
fn split_blocks(
    packet_type: u8,
    count: u8,
    body: &[u8],
    fixed: usize,
) -> Result<(&[u8], &[u8]), RtcpError> {
    let end = fixed + usize::from(count) * REPORT_BLOCK_LEN;
    if body.len() < end {
        return Err(RtcpError::BodyTooShort { packet_type });
    }
    Ok((&body[fixed..end], &body[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_block_round_trips_and_sign_extends_the_loss() {
        let block = ReportBlock {
            ssrc: Ssrc::new(7),
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 12,
            last_sr: 0xaabb_ccdd,
            delay_since_last_sr: 65536,
        };
        let bytes = block.to_bytes();
        assert_eq!(&bytes[4..8], &[64, 0xff, 0xff, 0xfd]);
        assert_eq!(ReportBlock::read(&bytes), block);
    }

    #[test]
    fn cumulative_loss_is_clamped_to_24_bits() {
        let block = ReportBlock {
            ssrc: Ssrc::new(7),
            fraction_lost: 0,
            cumulative_lost: 10_000_000,
            highest_sequence: 0,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        };
        assert_eq!(
            ReportBlock::read(&block.to_bytes()).cumulative_lost,
            0x7f_ffff
        );
        let negative = ReportBlock {
            cumulative_lost: -10_000_000,
            ..block
        };
        assert_eq!(
            ReportBlock::read(&negative.to_bytes()).cumulative_lost,
            -0x80_0000
        );
    }

    #[test]
    fn too_many_blocks_for_the_body_is_an_error() {
        let body = [0u8; 4 + REPORT_BLOCK_LEN];
        assert!(ReceiverReport::parse(1, &body).is_ok());
        assert_eq!(
            ReceiverReport::parse(2, &body),
            Err(RtcpError::BodyTooShort {
                packet_type: packet_type::RR
            })
        );
        assert!(SenderReport::parse(0, &body[..24]).is_ok());
        assert!(SenderReport::parse(0, &body[..23]).is_err());
    }
}
