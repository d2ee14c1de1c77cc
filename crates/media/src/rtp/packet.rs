//! The borrowed RTP packet view and its header writer (RFC 3550 §5.1).

use herald_sdp::PayloadType;
use rtp_rs::{RtpReader, RtpReaderError};

use super::{Ssrc, is_rtcp};

/// Why a datagram is not an RTP packet we accept. The peer sent it: drop it and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the 12-byte fixed header.
    #[error("{0} bytes is shorter than an RTP header")]
    TooShort(usize),
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    /// The CSRC list or the header extension runs past the end of the datagram.
    #[error("the RTP header runs past the end of the datagram")]
    HeaderTruncated,
    /// The padding flag is set but the count in the last byte is zero or reaches into the header.
    #[error("RTP padding length {0} is zero or longer than the packet body")]
    Padding(u8),
    /// Marker and payload type make the second byte 192..=223: on a multiplexed port this is
    /// RTCP (RFC 5761 §4), and as RTP it would be ambiguous.
    #[error("second byte {0} is in the RTCP range (RFC 5761 §4)")]
    RtcpRange(u8),
}

impl From<RtpReaderError> for RtpError {
    fn from(error: RtpReaderError) -> Self {
        match error {
            RtpReaderError::BufferTooShort(len) => Self::TooShort(len),
            RtpReaderError::UnsupportedVersion(version) => Self::Version(version),
            RtpReaderError::HeadersTruncated { .. } => Self::HeaderTruncated,
            RtpReaderError::PaddingLengthInvalid(len) => Self::Padding(len),
        }
    }
}

/// The caller asked [`RtpHeader`] to write something it cannot: a bug on our side, not the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpWriteError {
    /// The output buffer cannot hold the packet.
    #[error("RTP packet needs {needed} bytes, the buffer has {available}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A marked packet with a payload type in 64..=95 would read as RTCP (RFC 5761 §4).
    #[error("marked payload type {0} collides with RTCP packet types (RFC 5761 §4)")]
    RtcpRange(PayloadType),
}

/// An RTP header extension (RFC 3550 §5.3.1): the profile-defined 16 bits and the data words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension data, a multiple of four bytes.
    pub data: &'a [u8],
}

/// A validated RTP packet borrowing the datagram it was parsed from.
///
/// The header is read by `rtp-rs`; [`RtpPacket::parse`] adds the checks it lacks. Copying the
/// view copies a few words, never the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    header: RtpHeader,
    csrc: &'a [u8],
    extension: Option<HeaderExtension<'a>>,
    payload: &'a [u8],
    padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses one RTP datagram (after SRTP decryption, if any).
    ///
    /// Rejects, beyond what `rtp-rs` rejects (short buffers, version other than 2, truncated
    /// CSRC list or extension, zero or oversized padding): a marked payload type in 64..=95,
    /// which [`is_rtcp`] sends to RTCP and which RFC 5761 forbids for RTP.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        let reader = RtpReader::new(datagram)?;
        if is_rtcp(datagram) {
            return Err(RtpError::RtcpRange(datagram[1]));
        }
        let csrc_end = RtpHeader::LEN + 4 * usize::from(reader.csrc_count());
        let csrc = datagram
            .get(RtpHeader::LEN..csrc_end)
            .ok_or(RtpError::HeaderTruncated)?;
        let extension = reader
            .extension()
            .map(|(profile, data)| HeaderExtension { profile, data });
        Ok(Self {
            header: header_of(&reader),
            csrc,
            extension,
            payload: reader.payload(),
            padding: reader.padding().unwrap_or(0),
        })
    }

    /// The fixed header fields, ready to be written again (for a relay or a test).
    pub fn header(&self) -> RtpHeader {
        self.header
    }

    /// The marker bit (for audio: the first packet of a talkspurt, or of an RFC 4733 event).
    pub fn marker(&self) -> bool {
        self.header.marker
    }

    /// The payload type, to be mapped to a codec by the negotiated SDP.
    pub fn payload_type(&self) -> PayloadType {
        self.header.payload_type
    }

    /// The 16-bit sequence number; extend it with a [`super::SequenceExtender`].
    pub fn sequence(&self) -> u16 {
        self.header.sequence
    }

    /// The 32-bit media timestamp; extend it with a [`super::TimestampExtender`].
    pub fn timestamp(&self) -> u32 {
        self.header.timestamp
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> Ssrc {
        self.header.ssrc
    }

    /// The contributing sources (a mixer's inputs), usually none.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.csrc
            .chunks_exact(4)
            .map(|word| Ssrc::new(be_u32(word)))
    }

    /// The header extension, if the X bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.extension
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Padding bytes at the end of the datagram (0 when the P bit is clear).
    pub fn padding_len(&self) -> u8 {
        self.padding
    }
}

fn header_of(reader: &RtpReader<'_>) -> RtpHeader {
    RtpHeader {
        marker: reader.mark(),
        payload_type: PayloadType::new(reader.payload_type()).expect("rtp-rs masks 7 bits"),
        sequence: reader.sequence_number().into(),
        timestamp: reader.timestamp(),
        ssrc: Ssrc::new(reader.ssrc()),
    }
}

/// Reads a big-endian u32 from the first four bytes of `bytes` (callers pass exactly four).
pub(crate) fn be_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    for (dst, src) in word.iter_mut().zip(bytes) {
        *dst = *src;
    }
    u32::from_be_bytes(word)
}

