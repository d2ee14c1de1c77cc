//! The RFC 3261 §17 transaction layer, with the RFC 6026 corrections for 2xx responses.
//!
//! # What it does
//!
//! A SIP transaction is one request and the responses to it. This module holds the four
//! transaction state machines of RFC 3261 §17 as two types:
//!
//! * [`ClientTransaction`]: we sent the request. INVITE (Figure 5 as amended by RFC 6026,
//!   with the `Accepted` state) and non-INVITE (Figure 6).
//! * [`ServerTransaction`]: we received the request. INVITE (Figure 7 as amended by RFC 6026)
//!   and non-INVITE (Figure 8).
//!
//! and around them:
//!
//! * [`Transactions`], a table that owns thousands of live transactions, matches messages to
//!   them by [`TransactionKey`] (RFC 3261 §17.1.3 and §17.2.3, with the RFC 2543 fallback),
//!   multiplexes their timers and removes them when they terminate.
//! * [`Retransmit2xx`], the UAS core's retransmission of a 2xx to INVITE until the ACK arrives
//!   (RFC 3261 §13.3.1.4). Since RFC 6026 the INVITE server transaction no longer does this.
//!
//! Each machine retransmits on unreliable transports, absorbs retransmissions from the peer,
//! builds nothing and parses nothing: it is generic over an opaque message type `M` that it
//! stores and hands back for (re)transmission, and it only ever looks at the status code
//! (`u16`) that the caller read out of a response.
//!
//! # What it does not do
//!
//! * No parsing, serializing or message building. The caller matches a message to a
//!   transaction (it builds the [`TransactionKey`] from the fields it parsed) and builds the ACK
//!   for a non-2xx final response when asked to ([`Output::BuildAck`]).
//! * No I/O and no clock. [`Output::Transmit`] says "send this on the transaction's
//!   transport"; the transport, address and connection are the caller's business.
//! * No TU logic: no 100 Trying after 200 ms, no CANCEL generation, no dialog state, no
//!   sending of ACK for 2xx (the UAC core does that, see RFC 3261 §13.2.2.4).
//! * No proxy behaviour (Timer C).
//!
//! # Run loop
//!
//! Every machine, and the table, follow the same sans-IO shape:
//!
//! ```text
//! loop {
//!     // 1. feed inputs: handle_response / handle_ack / respond / handle_transport_error ...
//!     // 2. drain outputs:
//!     while let Some(out) = tx.poll_output() { /* Transmit -> socket, Response -> TU, ... */ }
//!     // 3. sleep until the next input or until `tx.poll_timeout()`, then:
//!     tx.handle_timeout(now);
//! }
//! ```
//!
//! Drain outputs after every input: a [`Output::BuildAck`] must be answered with `set_ack`
//! before the next `handle_timeout`, because on a reliable transport Timer D is zero and the
//! transaction terminates at the next timeout call.
//!
//! # Time
//!
//! Time is an argument: every call that can start, stop or fire a timer takes `now: Instant`.
//! Nothing here reads a clock or sleeps, so tests drive 32-second timers in virtual time.
//! A timer of zero (Timer D, I, J, K on reliable transports) is due at the `now` it was set,
//! so [`poll_timeout`](ClientTransaction::poll_timeout) returns `now` and the transition happens
//! at the next `handle_timeout(now)`: the caller always gets to drain the outputs first.
//! `handle_timeout` fires every timer whose deadline is at or before `now`, earliest first;
//! retransmission timers are rearmed relative to `now`, so a late call produces one
//! retransmission, not a burst. Instants that would overflow are treated as "never".
//!
//! # Messages
//!
//! `M` is cloned once per (re)transmission, so make it cheap to clone (`bytes::Bytes`, an
//! `Arc`, or a small handle). A client transaction keeps its request (and its ACK); a server
//! transaction keeps its most recent provisional or non-2xx final response.

mod client;
mod key;
mod retransmit_2xx;
mod server;
mod table;
mod timer;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub use client::{ClientState, ClientTransaction, InviteClientState, NonInviteClientState};
pub use key::{
    ClientKey, LegacyServerKey, MAGIC_COOKIE, RequestIdentity, ServerKey, TransactionKey,
};
pub use retransmit_2xx::{Retransmit2xx, Retransmit2xxOutput, Retransmit2xxState};
pub use server::{InviteServerState, NonInviteServerState, ServerState, ServerTransaction};
pub use table::{TableError, TransactionId, Transactions};

