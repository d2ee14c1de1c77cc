//! RFC 4733 reception and in-band detection on real RTP captures from Asterisk's test suite
//! (`shared/conformance/rtp-pcaps`), each with a known answer.
//!
//! The telephone-event payload type comes from an SDP in the capture when there is one, and
//! otherwise from the traffic: the dynamic payload type whose payloads are all 4-byte event
//! blocks. None of these captures carries its SDP, and all of the ones with events are G.711
//! calls, so the event clock is the 8000 Hz default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herald_media::dtmf::{
    Digit, DtmfPipeline, DtmfSource, EventReceiver, InbandDetector, PipelineConfig,
};
use herald_testkit::capture::{CapturedDatagram, udp_datagrams};

fn captures_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/rtp-pcaps");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP: {} is absent", dir.display());
        None
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary epoch; nothing reads the wall clock after it"
)]
fn epoch() -> Instant {
    Instant::now()
}

/// One RTP packet with its sequence number and timestamp extended to 64 bits.
#[derive(Debug, Clone)]
struct Rtp {
    time: Duration,
    ssrc: u32,
    payload_type: u8,
    marker: bool,
    seq: u64,
    timestamp: u64,
    payload: Vec<u8>,
}

/// Extends a wrapping counter of `bits` bits to the value nearest the previous one.
#[derive(Debug, Default)]
struct Unwrapper {
    last: Option<u64>,
}

impl Unwrapper {
    fn extend(&mut self, value: u32, bits: u32) -> u64 {
        let modulus = 1u64 << bits;
        let value = u64::from(value);
        let extended = match self.last {
            None => value + modulus, // room to go backwards
            Some(last) => {
                let base = last - last % modulus;
                [base.saturating_sub(modulus), base, base + modulus]
                    .map(|b| b + value)
                    .into_iter()
                    .min_by_key(|c| c.abs_diff(last))
                    .unwrap_or(value)
            }
        };
        self.last = Some(self.last.map_or(extended, |l| l.max(extended)));
        extended
    }
}

/// The RTP packets among `datagrams` (RTCP on the RTP port skipped), extended per SSRC.
fn rtp_packets(datagrams: &[CapturedDatagram]) -> Vec<Rtp> {
    let mut unwrappers: BTreeMap<u32, (Unwrapper, Unwrapper)> = BTreeMap::new();
    let mut packets = Vec::new();
    for d in datagrams {
        let Ok(rtp) = rtp_rs::RtpReader::new(&d.payload) else {
            continue;
        };
        // RTCP packet types 200-204 read as marker + payload type 72-76 (RFC 5761).
        if (72..=76).contains(&rtp.payload_type()) {
            continue;
        }
        let (seq, ts) = unwrappers.entry(rtp.ssrc()).or_default();
        packets.push(Rtp {
            time: d.time,
            ssrc: rtp.ssrc(),
            payload_type: rtp.payload_type(),
            marker: rtp.mark(),
            seq: seq.extend(u32::from(u16::from(rtp.sequence_number())), 16),
            timestamp: ts.extend(rtp.timestamp(), 32),
            payload: rtp.payload().to_vec(),
        });
    }
    packets
}

/// `a=rtpmap:<pt> telephone-event/<rate>` lines of any SDP in the capture.
fn sdp_event_types(datagrams: &[CapturedDatagram]) -> Vec<(u8, u32)> {
    let mut found = Vec::new();
    for d in datagrams {
        let text = String::from_utf8_lossy(&d.payload);
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("a=rtpmap:") else {
                continue;
            };
            let Some((pt, encoding)) = rest.split_once(' ') else {
                continue;
            };
            let Some(rate) = encoding
                .to_ascii_lowercase()
                .strip_prefix("telephone-event/")
                .map(String::from)
            else {
                continue;
            };
            let rate = rate.split('/').next().and_then(|r| r.parse().ok());
            if let (Ok(pt), Some(rate)) = (pt.parse(), rate) {
                found.push((pt, rate));
            }
        }
    }
    found
}

