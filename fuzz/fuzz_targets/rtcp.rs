//! RTCP: compound parsing, and reception statistics under arbitrary arrivals.
//!
//! Input layout: the whole input is first parsed as one compound RTCP datagram. The same bytes,
//! read by `arbitrary`, then give a clock rate and a list of events in virtual time (an RTP
//! arrival with a sequence and timestamp step, an SR from the source, a report we send, a
//! source restart) that drive a `SequenceExtender` and a `ReceiverStats`.
//!
//! Asserts:
//! * `Compound::parse` never panics; an accepted compound iterates to exactly as many packets
//!   as its length fields tile, and every nested iterator (report blocks, SDES chunks and
//!   items, BYE sources) ends; SRs fed to `ReceiverStats` and report blocks fed to
//!   `round_trip_time` never panic;
//! * `ReceiverStats` never panics; its blocks carry the extender's highest sequence number,
//!   a cumulative loss within 24 signed bits, and once an SR arrived a non-zero LSR;
//! * a report built from those blocks writes and parses back with the same blocks.

#![no_main]

use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use herald_media::rtcp::{
    Compound, NtpTimestamp, ReceiverStats, Report, ReportBlock, RtcpPacket, SenderInfo,
    round_trip_time,
};
use herald_media::rtp::{SequenceExtender, Ssrc};
use libfuzzer_sys::fuzz_target;

const SOURCE: Ssrc = Ssrc::new(0x5eed);

/// One event in virtual time.
#[derive(Arbitrary, Debug)]
enum Event {
    Rtp {
        after_micros: u16,
        sequence_step: i8,
        timestamp_step: i16,
    },
    SenderReport {
        after_micros: u16,
        ntp: u64,
    },
    Report {
        after_micros: u16,
    },
    Reset,
}

fuzz_target!(|data: &[u8]| {
    // One epoch per process: virtual time is measured from it and never read again.
    #[allow(
        clippy::disallowed_methods,
        reason = "one arbitrary epoch for virtual time"
    )]
    let epoch = Instant::now();
    let mut stats = ReceiverStats::new(8000);
    check_compound(data, epoch, &mut stats);
    let mut input = Unstructured::new(data);
    let (Ok(clock_rate), Ok(events)) = (
        u32::arbitrary(&mut input),
        Vec::<Event>::arbitrary(&mut input),
    ) else {
        return;
    };
    drive(epoch, clock_rate, &events);
});

fn check_compound(data: &[u8], now: Instant, stats: &mut ReceiverStats) {
    let Ok(compound) = Compound::parse(data) else {
        return;
    };
    let mut packets = 0;
    for packet in compound.packets() {
        packets += 1;
        match packet {
            RtcpPacket::SenderReport(sr) => {
                stats.on_sender_report(now, &sr.sender_info);
                sr.report_blocks()
                    .for_each(|block| rtt(&block, sr.sender_info.ntp));
            }
            RtcpPacket::ReceiverReport(rr) => {
                rr.report_blocks()
                    .for_each(|block| rtt(&block, NtpTimestamp::new(0)));
            }
            RtcpPacket::SourceDescription(sdes) => {
                for chunk in sdes.chunks() {
                    let _ = (chunk.items().count(), chunk.cname());
                }
            }
            RtcpPacket::Bye(bye) => {
                let _ = (bye.sources().count(), bye.reason());
            }
            RtcpPacket::Other { .. } => {}
        }
    }
    assert_eq!(packets, packets_by_length(data));
}

fn rtt(block: &ReportBlock, arrival: NtpTimestamp) {
    let _ = round_trip_time(block, arrival);
}

/// Packets in a compound, counted by walking the length fields only.
fn packets_by_length(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while bytes.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) + 1) * 4;
        bytes = &bytes[len.min(bytes.len())..];
        count += 1;
    }
    count
}

fn drive(epoch: Instant, clock_rate: u32, events: &[Event]) {
    let mut stats = ReceiverStats::new(clock_rate);
    let mut extender = SequenceExtender::new(1);
    let (mut now, mut sequence, mut timestamp) = (epoch, 0u16, 0u32);
    let mut sr_seen = false;
    for event in events {
        match *event {
            Event::Rtp {
                after_micros,
                sequence_step,
                timestamp_step,
            } => {
                now += Duration::from_micros(u64::from(after_micros));
                sequence = sequence.wrapping_add_signed(i16::from(sequence_step));
                timestamp = timestamp.wrapping_add_signed(i32::from(timestamp_step));
                if extender.extend(sequence).is_accepted() {
                    stats.on_rtp(now, timestamp);
                }
            }
            Event::SenderReport { after_micros, ntp } => {
                now += Duration::from_micros(u64::from(after_micros));
                let info = SenderInfo {
                    ntp: NtpTimestamp::new(ntp),
                    rtp_timestamp: 0,
                    packet_count: 0,
                    octet_count: 0,
                };
                stats.on_sender_report(now, &info);
                sr_seen = true;
            }
            Event::Report { after_micros } => {
                now += Duration::from_micros(u64::from(after_micros));
                check_report(&mut stats, &extender, now, sr_seen);
            }
            Event::Reset => {
                stats.reset();
                extender.reset();
                sr_seen = false;
            }
        }
    }
}

fn check_report(
    stats: &mut ReceiverStats,
    extender: &SequenceExtender,
    now: Instant,
    sr_seen: bool,
) {
    let Some(block) = stats.report_block(SOURCE, extender, now) else {
        assert_eq!(extender.highest(), None);
        return;
    };
    assert_eq!(block.highest_sequence, extender.rtcp_extended_highest());
    assert!((-0x80_0000..=0x7f_ffff).contains(&block.cumulative_lost));
    assert_eq!(block.jitter, stats.jitter());
    if !sr_seen {
        assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    }
    let report = Report {
        ssrc: Ssrc::new(1),
        sender_info: None,
        blocks: &[block],
    };
    let mut out = [0u8; 128];
    let len = report.write(b"fuzz", &mut out).expect("fits");
    let compound = Compound::parse(&out[..len]).expect("what we write parses");
    let Some(RtcpPacket::ReceiverReport(rr)) = compound.packets().next() else {
        panic!("an RR first");
    };
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), [block]);
}
