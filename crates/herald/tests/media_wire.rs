//! The media engine on the wire: a SIPp call to the real binary, whose SDP points at a socket
//! this test owns. Herald plays its greeting prompt to that socket; the test checks the RTP
//! (count, pacing, sequence and timestamp continuity, and the decoded audio's energy envelope
//! against the prompt file), then replays the RFC 4733 digits of a conformance capture from
//! the same socket (so Herald's symmetric RTP stays latched to it) and checks that they reach
//! the call record exactly once each. When the test stops sending, Herald's media timeout ends
//! the call with a BYE, which the SIPp scenario answers.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Herald, HeraldConfig, Sipp, TestDialplan, sipp_available};
use herald_media::codec::g711::ulaw_to_linear;
use herald_testkit::capture::udp_datagrams;

/// The prompt: 1.5 s at 16 kHz in five 300 ms segments of distinct level.
const SEGMENTS: [(f64, f64); 5] = [
    (1000.0, -6.0),
    (0.0, f64::NEG_INFINITY),
    (600.0, -20.0),
    (0.0, f64::NEG_INFINITY),
    (1000.0, -12.0),
];
const SEGMENT_MS: usize = 300;
const PROMPT_PACKETS: usize = SEGMENTS.len() * SEGMENT_MS / 20;

fn conformance() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: the conformance folder {} is absent",
            dir.display()
        );
        None
    }
}

/// Writes the envelope prompt as a 16-bit mono WAV at 16 kHz.
fn write_prompt(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the prompt");
    let per_segment = 16 * SEGMENT_MS;
    for (freq, dbfs) in SEGMENTS {
        let amplitude = 32767.0 * 10f64.powf(dbfs / 20.0);
        for n in 0..per_segment {
            let t = n as f64 / 16_000.0;
            let v = amplitude * (2.0 * std::f64::consts::PI * freq * t).sin();
            w.write_sample(v.round() as i16).expect("write a sample");
        }
    }
    w.finalize().expect("finish the prompt");
}

/// The level of 20 ms frame `index` of the prompt as written, in dBFS (RMS of a sine is
/// amplitude / sqrt 2).
fn expected_level(index: usize) -> f64 {
    let (_, dbfs) = SEGMENTS[index * 20 / SEGMENT_MS];
    dbfs - 3.0103
}

fn rms_dbfs(samples: &[i16]) -> f64 {
    let power: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
    let rms = (power / samples.len().max(1) as f64).sqrt();
    20.0 * (rms.max(1e-9) / 32768.0).log10()
}

/// One RTP packet as received.
struct Received {
    at: Instant,
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse(datagram: &[u8], at: Instant) -> Option<Received> {
    if !common::is_rtp(datagram) {
        return None;
    }
    Some(Received {
        at,
        marker: datagram[1] & 0x80 != 0,
        payload_type: datagram[1] & 0x7f,
        sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
        timestamp: u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]),
        ssrc: u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]),
        payload: datagram[12..].to_vec(),
    })
}

