//! RTP payload types and the codecs Herald knows by name.

use std::fmt;
use std::str::FromStr;

/// An RTP payload type, 0..=127 (RFC 3550 §5.1: the field is 7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PayloadType(u8);

impl PayloadType {
    /// PCMU (G.711 µ-law), static.
    pub const PCMU: Self = Self(0);
    /// PCMA (G.711 A-law), static.
    pub const PCMA: Self = Self(8);
    /// G.722, static.
    pub const G722: Self = Self(9);

    /// A payload type, or `None` when `value` does not fit in 7 bits.
    pub const fn new(value: u8) -> Option<Self> {
        if value <= 127 {
            Some(Self(value))
        } else {
            None
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether this is in the dynamic range 96..=127 (RFC 3551 §6).
    pub const fn is_dynamic(self) -> bool {
        self.0 >= 96
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The text is not a decimal number in 0..=127.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RTP payload type (0..=127)")]
pub struct InvalidPayloadType;

impl FromStr for PayloadType {
    type Err = InvalidPayloadType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = parse_decimal::<u8>(s).ok_or(InvalidPayloadType)?;
        Self::new(value).ok_or(InvalidPayloadType)
    }
}

/// Parses plain ASCII decimal digits (no sign, no spaces) into an integer.
pub(crate) fn parse_decimal<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A codec, identified by its RTP encoding name (compared case-insensitively, RFC 4855 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, `PCMU/8000`, static payload type 0.
    Pcmu,
    /// G.711 A-law, `PCMA/8000`, static payload type 8.
    Pcma,
    /// G.722, `G722/8000`, static payload type 9. It samples at 16 kHz, but its RTP clock rate is
    /// 8000 for historical reasons (RFC 3551 §4.5.2).
    G722,
    /// Opus, `opus/48000/2` (RFC 7587), dynamic payload type.
    Opus,
    /// RFC 4733 events (DTMF), `telephone-event/<rate>`, dynamic payload type.
    TelephoneEvent,
    /// Any other encoding, by the name the peer used.
    Other(String),
}

impl Codec {
    /// The codec an rtpmap encoding name stands for.
    pub fn from_encoding_name(name: &str) -> Self {
        const KNOWN: [(&str, Codec); 5] = [
            ("PCMU", Codec::Pcmu),
            ("PCMA", Codec::Pcma),
            ("G722", Codec::G722),
            ("opus", Codec::Opus),
            ("telephone-event", Codec::TelephoneEvent),
        ];
        KNOWN
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map_or_else(|| Codec::Other(name.to_owned()), |(_, codec)| codec)
    }

    /// The encoding name written in `a=rtpmap`.
    pub fn encoding_name(&self) -> &str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            Self::Opus => "opus",
            Self::TelephoneEvent => "telephone-event",
            Self::Other(name) => name,
        }
    }

    /// The static payload type assigned by RFC 3551, if any.
    pub fn static_payload_type(&self) -> Option<PayloadType> {
        match self {
            Self::Pcmu => Some(PayloadType::PCMU),
            Self::Pcma => Some(PayloadType::PCMA),
            Self::G722 => Some(PayloadType::G722),
            _ => None,
        }
    }

    /// The RTP clock rate this codec always uses, if it has a single one. `telephone-event`
    /// follows the audio codec it accompanies, so it has none.
    pub fn rtp_clock_rate(&self) -> Option<u32> {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => Some(8000),
            Self::Opus => Some(48000),
            Self::TelephoneEvent | Self::Other(_) => None,
        }
    }

    /// The channel count written in `a=rtpmap` (Opus always says 2, RFC 7587 §7).
    pub fn rtpmap_channels(&self) -> Option<u8> {
        match self {
            Self::Opus => Some(2),
            _ => None,
        }
    }
}

/// One RTP format of a media section, resolved from its `a=rtpmap` or, for a static payload type
/// without one, from the RFC 3551 table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpFormat {
    /// The payload type on the `m=` line.
    pub payload_type: PayloadType,
    /// The codec.
    pub codec: Codec,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (1 when the rtpmap does not say).
    pub channels: u8,
}

impl RtpFormat {
    /// The RFC 3551 static audio payload types (8 kHz, mono) that SIP devices still send.
    pub fn from_static(payload_type: PayloadType) -> Option<Self> {
        let codec = match payload_type.get() {
            0 => Codec::Pcmu,
            3 => Codec::Other("GSM".into()),
            4 => Codec::Other("G723".into()),
            8 => Codec::Pcma,
            9 => Codec::G722,
            13 => Codec::Other("CN".into()),
            15 => Codec::Other("G728".into()),
            18 => Codec::Other("G729".into()),
            _ => return None,
        };
        Some(Self {
            payload_type,
            codec,
            clock_rate: 8000,
            channels: 1,
        })
    }

    /// Whether the clock rate is the one the codec requires. A `G722/16000` rtpmap, for instance,
    /// is a peer bug that would skew every timestamp, so it does not count as G.722.
    pub fn has_valid_clock_rate(&self) -> bool {
        self.codec
            .rtp_clock_rate()
            .is_none_or(|rate| rate == self.clock_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_type_accepts_only_seven_bit_decimals() {
        assert_eq!("0".parse(), Ok(PayloadType::PCMU));
        assert_eq!("127".parse::<PayloadType>().map(PayloadType::get), Ok(127));
        for bad in ["128", "-1", "+8", " 8", "", "8a", "999999999999"] {
            assert_eq!(
                bad.parse::<PayloadType>(),
                Err(InvalidPayloadType),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn encoding_names_are_case_insensitive_and_unknown_ones_are_kept() {
        assert_eq!(Codec::from_encoding_name("pcmu"), Codec::Pcmu);
        assert_eq!(Codec::from_encoding_name("OPUS"), Codec::Opus);
        assert_eq!(
            Codec::from_encoding_name("Telephone-Event"),
            Codec::TelephoneEvent
        );
        assert_eq!(
            Codec::from_encoding_name("iLBC"),
            Codec::Other("iLBC".into())
        );
    }

    #[test]
    fn g722_uses_an_8000_rtp_clock_and_its_static_payload_type() {
        assert_eq!(Codec::G722.rtp_clock_rate(), Some(8000));
        assert_eq!(Codec::G722.static_payload_type(), Some(PayloadType::G722));
        let format = RtpFormat::from_static(PayloadType::G722);
        assert_eq!(
            format.map(|f| (f.codec, f.clock_rate)),
            Some((Codec::G722, 8000))
        );
        let wrong = RtpFormat {
            clock_rate: 16000,
            ..RtpFormat::from_static(PayloadType::G722).unwrap()
        };
        assert!(!wrong.has_valid_clock_rate());
    }
}
