//! The call application: placeholder routing (until dialplans), real RTP ports, SDP
//! offer/answer, a media stream per answered call that plays the greeting prompt and collects
//! digits, and the call record.

mod media;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_media::codec::CodecKind;
use herald_media::dtmf::{DtmfSource, parse_info};
use herald_media::stream::StreamEvent;
use herald_sdp::AnswerPolicy;
use herald_sip::endpoint::{CallInfo, CallRef, Endpoint, Event, FinalStatus, Transport};
use herald_store::{CallWrite, NewCall};
use rand::{RngCore, SeedableRng};

use crate::config::{Codec, Config, SrtpPolicy};
use crate::media::MediaEngine;
use crate::media::ports::PortAllocator;
use crate::media::prompts::PromptLibrary;
use crate::media::worker::{CloseReason, Command, Notice, StreamKey};
use crate::router::{Route, Router};
use crate::sip_io::Application;
use crate::store_writer::StoreWriter;
use media::{CallMedia, MediaSettings, build_stream};

type Ep = Endpoint<rand::rngs::StdRng>;

/// A live call: its record id and media.
struct LiveCall {
    id: String,
    media: Option<CallMedia>,
    on_hold: bool,
}

/// How long a call for an agent rings before it is answered 480.
const RING_TIMEOUT: Duration = Duration::from_secs(30);

/// The call application.
pub struct CallApp {
    router: Router,
    ports: PortAllocator,
    settings: MediaSettings,
    writer: StoreWriter,
    engine: MediaEngine,
    prompts: PromptLibrary,
    greeting: String,
    calls: HashMap<CallRef, LiveCall>,
    streams: HashMap<StreamKey, CallRef>,
    /// Streams of ended calls, until their worker reports them closed: the record id.
    closing: HashMap<StreamKey, String>,
    /// Ringing agent calls and when they give up (480).
    ringing: BTreeSet<(Instant, CallRef)>,
    rng: rand::rngs::StdRng,
}

impl CallApp {
    pub fn new(
        config: &Config,
        writer: StoreWriter,
        engine: MediaEngine,
        prompts: PromptLibrary,
    ) -> Self {
        let first = config.sip.listen.first();
        let wildcard = first.is_none_or(|l| l.addr.ip().is_unspecified())
            || config.sip.advertised_address.is_some();
        let bind_ip = match first {
            Some(l) if !wildcard => l.addr.ip(),
            _ => IpAddr::from([0, 0, 0, 0]),
        };
        let policy = AnswerPolicy {
            codecs: config.media.codecs.iter().map(|&c| sdp_codec(c)).collect(),
            default_ptime: config.media.ptime.as_millis() as u32,
            telephone_event: config.media.telephone_event,
            srtp: match config.media.srtp {
                SrtpPolicy::Off => herald_sdp::SrtpPolicy::Disabled,
                SrtpPolicy::Optional => herald_sdp::SrtpPolicy::Optional,
                SrtpPolicy::Required => herald_sdp::SrtpPolicy::Required,
            },
            ..AnswerPolicy::default()
        };
        Self {
            router: Router::new(
                &config.sip.domain,
                config.users.iter().map(|u| u.username.clone()),
            ),
            ports: PortAllocator::new(
                bind_ip,
                config.media.rtp_port_min,
                config.media.rtp_port_max,
            ),
            settings: MediaSettings::new(&config.media, policy, &config.sip.domain),
            writer,
            engine,
            prompts,
            greeting: config.media.greeting.clone(),
            calls: HashMap::new(),
            streams: HashMap::new(),
            closing: HashMap::new(),
            ringing: BTreeSet::new(),
            rng: rand::rngs::StdRng::from_os_rng(),
        }
    }

    /// Encodes the greeting for every configured codec at the configured ptime, so the first
    /// call does not wait for it; a missing greeting is logged once here.
    pub fn warm_prompts(&mut self, config: &Config) {
        for &codec in &config.media.codecs {
            let kind = media_codec(codec);
            if let Err(error) = self
                .prompts
                .encoded(&self.greeting, kind, config.media.ptime)
            {
                tracing::warn!(%error, "the greeting prompt cannot be played");
                return;
            }
        }
        tracing::info!(bytes = self.prompts.memory(), "prompt cache ready");
    }

    /// Closes every stream and waits for the media workers.
    pub fn shutdown(self) {
        self.engine.shutdown();
    }

