//! The IVR's I/O side: the dialplans, fetching documents for sessions, `herald ivr run`, and
//! the VoiceXML part of `herald check`.

pub mod check_doc;
pub mod dialplans;
pub mod fetch;
pub mod path;
pub mod run_cmd;
