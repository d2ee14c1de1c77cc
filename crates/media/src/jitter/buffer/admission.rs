//! The arrival side of [`JitterBuffer`]: deciding what to do with a packet (store, late,
//! restart, make room) and learning the stream's packet duration.

use super::{Admission, Cause, Cursor, JitterBuffer, Phase};
use crate::rtp::{MAX_DROPOUT, MAX_MISORDER};

impl JitterBuffer {
    pub(super) fn admit(&mut self, seq: u64, ts: u64) -> Admission {
        let Some((newest, _)) = self.newest else {
            self.cursor.next_seq = seq;
            return Admission::Store;
        };
        let next = self.cursor.next_seq;
        if seq < next {
            if next - seq > u64::from(MAX_MISORDER) {
                return Admission::Restart;
            }
            if !self.cursor.started && newest.saturating_sub(seq) < self.ring.capacity() {
                self.cursor.next_seq = seq;
                return Admission::Store;
            }
            return Admission::Late;
        }
        if seq - next > u64::from(MAX_DROPOUT) {
            return Admission::Restart;
        }
        if self.cursor.started && ts < self.cursor.ts {
            let behind = self.cursor.ts - ts;
            if behind > self.ring.capacity().saturating_mul(self.units.tick) {
                return Admission::Restart;
            }
            return Admission::Late;
        }
        if seq - next >= self.ring.capacity() {
            return Admission::Overflow;
        }
        Admission::Store
    }

    /// A late packet still tells how late packets come, unless it is later than anything the
    /// buffer would wait for.
    pub(super) fn note_late(&mut self, at: i64, transit: i64) {
        self.tally.counts.late += 1;
        let lateness = transit.saturating_sub(self.offset);
        if self.cursor.started && lateness < self.units.max {
            self.transit.record(at, transit);
        }
    }

    pub(super) fn restart(&mut self, seq: u64) -> u32 {
        let flushed = self.ring.clear();
        self.tally.counts.flushed += flushed as u64;
        self.tally.counts.restarts += 1;
        self.start_over();
        self.cursor.next_seq = seq;
        u32::try_from(flushed).unwrap_or(u32::MAX)
    }

    pub(super) fn start_over(&mut self) {
        self.transit.clear();
        self.phase = Phase::Prefetching(Cause::Start);
        self.cursor = Cursor::new();
        self.newest = None;
        self.offset = 0;
        self.next_adjust = None;
    }

    /// Drops the oldest waiting packets so that `seq` fits, and skips playout ahead.
    pub(super) fn make_room(&mut self, seq: u64, ts: u64) -> u32 {
        let keep_from = seq - (self.ring.capacity() - 1);
        let dropped = if keep_from - self.cursor.next_seq >= self.ring.capacity() {
            self.ring.clear()
        } else {
            (self.cursor.next_seq..keep_from)
                .filter(|&s| self.ring.discard(s))
                .count()
        };
        self.tally.counts.overflow += dropped as u64;
        let (head_seq, head_ts) = self
            .ring
            .first_in(keep_from, seq)
            .map_or((seq, ts), |slot| (slot.seq, slot.ts));
        self.cursor.next_seq = head_seq;
        if self.cursor.started {
            // Skip ahead, never back (a stale head is dropped at the next tick).
            self.cursor.ts = self.cursor.ts.max(head_ts);
            self.cursor.covered = self.cursor.ts;
        }
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }

    pub(super) fn after_store(&mut self, seq: u64, ts: u64, at: i64, transit: i64) {
        self.learn_step(seq, ts);
        if self.newest.is_none_or(|(s, _)| seq > s) {
            self.newest = Some((seq, ts));
        }
        self.transit.record(at, transit);
        self.arrivals = self.arrivals.saturating_add(1);
    }

    /// Learns the usual packet duration from consecutive neighbours: the first step seen is a
    /// guess, two equal steps in a row confirm it.
    fn learn_step(&mut self, seq: u64, ts: u64) {
        let before = seq
            .checked_sub(1)
            .and_then(|p| self.ring.get(p).map(|s| s.ts))
            .or_else(|| {
                self.newest
                    .filter(|&(s, _)| s.saturating_add(1) == seq)
                    .map(|(_, t)| t)
            });
        let delta = match before {
            Some(prev) => ts.checked_sub(prev),
            None => self
                .ring
                .get(seq.saturating_add(1))
                .and_then(|n| n.ts.checked_sub(ts)),
        };
        let Some(delta) = delta.filter(|&d| d > 0 && d <= self.units.max_packet) else {
            return;
        };
        if self.last_delta == Some(delta) {
            self.step = delta;
            self.step_confirmed = true;
        } else if !self.step_confirmed {
            // A first guess, better than the tick.
            self.step = delta;
        }
        self.last_delta = Some(delta);
    }
}