    fn incoming(&mut self, ep: &mut Ep, now: Instant, call: CallRef, info: &CallInfo) {
        let id = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        let route = self.router.route(info);
        self.writer.call(CallWrite::Insert(Box::new(NewCall {
            id: id.clone(),
            sip_call_id: info.call_id.clone(),
            from_uri: info.from.clone(),
            to_uri: info.to.clone(),
            caller: info.caller_user.clone().unwrap_or_default(),
            callee: info.callee_user.clone().unwrap_or_default(),
            source: info.source,
            transport: info.transport.via_name().to_ascii_lowercase(),
            route: Router::route_name(route).to_owned(),
            started_at: ep.unix_ms(now),
            user_agent: info.user_agent.clone(),
        })));
        match route {
            Route::Ring => {
                ep.ring(now, call, None);
                self.ringing.insert((now + RING_TIMEOUT, call));
                self.pending_end(call, id);
            }
            Route::NotFound => {
                self.writer
                    .event(&id, ep.unix_ms(now), "no-route", serde_json::json!({}));
                ep.reject(now, call, FinalStatus::NOT_FOUND);
                self.pending_end(call, id);
            }
            Route::Answer => self.answer(ep, now, call, info, id),
        }
    }

    fn answer(&mut self, ep: &mut Ep, now: Instant, call: CallRef, info: &CallInfo, id: String) {
        let Some(sockets) = self.ports.allocate() else {
            tracing::warn!("RTP port range exhausted; rejecting call with 503");
            ep.reject(now, call, FinalStatus::SERVICE_UNAVAILABLE);
            return self.pending_end(call, id);
        };
        let session_id = self.rng.next_u64() >> 1;
        // SDP carries the address the call's signalling reached us on (per peer on a wildcard
        // listener), so media follows the same route.
        let secure = matches!(info.transport, Transport::Tls | Transport::Wss);
        let mut media = CallMedia::new(
            sockets,
            info.local.ip(),
            session_id,
            &self.settings.policy,
            secure || self.settings.srtp_over_plain_sip,
            &mut self.rng,
        );
        let sdp = match &info.offer {
            Some(offer) => media.answer(offer, &self.settings.policy),
            None => Ok(media.offer(&self.settings.policy)),
        };
        let sdp = match sdp {
            Ok(sdp) => sdp,
            Err(status) => {
                self.writer.event(
                    &id,
                    ep.unix_ms(now),
                    "sdp-rejected",
                    serde_json::json!({ "status": status }),
                );
                let status = FinalStatus::new(status).unwrap_or(FinalStatus::NOT_ACCEPTABLE_HERE);
                ep.reject(now, call, status);
                return self.pending_end(call, id);
            }
        };
        ep.answer(now, call, Bytes::from(sdp.to_string()));
        self.writer.call(CallWrite::Answered {
            id: id.clone(),
            at: ep.unix_ms(now),
        });
        let mut live = LiveCall {
            id,
            media: Some(media),
            on_hold: false,
        };
        self.start_media(ep, now, call, &mut live);
        self.calls.insert(call, live);
    }

