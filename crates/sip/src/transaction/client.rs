//! Client transactions: RFC 3261 §17.1, with the RFC 6026 `Accepted` state for INVITE.

use std::collections::VecDeque;
use std::time::Instant;

use super::timer::{Timer, TimerTable};
use super::{
    Output, Reliability, TimerConfig, TransactionKind, UsageError, deadline, valid_status,
};

/// The INVITE client transaction (RFC 3261 Figure 5 as amended by RFC 6026 Figure 5).
///
/// A 2xx moves the transaction to `Accepted` rather than `Terminated` (RFC 6026): it stays for
/// Timer M (64*T1) so that retransmitted 2xx, and 2xx from other forks, still match it and reach
/// the TU instead of looking like stray responses. Timer B only runs in `Calling`; in
/// `Proceeding` the TU ends the transaction by sending a CANCEL (see
/// [`ClientTransaction::handle_cancel_sent`]).
///
/// ```text
///                                |INVITE from TU
///              Timer A fires     |INVITE sent      Timer B fires
///              Reset A,          V                 or Transport Err.
///              INVITE sent +-----------+           inform TU
///                +---------|           |--------------------------+
///                |         |  Calling  |                          |
///                +-------->|           |-----------+              |
///   300-699                +-----------+ 2xx       |              |
///   ACK sent                  |  |       2xx to TU |              |
///   resp. to TU               |  |1xx              |              |
///   +-------------------------+  |1xx to TU        |              |
///   |                            V                 |              |
///   |          1xx       +------------+            |              |
///   |          1xx to TU |            |            |              |
///   |            +-------| Proceeding |---------+  |              |
///   |            +------>|            | 2xx     |  |              |
///   |                    +------------+ 2xx     |  |              |
///   |   300-699             |           to TU   |  |              |
///   |   ACK sent,           |                   V  V              |
///   |   resp. to TU         |               +----------+          |
///   +---------------------->|               |          |---+ 2xx  |
///                           V               | Accepted |   | 2xx  |
///   300-699          +-----------+          |          |<--+ to TU|
///   ACK sent  +------|           |          +----------+          |
///             |      | Completed |               |                |
///             +----->|           |               | Timer M fires  |
///                    +-----------+               | -              |
///                       |  | Timer D fires       |                |
///        Transport Err. |  | -                   |                |
///        inform TU      V  V                     V                |
///                    +----------------------------------+         |
///                    |            Terminated            |<--------+
///                    +----------------------------------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InviteClientState {
    /// INVITE sent, no response yet; Timer A retransmits (unreliable), Timer B gives up.
    Calling,
    /// A provisional response arrived; no retransmissions, no timeout.
    Proceeding,
    /// A 2xx arrived (RFC 6026); further 2xx go to the TU until Timer M.
    Accepted,
    /// A 300-699 arrived and was ACKed; retransmissions re-send the ACK until Timer D.
    Completed,
    /// Done; the transaction produces nothing more.
    Terminated,
}

/// The non-INVITE client transaction (RFC 3261 Figure 6).
///
/// ```text
///                                    |Request from TU
///                                    |send request
///                Timer E             V
///                send request  +-----------+
///                    +---------|           |-------------------+
///                    |         |  Trying   |  Timer F          |
///                    +-------->|           |  or Transport Err.|
///                              +-----------+  inform TU        |
///                 200-699         |  |                         |
///                 resp. to TU     |  |1xx                      |
///                 +---------------+  |resp. to TU             |
///                 |                  |                         |
///                 |   Timer E        V       Timer F           |
///                 |   send req +-----------+ or Transport Err. |
///                 |  +---------|           | inform TU         |
///                 |  |         |Proceeding |------------------>|
///                 |  +-------->|           |-----+             |
///                 |            +-----------+     |1xx          |
///                 |              |      ^        |resp to TU   |
///                 | 200-699      |      +--------+             |
///                 | resp. to TU  |                             |
///                 |              V                             |
///                 |            +-----------+                   |
///                 |            |           |                   |
///                 |            | Completed |                   |
///                 |            |           |                   |
///                 |            +-----------+                   |
///                 |              ^   |                         |
///                 |              |   | Timer K                 |
///                 +--------------+   | -                       |
///                                    V                         |
///                              +-----------+                   |
///                              | Terminated|<------------------+
///                              +-----------+
/// ```
///
/// Timer E doubles from T1 up to T2 in `Trying`; once in `Proceeding` it is rearmed with T2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NonInviteClientState {
    /// Request sent, no response yet; Timer E retransmits (unreliable), Timer F gives up.
    Trying,
    /// A provisional response arrived; Timer E keeps retransmitting every T2.
    Proceeding,
    /// A final response arrived; further responses are absorbed until Timer K.
    Completed,
    /// Done; the transaction produces nothing more.
    Terminated,
}

