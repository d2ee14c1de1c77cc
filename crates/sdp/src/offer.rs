//! The UAC side of RFC 3264: making an offer (§5) and reading the answer (§7).

use crate::codec::{Codec, PayloadType, RtpFormat};
use crate::error::{NotAcceptableReason, OfferAnswerError};
use crate::model::{MediaDescription, SessionDescription, Timing};
use crate::negotiation::{
    AnswerPolicy, AudioSection, LocalMedia, NegotiatedAudio, RemoteEndpoint, TelephoneEvent,
    local_description, pick_telephone_event,
};
use crate::sdes::{
    NegotiatedSrtp, Profile, RTP_AVP, RTP_SAVP, SrtpPolicy, accept_crypto, offer_crypto,
};

/// Dynamic payload types we offer: the numbers browsers and most phones use.
const OPUS_PT: u8 = 111;
const TELEPHONE_EVENT_8000_PT: u8 = 101;
const TELEPHONE_EVENT_48000_PT: u8 = 110;

/// Builds our offer (RFC 3264 §5) for an outbound leg: one `RTP/AVP` audio section with the
/// policy's codecs in order, `telephone-event` at 8000 (and at 48000 when Opus is offered) if the
/// policy wants it, `a=ptime` from `policy.default_ptime` and the direction of `local`.
///
/// With [`SrtpPolicy::Required`] the section is `RTP/SAVP` with one `a=crypto` per key in
/// [`LocalMedia::srtp_keys`], tagged 1, 2, ... in that order (RFC 4568). Supply at least one
/// key then: an `RTP/SAVP` offer without `a=crypto` is one no peer can accept.
///
/// Codecs without a fixed clock rate ([`Codec::Other`]) cannot be offered and are skipped; a
/// policy with no offerable codec offers PCMU, the one codec every SIP device supports.
pub fn offer(local: &LocalMedia, policy: &AnswerPolicy) -> SessionDescription {
    let mut voice: Vec<RtpFormat> = Vec::new();
    for format in policy.codecs.iter().filter_map(offer_format) {
        if !voice.iter().any(|f| f.codec == format.codec) {
            voice.push(format);
        }
    }
    if voice.is_empty() {
        voice.extend(offer_format(&Codec::Pcmu));
    }
    let events = if policy.telephone_event {
        offered_events(&voice)
    } else {
        Vec::new()
    };
    let secure = policy.srtp == SrtpPolicy::Required;
    let section = AudioSection {
        proto: if secure { RTP_SAVP } else { RTP_AVP },
        voice: &voice,
        events: &events,
        ptime: policy.default_ptime,
        direction: local.direction,
        rtcp_mux: policy.rtcp_mux,
        crypto: if secure {
            offer_crypto(&local.srtp_keys)
        } else {
            Vec::new()
        },
    };
    local_description(
        local,
        vec![Timing::default()],
        vec![section.build(local.rtp_port)],
    )
}

fn offer_format(codec: &Codec) -> Option<RtpFormat> {
    let clock_rate = codec.rtp_clock_rate()?;
    let payload_type = match codec.static_payload_type() {
        Some(pt) => pt,
        None => PayloadType::new(OPUS_PT)?,
    };
    let channels = codec.rtpmap_channels().unwrap_or(1);
    Some(RtpFormat {
        payload_type,
        codec: codec.clone(),
        clock_rate,
        channels,
    })
}

fn offered_events(voice: &[RtpFormat]) -> Vec<RtpFormat> {
    let event = |pt, clock_rate| {
        let payload_type = PayloadType::new(pt)?;
        Some(RtpFormat {
            payload_type,
            codec: Codec::TelephoneEvent,
            clock_rate,
            channels: 1,
        })
    };
    let mut events = Vec::new();
    if voice.iter().any(|f| f.clock_rate == 8000) {
        events.extend(event(TELEPHONE_EVENT_8000_PT, 8000));
    }
    if voice.iter().any(|f| f.clock_rate == 48000) {
        events.extend(event(TELEPHONE_EVENT_48000_PT, 48000));
    }
    events
}

