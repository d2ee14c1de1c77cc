//! Compound RTCP packets (RFC 3550 §6.1) and the packets in them.

use super::{Bye, ReceiverReport, RtcpError, SenderReport, SourceDescription, packet_type};

/// Length of the common header every RTCP packet starts with.
const HEADER_LEN: usize = 4;

/// One packet of a compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR, 200.
    SenderReport(SenderReport<'a>),
    /// RR, 201.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES, 202.
    SourceDescription(SourceDescription<'a>),
    /// BYE, 203.
    Bye(Bye<'a>),
    /// Anything else, checked only for its length: APP (204), feedback (205, 206), XR (207),
    /// and types not yet defined. Herald does not act on them.
    Other {
        /// The packet type.
        packet_type: u8,
        /// The five-bit count (or subtype) field of the header.
        count: u8,
        /// The packet after its 4-byte header, without padding.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// Reads one packet from its header fields and body.
    fn decode(packet_type: u8, count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        Ok(match packet_type {
            packet_type::SR => Self::SenderReport(SenderReport::parse(count, body)?),
            packet_type::RR => Self::ReceiverReport(ReceiverReport::parse(count, body)?),
            packet_type::SDES => Self::SourceDescription(SourceDescription::parse(count, body)?),
            packet_type::BYE => Self::Bye(Bye::parse(count, body)?),
            _ => Self::Other {
                packet_type,
                count,
                body,
            },
        })
    }
}

/// A compound RTCP datagram whose every packet has been checked, read without allocating.
///
/// The checks, after RFC 3550 Appendix A.2: version 2 in every packet; lengths that tile the
/// datagram exactly; padding only in the last packet, with a count that fits; and each SR, RR,
/// SDES and BYE readable as such (its report blocks, chunks, items and reason inside it).
///
/// The first packet must be an SR or RR, as RFC 3550 §6.1 says, or, leniently, an SDES or BYE:
/// some endpoints send a bare BYE when they hang up, and accepting it costs nothing since the
/// rest of the structure is still checked. A compound starting with APP, XR or feedback
/// (reduced-size RTCP, RFC 5506, which Herald does not negotiate) is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    datagram: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Checks a whole compound datagram (after SRTCP unprotection, if any).
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtcpError> {
        let first = datagram
            .get(1)
            .copied()
            .ok_or(RtcpError::TooShort(datagram.len()))?;
        if !matches!(first, packet_type::SR..=packet_type::BYE) {
            check_header(datagram)?;
            return Err(RtcpError::FirstPacket(first));
        }
        let mut rest = datagram;
        while !rest.is_empty() {
            let (packet, tail) = split_packet(rest)?;
            packet?;
            rest = tail;
        }
        Ok(Self { datagram })
    }

    /// The packets, in order.
    pub fn packets(&self) -> Packets<'a> {
        Packets {
            rest: self.datagram,
        }
    }

    /// The datagram's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.datagram
    }
}

impl<'a> IntoIterator for &Compound<'a> {
    type Item = RtcpPacket<'a>;
    type IntoIter = Packets<'a>;

    fn into_iter(self) -> Packets<'a> {
        self.packets()
    }
}

/// The packets of a [`Compound`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = RtcpPacket<'a>;

    fn next(&mut self) -> Option<RtcpPacket<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // `Compound::parse` checked every packet, so this never stops early.
        let (packet, rest) = split_packet(self.rest).ok()?;
        self.rest = rest;
        packet.ok()
    }
}

/// The common header's fields.
struct Header {
    padding: bool,
    count: u8,
    packet_type: u8,
    /// Length of the whole packet, header included.
    len: usize,
}

/// Reads and checks the common header at the start of `bytes`.
fn check_header(bytes: &[u8]) -> Result<Header, RtcpError> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(RtcpError::TooShort(bytes.len()))?;
    let version = header[0] >> 6;
    if version != 2 {
        return Err(RtcpError::Version(version));
    }
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let len = (words + 1) * 4;
    if len > bytes.len() {
        return Err(RtcpError::LengthBeyondDatagram {
            declared: len,
            available: bytes.len(),
        });
    }
    Ok(Header {
        padding: header[0] & 0x20 != 0,
        count: header[0] & 0x1f,
        packet_type: header[1],
        len,
    })
}

/// A packet (or what is wrong with its body) and the bytes after it.
type Split<'a> = (Result<RtcpPacket<'a>, RtcpError>, &'a [u8]);

/// Splits the first packet off `bytes`. The outer error is structural (the compound cannot be
/// walked further); the inner one is about this packet's body.
fn split_packet(bytes: &[u8]) -> Result<Split<'_>, RtcpError> {
    let header = check_header(bytes)?;
    let (packet, rest) = bytes.split_at(header.len);
    let padding = if header.padding {
        padding_len(packet, rest)?
    } else {
        0
    };
    let body = &packet[HEADER_LEN..packet.len() - padding];
    Ok((
        RtcpPacket::decode(header.packet_type, header.count, body),
        rest,
    ))
}

/// The padding count of the last packet of a compound (RFC 3550 §6.4.1: only the last
/// packet may be padded; the count includes itself and never reaches into the header).
fn padding_len(packet: &[u8], rest: &[u8]) -> Result<usize, RtcpError> {
    let count = usize::from(packet[packet.len() - 1]);
    if !rest.is_empty() || count == 0 || count > packet.len() - HEADER_LEN {
        return Err(RtcpError::Padding);
    }
    Ok(count)
}