/// The state of a client transaction, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientState {
    /// An INVITE client transaction.
    Invite(InviteClientState),
    /// A non-INVITE client transaction.
    NonInvite(NonInviteClientState),
}

impl ClientState {
    /// Whether the machine reached `Terminated`.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            ClientState::Invite(InviteClientState::Terminated)
                | ClientState::NonInvite(NonInviteClientState::Terminated)
        )
    }
}

/// A client transaction: sends one request, retransmits it on unreliable transports, matches
/// the responses, ACKs non-2xx final responses to INVITE, and times out.
///
/// Created in `Calling` (INVITE) or `Trying` with the request already queued as
/// [`Output::Transmit`].
#[derive(Clone, Debug)]
pub struct ClientTransaction<M> {
    state: ClientState,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable,
    /// Retransmissions sent so far, for the Timer A / E backoff.
    retransmissions: u8,
    request: M,
    /// The ACK for a 300-699 response to INVITE, once the caller built it.
    ack: Option<M>,
    /// Whether [`Output::BuildAck`] was emitted (and `ack` may be set).
    ack_requested: bool,
    outputs: VecDeque<Output<M>>,
}

impl<M: Clone> ClientTransaction<M> {
    /// Starts a client transaction for `request` and queues its first transmission.
    pub fn new(
        kind: TransactionKind,
        request: M,
        reliability: Reliability,
        config: TimerConfig,
        now: Instant,
    ) -> Self {
        let state = match kind {
            TransactionKind::Invite => ClientState::Invite(InviteClientState::Calling),
            TransactionKind::NonInvite => ClientState::NonInvite(NonInviteClientState::Trying),
        };
        let mut tx = Self {
            state,
            reliability,
            config,
            timers: TimerTable::default(),
            retransmissions: 0,
            outputs: VecDeque::from([Output::Transmit(request.clone())]),
            request,
            ack: None,
            ack_requested: false,
        };
        if reliability == Reliability::Unreliable {
            tx.timers.set(Timer::Retransmit, deadline(now, config.t1));
        }
        tx.timers
            .set(Timer::Timeout, deadline(now, config.transaction_timeout()));
        tx
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The request this transaction sends (to build a CANCEL or an ACK from).
    pub fn request(&self) -> &M {
        &self.request
    }

    /// How many times the request was retransmitted (not counting the first transmission).
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

    /// A response matched this transaction (RFC 3261 §17.1.3). `status` outside 100..=699 is
    /// ignored. The response reaches the TU as [`Output::Response`] unless it is absorbed as a
    /// retransmission.
    pub fn handle_response(&mut self, status: u16, response: M, now: Instant) {
        if !valid_status(status) {
            return;
        }
        match self.state {
            ClientState::Invite(state) => self.invite_response(state, status, response, now),
            ClientState::NonInvite(state) => self.non_invite_response(state, status, response, now),
        }
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            self.fire(timer, now);
        }
    }

