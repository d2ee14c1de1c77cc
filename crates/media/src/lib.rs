//! Herald's media: everything that happens to audio between a UDP socket and the application,
//! as sans-IO state machines. The binary owns sockets and clocks; this crate is handed datagrams
//! and instants and hands back datagrams, events and the next deadline.
//!
//! (Crate documentation is completed when the stream machine lands.)

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod prompt;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod stream;
pub mod tone;
