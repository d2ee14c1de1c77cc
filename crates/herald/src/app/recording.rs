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
            // Recording is off (`recorder.enabled = false`): the call record says it was not
            // recorded.
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
            paused: ivr
                .recording
                .paused
                .first()
                .map(|pause| pause_mark(&pause.reason, &pause.actor)),
        };
        let id = live.id.clone();
        match recorder.begin(now, at, begin) {
            Ok((recording, tap)) => {
                crate::metrics::recording("started");
                ivr.recording.running = Some(recording.clone());
                ivr.recording.ever = true;
                self.engine.command(
                    stream,
                    Command::Record {
                        key: stream,
                        command: RecordCommand::Start(tap),
                    },
                );
                let detail = serde_json::json!({ "recording": recording });
                self.writer.event(&id, at, "recording-started", detail);
            }
            Err(error) => {
                crate::metrics::recording("failed");
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

    pub(super) fn pause_recording(&mut self, call: CallRef, reason: &str, actor: &str) {
        self.mark_recording(call, pause_mark(reason, actor));
    }

    pub(super) fn resume_recording(&mut self, call: CallRef, actor: &str) {
        let mark = Mark::Resume {
            actor: actor_field(actor),
        };
        self.mark_recording(call, mark);
    }

    /// A disclosure prompt that started at `started` (unix ms) finished or was cut short:
    /// evidence for the call's recording, now or when one starts.
    pub(super) fn recording_evidence(
        &mut self,
        call: CallRef,
        started: i64,
        prompt: String,
        language: Option<String>,
        completed: bool,
    ) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        let evidence = Evidence {
            prompt_id: evidence_prompt(&prompt),
            language: evidence_language(language.as_deref()),
            played_unix_ms: u64::try_from(started).unwrap_or_default(),
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

/// A pause for the reason the document, the interpreter or the API gave.
fn pause_mark(reason: &str, actor: &str) -> Mark {
    let reason = match reason {
        "secure-input" => GapReason::SecureInput,
        "hold" => GapReason::Hold,
        "opt-out" => GapReason::OptOut,
        "api" => GapReason::Api,
        _ => GapReason::Policy,
    };
    Mark::Pause {
        reason,
        actor: actor_field(actor),
    }
}

/// An actor as the recording format takes it (1 to 64 bytes, no control characters).
fn actor_field(actor: &str) -> String {
    fit(actor, herald_recorder::TextField::Actor, "unknown")
}

/// A document's evidence name, made to fit the recording format (1 to 128 bytes, no control
/// characters): what does not fit is cut or replaced, never a reason to lose the recording.
fn evidence_prompt(prompt: &str) -> String {
    fit(prompt, herald_recorder::TextField::PromptId, "unnamed")
}

/// `text` without control characters, cut (at a character boundary) until `field` takes it;
/// `fallback` when nothing is left.
fn fit(text: &str, field: herald_recorder::TextField, fallback: &str) -> String {
    let mut clean: String = text.chars().filter(|c| !c.is_control()).collect();
    while !clean.is_empty() && !field.accepts(&clean) {
        clean.pop();
    }
    if clean.is_empty() {
        fallback.to_owned()
    } else {
        clean
    }
}

/// A language tag as the recording format takes it (BCP 47 characters): `pt_BR` becomes
/// `pt-BR`; anything else unusable becomes `und` (undetermined).
fn evidence_language(language: Option<&str>) -> String {
    let tag = language.unwrap_or("und").replace('_', "-");
    if herald_recorder::TextField::Language.accepts(&tag) {
        tag
    } else {
        "und".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{evidence_language, evidence_prompt};

    #[test]
    fn evidence_text_always_fits_the_recording_format() {
        assert_eq!(evidence_language(Some("pt_BR")), "pt-BR");
        assert_eq!(evidence_language(Some("de-AT")), "de-AT");
        assert_eq!(evidence_language(Some("x")), "und");
        assert_eq!(evidence_language(Some("-de")), "und");
        assert_eq!(evidence_language(None), "und");
        assert_eq!(evidence_prompt("disclosure\n"), "disclosure");
        assert_eq!(evidence_prompt(""), "unnamed");
        assert_eq!(evidence_prompt(&"é".repeat(100)).len(), 128);
        assert!(herald_recorder::TextField::PromptId.accepts(&evidence_prompt(&"x".repeat(500))));
        let actor = super::actor_field(&format!("api:{}", "ä".repeat(100)));
        assert!(herald_recorder::TextField::Actor.accepts(&actor));
        assert!(actor.starts_with("api:ää"));
        assert_eq!(super::actor_field("\n"), "unknown");
    }
}