/// The telephone-event payload type and clock rate: from SDP, else the dynamic payload type
/// whose payloads are all 4 bytes long (at 8000 Hz).
fn event_type(datagrams: &[CapturedDatagram], packets: &[Rtp]) -> Option<(u8, u32)> {
    if let Some(&found) = sdp_event_types(datagrams).first() {
        return Some(found);
    }
    let mut all_four: BTreeMap<u8, bool> = BTreeMap::new();
    for p in packets
        .iter()
        .filter(|p| (96..=127).contains(&p.payload_type))
    {
        *all_four.entry(p.payload_type).or_insert(true) &= p.payload.len() == 4;
    }
    all_four
        .into_iter()
        .find(|&(_, four)| four)
        .map(|(pt, _)| (pt, 8000))
}

/// Feeds the event packets to one receiver per SSRC, with `now` = epoch + capture time and
/// timeouts fired as virtual time passes; returns the digits in order.
fn rfc4733_digits(packets: &[Rtp], (pt, rate): (u8, u32)) -> String {
    let t0 = epoch();
    let mut receivers: BTreeMap<u32, EventReceiver> = BTreeMap::new();
    let mut digits = String::new();
    for p in packets.iter().filter(|p| p.payload_type == pt) {
        let now = t0 + p.time;
        let rx = receivers
            .entry(p.ssrc)
            .or_insert_with(|| EventReceiver::new(rate));
        if let Some(deadline) = rx.poll_timeout().filter(|&d| d <= now) {
            rx.handle_timeout(deadline);
        }
        rx.handle_packet(now, p.seq, p.timestamp, p.marker, &p.payload)
            .expect("event payload");
        while let Some(d) = rx.poll_digit() {
            digits.push(d.digit.as_char());
        }
    }
    digits
}

