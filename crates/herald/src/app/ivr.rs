//! The IVR side of a call: one VoiceXML session per answered call, driven by SIP and media
//! events, with its prompts queued on the call's media stream, its fetches run as tasks, and
//! its path written to the call record.
//!
//! The platform, not the document, holds the caller's recording decision: a `start` the
//! route's policy or the caller's objection forbids is refused and recorded as refused, so a
//! faulty document cannot record someone who said no.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_dialplan::RecordingPolicy;
use herald_ivr::{
    Consent, FetchRequest, Interpreter, Outcome, Output, PathEvent, Prompt, PromptItem,
    RecordOutcome, RecordingAction,
};
use herald_media::codec::CodecKind;
use herald_media::prompt::EncodedPrompt;
use herald_sip::endpoint::CallRef;

use super::{AppNotice, CallApp, Ep};
use crate::media::worker::Command;

/// A prompt piece waiting to play, or playing.
struct Queued {
    prompt: Arc<EncodedPrompt>,
    /// What it is, for the call record (`prompt:welcome`, `break`).
    src: String,
    language: Option<String>,
    bargein: bool,
    /// Disclosure evidence: (prompt id, language); set on the last piece of its prompt.
    evidence: Option<(String, Option<String>)>,
    /// The first piece of a disclosure prompt: when it starts, the disclosure starts.
    evidence_starts: bool,
}

/// What the platform knows of the call's recording.
#[derive(Debug, Default)]
pub struct RecordingState {
    /// The caller's decision; an objection is final for the call.
    pub consent: Option<Consent>,
    pub active: bool,
    /// A recording of the call was started at some point (not merely allowed: recording
    /// may be off, or the call may have no media stream).
    pub ever: bool,
    /// What it is paused for (secure input, the document, the API); recording resumes only
    /// when none is left.
    pub paused: Vec<Pause>,
    /// The recording that runs (its id), while one does.
    pub running: Option<String>,
    /// Disclosure evidence so far, sealed into a recording when one starts.
    pub evidence: Vec<herald_recorder::Evidence>,
}

impl RecordingState {
    /// Adds a reason to be paused.
    pub fn pause(&mut self, pause: Pause) {
        self.paused.push(pause);
    }

    /// Removes the owner's pause for `reason`; whether there was one.
    pub fn resume(&mut self, by_api: bool, reason: &str) -> bool {
        // A hold's pause belongs to the bridge: only the end of the hold ends it.
        let owned = |p: &Pause| {
            p.by_api == by_api && p.reason == reason && p.actor != super::bridge::HOLD_ACTOR
        };
        match self.paused.iter().position(owned) {
            Some(index) => {
                self.paused.remove(index);
                true
            }
            None => false,
        }
    }
}

/// One reason a call's recording is paused. Only its owner resumes it: the document (or the
/// interpreter's secure input) cannot end an API pause by naming the same reason, nor the API
/// a document's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// Paused through the HTTP API (else by the call's document or interpreter).
    pub by_api: bool,
    /// Who paused: `ivr` or `api:TOKEN-NAME`.
    pub actor: String,
    pub reason: String,
}

/// What a recording of the call is filed under.
#[derive(Debug, Clone, Default)]
pub struct RecordingFacts {
    pub caller: String,
    pub callee: String,
    /// The route's retention class (`None`: the configured default).
    pub retention: Option<String>,
}

/// One call's IVR session.
pub struct IvrCall {
    interpreter: Interpreter,
    queue: VecDeque<Queued>,
    /// Pieces handed to the stream, oldest first, each until its `PlaybackFinished` (the
    /// stream reports exactly one per piece); `true` once flushed by barge-in.
    in_flight: VecDeque<(Queued, bool)>,
    /// Hang up once the queue has played (`<disconnect>`, or the session ended).
    hangup_when_quiet: bool,
    finished: bool,
    secure: bool,
    policy: RecordingPolicy,
    pub recording: RecordingState,
    pub facts: RecordingFacts,
    /// The codec and packet time prompts are encoded for (`None`: no media stream).
    pub media: Option<(CodecKind, Duration)>,
    /// A document fetched over the network ran: local audio files are off limits.
    network: bool,
    /// Disclosure evidence whose prompt was dropped before it finished (barge-in, hang-up).
    dropped_evidence: Vec<(String, Option<String>)>,
    /// The language of the last prompt queued (hold music plays in it).
    pub last_language: Option<String>,
    /// When the disclosure prompt that plays started (unix ms).
    evidence_started: Option<i64>,
    /// Path events written to the call record so far (capped at [`MAX_PATH_EVENTS`]).
    path_events: u32,
    /// The queue ran dry: the session hears "prompts done" once its outputs are drained.
    drained: bool,
}