/// Reads the answer to our offer (RFC 3264 §7).
///
/// The answer must have one section per offered one; the first audio section that both sides
/// left enabled is the stream. Every payload type it lists must be one we offered, with the same
/// meaning; its first voice format is the codec to send. For an `RTP/SAVP` offer the answer
/// must keep `RTP/SAVP` and carry exactly one `a=crypto` with the tag and suite of one of ours
/// and a key we can use; [`NegotiatedAudio::srtp`] then holds both keys.
///
/// # Errors
///
/// [`OfferAnswerError::MediaCountMismatch`] and [`OfferAnswerError::UnofferedFormat`] when the
/// answer breaks RFC 3264; [`OfferAnswerError::NotAcceptable`] when it rejected our audio (port
/// 0), changed the proto, kept only `telephone-event`, or chose no usable crypto;
/// [`OfferAnswerError::MissingConnection`] without `c=`.
pub fn accept_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedAudio, OfferAnswerError> {
    let (offered, answered) = (offer.media.len(), answer.media.len());
    if offered != answered {
        return Err(OfferAnswerError::MediaCountMismatch { offered, answered });
    }
    let index = (0..offered)
        .find(|&i| offer.media[i].is_active_audio() && answer.media[i].is_active_audio())
        .ok_or(OfferAnswerError::NotAcceptable(
            NotAcceptableReason::NoAudioStream,
        ))?;
    let (ours, theirs) = (&offer.media[index], &answer.media[index]);
    if !theirs.proto.eq_ignore_ascii_case(&ours.proto) {
        let reason = NotAcceptableReason::UnsupportedProto(theirs.proto.clone());
        return Err(OfferAnswerError::NotAcceptable(reason));
    }
    let srtp = answered_srtp(ours, theirs)?;
    let formats = answered_formats(ours, theirs)?;
    let voice = formats
        .iter()
        .find(|f| f.codec != Codec::TelephoneEvent)
        .ok_or(OfferAnswerError::NotAcceptable(
            NotAcceptableReason::NoCommonCodec,
        ))?;
    let remote = RemoteEndpoint::read(answer, index, None)?;
    let event = pick_telephone_event(&formats, voice.clock_rate);
    Ok(NegotiatedAudio {
        media_index: index,
        payload_type: voice.payload_type,
        codec: voice.codec.clone(),
        clock_rate: voice.clock_rate,
        channels: voice.channels,
        ptime: theirs
            .ptime()
            .or(ours.ptime())
            .unwrap_or(AnswerPolicy::default().default_ptime),
        telephone_event: event.map(|e| TelephoneEvent {
            payload_type: e.payload_type,
            clock_rate: e.clock_rate,
        }),
        remote_rtp: remote.rtp,
        remote_direction: remote.direction,
        local_direction: offer
            .media_direction(ours)
            .intersect(remote.effective_direction.reversed()),
        remote_on_hold: remote.on_hold,
        rtcp_mux: ours.rtcp_mux() && theirs.rtcp_mux(),
        srtp,
    })
}

/// The keys an answer to our `RTP/SAVP` section chose; `None` for `RTP/AVP`.
fn answered_srtp(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Result<Option<NegotiatedSrtp>, OfferAnswerError> {
    if Profile::of(&ours.proto) != Profile::Secure {
        return Ok(None);
    }
    accept_crypto(ours, theirs)
        .map(Some)
        .ok_or(OfferAnswerError::NotAcceptable(
            NotAcceptableReason::NoAcceptableCrypto,
        ))
}

/// The answered payload types, each checked against what we offered, in the answer's order.
/// An answered rtpmap must give the payload type the codec and clock rate we offered it with.
fn answered_formats(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Result<Vec<RtpFormat>, OfferAnswerError> {
    let offered = ours.rtp_formats();
    let answered = theirs.rtp_formats();
    let check = |pt: PayloadType| {
        let mine = offered.iter().find(|f| f.payload_type == pt)?;
        let same = |f: &RtpFormat| f.codec == mine.codec && f.clock_rate == mine.clock_rate;
        let theirs = answered.iter().find(|f| f.payload_type == pt);
        theirs.is_none_or(same).then(|| mine.clone())
    };
    theirs
        .payload_types()
        .map(|pt| check(pt).ok_or(OfferAnswerError::UnofferedFormat(pt)))
        .collect()
}