    /// The transport failed to send this transaction's request or ACK: the TU is told and the
    /// transaction ends (RFC 3261 §17.1.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if !self.state.is_terminated() {
            self.outputs.push_back(Output::TransportError);
            self.terminate();
        }
    }

    /// The ACK the caller built after [`Output::BuildAck`]. It is sent now and re-sent for
    /// every retransmission of the final response.
    pub fn set_ack(&mut self, ack: M) -> Result<(), UsageError> {
        let completed = self.state == ClientState::Invite(InviteClientState::Completed);
        if !completed || !self.ack_requested || self.ack.is_some() {
            return Err(UsageError::NotAwaitingAck);
        }
        self.outputs.push_back(Output::Transmit(ack.clone()));
        self.ack = Some(ack);
        Ok(())
    }

    /// The TU sent a CANCEL for this INVITE. If no final response arrives within 64*T1 the
    /// transaction times out (RFC 3261 §9.1), so that a peer that never answers does not keep
    /// it in `Proceeding` forever. No effect in other states.
    pub fn handle_cancel_sent(&mut self, now: Instant) {
        let proceeding = self.state == ClientState::Invite(InviteClientState::Proceeding);
        if proceeding && !self.timers.is_armed(Timer::Timeout) {
            let guard = deadline(now, self.config.transaction_timeout());
            self.timers.set(Timer::Timeout, guard);
        }
    }

    fn invite_response(
        &mut self,
        state: InviteClientState,
        status: u16,
        response: M,
        now: Instant,
    ) {
        use InviteClientState::*;
        match (state, status) {
            (Calling | Proceeding, 100..=199) => {
                if state == Calling {
                    // Timers A and B only matter in Calling; the CANCEL guard may run later.
                    self.timers.stop(Timer::Retransmit);
                    self.timers.stop(Timer::Timeout);
                }
                self.state = ClientState::Invite(Proceeding);
                self.deliver(status, response);
            }
            (Calling | Proceeding, 200..=299) => {
                self.timers.stop_all();
                let timer_m = deadline(now, self.config.transaction_timeout());
                self.timers.set(Timer::Linger, timer_m);
                self.state = ClientState::Invite(Accepted);
                self.deliver(status, response);
            }
            (Calling | Proceeding, _) => {
                self.timers.stop_all();
                let timer_d = self.reliability.linger(self.config.timer_d());
                self.timers.set(Timer::Linger, deadline(now, timer_d));
                self.state = ClientState::Invite(Completed);
                self.ack_requested = true;
                let response_copy = response.clone();
                self.outputs.push_back(Output::BuildAck {
                    status,
                    response: response_copy,
                });
                self.deliver(status, response);
            }
            (Accepted, 200..=299) => self.deliver(status, response),
            (Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    self.outputs.push_back(Output::Transmit(ack.clone()));
                }
            }
            (Accepted | Completed | Terminated, _) => {}
        }
    }

    fn non_invite_response(
        &mut self,
        state: NonInviteClientState,
        status: u16,
        response: M,
        now: Instant,
    ) {
        use NonInviteClientState::*;
        match (state, status) {
            (Trying | Proceeding, 100..=199) => {
                self.state = ClientState::NonInvite(Proceeding);
                self.deliver(status, response);
            }
            (Trying | Proceeding, _) => {
                self.timers.stop_all();
                let timer_k = self.reliability.linger(self.config.t4);
                self.timers.set(Timer::Linger, deadline(now, timer_k));
                self.state = ClientState::NonInvite(Completed);
                self.deliver(status, response);
            }
            (Completed | Terminated, _) => {}
        }
    }

    fn fire(&mut self, timer: Timer, now: Instant) {
        match (timer, self.state) {
            (Timer::Retransmit, ClientState::Invite(InviteClientState::Calling)) => {
                self.retransmit(now, None);
            }
            (Timer::Retransmit, ClientState::NonInvite(NonInviteClientState::Trying)) => {
                self.retransmit(now, Some(self.config.t2));
            }
            (Timer::Retransmit, ClientState::NonInvite(NonInviteClientState::Proceeding)) => {
                self.outputs
                    .push_back(Output::Transmit(self.request.clone()));
                self.retransmissions = self.retransmissions.saturating_add(1);
                self.timers
                    .set(Timer::Retransmit, deadline(now, self.config.t2_interval()));
            }
            (Timer::Timeout, _) => {
                self.outputs.push_back(Output::Timeout);
                self.terminate();
            }
            (Timer::Linger, _) => self.terminate(),
            // A retransmission timer left over from a state that no longer retransmits.
            (Timer::Retransmit, _) => {}
        }
    }

    /// Timer A (no cap) or E in `Trying` (capped at T2): send again and double the interval.
    fn retransmit(&mut self, now: Instant, cap: Option<std::time::Duration>) {
        self.outputs
            .push_back(Output::Transmit(self.request.clone()));
        self.retransmissions = self.retransmissions.saturating_add(1);
        let interval = self.config.backoff(self.retransmissions, cap);
        self.timers.set(Timer::Retransmit, deadline(now, interval));
    }

    fn deliver(&mut self, status: u16, response: M) {
        self.outputs
            .push_back(Output::Response { status, response });
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = match self.state {
            ClientState::Invite(_) => ClientState::Invite(InviteClientState::Terminated),
            ClientState::NonInvite(_) => ClientState::NonInvite(NonInviteClientState::Terminated),
        };
        self.outputs.push_back(Output::Terminated);
    }
}
