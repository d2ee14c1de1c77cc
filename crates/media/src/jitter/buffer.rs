//! The playout machine: [`JitterBuffer`] and its [`Phase`].

use std::time::{Duration, Instant};

use super::config::{JitterConfig, JitterConfigError, Units, signed};
use super::playout::{EmptyReason, Frame, Playout, PutOutcome};
use super::slots::{SlotRing, Stored};
use super::stats::{JitterStats, Tally};
use super::transit::{Edges, MediaClock, TransitWindow};
use crate::rtp::{MAX_DROPOUT, MAX_MISORDER};

/// An adaptive jitter buffer for one RTP stream: packets go in with [`put`](Self::put) as they
/// arrive, one tick of playout comes out of [`get`](Self::get) per `frame_duration`. See the
/// [module documentation](super) for the model, the adaptation rule and the caller's contract.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    units: Units,
    clock: MediaClock,
    ring: SlotRing,
    transit: TransitWindow,
    phase: Phase,
    cursor: Cursor,
    /// Usual timestamp step between consecutive packets (learned; one tick until then).
    step: u64,
    /// Highest sequence number stored since the (re)start, with its timestamp.
    newest: Option<(u64, u64)>,
    /// Playout offset (tick time minus the timestamp it plays), smoothed over tick jitter.
    offset: i64,
    /// Clock reading of the latest call, for the figures in `stats`.
    last_at: i64,
    /// Earliest instant for the next dropped or inserted frame.
    next_adjust: Option<Instant>,
    /// Packets stored since the last tick.
    arrivals: u32,
    /// Whether the delay is sampled at this tick (the first after arrivals).
    sample_delay: bool,
    tally: Tally,
}

/// Where playout stands.
///
/// ```text
///                  put (first packet, or a restart)
///                               │
///                               ▼
///      ┌──────────────── Prefetching(cause) ◀──────────────────────────────┐
///      │  head due: waited ≥ target,               ▲                       │
///      │  or enough media held                     │ next packet here but  │
///      ▼                                           │ timestamp jumps ahead │
///   Playing ───────────────────────────────────────┘ (sender paused: DTX)  │
///    │  ▲  one tick per get: Frame, Continued, Missing                     │
///    │  │  (adaptive: may drop one frame, or insert one Empty(Stretch))    │
///    │  │                                                                  │
///    │  └─ a long packet's tail turns up (the held ticks played it)        │
///    │     no media for this tick                                          │
///    └──────────────────────────▶ Underrun{ticks} ─────────────────────────┘
///                                  holds the cursor     a packet arrives: the awaited one (late:
///                                  (the delay grows)    delay grew), or one after a gap (lost or
///                                                       paused: re-anchor on it)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting until the head packet is due.
    Prefetching(Cause),
    /// Handing out one tick per `get`.
    Playing,
    /// The next frame is overdue and nothing after it is here; `ticks` held so far.
    Underrun { ticks: u64 },
}

/// Why playout is (re)starting, which sets the target and the `Empty` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The first packet, or a new timeline: aim at the initial delay.
    Start,
    /// Packets were lost while the buffer was dry: skip them, aim at the target.
    Gap,
    /// The sender paused: aim at the target (a free adjustment).
    Silence,
    /// The awaited frame came late: rebuild the margin.
    Late,
}

impl Cause {
    fn reason(self) -> EmptyReason {
        match self {
            Self::Silence => EmptyReason::Silence,
            Self::Start | Self::Gap | Self::Late => EmptyReason::Prefetching,
        }
    }
}

/// The playout position.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// Sequence number of the next packet to hand out.
    next_seq: u64,
    /// Timestamp of the first sample of the next tick.
    ts: u64,
    /// End (exclusive) of the media handed out so far (frames and concealment).
    covered: u64,
    /// Start of the last frame handed out (or concealed), to tell a long packet from a pause.
    last_frame: Option<u64>,
    /// Whether playout has begun on this timeline.
    started: bool,
}

impl Cursor {
    fn new() -> Self {
        Self {
            next_seq: 0,
            ts: 0,
            covered: 0,
            last_frame: None,
            started: false,
        }
    }
}

/// The first waiting packet at or after the cursor (copied out of its slot).
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: u64,
    ts: u64,
    transit: i64,
}

/// What `put` decided before storing.
enum Admission {
    Store,
    Late,
    Restart,
    Overflow,
}

