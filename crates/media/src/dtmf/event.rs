//! [`TelephoneEvent`]: the RFC 4733 telephone-event payload, parsed and written.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

use super::{Digit, DtmfError};

/// One RFC 4733 §2.3 event block: which event, whether it has ended, its volume and how long
/// it has lasted so far.
///
/// `Debug` hides `event`, which for DTMF is the key itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code: 0-15 for DTMF keys (see [`Digit::from_event_code`]), higher for other
    /// events (16 is a hook flash).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// The power level of the tone in -dBm0, 0-63 (so 10 means -10 dBm0). Values above 63 are
    /// written as 63.
    pub volume: u8,
    /// The duration so far, in units of the telephone-event clock (8000 Hz unless negotiated
    /// otherwise), counted from the RTP timestamp of the packet.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Length of one event block in bytes.
    pub const LEN: usize = 4;

    /// Reads the first event block of an RTP telephone-event payload.
    ///
    /// Bytes after the first block are ignored: senders put one event in a packet and get
    /// redundancy by repeating packets, and a tolerant reader accepts padding or further
    /// blocks rather than refusing the packet. The reserved R bit is ignored.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        let Some(&[event, flags, hi, lo]) = payload.first_chunk::<4>() else {
            return Err(DtmfError::ShortPayload { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// Writes the event block into the first 4 bytes of `out` and returns 4.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, DtmfError> {
        let len = out.len();
        let Some(block) = out.first_chunk_mut::<4>() else {
            return Err(DtmfError::BufferTooSmall { len });
        };
        let [hi, lo] = self.duration.to_be_bytes();
        let end = if self.end { 0x80 } else { 0 };
        *block = [self.event, end | self.volume.min(63), hi, lo];
        Ok(Self::LEN)
    }

    /// The DTMF key this event reports, or `None` for a non-DTMF event.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event_code(self.event)
    }
}

impl fmt::Debug for TelephoneEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelephoneEvent")
            .field("event", &format_args!(".."))
            .field("end", &self.end)
            .field("volume", &self.volume)
            .field("duration", &self.duration)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_rfc_4733_blocks() {
        // Digit 1, no end, volume 10, duration 320 (broken_dtmf capture, first packet).
        let e = TelephoneEvent::parse(&[0x01, 0x0a, 0x01, 0x40]).unwrap();
        assert_eq!(e.digit().map(Digit::as_char), Some('1'));
        assert!(!e.end);
        assert_eq!((e.volume, e.duration), (10, 320));
        // End bit, reserved bit set (ignored), volume 63, maximal duration.
        let e = TelephoneEvent::parse(&[11, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(e.digit().map(Digit::as_char), Some('#'));
        assert!(e.end);
        assert_eq!((e.volume, e.duration), (63, 0xffff));
        // A flash is an event but not a digit.
        assert_eq!(TelephoneEvent::parse(&[16, 0, 0, 0]).unwrap().digit(), None);
    }

    #[test]
    fn tolerates_longer_payloads_and_refuses_short_ones() {
        let e = TelephoneEvent::parse(&[5, 0x80, 0, 160, 9, 9, 9, 9, 9]).unwrap();
        assert_eq!((e.event, e.end, e.duration), (5, true, 160));
        for len in 0..4 {
            assert_eq!(
                TelephoneEvent::parse(&[0; 3][..len]),
                Err(DtmfError::ShortPayload { len })
            );
        }
    }

    #[test]
    fn write_clamps_volume_and_checks_the_buffer() {
        let e = TelephoneEvent {
            event: 10,
            end: true,
            volume: 200,
            duration: 1600,
        };
        let mut buf = [0u8; 6];
        assert_eq!(e.write(&mut buf), Ok(4));
        assert_eq!(buf, [10, 0x80 | 63, 0x06, 0x40, 0, 0]);
        assert_eq!(
            e.write(&mut buf[..3]),
            Err(DtmfError::BufferTooSmall { len: 3 })
        );
    }

    #[test]
    fn debug_hides_the_event_code() {
        let e = TelephoneEvent {
            event: 7,
            end: false,
            volume: 10,
            duration: 0,
        };
        let s = format!("{e:?}");
        assert!(!s.contains('7'), "{s}");
        assert!(s.contains("event: .."), "{s}");
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(event: u8, end: bool, volume in 0u8..64, duration: u16) {
            let e = TelephoneEvent { event, end, volume, duration };
            let mut buf = [0u8; 4];
            e.write(&mut buf).unwrap();
            prop_assert_eq!(TelephoneEvent::parse(&buf).unwrap(), e);
        }

        #[test]
        fn parse_never_panics(bytes: Vec<u8>) {
            let _ = TelephoneEvent::parse(&bytes);
        }
    }
}
