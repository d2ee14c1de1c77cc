//! Live-call control for the HTTP API: the API's tasks send a [`ControlRequest`] through the
//! application's notice channel and await the answer, so live calls are only ever touched by
//! the task that owns them (the SIP driver), between two SIP events.

use std::time::Instant;

use herald_ivr::RecordingAction;
use herald_sip::endpoint::CallRef;
use serde::Serialize;
use tokio::sync::oneshot;

use super::{CallApp, Ep, LiveCall};

/// Who, whom, which route and since when: what the API lists of a live call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallSummary {
    /// The calling number or user.
    pub caller: String,
    /// The called number or user.
    pub callee: String,
    /// The dialplan route that took the call, or `none`.
    pub route: String,
    /// When the INVITE arrived, unix milliseconds.
    pub started_at: i64,
    /// When Herald answered, unix milliseconds.
    pub answered_at: Option<i64>,
}

/// A live call as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveCallView {
    /// The call's id (that of its call record).
    pub id: String,
    #[serde(flatten)]
    pub summary: CallSummary,
    /// `ringing`, `answered` or `ending` (signalling is over, the IVR session finishes).
    pub state: &'static str,
    /// The call's recording, when it has an IVR session.
    pub recording: Option<LiveRecording>,
}

/// A live call's recording state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveRecording {
    /// The route's recording policy: `ask`, `always` or `never`.
    pub policy: &'static str,
    /// The caller's decision so far: `accepted`, `opted-out`, or none.
    pub consent: Option<&'static str>,
    /// Recording is on (started and not stopped).
    pub active: bool,
    /// The recording that runs, while one does.
    pub recording_id: Option<String>,
    /// Why it is paused (`secure-input`, `api`, ...); empty when it is not.
    pub paused_for: Vec<String>,
}

/// What the API may do to a live call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingControl {
    Pause,
    Resume,
    Start,
    Stop,
}

/// Why a control request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no live call with this id")]
    NoSuchCall,
    #[error("the call has already ended")]
    Ended,
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Conflict(&'static str),
}

/// A request from the API, with where to send the answer.
#[derive(Debug)]
pub enum ControlRequest {
    List {
        reply: oneshot::Sender<Vec<LiveCallView>>,
    },
    Show {
        id: String,
        reply: oneshot::Sender<Option<LiveCallView>>,
    },
    Hangup {
        id: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    Recording {
        id: String,
        control: RecordingControl,
        /// Who asks: `api:TOKEN-NAME`.
        actor: String,
        /// Why (pauses): free text for the call record.
        reason: String,
        reply: oneshot::Sender<Result<LiveRecording, ControlError>>,
    },
}

/// The API's reason for its own pauses: the IVR's pauses (secure input) are separate, and
/// recording resumes only when neither is left.
pub const API_PAUSE: &str = "api";

impl CallApp {
    pub(super) fn control(&mut self, ep: &mut Ep, now: Instant, request: ControlRequest) {
        match request {
            ControlRequest::List { reply } => {
                let mut calls: Vec<LiveCallView> = self.calls.values().map(view).collect();
                calls.sort_by(|a, b| {
                    (a.summary.started_at, &a.id).cmp(&(b.summary.started_at, &b.id))
                });
                let _ = reply.send(calls);
            }
            ControlRequest::Show { id, reply } => {
                let _ = reply.send(self.live_by_id(&id).map(|call| view(&self.calls[&call])));
            }
            ControlRequest::Hangup { id, reply } => {
                let _ = reply.send(self.api_hangup(ep, now, &id));
            }
            ControlRequest::Recording {
                id,
                control,
                actor,
                reason,
                reply,
            } => {
                let result = self.api_recording(ep, now, &id, control, &actor, reason);
                let _ = reply.send(result);
            }
        }
    }

    fn live_by_id(&self, id: &str) -> Option<CallRef> {
        self.calls
            .iter()
            .find(|(_, live)| live.id == id)
            .map(|(call, _)| *call)
    }

    fn api_hangup(&mut self, ep: &mut Ep, now: Instant, id: &str) -> Result<(), ControlError> {
        let call = self.live_by_id(id).ok_or(ControlError::NoSuchCall)?;
        if self.calls[&call].ended {
            return Err(ControlError::Ended);
        }
        let at = ep.unix_ms(now);
        self.writer.event(
            id,
            at,
            "hangup-requested",
            serde_json::json!({ "by": "api" }),
        );
        if self.calls[&call].summary.answered_at.is_some() {
            ep.hangup(now, call);
        } else {
            ep.reject(
                now,
                call,
                herald_sip::endpoint::FinalStatus::TEMPORARILY_UNAVAILABLE,
            );
        }
        Ok(())
    }

    fn api_recording(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        id: &str,
        control: RecordingControl,
        actor: &str,
        reason: String,
    ) -> Result<LiveRecording, ControlError> {
        let call = self.live_by_id(id).ok_or(ControlError::NoSuchCall)?;
        let live = &self.calls[&call];
        if live.ended {
            return Err(ControlError::Ended);
        }
        let state = live
            .ivr
            .as_ref()
            .map(|ivr| &ivr.recording)
            .ok_or(ControlError::Conflict(
                "the call has no IVR session to record",
            ))?;
        let api_paused = state.paused.iter().any(|p| p.by_api);
        let action = match control {
            RecordingControl::Pause if !state.active => {
                return Err(ControlError::Conflict("the call is not being recorded"));
            }
            RecordingControl::Pause if api_paused => {
                return Err(ControlError::Conflict(
                    "the recording is already paused by the API",
                ));
            }
            RecordingControl::Resume if !api_paused => {
                return Err(ControlError::Conflict(
                    "the recording is not paused by the API",
                ));
            }
            RecordingControl::Stop if !state.active => {
                return Err(ControlError::Conflict("the call is not being recorded"));
            }
            RecordingControl::Start if state.active => {
                return Err(ControlError::Conflict("the call is already being recorded"));
            }
            RecordingControl::Pause => RecordingAction::Pause,
            RecordingControl::Resume => RecordingAction::Resume,
            RecordingControl::Start => RecordingAction::Start,
            RecordingControl::Stop => RecordingAction::Stop,
        };
        if !reason.is_empty() {
            let detail =
                serde_json::json!({ "action": action.as_str(), "by": actor, "reason": reason });
            self.writer
                .event(id, ep.unix_ms(now), "recording-request", detail);
        }
        self.recording(ep, now, call, id, (action, API_PAUSE.to_owned()), actor)
            .map_err(|refusal| ControlError::Refused(refusal.to_owned()))?;
        let live = &self.calls[&call];
        live.ivr
            .as_ref()
            .map(recording_view)
            .ok_or(ControlError::Ended)
    }
}

fn view(live: &LiveCall) -> LiveCallView {
    let state = if live.ended {
        "ending"
    } else if live.summary.answered_at.is_some() {
        "answered"
    } else {
        "ringing"
    };
    LiveCallView {
        id: live.id.clone(),
        summary: live.summary.clone(),
        state,
        recording: live.ivr.as_ref().map(recording_view),
    }
}

fn recording_view(ivr: &super::ivr::IvrCall) -> LiveRecording {
    let state = &ivr.recording;
    LiveRecording {
        policy: ivr.policy_name(),
        consent: state.consent.map(super::ivr::consent_name),
        active: state.active,
        recording_id: state.running.clone(),
        paused_for: state.paused.iter().map(|p| p.reason.clone()).collect(),
    }
}
