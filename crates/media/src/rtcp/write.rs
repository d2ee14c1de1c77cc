//! Writing our compound RTCP packets into caller-owned buffers.

use super::report::{REPORT_BLOCK_LEN, SENDER_INFO_LEN};
use super::{CNAME, ReportBlock, RtcpWriteError, SenderInfo, packet_type};
use crate::rtp::Ssrc;

/// The most report blocks one SR or RR carries (the count field has five bits).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// What we report in one RTCP interval: an SR if we sent media, else an RR.
///
/// Written as the compounds RFC 3550 §6.1 asks for: SR or RR, then SDES with our CNAME, and
/// for a goodbye, BYE last. One report carries at most [`MAX_REPORT_BLOCKS`] blocks (a call
/// has one remote source).
///
/// ```
/// # use herald_media::rtcp::{Compound, Report, RtcpPacket};
/// # use herald_media::rtp::Ssrc;
/// let report = Report { ssrc: Ssrc::new(1), sender_info: None, blocks: &[] };
/// let mut out = [0u8; 1500];
/// let len = report.write(b"herald@example.invalid", &mut out)?;
/// let compound = Compound::parse(&out[..len]).expect("we write valid RTCP");
/// assert!(matches!(compound.packets().next(), Some(RtcpPacket::ReceiverReport(_))));
/// # Ok::<(), herald_media::rtcp::RtcpWriteError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report<'r> {
    /// Our SSRC.
    pub ssrc: Ssrc,
    /// Our sender information: `Some` makes an SR, `None` an RR.
    pub sender_info: Option<SenderInfo>,
    /// Reception reports on the sources we hear.
    pub blocks: &'r [ReportBlock],
}

impl Report<'_> {
    /// Writes SR or RR, then SDES with `cname`, into `out`; returns the length written.
    pub fn write(&self, cname: &[u8], out: &mut [u8]) -> Result<usize, RtcpWriteError> {
        self.write_compound(cname, None, out)
    }

    /// Writes SR or RR, SDES with `cname`, then BYE for our SSRC with an optional reason.
    pub fn write_with_bye(
        &self,
        cname: &[u8],
        reason: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, RtcpWriteError> {
        self.write_compound(cname, Some(reason), out)
    }

    fn write_compound(
        &self,
        cname: &[u8],
        bye: Option<Option<&[u8]>>,
        out: &mut [u8],
    ) -> Result<usize, RtcpWriteError> {
        self.check(cname, bye.flatten())?;
        let needed = self.report_len() + sdes_len(cname) + bye.map_or(0, bye_len);
        let available = out.len();
        let out = out
            .get_mut(..needed)
            .ok_or(RtcpWriteError::BufferTooSmall { needed, available })?;
        let mut cursor = Cursor { out, at: 0 };
        self.put_report(&mut cursor);
        put_sdes(&mut cursor, self.ssrc, cname);
        if let Some(reason) = bye {
            put_bye(&mut cursor, self.ssrc, reason);
        }
        debug_assert_eq!(cursor.at, needed, "lengths computed and written agree");
        Ok(needed)
    }

    fn check(&self, cname: &[u8], reason: Option<&[u8]>) -> Result<(), RtcpWriteError> {
        if self.blocks.len() > MAX_REPORT_BLOCKS {
            return Err(RtcpWriteError::TooManyReportBlocks(self.blocks.len()));
        }
        match [Some(cname), reason]
            .into_iter()
            .flatten()
            .find(|text| text.len() > 255)
        {
            Some(text) => Err(RtcpWriteError::TextTooLong(text.len())),
            None => Ok(()),
        }
    }

    fn report_len(&self) -> usize {
        let sender_info = if self.sender_info.is_some() {
            SENDER_INFO_LEN
        } else {
            0
        };
        8 + sender_info + REPORT_BLOCK_LEN * self.blocks.len()
    }

    fn put_report(&self, cursor: &mut Cursor<'_>) {
        let kind = if self.sender_info.is_some() {
            packet_type::SR
        } else {
            packet_type::RR
        };
        cursor.put_header(self.blocks.len(), kind, self.report_len());
        cursor.put(&self.ssrc.get().to_be_bytes());
        if let Some(info) = self.sender_info {
            cursor.put(&info.to_bytes());
        }
        for block in self.blocks {
            cursor.put(&block.to_bytes());
        }
    }
}