/// A document that loops through dialogs without the caller cannot fill the call record: its
/// path stops being written here (consent and language always are).
pub const MAX_PATH_EVENTS: u32 = 2_000;

impl IvrCall {
    /// The route's recording policy, as the call record names it.
    pub fn policy_name(&self) -> &'static str {
        policy_name(self.policy)
    }

    pub fn new(interpreter: Interpreter, policy: RecordingPolicy, facts: RecordingFacts) -> Self {
        Self {
            interpreter,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            hangup_when_quiet: false,
            finished: false,
            secure: false,
            policy,
            recording: RecordingState::default(),
            facts,
            media: None,
            network: false,
            dropped_evidence: Vec::new(),
            last_language: None,
            evidence_started: None,
            path_events: 0,
            drained: false,
        }
    }

    /// Whether the caller's keys stay out of the call record right now.
    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.interpreter.poll_timeout()
    }

    pub fn interpreter(&mut self) -> &mut Interpreter {
        &mut self.interpreter
    }

    /// The call's stream is gone: nothing plays or will play.
    pub fn media_lost(&mut self) {
        self.media = None;
        self.drop_queued_evidence();
        let in_flight: Vec<Queued> = self.in_flight.drain(..).map(|(q, _)| q).collect();
        self.dropped_evidence
            .extend(in_flight.into_iter().filter_map(|q| q.evidence));
    }

    fn drop_queued_evidence(&mut self) {
        let evidence = self.queue.drain(..).filter_map(|q| q.evidence);
        self.dropped_evidence.extend(evidence);
    }

    /// Whether a piece the session still wants is playing.
    pub(super) fn busy(&self) -> bool {
        self.in_flight.iter().any(|(_, flushed)| !flushed)
    }

    /// Drops what is queued and marks what plays as flushed; whether something was playing.
    fn flush(&mut self) -> bool {
        self.drop_queued_evidence();
        let busy = self.busy();
        for (_, flushed) in &mut self.in_flight {
            *flushed = true;
        }
        busy
    }
}

impl CallApp {
    /// Runs a call's IVR outputs until it waits, then re-arms its timer.
    pub(super) fn pump_ivr(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        // Bounded: telling a session its prompts are done rarely makes it say more at once.
        for _ in 0..16 {
            loop {
                let Some(live) = self.calls.get_mut(&call) else {
                    return;
                };
                let id = live.id.clone();
                let stream = live.media.as_ref().and_then(|m| m.stream);
                let Some(ivr) = live.ivr.as_mut() else {
                    return;
                };
                let Some(output) = ivr.interpreter.poll_output() else {
                    break;
                };
                self.ivr_output(ep, now, call, &id, stream, output);
            }
            // Only once everything the session said is queued: if nothing is left to play,
            // its prompts are done (never while later prompts still wait in its outputs).
            let Some(ivr) = self.ivr_mut(call) else {
                return;
            };
            if !(ivr.drained && !ivr.busy() && ivr.queue.is_empty()) {
                break;
            }
            ivr.drained = false;
            ivr.interpreter.handle_prompts_done(now);
        }
        self.hangup_if_quiet(ep, now, call);
        self.record_dropped_evidence(ep, now, call);
        self.rearm_ivr(call);
    }

    /// Disclosure prompts that were queued but never finished are evidence too: not heard.
    pub(super) fn record_dropped_evidence(&mut self, ep: &Ep, now: Instant, call: CallRef) {
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(ivr) = live.ivr.as_mut() else {
            return;
        };
        for (prompt, language) in std::mem::take(&mut ivr.dropped_evidence) {
            let detail = serde_json::json!({
                "prompt": prompt,
                "language": language,
                "completed": false,
            });
            self.writer
                .event(&live.id, ep.unix_ms(now), "disclosure-played", detail);
        }
    }

