//! Source descriptions (SDES, RFC 3550 §6.5) and goodbyes (BYE, §6.6).

use super::{RtcpError, packet_type};
use crate::rtp::{Ssrc, be_u32};

/// The SDES item type of a canonical name.
pub const CNAME: u8 = 1;

/// An SDES packet (type 202): one chunk per source, each a list of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    /// Checks every chunk of the body; `count` is the header's SC field.
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let description = Self { count, body };
        let mut rest = body;
        for _ in 0..count {
            rest = split_chunk(rest)?.1;
        }
        Ok(description)
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            remaining: self.count,
            rest: self.body,
        }
    }
}

/// The chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    remaining: u8,
    rest: &'a [u8],
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        // `SourceDescription::parse` checked every chunk, so this never stops early.
        let (chunk, rest) = split_chunk(self.rest).ok()?;
        self.rest = rest;
        Some(chunk)
    }
}

/// The items one source describes itself with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items, in order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The canonical name, the one item every report carries.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|item| item.kind == CNAME)
            .map(|item| item.value)
    }
}

/// One SDES item (CNAME, NAME, EMAIL, PHONE, LOC, TOOL, NOTE, PRIV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type, 1..=8 ([`CNAME`] is 1).
    pub kind: u8,
    /// The value, UTF-8 by the RFC but not checked.
    pub value: &'a [u8],
}

/// The items of a chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = &rest[value.len()..];
        Some(SdesItem { kind, value })
    }
}

/// Splits one chunk off the front of `bytes`: the SSRC, the items up to the null octet that
/// ends the list, then the padding to the next 32-bit boundary.
///
/// Lenient where the RFC is strict and phones are not: a list that reaches the end of the
/// packet without its null octet is accepted. An item running past the end is an error.
fn split_chunk(bytes: &[u8]) -> Result<(SdesChunk<'_>, &[u8]), RtcpError> {
    let malformed = RtcpError::Malformed {
        packet_type: packet_type::SDES,
    };
    let ssrc = bytes.get(..4).ok_or(malformed)?;
    let mut at = 4;
    while let Some(&kind) = bytes.get(at) {
        if kind == 0 {
            let items = &bytes[4..at];
            let end = (at + 1).next_multiple_of(4).min(bytes.len());
            let chunk = SdesChunk {
                ssrc: Ssrc::new(be_u32(ssrc)),
                items,
            };
            return Ok((chunk, &bytes[end..]));
        }
        let len = *bytes.get(at + 1).ok_or(malformed)?;
        at += 2 + usize::from(len);
        if at > bytes.len() {
            return Err(malformed);
        }
    }
    let chunk = SdesChunk {
        ssrc: Ssrc::new(be_u32(ssrc)),
        items: &bytes[4..],
    };
    Ok((chunk, &[]))
}

/// A BYE packet (type 203): sources leaving, with an optional reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// Reads the body after the common header; `count` is the header's SC field.
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let malformed = RtcpError::Malformed {
            packet_type: packet_type::BYE,
        };
        let end = 4 * usize::from(count);
        let sources = body.get(..end).ok_or(malformed)?;
        let reason = match body.get(end) {
            None => None,
            Some(&len) => Some(
                body.get(end + 1..end + 1 + usize::from(len))
                    .ok_or(malformed)?,
            ),
        };
        Ok(Self { sources, reason })
    }

    /// The sources leaving.
    pub fn sources(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.sources
            .chunks_exact(4)
            .map(|word| Ssrc::new(be_u32(word)))
    }

    /// Why they leave, if said (UTF-8 by the RFC but not checked).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_with_several_items_and_padding() {
        let mut body = vec![0, 0, 0, 1, CNAME, 2, b'n', b'r', 0, 0, 0, 0];
        body.extend_from_slice(&[0, 0, 0, 2, 2, 1, b'x', 6, 3, b'a', b'b', b'c', 0, 0, 0, 0]);
        let sdes = SourceDescription::parse(2, &body).unwrap();
        let chunks: Vec<_> = sdes.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].ssrc, chunks[0].cname()),
            (Ssrc::new(1), Some(&b"nr"[..]))
        );
        assert_eq!(chunks[1].cname(), None);
        let items: Vec<_> = chunks[1]
            .items()
            .map(|item| (item.kind, item.value))
            .collect();
        assert_eq!(items, vec![(2, &b"x"[..]), (6, &b"abc"[..])]);
    }

    #[test]
    fn accepts_a_last_chunk_without_its_null_octet() {
        let body = [0, 0, 0, 1, CNAME, 2, b'n', b'r'];
        let sdes = SourceDescription::parse(1, &body).unwrap();
        assert_eq!(sdes.chunks().next().unwrap().cname(), Some(&b"nr"[..]));
    }

    #[test]
    fn rejects_items_past_the_end_and_missing_chunks() {
        let malformed = Err(RtcpError::Malformed {
            packet_type: packet_type::SDES,
        });
        assert_eq!(
            SourceDescription::parse(1, &[0, 0, 0, 1, CNAME, 9, b'n']),
            malformed
        );
        assert_eq!(SourceDescription::parse(1, &[0, 0, 0, 1, CNAME]), malformed);
        assert_eq!(
            SourceDescription::parse(2, &[0, 0, 0, 1, 0, 0, 0, 0]),
            malformed
        );
        assert_eq!(
            SourceDescription::parse(0, &[]).unwrap().chunks().count(),
            0
        );
    }

    #[test]
    fn reads_bye_with_and_without_reason() {
        let bye = Bye::parse(1, &[0, 0, 0, 5, 3, b'b', b'y', b'e']).unwrap();
        assert_eq!(bye.sources().collect::<Vec<_>>(), vec![Ssrc::new(5)]);
        assert_eq!(bye.reason(), Some(&b"bye"[..]));
        assert_eq!(Bye::parse(1, &[0, 0, 0, 5]).unwrap().reason(), None);
        assert!(Bye::parse(2, &[0, 0, 0, 5]).is_err());
        assert!(Bye::parse(1, &[0, 0, 0, 5, 9, b'b']).is_err());
    }
}
