//! [`DtmfPipeline`]: digits from RFC 4733, SIP INFO and in-band detection in, each key press
//! out once.

use std::time::{Duration, Instant};

use super::Digit;
use super::queue::OutputQueue;

/// How a digit reached Herald.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfSource {
    /// RTP telephone events (RFC 4733, formerly RFC 2833).
    Rfc4733,
    /// A SIP INFO body (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// Tones detected in the received audio.
    Inband,
}

impl DtmfSource {
    fn bit(self) -> u8 {
        match self {
            DtmfSource::Rfc4733 => 1,
            DtmfSource::SipInfo => 2,
            DtmfSource::Inband => 4,
        }
    }
}

/// Settings of a [`DtmfPipeline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// How far apart two copies of one key press, by two methods, may arrive. Default 300 ms:
    /// long enough for a SIP INFO that travels through proxies while RTP goes direct, short
    /// enough that people do not press one key twice that fast by two methods.
    pub same_press_window: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            same_press_window: Duration::from_millis(300),
        }
    }
}

/// One key press, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    /// The key.
    pub digit: Digit,
    /// The method that reported it first.
    pub source: DtmfSource,
    /// When it was reported.
    pub at: Instant,
}

/// Merges the DTMF methods of one call into one stream of key presses.
///
/// Phones and gateways often signal one key press more than one way: RFC 4733 events and the
/// tone left in the audio, or a SIP INFO and RFC 4733 at once. Each method's own receiver
/// already reports each press once ([`EventReceiver`](super::EventReceiver),
/// [`InbandDetector`](super::InbandDetector)); the pipeline merges the methods.
///
/// # Rules
///
/// 1. **Out of band silences in band.** Once an RFC 4733 event (any event, even before the
///    first digit: see [`handle_rfc4733_seen`](Self::handle_rfc4733_seen)) or a SIP INFO digit has been
///    received on the call, in-band detections are dropped for the rest of the call: the far
///    end has shown it signals keys out of band, and the tone still in its audio is the same
///    key press again (or, worse, a half-heard one).
/// 2. **One press, several methods.** A digit from one method that repeats the digit of a
///    press reported by *another* method less than [`PipelineConfig::same_press_window`] ago
///    (300 ms by default) is that same press and is dropped. Each method can confirm a press
///    only once, so fast repeats of one key signalled two ways (`INFO 5, RTP 5, INFO 5, RTP 5`)
///    still count twice.
/// 3. **One method is trusted for its own repeats.** Two digits from the same method are two
///    presses, however close: its receiver has already told repeats (redundant packets,
///    retransmissions) from presses.
///
/// So two genuine presses of one key farther apart than the window always count twice, and
/// within the window they count twice unless they arrive by two different methods.
///
/// The first digit of a call can arrive in band before any RFC 4733 packet: it is reported,
/// and the RFC 4733 copy of it that follows within the window is dropped by rule 2. A
/// misdetected in-band digit before the first out-of-band one is not corrected.
///
/// Time: decisions are immediate (the first copy of a press is reported at once), so the
/// pipeline has no timers; `now` only measures the window.
#[derive(Debug)]
pub struct DtmfPipeline {
    config: PipelineConfig,
    /// Whether the far end has shown it signals keys out of band (rule 1).
    out_of_band_seen: bool,
    /// Recent presses, newest last, for matching copies by other methods.
    recent: [Option<Recent>; RECENT],
    recent_next: usize,
    presses: OutputQueue<KeyPress>,
}

/// Presses remembered for matching: more than a person types within one window.
const RECENT: usize = 8;

/// Presses held for [`DtmfPipeline::poll_digit`].
const QUEUE_CAPACITY: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Recent {
    digit: Digit,
    at: Instant,
    /// Methods that have reported this press (bits of [`DtmfSource::bit`]).
    sources: u8,
}

impl DtmfPipeline {
    /// A pipeline for one call.
    pub fn new(config: PipelineConfig) -> Self {
        DtmfPipeline {
            config,
            out_of_band_seen: false,
            recent: [None; RECENT],
            recent_next: 0,
            presses: OutputQueue::new(QUEUE_CAPACITY),
        }
    }

    /// Notes that an RFC 4733 telephone-event packet (of any event) arrived on the call, which
    /// silences in-band detection from now on. Digits from RFC 4733 imply it.
    pub fn handle_rfc4733_seen(&mut self, _now: Instant) {
        self.out_of_band_seen = true;
    }

    /// Takes a digit from one method.
    pub fn handle_digit(&mut self, now: Instant, source: DtmfSource, digit: Digit) {
        match source {
            DtmfSource::Inband if self.out_of_band_seen => return,
            DtmfSource::Inband => {}
            DtmfSource::Rfc4733 | DtmfSource::SipInfo => self.out_of_band_seen = true,
        }
        if self.confirm_recent(now, source, digit) {
            return;
        }
        self.remember(Recent {
            digit,
            at: now,
            sources: source.bit(),
        });
        self.presses.push(KeyPress {
            digit,
            source,
            at: now,
        });
    }