    fn rearm_ivr(&mut self, call: CallRef) {
        self.ivr_timers.retain(|(_, c)| *c != call);
        let deadline = self
            .calls
            .get(&call)
            .and_then(|l| l.ivr.as_ref())
            .and_then(IvrCall::poll_timeout);
        if let Some(at) = deadline {
            self.ivr_timers.insert((at, call));
        }
    }

    fn ivr_output(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        id: &str,
        stream: Option<u64>,
        output: Output,
    ) {
        let at = ep.unix_ms(now);
        match output {
            Output::Fetch(request) => self.spawn_fetch(call, request),
            Output::Play(prompt) => {
                self.queue_prompt(ep, now, call, id, &prompt);
            }
            Output::StopPrompts => {
                let was_playing = self.ivr_mut(call).is_some_and(IvrCall::flush);
                if let (true, Some(key)) = (was_playing, stream) {
                    self.engine.command(key, Command::Stop { key });
                }
            }
            Output::Listen { secure } => {
                if let Some(ivr) = self.ivr_mut(call) {
                    ivr.secure = secure;
                }
            }
            Output::Recording { action, reason } => {
                // A refusal is in the call record; the document carries on.
                let _ = self.recording(ep, now, call, id, (action, reason), IVR_ACTOR);
            }
            Output::Path(event) => {
                if let PathEvent::Consent(consent) = &event {
                    self.consent(ep, now, call, id, *consent);
                }
                if let PathEvent::Document { uri } = &event
                    && !uri.starts_with("file:")
                    && let Some(ivr) = self.ivr_mut(call)
                {
                    ivr.network = true;
                }
                let essential = matches!(event, PathEvent::Consent(_) | PathEvent::Language(_));
                let count = self.ivr_mut(call).map_or(0, |ivr| {
                    ivr.path_events = ivr.path_events.saturating_add(1);
                    ivr.path_events
                });
                if count > MAX_PATH_EVENTS && !essential {
                    if count == MAX_PATH_EVENTS + 1 {
                        let detail = serde_json::json!({ "after": MAX_PATH_EVENTS });
                        self.writer.event(id, at, "ivr-path-truncated", detail);
                    }
                    return;
                }
                let mut detail = crate::ivr::path::path_json(&event);
                let kind = detail["kind"].as_str().unwrap_or("ivr").to_owned();
                if let Some(map) = detail.as_object_mut() {
                    map.remove("kind");
                }
                self.writer.event(id, at, &format!("ivr-{kind}"), detail);
            }
            Output::Log { label, text } => {
                // A document's own log lines may carry what callers keyed in (only secure
                // fields are blanked by the interpreter): debug level, off by default.
                tracing::debug!(target: "herald::ivr::log", call = id, label = label.as_deref().unwrap_or(""), "{text}");
            }
            Output::Transfer(request) => self.start_transfer(ep, now, call, request),
            Output::Record(_) => {
                if let Some(ivr) = self.ivr_mut(call) {
                    ivr.interpreter
                        .handle_record(now, RecordOutcome::Unsupported);
                }
            }
            Output::Disconnect => {
                if let Some(ivr) = self.ivr_mut(call) {
                    ivr.hangup_when_quiet = true;
                }
                self.hangup_if_quiet(ep, now, call);
            }
            Output::Finished(outcome) => {
                let detail = outcome_json(&outcome);
                if let Some(ivr) = self.ivr_mut(call) {
                    ivr.finished = true;
                    ivr.hangup_when_quiet = true;
                    let decision = serde_json::json!({
                        "recorded": ivr.recording.ever,
                        "consent": ivr.recording.consent.map(consent_name),
                        "policy": policy_name(ivr.policy),
                    });
                    self.writer.event(id, at, "recording-decision", decision);
                }
                self.writer.event(id, at, "ivr-exit", detail);
                self.hangup_if_quiet(ep, now, call);
            }
        }
    }

    pub(super) fn ivr_mut(&mut self, call: CallRef) -> Option<&mut IvrCall> {
        self.calls.get_mut(&call).and_then(|l| l.ivr.as_mut())
    }