fn read(dir: &Path, name: &str) -> Vec<CapturedDatagram> {
    udp_datagrams(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Digits of one capture, and the event payload type used.
fn capture_digits(dir: &Path, name: &str) -> (String, Option<(u8, u32)>) {
    let datagrams = read(dir, name);
    let packets = rtp_packets(&datagrams);
    match event_type(&datagrams, &packets) {
        Some(kind) => (rfc4733_digits(&packets, kind), Some(kind)),
        None => (String::new(), None),
    }
}

#[test]
fn sdp_recognition_captures_give_the_digits_in_their_names() {
    let Some(dir) = captures_dir() else { return };
    for digits in ["2013785496", "3125894607"] {
        let name = format!("dtmf_sdp_recognition_ulaw-{digits}.pcap");
        let (got, kind) = capture_digits(&dir, &name);
        assert_eq!(kind, Some((101, 8000)), "{name}");
        assert_eq!(got, digits, "{name}");
        println!("{name}: {got}");
    }
}

#[test]
fn events_without_end_packets_across_four_captures_give_1234() {
    let Some(dir) = captures_dir() else { return };
    // One call cut into four files: fed in order to one receiver, one second apart (their
    // capture times are 0.8 to 1.2 s apart). No packet of any of them has the E bit.
    let mut datagrams = Vec::new();
    for n in 1..=4 {
        let name = format!("rfc2833_dtmf_detect_dtmf_2833_{n}_noend.pcap");
        for mut d in read(&dir, &name) {
            d.time += Duration::from_secs(n);
            datagrams.push(d);
        }
    }
    let packets = rtp_packets(&datagrams);
    let kind = event_type(&datagrams, &packets);
    assert_eq!(kind, Some((101, 8000)));
    assert!(
        packets
            .iter()
            .all(|p| p.payload.get(1).is_some_and(|f| f & 0x80 == 0))
    );
    let got = rfc4733_digits(&packets, (101, 8000));
    assert_eq!(got, "1234");
    println!("rfc2833_dtmf_detect_dtmf_2833_[1-4]_noend.pcap: {got}");
}

#[test]
fn reordered_end_packets_give_1000() {
    let Some(dir) = captures_dir() else { return };
    let (got, kind) = capture_digits(&dir, "rfc2833_dtmf_detect_broken_dtmf.pcap");
    assert_eq!(kind, Some((101, 8000)));
    assert_eq!(got, "1000");
    println!("rfc2833_dtmf_detect_broken_dtmf.pcap: {got}");
}

#[test]
fn capture_times_match_capinfos() {
    let Some(dir) = captures_dir() else { return };
    // First to last packet as capinfos reports it: a pcapng with the default microsecond
    // if_tsresol, and a classic pcap.
    for (name, span) in [
        (
            "opus_16_bit_48khz_60_fec_rtp.pcapng",
            Duration::from_micros(59_983_022),
        ),
        ("rtp_ptime_40msalaw.pcap", Duration::from_micros(32_999_114)),
    ] {
        let datagrams = read(&dir, name);
        assert_eq!(
            datagrams.first().map(|d| d.time),
            Some(Duration::ZERO),
            "{name}"
        );
        assert_eq!(datagrams.last().map(|d| d.time), Some(span), "{name}");
    }
}

#[test]
fn captures_without_telephone_events_give_no_digit() {
    let Some(dir) = captures_dir() else { return };
    // Checked with tshark: these carry audio only (Opus PT 107, PCMA PT 8, PCMU PT 0, and
    // PT 116 in the SSRC-change pair), plus RTCP on the RTP port in the crash reproducer.
    for name in [
        "opus_16_bit_48khz_60_fec_rtp.pcapng",
        "opus_16_bit_48khz_60_fec_dropped.pcapng",
        "rtp_ptime_40msalaw.pcap",
        "ast-2017-012_crash-27382.pcap",
        "ssrc_change_ssrc1.pcap",
        "ssrc_change_ssrc2.pcap",
    ] {
        let datagrams = read(&dir, name);
        let packets = rtp_packets(&datagrams);
        assert!(!packets.is_empty(), "{name}: no RTP");
        assert_eq!(event_type(&datagrams, &packets), None, "{name}");
        let types: std::collections::BTreeSet<u8> =
            packets.iter().map(|p| p.payload_type).collect();
        println!(
            "{name}: {} RTP packets, payload types {types:?}, no telephone-event",
            packets.len()
        );
    }
}

/// A G.711 sample decoder.
type Decoder = fn(u8) -> i16;

/// G.711 µ-law to 16-bit linear.
fn ulaw(byte: u8) -> i16 {
    let b = !byte;
    let magnitude = ((i16::from(b & 0x0f) << 3) + 0x84) << ((b >> 4) & 7);
    if b & 0x80 != 0 {
        0x84 - magnitude
    } else {
        magnitude - 0x84
    }
}

/// G.711 A-law to 16-bit linear.
fn alaw(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = (b >> 4) & 7;
    let mut t = (i16::from(b & 0x0f) << 4) + 8;
    if exponent != 0 {
        t = (t + 0x100) << (exponent - 1);
    }
    if b & 0x80 != 0 { t } else { -t }
}

/// A digit found in the audio: the key, the RTP timestamp (extended) of its onset, and the
/// capture time of the audio packet in which it was found.
#[derive(Debug, Clone, Copy)]
struct InbandHit {
    key: char,
    timestamp: u64,
    found_at: Duration,
}

/// The audio of one payload type through the in-band detector, packet by packet; packets are
/// placed by RTP timestamp, so gaps (no audio while events are sent) are silence.
fn inband_hits(packets: &[Rtp], pt: u8, decode: Decoder) -> Vec<InbandHit> {
    let mut detector = InbandDetector::new(8000).expect("8 kHz");
    let mut next: Option<u64> = None;
    let mut first = 0;
    let mut hits = Vec::new();
    let mut pcm = Vec::new();
    for p in packets.iter().filter(|p| p.payload_type == pt) {
        let expected = *next.get_or_insert_with(|| {
            first = p.timestamp;
            p.timestamp
        });
        if p.timestamp < expected {
            continue; // late or repeated: its place has been played
        }
        pcm.clear();
        pcm.resize(
            usize::try_from(p.timestamp - expected)
                .unwrap_or(0)
                .min(80_000),
            0,
        );
        pcm.extend(p.payload.iter().map(|&b| decode(b)));
        detector.process(&pcm);
        next = Some(p.timestamp + p.payload.len() as u64);
        while let Some(d) = detector.poll_digit() {
            let timestamp = first + d.position;
            hits.push(InbandHit {
                key: d.digit.as_char(),
                timestamp,
                found_at: p.time,
            });
        }
    }
    hits
}

/// RFC 4733 digits with their event timestamps and arrival times.
fn rfc4733_hits(packets: &[Rtp]) -> Vec<InbandHit> {
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    let mut hits = Vec::new();
    for p in packets.iter().filter(|p| p.payload_type == 101) {
        rx.handle_packet(t0 + p.time, p.seq, p.timestamp, p.marker, &p.payload)
            .expect("event");
        while let Some(d) = rx.poll_digit() {
            let key = d.digit.as_char();
            hits.push(InbandHit {
                key,
                timestamp: d.start_timestamp,
                found_at: p.time,
            });
        }
    }
    hits
}

fn keys(hits: &[InbandHit]) -> String {
    hits.iter().map(|h| h.key).collect()
}

#[test]
fn inband_tones_left_in_the_audio_are_found_and_merged_away() {
    let Some(dir) = captures_dir() else { return };
    // Verified by spectrum: the calling phone also put each key in the audio, 150 ms of two
    // tones starting some 0.24 s after the event, with the high group 4.5-7.5 dB louder than
    // the low group. Keys with a reverse twist beyond 5 dB (Q.24 allows 4) are refused, as
    // is a '0' drowned under a 0 dBm0 signal. In the second call the audio also carries a
    // '2' and a '5' (at 15.1 and 15.5 s) that were never sent as events.
    let cases = [
        (
            "dtmf_sdp_recognition_ulaw-2013785496.pcap",
            "2013785496",
            "27859",
        ),
        (
            "dtmf_sdp_recognition_ulaw-3125894607.pcap",
            "3125894607",
            "25890725",
        ),
    ];
    for (name, events, inband) in cases {
        let packets = rtp_packets(&read(&dir, name));
        let rfc = rfc4733_hits(&packets);
        let tones = inband_hits(&packets, 0, ulaw);
        assert_eq!(keys(&rfc), events, "{name}");
        assert_eq!(keys(&tones), inband, "{name}");
        for (i, tone) in tones.iter().enumerate() {
            // The event of the same key that started 0.2-0.3 s before the tone, if any.
            let lag = rfc.iter().find_map(|e| {
                let lag = tone.timestamp.checked_sub(e.timestamp)? as f64 / 8000.0;
                (e.key == tone.key && (0.2..0.3).contains(&lag)).then_some(lag)
            });
            let unsent = name.contains("3125894607") && i >= 6;
            assert_eq!(lag.is_none(), unsent, "{name}: tone {i}");
            let how = lag.map_or("never sent as an event".into(), |l| {
                format!("{l:.2} s after its event")
            });
            println!(
                "{name}: in band {} at {:.2} s, {how}",
                tone.key,
                tone.found_at.as_secs_f64()
            );
        }
        // The pipeline reports each press once, from RFC 4733, and drops the tones.
        let mut merged: Vec<(Duration, DtmfSource, char)> = rfc
            .iter()
            .map(|h| (h.found_at, DtmfSource::Rfc4733, h.key))
            .chain(
                tones
                    .iter()
                    .map(|h| (h.found_at, DtmfSource::Inband, h.key)),
            )
            .collect();
        merged.sort_by_key(|&(at, _, _)| at);
        let t0 = epoch();
        let mut pipeline = DtmfPipeline::new(PipelineConfig::default());
        let mut pressed = String::new();
        for (at, source, key) in merged {
            pipeline.handle_digit(t0 + at, source, Digit::from_char(key).expect("a key"));
            while let Some(press) = pipeline.poll_digit() {
                assert_eq!(press.source, DtmfSource::Rfc4733);
                pressed.push(press.digit.as_char());
            }
        }
        assert_eq!(pressed, events, "{name}");
    }
}

#[test]
fn no_tones_in_the_other_g711_captures() {
    let Some(dir) = captures_dir() else { return };
    let cases: [(&str, u8, Decoder); 2] = [
        ("ast-2017-012_crash-27382.pcap", 0, ulaw),
        ("rtp_ptime_40msalaw.pcap", 8, alaw),
    ];
    for (name, pt, decode) in cases {
        let packets = rtp_packets(&read(&dir, name));
        let audio = packets.iter().filter(|p| p.payload_type == pt).count();
        let tones = inband_hits(&packets, pt, decode);
        assert!(audio > 200, "{name}");
        println!("{name}: {audio} audio packets, in band {:?}", keys(&tones));
        assert_eq!(keys(&tones), "", "{name}");
    }
}

#[test]
fn g711_decoders_match_the_tables() {
    assert_eq!(
        (ulaw(0x00), ulaw(0x80), ulaw(0xff), ulaw(0x7f)),
        (-32124, 32124, 0, 0)
    );
    assert_eq!(
        (alaw(0xd5), alaw(0x55), alaw(0xaa), alaw(0x2a)),
        (8, -8, 32256, -32256)
    );
}