/// The fixed RTP header we send: version 2, no padding, no extension, no CSRC.
///
/// To send without copying the payload, write the header at the front of the output buffer
/// and let the codec encode straight into `out[RtpHeader::LEN..]`:
///
/// ```
/// # use herald_media::rtp::{RtpHeader, RtpPacket, Ssrc};
/// # use herald_sdp::PayloadType;
/// let header = RtpHeader {
///     marker: false,
///     payload_type: PayloadType::PCMU,
///     sequence: 7,
///     timestamp: 160,
///     ssrc: Ssrc::new(0x1234_5678),
/// };
/// let mut out = [0u8; 1500];
/// let start = header.write_header(&mut out)?;
/// out[start..start + 160].fill(0xff); // the codec's output
/// let packet = RtpPacket::parse(&out[..start + 160]).expect("we wrote RTP");
/// assert_eq!(packet.header(), header);
/// # Ok::<(), herald_media::rtp::RtpWriteError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    /// The marker bit.
    pub marker: bool,
    /// The payload type.
    pub payload_type: PayloadType,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// Our synchronisation source.
    pub ssrc: Ssrc,
}

impl RtpHeader {
    /// Length of the header this writer produces (and of the fixed part of every RTP header).
    pub const LEN: usize = 12;

    /// Writes the 12 header bytes at the start of `out` and returns 12, the payload's offset.
    pub fn write_header(&self, out: &mut [u8]) -> Result<usize, RtpWriteError> {
        let header = self.to_bytes()?;
        let available = out.len();
        let dst = out
            .get_mut(..Self::LEN)
            .ok_or(RtpWriteError::BufferTooSmall {
                needed: Self::LEN,
                available,
            })?;
        dst.copy_from_slice(&header);
        Ok(Self::LEN)
    }

    /// Writes header and `payload` into `out` and returns the packet's length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpWriteError> {
        let needed = Self::LEN + payload.len();
        let available = out.len();
        let packet = out
            .get_mut(..needed)
            .ok_or(RtpWriteError::BufferTooSmall { needed, available })?;
        self.write_header(packet)?;
        packet[Self::LEN..].copy_from_slice(payload);
        Ok(needed)
    }

    fn to_bytes(self) -> Result<[u8; Self::LEN], RtpWriteError> {
        let second = u8::from(self.marker) << 7 | self.payload_type.get();
        if is_rtcp(&[0x80, second]) {
            return Err(RtpWriteError::RtcpRange(self.payload_type));
        }
        let mut bytes = [0; Self::LEN];
        bytes[0] = 0x80;
        bytes[1] = second;
        bytes[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        bytes[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.ssrc.get().to_be_bytes());
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcmu(sequence: u16) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence,
            timestamp: 160 * u32::from(sequence),
            ssrc: Ssrc::new(0xdead_beef),
        }
    }

    #[test]
    fn writes_and_reads_back_the_fixed_header() {
        let mut out = [0u8; 20];
        let len = pcmu(3).write(b"abcd", &mut out).unwrap();
        assert_eq!(len, 16);
        assert_eq!(&out[..4], &[0x80, 0x00, 0x00, 0x03]);
        let packet = RtpPacket::parse(&out[..len]).unwrap();
        assert_eq!(packet.header(), pcmu(3));
        assert_eq!(packet.payload(), b"abcd");
        assert_eq!(packet.csrcs().count(), 0);
        assert_eq!(packet.extension(), None);
    }

    #[test]
    fn reads_csrcs_extension_and_padding() {
        let mut bytes = vec![0xb1, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.extend_from_slice(&[0, 0, 0, 9]); // one CSRC
        bytes.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one extension word
        bytes.extend_from_slice(b"xy");
        bytes.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let packet = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(packet.payload_type().get(), 96);
        assert_eq!(packet.csrcs().collect::<Vec<_>>(), vec![Ssrc::new(9)]);
        let extension = packet.extension().unwrap();
        assert_eq!(
            (extension.profile, extension.data),
            (0xbede, &[0x10, 0xaa, 0, 0][..])
        );
        assert_eq!(packet.payload(), b"xy");
        assert_eq!(packet.padding_len(), 3);
    }

    #[test]
    fn rejects_what_is_not_rtp() {
        let mut out = [0u8; 12];
        pcmu(1).write_header(&mut out).unwrap();
        assert_eq!(RtpPacket::parse(&out[..11]), Err(RtpError::TooShort(11)));
        let mut v1 = out;
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::Version(1)));
        let mut csrc = out;
        csrc[0] = 0x82;
        assert_eq!(RtpPacket::parse(&csrc), Err(RtpError::HeaderTruncated));
        let mut rtcp = out;
        rtcp[1] = 0xc8;
        assert_eq!(RtpPacket::parse(&rtcp), Err(RtpError::RtcpRange(0xc8)));
    }

    #[test]
    fn rejects_padding_that_does_not_fit() {
        let mut out = [0u8; 16];
        pcmu(1).write(&[1, 2, 3, 4], &mut out).unwrap();
        out[0] |= 0x20;
        out[15] = 5;
        assert_eq!(RtpPacket::parse(&out), Err(RtpError::Padding(5)));
        out[15] = 0;
        assert_eq!(RtpPacket::parse(&out), Err(RtpError::Padding(0)));
        out[15] = 4;
        assert_eq!(RtpPacket::parse(&out).unwrap().payload(), b"");
    }

    #[test]
    fn writer_refuses_small_buffers_and_rtcp_lookalikes() {
        let mut out = [0u8; 13];
        assert_eq!(
            pcmu(1).write(b"ab", &mut out),
            Err(RtpWriteError::BufferTooSmall {
                needed: 14,
                available: 13
            })
        );
        let clash = RtpHeader {
            marker: true,
            payload_type: PayloadType::new(72).unwrap(),
            ..pcmu(1)
        };
        assert!(matches!(
            clash.write_header(&mut out),
            Err(RtpWriteError::RtcpRange(_))
        ));
    }
}
