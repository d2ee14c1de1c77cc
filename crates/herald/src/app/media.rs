//! A call's media, as the call application sees it: the RTP port, the SDP session, the
//! negotiated stream and its SRTP keys, and the hand-over to a media worker.

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herald_media::codec::CodecKind;
use herald_media::jitter::{JitterConfig, JitterMode};
use herald_media::prompt::EncodedPrompt;
use herald_media::rtp::Ssrc;
use herald_media::srtp::{SdesKey, SrtpSession, SrtpSuite};
use herald_media::stream::{EventFormat, InbandMode, MediaStream, StreamConfig, StreamUpdate};
use herald_sdp::{
    AnswerPolicy, LocalCryptoKey, LocalMedia, NegotiatedAudio, SessionDescription, SessionVersion,
};
use rand::RngCore;

use crate::config::{InbandDtmf, MediaConfig};
use crate::media::worker::StreamKey;

/// Suites we key for `RTP/SAVP` offers, in our order of preference.
const SUITES: [SrtpSuite; 4] = [
    SrtpSuite::AeadAes256Gcm,
    SrtpSuite::AeadAes128Gcm,
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
];

/// Playout delay before the first frame of a call, before there is jitter to measure.
const INITIAL_JITTER_DELAY: Duration = Duration::from_millis(40);

/// Media settings shared by every call.
pub struct MediaSettings {
    pub policy: AnswerPolicy,
    pub jitter: JitterConfig,
    pub inband: InbandMode,
    pub media_timeout: Option<Duration>,
    pub cname: String,
    /// `media.srtp_over_plain_sip`.
    pub srtp_over_plain_sip: bool,
}

impl MediaSettings {
    pub fn new(config: &MediaConfig, policy: AnswerPolicy, host: &str) -> Self {
        Self {
            policy,
            jitter: JitterConfig {
                mode: JitterMode::Adaptive {
                    initial: INITIAL_JITTER_DELAY.clamp(config.jitter_min, config.jitter_max),
                    min: config.jitter_min,
                    max: config.jitter_max,
                },
                ..JitterConfig::default()
            },
            inband: match config.inband_dtmf {
                InbandDtmf::Auto => InbandMode::Auto,
                InbandDtmf::On => InbandMode::On,
                InbandDtmf::Off => InbandMode::Off,
            },
            media_timeout: config.media_timeout,
            cname: format!("herald@{host}"),
            srtp_over_plain_sip: config.srtp_over_plain_sip,
        }
    }
}

/// One call's media.
pub struct CallMedia {
    /// The bound RTP and RTCP sockets, until a worker takes them.
    pub socket: Option<UdpSocket>,
    pub rtcp_socket: Option<UdpSocket>,
    pub local: LocalMedia,
    pub version: SessionVersion,
    /// What the last offer/answer agreed.
    pub negotiated: Option<NegotiatedAudio>,
    /// The stream serving it, once opened.
    pub stream: Option<StreamKey>,
}

impl CallMedia {
    /// Media on an RTP/RTCP socket pair, advertised at `address`, with fresh SDES keys when SRTP is allowed.
    ///
    /// SDES keys travel in the SDP, so they are offered only when `keys_allowed` (the call's
    /// signalling is encrypted, or `media.srtp_over_plain_sip` says otherwise, RFC 4568 §8.3);
    /// without keys an `RTP/SAVP` offer is refused with 488.
    pub fn new(
        (socket, rtcp_socket): (UdpSocket, UdpSocket),
        address: IpAddr,
        session_id: u64,
        policy: &AnswerPolicy,
        keys_allowed: bool,
        rng: &mut impl RngCore,
    ) -> Self {
        Self::new_with_suites(
            (socket, rtcp_socket),
            address,
            session_id,
            policy,
            keys_allowed,
            &SUITES,
            rng,
        )
    }

