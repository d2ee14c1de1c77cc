//! RTCP (RFC 3550 §6): reading compound packets, writing our reports, and the statistics and
//! timing that fill them.
//!
//! # Receive path
//!
//! A datagram that [`crate::rtp::is_rtcp`] routes here (after SRTCP unprotection) is checked
//! whole by [`Compound::parse`], then walked with [`Compound::packets`]: an iterator of
//! borrowed [`RtcpPacket`]s (SR, RR, SDES, BYE; APP, XR, feedback and unknown types as
//! [`RtcpPacket::Other`]), allocating nothing. A datagram that fails any check is rejected
//! whole with an [`RtcpError`]; the rules, and where we are more lenient than RFC 3550, are on
//! [`Compound`]. Typical use:
//!
//! ```text
//! SR from the source     -> ReceiverStats::on_sender_report (for LSR/DLSR)
//! report blocks about us -> round_trip_time
//! BYE                    -> the source left (the call layer decides what that means)
//! ```
//!
//! # Transmit path
//!
//! Every report interval ([`next_report_at`], randomised with an injected RNG) the stream
//! builds a [`Report`]: an SR with [`SenderStats::sender_info`] if it sent media, else an RR,
//! with the block from [`ReceiverStats::report_block`], and writes it with our CNAME into a
//! buffer it owns ([`Report::write`], or [`Report::write_with_bye`] at hang-up).
//!
//! # Time
//!
//! Nothing here reads a clock. Arrival and send times are `Instant` arguments; the wall clock
//! an SR carries is an [`NtpTimestamp`] the caller makes from its own reading
//! ([`NtpTimestamp::from_system_time`]).
//!
//! # Not here
//!
//! SRTCP (`crate::srtp`), feedback messages (RFC 4585), XR (RFC 3611), timer reconsideration
//! and the bandwidth-based interval of §6.3 (see [`next_report_at`]), more than one remote
//! source per stream.

mod compound;
mod interval;
mod ntp;
mod report;
mod sdes;
mod stats;
mod write;

pub use compound::{Compound, Packets, RtcpPacket};
pub use interval::{MIN_REPORT_INTERVAL, next_report_at};
pub use ntp::NtpTimestamp;
pub use report::{ReceiverReport, ReportBlock, ReportBlocks, SenderInfo, SenderReport};
pub use sdes::{Bye, CNAME, SdesChunk, SdesChunks, SdesItem, SdesItems, SourceDescription};
pub use stats::{ReceiverStats, SenderStats, round_trip_time};
pub use write::{MAX_REPORT_BLOCKS, Report};

/// RTCP packet types (RFC 3550 §12.1).
pub(crate) mod packet_type {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
}

/// Why a datagram is not RTCP we accept. The peer sent it: drop the datagram and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Fewer bytes than a 4-byte common header where a packet should start.
    #[error("{0} bytes is too short for an RTCP header")]
    TooShort(usize),
    /// A packet's version field is not 2.
    #[error("RTCP version {0}, expected 2")]
    Version(u8),
    /// A packet's length field reaches past the end of the datagram.
    #[error("RTCP packet of {declared} bytes, {available} left in the datagram")]
    LengthBeyondDatagram {
        /// Bytes the length field declares.
        declared: usize,
        /// Bytes left from the packet's start.
        available: usize,
    },
    /// The compound starts with neither SR, RR, SDES nor BYE.
    #[error("compound RTCP starts with packet type {0}")]
    FirstPacket(u8),
    /// Padding on a packet that is not the last, or a padding count of zero or past the header.
    #[error("bad RTCP padding")]
    Padding,
    /// An SR or RR whose report blocks do not fit its length.
    #[error("RTCP packet type {packet_type} too short for its report blocks")]
    BodyTooShort {
        /// The packet type.
        packet_type: u8,
    },
    /// An SDES chunk or item, or a BYE list or reason, that does not fit its packet.
    #[error("malformed RTCP packet type {packet_type}")]
    Malformed {
        /// The packet type.
        packet_type: u8,
    },
}

/// The caller asked for a report that cannot be written: a bug on our side, not the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpWriteError {
    /// The output buffer cannot hold the compound.
    #[error("RTCP compound needs {needed} bytes, the buffer has {available}")]
    BufferTooSmall {
        /// Bytes the compound needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// More than [`MAX_REPORT_BLOCKS`] report blocks.
    #[error("{0} report blocks, at most 31 fit one report")]
    TooManyReportBlocks(usize),
    /// A CNAME or BYE reason longer than 255 bytes.
    #[error("RTCP text of {0} bytes, at most 255 fit")]
    TextTooLong(usize),
}
