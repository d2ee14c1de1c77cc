//! Reception statistics (RFC 3550 A.3 loss, A.8 jitter, LSR/DLSR), sender statistics and
//! round-trip time, driven in virtual time.

use std::time::{Duration, Instant};

use herald_media::rtcp::{
    NtpTimestamp, ReceiverStats, ReportBlock, SenderInfo, SenderStats, round_trip_time,
};
use herald_media::rtp::{SequenceExtender, Ssrc};

const SOURCE: Ssrc = Ssrc::new(0x5151);
/// 8 kHz audio in 20 ms packets.
const RATE: u32 = 8000;
const PTIME: Duration = Duration::from_millis(20);

fn epoch() -> Instant {
    #[allow(
        clippy::disallowed_methods,
        reason = "one arbitrary epoch for virtual time"
    )]
    Instant::now()
}

/// A receiver of 8 kHz audio and its clock.
struct Receiver {
    sequence: SequenceExtender,
    stats: ReceiverStats,
    start: Instant,
}

impl Receiver {
    fn new() -> Self {
        Self {
            sequence: SequenceExtender::new(1),
            stats: ReceiverStats::new(RATE),
            start: epoch(),
        }
    }

    /// Packet `n` (sent at n × 20 ms) arrives `delay` late.
    fn receive(&mut self, n: u16, delay: Duration) {
        let now = self.start + PTIME * u32::from(n) + delay;
        if self.sequence.extend(n).is_accepted() {
            self.stats.on_rtp(now, 160 * u32::from(n));
        }
    }

    fn report(&mut self, at: Duration) -> ReportBlock {
        let now = self.start + at;
        self.stats
            .report_block(SOURCE, &self.sequence, now)
            .expect("source valid")
    }
}

#[test]
fn constant_delay_is_no_jitter() {
    let mut receiver = Receiver::new();
    for n in 0..100 {
        receiver.receive(n, Duration::from_millis(35));
    }
    assert_eq!(receiver.stats.jitter(), 0);
}

#[test]
fn alternating_delay_converges_to_the_swing() {
    let mut receiver = Receiver::new();
    for n in 0..500 {
        let delay = if n % 2 == 0 { 10 } else { 30 };
        receiver.receive(n, Duration::from_millis(delay));
    }
    // Every transit differs by 20 ms = 160 timestamp units from the previous one; the
    // estimate J += (|D| - J) / 16 converges to |D|.
    let jitter = receiver.stats.jitter();
    assert!((155..=160).contains(&jitter), "jitter {jitter}");
}

#[test]
fn fraction_lost_counts_each_interval_and_cumulative_counts_all() {
    let mut receiver = Receiver::new();
    for n in (0..100).filter(|n| n % 10 != 9) {
        receiver.receive(n, Duration::ZERO);
    }
    let first = receiver.report(Duration::from_secs(2));
    // 99 expected (0..=98), 90 received: 9 lost. 9/99 of 256 is 23.
    assert_eq!((first.fraction_lost, first.cumulative_lost), (23, 9));
    assert_eq!(first.highest_sequence, 98);

    for n in 100..200 {
        receiver.receive(n, Duration::ZERO);
    }
    let second = receiver.report(Duration::from_secs(4));
    // 99 is the one lost of the 101 expected since (99..=199): 256/101 is 2.
    assert_eq!((second.fraction_lost, second.cumulative_lost), (2, 10));

    let silent = receiver.report(Duration::from_secs(6));
    assert_eq!(silent.fraction_lost, 0, "nothing expected, nothing lost");
}

#[test]
fn duplicates_make_loss_negative_but_not_the_fraction() {
    let mut receiver = Receiver::new();
    for n in [0, 1, 1, 2, 2, 3] {
        receiver.receive(n, Duration::ZERO);
    }
    let block = receiver.report(Duration::from_secs(1));
    assert_eq!((block.fraction_lost, block.cumulative_lost), (0, -2));
}