    fn spawn_fetch(&mut self, call: CallRef, request: FetchRequest) {
        let fetcher = self.fetcher.clone();
        let notify = self.notify.clone();
        let id = request.id;
        let task = tokio::spawn(async move { fetcher.fetch(&request).await });
        // The answer always comes, even if the fetch task panics: a session never waits
        // forever for a fetch.
        tokio::spawn(async move {
            let result = task
                .await
                .unwrap_or_else(|_| Err(herald_ivr::FetchError::Failed("internal error".into())));
            let _ = notify.send(AppNotice::Fetched { call, id, result });
        });
    }

    /// A fetch for a call's session came back.
    pub(super) fn ivr_fetched(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        id: herald_ivr::FetchId,
        result: Result<herald_ivr::Fetched, herald_ivr::FetchError>,
    ) {
        if let Some(ivr) = self.ivr_mut(call) {
            ivr.interpreter.handle_fetched(now, id, result);
            self.pump_ivr(ep, now, call);
        }
    }

    /// Encodes a prompt's pieces for the call's codec and queues them.
    fn queue_prompt(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        id: &str,
        prompt: &Prompt,
    ) {
        let network = self.ivr_mut(call).is_some_and(|i| i.network);
        let Some((codec, ptime)) = self.ivr_mut(call).and_then(|i| i.media) else {
            // No media stream: nothing can play, so the prompt is over at once.
            if let Some(ivr) = self.ivr_mut(call) {
                ivr.drained = true;
            }
            return;
        };
        let at = ep.unix_ms(now);
        if let Some(ivr) = self.ivr_mut(call) {
            ivr.last_language.clone_from(&prompt.language);
        }
        let language = prompt.language.as_deref();
        let mut pieces = Vec::new();
        for item in &prompt.items {
            match item {
                PromptItem::Audio {
                    src,
                    fallback,
                    computed,
                } => {
                    // A computed source may spell out what the caller keyed in: it is named
                    // neither in the log nor in the call record.
                    let shown = if *computed {
                        "(computed)".to_owned()
                    } else {
                        src.clone()
                    };
                    match self.prompt_audio(src, language, codec, ptime, network) {
                        Ok(encoded) => pieces.push((encoded, shown)),
                        Err(error) => {
                            let error = if *computed {
                                "a computed audio source cannot be played".to_owned()
                            } else {
                                error
                            };
                            tracing::warn!(call = id, %error, "an IVR prompt cannot be played");
                            let detail = serde_json::json!({
                                "src": shown,
                                "language": language,
                                "error": error,
                                "fallback_text": !fallback.is_empty(),
                            });
                            self.writer.event(id, at, "prompt-unavailable", detail);
                        }
                    }
                }
                PromptItem::Text(text) => {
                    // No text-to-speech: the length only, the text may hold collected values.
                    let detail = serde_json::json!({ "chars": text.chars().count() });
                    self.writer.event(id, at, "tts-unavailable", detail);
                }
                PromptItem::Break(duration) => {
                    if let Some(pause) = self.prompts.pause(codec, ptime, *duration) {
                        pieces.push((pause, "break".to_owned()));
                    }
                }
                PromptItem::Mark(_) => {}
            }
        }
        let count = pieces.len();
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        for (index, (piece, src)) in pieces.into_iter().enumerate() {
            let last = index + 1 == count;
            ivr.queue.push_back(Queued {
                prompt: piece,
                src,
                language: prompt.language.clone(),
                bargein: prompt.bargein,
                evidence: prompt
                    .evidence
                    .clone()
                    .filter(|_| last)
                    .map(|e| (e, prompt.language.clone())),
                evidence_starts: index == 0 && prompt.evidence.is_some(),
            });
        }
        if let Some(evidence) = &prompt.evidence {
            let detail = serde_json::json!({ "prompt": evidence, "language": prompt.language });
            self.writer.event(id, at, "disclosure-queued", detail);
        }
        self.play_next(ep, now, call);
    }