    /// The next key press.
    pub fn poll_digit(&mut self) -> Option<KeyPress> {
        self.presses.pop()
    }

    /// Whether in-band detections are being dropped (rule 1).
    pub fn inband_suppressed(&self) -> bool {
        self.out_of_band_seen
    }

    /// Marks the newest recent press of `digit`, within the window and not yet reported by
    /// `source`, as reported by it; returns whether there was one.
    fn confirm_recent(&mut self, now: Instant, source: DtmfSource, digit: Digit) -> bool {
        let window = self.config.same_press_window;
        let newest_first = (0..RECENT).map(|i| (self.recent_next + RECENT - 1 - i) % RECENT);
        for index in newest_first {
            let Some(press) = &mut self.recent[index] else {
                continue;
            };
            let fresh = now.saturating_duration_since(press.at) < window;
            if fresh && press.digit == digit && press.sources & source.bit() == 0 {
                press.sources |= source.bit();
                return true;
            }
        }
        false
    }

    fn remember(&mut self, press: Recent) {
        self.recent[self.recent_next] = Some(press);
        self.recent_next = (self.recent_next + 1) % RECENT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(
        clippy::disallowed_methods,
        reason = "tests need one arbitrary epoch; nothing reads the wall clock after it"
    )]
    fn epoch() -> Instant {
        Instant::now()
    }

    fn d(c: char) -> Digit {
        Digit::from_char(c).unwrap()
    }

    fn run(events: &[(u64, DtmfSource, char)]) -> String {
        let t0 = epoch();
        let mut p = DtmfPipeline::new(PipelineConfig::default());
        let mut out = String::new();
        for &(ms, source, c) in events {
            p.handle_digit(t0 + Duration::from_millis(ms), source, d(c));
            while let Some(k) = p.poll_digit() {
                out.push(k.digit.as_char());
            }
        }
        out
    }

    use DtmfSource::{Inband, Rfc4733, SipInfo};

    #[test]
    fn info_and_rtp_for_one_press_count_once() {
        assert_eq!(run(&[(0, SipInfo, '5'), (40, Rfc4733, '5')]), "5");
        assert_eq!(run(&[(0, Rfc4733, '5'), (290, SipInfo, '5')]), "5");
    }

    #[test]
    fn presses_farther_apart_than_the_window_count_twice() {
        assert_eq!(run(&[(0, SipInfo, '5'), (300, Rfc4733, '5')]), "55");
        assert_eq!(run(&[(0, Inband, '5'), (400, Inband, '5')]), "55");
    }

    #[test]
    fn one_method_is_trusted_for_its_own_repeats() {
        assert_eq!(run(&[(0, Rfc4733, '5'), (120, Rfc4733, '5')]), "55");
        assert_eq!(run(&[(0, SipInfo, '1'), (100, SipInfo, '1')]), "11");
    }

    #[test]
    fn fast_repeats_signalled_two_ways_count_twice() {
        let events = [
            (0, SipInfo, '5'),
            (20, Rfc4733, '5'),
            (150, SipInfo, '5'),
            (170, Rfc4733, '5'),
        ];
        assert_eq!(run(&events), "55");
    }

    #[test]
    fn different_keys_are_never_merged() {
        assert_eq!(run(&[(0, SipInfo, '1'), (10, Rfc4733, '2')]), "12");
    }

    #[test]
    fn out_of_band_methods_silence_inband() {
        // The first press arrives in band first; its RFC 4733 copy is the same press.
        let events = [
            (0, Inband, '1'),
            (30, Rfc4733, '1'),
            (500, Rfc4733, '2'),
            (540, Inband, '2'),
            (1000, Inband, '3'),
        ];
        assert_eq!(run(&events), "12");
        assert_eq!(run(&[(0, SipInfo, '1'), (1000, Inband, '7')]), "1");
    }

    #[test]
    fn any_rfc4733_packet_silences_inband() {
        let t0 = epoch();
        let mut p = DtmfPipeline::new(PipelineConfig::default());
        assert!(!p.inband_suppressed());
        p.handle_rfc4733_seen(t0);
        assert!(p.inband_suppressed());
        p.handle_digit(t0, Inband, d('9'));
        assert_eq!(p.poll_digit(), None);
    }

    #[test]
    fn reports_the_first_method_and_time() {
        let t0 = epoch();
        let mut p = DtmfPipeline::new(PipelineConfig::default());
        p.handle_digit(t0, SipInfo, d('#'));
        p.handle_digit(t0 + Duration::from_millis(10), Rfc4733, d('#'));
        let k = p.poll_digit().unwrap();
        assert_eq!((k.digit.as_char(), k.source, k.at), ('#', SipInfo, t0));
        assert_eq!(p.poll_digit(), None);
    }
}
