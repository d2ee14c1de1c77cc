//! RTP (RFC 3550): the packet view and header writer, the RFC 5761 test that tells RTP from
//! RTCP on a shared port, and the receive-side bookkeeping that turns 16-bit sequence numbers
//! and 32-bit timestamps into 64-bit ones and follows the remote source across SSRC changes.
//!
//! # Receive path
//!
//! ```text
//! datagram ──(SRTP unprotect)──▶ is_rtcp? ──yes──▶ rtcp::Compound::parse
//!                                    │no
//!                                    ▼
//!                            RtpPacket::parse ──▶ SourceTracker::track ──▶ Arrival
//!                                                                          │ accepted?
//!                                                      jitter buffer ◀─────┘ (extended seq, ts)
//! ```
//!
//! [`RtpPacket`] borrows the datagram (the header is read by `rtp-rs`, with the checks it lacks
//! added). [`SourceTracker`] holds, for the current source, a [`SequenceExtender`] (RFC 3550
//! Appendix A.1: probation, dropout and misorder limits, restart detection) and a
//! [`TimestampExtender`]; it tells the caller which packets to drop and when the timeline
//! started over (a [`SourceChange`] or a [`SequenceOutcome::Restart`]).
//!
//! # Transmit path
//!
//! [`RtpHeader::write_header`] writes the 12 fixed bytes at the front of a buffer the I/O
//! layer owns; the codec encodes into the rest. Nothing is allocated or copied per packet.
//!
//! # Not here
//!
//! SRTP (`crate::srtp`), reordering and playout (`crate::jitter`), payload formats
//! (`crate::codec`, `crate::dtmf`), RTCP (`crate::rtcp`), header extension elements (the
//! extension is exposed raw). There is no time in this module: timestamps are media clock
//! units and arrival times belong to [`crate::rtcp::ReceiverStats`].

mod packet;
mod sequence;
mod source;
mod timestamp;

use std::fmt;

pub(crate) use packet::be_u32;
pub use packet::{HeaderExtension, RtpError, RtpHeader, RtpPacket, RtpWriteError};
pub use sequence::{MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, SequenceExtender, SequenceOutcome};
pub use source::{Arrival, SourceChange, SourceTracker};
pub use timestamp::TimestampExtender;

/// A synchronisation source identifier (RFC 3550 §3): names one sender's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ssrc(u32);

impl Ssrc {
    /// Wraps the 32-bit value.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The 32-bit value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl From<u32> for Ssrc {
    fn from(value: u32) -> Self {
        Self(value)
    }
}

/// Whether a datagram on an rtcp-mux port is RTCP (RFC 5761 §4): its second byte, RTCP's
/// packet type or RTP's marker and payload type, is in 192..=223.
///
/// That range holds the RTCP types SR 200 to APP 204, the feedback types 205/206 and XR 207;
/// RTP payload types 64..=95 with the marker set fall in it too, which is why RFC 5761 forbids
/// them on a multiplexed port and [`RtpPacket::parse`] rejects them.
pub fn is_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(192..=223))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demultiplexes_by_the_second_byte() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 223]));
        assert!(!is_rtcp(&[0x80, 0x00]));
        assert!(!is_rtcp(&[0x80, 0xe5])); // telephone-event 101 with the marker
        assert!(!is_rtcp(&[0x80, 191]));
        assert!(!is_rtcp(&[0x80]));
        assert!(!is_rtcp(&[]));
    }

    #[test]
    fn ssrc_displays_in_hex() {
        assert_eq!(Ssrc::new(0x6a1b_26d7).to_string(), "0x6a1b26d7");
    }
}
