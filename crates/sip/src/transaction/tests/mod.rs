//! Virtual-time tests of the transaction layer: a clock that jumps from deadline to deadline,
//! so a 32-second Timer B costs microseconds, and (in `lossy`) a seeded network.

mod client;
mod key;
mod lossy;
mod retransmit_2xx;
mod server;
mod table;

use std::time::{Duration, Instant};

use super::{ClientTransaction, Output, Retransmit2xx, Retransmit2xxOutput, ServerTransaction};

/// The opaque message of the tests: just enough to tell what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Msg {
    Request,
    Response(u16),
    Ack,
}

pub(super) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A virtual clock: an arbitrary epoch and a `now` that only moves forward.
pub(super) struct Clock {
    epoch: Instant,
    pub(super) now: Instant,
}

impl Clock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the virtual clock needs one arbitrary epoch; nothing reads the wall clock after it"
    )]
    pub(super) fn new() -> Self {
        let epoch = Instant::now();
        Self { epoch, now: epoch }
    }

    /// The instant `offset` after the epoch.
    pub(super) fn at(&self, offset: Duration) -> Instant {
        self.epoch + offset
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Moves `now` to `offset` after the epoch (never backwards) and returns it.
    pub(super) fn set(&mut self, offset: Duration) -> Instant {
        self.advance_to(self.at(offset))
    }

    pub(super) fn advance_to(&mut self, at: Instant) -> Instant {
        self.now = self.now.max(at);
        self.now
    }
}

/// The sans-IO surface the driver needs.
pub(super) trait Machine {
    type Out;
    fn poll_output(&mut self) -> Option<Self::Out>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
}

impl Machine for ClientTransaction<Msg> {
    type Out = Output<Msg>;
    fn poll_output(&mut self) -> Option<Self::Out> {
        ClientTransaction::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ClientTransaction::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        ClientTransaction::handle_timeout(self, now);
    }
}

impl Machine for ServerTransaction<Msg> {
    type Out = Output<Msg>;
    fn poll_output(&mut self) -> Option<Self::Out> {
        ServerTransaction::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ServerTransaction::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        ServerTransaction::handle_timeout(self, now);
    }
}

impl Machine for Retransmit2xx<Msg> {
    type Out = Retransmit2xxOutput<Msg>;
    fn poll_output(&mut self) -> Option<Self::Out> {
        Retransmit2xx::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Retransmit2xx::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Retransmit2xx::handle_timeout(self, now);
    }
}

/// The outputs queued right now, without moving the clock.
pub(super) fn drain<T: Machine>(machine: &mut T) -> Vec<T::Out> {
    std::iter::from_fn(|| machine.poll_output()).collect()
}

/// Drains outputs and jumps the clock to each deadline up to `until` after the epoch (or until
/// the machine has no deadline), returning every output stamped with the virtual time it was
/// produced at.
pub(super) fn drive<T: Machine>(
    machine: &mut T,
    clock: &mut Clock,
    until: Duration,
) -> Vec<(Duration, T::Out)> {
    let mut stamped = Vec::new();
    loop {
        while let Some(output) = machine.poll_output() {
            stamped.push((clock.elapsed(), output));
        }
        match machine.poll_timeout() {
            Some(at) if at <= clock.at(until) => {
                let now = clock.advance_to(at);
                machine.handle_timeout(now);
            }
            _ => return stamped,
        }
    }
}

/// The virtual times (in ms) at which `outputs` holds a `Transmit`.
pub(super) fn transmit_times<M>(outputs: &[(Duration, Output<M>)]) -> Vec<u128> {
    outputs
        .iter()
        .filter(|(_, output)| matches!(output, Output::Transmit(_)))
        .map(|(at, _)| at.as_millis())
        .collect()
}
