//! `a=` lines: the ones offer/answer reads are parsed into types, every other one is kept verbatim.

use std::fmt;

use crate::codec::{PayloadType, parse_decimal};

/// One `a=` line.
///
/// Attributes offer/answer needs are typed. A known attribute whose value does not parse (say
/// `a=ptime:20.5`) is kept as [`Attribute::Other`] rather than failing the whole description: it
/// then simply does not count, and it is still printed back verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` (RFC 8866 §6.6).
    RtpMap(RtpMap),
    /// `a=fmtp:<pt> <parameters>` (RFC 8866 §6.15).
    Fmtp(Fmtp),
    /// `a=ptime:<ms>`: packet duration the sender of this SDP wants to receive.
    Ptime(u32),
    /// `a=maxptime:<ms>`: the longest packet duration it can receive.
    MaxPtime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=rtcp-mux` (RFC 5761): RTP and RTCP share one port.
    RtcpMux,
    /// `a=crypto:` (RFC 4568 SDES): a crypto suite and its key.
    Crypto(Crypto),
    /// Any other attribute: `a=<name>` or `a=<name>:<value>`, verbatim.
    Other {
        /// Text before the first `:`.
        name: String,
        /// Text after the first `:`, `None` for a property attribute.
        value: Option<String>,
    },
}

impl Attribute {
    /// Parses the text after `a=`. Returns `None` only for an empty attribute name.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        if name.is_empty() {
            return None;
        }
        let typed = match value {
            Some(value) => Self::parse_value(name, value),
            None => Self::parse_property(name),
        };
        Some(typed.unwrap_or_else(|| Self::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }))
    }

    fn parse_property(name: &str) -> Option<Self> {
        match name {
            "rtcp-mux" => Some(Self::RtcpMux),
            _ => Direction::from_attribute_name(name).map(Self::Direction),
        }
    }

    fn parse_value(name: &str, value: &str) -> Option<Self> {
        match name {
            "rtpmap" => RtpMap::parse(value).map(Self::RtpMap),
            "fmtp" => Fmtp::parse(value).map(Self::Fmtp),
            "ptime" => parse_decimal(value).map(Self::Ptime),
            "maxptime" => parse_decimal(value).map(Self::MaxPtime),
            "crypto" => Crypto::parse(value).map(Self::Crypto),
            _ => None,
        }
    }
}

impl fmt::Display for Attribute {
    /// The text after `a=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RtpMap(rtpmap) => write!(f, "rtpmap:{rtpmap}"),
            Self::Fmtp(fmtp) => write!(f, "fmtp:{} {}", fmtp.payload_type, fmtp.parameters),
            Self::Ptime(ms) => write!(f, "ptime:{ms}"),
            Self::MaxPtime(ms) => write!(f, "maxptime:{ms}"),
            Self::Direction(direction) => f.write_str(direction.as_str()),
            Self::RtcpMux => f.write_str("rtcp-mux"),
            Self::Crypto(crypto) => write!(f, "crypto:{}", crypto.wire()),
            Self::Other { name, value: None } => f.write_str(name),
            Self::Other {
                name,
                value: Some(value),
            } => write!(f, "{name}:{value}"),
        }
    }
}

/// `a=rtpmap`: what a payload type means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type being mapped.
    pub payload_type: PayloadType,
    /// Encoding name as written, e.g. `PCMU`, `opus`, `telephone-event`.
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, when given.
    pub channels: Option<u8>,
}

impl RtpMap {
    fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.split_once(' ')?;
        let mut parts = rest.trim_start().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty() && !e.contains(' '))?;
        let clock_rate = parse_decimal(parts.next()?)?;
        let channels = parts
            .next()
            .map(parse_decimal)
            .map_or(Some(None), |c| c.map(Some))?;
        if parts.next().is_some() {
            return None;
        }
        let payload_type = pt.parse().ok()?;
        Some(Self {
            payload_type,
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        match self.channels {
            Some(channels) => write!(f, "/{channels}"),
            None => Ok(()),
        }
    }
}

/// `a=fmtp`: format parameters, kept as the text the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The payload type the parameters belong to.
    pub payload_type: PayloadType,
    /// Everything after the payload type, e.g. `0-16` or `useinbandfec=1`. Never empty.
    pub parameters: String,
}