/// SDES with one chunk holding one CNAME item, its null octet and padding.
fn sdes_len(cname: &[u8]) -> usize {
    8 + (2 + cname.len() + 1).next_multiple_of(4)
}

fn put_sdes(cursor: &mut Cursor<'_>, ssrc: Ssrc, cname: &[u8]) {
    let len = sdes_len(cname);
    cursor.put_header(1, packet_type::SDES, len);
    cursor.put(&ssrc.get().to_be_bytes());
    cursor.put(&[CNAME, cname.len() as u8]);
    cursor.put(cname);
    cursor.put_zeros(len - 10 - cname.len());
}

/// BYE for one source, with the reason's length octet and padding.
fn bye_len(reason: Option<&[u8]>) -> usize {
    8 + reason.map_or(0, |reason| (1 + reason.len()).next_multiple_of(4))
}

fn put_bye(cursor: &mut Cursor<'_>, ssrc: Ssrc, reason: Option<&[u8]>) {
    let len = bye_len(reason);
    cursor.put_header(1, packet_type::BYE, len);
    cursor.put(&ssrc.get().to_be_bytes());
    if let Some(reason) = reason {
        cursor.put(&[reason.len() as u8]);
        cursor.put(reason);
        cursor.put_zeros(len - 9 - reason.len());
    }
}

/// Writes forward through a buffer already cut to the compound's length.
struct Cursor<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }

    fn put_zeros(&mut self, count: usize) {
        let end = self.at + count;
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.fill(0);
        }
        self.at = end;
    }

    /// The common header: version 2, no padding, `count`, `kind`, and `len` bytes in all.
    fn put_header(&mut self, count: usize, kind: u8, len: usize) {
        let words = (len / 4 - 1) as u16;
        self.put(&[0x80 | count as u8, kind]);
        self.put(&words.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_rr_and_sdes_byte_for_byte() {
        let report = Report {
            ssrc: Ssrc::new(0x0102_0304),
            sender_info: None,
            blocks: &[],
        };
        let mut out = [0xaa; 64];
        let len = report.write(b"ab", &mut out).unwrap();
        let expected = [
            0x80, 201, 0, 1, 1, 2, 3, 4, // RR, no blocks
            0x81, 202, 0, 3, 1, 2, 3, 4, CNAME, 2, b'a', b'b', 0, 0, 0, 0, // SDES
        ];
        assert_eq!(&out[..len], &expected);
    }

    #[test]
    fn writes_bye_with_a_padded_reason() {
        let report = Report {
            ssrc: Ssrc::new(9),
            sender_info: None,
            blocks: &[],
        };
        let mut out = [0xaa; 64];
        let len = report
            .write_with_bye(b"abc", Some(b"bye"), &mut out)
            .unwrap();
        assert_eq!(
            &out[24..len],
            &[0x81, 203, 0, 2, 0, 0, 0, 9, 3, b'b', b'y', b'e']
        );
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let block = ReportBlock {
            ssrc: Ssrc::new(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_sequence: 0,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        };
        let mut out = [0u8; 2048];
        let blocks = [block; 32];
        let report = Report {
            ssrc: Ssrc::new(9),
            sender_info: None,
            blocks: &blocks,
        };
        assert_eq!(
            report.write(b"x", &mut out),
            Err(RtcpWriteError::TooManyReportBlocks(32))
        );
        let report = Report {
            blocks: &[],
            ..report
        };
        assert_eq!(
            report.write(&[b'x'; 256], &mut out),
            Err(RtcpWriteError::TextTooLong(256))
        );
        assert_eq!(
            report.write(b"x", &mut out[..15]),
            Err(RtcpWriteError::BufferTooSmall {
                needed: 20,
                available: 15
            })
        );
    }
}
