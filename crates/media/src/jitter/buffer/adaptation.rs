//! The adaptation side of [`JitterBuffer`]: when to drop a frame and when to insert a tick.

use std::time::{Duration, Instant};

use super::{Decision, Head, JitterBuffer};
use crate::jitter::config::signed;
use crate::jitter::playout::EmptyReason;
use crate::jitter::transit::Edges;

impl JitterBuffer {
    /// Drops a frame if the offset exceeds both the target and the latest transit by a frame
    /// (at a bounded rate); inserts a tick if recent packets would have been late (at once) or
    /// if the offset falls more than half a frame short of the target (at a bounded rate).
    pub(super) fn adapt(&mut self, now: Instant, at: i64) -> Option<Decision> {
        let edges = self.transit.edges(at)?;
        let target = self.adaptive_target(edges, at);
        let tick = signed(self.units.tick);
        let on_time = edges.late.min(edges.early.saturating_add(self.units.max));
        let waiting = self.next_adjust.is_some_and(|t| now < t);
        let short = target.saturating_sub(self.offset) > tick / 2 && !waiting;
        if (self.offset < on_time || short) && self.frame_at_cursor() {
            self.next_adjust = now.checked_add(self.config.min_adjust_gap);
            return Some(Decision::Empty(EmptyReason::Stretch));
        }
        let excess = self.offset.saturating_sub(target.max(edges.late));
        if !waiting && excess >= tick && self.shrink(excess) {
            self.next_adjust = now.checked_add(self.shrink_gap(excess));
        }
        None
    }

    /// The playout offset aimed at: `min` behind the latest recent arrival, but no more than
    /// `max` behind the earliest; during the first window, at least `initial` behind the
    /// earliest.
    pub(super) fn adaptive_target(&self, edges: Edges, at: i64) -> i64 {
        let target = edges
            .late
            .saturating_add(self.units.min)
            .min(edges.early.saturating_add(self.units.max));
        if at < self.warm_until {
            target.max(edges.early.saturating_add(self.units.initial))
        } else {
            target
        }
    }

    /// Time to wait before the next drop: fast enough to drain the excess over `shrink_span`
    /// on top of the frames a faster sender clock adds, never faster than `min_adjust_gap`.
    fn shrink_gap(&self, excess: i64) -> Duration {
        let excess_frames = excess as f64 / self.units.tick as f64;
        let drain = excess_frames / self.config.shrink_span.as_secs_f64().max(1e-3);
        let skew = (-self.transit.skew()).max(0.0);
        let drift = skew * self.units.rate as f64 / self.units.tick as f64;
        let per_second = drain + drift;
        let gap = if per_second > 0.0 {
            Duration::from_secs_f64((1.0 / per_second).min(3600.0))
        } else {
            self.config.shrink_span
        };
        gap.max(self.config.min_adjust_gap)
    }

    /// Drops one frame at the cursor: a lost one if one is due (nothing real is lost), else the
    /// received one if the packet after it is here. Tells whether it did.
    fn shrink(&mut self, excess: i64) -> bool {
        let c = self.cursor;
        let Some(head) = self.head().filter(|_| c.covered <= c.ts) else {
            return false;
        };
        let tick_end = c.ts.saturating_add(self.units.tick);
        let (duration, dropped_seq) = if head.seq != c.next_seq {
            if head.ts < tick_end {
                return false;
            }
            (self.step.min(head.ts - c.ts), None)
        } else {
            if head.ts >= tick_end || self.ring.get(head.seq.saturating_add(1)).is_none() {
                return false;
            }
            (self.duration_of(head), Some(head.seq))
        };
        if signed(duration) > excess {
            return false;
        }
        self.skip(head, duration, dropped_seq);
        true
    }

    fn skip(&mut self, head: Head, duration: u64, dropped_seq: Option<u64>) {
        let ticks = self.units.ticks(duration);
        match dropped_seq {
            Some(seq) => {
                self.ring.discard(seq);
                self.tally.counts.shrunk += ticks;
                self.cursor.next_seq = seq.saturating_add(1);
            }
            None => {
                self.count_lost(ticks);
                let past = self.cursor.ts.saturating_add(duration) >= head.ts;
                self.cursor.next_seq = if past {
                    head.seq
                } else {
                    self.cursor.next_seq.saturating_add(1).min(head.seq)
                };
            }
        }
        self.cursor.last_frame = Some(self.cursor.ts);
        self.cursor.ts = self.cursor.ts.saturating_add(duration);
        self.cursor.covered = self.cursor.ts;
    }
}
