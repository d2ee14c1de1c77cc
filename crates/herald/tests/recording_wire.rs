//! The recorder end to end, on the real binary: a SIPp caller reaches the shipped disclosure
//! application (French route), says nothing (so recording starts), and talks: the test is the
//! caller's RTP endpoint, sending a 440 Hz tone and keeping what Herald sends back. Then:
//!
//! - exactly one recording exists, `complete`, for that call; a caller who objected (German
//!   route, RFC 4733 "9") has none;
//! - the blob holds no plaintext: no 32-byte run of the recorded audio, as A-law, µ-law or
//!   16-bit PCM, occurs in it;
//! - `herald recordings verify` passes without any private key, and the host holds none;
//! - `herald recordings export --identity` (an `age-keygen` key) gives a stereo WAV: the left
//!   channel is the caller's tone, the right channel follows, frame by frame, the level of the
//!   prompts Herald sent after the recording started, and the length matches the call.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    Herald, HeraldConfig, Sipp, TestDialplan, age_keygen, files_under, json, sipp_available,
};
use herald_media::codec::g711::{linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use serde_json::Value;

const SIPP_SHARE: &str = "/usr/share/sip-tester";
const FRENCH: &str = "+33123456789";
const GERMAN: &str = "+493012345678";
/// The caller's tone.
const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f64 = 8000.0;

/// One RTP packet Herald sent us.
struct FromHerald {
    timestamp: u32,
    payload: Vec<u8>,
}

/// Plays the caller: sends the tone as PCMU every 20 ms to where Herald's packets come from,
/// and keeps Herald's packets, until Herald has been silent for `quiet`.
fn talk(socket: &UdpSocket, quiet: Duration) -> Vec<FromHerald> {
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    let mut herald: Option<SocketAddr> = None;
    let start = Instant::now();
    let mut next_send = start;
    let mut sent: u32 = 0;
    let mut last_arrival = start;
    let deadline = start + Duration::from_secs(90);
    loop {
        let now = Instant::now();
        assert!(now < deadline, "the call did not end within 90 s");
        if herald.is_some() && now.duration_since(last_arrival) >= quiet {
            return received;
        }
        if let Some(to) = herald
            && now >= next_send
        {
            socket.send_to(&tone_packet(sent), to).expect("send RTP");
            sent += 1;
            next_send += Duration::from_millis(20);
            continue;
        }
        let wait = next_send
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket.set_read_timeout(Some(wait)).expect("read timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = &buf[..n];
                // RTP (version 2), not RTCP (payload types 72-95 with the marker bit).
                if common::is_rtp(datagram) {
                    if herald.is_none() {
                        herald = Some(from);
                        next_send = Instant::now();
                    }
                    last_arrival = Instant::now();
                    if datagram[1] & 0x7f == 0 {
                        received.push(FromHerald {
                            timestamp: u32::from_be_bytes([
                                datagram[4],
                                datagram[5],
                                datagram[6],
                                datagram[7],
                            ]),
                            payload: datagram[12..].to_vec(),
                        });
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("receiving RTP: {e}"),
        }
    }
}

/// Packet `n` of the caller's tone: PCMU, 160 samples.
fn tone_packet(n: u32) -> Vec<u8> {
    let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&(n * 160).to_be_bytes());
    for i in 0..160 {
        let t = f64::from(n * 160 + i) / 8000.0;
        let sample = (TONE_AMPLITUDE * (2.0 * std::f64::consts::PI * TONE_HZ * t).sin()) as i16;
        packet.push(linear_to_ulaw(sample));
    }
    packet
}

fn rms_dbfs(samples: &[i16]) -> f64 {
    let power: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
    let rms = (power / samples.len().max(1) as f64).sqrt();
    20.0 * (rms.max(1e-9) / 32768.0).log10()
}

/// Levels of consecutive 20 ms frames.
fn levels(samples: &[i16]) -> Vec<f64> {
    samples.chunks_exact(160).map(rms_dbfs).collect()
}

/// Herald's packets decoded, placed by RTP timestamp (the first at 0).
fn herald_audio(packets: &[FromHerald]) -> Vec<i16> {
    let Some(first) = packets.first() else {
        return Vec::new();
    };
    let mut audio = Vec::new();
    for p in packets {
        let at = p.timestamp.wrapping_sub(first.timestamp) as usize;
        if audio.len() < at + p.payload.len() {
            audio.resize(at + p.payload.len(), 0);
        }
        for (i, &b) in p.payload.iter().enumerate() {
            audio[at + i] = ulaw_to_linear(b);
        }
    }
    audio
}

/// Whether any 32-byte window of `needles` (taken every 97 bytes) occurs in `haystack`.
fn any_window_in(haystack: &[u8], needles: &[u8]) -> Option<usize> {
    let n = 32;
    (0..needles.len().saturating_sub(n))
        .step_by(97)
        .find(|&i| haystack.windows(n).any(|w| w == &needles[i..i + n]))
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("open the exported WAV");
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("a sample"))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

#[test]
fn a_recorded_call_is_encrypted_verifiable_and_exports_as_stereo() {
    if !sipp_available() {
        return;
    }
    let nine = Path::new(SIPP_SHARE).join("dtmf_2833_9.pcap");
    assert!(
        nine.exists() || !common::in_ci(),
        "SIPp's captures are missing"
    );
    let keys = tempfile::tempdir().expect("a directory for the auditor's key");
    let Some((identity, recipient)) = age_keygen(keys.path()) else {
        return;
    };
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Shipped,
        extra: vec![format!(
            "[recorder]\nrecipients = [{}]\nsegment_ms = 500",
            common::toml_str(&recipient)
        )],
        ..HeraldConfig::default()
    });

    // The French caller says nothing to the disclosure: recording starts; the caller talks.
    let socket = UdpSocket::bind("127.0.0.1:0").expect("the caller's RTP socket");
    let port = socket.local_addr().expect("local address").port();
    let from_herald = std::thread::scope(|scope| {
        let sipp = scope.spawn(|| {
            Sipp::new("uac_media.xml")
                .service(FRENCH)
                .set("rtp_port", &port.to_string())
                .timeout(Duration::from_secs(90))
                .run(&herald)
        });
        let received = talk(&socket, Duration::from_secs(2));
        sipp.join()
            .expect("SIPp")
            .assert_success("the French caller");
        received
    });
    // The German caller objects: no recording.
    if nine.exists() {
        Sipp::new("uac_ivr_caller.xml")
            .service(GERMAN)
            .file("key.pcap", &nine)
            .timeout(Duration::from_secs(60))
            .run(&herald)
            .assert_success("the German caller");
    }

    let french = herald.wait_for_call_where(
        "the French call ended",
        |c| c["callee"] == FRENCH,
        |c| c["state"] == "ended",
    );
    let recordings = herald.wait_for_recordings("one complete recording", |r| {
        r.iter().any(|r| r["state"] == "complete")
    });
    assert_eq!(
        recordings.len(),
        1,
        "only the French call is recorded: {recordings:?}"
    );
    let recording = &recordings[0];
    assert_eq!(recording["call_id"], french["id"], "{recording}");
    assert_eq!(recording["consent"], "accepted");
    assert_eq!(recording["retention_class"], "voice");
    assert_eq!(recording["channels"], "caller,herald");
    let id = recording["id"].as_str().expect("an id").to_owned();
    if nine.exists() {
        let german = herald.wait_for_call_where(
            "the German call ended",
            |c| c["callee"] == GERMAN,
            |c| c["state"] == "ended",
        );
        assert!(
            recordings.iter().all(|r| r["call_id"] != german["id"]),
            "the objecting caller was not recorded"
        );
    }

    // Integrity without any private key; and none on the host.
    let verified = json(&herald.cli(&["recordings", "verify", &id, "--json"]));
    assert_eq!(verified["intact"], true, "{verified}");
    assert!(
        verified["verdict"]
            .as_str()
            .unwrap()
            .starts_with("Complete"),
        "{verified}"
    );
    for entry in files_under(&herald.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(16).any(|w| w == b"AGE-SECRET-KEY-1"),
            "a private recorder key is on the serving host: {}",
            entry.display()
        );
    }

    // Decrypted with the auditor's key.
    let out = keys.path().join("export");
    herald.export(&id, &identity, &out);
    let (spec, left, right) = read_wav(&out.join(format!("{id}.wav")));
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let metadata: Value = json(&std::fs::read_to_string(out.join(format!("{id}.json"))).unwrap());
    assert_eq!(metadata["recording"]["id"], id.as_str());
    // The disclosure is evidence, in the metadata and sealed in the recording: it started
    // playing after the answer and at least its 9 s before recording began.
    let evidence = metadata["recording"]["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 1, "{metadata}");
    assert_eq!(evidence[0]["prompt"], "recording-disclosure");
    assert_eq!(evidence[0]["language"], "fr-FR");
    assert_eq!(evidence[0]["completed"], true);
    assert_eq!(evidence[0]["choice"], "accepted");
    let played = evidence[0]["at"].as_i64().unwrap();
    assert!(
        played >= french["answered_at"].as_i64().unwrap(),
        "{metadata}"
    );
    assert!(
        played + 9_000 <= recording["started_at"].as_i64().unwrap(),
        "{metadata}"
    );
    let sealed: Vec<&Value> = metadata["sealed"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "evidence")
        .collect();
    assert_eq!(sealed.len(), 1, "{metadata}");
    assert_eq!(sealed[0]["played_at"].as_i64(), Some(played));
    assert_eq!(sealed[0]["choice"], "accepted");

    // Length: from the recording's start to the call's end, within a second.
    let seconds = left.len() as f64 / 8000.0;
    let expected = (french["ended_at"].as_i64().unwrap()
        - recording["started_at"].as_i64().unwrap()) as f64
        / 1000.0;
    assert!(
        (seconds - expected).abs() < 1.0,
        "the recording lasts {seconds:.2} s, the call was recorded for {expected:.2} s"
    );
    assert!(seconds > 5.0, "{seconds} s");

    // Left: the caller's tone, nearly everywhere (the first frames precede its arrival).
    let caller = levels(&left);
    let expected_tone = 20.0 * (TONE_AMPLITUDE / 2f64.sqrt() / 32768.0).log10();
    let toned = caller
        .iter()
        .filter(|l| (*l - expected_tone).abs() < 1.5)
        .count();
    assert!(
        toned as f64 > 0.9 * caller.len() as f64,
        "the left channel carries the caller's tone in {toned} of {} frames",
        caller.len()
    );

    // Right: what Herald sent from the recording's start on, sample for sample (G.711 µ-law
    // on the wire, A-law in the recording: only quantisation differs).
    let sent = herald_audio(&from_herald);
    let offset = sample_offset(&sent, &right);
    let (mut loud, mut faithful) = (0, 0);
    for (i, frame) in right.chunks_exact(160).enumerate() {
        let Some(expected) = sent.get(offset + i * 160..offset + i * 160 + 160) else {
            break;
        };
        if rms_dbfs(expected) < -40.0 {
            continue;
        }
        loud += 1;
        let (level, wanted) = (rms_dbfs(frame), rms_dbfs(expected));
        assert!(
            (level - wanted).abs() < 1.0,
            "right channel frame {i}: {level:.1} dBFS, Herald sent {wanted:.1} dBFS"
        );
        if snr_db(expected, frame) > 25.0 {
            faithful += 1;
        }
    }
    assert!(
        loud > 200,
        "only {loud} loud frames of the prompts were compared"
    );
    assert!(
        faithful as f64 >= 0.95 * loud as f64,
        "only {faithful} of {loud} loud frames match what Herald sent within 25 dB SNR"
    );

    // No plaintext in the blob.
    let blob_path = files_under(&herald.data_dir().join("recordings"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&id))
        .expect("the recording's blob on disk");
    let blob = std::fs::read(&blob_path).expect("read the blob");
    for (name, channel) in [("caller", &left), ("herald", &right)] {
        let loud: Vec<i16> = channel
            .chunks_exact(160)
            .filter(|f| rms_dbfs(f) > -40.0)
            .flatten()
            .copied()
            .take(8000)
            .collect();
        let alaw: Vec<u8> = loud.iter().map(|&s| linear_to_alaw(s)).collect();
        let ulaw: Vec<u8> = loud.iter().map(|&s| linear_to_ulaw(s)).collect();
        let pcm: Vec<u8> = loud.iter().flat_map(|s| s.to_le_bytes()).collect();
        for (encoding, bytes) in [("A-law", &alaw), ("µ-law", &ulaw), ("PCM", &pcm)] {
            assert_eq!(
                any_window_in(&blob, bytes),
                None,
                "the blob holds the {name} channel's audio in plain {encoding}"
            );
        }
    }
}

