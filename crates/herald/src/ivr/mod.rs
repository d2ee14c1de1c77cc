//! The IVR's I/O side: fetching documents for sessions, and `herald ivr run`.

pub mod fetch;
pub mod run_cmd;
