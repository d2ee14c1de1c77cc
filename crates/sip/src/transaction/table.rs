//! [`Transactions`]: the table of live transactions of one endpoint.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::{
    ClientTransaction, Output, Reliability, ServerTransaction, TimerConfig, TransactionKey,
    TransactionKind, UsageError,
};

/// Names a live transaction in a [`Transactions`] table. Ids are not reused while the table
/// lives: a slot's generation changes when its transaction is removed, so an old id finds
/// nothing rather than a newer transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionId {
    index: u32,
    generation: u32,
}

/// Why a table operation was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// No live transaction has this id (it terminated or was removed).
    #[error("no such transaction")]
    UnknownTransaction,
    /// A live transaction already has this key.
    #[error("a transaction with this key already exists")]
    DuplicateKey,
    /// A client operation on a server transaction or key, or the reverse.
    #[error("the operation does not apply to this side of the transaction")]
    WrongSide,
    /// More than `u32::MAX` transaction slots.
    #[error("the transaction table is full")]
    Full,
    /// The state machine refused the operation.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

enum Machine<M> {
    Client(ClientTransaction<M>),
    Server(ServerTransaction<M>),
}

impl<M: Clone> Machine<M> {
    fn poll_output(&mut self) -> Option<Output<M>> {
        match self {
            Machine::Client(tx) => tx.poll_output(),
            Machine::Server(tx) => tx.poll_output(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::Client(tx) => tx.poll_timeout(),
            Machine::Server(tx) => tx.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Machine::Client(tx) => tx.handle_timeout(now),
            Machine::Server(tx) => tx.handle_timeout(now),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Machine::Client(tx) => tx.state().is_terminated(),
            Machine::Server(tx) => tx.state().is_terminated(),
        }
    }
}

struct Live<M> {
    key: TransactionKey,
    machine: Machine<M>,
    /// The deadline this transaction has in `Transactions::deadlines`, if any.
    scheduled: Option<Instant>,
}

struct Slot<M> {
    generation: u32,
    live: Option<Live<M>>,
}

/// Owns the live transactions of an endpoint: creates them, routes messages to them by
/// [`TransactionKey`], multiplexes their timers and removes them when they terminate.
///
/// Outputs of all transactions come out of one queue, tagged with the [`TransactionId`]. The
/// last output of a transaction is [`Output::Terminated`]; by then the table has already
/// removed it, so `client(id)` and friends answer `None`.
///
/// Timers: each transaction has at most one entry, its earliest deadline, in an ordered set of
/// `(deadline, id)`. A transaction's entry is replaced (O(log n)) whenever an input moves its
/// deadline, so [`poll_timeout`](Self::poll_timeout) is the exact minimum in O(log n) without
/// stale entries to skip, and [`handle_timeout`](Self::handle_timeout) visits only the
/// transactions that are due. Terminated transactions are removed as soon as they terminate.
pub struct Transactions<M> {
    config: TimerConfig,
    slots: Vec<Slot<M>>,
    free: Vec<u32>,
    by_key: HashMap<TransactionKey, TransactionId>,
    deadlines: BTreeSet<(Instant, TransactionId)>,
    outputs: VecDeque<(TransactionId, Output<M>)>,
    /// Scratch space for `handle_timeout`, kept to avoid allocating per call.
    due: Vec<TransactionId>,
}

impl<M: Clone> Transactions<M> {
    /// An empty table whose transactions use `config`.
    pub fn new(config: TimerConfig) -> Self {
        Self {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::new(),
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
            due: Vec::new(),
        }
    }

    /// How many transactions are live.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Starts a client transaction; its request comes out as the first [`Output::Transmit`].
    /// `key` must be a [`TransactionKey::Client`] built from the request's branch and method.
    pub fn start_client(
        &mut self,
        key: TransactionKey,
        kind: TransactionKind,
        request: M,
        reliability: Reliability,
        now: Instant,
    ) -> Result<TransactionId, TableError> {
        if key.is_server() {
            return Err(TableError::WrongSide);
        }
        let tx = ClientTransaction::new(kind, request, reliability, self.config, now);
        self.insert(key, Machine::Client(tx))
    }

    /// Starts a server transaction for a new request (one that [`handle_request`]
    /// did not match); the caller passes the request to the TU.
    ///
    /// [`handle_request`]: Self::handle_request
    pub fn start_server(
        &mut self,
        key: TransactionKey,
        kind: TransactionKind,
        reliability: Reliability,
        now: Instant,
    ) -> Result<TransactionId, TableError> {
        if !key.is_server() {
            return Err(TableError::WrongSide);
        }
        let tx = ServerTransaction::new(kind, reliability, self.config, now);
        self.insert(key, Machine::Server(tx))
    }

    /// The live transaction with this key.
    pub fn find(&self, key: &TransactionKey) -> Option<TransactionId> {
        self.by_key.get(key).copied()
    }