/// What `get` decided, before borrowing the payload.
enum Decision {
    Frame { seq: u64, duration: u64 },
    Continued { timestamp: u64 },
    Missing { timestamp: u64, duration: u64, next: Option<u64> },
    Empty(EmptyReason),
}

impl JitterBuffer {
    /// A buffer for one stream; allocates all its slots now.
    pub fn new(config: JitterConfig) -> Result<Self, JitterConfigError> {
        let units = Units::new(&config)?;
        Ok(Self {
            ring: SlotRing::new(config.capacity, config.max_payload),
            transit: TransitWindow::new(units.of(config.window)),
            clock: MediaClock::new(units.rate),
            phase: Phase::Prefetching(Cause::Start),
            cursor: Cursor::new(),
            step: units.tick,
            newest: None,
            offset: 0,
            last_at: 0,
            next_adjust: None,
            arrivals: 0,
            sample_delay: false,
            tally: Tally::default(),
            units,
            config,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    /// Number of packets waiting.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no packet is waiting.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// Takes a packet that arrived at `now`: `seq` is the extended sequence number, `timestamp`
    /// the extended RTP timestamp, both from the RTP receive path. The payload is copied into a
    /// preallocated slot.
    pub fn put(&mut self, now: Instant, seq: u64, timestamp: u64, payload: &[u8]) -> PutOutcome {
        let at = self.clock.units(now);
        self.last_at = at;
        let transit = at.wrapping_sub(timestamp as i64);
        if payload.len() > self.config.max_payload {
            self.tally.counts.late += 1;
            return PutOutcome::TooLarge;
        }
        let outcome = match self.admit(seq, timestamp) {
            Admission::Store => PutOutcome::Accepted,
            Admission::Late => {
                self.note_late(at, transit);
                return PutOutcome::TooLate;
            }
            Admission::Restart => PutOutcome::Restarted {
                flushed: self.restart(seq),
            },
            Admission::Overflow => PutOutcome::Overflow {
                dropped: self.make_room(seq, timestamp),
            },
        };
        if self.ring.store(seq, timestamp, transit, payload) == Stored::Duplicate {
            self.tally.counts.duplicates += 1;
            return PutOutcome::Duplicate;
        }
        self.after_store(seq, timestamp, at, transit);
        outcome
    }

    /// One playout tick at `now`; call once per `frame_duration`.
    pub fn get(&mut self, now: Instant) -> Playout<'_> {
        let at = self.clock.units(now);
        self.last_at = at;
        self.sample_delay = self.arrivals > 0;
        if self.arrivals > 0 {
            self.tally.burst.record(self.arrivals);
            self.arrivals = 0;
        }
        let decision = match self.phase {
            Phase::Prefetching(cause) => self.prefetch_tick(at, cause),
            Phase::Underrun { ticks } => self.underrun_tick(at, ticks),
            Phase::Playing => self.play_tick(now, at),
        };
        self.emit(decision)
    }

    /// What the buffer did so far.
    pub fn stats(&self) -> JitterStats {
        let edges = self.transit.edges(self.last_at);
        let spread = edges.map_or(0, |e| e.spread());
        let target = match edges {
            Some(e) if self.units.adaptive => self.adaptive_target(e) - e.early,
            Some(_) | None => self.units.initial,
        };
        self.tally
            .snapshot(self.span_duration(spread), self.span_duration(target))
    }

    /// Drops every waiting packet and starts over (as on a new timeline), keeping the figures.
    pub fn reset(&mut self) {
        let flushed = self.ring.clear();
        self.tally.counts.flushed += flushed as u64;
        self.start_over();
    }

    // ----- put -----

    fn admit(&mut self, seq: u64, ts: u64) -> Admission {
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
            if behind > self.ring.capacity() * self.units.tick {
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
    fn note_late(&mut self, at: i64, transit: i64) {
        self.tally.counts.late += 1;
        let lateness = transit.saturating_sub(self.offset);
        if self.cursor.started && lateness < self.units.max {
            self.transit.record(at, transit);
        }
    }

    fn restart(&mut self, seq: u64) -> u32 {
        let flushed = self.ring.clear();
        self.tally.counts.flushed += flushed as u64;
        self.tally.counts.restarts += 1;
        self.start_over();
        self.cursor.next_seq = seq;
        u32::try_from(flushed).unwrap_or(u32::MAX)
    }

    fn start_over(&mut self) {
        self.transit.clear();
        self.phase = Phase::Prefetching(Cause::Start);
        self.cursor = Cursor::new();
        self.newest = None;
        self.offset = 0;
        self.next_adjust = None;
    }

    /// Drops the oldest waiting packets so that `seq` fits, and skips playout ahead.
    fn make_room(&mut self, seq: u64, ts: u64) -> u32 {
        let keep_from = seq + 1 - self.ring.capacity();
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
            self.cursor.ts = head_ts;
            self.cursor.covered = head_ts;
        }
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }

    fn after_store(&mut self, seq: u64, ts: u64, at: i64, transit: i64) {
        self.learn_step(seq, ts);
        if self.newest.is_none_or(|(s, _)| seq > s) {
            self.newest = Some((seq, ts));
        }
        self.transit.record(at, transit);
        self.arrivals = self.arrivals.saturating_add(1);
    }

    /// Learns the usual packet duration from a consecutive neighbour.
    fn learn_step(&mut self, seq: u64, ts: u64) {
        let before = seq
            .checked_sub(1)
            .and_then(|p| self.ring.get(p).map(|s| s.ts))
            .or_else(|| self.newest.filter(|&(s, _)| s + 1 == seq).map(|(_, t)| t));
        let step = match before {
            Some(prev) => ts.checked_sub(prev),
            None => self.ring.get(seq + 1).and_then(|n| n.ts.checked_sub(ts)),
        };
        if let Some(step) = step.filter(|&d| d > 0 && d <= self.units.max_packet) {
            self.step = step;
        }
    }

    // ----- get: phases -----

    fn prefetch_tick(&mut self, at: i64, cause: Cause) -> Decision {
        let Some(head) = self.head() else {
            return Decision::Empty(cause.reason());
        };
        if !self.due(at, head, cause) {
            return Decision::Empty(cause.reason());
        }
        self.cursor.next_seq = head.seq;
        self.cursor.ts = head.ts;
        self.cursor.covered = head.ts;
        self.cursor.started = true;
        self.offset = at.wrapping_sub(head.ts as i64);
        self.phase = Phase::Playing;
        self.select_media(at)
    }

    fn underrun_tick(&mut self, at: i64, ticks: u64) -> Decision {
        let Some(head) = self.head() else {
            self.phase = Phase::Underrun { ticks: ticks + 1 };
            return Decision::Empty(EmptyReason::Underrun);
        };
        let c = self.cursor;
        let contiguous = head.seq == c.next_seq;
        if contiguous && head.ts < c.ts.saturating_add(self.units.tick) {
            self.re_anchor(head, Cause::Late);
            return self.prefetch_tick(at, Cause::Late);
        }
        if contiguous && self.is_long_packet(head) {
            // The held ticks played the tail of a packet longer than assumed.
            self.cursor.covered = head.ts;
            self.cursor.ts = head.ts.min(c.ts.saturating_add(ticks * self.units.tick));
            self.phase = Phase::Playing;
            return self.select_media(at);
        }
        let cause = if contiguous { Cause::Silence } else { Cause::Gap };
        self.re_anchor(head, cause);
        self.prefetch_tick(at, cause)
    }

    fn play_tick(&mut self, now: Instant, at: i64) -> Decision {
        let actual = at.wrapping_sub(self.cursor.ts as i64);
        if actual.abs_diff(self.offset) > self.units.tick / 2 {
            self.offset = actual;
        }
        if self.units.adaptive
            && let Some(inserted) = self.adapt(now, at)
        {
            return inserted;
        }
        self.select_media(at)
    }

    /// Hands out the media for the tick that starts at the cursor.
    fn select_media(&mut self, at: i64) -> Decision {
        let c = self.cursor;
        let tick_end = c.ts.saturating_add(self.units.tick);
        match self.head() {
            Some(h) if h.seq == c.next_seq && h.ts < tick_end => self.frame(h),
            _ if c.covered > c.ts => self.continued(),
            Some(h) if h.seq == c.next_seq => self.pause_or_long_packet(at, h),
            Some(h) if h.ts < tick_end => self.frame(h),
            Some(h) => self.missing(h),
            None => {
                self.phase = Phase::Underrun { ticks: 1 };
                Decision::Empty(EmptyReason::Underrun)
            }
        }
    }

    fn pause_or_long_packet(&mut self, at: i64, head: Head) -> Decision {
        if self.is_long_packet(head) {
            self.cursor.covered = head.ts;
            return self.continued();
        }
        self.re_anchor(head, Cause::Silence);
        self.prefetch_tick(at, Cause::Silence)
    }

    // ----- get: the three kinds of media -----

    fn frame(&mut self, head: Head) -> Decision {
        let duration = self.duration_of(head);
        self.sample_delay_at(self.cursor.ts);
        let c = &mut self.cursor;
        c.next_seq = head.seq + 1;
        c.last_frame = Some(head.ts);
        c.covered = c.covered.max(head.ts.saturating_add(duration));
        c.ts = c.ts.saturating_add(self.units.tick);
        self.phase = Phase::Playing;
        self.tally.counts.played += 1;
        Decision::Frame {
            seq: head.seq,
            duration,
        }
    }

    fn continued(&mut self) -> Decision {
        let timestamp = self.cursor.ts;
        self.cursor.ts = timestamp.saturating_add(self.units.tick);
        self.phase = Phase::Playing;
        self.tally.counts.played += 1;
        Decision::Continued { timestamp }
    }

    /// Conceals the frame before `head` (which lies at least a tick ahead).
    fn missing(&mut self, head: Head) -> Decision {
        let c = self.cursor;
        let duration = self.step.min(head.ts - c.ts);
        let next = (c.next_seq + 1 == head.seq).then_some(head.seq);
        self.sample_delay_at(c.ts);
        let cursor = &mut self.cursor;
        cursor.covered = c.ts + duration;
        cursor.ts = c.ts.saturating_add(self.units.tick);
        cursor.last_frame = Some(c.ts);
        cursor.next_seq = if cursor.covered >= head.ts {
            head.seq
        } else {
            (c.next_seq + 1).min(head.seq)
        };
        self.tally.counts.lost += self.units.ticks(duration);
        self.tally.counts.lost_with_next += u64::from(next.is_some());
        Decision::Missing {
            timestamp: c.ts,
            duration,
            next,
        }
    }

    /// Restarts playout on `head`, skipping what lies between (lost, or a pause).
    fn re_anchor(&mut self, head: Head, cause: Cause) {
        let skipped = head.seq.saturating_sub(self.cursor.next_seq);
        self.tally.counts.lost += skipped * self.units.ticks(self.step);
        self.cursor.next_seq = head.seq;
        self.cursor.ts = head.ts;
        self.cursor.covered = head.ts;
        self.phase = Phase::Prefetching(cause);
    }

    fn emit(&mut self, decision: Decision) -> Playout<'_> {
        match decision {
            Decision::Frame { seq, duration } => match self.ring.take(seq) {
                Some(slot) => Playout::Frame(Frame {
                    seq,
                    timestamp: slot.ts,
                    duration: u32::try_from(duration).unwrap_or(u32::MAX),
                    payload: &slot.payload,
                }),
                None => Playout::Empty {
                    reason: EmptyReason::Underrun,
                },
            },
            Decision::Continued { timestamp } => Playout::Continued { timestamp },
            Decision::Missing {
                timestamp,
                duration,
                next,
            } => Playout::Missing {
                timestamp,
                duration: u32::try_from(duration).unwrap_or(u32::MAX),
                next: next
                    .and_then(|s| self.ring.get(s))
                    .map(|slot| slot.payload.as_slice()),
            },
            Decision::Empty(reason) => {
                self.tally.counts.empty += 1;
                self.tally.counts.stretched += u64::from(reason == EmptyReason::Stretch);
                Playout::Empty { reason }
            }
        }
    }

    // ----- adaptation -----

    /// Drops a frame if the delay exceeds the target by a frame, or asks for an inserted tick
    /// if it falls short by more than half a frame; at most once per adjustment gap.
    fn adapt(&mut self, now: Instant, at: i64) -> Option<Decision> {
        if self.next_adjust.is_some_and(|t| now < t) {
            return None;
        }
        let edges = self.transit.edges(at)?;
        let target = self.adaptive_target(edges);
        let tick = signed(self.units.tick);
        let excess = self.offset.saturating_sub(target.max(edges.late));
        if excess >= tick {
            if self.shrink(excess) {
                self.next_adjust = now.checked_add(self.shrink_gap(excess));
            }
            return None;
        }
        if target.saturating_sub(self.offset) > tick / 2 && self.frame_at_cursor() {
            self.next_adjust = now.checked_add(self.config.min_adjust_gap);
            return Some(Decision::Empty(EmptyReason::Stretch));
        }
        None
    }

    /// The playout offset aimed at: `min` behind the latest recent arrival, but no more than
    /// `max` behind the earliest.
    fn adaptive_target(&self, edges: Edges) -> i64 {
        edges
            .late
            .saturating_add(self.units.min)
            .min(edges.early.saturating_add(self.units.max))
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
            if head.ts >= tick_end || self.ring.get(head.seq + 1).is_none() {
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
                self.cursor.next_seq = seq + 1;
            }
            None => {
                self.tally.counts.lost += ticks;
                let past = self.cursor.ts + duration >= head.ts;
                self.cursor.next_seq = if past {
                    head.seq
                } else {
                    (self.cursor.next_seq + 1).min(head.seq)
                };
            }
        }
        self.cursor.last_frame = Some(self.cursor.ts);
        self.cursor.ts += duration;
        self.cursor.covered = self.cursor.ts;
    }

    // ----- queries -----

    fn head(&self) -> Option<Head> {
        let (newest, _) = self.newest?;
        self.ring
            .first_in(self.cursor.next_seq, newest)
            .map(|slot| Head {
                seq: slot.seq,
                ts: slot.ts,
                transit: slot.transit,
            })
    }

    /// Whether playout can start on `head`: it has waited as long as the target asks, or the
    /// buffer already holds that much media.
    fn due(&self, at: i64, head: Head, cause: Cause) -> bool {
        let target = self.start_target(at, head.transit, cause);
        if at.wrapping_sub(head.ts as i64) >= target {
            return true;
        }
        let wait = target.saturating_sub(head.transit);
        let held = signed(self.held_end().saturating_sub(head.ts));
        held >= wait.saturating_add(signed(self.units.tick))
    }

    fn start_target(&self, at: i64, transit: i64, cause: Cause) -> i64 {
        let edges = self.transit.edges(at).map(|e| e.with(transit));
        match (cause, edges) {
            (Cause::Start, _) | (_, None) => transit.saturating_add(self.units.initial),
            (_, Some(e)) if self.units.adaptive => self.adaptive_target(e),
            (_, Some(e)) => e.late.saturating_add(self.units.min),
        }
    }

    fn is_long_packet(&self, head: Head) -> bool {
        self.cursor
            .last_frame
            .is_some_and(|start| head.ts > start && head.ts - start <= self.units.max_packet)
    }

    fn frame_at_cursor(&self) -> bool {
        let c = self.cursor;
        let tick_end = c.ts.saturating_add(self.units.tick);
        c.covered <= c.ts
            && self
                .head()
                .is_some_and(|h| h.seq == c.next_seq && h.ts < tick_end)
    }

    /// Media covered by a packet: up to the next packet if it is here, else the usual step.
    fn duration_of(&self, head: Head) -> u64 {
        match self.ring.get(head.seq + 1) {
            Some(next) if next.ts > head.ts && next.ts - head.ts <= self.units.max_packet => {
                next.ts - head.ts
            }
            _ => self.step,
        }
    }

    /// End of the media held: the newest waiting packet's end, else what was handed out.
    fn held_end(&self) -> u64 {
        match self.newest {
            Some((seq, ts)) if self.ring.get(seq).is_some() => ts.saturating_add(self.step),
            _ => self.cursor.covered,
        }
    }

    /// Records the delay sample of this tick, if it is the first after arrivals.
    fn sample_delay_at(&mut self, from: u64) {
        if !self.sample_delay {
            return;
        }
        self.sample_delay = false;
        let held = self.held_end().saturating_sub(from);
        let frames = held.div_ceil(self.units.tick);
        self.tally
            .delay
            .record(u32::try_from(frames).unwrap_or(u32::MAX));
    }

    fn span_duration(&self, units: i64) -> Duration {
        self.units.duration(u64::try_from(units).unwrap_or(0))
    }
}

#[cfg(test)]
impl JitterBuffer {
    pub(super) fn debug_line(&mut self, now: Instant) -> String {
        let at = self.clock.units(now);
        let edges = self.transit.edges(at);
        format!(
            "off={:6} edges={:?} skew={:.4} len={} shrunk={} phase={:?}",
            self.offset / 160,
            edges.map(|e| (e.early / 160, e.late / 160)),
            self.transit.skew(),
            self.len(),
            self.tally.counts.shrunk,
            self.phase
        )
    }
}
