//! The call application: routing by dialplan, real RTP ports, SDP offer/answer, a media
//! stream and a VoiceXML session per answered call, and the call record.

mod agents;
mod bridge;
pub mod control;
mod destination;
mod ivr;
mod media;
mod phones;
mod recording;
mod trunks;

pub use trunks::LocalAddress;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_dialplan::{Action, Answer, Application as AppSource, CallFacts, Dialplan, Language};
use herald_ivr::{Interpreter, Key, SessionConfig};
use herald_media::codec::CodecKind;
use herald_media::dtmf::{DtmfSource, parse_info};
use herald_media::stream::StreamEvent;
use herald_sdp::AnswerPolicy;
use herald_sip::endpoint::{CallInfo, CallRef, EndCause, Endpoint, Event, FinalStatus, Transport};
use herald_store::{CallWrite, NewCall};
use rand::{RngCore, SeedableRng};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{Codec, Config, SrtpPolicy};
use crate::ivr::fetch::{Fetcher, document_uri};
use crate::media::MediaEngine;
use crate::media::ports::PortAllocator;
use crate::media::prompts::PromptLibrary;
use crate::media::worker::{CloseReason, Command, Notice, StreamKey};
use crate::recorder::Recorder;
use crate::router::{Route, Router};
use crate::sip_io::Application;
use crate::store_writer::StoreWriter;
use ivr::IvrCall;
use media::{CallMedia, MediaSettings, build_stream};

type Ep = Endpoint<rand::rngs::StdRng>;

/// What reaches the call application besides SIP: media workers' notices and fetch results.
#[derive(Debug)]
pub enum AppNotice {
    Media(Notice),
    Fetched {
        call: CallRef,
        id: herald_ivr::FetchId,
        result: Result<herald_ivr::Fetched, herald_ivr::FetchError>,
    },
    /// A request from the HTTP API about live calls.
    Control(control::ControlRequest),
}

/// A live call: its record id, media and IVR session.
struct LiveCall {
    id: String,
    /// Who, whom, which route, since when: what the API lists.
    summary: control::CallSummary,
    media: Option<CallMedia>,
    on_hold: bool,
    ivr: Option<IvrCall>,
    /// Signalling is over; the session still finishes what it does after a hang-up.
    ended: bool,
    /// Who called, as far as the call's source vouches for it.
    identity: trunks::CallerIdentity,
    /// A transfer being rung, or bridged.
    transfer: Option<bridge::Transfer>,
    /// The outbound leg the caller is bridged to.
    bridged: Option<CallRef>,
    /// The caller's stream plays ringback, or hold music (both loop).
    hearing_ringback: bool,
    hearing_hold_music: bool,
    /// The agent's BYE ended the bridge (the call record's end cause says so).
    ended_by_agent: bool,
    /// Prompts the bridge handed to the caller's stream (ringback, hold music) whose
    /// `PlaybackFinished` has not come back: those events are not the IVR's.
    bridge_audio: u32,
    /// Ringback waits for the IVR's prompts (the transfer's "connecting") to finish.
    ringback_wanted: bool,
    /// The agent answered while the IVR's prompts still played: the media is connected
    /// once they have (the caller hears every prompt queued before the transfer, the
    /// disclosure's included).
    connect_when_quiet: bool,
}

impl LiveCall {
    fn new(
        id: String,
        summary: control::CallSummary,
        identity: trunks::CallerIdentity,
        media: Option<CallMedia>,
        ivr: Option<IvrCall>,
    ) -> Self {
        Self {
            id,
            summary,
            media,
            on_hold: false,
            ivr,
            ended: false,
            identity,
            transfer: None,
            bridged: None,
            hearing_ringback: false,
            hearing_hold_music: false,
            ended_by_agent: false,
            bridge_audio: 0,
            ringback_wanted: false,
            connect_when_quiet: false,
        }
    }
}

/// The settings every IVR session starts with.
#[derive(Clone, Debug)]
pub struct IvrSettings {
    pub session: SessionConfig,
}

