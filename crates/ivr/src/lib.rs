//! Herald's VoiceXML 2.1 interpreter, sans-IO.
//!
//! [`Interpreter`] runs one caller's session: it parses nothing from the network and plays
//! nothing; it asks its platform for documents, scripts, grammars and data
//! ([`Output::Fetch`]), for prompts to be played ([`Output::Play`]), for input to be collected,
//! for transfers and recordings, and it is told what happened through its `handle_*` methods,
//! each with the current time. It never reads the clock: input timeouts come out of
//! [`Interpreter::poll_timeout`] and go back in through [`Interpreter::handle_timeout`].
//!
//! What it implements: the form interpretation algorithm with VoiceXML's scopes (session,
//! application, document, dialog, anonymous) over ECMAScript (QuickJS, one heap per session
//! with a memory limit and an instruction budget); forms, menus, fields with builtin and SRGS
//! DTMF grammars, blocks, subdialogs, transfers, records; events with counts and the default
//! handlers; application root documents; `<data>`, `<foreach>` and `<mark>` from 2.1; and
//! Herald's own namespace (`urn:herald:ivr`): `<herald:recording action reason>`,
//! `<herald:consent decision|expr>`, `<herald:language value|expr>`, and the attributes
//! `herald:evidence` on `<prompt>` (disclosure evidence) and `herald:secure` on `<field>`
//! (recording paused while the field collects; its value kept out of logs and call records).
//!
//! What it does not: speech recognition (voice grammars are ignored; a field with only voice
//! grammars is an `error.semantic`), text-to-speech (text is handed to the platform), and
//! `<object>` (`error.unsupported.objectname`).

pub mod document;
pub mod interpreter;
pub mod output;
pub mod script;

pub use document::{Document, DocumentError};
pub use herald_grammar::Key;
pub use interpreter::{Interpreter, SessionConfig, Timeouts};
pub use output::*;
pub use script::ScriptLimits;
