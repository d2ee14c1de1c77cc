//! IVR path events as JSON, for `herald ivr run` transcripts and call records alike.

use herald_ivr::{Consent, PathEvent};
use serde_json::{Value, json};

/// One path event as the call record and the transcript show it.
pub fn path_json(event: &PathEvent) -> Value {
    match event {
        PathEvent::Document { uri } => json!({"kind": "document", "uri": uri}),
        PathEvent::Dialog { id } => json!({"kind": "dialog", "id": id}),
        PathEvent::Input { item, keys, secure } => {
            json!({"kind": "input", "item": item, "keys": keys, "secure": secure})
        }
        PathEvent::MenuChoice { menu, choice } => {
            json!({"kind": "menu-choice", "menu": menu, "choice": choice})
        }
        PathEvent::Reprompt { item, event } => {
            json!({"kind": "input-event", "item": item, "event": event})
        }
        PathEvent::Consent(consent) => json!({"kind": "consent", "decision": match consent {
            Consent::Accepted => "accepted",
            Consent::OptedOut => "opted-out",
        }}),
        PathEvent::Language(lang) => json!({"kind": "language", "language": lang}),
        PathEvent::Transfer { dest, outcome } => {
            json!({"kind": "transfer-result", "dest": dest, "outcome": outcome})
        }
    }
}