    fn prompt_audio(
        &mut self,
        src: &str,
        language: Option<&str>,
        codec: CodecKind,
        ptime: Duration,
        network: bool,
    ) -> Result<Arc<EncodedPrompt>, String> {
        if let Some(name) = src.strip_prefix("prompt:") {
            return self
                .prompts
                .encoded_localized(name, language, codec, ptime)
                .map_err(|e| e.to_string());
        }
        if src.starts_with("file:") && network {
            return Err(format!(
                "{src}: a call that ran a document from the network may not play local files"
            ));
        }
        if src.starts_with("file:") {
            let path = url::Url::parse(src)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| format!("{src}: not a local file"))?;
            return self
                .prompts
                .encoded_file(path, codec, ptime)
                .map_err(|e| e.to_string());
        }
        Err(format!(
            "{src}: audio over the network is not played yet (use prompt: or a file)"
        ))
    }

    /// Starts the next queued piece if nothing plays; tells the session when all have played.
    fn play_next(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let stream = live.media.as_ref().and_then(|m| m.stream);
        let Some(ivr) = live.ivr.as_mut() else {
            return;
        };
        if ivr.busy() {
            return;
        }
        match (ivr.queue.pop_front(), stream) {
            (Some(next), Some(key)) => {
                if next.evidence_starts {
                    ivr.evidence_started = Some(ep.unix_ms(now));
                }
                self.engine.command(
                    key,
                    Command::Play {
                        key,
                        prompt: next.prompt.clone(),
                        barge_in: next.bargein,
                    },
                );
                ivr.in_flight.push_back((next, false));
            }
            (Some(_), None) => {
                ivr.queue.clear();
                ivr.drained = true;
            }
            (None, _) => {
                ivr.drained = true;
                self.hangup_if_quiet(ep, now, call);
            }
        }
    }

    /// The stream finished (or was barged into) the piece that played.
    pub(super) fn ivr_playback_finished(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        interrupted: bool,
    ) {
        let at = ep.unix_ms(now);
        if self.bridge_audio_finished(call, interrupted) {
            return;
        }
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let id = live.id.clone();
        let Some(ivr) = live.ivr.as_mut() else {
            return;
        };
        let Some((done, flushed)) = ivr.in_flight.pop_front() else {
            return;
        };
        if done.src != "break" {
            let detail = serde_json::json!({
                "src": done.src,
                "language": done.language,
                "completed": !interrupted,
            });
            self.writer.event(&id, at, "ivr-prompt", detail);
        }
        let mut evidence = None;
        if let Some((prompt, language)) = done.evidence {
            let started = ivr.evidence_started.take().unwrap_or(at);
            let detail = serde_json::json!({
                "prompt": prompt,
                "language": language,
                "completed": !interrupted,
                "started_at": started,
            });
            self.writer.event(&id, at, "disclosure-played", detail);
            evidence = Some((prompt, language, started));
        }
        if interrupted && !flushed {
            // The stream stopped it for a key (barge-in): everything queued goes too.
            ivr.flush();
        }
        if let Some((prompt, language, started)) = evidence {
            self.recording_evidence(call, started, prompt, language, !interrupted);
        }
        self.play_next(ep, now, call);
        self.pump_ivr(ep, now, call);
        self.after_ivr_prompts(call);
    }

    /// Hangs up a call whose session asked for it, once its prompts have played.
    fn hangup_if_quiet(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        let quiet = self
            .ivr_mut(call)
            .is_some_and(|i| i.hangup_when_quiet && !i.busy() && i.queue.is_empty());
        if quiet {
            if let Some(ivr) = self.ivr_mut(call) {
                ivr.hangup_when_quiet = false;
            }
            ep.hangup(now, call);
        }
    }

    /// A recording request from the document (`actor` "ivr") or the HTTP API ("api:NAME"),
    /// checked against the route's policy and the caller's decision, and written to the call
    /// record either way. `Ok(applied)`: allowed, and whether it changed anything; `Err`: why
    /// it was refused. Only the document may stop a recording the route's policy requires.
    pub(super) fn recording(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        id: &str,
        (action, reason): (RecordingAction, String),
        actor: &str,
    ) -> Result<bool, &'static str> {
        let at = ep.unix_ms(now);
        let Some(ivr) = self.ivr_mut(call) else {
            return Err("the call has no IVR session");
        };
        let refusal = match (action, ivr.policy, ivr.recording.consent) {
            (RecordingAction::Start, RecordingPolicy::Never, _) => {
                Some("the route's policy is never")
            }
            // An objection is final, whatever the policy.
            (RecordingAction::Start, _, Some(Consent::OptedOut)) => Some("the caller objected"),
            (RecordingAction::Start, RecordingPolicy::Ask, None) => {
                Some("the caller has not been asked")
            }
            (RecordingAction::Stop, RecordingPolicy::Always, _) if actor != IVR_ACTOR => {
                Some("the route's policy requires recording")
            }
            _ => None,
        };
        let by_api = actor != IVR_ACTOR;
        let state = &mut ivr.recording;
        let was_paused = !state.paused.is_empty();
        let applied = match (refusal, action) {
            (Some(_), _) => false,
            (None, RecordingAction::Start) => !std::mem::replace(&mut state.active, true),
            (None, RecordingAction::Stop) => std::mem::replace(&mut state.active, false),
            (None, RecordingAction::Pause) => {
                state.pause(Pause {
                    by_api,
                    actor: actor.to_owned(),
                    reason: reason.clone(),
                });
                state.active
            }
            (None, RecordingAction::Resume) => state.resume(by_api, &reason) && state.active,
        };
        let now_paused = !state.paused.is_empty();
        if applied {
            match action {
                RecordingAction::Start => self.start_recording(ep, now, call),
                RecordingAction::Stop => self.stop_recording(call),
                RecordingAction::Pause if !was_paused => {
                    self.pause_recording(call, &reason, actor);
                }
                RecordingAction::Resume if !now_paused => self.resume_recording(call, actor),
                RecordingAction::Pause | RecordingAction::Resume => {}
            }
        }
        let detail = serde_json::json!({
            "action": action.as_str(),
            "reason": reason,
            "by": actor,
            "applied": applied,
            "refused": refusal,
        });
        self.writer.event(id, at, "recording", detail);
        refusal.map_or(Ok(applied), Err)
    }
}

