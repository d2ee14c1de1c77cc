//! Server transactions: RFC 3261 §17.2, with the RFC 6026 `Accepted` state for INVITE.

use std::collections::VecDeque;
use std::time::Instant;

use super::timer::{Timer, TimerTable};
use super::{
    Output, Reliability, TimerConfig, TransactionKind, UsageError, deadline, valid_status,
};

/// The INVITE server transaction (RFC 3261 Figure 7 as amended by RFC 6026 Figure 7).
///
/// Since RFC 6026 a 2xx does not terminate the transaction: it moves to `Accepted` for Timer L
/// (64*T1), absorbing retransmitted INVITEs (which would otherwise look like new calls) and
/// passing further 2xx from the TU through. Retransmitting the 2xx until the ACK arrives is the
/// UAS core's job ([`Retransmit2xx`](super::Retransmit2xx)). A transport error informs the TU
/// but does not end the transaction; its timers do (RFC 6026 §7.1).
///
/// ```text
///                                |INVITE
///                                |pass INV to TU
///             INVITE             V send 100 if TU won't in 200 ms
///             send response +------------+
///                 +---------|            |--------+ 101-199 from TU
///                 |         | Proceeding |        | send response
///                 +-------->|            |<-------+
///                           +------------+
///                  300-699 from TU |   | 2xx from TU
///                  send response   |   | send response
///                      +-----------+   +--------------------+
///                      |                                    |
///   INVITE             V          Timer G fires             |
///   send response +-----------+   send response             |
///       +---------|           |---------+                   |
///       |         | Completed |         |                   V
///       +-------->|           |<--------+  INVITE     +-----------+
///                 +-----------+            -          |           |---+ 2xx from TU
///                   |       |           +-------------|  Accepted |   | send response
///     Timer H fires |       | ACK       |             |           |<--+
///     inform TU     |       | -         +------------>|           |---+ ACK
///                   |       V                         +-----------+   | to TU
///                   |  +-----------+                     |    ^-------+
///                   |  |           |---+ ACK             |
///                   |  | Confirmed |   | -               | Timer L fires
///                   |  |           |<--+                 | -
///                   |  +-----------+                     |
///                   |       | Timer I fires              |
///                   |       | -                          |
///                   V       V                            V
///                 +--------------------------------------------+
///                 |                 Terminated                 |
///                 +--------------------------------------------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InviteServerState {
    /// INVITE passed to the TU; provisional responses are re-sent on INVITE retransmissions.
    Proceeding,
    /// A 300-699 was sent; Timer G retransmits it (unreliable) until the ACK, Timer H gives up.
    Completed,
    /// The ACK arrived; further ACKs are absorbed until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026); INVITE retransmissions are absorbed until Timer L.
    Accepted,
    /// Done; the transaction produces nothing more.
    Terminated,
}

/// The non-INVITE server transaction (RFC 3261 Figure 8).
///
/// ```text
///                                   |Request received
///                                   |pass to TU
///                                   V
///                             +-----------+
///                             |           |
///                             | Trying    |-------------+
///                             |           |             |
///                             +-----------+             |200-699 from TU
///                                   |                   |send response
///                                   |1xx from TU        |
///                                   |send response      |
///                                   |                   |
///                Request            V      1xx from TU  |
///                send response+-----------+send response|
///                    +--------|           |--------+    |
///                    |        | Proceeding|        |    |
///                    +------->|           |<-------+    |
///             +<--------------|           |             |
///             |Trnsprt Err    +-----------+             |
///             |Inform TU            |                   |
///             |                     |                   |
///             |                     |200-699 from TU    |
///             |                     |send response      |
///             |  Request            V                   |
///             |  send response+-----------+             |
///             |      +--------|           |             |
///             |      |        | Completed |<------------+
///             |      +------->|           |
///             +<--------------|           |
///             |Trnsprt Err    +-----------+
///             |Inform TU            |
///             |                     |Timer J fires
///             |                     |-
///             |                     V
///             |               +-----------+
///             +-------------->| Terminated|
///                             +-----------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NonInviteServerState {
    /// Request passed to the TU, nothing sent yet; retransmissions are discarded.
    Trying,
    /// A provisional response was sent; retransmissions re-send it.
    Proceeding,
    /// A final response was sent; retransmissions re-send it until Timer J.
    Completed,
    /// Done; the transaction produces nothing more.
    Terminated,
}

