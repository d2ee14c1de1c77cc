//! What both sides of offer/answer share: the local inputs, the policy, the negotiated result,
//! and how our own descriptions are built.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

use crate::attribute::{Attribute, Crypto, Direction, Fmtp, RtpMap};
use crate::codec::{Codec, PayloadType, RtpFormat};
use crate::error::{NotAcceptableReason, OfferAnswerError};
use crate::model::{
    Connection, MediaDescription, Origin, SessionDescription, Timing, addr_type_of,
};
use crate::sdes::{LocalCryptoKey, NegotiatedSrtp, SrtpPolicy};

/// The DTMF events we send and receive: digits, `*`, `#`, A-D (RFC 4733 §3.2).
const TELEPHONE_EVENT_RANGE: &str = "0-15";

/// Our side of the media: where we receive RTP and how our `o=` line reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address written in `o=` and `c=`; its family decides `IP4` or `IP6`.
    pub address: IpAddr,
    /// The RTP port allocated for the audio stream.
    pub rtp_port: u16,
    /// `o=` session id, constant for the dialog.
    pub session_id: u64,
    /// `o=` session version; see [`crate::SessionVersion`] to keep it across re-INVITEs.
    pub session_version: u64,
    /// What we are willing to do: `sendonly` while we hold the peer, else `sendrecv`.
    pub direction: Direction,
    /// Our SDES keys, one per crypto suite we accept, most preferred first (the order of our
    /// offer's `a=crypto` lines). Empty (the default): no SRTP for this stream. Fresh keys for
    /// each call, from a CSPRNG (the media crate's `SdesKey`); `Debug` hides them.
    pub srtp_keys: Vec<LocalCryptoKey>,
}

impl LocalMedia {
    /// Send-and-receive media at `address:rtp_port`, session version 1.
    pub fn new(address: IpAddr, rtp_port: u16, session_id: u64) -> Self {
        Self {
            address,
            rtp_port,
            session_id,
            session_version: 1,
            direction: Direction::SendRecv,
            srtp_keys: Vec::new(),
        }
    }

    /// The same with our SDES keys for SRTP (see [`LocalMedia::srtp_keys`]).
    #[must_use]
    pub fn with_srtp_keys(mut self, keys: Vec<LocalCryptoKey>) -> Self {
        self.srtp_keys = keys;
        self
    }
}

/// How we negotiate. The defaults fit a European contact centre behind SIP trunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerPolicy {
    /// Codecs we accept, most preferred first. Only [`Codec::Pcmu`], [`Codec::Pcma`],
    /// [`Codec::G722`] and [`Codec::Opus`] can be offered; [`Codec::TelephoneEvent`] here is
    /// ignored (see `telephone_event`).
    pub codecs: Vec<Codec>,
    /// `false` (default): our order wins among the codecs the offer supports. `true`: the
    /// offerer's order wins among the codecs we accept.
    pub prefer_offer_order: bool,
    /// Packet duration in ms used when the offer states none or one outside `accepted_ptime`.
    pub default_ptime: u32,
    /// Offered `a=ptime` values we follow.
    pub accepted_ptime: RangeInclusive<u32>,
    /// Whether to negotiate RFC 4733 `telephone-event`.
    pub telephone_event: bool,
    /// Whether to accept `a=rtcp-mux` when offered, and offer it ourselves.
    pub rtcp_mux: bool,
    /// Whether to do SRTP with SDES keys: [`SrtpPolicy::Optional`] by default, which answers
    /// `RTP/SAVP` when the caller supplied keys and offers `RTP/AVP`.
    pub srtp: SrtpPolicy,
}

impl Default for AnswerPolicy {
    /// G.722 first (AudioCodes and Polycom phones do HD voice), then A-law (the European trunk
    /// default), µ-law, and Opus last (the most CPU per call). ptime 20, following offers of
    /// 10..=60 ms; telephone-event and rtcp-mux on; SRTP optional.
    fn default() -> Self {
        Self {
            codecs: vec![Codec::G722, Codec::Pcma, Codec::Pcmu, Codec::Opus],
            prefer_offer_order: false,
            default_ptime: 20,
            accepted_ptime: 10..=60,
            telephone_event: true,
            rtcp_mux: true,
            srtp: SrtpPolicy::Optional,
        }
    }
}

/// The negotiated RFC 4733 event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Its payload type.
    pub payload_type: PayloadType,
    /// Its RTP clock rate: 8000, or 48000 alongside Opus.
    pub clock_rate: u32,
}

/// The audio stream both sides agreed on: what the media layer needs to send and receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Position of the audio `m=` line in the offer (and the answer).
    pub media_index: usize,
    /// Payload type of the voice codec.
    pub payload_type: PayloadType,
    /// The voice codec.
    pub codec: Codec,
    /// RTP clock rate of the voice codec (8000 for G.722).
    pub clock_rate: u32,
    /// Channel count from the rtpmap (2 for Opus).
    pub channels: u8,
    /// Packet duration to send, in ms.
    pub ptime: u32,
    /// The event stream, if negotiated.
    pub telephone_event: Option<TelephoneEvent>,
    /// Where to send RTP. With an RFC 2543 hold offer the IP is `0.0.0.0` (or `::`).
    pub remote_rtp: SocketAddr,
    /// The direction the peer wrote (its media-level attribute, else its session-level one).
    pub remote_direction: Direction,
    /// What we do: whether we send and receive.
    pub local_direction: Direction,
    /// Whether the peer holds the call: it wrote `sendonly` or `inactive`, or `c=0.0.0.0`.
    pub remote_on_hold: bool,
    /// Whether RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The SDES keys when the stream is `RTP/SAVP`; `None` for plain RTP.
    pub srtp: Option<NegotiatedSrtp>,
}

