//! The few header fields SRTP needs: where the RTP header ends, the sequence number and SSRC, and
//! the SSRC of an RTCP packet. Nothing else of RTP or RTCP is interpreted here.

/// The fields of an RTP header (RFC 3550 §5.1) that SRTP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    /// Fixed header, CSRCs and header extension: the part that stays in the clear.
    pub(crate) len: usize,
    pub(crate) sequence: u16,
    pub(crate) ssrc: u32,
}

impl RtpHeader {
    /// Reads the header at the start of `packet`; `None` when the version is not 2 or the
    /// header (with its CSRCs and extension) does not fit.
    pub(crate) fn parse(packet: &[u8]) -> Option<Self> {
        let fixed: &[u8; 12] = packet.get(..12)?.try_into().ok()?;
        if fixed[0] >> 6 != 2 {
            return None;
        }
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let mut len = 12 + 4 * csrc_count;
        if fixed[0] & 0x10 != 0 {
            let extension = packet.get(len..len + 4)?;
            len += 4 + 4 * usize::from(u16::from_be_bytes([extension[2], extension[3]]));
        }
        (len <= packet.len()).then_some(Self {
            len,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        })
    }
}

/// The first RTCP header of a (compound) packet: 4 bytes, then the sender's SSRC (RFC 3550 §6.4).
/// SRTCP leaves these 8 bytes in the clear.
pub(crate) const RTCP_HEADER_LEN: usize = 8;

/// The sender SSRC of an RTCP packet; `None` when the version is not 2 or it is too short.
pub(crate) fn rtcp_ssrc(packet: &[u8]) -> Option<u32> {
    let header: &[u8; RTCP_HEADER_LEN] = packet.get(..RTCP_HEADER_LEN)?.try_into().ok()?;
    (header[0] >> 6 == 2).then(|| u32::from_be_bytes([header[4], header[5], header[6], header[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_counts_csrcs_and_the_extension() {
        let mut packet = vec![
            0x80, 0, 0x12, 0x34, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2,
        ];
        let header = RtpHeader::parse(&packet).expect("valid");
        assert_eq!(
            (header.len, header.sequence, header.ssrc),
            (12, 0x1234, 0xdead_beef)
        );
        packet[0] = 0x92; // X and two CSRCs
        packet.resize(12 + 8 + 4 + 4, 0);
        packet[22..24].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(RtpHeader::parse(&packet).map(|h| h.len), Some(28));
        assert_eq!(RtpHeader::parse(&packet[..27]), None);
        assert_eq!(RtpHeader::parse(&packet[..21]), None);
        packet[0] = 0x40;
        assert_eq!(RtpHeader::parse(&packet), None);
        assert_eq!(RtpHeader::parse(&[0x80; 11]), None);
    }

    #[test]
    fn rtcp_ssrc_needs_version_2_and_eight_bytes() {
        let packet = [0x81, 0xc8, 0, 6, 0x4d, 0x61, 0x72, 0x73];
        assert_eq!(rtcp_ssrc(&packet), Some(0x4d61_7273));
        assert_eq!(rtcp_ssrc(&packet[..7]), None);
        assert_eq!(rtcp_ssrc(&[0x01, 0xc8, 0, 6, 0, 0, 0, 1]), None);
    }
}
