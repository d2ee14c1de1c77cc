//! A call's recording, as the call application drives it: started once the IVR's policy and
//! the caller allow it (`app/ivr.rs` decides), paused for secure input, stopped on an
//! objection, and finished by the media worker when the stream closes. The audio itself never
//! passes through here: the tap runs in the worker that serves the call's stream.

use std::time::Instant;

use herald_recorder::{ConsentChoice, Evidence, GapReason};
use herald_sip::endpoint::CallRef;

use super::{CallApp, Ep};
use crate::media::worker::{Command, RecordCommand};
use crate::recorder::Begin;
use crate::recorder::tap::Mark;

impl CallApp {
    /// Starts recording the call's stream (the IVR's policy allowed it just now).
    pub(super) fn start_recording(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        let at = ep.unix_ms(now);
        let Some(recorder) = self.recorder.clone() else {
            return;
        };
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(stream) = live.media.as_ref().and_then(|m| m.stream) else {
            return;
        };
        let Some(ivr) = live.ivr.as_mut() else {
            return;
        };
        let choice = match ivr.recording.consent {
            Some(herald_ivr::Consent::Accepted) => ConsentChoice::Accepted,
            Some(herald_ivr::Consent::OptedOut) => ConsentChoice::Objected,
            None => ConsentChoice::None,
        };
        let evidence = ivr
            .recording
            .evidence
            .iter()
            .cloned()
            .map(|e| Evidence { choice, ..e })
            .collect();
        let begin = Begin {
            call_id: live.id.clone(),
            caller: ivr.facts.caller.clone(),
            callee: ivr.facts.callee.clone(),
            retention_class: ivr.facts.retention.clone(),
            consent: match ivr.recording.consent {
                Some(herald_ivr::Consent::Accepted) => "accepted",
                Some(herald_ivr::Consent::OptedOut) => "objected",
                None => "policy",
            }
            .to_owned(),
            evidence,
        };
        let id = live.id.clone();
        match recorder.begin(now, at, begin) {
            Ok((recording, tap)) => {
                ivr.recording.running = Some(recording.clone());
                let paused = ivr.recording.paused.first().cloned();
                self.engine.command(
                    stream,
                    Command::Record {
                        key: stream,
                        command: RecordCommand::Start(tap),
                    },
                );
                if let Some(reason) = paused {
                    self.pause_recording(call, &reason);
                }
                let detail = serde_json::json!({ "recording": recording });
                self.writer.event(&id, at, "recording-started", detail);
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot start a recording");
                let detail = serde_json::json!({ "error": format!("{error:#}") });
                self.writer.event(&id, at, "recording-error", detail);
            }
        }
    }

    /// Finishes the call's recording (an objection, or the document's `stop`).
    pub(super) fn stop_recording(&mut self, call: CallRef) {
        if let Some(stream) = self.running_recording(call, true) {
            self.engine.command(
                stream,
                Command::Record {
                    key: stream,
                    command: RecordCommand::Stop,
                },
            );
        }
    }

    pub(super) fn pause_recording(&mut self, call: CallRef, reason: &str) {
        let reason = match reason {
            "secure-input" => GapReason::SecureInput,
            "hold" => GapReason::Hold,
            "opt-out" => GapReason::OptOut,
            "api" => GapReason::Api,
            _ => GapReason::Policy,
        };
        let mark = Mark::Pause {
            reason,
            actor: "ivr".to_owned(),
        };
        self.mark_recording(call, mark);
    }

    pub(super) fn resume_recording(&mut self, call: CallRef) {
        let mark = Mark::Resume {
            actor: "ivr".to_owned(),
        };
        self.mark_recording(call, mark);
    }

    /// A disclosure prompt finished (or was cut short): evidence for the call's recording,
    /// now or when one starts.
    pub(super) fn recording_evidence(
        &mut self,
        call: CallRef,
        at: i64,
        prompt: String,
        language: Option<String>,
        completed: bool,
    ) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        let evidence = Evidence {
            prompt_id: prompt,
            language: language.unwrap_or_else(|| "und".to_owned()),
            played_unix_ms: u64::try_from(at).unwrap_or_default(),
            completed,
            choice: match ivr.recording.consent {
                Some(herald_ivr::Consent::Accepted) => ConsentChoice::Accepted,
                Some(herald_ivr::Consent::OptedOut) => ConsentChoice::Objected,
                None => ConsentChoice::None,
            },
        };
        ivr.recording.evidence.push(evidence.clone());
        self.mark_recording(call, Mark::Evidence(evidence));
    }

    fn mark_recording(&mut self, call: CallRef, mark: Mark) {
        if let Some(stream) = self.running_recording(call, false) {
            self.engine.command(
                stream,
                Command::Record {
                    key: stream,
                    command: RecordCommand::Mark(mark),
                },
            );
        }
    }

    /// The stream of the call's running recording; `end`: it stops running.
    fn running_recording(
        &mut self,
        call: CallRef,
        end: bool,
    ) -> Option<crate::media::worker::StreamKey> {
        let live = self.calls.get_mut(&call)?;
        let stream = live.media.as_ref().and_then(|m| m.stream)?;
        let ivr = live.ivr.as_mut()?;
        let running = if end {
            ivr.recording.running.take()
        } else {
            ivr.recording.running.clone()
        };
        running.map(|_| stream)
    }
}
