//! What the caller chooses ([`JitterConfig`], [`JitterMode`]) and the media-clock units the
//! buffer derives from it ([`Units`]).

use std::time::Duration;

use thiserror::Error;

/// How the playout delay is chosen.
///
/// Delays are times a frame waits between its arrival and its playout, measured for the frames
/// that arrive *latest*: a delay of zero plays a frame on the first tick after it arrives. In
/// frames, pjmedia's "prefetch N" is a delay of `(N - 1) × frame_duration` (N frames are held
/// when the first one plays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterMode {
    /// Follow the network. `initial` is the delay before the very first frame plays (before
    /// there is anything to measure). Afterwards the buffer aims at no later than the latest
    /// arrival seen within the estimation window plus `min`, but never more than `max` beyond
    /// the earliest arrival (see the module documentation for the rule).
    Adaptive {
        /// Delay before the first frame plays.
        initial: Duration,
        /// Smallest margin kept behind the latest recent arrival, to within half a frame (for
        /// FEC: one packet plus the jitter, so that the packet after a lost one is here).
        min: Duration,
        /// Largest target delay; the buffer's capacity is the hard bound.
        max: Duration,
    },
    /// Wait `delay` before playing at the start and after every underrun or pause, and never drop
    /// or insert frames to adjust (frames are dropped only when the buffer is full).
    Fixed {
        /// Delay rebuilt at each (re)start.
        delay: Duration,
    },
}

/// Settings of a [`JitterBuffer`](super::JitterBuffer). `Default` suits 20 ms G.711 or Opus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterConfig {
    /// Adaptive (default: initial 40 ms, min 40 ms, max 200 ms: the 40 ms margin keeps the
    /// packet after a lost one at hand, for FEC, under a few ms of jitter) or fixed.
    pub mode: JitterMode,
    /// The playout tick (the negotiated ptime): `get` is called once per tick and hands out this
    /// much media. Must be a whole number of clock units. Default 20 ms.
    pub frame_duration: Duration,
    /// RTP clock rate of the payload type (8000 for G.711, 48000 for Opus). Default 8000.
    pub clock_rate: u32,
    /// Packets held at most (one slot per sequence number). Default 50.
    pub capacity: usize,
    /// Largest payload accepted, in bytes; every slot reserves this much once. Default 1500.
    pub max_payload: usize,
    /// How far back arrivals count for the jitter estimate. Default 2 s.
    pub window: Duration,
    /// Least time between two delay adjustments (a dropped or an inserted frame). Default 200 ms.
    pub min_adjust_gap: Duration,
    /// Time over which an excess delay is dropped: with an excess of `n` frames the buffer drops
    /// one frame every `shrink_span / n` (but not more often than `min_adjust_gap`). Default 1 s.
    pub shrink_span: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            mode: JitterMode::Adaptive {
                initial: Duration::from_millis(40),
                min: Duration::from_millis(40),
                max: Duration::from_millis(200),
            },
            frame_duration: Duration::from_millis(20),
            clock_rate: 8000,
            capacity: 50,
            max_payload: 1500,
            window: Duration::from_secs(2),
            min_adjust_gap: Duration::from_millis(200),
            shrink_span: Duration::from_secs(1),
        }
    }
}

/// A [`JitterConfig`] the buffer cannot work with (a caller error, never a peer's).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JitterConfigError {
    /// The clock rate is zero.
    #[error("the RTP clock rate must not be zero")]
    ZeroClockRate,
    /// The frame duration is zero or not a whole number of clock units.
    #[error("the frame duration must be a positive whole number of clock units")]
    FrameDuration,
    /// Fewer than two slots, or more than a sequence-number dropout can address.
    #[error("the capacity must be between 2 and {max} packets", max = MAX_CAPACITY)]
    Capacity,
    /// The maximum payload is zero.
    #[error("the maximum payload must not be zero")]
    MaxPayload,
    /// `min` exceeds `max`, or `initial` is outside `min..=max`.
    #[error("the delays must satisfy min <= initial <= max")]
    DelayOrder,
    /// The largest delay does not fit in the buffer.
    #[error("the largest delay must be shorter than capacity x frame duration")]
    DelayBeyondCapacity,
    /// The estimation window is shorter than one frame.
    #[error("the estimation window must be at least one frame")]
    Window,
}