/// The state of a server transaction, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// An INVITE server transaction.
    Invite(InviteServerState),
    /// A non-INVITE server transaction.
    NonInvite(NonInviteServerState),
}

impl ServerState {
    /// Whether the machine reached `Terminated`.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            ServerState::Invite(InviteServerState::Terminated)
                | ServerState::NonInvite(NonInviteServerState::Terminated)
        )
    }
}

/// A server transaction: sends the TU's responses, answers request retransmissions with the
/// last response, retransmits non-2xx final responses to INVITE until the ACK, and lingers.
///
/// The request itself is not stored: the caller passes it to the TU when it creates the
/// transaction.
#[derive(Clone, Debug)]
pub struct ServerTransaction<M> {
    state: ServerState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable,
    /// Timer G retransmissions sent so far, for the backoff.
    retransmissions: u8,
    /// The most recent provisional or (non-2xx, for INVITE) final response.
    last_response: Option<M>,
    outputs: VecDeque<Output<M>>,
}

impl<M: Clone> ServerTransaction<M> {
    /// Starts a server transaction for a request the caller is passing to the TU.
    pub fn new(
        kind: TransactionKind,
        reliability: Reliability,
        config: TimerConfig,
        _now: Instant,
    ) -> Self {
        let state = match kind {
            TransactionKind::Invite => ServerState::Invite(InviteServerState::Proceeding),
            TransactionKind::NonInvite => ServerState::NonInvite(NonInviteServerState::Trying),
        };
        Self {
            state,
            reliability,
            config,
            timers: TimerTable::default(),
            retransmissions: 0,
            last_response: None,
            outputs: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// How many times Timer G re-sent the final response.
    pub fn retransmissions(&self) -> u8 {
        self.retransmissions
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output<M>> {
        self.outputs.pop_front()
    }

    /// The TU sends a response. It is queued as [`Output::Transmit`] unless the state machine
    /// forbids it, in which case nothing changes.
    pub fn respond(&mut self, status: u16, response: M, now: Instant) -> Result<(), UsageError> {
        if !valid_status(status) {
            return Err(UsageError::InvalidStatus(status));
        }
        match self.state {
            ServerState::Invite(state) => self.invite_respond(state, status, response, now),
            ServerState::NonInvite(state) => self.non_invite_respond(state, status, response, now),
        }
    }

    /// The request was received again (it matched this transaction, RFC 3261 §17.2.3). It is
    /// absorbed, never passed to the TU; the last response, if any, is re-sent.
    pub fn handle_request_retransmission(&mut self, _now: Instant) {
        use InviteServerState as I;
        use NonInviteServerState as N;
        match self.state {
            ServerState::Invite(I::Proceeding | I::Completed)
            | ServerState::NonInvite(N::Proceeding | N::Completed) => {
                if let Some(response) = &self.last_response {
                    self.outputs.push_back(Output::Transmit(response.clone()));
                }
            }
            ServerState::Invite(I::Confirmed | I::Accepted | I::Terminated)
            | ServerState::NonInvite(N::Trying | N::Terminated) => {}
        }
    }

    /// An ACK matched this transaction. In `Completed` it confirms the non-2xx final response;
    /// in `Accepted` it goes to the TU ([`Output::Ack`], RFC 6026); elsewhere it is absorbed.
    pub fn handle_ack(&mut self, ack: M, now: Instant) {
        match self.state {
            ServerState::Invite(InviteServerState::Completed) => {
                self.timers.stop_all();
                let timer_i = self.reliability.linger(self.config.t4);
                self.timers.set(Timer::Linger, deadline(now, timer_i));
                self.state = ServerState::Invite(InviteServerState::Confirmed);
            }
            ServerState::Invite(InviteServerState::Accepted) => {
                self.outputs.push_back(Output::Ack(ack));
            }
            _ => {}
        }
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            self.fire(timer, now);
        }
    }

    /// The transport failed to send a response. The TU is told. A non-INVITE transaction
    /// ends (RFC 3261 §17.2.4); an INVITE transaction stays in its state and lets its timers
    /// end it (RFC 6026 §7.1).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            ServerState::Invite(InviteServerState::Terminated)
            | ServerState::NonInvite(NonInviteServerState::Terminated) => {}
            ServerState::Invite(_) => self.outputs.push_back(Output::TransportError),
            ServerState::NonInvite(_) => {
                self.outputs.push_back(Output::TransportError);
                self.terminate();
            }
        }
    }