    /// Hands the negotiated stream to a worker and starts the greeting.
    fn start_media(&mut self, ep: &Ep, now: Instant, call: CallRef, live: &mut LiveCall) {
        let Some(media) = live.media.as_mut() else {
            return;
        };
        // An INVITE without SDP gets our offer in the 200; its answer (in the ACK) is not
        // applied yet, so such a call has no stream.
        let (Some(audio), Some(socket)) = (media.negotiated.clone(), media.socket.take()) else {
            return;
        };
        let prompts = &mut self.prompts;
        let silence = |codec: CodecKind, ptime: Duration| prompts.silence(codec, ptime);
        let stream = match build_stream(&audio, &self.settings, silence, &mut self.rng, now) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot start the call's media");
                return;
            }
        };
        // With rtcp-mux the odd port is not needed: it is released.
        let rtcp = media.rtcp_socket.take().filter(|_| !audio.rtcp_mux);
        let key = self.engine.open(socket, rtcp, stream);
        media.stream = Some(key);
        self.streams.insert(key, call);
        let codec = CodecKind::from_sdp(&audio.codec);
        let ptime = Duration::from_millis(u64::from(audio.ptime));
        let prompt = codec.map(|c| self.prompts.encoded(&self.greeting, c, ptime));
        match prompt {
            Some(Ok(prompt)) => {
                self.engine.command(
                    key,
                    Command::Play {
                        key,
                        prompt,
                        barge_in: true,
                    },
                );
                let detail = serde_json::json!({ "prompt": self.greeting });
                self.writer
                    .event(&live.id, ep.unix_ms(now), "prompt-started", detail);
            }
            Some(Err(error)) => {
                // Not fatal: the call goes on without its prompt, and the record says why.
                tracing::warn!(%error, "the greeting prompt cannot be played");
                let detail = serde_json::json!({
                    "prompt": self.greeting,
                    "error": error.to_string(),
                });
                self.writer
                    .event(&live.id, ep.unix_ms(now), "prompt-error", detail);
            }
            None => {}
        }
    }

    /// Keeps the record id of a call without media until its CallEnded event arrives.
    fn pending_end(&mut self, call: CallRef, id: String) {
        self.calls.insert(
            call,
            LiveCall {
                id,
                media: None,
                on_hold: false,
            },
        );
    }

    fn reoffer(&mut self, ep: &mut Ep, now: Instant, call: CallRef, offer: Option<Bytes>) {
        let Some(live) = self.calls.get_mut(&call) else {
            return ep.reject_offer(now, call, FinalStatus::NOT_ACCEPTABLE_HERE);
        };
        let Some(media) = live.media.as_mut() else {
            return ep.reject_offer(now, call, FinalStatus::NOT_ACCEPTABLE_HERE);
        };
        let result = match &offer {
            Some(o) => media.answer(o, &self.settings.policy),
            None => Ok(media.offer(&self.settings.policy)),
        };
        match result {
            Ok(sdp) => {
                let held =
                    offer.is_some() && media.negotiated.as_ref().is_some_and(|a| a.remote_on_hold);
                if let (Some(key), Some(update)) = (media.stream, media.update()) {
                    let update = Box::new(update);
                    self.engine.command(key, Command::Update { key, update });
                }
                if held != live.on_hold {
                    live.on_hold = held;
                    let kind = if held { "hold" } else { "resume" };
                    self.writer
                        .event(&live.id, ep.unix_ms(now), kind, serde_json::json!({}));
                }
                ep.answer_offer(now, call, Bytes::from(sdp.to_string()));
            }
            Err(status) => ep.reject_offer(
                now,
                call,
                FinalStatus::new(status).unwrap_or(FinalStatus::NOT_ACCEPTABLE_HERE),
            ),
        }
    }

    fn ended(&mut self, ep: &Ep, now: Instant, call: CallRef, cause: &str, status: Option<u16>) {
        self.ringing.retain(|(_, c)| *c != call);
        let Some(live) = self.calls.remove(&call) else {
            return;
        };
        if let Some(key) = live.media.as_ref().and_then(|m| m.stream) {
            self.streams.remove(&key);
            self.engine.command(key, Command::Close { key });
            self.closing.insert(key, live.id.clone());
        }
        self.writer.call(CallWrite::Ended {
            id: live.id,
            at: ep.unix_ms(now),
            cause: cause.to_owned(),
            status,
        });
    }

    /// A SIP INFO: digits go to the call's stream, which de-duplicates them with RFC 4733 and
    /// in-band detection. The body is never logged or stored as such.
    fn info(&mut self, ep: &Ep, now: Instant, call: CallRef, content_type: &str, body: &[u8]) {
        let Some(live) = self.calls.get(&call) else {
            return;
        };
        let stream = live.media.as_ref().and_then(|m| m.stream);
        match (parse_info(content_type, body), stream) {
            (Ok(info), Some(key)) => self.engine.command(
                key,
                Command::SignalledDigit {
                    key,
                    digit: info.digit,
                },
            ),
            (Ok(_), None) => {}
            (Err(_), _) => {
                let detail = serde_json::json!({ "content_type": content_type });
                self.writer.event(&live.id, ep.unix_ms(now), "info", detail);
            }
        }
    }

    fn stream_event(&mut self, ep: &mut Ep, now: Instant, key: StreamKey, event: StreamEvent) {
        // A stream's last events (a digit pressed just before hanging up) can arrive after
        // the call ended: they still belong to its record.
        let live_call = self.streams.get(&key).copied();
        let id = match live_call.and_then(|call| self.calls.get(&call)) {
            Some(live) => live.id.clone(),
            None => match self.closing.get(&key) {
                Some(id) => id.clone(),
                None => return,
            },
        };
        let at = ep.unix_ms(now);
        match event {
            StreamEvent::Digit { digit, method } => {
                // Collected input belongs to the call record (DESIGN: `calls show`), never to
                // a log line.
                let detail = serde_json::json!({
                    "digit": digit.as_char().to_string(),
                    "method": method_name(method),
                });
                self.writer.event(&id, at, "dtmf", detail);
            }
            StreamEvent::PlaybackFinished { interrupted } => {
                let detail = serde_json::json!({ "interrupted": interrupted });
                self.writer.event(&id, at, "prompt-finished", detail);
            }
            StreamEvent::MediaTimeout => {
                self.writer
                    .event(&id, at, "media-timeout", serde_json::json!({}));
                if let Some(call) = live_call {
                    ep.hangup(now, call);
                }
            }
            StreamEvent::RemoteBye => {
                self.writer
                    .event(&id, at, "rtcp-bye", serde_json::json!({}));
            }
            StreamEvent::Latched { .. } | StreamEvent::SourceChanged { .. } => {
                // Addresses and SSRCs stay out of the log.
                tracing::debug!("a call's media source latched or changed");
            }
        }
    }

    fn stream_closed(&mut self, ep: &Ep, now: Instant, key: StreamKey, notice: Notice) {
        self.engine.closed(key);
        let Notice::Closed { stats, reason, .. } = notice else {
            return;
        };
        let id = match self.closing.remove(&key) {
            Some(id) => id,
            // Closed by its worker while the call goes on (socket failure, internal error).
            None => match self.streams.remove(&key).and_then(|c| self.calls.get(&c)) {
                Some(live) => live.id.clone(),
                None => return,
            },
        };
        let detail = serde_json::json!({
            "reason": match reason {
                CloseReason::Requested => "ended",
                CloseReason::InternalError => "internal-error",
                CloseReason::SocketError => "socket-error",
            },
            "packets_sent": stats.packets_sent,
            "packets_late": stats.packets_late,
            "packets_received": stats.packets_received,
            "packets_lost": stats.packets_lost,
            "jitter_us": stats.jitter_us,
            "concealed": stats.concealed,
            "recovered_fec": stats.recovered_fec,
            "malformed": stats.malformed,
            "foreign_packets": stats.foreign_packets,
            "rtcp_received": stats.rtcp_received,
            "srtp_failures": stats.srtp_failures,
            "digits": stats.digits,
        });
        self.writer.event(&id, ep.unix_ms(now), "media", detail);
    }
}