#[test]
fn heavy_loss_in_an_interval_shows_in_the_fraction() {
    let mut receiver = Receiver::new();
    receiver.receive(0, Duration::ZERO);
    receiver.report(Duration::from_secs(1));
    receiver.receive(50, Duration::ZERO);
    let block = receiver.report(Duration::from_secs(2));
    // 50 expected in the interval, 1 received: 49/50 of 256 is 250.
    assert_eq!(block.fraction_lost, 250);
    receiver.receive(2000, Duration::ZERO);
    assert_eq!(receiver.report(Duration::from_secs(3)).fraction_lost, 255);
}

#[test]
fn a_sequence_restart_starts_a_new_interval() {
    let mut receiver = Receiver::new();
    for n in 0..50 {
        receiver.receive(n, Duration::ZERO);
    }
    receiver.report(Duration::from_secs(1));
    receiver.receive(30_000, Duration::ZERO);
    receiver.receive(30_001, Duration::ZERO);
    let block = receiver.report(Duration::from_secs(2));
    assert_eq!((block.fraction_lost, block.cumulative_lost), (0, 0));
    assert_eq!(block.highest_sequence, 30_001);
}

#[test]
fn no_block_before_the_source_is_valid() {
    let mut stats = ReceiverStats::new(RATE);
    let mut sequence = SequenceExtender::default();
    sequence.extend(7);
    assert_eq!(stats.report_block(SOURCE, &sequence, epoch()), None);
}

#[test]
fn lsr_and_dlsr_come_from_the_last_sender_report() {
    let mut receiver = Receiver::new();
    receiver.receive(0, Duration::ZERO);
    let before = receiver.report(Duration::from_secs(1));
    assert_eq!((before.last_sr, before.delay_since_last_sr), (0, 0));

    let info = SenderInfo {
        ntp: NtpTimestamp::new(0xe6a4_d1c9_8000_0000),
        rtp_timestamp: 0,
        packet_count: 1,
        octet_count: 160,
    };
    receiver
        .stats
        .on_sender_report(receiver.start + Duration::from_secs(2), &info);
    let block = receiver.report(Duration::from_millis(3500));
    assert_eq!(block.last_sr, 0xd1c9_8000);
    assert_eq!(block.delay_since_last_sr, 98_304, "1.5 s in 1/65536 s");
}

#[test]
fn round_trip_time_subtracts_the_echo_and_the_delay() {
    // RFC 3550 §6.4.1's example: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000.
    let block = ReportBlock {
        ssrc: SOURCE,
        fraction_lost: 0,
        cumulative_lost: 0,
        highest_sequence: 0,
        jitter: 0,
        last_sr: 0xb705_2000,
        delay_since_last_sr: 0x0005_4000,
    };
    let arrival = NtpTimestamp::new(0x0000_b710_8000_0000);
    assert_eq!(
        round_trip_time(&block, arrival),
        Some(Duration::from_nanos(6_125_000_000))
    );
    let no_sr = ReportBlock {
        last_sr: 0,
        ..block
    };
    assert_eq!(round_trip_time(&no_sr, arrival), None);
    let early = NtpTimestamp::new(0x0000_b705_0000_0000);
    assert_eq!(round_trip_time(&block, early), None);
}

#[test]
fn sender_info_counts_and_advances_the_media_clock() {
    let start = epoch();
    let mut stats = SenderStats::new();
    let wall = NtpTimestamp::from_unix(Duration::from_secs(1_700_000_000));
    assert_eq!(
        stats.sender_info(start, wall, RATE),
        None,
        "nothing sent: send an RR"
    );
    for n in 0..50u32 {
        stats.on_sent(start + PTIME * n, 1000 + 160 * n, 160);
    }
    let info = stats
        .sender_info(start + Duration::from_millis(1000), wall, RATE)
        .unwrap();
    assert_eq!((info.packet_count, info.octet_count), (50, 8000));
    assert_eq!(
        info.rtp_timestamp,
        1000 + 8000,
        "one second after the first packet"
    );
    assert_eq!(info.ntp, wall);
}
