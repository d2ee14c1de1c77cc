//! The UAS side of RFC 3264: answering an offer (§6).

use crate::attribute::{Attribute, Crypto};
use crate::codec::{Codec, RtpFormat};
use crate::error::{NotAcceptableReason, OfferAnswerError};
use crate::model::{MediaDescription, SessionDescription, Timing};
use crate::negotiation::{
    AnswerPolicy, AudioSection, LocalMedia, NegotiatedAudio, RemoteEndpoint, TelephoneEvent,
    local_description, pick_telephone_event,
};
use crate::sdes::{NegotiatedSrtp, Profile, SrtpPolicy, choose_crypto};

/// Our answer: the description to send, and the stream it sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The answer SDP. Its `o=` line carries `local.session_id` and `local.session_version`;
    /// pass it through [`crate::SessionVersion::stamp`] to keep versions right in a dialog.
    pub sdp: SessionDescription,
    /// The negotiated audio stream.
    pub audio: NegotiatedAudio,
}

/// Answers an offer (RFC 3264 §6) with one audio stream.
///
/// The first acceptable audio section is answered with `local.rtp_port`, one voice codec and at
/// most one `telephone-event`; every other section keeps its position, media type, proto and
/// first format, with port 0. The crate documentation lists the rules.
///
/// # Errors
///
/// [`OfferAnswerError::NotAcceptable`] (488) when no audio section can be accepted, with the
/// reason found on the first audio section; [`OfferAnswerError::MissingConnection`] (400) when
/// an otherwise acceptable audio section has no `c=`.
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
    policy: &AnswerPolicy,
) -> Result<Answer, OfferAnswerError> {
    let mut audio = None;
    let mut first_reason = None;
    let mut media = Vec::with_capacity(offer.media.len());
    for (index, offered) in offer.media.iter().enumerate() {
        if audio.is_none() {
            match negotiate_section(offer, index, local, policy) {
                Ok(Some((section, negotiated))) => {
                    media.push(section);
                    audio = Some(negotiated);
                    continue;
                }
                Ok(None) => {}
                Err(OfferAnswerError::NotAcceptable(reason)) => {
                    first_reason.get_or_insert(reason);
                }
                Err(fatal) => return Err(fatal),
            }
        }
        media.push(rejected(offered));
    }
    let reason = first_reason.unwrap_or(NotAcceptableReason::NoAudioStream);
    let audio = audio.ok_or(OfferAnswerError::NotAcceptable(reason))?;
    let timing = if offer.timing.is_empty() {
        vec![Timing::default()]
    } else {
        offer.timing.clone()
    };
    Ok(Answer {
        sdp: local_description(local, timing, media),
        audio,
    })
}

/// The answer to a section we do not take: same media, proto and first format, port 0
/// (RFC 3264 §6).
fn rejected(offered: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: offered.media.clone(),
        port: 0,
        port_count: None,
        proto: offered.proto.clone(),
        formats: offered.formats.first().cloned().into_iter().collect(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
        extra_lines: Vec::new(),
    }
}

/// `Ok(None)`: not an audio candidate. `Err(NotAcceptable)`: an audio section we refuse.
fn negotiate_section(
    offer: &SessionDescription,
    index: usize,
    local: &LocalMedia,
    policy: &AnswerPolicy,
) -> Result<Option<(MediaDescription, NegotiatedAudio)>, OfferAnswerError> {
    let offered = &offer.media[index];
    if !offered.is_active_audio() {
        return Ok(None);
    }
    let (crypto, srtp) = negotiate_srtp(offered, local, policy)?.unzip();
    let formats = offered.rtp_formats();
    let voice = choose_voice(&formats, policy).ok_or(OfferAnswerError::NotAcceptable(
        NotAcceptableReason::NoCommonCodec,
    ))?;
    let remote = RemoteEndpoint::read(offer, index, Some(local.address))?;
    let event = pick_telephone_event(&formats, voice.clock_rate).filter(|_| policy.telephone_event);
    let section = AudioSection {
        proto: &offered.proto,
        voice: std::slice::from_ref(voice),
        events: event.map(std::slice::from_ref).unwrap_or_default(),
        ptime: choose_ptime(offer, offered, policy),
        direction: remote
            .effective_direction
            .reversed()
            .intersect(local.direction),
        rtcp_mux: policy.rtcp_mux && offered.rtcp_mux(),
        crypto: crypto.into_iter().collect(),
    };
    let mut negotiated = negotiated(index, voice, event, &section, &remote);
    negotiated.srtp = srtp;
    Ok(Some((section.build(local.rtp_port), negotiated)))
}