/// How long a session may go on after its call ended (catch handlers, a final submit).
const LINGER: Duration = Duration::from_secs(30);

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
    dialplan: Dialplan,
    fetcher: std::sync::Arc<Fetcher>,
    notify: UnboundedSender<AppNotice>,
    ivr_settings: IvrSettings,
    /// IVR input deadlines.
    ivr_timers: BTreeSet<(Instant, CallRef)>,
    /// Ended calls whose sessions still work (a catch handler submitting a report), and
    /// when they are cut off.
    lingering: BTreeSet<(Instant, CallRef)>,
    calls: HashMap<CallRef, LiveCall>,
    streams: HashMap<StreamKey, CallRef>,
    /// Streams of ended calls, until their worker reports them closed: the record id.
    closing: HashMap<StreamKey, String>,
    /// Ringing agent calls and when they give up (480).
    ringing: BTreeSet<(Instant, CallRef)>,
    rng: rand::rngs::StdRng,
    /// Records calls; `None`: recording is off (`recorder.enabled = false`).
    recorder: Option<Recorder>,
    /// The retention class of routes that name none.
    default_retention: String,
    /// Indexes each call's caller (number, display name) for data-subject requests.
    subjects: Option<std::sync::Arc<crate::compliance::subjects::SubjectKey>>,
    /// Agents and who is free.
    board: agents::AgentBoard,
    /// Outbound legs (to agents, users and trunks), each tied to a caller.
    legs: HashMap<CallRef, bridge::Leg>,
    /// Streams of outbound legs.
    leg_streams: HashMap<StreamKey, CallRef>,
    /// Ring timeouts (legs), connect timeouts (callers) and bridge time limits (legs).
    bridge_timers: BTreeSet<(Instant, CallRef)>,
    /// What transfer destinations resolve against.
    directory: trunks::DirectoryConfig,
    /// Where each trunk's requests go (by index in the configuration), once resolved.
    trunk_targets: Vec<Option<herald_sip::endpoint::Target>>,
    /// Our SIP listeners, for the Via and Contact of outbound requests.
    local_addresses: Vec<trunks::LocalAddress>,
    /// Registrations with trunks, by trunk name.
    upstream: HashMap<herald_sip::endpoint::UpstreamRef, String>,
}

