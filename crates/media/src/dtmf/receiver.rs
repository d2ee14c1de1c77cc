//! [`EventReceiver`]: RFC 4733 telephone-event packets in, one digit per key press out.

use std::fmt;
use std::time::{Duration, Instant};

use super::queue::OutputQueue;
use super::{Digit, DtmfError, TelephoneEvent};

/// The largest duration one segment can carry (RFC 4733 §2.5.1.3).
pub const MAX_SEGMENT: u64 = 0xFFFF;

/// How far past [`MAX_SEGMENT`] a long-press continuation may start, and how close to it the
/// previous segment must have grown, in clock units: senders cut segments at packet
/// boundaries and packets get lost, so both are approximate.
pub const SEGMENT_SLACK: u64 = 0x4000;

/// The shortest no-packet timeout, whatever the update interval.
const MIN_TIMEOUT: Duration = Duration::from_millis(200);

/// Missed updates after which an event without an end packet is over.
const MISSED_UPDATES: u32 = 3;

/// Update interval assumed until two packets of an event have shown the real one.
const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);

/// Earlier events remembered besides the latest one.
const EARLIER: usize = 4;

/// Digits held for [`EventReceiver::poll_digit`]; a receiver fed one packet at a time holds one.
const QUEUE_CAPACITY: usize = 16;

/// One key press received as RFC 4733 events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// The key.
    pub digit: Digit,
    /// The extended RTP timestamp of the event: when the key went down, in clock units.
    pub start_timestamp: u64,
    /// The duration carried by the packet that reported the digit (see [`EventReceiver`]): how
    /// long the key had been down when Herald learned of it, often zero.
    pub duration: Duration,
}

/// Receives RFC 4733 telephone events of one RTP stream (one SSRC) and reports each key press
/// once.
///
/// A sender reports one key press as a run of packets that all carry the RTP timestamp of the
/// moment the key went down (RFC 4733 §2.5): the first with the marker bit, then updates
/// with a growing duration, then (usually three copies of) an end packet with the E bit. Any of
/// them may be lost, repeated or reordered. The receiver turns that run into exactly one
/// [`ReceivedDigit`].
///
/// # Identity of an event
///
/// An event is its `(RTP timestamp, event code)` pair:
///
/// - a packet with the current event's pair updates it (redundant copies, repeated end
///   packets and late non-end packets change nothing visible);
/// - a packet with a newer timestamp, or the same timestamp and another code, starts a new
///   event and ends the previous one, so a lost end packet never swallows the next key;
/// - a packet older than the current event (a late straggler of a finished one) is ignored;
/// - the one exception is a long key press (§2.5.1.3): once the duration reaches the 16-bit
///   limit (65535 units: 8.2 s at 8 kHz, but only 1.37 s at 48 kHz) the sender starts a new
///   segment with a new timestamp, no marker bit and the same code. A packet with the same
///   code, no marker, a timestamp at most [`MAX_SEGMENT`] + [`SEGMENT_SLACK`] units after the
///   previous segment's, arriving while that segment was near its limit and not ended by an E
///   bit, continues the same key press.
///
/// # When a digit is reported
///
/// At the first packet of a new event, whichever packet that is (the marker packet, an update
/// if it was lost, or even an end packet). A sender only starts an event once its own detector
/// has validated the key, so the first packet is as certain as the last, and reporting it then
/// keeps the IVR responsive and lines the report up in time with a SIP INFO for the same press
/// (which phones also send at key-down), which [`DtmfPipeline`](super::DtmfPipeline) relies on
/// to de-duplicate. The price: [`ReceivedDigit::duration`] is the duration carried by that first
/// packet (how long the key had been down when we learned of it), not the final length.
/// Events of any length count, including the 33 ms ones some Opus senders use.
///
/// # When an event ends
///
/// On its end packet, when a newer event starts, or when no packet for it arrived for
/// `max(3 × update interval, 200 ms)` ([`poll_timeout`](Self::poll_timeout)). The update interval is
/// measured as duration growth per sequence number, so lost packets do not stretch it; until
/// two packets have shown it, it is taken as 50 ms, the longest interval senders commonly use.
/// Three missed updates in a row mean the sender has stopped; 200 ms covers jitter for fast
/// senders. A packet of an event that timed out (but never sent its end) revives it: the
/// sender was only late. Ending matters for long-press segments (above); it never produces or
/// suppresses a digit.
///
/// Non-DTMF events (code 16 and up, such as a flash) are tracked the same way so they end the
/// previous key press, but are not reported.
///
/// # States
///
/// ```text
///           first packet of a new event: report it                packet of this event:
///  +------+ ------------------------------------> +--------+ <--+ keep the longest duration
///  | Idle |                                       | Active | ---+
///  +------+ ---------------+                      +--------+ <---------------------------+
///                          |                       |  |   |                              |
///          first packet is |   end packet, timeout |  |   | newer event: report it;      | packet of it
///          an end packet:  |                       |  |   | next long-press segment:     | after a timeout
///          report it       v                       v  |   | no report                    | (revived)
///                       +-------+ <----------------+  +---+                              |
///                       | Ended | -------------------------------------------------------+
///                       +-------+ ---> newer event: report it, Active (or Ended if it is an
///                                      end packet); this or an older event: ignored
/// ```
///
/// Make a new receiver when the stream's SSRC changes: timestamps from another source are not
/// comparable. `Debug` shows the clock rate and the state's name, never event codes (they are
/// the digits).
pub struct EventReceiver {
    clock_rate: u32,
    state: State,
    /// Events before the latest, as `(timestamp, code)`, so that a straggler of one sharing the
    /// latest's timestamp never counts again.
    earlier: [Option<(u64, u8)>; EARLIER],
    earlier_next: usize,
    digits: OutputQueue<ReceivedDigit>,
}