/// Replays the capture's RTP (from `skip` on) at its own pace from `socket` to `to`, while
/// collecting what arrives; then keeps collecting until nothing came for `quiet`.
fn converse(
    socket: &UdpSocket,
    capture: &[(Duration, Vec<u8>)],
    skip: Duration,
    quiet: Duration,
    mut to: impl FnMut() -> Option<SocketAddr>,
) -> Vec<Received> {
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    // Herald's first packet tells us where it sends from: that is where we send.
    let start = Instant::now();
    let mut queue = capture
        .iter()
        .filter(|(t, _)| *t >= skip)
        .map(|(t, p)| (start + (*t - skip), p))
        .peekable();
    let mut last_arrival = Instant::now();
    loop {
        let now = Instant::now();
        let wait = match queue.peek() {
            Some((due, _)) => due.saturating_duration_since(now),
            None => (last_arrival + quiet).saturating_duration_since(now),
        };
        if queue.peek().is_none() && wait.is_zero() {
            return received;
        }
        socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .expect("set a read timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                last_arrival = Instant::now();
                if let Some(packet) = parse(&buf[..n], last_arrival) {
                    received.push(packet);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("receiving RTP: {e}"),
        }
        while let Some((due, payload)) = queue.peek() {
            if *due > Instant::now() {
                break;
            }
            if let Some(dest) = to() {
                socket.send_to(payload, dest).expect("send RTP");
            }
            queue.next();
        }
    }
}

/// Herald serving the envelope prompt as its greeting, and the caller's RTP socket.
struct EnvelopeCall {
    herald: Herald,
    socket: UdpSocket,
    _prompts: tempfile::TempDir,
}

impl EnvelopeCall {
    /// Herald with the envelope greeting, a 2 s media timeout and `media` extra settings.
    fn start(media: &[&str]) -> Self {
        let prompts = tempfile::tempdir().expect("a prompts directory");
        write_prompt(&prompts.path().join("envelope.wav"));
        let dir = common::toml_str(&prompts.path().display().to_string());
        let mut lines = vec![format!("prompts = {dir}"), "media_timeout = 2".to_owned()];
        lines.extend(media.iter().map(|l| (*l).to_owned()));
        let config = HeraldConfig {
            media: lines,
            dialplan: TestDialplan::Application(common::keys_application("envelope")),
            ..HeraldConfig::default()
        };
        Self {
            herald: Herald::start(&config),
            socket: UdpSocket::bind("127.0.0.1:0").expect("bind the caller's RTP socket"),
            _prompts: prompts,
        }
    }

    /// Runs `scenario` (its SDP pointing at our socket) while `media` handles the RTP; the
    /// packets `media` collected.
    fn call(
        &self,
        scenario: &str,
        media: impl FnOnce(&UdpSocket) -> Vec<Received>,
    ) -> Vec<Received> {
        let port = self.socket.local_addr().expect("local address").port();
        std::thread::scope(|scope| {
            let sipp = scope.spawn(|| {
                Sipp::new(scenario)
                    .set("rtp_port", &port.to_string())
                    .run(&self.herald)
            });
            let received = media(&self.socket);
            sipp.join().expect("SIPp thread").assert_success(scenario);
            received
        })
    }
}

/// Where the prompt begins: the stream may open with a few packets of silence while the
/// call's IVR document is fetched; the prompt's first packet carries the marker bit.
fn prompt_start(received: &[Received]) -> usize {
    received
        .iter()
        .take(10)
        .rposition(|p| p.marker)
        .expect("a marked packet starts the prompt within the first 200 ms")
}

/// Checks the decoded level of each prompt frame against the file's envelope, skipping
/// `edge` frames at each segment boundary (filters and codecs smear edges): within
/// `tolerance` dB where the file sounds, below `silence` dBFS where it is silent.
fn assert_envelope(levels: &[f64], edge: usize, tolerance: f64, silence: f64) {
    let per_segment = SEGMENT_MS / 20;
    for (i, &level) in levels.iter().enumerate() {
        if !(edge..per_segment - edge).contains(&(i % per_segment)) {
            continue;
        }
        let want = expected_level(i);
        if want.is_finite() {
            assert!(
                (level - want).abs() < tolerance,
                "frame {i}: {level:.1} dBFS, want {want:.1}"
            );
        } else {
            assert!(
                level < silence,
                "frame {i} should be silent: {level:.1} dBFS"
            );
        }
    }
}

/// Waits for the one call to end with its media statistics and its IVR session's end recorded.
fn ended_with_media_record(herald: &Herald) -> serde_json::Value {
    herald.wait_for_call_record("the call ended with its media record", |c| {
        c["state"] == "ended"
            && c["events"].as_array().is_some_and(|e| {
                e.iter().any(|e| e["kind"] == "media") && e.iter().any(|e| e["kind"] == "ivr-exit")
            })
    })
}

/// The keys the test application collected: the value it exits with when the caller hangs up
/// (the call record's `dtmf` events say how each key came, never which key it was).
fn digits(events: &[serde_json::Value]) -> String {
    let exit = events
        .iter()
        .find(|e| e["kind"] == "ivr-exit")
        .expect("the IVR session ended");
    assert_eq!(exit["detail"]["outcome"], "exit", "{exit}");
    let keys = exit["detail"]["value"]
        .as_str()
        .expect("the keys")
        .to_owned();
    let dtmf: Vec<_> = events.iter().filter(|e| e["kind"] == "dtmf").collect();
    assert_eq!(dtmf.len(), keys.len(), "one dtmf event per key: {events:?}");
    assert!(
        dtmf.iter().all(|e| e["detail"].get("digit").is_none()),
        "no key values in dtmf events: {events:?}"
    );
    keys
}

#[test]
fn prompt_rtp_arrives_paced_and_capture_digits_reach_the_call_record_once() {
    if !sipp_available() {
        return;
    }
    let Some(conformance) = conformance() else {
        return;
    };
    let capture_path = conformance.join("rtp-pcaps/dtmf_sdp_recognition_ulaw-2013785496.pcap");
    let capture: Vec<(Duration, Vec<u8>)> = udp_datagrams(&capture_path)
        .expect("read the capture")
        .into_iter()
        // RTP only, and nothing after the last digit's end (at 14.9 s) but a short tail.
        .filter(|d| d.payload.len() >= 12 && d.payload[0] >> 6 == 2)
        .filter(|d| d.time < Duration::from_millis(15_500))
        .map(|d| (d.time, d.payload))
        .collect();
    assert!(capture.len() > 700, "the capture holds its RTP");

    let setup = EnvelopeCall::start(&[]);
    let herald = &setup.herald;
    let received = setup.call("uac_media.xml", |socket| {
        // Herald's first packet tells where it sends from: symmetric RTP, we answer there.
        let mut buf = [0u8; 2048];
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("set a read timeout");
        let (n, herald_rtp) = socket
            .recv_from(&mut buf)
            .expect("Herald's first RTP packet");
        let first = parse(&buf[..n], Instant::now()).expect("an RTP packet");
        // Our SDP has no rtcp-mux: Herald holds the odd port above its RTP port for RTCP, and
        // reads what arrives there (an RTCP RR, RFC 3550 §6.4.2, with no report block).
        let rtcp_port = SocketAddr::new(herald_rtp.ip(), herald_rtp.port() + 1);
        assert!(
            UdpSocket::bind(rtcp_port).is_err(),
            "Herald holds its RTCP port {rtcp_port}"
        );
        let receiver_report = [0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78];
        socket
            .send_to(&receiver_report, rtcp_port)
            .expect("send an RTCP RR");
        // The first digit of the capture is at 5.8 s: start at 3.8 s so the prompt (1.5 s)
        // has finished before it (a digit would barge in and cut it short).
        let mut rest = converse(
            socket,
            &capture,
            Duration::from_millis(3800),
            Duration::from_secs(3),
            || Some(herald_rtp),
        );
        rest.insert(0, first);
        rest
    });

    // The prompt: the first PROMPT_PACKETS packets, marker on the first, PCMU, one SSRC,
    // consecutive sequence numbers and timestamps 160 apart.
    assert!(
        received.len() > PROMPT_PACKETS + 50,
        "got {} packets",
        received.len()
    );
    let start = prompt_start(&received);
    let prompt = &received[start..start + PROMPT_PACKETS];
    assert!(
        prompt[0].marker,
        "the prompt's first packet carries the marker bit"
    );
    for pair in received.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!((a.payload_type, b.ssrc), (0, a.ssrc), "PCMU from one SSRC");
        assert_eq!(
            b.sequence,
            a.sequence.wrapping_add(1),
            "sequence continuity"
        );
        assert_eq!(
            b.timestamp,
            a.timestamp.wrapping_add(160),
            "timestamp continuity"
        );
        assert_eq!(b.payload.len(), 160, "20 ms of PCMU");
    }
    // Pacing: packets leave on a 20 ms grid. The median gap is 20 ms give or take the
    // worker's tick.
    let mut gaps: Vec<f64> = received
        .windows(2)
        .map(|p| p[1].at.duration_since(p[0].at).as_secs_f64() * 1000.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    assert!(
        (15.0..=25.0).contains(&median),
        "median spacing {median:.1} ms"
    );
    // Over the whole call (some 13 s), packets left at the pace of their timestamps: a
    // burst or a stall of the machine running the test moves this by a fraction of a percent,
    // a stream paced at the wrong rate by much more.
    let (first, last) = (&received[0], &received[received.len() - 1]);
    let wall = last.at.duration_since(first.at).as_secs_f64();
    let media = f64::from(last.timestamp.wrapping_sub(first.timestamp)) / 8000.0;
    assert!(
        (wall / media - 1.0).abs() < 0.03,
        "{wall:.2} s of arrivals for {media:.2} s of media"
    );
    // The decoded audio follows the prompt's energy envelope. Frames next to a segment
    // boundary are skipped: the resampler's filter spreads an edge over a few samples.
    let levels: Vec<f64> = prompt
        .iter()
        .map(|p| {
            rms_dbfs(
                &p.payload
                    .iter()
                    .map(|&b| ulaw_to_linear(b))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_envelope(&levels, 1, 1.0, -60.0);
    // After the prompt, silence.
    let after: Vec<i16> = received[start + PROMPT_PACKETS + 5]
        .payload
        .iter()
        .map(|&b| ulaw_to_linear(b))
        .collect();
    assert!(rms_dbfs(&after) < -60.0, "silence after the prompt");

    // The digits, exactly and once, by RFC 4733, in the call record.
    let call = ended_with_media_record(herald);
    let events = call["events"].as_array().expect("events");
    assert_eq!(digits(events), "2013785496");
    assert!(
        events
            .iter()
            .filter(|e| e["kind"] == "dtmf")
            .all(|e| e["detail"]["method"] == "rfc4733"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["kind"] == "media-timeout"),
        "{events:?}"
    );
    let finished = events
        .iter()
        .find(|e| e["kind"] == "ivr-prompt")
        .expect("the prompt finished");
    assert_eq!(finished["detail"]["completed"], true, "{finished}");
    assert_eq!(finished["detail"]["src"], "prompt:envelope", "{finished}");
    let media = events
        .iter()
        .find(|e| e["kind"] == "media")
        .expect("media stats");
    assert_eq!(media["detail"]["digits"], 10);
    assert_eq!(media["detail"]["foreign_packets"], 0);
    assert_eq!(
        media["detail"]["rtcp_received"], 1,
        "the RR sent to the RTCP port"
    );
    assert!(media["detail"]["packets_received"].as_u64() > Some(500));
}

/// The conformance README's way: SIPp replays the capture itself (`play_pcap_audio`, which
/// rewrites addresses and sends from SIPp's media port). The digits in the file's name reach
/// the call record exactly once each, whatever else the capture carries (its audio also holds
/// some of the tones in band, which the pipeline must not report a second time).
#[test]
fn sipp_play_pcap_digits_reach_the_call_record_once() {
    if !sipp_available() {
        return;
    }
    let Some(conformance) = conformance() else {
        return;
    };
    let capture = conformance.join("rtp-pcaps/dtmf_sdp_recognition_ulaw-3125894607.pcap");
    let config = HeraldConfig {
        media: vec!["media_timeout = 2".into(), "inband_dtmf = \"on\"".into()],
        ..HeraldConfig::default()
    };
    let herald = Herald::start(&config);
    Sipp::new("uac_play_pcap.xml")
        .file("capture.pcap", &capture)
        .run(&herald)
        .assert_success("a call replaying a capture");
    let call = ended_with_media_record(&herald);
    let events = call["events"].as_array().expect("events");
    let digits = digits(events);
    assert_eq!(digits, "3125894607", "{events:?}");
    assert!(
        events
            .iter()
            .filter(|e| e["kind"] == "dtmf")
            .all(|e| e["detail"]["method"] == "rfc4733"),
        "the first digit is RFC 4733, after which in-band detection is silenced: {events:?}"
    );
}

/// An `RTP/SAVP` offer as AudioCodes and Polycom phones send it is answered `RTP/SAVP` with one
/// SDES crypto line (the first offered suite Herald supports, the offer's tag, Herald's own
/// key), and the call is set up; the scenario checks the answer line by line.
#[test]
fn an_srtp_offer_is_answered_with_sdes_keys() {
    if !sipp_available() {
        return;
    }
    // Over UDP, only when the operator accepts keys in clear signalling.
    let config = HeraldConfig {
        media: vec!["srtp_over_plain_sip = true".into()],
        ..HeraldConfig::default()
    };
    let herald = Herald::start(&config);
    Sipp::new("uac_srtp_offer.xml")
        .run(&herald)
        .assert_success("an RTP/SAVP call");
    let call = herald.wait_for_call_record("the call ended", |c| c["state"] == "ended");
    assert_eq!(call["final_status"], 200, "{call}");
}

/// By default SDES keys are never exchanged over unencrypted signalling (RFC 4568 §8.3): an
/// `RTP/SAVP` offer over UDP is refused with 488 and the record says why.
#[test]
fn an_srtp_offer_over_plain_udp_is_refused_by_default() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&HeraldConfig::default());
    let run = Sipp::new("uac_srtp_offer.xml").run(&herald);
    assert!(
        run.messages.contains("SIP/2.0 488"),
        "488 for keys over UDP:\n{}",
        run.messages
    );
    let call = herald.wait_for_call_record("the refused call", |c| c["state"] == "failed");
    assert_eq!(call["final_status"], 488, "{call}");
    let events = call["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "sdp-rejected" && e["detail"]["status"] == 488),
        "{events:?}"
    );
}

/// SIP INFO digits (`application/dtmf-relay` and `application/dtmf`) reach the call record,
/// each once, with the method that carried them.
#[test]
fn sip_info_digits_reach_the_call_record() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&HeraldConfig::default());
    Sipp::new("uac_info_dtmf.xml")
        .run(&herald)
        .assert_success("a call sending DTMF by SIP INFO");
    let call = ended_with_media_record(&herald);
    let events = call["events"].as_array().expect("events");
    assert_eq!(digits(events), "5#", "{events:?}");
    assert!(
        events
            .iter()
            .filter(|e| e["kind"] == "dtmf")
            .all(|e| e["detail"]["method"] == "sip-info"),
        "{events:?}"
    );
}

