//! The UAS core's retransmission of a 2xx response to INVITE (RFC 3261 §13.3.1.4, RFC 6026).
//!
//! A 2xx to INVITE is retransmitted end to end by the UAS core, not by the INVITE server
//! transaction, until the ACK (a separate, end-to-end request) arrives. The dialog layer runs
//! one [`Retransmit2xx`] per 2xx it sends.
//!
//! It runs on reliable transports too: "Since 2xx is retransmitted end-to-end, there may be
//! hops between UAS and UAC that are UDP. To ensure reliable delivery across these hops, the
//! response is retransmitted periodically even if the transport at the UAS is reliable"
//! (RFC 3261 §13.3.1.4). This is why the constructor takes no [`Reliability`].
//!
//! [`Reliability`]: super::Reliability

use std::collections::VecDeque;
use std::time::Instant;

use super::timer::{Timer, TimerTable};
use super::{TimerConfig, deadline};

/// The state of a [`Retransmit2xx`].
///
/// ```text
///               2xx sent (by the INVITE server transaction)
///                    |
///   T1, 2*T1, ... T2 V
///   send 2xx   +-----------+    ACK     +-------+
///      +-------|  Waiting  |----------->| Acked |
///      +------>|           |            +-------+
///              +-----------+
///                    | 64*T1 without ACK
///                    | AckTimeout (send BYE)
///                    V
///              +-----------+
///              | TimedOut  |
///              +-----------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retransmit2xxState {
    /// Retransmitting, waiting for the ACK.
    Waiting,
    /// The ACK arrived.
    Acked,
    /// 64*T1 passed without an ACK; the dialog layer should end the session with BYE.
    TimedOut,
}

/// What a [`Retransmit2xx`] asks of the dialog layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retransmit2xxOutput<M> {
    /// Send the 2xx again (directly to the transport, or through the server transaction while
    /// it is in `Accepted`).
    Transmit(M),
    /// No ACK within 64*T1: the dialog is confirmed but the session should be terminated with
    /// a BYE (RFC 3261 §13.3.1.4).
    AckTimeout,
}

/// Retransmits a 2xx to INVITE at T1, 2*T1, 4*T1, ... capped at T2 until
/// [`handle_ack`](Self::handle_ack), and reports [`Retransmit2xxOutput::AckTimeout`] after 64*T1.
#[derive(Clone, Debug)]
pub struct Retransmit2xx<M> {
    state: Retransmit2xxState,
    config: TimerConfig,
    timers: TimerTable,
    retransmissions: u8,
    /// The 2xx; dropped once the machine stops.
    response: Option<M>,
    outputs: VecDeque<Retransmit2xxOutput<M>>,
}

impl<M: Clone> Retransmit2xx<M> {
    /// Starts retransmitting `response`, whose first transmission happened at `now`.
    pub fn new(response: M, config: TimerConfig, now: Instant) -> Self {
        let mut timers = TimerTable::default();
        timers.set(
            Timer::Retransmit,
            deadline(now, config.backoff(0, Some(config.t2))),
        );
        timers.set(Timer::Timeout, deadline(now, config.transaction_timeout()));
        Self {
            state: Retransmit2xxState::Waiting,
            config,
            timers,
            retransmissions: 0,
            response: Some(response),
            outputs: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> Retransmit2xxState {
        self.state
    }

    /// How many retransmissions were asked for so far.
    pub fn retransmissions(&self) -> u8 {
        self.retransmissions
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Retransmit2xxOutput<M>> {
        self.outputs.pop_front()
    }

    /// The ACK for this 2xx arrived. Returns whether it stopped the retransmissions (`false`
    /// for a retransmitted ACK, or one after the timeout).
    pub fn handle_ack(&mut self, _now: Instant) -> bool {
        if self.state != Retransmit2xxState::Waiting {
            return false;
        }
        self.stop(Retransmit2xxState::Acked);
        true
    }

    /// Fires the timers due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::Timeout => {
                    self.outputs.push_back(Retransmit2xxOutput::AckTimeout);
                    self.stop(Retransmit2xxState::TimedOut);
                }
                Timer::Retransmit => self.retransmit(now),
                Timer::Linger => {}
            }
        }
    }

    fn retransmit(&mut self, now: Instant) {
        let Some(response) = &self.response else {
            return;
        };
        self.outputs
            .push_back(Retransmit2xxOutput::Transmit(response.clone()));
        self.retransmissions = self.retransmissions.saturating_add(1);
        let interval = self
            .config
            .backoff(self.retransmissions, Some(self.config.t2));
        self.timers.set(Timer::Retransmit, deadline(now, interval));
    }

    fn stop(&mut self, state: Retransmit2xxState) {
        self.timers.stop_all();
        self.response = None;
        self.state = state;
    }
}