/// The actor of recording requests made by the call's VoiceXML document.
pub(super) const IVR_ACTOR: &str = "ivr";

impl CallApp {
    /// The caller's decision: an objection is final and stops a recording already running;
    /// a later "accepted" from the document does not undo it.
    fn consent(&mut self, ep: &mut Ep, now: Instant, call: CallRef, id: &str, consent: Consent) {
        let at = ep.unix_ms(now);
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        let state = &mut ivr.recording;
        if state.consent == Some(Consent::OptedOut) {
            return;
        }
        state.consent = Some(consent);
        if consent == Consent::OptedOut && std::mem::replace(&mut state.active, false) {
            self.stop_recording(call);
            let detail = serde_json::json!({
                "action": "stop",
                "reason": "the caller objected",
                "applied": true,
                "refused": null,
            });
            self.writer.event(id, at, "recording", detail);
        }
    }
}

pub(super) fn consent_name(consent: Consent) -> &'static str {
    match consent {
        Consent::Accepted => "accepted",
        Consent::OptedOut => "opted-out",
    }
}

fn policy_name(policy: RecordingPolicy) -> &'static str {
    match policy {
        RecordingPolicy::Ask => "ask",
        RecordingPolicy::Always => "always",
        RecordingPolicy::Never => "never",
    }
}

fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Exit { value } => serde_json::json!({
            "outcome": "exit",
            "value": serde_json::from_str::<serde_json::Value>(value).unwrap_or(serde_json::Value::Null),
        }),
        Outcome::Hangup => serde_json::json!({ "outcome": "hangup" }),
        Outcome::Transferred => serde_json::json!({ "outcome": "transferred" }),
        Outcome::Error { event, message } => serde_json::json!({
            "outcome": "error",
            "event": event,
            "message": message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{Pause, RecordingState};

    fn pause(by_api: bool, reason: &str) -> Pause {
        Pause {
            by_api,
            actor: if by_api { "api:desk" } else { "ivr" }.to_owned(),
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn only_the_owner_of_a_pause_resumes_it() {
        let mut state = RecordingState::default();
        state.pause(pause(false, "secure-input"));
        state.pause(pause(true, "api"));
        // A document naming the API's reason does not end the API's pause, nor the API the
        // interpreter's secure input.
        assert!(!state.resume(false, "api"));
        assert!(!state.resume(true, "secure-input"));
        assert_eq!(state.paused.len(), 2);
        assert!(state.resume(true, "api"));
        assert_eq!(state.paused, [pause(false, "secure-input")]);
        assert!(state.resume(false, "secure-input"));
        assert!(state.paused.is_empty());
    }
}
