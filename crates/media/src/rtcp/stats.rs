//! Reception and transmission statistics for reports (RFC 3550 §6.4, Appendices A.3 and A.8).

use std::time::{Duration, Instant};

use super::ntp::{from_short_units, to_short_units};
use super::{NtpTimestamp, ReportBlock, SenderInfo};
use crate::rtp::{SequenceExtender, Ssrc};

/// What we learn about one remote source for our reception report: interarrival jitter (A.8),
/// loss over the report interval (A.3) and the timing of its last SR.
///
/// Packet counts come from the source's [`SequenceExtender`] (via
/// [`crate::rtp::SourceTracker::sequence`]); this type adds what needs arrival times. Time is
/// an argument: `now` is when the packet arrived, as the I/O layer saw it.
///
/// The caller feeds [`ReceiverStats::on_rtp`] with the accepted packets of the primary media
/// payload type only: RFC 4733 event packets repeat their event's start timestamp and would
/// read as jitter. On a [`crate::rtp::SourceChange`] it calls [`ReceiverStats::reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverStats {
    clock_rate: u32,
    origin: Option<Instant>,
    /// The previous packet's relative transit time, in timestamp units (wrapping).
    transit: Option<u32>,
    /// Jitter times 16, as in A.8's integer version.
    jitter_x16: u64,
    prior: Option<Prior>,
    last_sr: Option<LastSr>,
}

/// The counts at the previous report, for the interval's fraction lost (A.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prior {
    ssrc: Ssrc,
    epoch: u32,
    expected: u64,
    received: u64,
}

/// The last SR received: its NTP middle bits and when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LastSr {
    lsr: u32,
    at: Instant,
}

impl ReceiverStats {
    /// Statistics for a source whose media clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            origin: None,
            transit: None,
            jitter_x16: 0,
            prior: None,
            last_sr: None,
        }
    }

    /// Forgets everything (the remote source changed).
    pub fn reset(&mut self) {
        *self = Self::new(self.clock_rate);
    }

    /// An accepted media packet with this RTP timestamp arrived at `now` (A.8).
    pub fn on_rtp(&mut self, now: Instant, rtp_timestamp: u32) {
        let transit = self.arrival_units(now).wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            self.jitter_x16 = self.jitter_x16 - ((self.jitter_x16 + 8) >> 4) + d;
        }
        self.transit = Some(transit);
    }

    /// An SR from the source arrived at `now`: remember it for LSR and DLSR.
    pub fn on_sender_report(&mut self, now: Instant, sender_info: &SenderInfo) {
        let lsr = sender_info.ntp.middle_32();
        self.last_sr = Some(LastSr { lsr, at: now });
    }

    /// The interarrival jitter, in timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_x16 >> 4).unwrap_or(u32::MAX)
    }

    /// The report block on `source` for a report sent at `now`, `None` before the source is
    /// valid. Each call closes a report interval: the fraction lost counts from the previous
    /// call (or from the start, after a reset or a sequence restart).
    pub fn report_block(
        &mut self,
        source: Ssrc,
        sequence: &SequenceExtender,
        now: Instant,
    ) -> Option<ReportBlock> {
        sequence.highest()?;
        let (expected, received) = (sequence.expected(), sequence.received());
        let fraction_lost = self.close_interval(source, sequence.epoch(), expected, received);
        let (last_sr, delay_since_last_sr) = self.last_sr.map_or((0, 0), |sr| {
            (sr.lsr, to_short_units(now.saturating_duration_since(sr.at)))
        });
        Some(ReportBlock {
            ssrc: source,
            fraction_lost,
            cumulative_lost: cumulative_lost(expected, received),
            highest_sequence: sequence.rtcp_extended_highest(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }

    /// A.3's interval arithmetic; returns the fraction lost in 1/256.
    fn close_interval(&mut self, ssrc: Ssrc, epoch: u32, expected: u64, received: u64) -> u8 {
        let prior = self
            .prior
            .filter(|prior| prior.ssrc == ssrc && prior.epoch == epoch)
            .unwrap_or(Prior {
                ssrc,
                epoch,
                expected: 0,
                received: 0,
            });
        self.prior = Some(Prior {
            ssrc,
            epoch,
            expected,
            received,
        });
        let expected_interval = expected.saturating_sub(prior.expected);
        let received_interval = received.saturating_sub(prior.received);
        match expected_interval.checked_sub(received_interval) {
            // A.3 computes (lost << 8) / expected into 8 bits, which wraps to 0 when every
            // packet was lost; clamp to 255 instead.
            Some(lost) if lost > 0 => ((lost << 8) / expected_interval).min(255) as u8,
            _ => 0,
        }
    }

    /// `now` on the media clock, counted from the first packet (wrapping like RTP timestamps).
    fn arrival_units(&mut self, now: Instant) -> u32 {
        let origin = *self.origin.get_or_insert(now);
        let nanos = now.saturating_duration_since(origin).as_nanos();
        (nanos * u128::from(self.clock_rate) / 1_000_000_000) as u32
    }
}

/// A.3's cumulative number of packets lost, clamped to the 24 signed bits of the field.
fn cumulative_lost(expected: u64, received: u64) -> i32 {
    let lost = i128::from(expected) - i128::from(received);
    lost.clamp(-0x80_0000, 0x7f_ffff) as i32
}

/// What we sent, for the sender information of our SR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderStats {
    packet_count: u32,
    octet_count: u32,
    last_sent: Option<(Instant, u32)>,
}

impl SenderStats {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// We sent an RTP packet at `now` with this timestamp and payload length (header and
    /// padding excluded, as §6.4.1 counts octets).
    pub fn on_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.packet_count = self.packet_count.wrapping_add(1);
        self.octet_count = self.octet_count.wrapping_add(payload_len as u32);
        self.last_sent = Some((now, rtp_timestamp));
    }

    /// The sender information for an SR sent at `now`, whose wall-clock reading (taken by the
    /// caller at the same moment) is `wall_clock`; `None` if we have sent nothing (send an RR).
    /// The RTP timestamp is the last one sent, advanced by the time since at `clock_rate`.
    pub fn sender_info(
        &self,
        now: Instant,
        wall_clock: NtpTimestamp,
        clock_rate: u32,
    ) -> Option<SenderInfo> {
        let (sent_at, timestamp) = self.last_sent?;
        let elapsed = now.saturating_duration_since(sent_at).as_nanos();
        let advance = (elapsed * u128::from(clock_rate) / 1_000_000_000) as u32;
        Some(SenderInfo {
            ntp: wall_clock,
            rtp_timestamp: timestamp.wrapping_add(advance),
            packet_count: self.packet_count,
            octet_count: self.octet_count,
        })
    }

    /// RTP packets sent (wrapping at 2^32).
    pub fn packet_count(&self) -> u32 {
        self.packet_count
    }

    /// Payload octets sent (wrapping at 2^32).
    pub fn octet_count(&self) -> u32 {
        self.octet_count
    }
}

/// The round-trip time a peer's report block shows (RFC 3550 §6.4.1): its arrival time at
/// `arrival` (our wall clock, the clock our SRs carry), minus the LSR it echoes, minus the delay
/// it declares. `None` if the block echoes no SR or the result is negative (clock trouble).
pub fn round_trip_time(block: &ReportBlock, arrival: NtpTimestamp) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let units = arrival
        .middle_32()
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    (units <= i32::MAX as u32).then(|| from_short_units(units))
}
