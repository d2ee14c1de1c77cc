//! Herald's SIP stack: a sans-IO implementation of what a media server that terminates calls
//! from trunks, hard phones and softphones needs from RFC 3261 and its extensions.
//!
//! # Layers
//! * [`message`]: the message model and a strict parser/serializer (RFC 3261 §7, §25),
//!   checked against the RFC 4475 torture messages.
//! * [`framing`]: cutting TCP/TLS streams into messages (RFC 3261 §18.3).
//! * [`uas`]: request validation in RFC 3261 §8.2 order.
//! * [`transaction`]: client and server transactions, timers A-M (RFC 3261 §17, RFC 6026).
//! * [`dialog`]: dialog state, route sets, CSeq ordering (RFC 3261 §12).
//! * [`auth`]: HTTP Digest with MD5 and SHA-256 (RFC 7616, RFC 8760).
//! * [`registrar`]: the binding decisions of RFC 3261 §10.3.
//! * [`endpoint`]: the user-agent core that composes them. As UAS: calls (INVITE, CANCEL, BYE,
//!   re-INVITE, UPDATE, INFO, PRACK, session timers), OPTIONS, REGISTER, transfers (REFER,
//!   RFC 3515) and `message-summary` subscriptions (RFC 6665, RFC 3842). As UAC: outbound
//!   legs (INVITE with digest answers, CANCEL, ACK of 2xx, RFC 6026 retransmissions and forks)
//!   and registrations with upstream registrars (REGISTER with refresh and backoff).
//!
//! # What it does not do
//! No sockets, no clock, no threads, no global randomness: bytes, time (`now: Instant`) and an
//! RNG go in; bytes to send, events and the next deadline come out. The `herald` binary owns
//! the I/O. No SDP either: bodies are opaque here and negotiated by `herald-sdp`. No DNS or
//! routing: an outbound leg or upstream registration names the address (or connection) its
//! requests go to. No proxying: a B2BUA bridges two legs with two dialogs.

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod framing;
pub mod message;
pub mod registrar;
pub mod transaction;
pub mod uas;