/// With Opus preferred, the greeting goes out as Opus (RFC 7587: dynamic payload type, 48 kHz
/// clock, so the timestamp advances 960 per 20 ms packet), and decodes to the prompt's energy
/// envelope.
#[test]
fn opus_calls_get_the_prompt_in_opus() {
    use herald_media::codec::{CodecKind, Decoder};
    if !sipp_available() {
        return;
    }
    let setup = EnvelopeCall::start(&["codecs = [\"opus\", \"PCMU\"]"]);
    // We send nothing: Herald's media timeout ends the call after the prompt.
    let received = setup.call("uac_media_opus.xml", |socket| {
        converse(socket, &[], Duration::ZERO, Duration::from_secs(3), || None)
    });
    assert!(
        received.len() >= PROMPT_PACKETS + 10,
        "got {} packets",
        received.len()
    );
    let start = prompt_start(&received);
    let prompt = &received[start..start + PROMPT_PACKETS];
    assert_eq!(prompt[0].payload_type, 111, "the offer's Opus payload type");
    for pair in prompt.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(960));
    }
    let mut decoder = Decoder::new(CodecKind::Opus, 48_000).expect("an Opus decoder");
    let mut pcm = vec![0i16; 960];
    let levels: Vec<f64> = prompt
        .iter()
        .map(|packet| {
            let n = decoder
                .decode(&packet.payload, &mut pcm)
                .expect("Herald's Opus decodes");
            assert_eq!(n, 960);
            rms_dbfs(&pcm[..n])
        })
        .collect();
    // The codec's look-ahead shifts edges by a few ms: judge the middle of each segment.
    assert_envelope(&levels, 2, 2.0, -50.0);
}