    /// The INVITE server transaction a CANCEL (given by its server key) targets (RFC 3261
    /// §9.2). The CANCEL itself gets its own non-INVITE server transaction.
    pub fn find_cancel_target(&self, cancel: &TransactionKey) -> Option<TransactionId> {
        self.find(&cancel.cancelled_invite()?)
    }

    /// The key of a live transaction.
    pub fn key(&self, id: TransactionId) -> Option<&TransactionKey> {
        self.live(id).map(|live| &live.key)
    }

    /// A live client transaction (to read its request when building an ACK or CANCEL).
    pub fn client(&self, id: TransactionId) -> Option<&ClientTransaction<M>> {
        match &self.live(id)?.machine {
            Machine::Client(tx) => Some(tx),
            Machine::Server(_) => None,
        }
    }

    /// A live server transaction.
    pub fn server(&self, id: TransactionId) -> Option<&ServerTransaction<M>> {
        match &self.live(id)?.machine {
            Machine::Server(tx) => Some(tx),
            Machine::Client(_) => None,
        }
    }

    /// Routes a response to the client transaction with `key`
    /// ([`TransactionKey::client`] of its top Via branch and CSeq method). Gives the response
    /// back if none matches: the caller hands it to the core (RFC 6026 §7.3: usually dropped).
    pub fn handle_response(
        &mut self,
        key: &TransactionKey,
        status: u16,
        response: M,
        now: Instant,
    ) -> Result<TransactionId, M> {
        let Some(id) = self.find(key) else {
            return Err(response);
        };
        match self.machine_mut(id) {
            Some(Machine::Client(tx)) => tx.handle_response(status, response, now),
            _ => return Err(response),
        }
        self.settle(id);
        Ok(id)
    }

    /// Routes a request other than ACK. `Some(id)`: it matched a live server transaction and
    /// was absorbed as a retransmission (the last response is re-sent); do not pass it to the
    /// TU. `None`: it is new; call [`start_server`](Self::start_server).
    pub fn handle_request(&mut self, key: &TransactionKey, now: Instant) -> Option<TransactionId> {
        let id = self.find(key)?;
        match self.machine_mut(id) {
            Some(Machine::Server(tx)) => tx.handle_request_retransmission(now),
            _ => return None,
        }
        self.settle(id);
        Some(id)
    }

    /// Routes an ACK (its server key maps ACK to INVITE). Gives the ACK back if no INVITE
    /// server transaction matches: it acknowledges a 2xx and belongs to the dialog layer.
    pub fn handle_ack(
        &mut self,
        key: &TransactionKey,
        ack: M,
        now: Instant,
    ) -> Result<TransactionId, M> {
        let Some(id) = self.find(key) else {
            return Err(ack);
        };
        match self.machine_mut(id) {
            Some(Machine::Server(tx)) => tx.handle_ack(ack, now),
            _ => return Err(ack),
        }
        self.settle(id);
        Ok(id)
    }

    /// The TU responds on a server transaction.
    pub fn respond(
        &mut self,
        id: TransactionId,
        status: u16,
        response: M,
        now: Instant,
    ) -> Result<(), TableError> {
        match self.machine_mut(id) {
            Some(Machine::Server(tx)) => tx.respond(status, response, now)?,
            Some(Machine::Client(_)) => return Err(TableError::WrongSide),
            None => return Err(TableError::UnknownTransaction),
        }
        self.settle(id);
        Ok(())
    }

    /// The ACK the caller built after [`Output::BuildAck`].
    pub fn set_ack(&mut self, id: TransactionId, ack: M) -> Result<(), TableError> {
        match self.machine_mut(id) {
            Some(Machine::Client(tx)) => tx.set_ack(ack)?,
            Some(Machine::Server(_)) => return Err(TableError::WrongSide),
            None => return Err(TableError::UnknownTransaction),
        }
        self.settle(id);
        Ok(())
    }

    /// The TU sent a CANCEL for this INVITE client transaction
    /// ([`ClientTransaction::handle_cancel_sent`]).
    pub fn handle_cancel_sent(
        &mut self,
        id: TransactionId,
        now: Instant,
    ) -> Result<(), TableError> {
        match self.machine_mut(id) {
            Some(Machine::Client(tx)) => tx.handle_cancel_sent(now),
            Some(Machine::Server(_)) => return Err(TableError::WrongSide),
            None => return Err(TableError::UnknownTransaction),
        }
        self.settle(id);
        Ok(())
    }

    /// The transport failed to send a message of this transaction.
    pub fn handle_transport_error(
        &mut self,
        id: TransactionId,
        now: Instant,
    ) -> Result<(), TableError> {
        match self.machine_mut(id) {
            Some(Machine::Client(tx)) => tx.handle_transport_error(now),
            Some(Machine::Server(tx)) => tx.handle_transport_error(now),
            None => return Err(TableError::UnknownTransaction),
        }
        self.settle(id);
        Ok(())
    }