/// Where in `sent` the recording's right channel starts, in samples: a coarse search on
/// 20 ms levels, refined sample by sample on the first loud stretch.
fn sample_offset(sent: &[i16], right: &[i16]) -> usize {
    let (sent_levels, right_levels) = (levels(sent), levels(right));
    let score = |offset: usize| -> f64 {
        let pairs = right_levels
            .iter()
            .zip(&sent_levels[offset.min(sent_levels.len())..]);
        let n = pairs.clone().count().max(1);
        pairs
            .map(|(r, s)| (r.max(-60.0) - s.max(-60.0)).abs())
            .sum::<f64>()
            / n as f64
    };
    let coarse = (0..sent_levels.len().saturating_sub(right_levels.len() / 2))
        .min_by(|a, b| score(*a).total_cmp(&score(*b)))
        .unwrap_or(0);
    let start = right_levels
        .iter()
        .position(|l| *l > -30.0)
        .expect("the right channel has loud audio")
        * 160;
    let window = &right[start..(start + 800).min(right.len())];
    let centre = coarse * 160 + start;
    (centre.saturating_sub(480)..centre + 480)
        .filter(|s| s + window.len() <= sent.len())
        .min_by_key(|&s| {
            window
                .iter()
                .zip(&sent[s..])
                .map(|(a, b)| (i64::from(*a) - i64::from(*b)).abs())
                .sum::<i64>()
        })
        .map_or(0, |s| s.saturating_sub(start))
}

/// Signal-to-error ratio of `got` against `want`, in dB.
fn snr_db(want: &[i16], got: &[i16]) -> f64 {
    let signal: f64 = want.iter().map(|&s| f64::from(s).powi(2)).sum();
    let error: f64 = want
        .iter()
        .zip(got)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    10.0 * (signal / error.max(1.0)).log10()
}
