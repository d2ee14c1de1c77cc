//! The timers of one transaction: a fixed table indexed by role, in the manner of quinn-proto's
//! `TimerTable`.
//!
//! RFC 3261 names twelve timers (A-M) but a transaction never needs more than one of each role
//! at a time, so three slots suffice and keep a transaction small:
//!
//! | slot         | INVITE client | non-INVITE client | INVITE server | non-INVITE server |
//! |--------------|---------------|-------------------|---------------|-------------------|
//! | `Timeout`    | B (or the CANCEL guard) | F       | H             | -                 |
//! | `Retransmit` | A             | E                 | G             | -                 |
//! | `Linger`     | D, M          | K                 | I, L          | J                 |

use std::time::Instant;

/// A timer slot. The order is the tie-break when two timers are due at the same instant: a
/// transaction that times out does not retransmit first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Gives up on the peer: B, F, H.
    Timeout = 0,
    /// Retransmits the request or final response: A, E, G.
    Retransmit = 1,
    /// Waits out stray retransmissions before terminating: D, I, J, K, L, M.
    Linger = 2,
}

impl Timer {
    const ALL: [Timer; 3] = [Timer::Timeout, Timer::Retransmit, Timer::Linger];
}

/// One optional deadline per [`Timer`] slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 3],
}

impl TimerTable {
    /// Arms `timer` at `at`, replacing any earlier deadline; `None` disarms it.
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.deadlines[timer as usize] = at;
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 3];
    }

    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize].is_some()
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer due at or before `now` (ties go to the lower
    /// slot), or `None` if nothing is due.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let (timer, _) = Timer::ALL
            .iter()
            .filter_map(|&t| self.deadlines[t as usize].map(|at| (t, at)))
            .filter(|&(_, at)| at <= now)
            .min_by_key(|&(t, at)| (at, t))?;
        self.stop(timer);
        Some(timer)
    }
}