    fn invite_respond(
        &mut self,
        state: InviteServerState,
        status: u16,
        response: M,
        now: Instant,
    ) -> Result<(), UsageError> {
        use InviteServerState::*;
        match (state, status) {
            (Proceeding, 100..=199) => self.send_and_keep(response),
            (Proceeding, 200..=299) => {
                // Not kept: in Accepted, INVITE retransmissions are absorbed, not answered.
                self.last_response = None;
                self.outputs.push_back(Output::Transmit(response));
                let timer_l = deadline(now, self.config.transaction_timeout());
                self.timers.set(Timer::Linger, timer_l);
                self.state = ServerState::Invite(Accepted);
            }
            (Proceeding, _) => {
                self.send_and_keep(response);
                if self.reliability == Reliability::Unreliable {
                    self.timers
                        .set(Timer::Retransmit, deadline(now, self.config.t1));
                }
                let timer_h = deadline(now, self.config.transaction_timeout());
                self.timers.set(Timer::Timeout, timer_h);
                self.state = ServerState::Invite(Completed);
            }
            // RFC 6026: the TU's 2xx retransmissions (and 2xx it sends late) pass through.
            (Accepted, 200..=299) => self.outputs.push_back(Output::Transmit(response)),
            (Completed | Confirmed | Accepted | Terminated, _) => {
                return Err(UsageError::ResponseNotAllowed(status));
            }
        }
        Ok(())
    }

    fn non_invite_respond(
        &mut self,
        state: NonInviteServerState,
        status: u16,
        response: M,
        now: Instant,
    ) -> Result<(), UsageError> {
        use NonInviteServerState::*;
        match (state, status) {
            (Trying | Proceeding, 100..=199) => {
                self.send_and_keep(response);
                self.state = ServerState::NonInvite(Proceeding);
            }
            (Trying | Proceeding, _) => {
                self.send_and_keep(response);
                let timer_j = self.reliability.linger(self.config.transaction_timeout());
                self.timers.set(Timer::Linger, deadline(now, timer_j));
                self.state = ServerState::NonInvite(Completed);
            }
            (Completed | Terminated, _) => return Err(UsageError::ResponseNotAllowed(status)),
        }
        Ok(())
    }

    fn send_and_keep(&mut self, response: M) {
        self.outputs.push_back(Output::Transmit(response.clone()));
        self.last_response = Some(response);
    }

    fn fire(&mut self, timer: Timer, now: Instant) {
        let completed = self.state == ServerState::Invite(InviteServerState::Completed);
        match timer {
            Timer::Retransmit if completed => {
                if let Some(response) = &self.last_response {
                    self.outputs.push_back(Output::Transmit(response.clone()));
                }
                self.retransmissions = self.retransmissions.saturating_add(1);
                let interval = self
                    .config
                    .backoff(self.retransmissions, Some(self.config.t2));
                self.timers.set(Timer::Retransmit, deadline(now, interval));
            }
            Timer::Timeout => {
                self.outputs.push_back(Output::Timeout);
                self.terminate();
            }
            Timer::Linger => self.terminate(),
            Timer::Retransmit => {}
        }
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.last_response = None;
        self.state = match self.state {
            ServerState::Invite(_) => ServerState::Invite(InviteServerState::Terminated),
            ServerState::NonInvite(_) => ServerState::NonInvite(NonInviteServerState::Terminated),
        };
        self.outputs.push_back(Output::Terminated);
    }
}