/// The receiver's state: see the diagram on [`EventReceiver`].
#[derive(Clone, Copy)]
enum State {
    /// No event seen yet.
    Idle,
    /// An event whose end has not been seen.
    Active(Event),
    /// The latest event is over; packets of it or of older events are ignored.
    Ended { event: Event, by_end_bit: bool },
}

/// What the receiver knows of one event.
#[derive(Clone, Copy)]
struct Event {
    /// Extended RTP timestamp of the current segment.
    start: u64,
    /// Event code.
    code: u8,
    /// Longest duration seen in the current segment, in clock units.
    duration: u64,
    /// Extended sequence number of the packet that carried `duration`.
    seq: u64,
    /// Measured update interval, in clock units per packet.
    interval: Option<u64>,
    /// Arrival of the latest packet of the event.
    last_packet: Instant,
}

/// How a packet relates to the receiver's latest event.
enum Relation {
    /// A packet of the latest event.
    Same,
    /// The next segment of the latest event's long key press.
    NextSegment,
    /// A new event.
    New,
    /// A straggler from an older event.
    Stale,
}

impl EventReceiver {
    /// A receiver for a telephone-event clock of `clock_rate` Hz (the rate of the negotiated
    /// `telephone-event/<rate>`, 8000 by default and 48000 next to Opus). A rate of zero is
    /// taken as 8000.
    pub fn new(clock_rate: u32) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        EventReceiver {
            clock_rate,
            state: State::Idle,
            earlier: [None; EARLIER],
            earlier_next: 0,
            digits: OutputQueue::new(QUEUE_CAPACITY),
        }
    }

    /// Takes one telephone-event packet: its arrival time, extended sequence number, extended
    /// RTP timestamp, marker bit and payload.
    ///
    /// A payload too short to hold an event is refused and changes nothing.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        seq: u64,
        timestamp: u64,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let te = TelephoneEvent::parse(payload)?;
        self.handle_timeout(now);
        let packet = Packet {
            now,
            seq,
            timestamp,
            marker,
            te,
        };
        match self.relation(&packet) {
            Relation::Stale => {}
            Relation::Same => self.update(&packet),
            Relation::NextSegment => self.next_segment(&packet),
            Relation::New => self.start(&packet),
        }
        Ok(())
    }

    /// Ends an event whose packets stopped coming, once `now` has reached
    /// [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Active(event) = self.state
            && now >= self.deadline(&event)
        {
            self.state = State::Ended {
                event,
                by_end_bit: false,
            };
        }
    }

    /// When the current event will be taken as over if no packet for it arrives, or `None`
    /// when no event is in progress.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Active(event) => Some(self.deadline(event)),
            State::Idle | State::Ended { .. } => None,
        }
    }

    /// The next key press, once each.
    pub fn poll_digit(&mut self) -> Option<ReceivedDigit> {
        self.digits.pop()
    }

    /// The negotiated telephone-event clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    fn relation(&self, p: &Packet) -> Relation {
        let (latest, by_end_bit) = match &self.state {
            State::Idle => return Relation::New,
            State::Active(event) => (event, false),
            State::Ended { event, by_end_bit } => (event, *by_end_bit),
        };
        if p.timestamp < latest.start || self.earlier.contains(&Some((p.timestamp, p.te.event))) {
            Relation::Stale
        } else if p.timestamp == latest.start && p.te.event == latest.code {
            Relation::Same
        } else if !by_end_bit && continues(latest, p) {
            Relation::NextSegment
        } else {
            Relation::New
        }
    }

    fn start(&mut self, p: &Packet) {
        self.remember_latest();
        let event = Event::first(p);
        if let Some(digit) = p.te.digit() {
            self.digits.push(ReceivedDigit {
                digit,
                start_timestamp: p.timestamp,
                duration: self.units_to_duration(u64::from(p.te.duration)),
            });
        }
        self.state = after_packet(event, p.te.end);
    }

    fn update(&mut self, p: &Packet) {
        let (mut event, by_end_bit) = match self.state {
            State::Active(event) => (event, false),
            State::Ended { event, by_end_bit } => (event, by_end_bit),
            State::Idle => return,
        };
        event.absorb(p);
        // After an end packet the event is over for good (late updates, repeated ends); after
        // a timeout a packet of it shows the sender was only late, and revives it.
        self.state = if by_end_bit {
            State::Ended { event, by_end_bit }
        } else {
            after_packet(event, p.te.end)
        };
    }

    fn next_segment(&mut self, p: &Packet) {
        self.remember_latest();
        let mut event = Event::first(p);
        if let State::Active(prev) | State::Ended { event: prev, .. } = self.state {
            event.interval = prev.interval;
        }
        self.state = after_packet(event, p.te.end);
    }

    /// Moves the latest event, if any, into `earlier`.
    fn remember_latest(&mut self) {
        if let State::Active(event) | State::Ended { event, .. } = self.state {
            self.earlier[self.earlier_next] = Some((event.start, event.code));
            self.earlier_next = (self.earlier_next + 1) % EARLIER;
        }
    }

    fn deadline(&self, event: &Event) -> Instant {
        let interval = event
            .interval
            .map_or(DEFAULT_INTERVAL, |units| self.units_to_duration(units));
        event.last_packet + (interval * MISSED_UPDATES).max(MIN_TIMEOUT)
    }

    fn units_to_duration(&self, units: u64) -> Duration {
        let nanos = u128::from(units) * 1_000_000_000 / u128::from(self.clock_rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "Idle",
            State::Active(_) => "Active",
            State::Ended { .. } => "Ended",
        };
        f.debug_struct("EventReceiver")
            .field("clock_rate", &self.clock_rate)
            .field("state", &format_args!("{state}"))
            .finish_non_exhaustive()
    }
}

