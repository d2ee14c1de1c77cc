//! The playout machine: [`JitterBuffer`] and its [`Phase`].

use std::time::{Duration, Instant};

use super::config::{JitterConfig, JitterConfigError, Units, signed};
use super::playout::{EmptyReason, Frame, Playout, PutOutcome};
use super::slots::{SlotRing, Stored};
use super::stats::{JitterStats, Tally};
use super::transit::{MediaClock, TransitWindow};

mod adaptation;
mod admission;

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
    /// Usual timestamp step between consecutive packets (one tick until learned).
    step: u64,
    /// Whether two consecutive steps agreed on `step` (until then a larger step with
    /// consecutive sequence numbers may be a long packet rather than a pause).
    step_confirmed: bool,
    /// The last step seen between consecutive packets.
    last_delta: Option<u64>,
    /// Highest sequence number stored since the (re)start, with its timestamp.
    newest: Option<(u64, u64)>,
    /// Playout offset (tick time minus the timestamp it plays), smoothed over tick jitter.
    offset: i64,
    /// Clock reading of the latest call, for the figures in `stats`.
    last_at: i64,
    /// Until this clock reading (one window after playout first started) the adaptive target
    /// is at least the initial delay: there is not yet a window of measurements.
    warm_until: i64,
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
///        new(), reset(), or a restart (sequence/timestamp jump)
///                     │
///                     ▼
///        ┌──── Prefetching(cause) ◀───────────────────────────────────────────┐
///        │     Empty(Prefetching | Silence)            ▲                      │
///        │                                             │ next in sequence,    │
///        │ head due: waited ≥ target,                  │ timestamp jumps      │
///        │ or that much media already held             │ ahead (a pause)      │
///        ▼                                             │                      │
///     Playing ─────────────────────────────────────────┘                      │
///      │  ▲   one tick per get: Frame | Continued | Missing                   │
///      │  │   (adaptive: drop one frame, or insert Empty(Stretch))            │
///      │  │                                                                   │
///      │  ├── after a gap: hand out its end as Missing while the margin       │
///      │  │   is rebuilt; or the tail of a longer packet turns up             │
///      │  │                                                                   │
///      │  no media for this tick                  the awaited packet, late    │
///      └───────────────▶ Underrun{ticks} ─────────(cause Late), or one after ─┘
///                        Empty(Underrun),          a gap or pause (Gap, Silence):
///                        the cursor holds          re-anchor on it
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
    Frame {
        seq: u64,
        duration: u64,
    },
    Continued {
        timestamp: u64,
    },
    Missing {
        timestamp: u64,
        duration: u64,
        next: Option<u64>,
    },
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
            step_confirmed: false,
            last_delta: None,
            newest: None,
            offset: 0,
            last_at: 0,
            warm_until: 0,
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
        if self.cursor.started {
            self.drop_stale();
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
            Some(e) if self.units.adaptive => self
                .adaptive_target(e, self.last_at)
                .saturating_sub(e.early),
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
        if cause == Cause::Start {
            self.warm_until = at.saturating_add(signed(self.units.of(self.config.window)));
        }
        self.cursor.started = true;
        self.offset = at.wrapping_sub(head.ts as i64);
        // The head is at the cursor: it plays now.
        self.frame(head)
    }

    fn underrun_tick(&mut self, at: i64, ticks: u64) -> Decision {
        let Some(head) = self.head() else {
            self.phase = Phase::Underrun {
                ticks: ticks.saturating_add(1),
            };
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
            self.cursor.ts = head
                .ts
                .min(c.ts.saturating_add(ticks.saturating_mul(self.units.tick)));
            self.phase = Phase::Playing;
            return self.select_media(at);
        }
        if contiguous {
            self.re_anchor(head, Cause::Silence);
            return self.prefetch_tick(at, Cause::Silence);
        }
        self.resume_after_gap(at, head)
    }

    /// After an underrun, packets are missing before `head`. The held ticks stood in for the
    /// start of the gap; if the target asks to wait before `head`, the end of the gap is
    /// concealed (as `Missing`, FEC-ready) during that wait instead of left empty.
    fn resume_after_gap(&mut self, at: i64, head: Head) -> Decision {
        let tick = self.units.tick;
        let target = self.start_target(at, head.transit, Cause::Gap);
        let short = target.saturating_sub(at.wrapping_sub(head.ts as i64));
        let wait = u64::try_from(short).unwrap_or(0).div_ceil(tick);
        let gap = head.ts.saturating_sub(self.cursor.ts);
        if wait == 0 || wait > gap / tick {
            self.re_anchor(head, Cause::Gap);
            return self.prefetch_tick(at, Cause::Gap);
        }
        let concealed = wait * tick;
        let remaining = concealed.div_ceil(self.step.max(1));
        let missing = head.seq - self.cursor.next_seq;
        self.count_lost((gap - concealed) / tick);
        self.cursor.next_seq = head.seq - remaining.min(missing);
        self.cursor.ts = head.ts - concealed;
        self.cursor.covered = self.cursor.ts;
        self.phase = Phase::Playing;
        self.select_media(at)
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

    /// Discards waiting packets whose timestamp playout has already passed (a sender whose
    /// timestamps go backwards while its sequence numbers go forwards).
    fn drop_stale(&mut self) {
        while let Some(head) = self.head().filter(|h| h.ts < self.cursor.ts) {
            self.ring.discard(head.seq);
            self.tally.counts.late += 1;
            if head.seq == self.cursor.next_seq {
                self.cursor.next_seq = self.cursor.next_seq.saturating_add(1);
            }
        }
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
        c.next_seq = head.seq.saturating_add(1);
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
        let next = (c.next_seq.saturating_add(1) == head.seq).then_some(head.seq);
        self.sample_delay_at(c.ts);
        let cursor = &mut self.cursor;
        cursor.covered = c.ts.saturating_add(duration);
        cursor.ts = c.ts.saturating_add(self.units.tick);
        cursor.last_frame = Some(c.ts);
        cursor.next_seq = if cursor.covered >= head.ts {
            head.seq
        } else {
            c.next_seq.saturating_add(1).min(head.seq)
        };
        self.count_lost(self.units.ticks(duration));
        self.tally.counts.lost_with_next += u64::from(next.is_some());
        Decision::Missing {
            timestamp: c.ts,
            duration,
            next,
        }
    }

    /// Restarts playout on `head`, skipping what lies between (lost, or a pause).
    fn re_anchor(&mut self, head: Head, cause: Cause) {
        let missing = head.seq.saturating_sub(self.cursor.next_seq);
        if missing > 0 {
            // What lay between, in frames: the time gap, but no more than the missing packets
            // could have covered (a pause may hide in it too).
            let gap = head.ts.saturating_sub(self.cursor.ts) / self.units.tick;
            let packets = missing.saturating_mul(self.units.ticks(self.step));
            self.count_lost(gap.min(packets));
        }
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
            (_, Some(e)) if self.units.adaptive => self.adaptive_target(e, at),
            (_, Some(e)) => e.late.saturating_add(self.units.min),
        }
    }

    /// Whether `head`, next in sequence but a gap ahead, is more likely the end of a packet
    /// longer than assumed than a pause: only while the stream's step is unconfirmed.
    fn is_long_packet(&self, head: Head) -> bool {
        !self.step_confirmed
            && self
                .cursor
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

    /// Media covered by a packet: up to the next packet if it is here and not a pause away,
    /// else the usual step.
    fn duration_of(&self, head: Head) -> u64 {
        let to_next = self
            .ring
            .get(head.seq.saturating_add(1))
            .and_then(|next| next.ts.checked_sub(head.ts))
            .filter(|&d| d > 0);
        match to_next {
            Some(d) if d <= self.step => d,
            Some(d) if !self.step_confirmed && d <= self.units.max_packet => d,
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

    /// Adds `frames` to the lost count.
    fn count_lost(&mut self, frames: u64) {
        self.tally.counts.lost = self.tally.counts.lost.saturating_add(frames);
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
