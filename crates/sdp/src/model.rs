//! The session description model (RFC 8866 §5) and its printer.

use std::fmt;
use std::net::IpAddr;

use crate::attribute::{Attribute, Crypto, Direction, Fmtp, RtpMap};
use crate::codec::{Codec, PayloadType, RtpFormat};

/// A session description: the session-level lines followed by the media sections.
///
/// Parse one with [`SessionDescription::parse`], print one with `Display` (CRLF line endings,
/// RFC 8866 line order). Lines the model has no field for are kept in `extra_lines` and printed
/// back in their RFC position, so a parsed description prints back with the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`; a blank `s= ` parses to the empty string and prints back as `s= `.
    pub session_name: String,
    /// Session-level `c=`, the default for media sections without their own.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` lines. A description without `t=` parses as `t=0 0`.
    pub timing: Vec<Timing>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<MediaDescription>,
    /// Other session-level lines (`i= u= e= p= z= k=` and unknown types), verbatim.
    pub extra_lines: Vec<Line>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `-` when there is no user.
    pub username: String,
    /// Stays the same for the whole dialog (RFC 3264 §5).
    pub session_id: u64,
    /// Increases each time the description changes (RFC 3264 §8).
    pub session_version: u64,
    /// Usually `IN`.
    pub net_type: String,
    /// Usually `IP4` or `IP6`.
    pub addr_type: String,
    /// Address or host name, as written.
    pub address: String,
}

/// `c=<nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Usually `IN`.
    pub net_type: String,
    /// Usually `IP4` or `IP6`.
    pub addr_type: String,
    /// Address as written: an IP literal, a host name, or multicast with `/ttl`.
    pub address: String,
}

impl Connection {
    /// `IN IP4 <ip>` or `IN IP6 <ip>`.
    pub fn from_ip(ip: IpAddr) -> Self {
        Self {
            net_type: "IN".into(),
            addr_type: addr_type_of(ip).into(),
            address: ip.to_string(),
        }
    }

    /// The address if it is an IP literal. Host names are not resolved: this crate does no I/O.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// Whether this is the RFC 2543 hold address `0.0.0.0` (or its IPv6 analogue `::`).
    pub fn is_hold(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

pub(crate) fn addr_type_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `b=<bwtype>:<bandwidth>`, e.g. `b=AS:64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `AS`, `CT`, `TIAS`, ...
    pub bw_type: String,
    /// In the unit of `bw_type` (kbit/s for `AS` and `CT`).
    pub value: u64,
}

/// `t=<start> <stop>` with its `r=` lines. VoIP always uses `t=0 0`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// NTP start time, 0 for unbounded.
    pub start: u64,
    /// NTP stop time, 0 for unbounded.
    pub stop: u64,
    /// The values of the `r=` lines that follow, verbatim.
    pub repeats: Vec<String>,
}

/// A line kept verbatim: `<kind>=<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The type letter, a lowercase ASCII letter.
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

impl Line {
    /// Where the line prints: 0 right after `s=`/`m=`, 1 right before the `a=` lines.
    pub(crate) fn slot(&self, in_media: bool) -> u8 {
        let early: &[char] = if in_media {
            &['i']
        } else {
            &['i', 'u', 'e', 'p']
        };
        u8::from(!early.contains(&self.kind))
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `image`, `application`, ...
    pub media: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The `/<count>` after the port, when given.
    pub port_count: Option<u16>,
    /// Transport profile, e.g. `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl`.
    pub proto: String,
    /// Format list: payload type numbers for RTP profiles.
    pub formats: Vec<String>,
    /// Media-level `c=`, overriding the session-level one.
    pub connection: Option<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `a=` lines.
    pub attributes: Vec<Attribute>,
    /// Other media-level lines (`i= k=` and unknown types), verbatim.
    pub extra_lines: Vec<Line>,
}

impl MediaDescription {
    /// Whether this is an audio section with a non-zero port.
    pub fn is_active_audio(&self) -> bool {
        self.port != 0 && self.media.eq_ignore_ascii_case("audio")
    }

    /// The formats that are payload type numbers, in `m=` order.
    pub fn payload_types(&self) -> impl Iterator<Item = PayloadType> + '_ {
        self.formats.iter().filter_map(|format| format.parse().ok())
    }

    /// The payload types resolved through `a=rtpmap` or the static table, in `m=` order.
    /// Dynamic payload types without an rtpmap are left out.
    pub fn rtp_formats(&self) -> Vec<RtpFormat> {
        self.payload_types()
            .filter_map(|pt| self.rtp_format(pt))
            .collect()
    }

    fn rtp_format(&self, payload_type: PayloadType) -> Option<RtpFormat> {
        let Some(rtpmap) = self.rtpmap(payload_type) else {
            return RtpFormat::from_static(payload_type);
        };
        Some(RtpFormat {
            payload_type,
            codec: Codec::from_encoding_name(&rtpmap.encoding),
            clock_rate: rtpmap.clock_rate,
            channels: rtpmap.channels.unwrap_or(1),
        })
    }

    /// The `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = &RtpMap> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::RtpMap(rtpmap) => Some(rtpmap),
            _ => None,
        })
    }

    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, payload_type: PayloadType) -> Option<&RtpMap> {
        self.rtpmaps()
            .find(|rtpmap| rtpmap.payload_type == payload_type)
    }

    /// The `a=fmtp` for a payload type.
    pub fn fmtp(&self, payload_type: PayloadType) -> Option<&Fmtp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(fmtp) if fmtp.payload_type == payload_type => Some(fmtp),
            _ => None,
        })
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxPtime(ms) => Some(*ms),
            _ => None,
        })
    }

    /// The media-level direction attribute, if any. See
    /// [`SessionDescription::media_direction`] for the effective one.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMux)
    }

    /// The `a=crypto` lines, in order of preference.
    pub fn crypto(&self) -> impl Iterator<Item = &Crypto> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Crypto(crypto) => Some(crypto),
            _ => None,
        })
    }

    /// The `telephone-event` formats (RFC 4733), with their clock rates.
    pub fn telephone_events(&self) -> Vec<RtpFormat> {
        let mut formats = self.rtp_formats();
        formats.retain(|f| f.codec == Codec::TelephoneEvent);
        formats
    }
}

fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes.iter().find_map(|a| match a {
        Attribute::Direction(direction) => Some(*direction),
        _ => None,
    })
}

impl SessionDescription {
    /// The session-level direction attribute, the default for every media section.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// The direction in effect for a media section: its own attribute, else the session-level
    /// one, else `sendrecv` (RFC 3264 §5.1).
    pub fn media_direction(&self, media: &MediaDescription) -> Direction {
        media.direction().or(self.direction()).unwrap_or_default()
    }

    /// The connection in effect for a media section: its own `c=`, else the session-level one.
    pub fn media_connection<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }
}

impl fmt::Display for SessionDescription {
    /// Prints the description with CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        let o = &self.origin;
        let (id, version) = (o.session_id, o.session_version);
        write!(
            f,
            "o={} {id} {version} {} {} {}\r\n",
            o.username, o.net_type, o.addr_type, o.address
        )?;
        let name = if self.session_name.is_empty() {
            " "
        } else {
            &self.session_name
        };
        write!(f, "s={name}\r\n")?;
        write_extra(f, &self.extra_lines, false, 0)?;
        write_common(f, self.connection.as_ref(), &self.bandwidths)?;
        write_timing(f, &self.timing)?;
        write_extra(f, &self.extra_lines, false, 1)?;
        write_attributes(f, &self.attributes)?;
        self.media.iter().try_for_each(|media| write!(f, "{media}"))
    }
}

impl fmt::Display for MediaDescription {
    /// Prints the section, from `m=` to its last `a=`, with CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        self.formats
            .iter()
            .try_for_each(|format| write!(f, " {format}"))?;
        f.write_str("\r\n")?;
        write_extra(f, &self.extra_lines, true, 0)?;
        write_common(f, self.connection.as_ref(), &self.bandwidths)?;
        write_extra(f, &self.extra_lines, true, 1)?;
        write_attributes(f, &self.attributes)
    }
}

fn write_common(
    f: &mut fmt::Formatter<'_>,
    connection: Option<&Connection>,
    bandwidths: &[Bandwidth],
) -> fmt::Result {
    if let Some(c) = connection {
        write!(f, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address)?;
    }
    bandwidths
        .iter()
        .try_for_each(|b| write!(f, "b={}:{}\r\n", b.bw_type, b.value))
}

fn write_timing(f: &mut fmt::Formatter<'_>, timing: &[Timing]) -> fmt::Result {
    if timing.is_empty() {
        return f.write_str("t=0 0\r\n");
    }
    for t in timing {
        write!(f, "t={} {}\r\n", t.start, t.stop)?;
        t.repeats.iter().try_for_each(|r| write!(f, "r={r}\r\n"))?;
    }
    Ok(())
}

fn write_extra(
    f: &mut fmt::Formatter<'_>,
    lines: &[Line],
    in_media: bool,
    slot: u8,
) -> fmt::Result {
    lines
        .iter()
        .filter(|line| line.slot(in_media) == slot)
        .try_for_each(|line| write!(f, "{}={}\r\n", line.kind, line.value))
}

fn write_attributes(f: &mut fmt::Formatter<'_>, attributes: &[Attribute]) -> fmt::Result {
    attributes.iter().try_for_each(|a| write!(f, "a={a}\r\n"))
}