/// The peer's side of an audio stream, read from its description.
pub(crate) struct RemoteEndpoint {
    pub(crate) rtp: SocketAddr,
    pub(crate) direction: Direction,
    /// The direction with the RFC 2543 hold address taken into account: `c=0.0.0.0` cannot
    /// receive, whatever the attribute says.
    pub(crate) effective_direction: Direction,
    pub(crate) on_hold: bool,
}

impl RemoteEndpoint {
    /// Reads address and direction of `sdp.media[index]`. `local` (when known) must be of the
    /// same address family, unless the peer holds with an unspecified address.
    pub(crate) fn read(
        sdp: &SessionDescription,
        index: usize,
        local: Option<IpAddr>,
    ) -> Result<Self, OfferAnswerError> {
        let media = &sdp.media[index];
        let connection = sdp
            .media_connection(media)
            .ok_or(OfferAnswerError::MissingConnection { media_index: index })?;
        let unusable = OfferAnswerError::NotAcceptable(NotAcceptableReason::UnusableAddress);
        let ip = connection.ip().ok_or(unusable.clone())?;
        if local.is_some_and(|local| local.is_ipv4() != ip.is_ipv4()) && !ip.is_unspecified() {
            return Err(unusable);
        }
        let direction = sdp.media_direction(media);
        let hold_address = ip.is_unspecified();
        Ok(Self {
            rtp: SocketAddr::new(ip, media.port),
            direction,
            effective_direction: Direction::from_flags(
                direction.sends(),
                direction.receives() && !hold_address,
            ),
            on_hold: hold_address || !direction.receives(),
        })
    }
}

/// The `telephone-event` format to use with a voice codec: the one at the codec's clock rate
/// (RFC 4733 §2.1), else one at 8000 or 48000.
pub(crate) fn pick_telephone_event(formats: &[RtpFormat], voice_rate: u32) -> Option<&RtpFormat> {
    let events = || formats.iter().filter(|f| f.codec == Codec::TelephoneEvent);
    events()
        .find(|f| f.clock_rate == voice_rate)
        .or_else(|| events().find(|f| matches!(f.clock_rate, 8000 | 48000)))
}

/// Everything in an audio `m=` section we write.
pub(crate) struct AudioSection<'a> {
    pub(crate) proto: &'a str,
    pub(crate) voice: &'a [RtpFormat],
    pub(crate) events: &'a [RtpFormat],
    pub(crate) ptime: u32,
    pub(crate) direction: Direction,
    pub(crate) rtcp_mux: bool,
    /// `a=crypto` lines: ours in an offer, the one echoing the chosen tag in an answer.
    pub(crate) crypto: Vec<Crypto>,
}

impl AudioSection<'_> {
    pub(crate) fn build(&self, port: u16) -> MediaDescription {
        let all = || self.voice.iter().chain(self.events);
        let mut attributes: Vec<Attribute> = all().map(rtpmap_for).map(Attribute::RtpMap).collect();
        attributes.extend(self.events.iter().map(|event| {
            let parameters = TELEPHONE_EVENT_RANGE.to_owned();
            Attribute::Fmtp(Fmtp {
                payload_type: event.payload_type,
                parameters,
            })
        }));
        attributes.push(Attribute::Ptime(self.ptime));
        if self.rtcp_mux {
            attributes.push(Attribute::RtcpMux);
        }
        attributes.extend(self.crypto.iter().cloned().map(Attribute::Crypto));
        attributes.push(Attribute::Direction(self.direction));
        MediaDescription {
            media: "audio".into(),
            port,
            port_count: None,
            proto: self.proto.to_owned(),
            formats: all().map(|f| f.payload_type.to_string()).collect(),
            connection: None,
            bandwidths: Vec::new(),
            attributes,
            extra_lines: Vec::new(),
        }
    }
}

fn rtpmap_for(format: &RtpFormat) -> RtpMap {
    let stated_channels = (format.channels > 1).then_some(format.channels);
    RtpMap {
        payload_type: format.payload_type,
        encoding: format.codec.encoding_name().to_owned(),
        clock_rate: format.clock_rate,
        channels: format.codec.rtpmap_channels().or(stated_channels),
    }
}

/// Our session-level lines around `media`.
pub(crate) fn local_description(
    local: &LocalMedia,
    timing: Vec<Timing>,
    media: Vec<MediaDescription>,
) -> SessionDescription {
    SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: local.session_id,
            session_version: local.session_version,
            net_type: "IN".into(),
            addr_type: addr_type_of(local.address).into(),
            address: local.address.to_string(),
        },
        session_name: "-".into(),
        connection: Some(Connection::from_ip(local.address)),
        bandwidths: Vec::new(),
        timing,
        attributes: Vec::new(),
        media,
        extra_lines: Vec::new(),
    }
}
