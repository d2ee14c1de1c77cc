//! What compliance officers rely on, shared by the HTTP API and the command line: the
//! hash-chained audit log ([`audit`]), the keyed-hash subject index ([`subjects`]),
//! data-subject requests ([`dsr`]) and opening recordings with a private key ([`export`]).

pub mod audit;
pub mod audit_cmd;
pub mod dsr;
pub mod dsr_cmd;
pub mod export;
pub mod start;
pub mod subjects;