    /// As [`Self::new`], keying only `suites` (a phone profile's), in that order.
    pub fn new_with_suites(
        (socket, rtcp_socket): (UdpSocket, UdpSocket),
        address: IpAddr,
        session_id: u64,
        policy: &AnswerPolicy,
        keys_allowed: bool,
        suites: &[SrtpSuite],
        rng: &mut impl RngCore,
    ) -> Self {
        let port = socket.local_addr().map_or(0, |a| a.port());
        let mut local = LocalMedia::new(address, port, session_id);
        if keys_allowed && policy.srtp != herald_sdp::SrtpPolicy::Disabled {
            local = local.with_srtp_keys(fresh_keys(suites, rng));
        }
        Self {
            socket: Some(socket),
            rtcp_socket: Some(rtcp_socket),
            local,
            version: SessionVersion::new(session_id, 1),
            negotiated: None,
            stream: None,
        }
    }

    /// Answers an SDP offer; the error is the SIP status to reject it with.
    pub fn answer(
        &mut self,
        offer: &[u8],
        policy: &AnswerPolicy,
    ) -> Result<SessionDescription, u16> {
        let offer = SessionDescription::parse(offer).map_err(|e| e.sip_status())?;
        let answer = herald_sdp::answer(&offer, &self.local, policy).map_err(|e| e.sip_status())?;
        self.negotiated = Some(answer.audio);
        Ok(self.version.stamp(answer.sdp))
    }

    /// Our offer (for an INVITE without SDP, or a re-INVITE without one).
    pub fn offer(&mut self, policy: &AnswerPolicy) -> SessionDescription {
        self.version.stamp(herald_sdp::offer(&self.local, policy))
    }

    /// The stream's parameters after a new offer/answer.
    pub fn update(&self) -> Option<StreamUpdate> {
        let audio = self.negotiated.as_ref()?;
        Some(StreamUpdate {
            remote: audio.remote_rtp,
            send: audio.local_direction.sends(),
            receive: audio.local_direction.receives(),
        })
    }
}

/// Why a stream could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    #[error("the negotiated codec {0:?} is not one Herald codes")]
    Codec(herald_sdp::Codec),
    #[error("SRTP keys: {0}")]
    Srtp(#[from] herald_media::srtp::SdesKeyError),
    #[error(transparent)]
    Stream(#[from] herald_media::stream::StreamSetupError),
}

/// Builds the stream for what offer/answer agreed.
pub fn build_stream(
    audio: &NegotiatedAudio,
    settings: &MediaSettings,
    silence: impl FnOnce(CodecKind, Duration) -> Option<Arc<EncodedPrompt>>,
    rng: &mut impl RngCore,
    now: Instant,
) -> Result<MediaStream, StreamSetupError> {
    let codec = CodecKind::from_sdp(&audio.codec)
        .ok_or_else(|| StreamSetupError::Codec(audio.codec.clone()))?;
    let ptime = Duration::from_millis(u64::from(audio.ptime));
    let silence = silence(codec, ptime).ok_or(StreamSetupError::Codec(audio.codec.clone()))?;
    let srtp = audio
        .srtp
        .as_ref()
        .map(SrtpSession::from_negotiated)
        .transpose()?;
    let config = StreamConfig {
        codec,
        payload_type: audio.payload_type,
        ptime,
        telephone_event: audio.telephone_event.as_ref().map(|te| EventFormat {
            payload_type: te.payload_type.get(),
            clock_rate: te.clock_rate,
        }),
        remote: audio.remote_rtp,
        rtcp_mux: audio.rtcp_mux,
        send: audio.local_direction.sends(),
        receive: audio.local_direction.receives(),
        ssrc: Ssrc::new(rng.next_u32()),
        initial_sequence: (rng.next_u32() & 0x7fff) as u16,
        initial_timestamp: rng.next_u32(),
        cname: settings.cname.clone(),
        srtp,
        jitter: settings.jitter.clone(),
        inband: settings.inband,
        silence,
        media_timeout: settings.media_timeout,
        rtcp_seed: rng.next_u64(),
        wall_clock_at_start: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    };
    Ok(MediaStream::new(config, now)?)
}

/// One fresh SDES key per suite we support, from the caller's CSPRNG.
fn fresh_keys(suites: &[SrtpSuite], rng: &mut impl RngCore) -> Vec<LocalCryptoKey> {
    suites
        .iter()
        .filter_map(|&suite| {
            let mut material = zeroize::Zeroizing::new(vec![0u8; suite.key_material_len()]);
            rng.fill_bytes(&mut material);
            SdesKey::new(suite, &material).ok().map(|k| k.to_sdp())
        })
        .collect()
}