impl CallApp {
    #[allow(
        clippy::too_many_arguments,
        reason = "the application's collaborators, once"
    )]
    pub fn new(
        config: &Config,
        writer: StoreWriter,
        engine: MediaEngine,
        prompts: PromptLibrary,
        dialplan: Dialplan,
        fetcher: std::sync::Arc<Fetcher>,
        notify: UnboundedSender<AppNotice>,
        ivr_settings: IvrSettings,
        recorder: Option<Recorder>,
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
            dialplan,
            fetcher,
            notify,
            ivr_settings,
            ivr_timers: BTreeSet::new(),
            lingering: BTreeSet::new(),
            calls: HashMap::new(),
            streams: HashMap::new(),
            closing: HashMap::new(),
            ringing: BTreeSet::new(),
            rng: rand::rngs::StdRng::from_os_rng(),
            recorder,
            default_retention: config.recorder.default_retention.clone(),
            subjects: None,
            board: agents::AgentBoard::new(&config.agent_groups),
            legs: HashMap::new(),
            leg_streams: HashMap::new(),
            bridge_timers: BTreeSet::new(),
            directory: trunks::DirectoryConfig::new(config),
            trunk_targets: Vec::new(),
            local_addresses: Vec::new(),
            upstream: HashMap::new(),
        }
    }

    /// Index every call's caller under this key from now on.
    pub fn index_subjects(&mut self, key: std::sync::Arc<crate::compliance::subjects::SubjectKey>) {
        self.subjects = Some(key);
    }

    /// Links the caller's number and display name to the call in the subject index.
    fn index_caller(&self, id: &str, number: &str, info: &CallInfo, at: i64) {
        use crate::compliance::subjects::{Identifier, display_name};
        use herald_store::SubjectKind;
        let Some(key) = &self.subjects else { return };
        let name = display_name(&info.from);
        let identifiers = [
            Identifier::new(SubjectKind::Phone, number).ok(),
            name.and_then(|n| Identifier::new(SubjectKind::Name, &n).ok()),
        ];
        for identifier in identifiers.into_iter().flatten() {
            self.writer
                .subject(identifier.kind, key.hash(&identifier), id, at);
        }
    }

    /// Encodes the prompts the dialplans' documents name (`prompt:NAME`) for every language
    /// and configured codec, so the first calls do not wait for them.
    pub fn warm_prompts(&mut self, config: &Config, names: &[(String, Option<String>)]) {
        let mut missing = 0;
        for &codec in &config.media.codecs {
            for (name, language) in names {
                let kind = media_codec(codec);
                let encoded = self.prompts.encoded_localized(
                    name,
                    language.as_deref(),
                    kind,
                    config.media.ptime,
                );
                if let Err(error) = encoded {
                    if missing == 0 {
                        tracing::warn!(%error, "a prompt cannot be played");
                    }
                    missing += 1;
                }
            }
        }
        if missing > 0 {
            tracing::warn!(
                missing,
                "some prompts cannot be played; `herald check` names them"
            );
        }
        tracing::info!(bytes = self.prompts.memory(), "prompt cache ready");
    }

    /// Closes every stream and waits for the media workers.
    pub fn shutdown(self) {
        self.engine.shutdown();
    }

    fn incoming(&mut self, ep: &mut Ep, now: Instant, call: CallRef, info: &CallInfo) {
        let id = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        let at = ep.unix_ms(now);
        let trunk = match self.admit(ep, now, info) {
            trunks::Admission::Refused => {
                // Neither a trunk nor a registered phone: no dialplan work, no record.
                crate::metrics::error("call-refused-source");
                tracing::debug!("refused a call from an address no trunk or phone has");
                return ep.reject(
                    now,
                    call,
                    FinalStatus::new(403).unwrap_or(FinalStatus::DECLINE),
                );
            }
            trunks::Admission::Trunk(index) => Some(index),
            trunks::Admission::Direct => None,
        };
        let identity = self.caller_identity(info, trunk);
        let called = self.called_number(info, trunk);
        let trunk_name = trunk
            .and_then(|t| self.directory.trunks.get(t))
            .map(|t| t.name.clone());
        // Calls for other domains have no route here.
        let placeholder = self.router.route(info);
        let facts = CallFacts {
            called: &called,
            caller: &identity.number,
            trunk: trunk_name.as_deref(),
            at: jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        };
        let route = match placeholder {
            Route::Answer => self.dialplan.route(&facts).cloned(),
            _ => None,
        };
        let route_name = match (&placeholder, &route) {
            (Route::Answer, Some(route)) => route.name.clone(),
            (Route::Answer, None) => "none".to_owned(),
            (other, _) => Router::route_name(*other).to_owned(),
        };
        let summary = control::CallSummary {
            caller: identity.number.clone(),
            callee: called.clone(),
            route: route_name.clone(),
            started_at: at,
            answered_at: None,
        };
        self.writer.call(CallWrite::Insert(Box::new(NewCall {
            id: id.clone(),
            sip_call_id: info.call_id.clone(),
            from_uri: info.from.clone(),
            to_uri: info.to.clone(),
            caller: identity.number.clone(),
            callee: called.clone(),
            source: info.source,
            transport: info.transport.via_name().to_ascii_lowercase(),
            route: route_name,
            started_at: at,
            user_agent: info.user_agent.clone(),
        })));
        self.index_caller(&id, &identity.number, info, at);
        crate::metrics::call_started();
        if placeholder == Route::Ring {
            // A call addressed to a user's name is not dialled through to their phone: only a
            // dialplan's transfer places outbound legs (no caller can make Herald ring, or
            // pay for, anything by what it writes in a Request-URI).
            ep.ring(now, call, None);
            self.ringing.insert((now + RING_TIMEOUT, call));
            return self.pending_end(call, id, summary, identity);
        }
        let answer = match route.map(|r| r.action) {
            Some(Action::Answer(answer)) => answer,
            Some(Action::Reject(status)) => {
                let detail = serde_json::json!({ "status": status.code() });
                self.writer.event(&id, at, "rejected-by-dialplan", detail);
                let status = FinalStatus::new(status.code()).unwrap_or(FinalStatus::NOT_FOUND);
                ep.reject(now, call, status);
                return self.pending_end(call, id, summary, identity);
            }
            None => {
                self.writer
                    .event(&id, at, "no-route", serde_json::json!({}));
                ep.reject(now, call, FinalStatus::NOT_FOUND);
                return self.pending_end(call, id, summary, identity);
            }
        };
        let session = match self.session_for(&answer, info, &id, &summary) {
            Ok(session) => session,
            Err(error) => {
                tracing::warn!(%error, "the route's application cannot start");
                let detail = serde_json::json!({ "error": error.to_string() });
                self.writer
                    .event(&id, at, "application-unavailable", detail);
                ep.reject(now, call, FinalStatus::SERVICE_UNAVAILABLE);
                return self.pending_end(call, id, summary, identity);
            }
        };
        self.answer(ep, now, call, info, (id, summary, identity), session);
    }

    /// The IVR session a route starts for a call.
    fn session_for(
        &self,
        answer: &Answer,
        info: &CallInfo,
        id: &str,
        summary: &control::CallSummary,
    ) -> anyhow::Result<IvrCall> {
        let uri = match &answer.application {
            AppSource::File(path) => document_uri(&path.display().to_string())?,
            AppSource::Url(url) => url.clone(),
        };
        let mut config = self.ivr_settings.session.clone();
        config.language = match &answer.language {
            Language::Tag(tag) => Some(tag.as_str().to_owned()),
            Language::Menu => None,
        };
        let languages: Vec<&str> = answer.languages.iter().map(|l| l.as_str()).collect();
        let retention = answer
            .retention
            .clone()
            .unwrap_or_else(|| self.default_retention.clone());
        let policy = match answer.recording {
            herald_dialplan::RecordingPolicy::Ask => "ask",
            herald_dialplan::RecordingPolicy::Always => "always",
            herald_dialplan::RecordingPolicy::Never => "never",
        };
        let mut session = vec![
            ("connection.local.uri".to_owned(), info.to.clone()),
            ("connection.remote.uri".to_owned(), info.from.clone()),
            ("herald.call_id".to_owned(), id.to_owned()),
            // The number dialled, in E.164 when it came from a trunk that knows its numbering.
            ("herald.called".to_owned(), summary.callee.clone()),
            ("herald.languages".to_owned(), languages.join(" ")),
            ("herald.recording".to_owned(), policy.to_owned()),
            ("herald.retention".to_owned(), retention.clone()),
        ];
        if let Some(group) = &answer.agent_group {
            session.push(("herald.agent_group".to_owned(), group.clone()));
        }
        for (name, value) in &answer.variables {
            session.push((format!("herald.variables.{name}"), value.clone()));
        }
        config.session = session;
        let interpreter = Interpreter::new(config, &uri)
            .map_err(|e| anyhow::anyhow!("the session's script engine: {e}"))?;
        let facts = ivr::RecordingFacts {
            caller: summary.caller.clone(),
            callee: summary.callee.clone(),
            retention: Some(retention),
        };
        Ok(IvrCall::new(interpreter, answer.recording, facts))
    }

    fn answer(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        info: &CallInfo,
        (id, mut summary, identity): (String, control::CallSummary, trunks::CallerIdentity),
        session: IvrCall,
    ) {
        let Some(sockets) = self.ports.allocate() else {
            tracing::warn!("RTP port range exhausted; rejecting call with 503");
            ep.reject(now, call, FinalStatus::SERVICE_UNAVAILABLE);
            return self.pending_end(call, id, summary, identity);
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
                return self.pending_end(call, id, summary, identity);
            }
        };
        ep.answer(now, call, Bytes::from(sdp.to_string()));
        summary.answered_at = Some(ep.unix_ms(now));
        self.writer.call(CallWrite::Answered {
            id: id.clone(),
            at: ep.unix_ms(now),
        });
        let mut live = LiveCall::new(id, summary, identity, Some(media), Some(session));
        self.start_media(now, call, &mut live);
        self.calls.insert(call, live);
        self.pump_ivr(ep, now, call);
    }

    /// Hands the negotiated stream to a worker; the call's IVR session plays on it.
    fn start_media(&mut self, now: Instant, call: CallRef, live: &mut LiveCall) {
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
        if let Some(ivr) = live.ivr.as_mut() {
            ivr.media = codec.map(|c| (c, ptime));
        }
    }

    /// Keeps the record id of a call without media until its CallEnded event arrives.
    fn pending_end(
        &mut self,
        call: CallRef,
        id: String,
        summary: control::CallSummary,
        identity: trunks::CallerIdentity,
    ) {
        self.calls
            .insert(call, LiveCall::new(id, summary, identity, None, None));
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
                let changed = held != live.on_hold;
                if changed {
                    live.on_hold = held;
                    let kind = if held { "hold" } else { "resume" };
                    let detail = serde_json::json!({ "by": "caller" });
                    self.writer.event(&live.id, ep.unix_ms(now), kind, detail);
                }
                ep.answer_offer(now, call, Bytes::from(sdp.to_string()));
                if changed {
                    self.caller_hold_changed(call, held);
                }
            }
            Err(status) => ep.reject_offer(
                now,
                call,
                FinalStatus::new(status).unwrap_or(FinalStatus::NOT_ACCEPTABLE_HERE),
            ),
        }
    }

    fn ended(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        cause: &str,
        status: Option<u16>,
    ) {
        self.ringing.retain(|(_, c)| *c != call);
        self.caller_gone(ep, now, call);
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        if live.ended {
            return;
        }
        live.ended = true;
        // The agent hung up and Herald ended the caller's call after the document finished:
        // the record says the agent ended it.
        let cause = if live.ended_by_agent && cause == EndCause::LocalHangup.as_str() {
            "agent-bye"
        } else {
            cause
        };
        crate::metrics::call_ended(cause);
        let id = live.id.clone();
        let stream = live.media.as_ref().and_then(|m| m.stream);
        if let Some(key) = stream {
            // The stream stays mapped to the call until its worker reports it closed: keys
            // pressed (or sent by INFO) before the hang-up still reach the session first.
            self.engine.command(key, Command::Close { key });
            self.closing.insert(key, id.clone());
        }
        if let Some(ivr) = live.ivr.as_mut() {
            // The media is going: nothing more plays.
            ivr.media_lost();
        }
        self.record_dropped_evidence(ep, now, call);
        self.writer.call(CallWrite::Ended {
            id,
            at: ep.unix_ms(now),
            cause: cause.to_owned(),
            status,
        });
        if stream.is_none() {
            self.ivr_hangup(ep, now, call);
        }
    }

    /// Tells an ended call's session that the caller is gone.
    fn ivr_hangup(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        if let Some(ivr) = self.calls.get_mut(&call).and_then(|l| l.ivr.as_mut()) {
            ivr.interpreter().handle_hangup(now);
            self.pump_ivr(ep, now, call);
        }
        self.forget_if_done(call);
        if self.calls.contains_key(&call) {
            // What a document does after the caller left is bounded in time.
            self.lingering.insert((now + LINGER, call));
        }
    }

    /// Ends the sessions of ended calls that outstayed [`LINGER`].
    fn cut_off_lingering(&mut self, ep: &Ep, now: Instant) {
        while let Some(&(at, call)) = self.lingering.first() {
            if at > now {
                break;
            }
            self.lingering.pop_first();
            if let Some(live) = self.calls.remove(&call) {
                self.ivr_timers.retain(|(_, c)| *c != call);
                let detail = serde_json::json!({
                    "outcome": "abandoned",
                    "message": format!("still running {} s after the hang-up", LINGER.as_secs()),
                });
                self.writer
                    .event(&live.id, ep.unix_ms(now), "ivr-exit", detail);
            }
        }
    }

    /// Drops an ended call once its session (if any) has finished.
    fn forget_if_done(&mut self, call: CallRef) {
        let done = self
            .calls
            .get(&call)
            .is_some_and(|l| l.ended && l.ivr.as_ref().is_none_or(IvrCall::is_finished));
        if done {
            self.calls.remove(&call);
            self.ivr_timers.retain(|(_, c)| *c != call);
            self.lingering.retain(|(_, c)| *c != call);
        }
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
        if let Some(leg) = self.leg_streams.get(&key).copied() {
            return self.leg_stream_event(ep, now, leg, event);
        }
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
                // How each key arrived goes to the call record (phones differ), never its
                // value: the IVR path says what the input meant, secure input not even that.
                let secure = live_call
                    .and_then(|c| self.calls.get(&c))
                    .and_then(|l| l.ivr.as_ref())
                    .is_some_and(IvrCall::secure);
                crate::metrics::dtmf(method_name(method));
                if !secure {
                    let detail = serde_json::json!({ "method": method_name(method) });
                    self.writer.event(&id, at, "dtmf", detail);
                }
                if let Some(call) = live_call
                    && let Some(key) = Key::from_char(digit.as_char())
                    && let Some(ivr) = self.calls.get_mut(&call).and_then(|l| l.ivr.as_mut())
                {
                    ivr.interpreter().handle_key(now, key);
                    self.pump_ivr(ep, now, call);
                }
            }
            StreamEvent::PlaybackFinished { interrupted } => {
                if let Some(call) = live_call {
                    self.ivr_playback_finished(ep, now, call, interrupted);
                }
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

    fn stream_closed(&mut self, ep: &mut Ep, now: Instant, key: StreamKey, notice: Notice) {
        self.engine.closed(key);
        if let Some(leg) = self.leg_streams.remove(&key) {
            return self.leg_stream_closed(ep, now, leg, notice);
        }
        let Notice::Closed { stats, reason, .. } = notice else {
            return;
        };
        crate::metrics::stream_closed(&stats);
        let id = match self.closing.remove(&key) {
            Some(id) => {
                if let Some(call) = self.streams.remove(&key) {
                    self.ivr_hangup(ep, now, call);
                }
                id
            }
            // Closed by its worker while the call goes on (socket failure, internal error):
            // the call cannot be heard any more, so it ends, and its session with it.
            None => match self.streams.remove(&key) {
                Some(call) => match self.calls.get_mut(&call) {
                    Some(live) => {
                        if let Some(media) = live.media.as_mut() {
                            media.stream = None;
                        }
                        if let Some(ivr) = live.ivr.as_mut() {
                            ivr.media_lost();
                        }
                        let id = live.id.clone();
                        ep.hangup(now, call);
                        id
                    }
                    None => return,
                },
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

impl CallApp {
    /// An event of an outbound leg's stream: digits the agent pressed (their method only),
    /// media that stopped.
    fn leg_stream_event(&mut self, ep: &mut Ep, now: Instant, leg: CallRef, event: StreamEvent) {
        match event {
            StreamEvent::Digit { method, .. } => self.leg_digit(ep, now, leg, method_name(method)),
            StreamEvent::MediaTimeout => ep.hangup(now, leg),
            _ => {}
        }
    }

    /// An outbound leg's stream is gone: its statistics go to the caller's record; a stream
    /// that failed while the leg is up ends the leg.
    fn leg_stream_closed(&mut self, ep: &mut Ep, now: Instant, leg: CallRef, notice: Notice) {
        let Notice::Closed { stats, reason, .. } = notice else {
            return;
        };
        crate::metrics::stream_closed(&stats);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.stream = None;
            if reason != CloseReason::Requested {
                ep.hangup(now, leg);
            }
        }
        let id = self
            .legs
            .get(&leg)
            .and_then(|l| self.calls.get(&l.caller))
            .map(|c| c.id.clone());
        if let Some(id) = id {
            let detail = serde_json::json!({
                "packets_sent": stats.packets_sent,
                "packets_received": stats.packets_received,
                "packets_lost": stats.packets_lost,
            });
            self.writer.event(&id, ep.unix_ms(now), "leg-media", detail);
        }
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
    type Notice = AppNotice;

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
            } if self.legs.contains_key(&call) => self.leg_ended(ep, now, call, cause, status),
            Event::CallEnded {
                call,
                cause,
                status,
            } => self.ended(ep, now, call, cause.as_str(), status),
            Event::Offer { call, offer } if self.legs.contains_key(&call) => {
                self.leg_offer(ep, now, call, offer)
            }
            Event::Offer { call, offer } => self.reoffer(ep, now, call, offer),
            Event::Info {
                call,
                content_type,
                body,
            } if self.legs.contains_key(&call) => {
                if parse_info(&content_type, &body).is_ok() {
                    self.leg_digit(ep, now, call, "sip-info");
                }
            }
            Event::Info {
                call,
                content_type,
                body,
            } => self.info(ep, now, call, &content_type, &body),
            Event::Progress {
                call,
                status: _,
                sdp,
            } => self.leg_progress(now, call, sdp),
            Event::Answered { call, sdp } => self.leg_answered(ep, now, call, sdp),
            Event::Refer {
                call,
                refer_to,
                referred_by: _,
            } => self.leg_refer(ep, now, call, &refer_to),
            Event::Upstream {
                registration,
                state,
            } => self.upstream_state(registration, state),
            Event::Registration {
                aor,
                bindings,
                source,
                user_agent,
            } => {
                crate::metrics::registration();
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
                crate::metrics::error("sip-malformed");
                tracing::debug!(reason, "rejected or dropped a malformed SIP message");
            }
        }
    }

    fn on_notice(&mut self, ep: &mut Ep, now: Instant, notice: AppNotice) {
        match notice {
            AppNotice::Media(Notice::Event { key, event }) => {
                self.stream_event(ep, now, key, event)
            }
            AppNotice::Media(notice @ Notice::Closed { key, .. }) => {
                self.stream_closed(ep, now, key, notice)
            }
            AppNotice::Fetched { call, id, result } => {
                self.ivr_fetched(ep, now, call, id, result);
                self.forget_if_done(call);
            }
            AppNotice::Control(request) => self.control(ep, now, request),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let ringing = self.ringing.first().map(|(at, _)| *at);
        let ivr = self.ivr_timers.first().map(|(at, _)| *at);
        let linger = self.lingering.first().map(|(at, _)| *at);
        let bridge = self.bridge_timers.first().map(|(at, _)| *at);
        [ringing, ivr, linger, bridge].into_iter().flatten().min()
    }

    fn handle_timeout(&mut self, ep: &mut Ep, now: Instant) {
        self.cut_off_lingering(ep, now);
        self.bridge_timeouts(ep, now);
        // The timers due now, each handled once: a session that re-arms for `now` (a zero
        // timeout) waits for the next round instead of spinning here.
        let later = self
            .ivr_timers
            .split_off(&(now + Duration::from_nanos(1), CallRef(0)));
        let due = std::mem::replace(&mut self.ivr_timers, later);
        for (_, call) in due {
            if let Some(ivr) = self.calls.get_mut(&call).and_then(|l| l.ivr.as_mut()) {
                ivr.interpreter().handle_timeout(now);
                self.pump_ivr(ep, now, call);
                self.forget_if_done(call);
            }
        }
        while let Some(&(at, call)) = self.ringing.first() {
            if at > now {
                break;
            }
            self.ringing.pop_first();
            ep.reject(now, call, FinalStatus::TEMPORARILY_UNAVAILABLE);
        }
    }
}