/// How a digit arrived, as the call record names it.
fn method_name(method: DtmfSource) -> &'static str {
    match method {
        DtmfSource::Rfc4733 => "rfc4733",
        DtmfSource::SipInfo => "sip-info",
        DtmfSource::Inband => "inband",
    }
}

fn sdp_codec(codec: Codec) -> herald_sdp::Codec {
    match codec {
        Codec::Pcmu => herald_sdp::Codec::Pcmu,
        Codec::Pcma => herald_sdp::Codec::Pcma,
        Codec::G722 => herald_sdp::Codec::G722,
        Codec::Opus => herald_sdp::Codec::Opus,
    }
}

fn media_codec(codec: Codec) -> CodecKind {
    match codec {
        Codec::Pcmu => CodecKind::Pcmu,
        Codec::Pcma => CodecKind::Pcma,
        Codec::G722 => CodecKind::G722,
        Codec::Opus => CodecKind::Opus,
    }
}

impl Application for CallApp {
    type Notice = Notice;

    fn on_event(&mut self, ep: &mut Ep, now: Instant, event: Event) {
        match event {
            Event::IncomingCall { call, info } => self.incoming(ep, now, call, &info),
            Event::CallConfirmed { call } => {
                if let Some(live) = self.calls.get(&call) {
                    let at = ep.unix_ms(now);
                    self.writer
                        .event(&live.id, at, "confirmed", serde_json::json!({}));
                }
            }
            Event::CallEnded {
                call,
                cause,
                status,
            } => self.ended(ep, now, call, cause.as_str(), status),
            Event::Offer { call, offer } => self.reoffer(ep, now, call, offer),
            Event::Info {
                call,
                content_type,
                body,
            } => self.info(ep, now, call, &content_type, &body),
            Event::Registration {
                aor,
                bindings,
                source,
                user_agent,
            } => {
                let stored = bindings
                    .into_iter()
                    .map(|b| herald_store::Binding {
                        aor: aor.clone(),
                        contact_uri: b.contact,
                        expires_at: b.expires_at as i64 * 1000,
                        transport: b.transport.unwrap_or_else(|| "udp".into()),
                        source: b.source.unwrap_or(source),
                        user_agent: b.user_agent.or_else(|| user_agent.clone()),
                        call_id: b.call_id,
                        cseq: b.cseq,
                        q_milli: b.q_milli,
                        instance_id: None,
                        reg_id: None,
                    })
                    .collect();
                self.writer.bindings(aor, stored);
            }
            Event::Malformed { source: _, reason } => {
                tracing::debug!(reason, "rejected or dropped a malformed SIP message");
            }
        }
    }

    fn on_notice(&mut self, ep: &mut Ep, now: Instant, notice: Notice) {
        match notice {
            Notice::Event { key, event } => self.stream_event(ep, now, key, event),
            Notice::Closed { key, .. } => self.stream_closed(ep, now, key, notice),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ringing.first().map(|(at, _)| *at)
    }

    fn handle_timeout(&mut self, ep: &mut Ep, now: Instant) {
        while let Some(&(at, call)) = self.ringing.first() {
            if at > now {
                break;
            }
            self.ringing.pop_first();
            ep.reject(now, call, FinalStatus::TEMPORARILY_UNAVAILABLE);
        }
    }
}