/// The base timer values of RFC 3261 §17.1.1.1 and Table 4. Every other timer derives from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip time estimate; first retransmission interval. Default 500 ms.
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses. Default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network. Default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64*T1: Timers B, F, H, J (unreliable), L and M, and the 2xx retransmission give-up.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D on an unreliable transport: "at least 32 seconds" (RFC 3261 §17.1.1.2). We use
    /// the larger of 32 s and 64*T1, so that with a large T1 the ACK still answers every
    /// retransmission the server can send before its Timer H.
    pub fn timer_d(&self) -> Duration {
        Duration::from_secs(32).max(self.transaction_timeout())
    }

    /// The n-th retransmission interval of a doubling timer: `T1 * 2^n`, capped at `cap`.
    /// Never below [`MIN_RETRANSMIT_INTERVAL`].
    pub(crate) fn backoff(&self, retransmissions: u8, cap: Option<Duration>) -> Duration {
        let factor = 1u32
            .checked_shl(u32::from(retransmissions))
            .unwrap_or(u32::MAX);
        let interval = self.t1.saturating_mul(factor);
        let capped = match cap {
            Some(cap) => interval.min(cap),
            None => interval,
        };
        capped.max(MIN_RETRANSMIT_INTERVAL)
    }
}

/// The shortest retransmission interval, whatever the configuration says: a zero T1 or T2
/// would otherwise make a retransmission timer due again at the instant it fired.
pub const MIN_RETRANSMIT_INTERVAL: Duration = Duration::from_millis(1);

impl TimerConfig {
    /// T2, the fixed Timer E interval in the non-INVITE `Proceeding` state.
    pub(crate) fn t2_interval(&self) -> Duration {
        self.t2.max(MIN_RETRANSMIT_INTERVAL)
    }
}

/// Whether the transport under a transaction retransmits for us (TCP, TLS, SCTP, WebSocket)
/// or not (UDP). It decides whether Timers A, E and G run and whether D, I, J, K are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reliability {
    /// UDP: the transaction layer retransmits and lingers to absorb retransmissions.
    Unreliable,
    /// TCP, TLS, SCTP, WebSocket: no retransmissions, no lingering.
    Reliable,
}

impl Reliability {
    /// `duration` on an unreliable transport, zero on a reliable one.
    pub(crate) fn linger(self, duration: Duration) -> Duration {
        match self {
            Reliability::Unreliable => duration,
            Reliability::Reliable => Duration::ZERO,
        }
    }
}

/// Which pair of state machines a transaction runs. ACK never starts a transaction (it belongs
/// to the INVITE transaction for non-2xx responses, and to no transaction for 2xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionKind {
    /// INVITE: three-way handshake, ACK for non-2xx final responses.
    Invite,
    /// Every other method except ACK.
    NonInvite,
}

impl TransactionKind {
    /// The kind of transaction a request with this method starts. Method names are
    /// case-sensitive (RFC 3261 §7.1).
    pub fn for_method(method: &str) -> Self {
        if method == "INVITE" {
            TransactionKind::Invite
        } else {
            TransactionKind::NonInvite
        }
    }
}

/// What a transaction asks of its caller, drained with `poll_output`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<M> {
    /// Send this message (request, ACK or response) on the transaction's transport.
    Transmit(M),
    /// Client transactions: pass this response to the TU.
    Response {
        /// The status code the caller read from the response.
        status: u16,
        /// The response, as handed to `handle_response`.
        response: M,
    },
    /// INVITE server transaction in `Accepted` (RFC 6026): pass this ACK to the TU.
    Ack(M),
    /// INVITE client transaction: build the ACK for this 300-699 response (RFC 3261 §17.1.1.3,
    /// from the original request and this response) and hand it to `set_ack`. Asked once;
    /// retransmissions of the final response then re-send that ACK without involving the TU.
    BuildAck {
        /// The final status being acknowledged.
        status: u16,
        /// A copy of the final response (its To tag goes into the ACK).
        response: M,
    },
    /// Timer B, F or H fired (or the 64*T1 guard after a CANCEL): tell the TU the transaction
    /// failed. A client TU treats it as a 408 (RFC 3261 §8.1.3.1).
    Timeout,
    /// The caller reported a transport failure; tell the TU (RFC 3261 §17.1.4, §17.2.4).
    TransportError,
    /// The transaction reached `Terminated`; it produces nothing more and can be dropped.
    Terminated,
}

/// The caller used a transaction in a way its state machine does not allow. Nothing was sent
/// and the state did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// A status code outside 100..=699.
    #[error("status code {0} is outside 100..=699")]
    InvalidStatus(u16),
    /// The transaction already sent a final response (or terminated) and this response is not
    /// allowed now (only further 2xx are, in the INVITE `Accepted` state).
    #[error("the transaction cannot send a {0} response in its current state")]
    ResponseNotAllowed(u16),
    /// `set_ack` on a transaction that did not ask for an ACK with [`Output::BuildAck`].
    #[error("the transaction is not waiting for an ACK")]
    NotAwaitingAck,
}

/// A status code a transaction accepts: 100..=699.
pub(crate) fn valid_status(status: u16) -> bool {
    (100..=699).contains(&status)
}

/// `now + duration`, or `None` ("never") if the instant is not representable.
pub(crate) fn deadline(now: Instant, duration: Duration) -> Option<Instant> {
    now.checked_add(duration)
}