impl Fmtp {
    fn parse(value: &str) -> Option<Self> {
        let (pt, parameters) = value.split_once(' ')?;
        let parameters = parameters.trim_start();
        if parameters.is_empty() {
            return None;
        }
        Some(Self {
            payload_type: pt.parse().ok()?,
            parameters: parameters.to_owned(),
        })
    }
}

/// Media direction from the point of view of whoever wrote the SDP (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Sends and receives; the default when no direction attribute is present.
    #[default]
    SendRecv,
    /// Only sends (the usual "I put you on hold, here is music").
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither sends nor receives.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `sendonly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// Parses an attribute name; `None` for anything else.
    pub fn from_attribute_name(name: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }

    /// The direction with these capabilities.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Whether media flows from the writer of the SDP.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether media flows to the writer of the SDP.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The same stream seen from the other side: `sendonly` becomes `recvonly` and vice versa
    /// (RFC 3264 §6.1).
    pub fn reversed(self) -> Self {
        Self::from_flags(self.receives(), self.sends())
    }

    /// What both directions allow.
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

/// `a=crypto` (RFC 4568): a tag, a crypto suite and an SDES key. Offer/answer reads and writes
/// these for `RTP/SAVP` streams; the key parameters stay opaque text here.
///
/// `Debug` hides the key parameters: they carry the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag that an answer echoes.
    pub tag: u32,
    /// Crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// Key parameters, e.g. `inline:<base64 key||salt>|2^20|1:32`. Secret.
    pub key_params: String,
    /// Session parameters after the key parameters, verbatim.
    pub session_params: Option<String>,
}

impl Crypto {
    fn parse(value: &str) -> Option<Self> {
        let mut fields = value.splitn(4, ' ');
        let tag = parse_decimal(fields.next()?)?;
        let suite = fields.next().filter(|s| !s.is_empty())?.to_owned();
        let key_params = fields.next().filter(|s| !s.is_empty())?.to_owned();
        let session_params = fields.next().map(str::trim_start).filter(|s| !s.is_empty());
        Some(Self {
            tag,
            suite,
            key_params,
            session_params: session_params.map(str::to_owned),
        })
    }

    /// The attribute value as sent on the wire, key included.
    fn wire(&self) -> String {
        let mut text = format!("{} {} {}", self.tag, self.suite, self.key_params);
        if let Some(params) = &self.session_params {
            text.push(' ');
            text.push_str(params);
        }
        text
    }
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("key_params", &"<redacted>")
            .field("session_params", &self.session_params)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Attribute {
        Attribute::parse(text).expect("non-empty name")
    }

    #[test]
    fn rtpmap_with_and_without_channels() {
        let Attribute::RtpMap(opus) = parse("rtpmap:111 opus/48000/2") else {
            panic!()
        };
        assert_eq!(
            (opus.payload_type.get(), opus.encoding.as_str()),
            (111, "opus")
        );
        assert_eq!((opus.clock_rate, opus.channels), (48000, Some(2)));
        let Attribute::RtpMap(pcmu) = parse("rtpmap:0 PCMU/8000") else {
            panic!()
        };
        assert_eq!(pcmu.channels, None);
        assert_eq!(Attribute::RtpMap(pcmu).to_string(), "rtpmap:0 PCMU/8000");
    }

    #[test]
    fn malformed_known_attributes_are_kept_verbatim() {
        for text in [
            "rtpmap:abc PCMU/8000",
            "rtpmap:0 PCMU",
            "ptime:20.5",
            "fmtp:101",
            "crypto:1",
        ] {
            let attribute = parse(text);
            assert!(matches!(attribute, Attribute::Other { .. }), "{text}");
            assert_eq!(attribute.to_string(), text);
        }
    }

    #[test]
    fn direction_reverses_and_intersects() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
        assert_eq!(Direction::SendRecv.reversed(), Direction::SendRecv);
        assert_eq!(
            Direction::RecvOnly.intersect(Direction::SendOnly),
            Direction::Inactive
        );
        assert_eq!(parse("sendonly"), Attribute::Direction(Direction::SendOnly));
    }

    #[test]
    fn crypto_round_trips_and_debug_hides_the_key() {
        let text = "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32 KDR=1";
        let attribute = parse(text);
        let Attribute::Crypto(crypto) = &attribute else {
            panic!()
        };
        assert_eq!(crypto.session_params.as_deref(), Some("KDR=1"));
        assert_eq!(attribute.to_string(), text);
        assert!(!format!("{attribute:?}").contains("WVNf"));
    }
}