/// One parsed packet with its RTP header facts.
struct Packet {
    now: Instant,
    seq: u64,
    timestamp: u64,
    marker: bool,
    te: TelephoneEvent,
}

impl Event {
    fn first(p: &Packet) -> Event {
        Event {
            start: p.timestamp,
            code: p.te.event,
            duration: u64::from(p.te.duration),
            seq: p.seq,
            interval: None,
            last_packet: p.now,
        }
    }

    /// Takes a later (or reordered, or repeated) packet of the same segment.
    fn absorb(&mut self, p: &Packet) {
        self.last_packet = self.last_packet.max(p.now);
        let duration = u64::from(p.te.duration);
        if duration > self.duration && p.seq > self.seq {
            let per_packet = (duration - self.duration) / (p.seq - self.seq);
            if per_packet > 0 {
                self.interval = Some(per_packet);
            }
        }
        if duration > self.duration {
            self.duration = duration;
            self.seq = p.seq;
        }
    }
}

/// Whether `p` is the next segment of `latest`'s long key press (RFC 4733 §2.5.1.3).
fn continues(latest: &Event, p: &Packet) -> bool {
    let gap = p.timestamp - latest.start;
    p.te.event == latest.code
        && !p.marker
        && latest.duration >= MAX_SEGMENT - SEGMENT_SLACK
        && gap >= latest.duration
        && gap <= MAX_SEGMENT + SEGMENT_SLACK
}

fn after_packet(event: Event, end: bool) -> State {
    if end {
        State::Ended {
            event,
            by_end_bit: true,
        }
    } else {
        State::Active(event)
    }
}