/// The SRTP part of the answer to `offered` (RFC 4568): `None` for plain RTP; for `RTP/SAVP`,
/// our `a=crypto` line and the negotiated keys. Refuses what the policy and our keys rule out.
fn negotiate_srtp(
    offered: &MediaDescription,
    local: &LocalMedia,
    policy: &AnswerPolicy,
) -> Result<Option<(Crypto, NegotiatedSrtp)>, OfferAnswerError> {
    let refuse = |reason| Err(OfferAnswerError::NotAcceptable(reason));
    let unsupported = || NotAcceptableReason::UnsupportedProto(offered.proto.clone());
    match Profile::of(&offered.proto) {
        Profile::Plain if policy.srtp == SrtpPolicy::Required => {
            refuse(NotAcceptableReason::SrtpRequired)
        }
        Profile::Plain => Ok(None),
        Profile::Secure if policy.srtp == SrtpPolicy::Disabled || local.srtp_keys.is_empty() => {
            refuse(unsupported())
        }
        Profile::Secure => match choose_crypto(offered, &local.srtp_keys) {
            Some(chosen) => Ok(Some(chosen)),
            None => refuse(NotAcceptableReason::NoAcceptableCrypto),
        },
        Profile::Unsupported => refuse(unsupported()),
    }
}

fn negotiated(
    media_index: usize,
    voice: &RtpFormat,
    event: Option<&RtpFormat>,
    section: &AudioSection<'_>,
    remote: &RemoteEndpoint,
) -> NegotiatedAudio {
    NegotiatedAudio {
        media_index,
        payload_type: voice.payload_type,
        codec: voice.codec.clone(),
        clock_rate: voice.clock_rate,
        channels: voice.channels,
        ptime: section.ptime,
        telephone_event: event.map(|e| TelephoneEvent {
            payload_type: e.payload_type,
            clock_rate: e.clock_rate,
        }),
        remote_rtp: remote.rtp,
        remote_direction: remote.direction,
        local_direction: section.direction,
        remote_on_hold: remote.on_hold,
        rtcp_mux: section.rtcp_mux,
        srtp: None,
    }
}

/// The voice format to answer with: by our preference order unless the policy defers to the
/// offerer's. A format counts only with the codec's own clock rate.
fn choose_voice<'a>(formats: &'a [RtpFormat], policy: &AnswerPolicy) -> Option<&'a RtpFormat> {
    let acceptable = |format: &&RtpFormat| {
        format.codec != Codec::TelephoneEvent
            && format.has_valid_clock_rate()
            && policy.codecs.contains(&format.codec)
    };
    if policy.prefer_offer_order {
        return formats.iter().find(acceptable);
    }
    policy.codecs.iter().find_map(|codec| {
        formats
            .iter()
            .filter(acceptable)
            .find(|f| f.codec == *codec)
    })
}

/// The offered `a=ptime` (media level, else session level) when within the accepted range,
/// else the default; then lowered to an offered `a=maxptime` that is itself acceptable.
fn choose_ptime(
    offer: &SessionDescription,
    offered: &MediaDescription,
    policy: &AnswerPolicy,
) -> u32 {
    let session_ptime = || {
        offer.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    };
    let ptime = offered
        .ptime()
        .or_else(session_ptime)
        .filter(|ms| policy.accepted_ptime.contains(ms))
        .unwrap_or(policy.default_ptime);
    match offered.maxptime() {
        Some(max) if max < ptime && policy.accepted_ptime.contains(&max) => max,
        _ => ptime,
    }
}