    /// Fires the timers of every transaction due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            due.push(id);
        }
        for &id in &due {
            if let Some(live) = self.live_mut(id) {
                live.scheduled = None;
                live.machine.handle_timeout(now);
                self.settle(id);
            }
        }
        due.clear();
        self.due = due;
    }

    /// The earliest deadline of any live transaction.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// The next output of any transaction, in the order they were produced.
    pub fn poll_output(&mut self) -> Option<(TransactionId, Output<M>)> {
        self.outputs.pop_front()
    }

    /// Drops a transaction without further outputs (for instance when the TU gives up on an
    /// INVITE in `Proceeding`). Returns whether it was live.
    pub fn remove(&mut self, id: TransactionId) -> bool {
        let Some(slot) = self.slot_mut(id) else {
            return false;
        };
        let Some(live) = slot.live.take() else {
            return false;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.by_key.remove(&live.key);
        if let Some(at) = live.scheduled {
            self.deadlines.remove(&(at, id));
        }
        true
    }

    fn insert(
        &mut self,
        key: TransactionKey,
        machine: Machine<M>,
    ) -> Result<TransactionId, TableError> {
        if self.by_key.contains_key(&key) {
            return Err(TableError::DuplicateKey);
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).map_err(|_| TableError::Full)?;
                self.slots.push(Slot {
                    generation: 0,
                    live: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        let id = TransactionId {
            index,
            generation: slot.generation,
        };
        slot.live = Some(Live {
            key: key.clone(),
            machine,
            scheduled: None,
        });
        self.by_key.insert(key, id);
        self.settle(id);
        Ok(id)
    }

    /// After any input: moves the transaction's outputs to the table queue, updates its entry
    /// in the deadline set, and removes it if it terminated.
    fn settle(&mut self, id: TransactionId) {
        let Some(live) = live_in(&mut self.slots, id) else {
            return;
        };
        while let Some(output) = live.machine.poll_output() {
            self.outputs.push_back((id, output));
        }
        let terminated = live.machine.is_terminated();
        let next = live.machine.poll_timeout();
        let previous = std::mem::replace(&mut live.scheduled, next);
        if previous != next {
            reschedule(&mut self.deadlines, previous, next, id);
        }
        if terminated {
            self.remove(id);
        }
    }

    fn slot_mut(&mut self, id: TransactionId) -> Option<&mut Slot<M>> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|slot| slot.generation == id.generation)
    }

    fn live(&self, id: TransactionId) -> Option<&Live<M>> {
        let slot = self.slots.get(id.index as usize)?;
        slot.live
            .as_ref()
            .filter(|_| slot.generation == id.generation)
    }

    fn live_mut(&mut self, id: TransactionId) -> Option<&mut Live<M>> {
        live_in(&mut self.slots, id)
    }

    fn machine_mut(&mut self, id: TransactionId) -> Option<&mut Machine<M>> {
        self.live_mut(id).map(|live| &mut live.machine)
    }
}

/// The live transaction `id` names, borrowing only the slots.
fn live_in<M>(slots: &mut [Slot<M>], id: TransactionId) -> Option<&mut Live<M>> {
    let slot = slots.get_mut(id.index as usize)?;
    if slot.generation != id.generation {
        return None;
    }
    slot.live.as_mut()
}

/// Replaces a transaction's entry in the deadline set.
fn reschedule(
    deadlines: &mut BTreeSet<(Instant, TransactionId)>,
    previous: Option<Instant>,
    next: Option<Instant>,
    id: TransactionId,
) {
    if let Some(at) = previous {
        deadlines.remove(&(at, id));
    }
    if let Some(at) = next {
        deadlines.insert((at, id));
    }
}

#[cfg(test)]
impl<M: Clone> Transactions<M> {
    /// The minimum deadline found by visiting every live transaction: what `poll_timeout`
    /// must equal.
    pub(crate) fn scanned_min_deadline(&self) -> Option<Instant> {
        self.live_machines().filter_map(Machine::poll_timeout).min()
    }

    /// Whether the deadline set holds exactly one entry per transaction with a deadline.
    pub(crate) fn deadline_set_is_exact(&self) -> bool {
        let expected = self
            .live_machines()
            .filter(|m| m.poll_timeout().is_some())
            .count();
        expected == self.deadlines.len()
            && self
                .slots
                .iter()
                .enumerate()
                .all(|(index, slot)| match &slot.live {
                    Some(live) => {
                        let id = TransactionId {
                            index: index as u32,
                            generation: slot.generation,
                        };
                        live.scheduled == live.machine.poll_timeout()
                            && live
                                .scheduled
                                .is_none_or(|at| self.deadlines.contains(&(at, id)))
                    }
                    None => true,
                })
    }

    fn live_machines(&self) -> impl Iterator<Item = &Machine<M>> {
        self.slots
            .iter()
            .filter_map(|slot| slot.live.as_ref())
            .map(|live| &live.machine)
    }
}