/// Largest capacity accepted: more slots than RTP's dropout limit could never fill.
pub(super) const MAX_CAPACITY: usize = 3000;

/// Longest packet the buffer believes in (Opus allows 120 ms): a timestamp step up to this with
/// consecutive sequence numbers is a long packet, a larger one is a pause in sending.
const MAX_PACKET: Duration = Duration::from_millis(120);

/// The configuration converted to media-clock units (samples at `clock_rate`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Units {
    /// Clock units per second.
    pub rate: u64,
    /// Clock units per playout tick.
    pub tick: u64,
    /// Longest plausible packet.
    pub max_packet: u64,
    /// Delay before the first frame (adaptive `initial`, or the fixed delay).
    pub initial: i64,
    /// Smallest margin behind the latest arrival (fixed: the fixed delay).
    pub min: i64,
    /// Largest target delay (fixed: the fixed delay).
    pub max: i64,
    /// Whether the buffer drops and inserts frames to adapt.
    pub adaptive: bool,
}

impl Units {
    /// Checks `config` and converts it.
    pub fn new(config: &JitterConfig) -> Result<Self, JitterConfigError> {
        if config.clock_rate == 0 {
            return Err(JitterConfigError::ZeroClockRate);
        }
        let rate = u64::from(config.clock_rate);
        let tick =
            whole_units(config.frame_duration, rate).ok_or(JitterConfigError::FrameDuration)?;
        if !(2..=MAX_CAPACITY).contains(&config.capacity) {
            return Err(JitterConfigError::Capacity);
        }
        if config.max_payload == 0 {
            return Err(JitterConfigError::MaxPayload);
        }
        if config.window < config.frame_duration {
            return Err(JitterConfigError::Window);
        }
        let (initial, min, max, adaptive) = match config.mode {
            JitterMode::Adaptive { initial, min, max } => {
                if min > max || initial < min || initial > max {
                    return Err(JitterConfigError::DelayOrder);
                }
                (initial, min, max, true)
            }
            JitterMode::Fixed { delay } => (delay, delay, delay, false),
        };
        let span = u128::from(tick) * config.capacity as u128;
        if u128::from(to_units(max, rate)) >= span {
            return Err(JitterConfigError::DelayBeyondCapacity);
        }
        Ok(Self {
            rate,
            tick,
            max_packet: to_units(MAX_PACKET, rate).max(tick),
            initial: signed(to_units(initial, rate)),
            min: signed(to_units(min, rate)),
            max: signed(to_units(max, rate)),
            adaptive,
        })
    }

    /// `duration` in clock units, rounded down and saturating.
    pub fn of(&self, duration: Duration) -> u64 {
        to_units(duration, self.rate)
    }

    /// `units` clock units as a duration (saturating).
    pub fn duration(&self, units: u64) -> Duration {
        let nanos = u128::from(units) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many ticks `units` spans, rounded up (a packet shorter than a tick still takes one).
    pub fn ticks(&self, units: u64) -> u64 {
        units.div_ceil(self.tick).max(1)
    }
}

/// `duration` in units of `rate` per second, rounded down, saturating at `u64::MAX`.
pub(super) fn to_units(duration: Duration, rate: u64) -> u64 {
    let units = duration.as_nanos() * u128::from(rate) / 1_000_000_000;
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// `duration` in units of `rate`, if that is a positive whole number.
fn whole_units(duration: Duration, rate: u64) -> Option<u64> {
    let scaled = duration.as_nanos() * u128::from(rate);
    if scaled == 0 || !scaled.is_multiple_of(1_000_000_000) {
        return None;
    }
    u64::try_from(scaled / 1_000_000_000).ok()
}

/// A unit count as a signed offset (saturating).
pub(super) fn signed(units: u64) -> i64 {
    i64::try_from(units).unwrap_or(i64::MAX)
}
