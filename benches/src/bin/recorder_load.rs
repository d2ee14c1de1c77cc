//! Recorder load: CPU and bytes written per recording-second of stereo audio, for Herald's
//! encrypted format against a plaintext recorder measured in the same run.
//!
//! ```text
//! cargo run --release -p herald-benches --bin recorder_load -- --recordings 200 --seconds 60
//! ```
//!
//! Both sides get the same input, the way a media worker delivers it: every 20 ms, 160
//! samples of 8 kHz PCM per channel, round-robin over `--recordings` concurrent recordings, in
//! virtual time.
//! - **herald**: `herald_recorder::RecordingWriter` (A-law, 1 s AES-256-GCM segments, digest
//!   chain, records), sealed bytes appended to a per-recording buffer, then `finish` with the
//!   signed trailer. The data key is drawn and the recording started inside the timed region.
//! - **baseline**: what a plaintext WAV recorder does: A-law encode both channels (with the
//!   recorder's own encoder), interleave,
//!   append to a per-recording buffer (the WAV data chunk).
//!
//! CPU is the thread's CPU clock; bytes are what would reach storage. Results and method:
//! `docs/benchmarks.md`, "Recorder".

use std::time::{Duration, Instant};

use herald_recorder::{
    ChannelRole, Codec, DataKey, Header, NodeSigningKey, RecipientKeyId, RecordingId,
    RecordingWriter, WriterConfig,
};
use nix::time::{ClockId, clock_gettime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const FRAME: usize = 160;

struct Args {
    recordings: usize,
    seconds: u32,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        recordings: 200,
        seconds: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--recordings" => args.recordings = number(&value)?.clamp(1, 100_000) as usize,
            "--seconds" => args.seconds = number(&value)?.clamp(1, 3600) as u32,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// One second of speech-like audio per channel: noise under a syllable-rate envelope.
fn audio(seed: u64) -> Vec<i16> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..8000)
        .map(|i| {
            let envelope = (std::f64::consts::PI * f64::from(i) / 1600.0).sin().abs();
            (rng.random_range(-8000.0..8000.0) * envelope) as i16
        })
        .collect()
}

/// 16-bit linear to A-law (G.711), as a plaintext recorder would store it: the recorder's own
/// encoder, so that both sides pay the same for encoding.
fn alaw(sample: i16) -> u8 {
    herald_recorder::g711::alaw_encode(sample)
}

struct Outcome {
    cpu: Duration,
    bytes: u64,
}

fn baseline(args: &Args, left: &[i16], right: &[i16]) -> Outcome {
    let frames = args.seconds as usize * 50;
    // Each file's data chunk is reserved up front: the baseline pays for encoding and copying
    // only.
    let mut files: Vec<Vec<u8>> = (0..args.recordings)
        .map(|_| Vec::with_capacity(frames * FRAME * 2))
        .collect();
    let start = thread_cpu();
    for f in 0..frames {
        let at = (f % 50) * FRAME;
        for file in &mut files {
            let (l, r) = (&left[at..at + FRAME], &right[at..at + FRAME]);
            file.extend(l.iter().zip(r).flat_map(|(&a, &b)| [alaw(a), alaw(b)]));
        }
    }
    let cpu = thread_cpu() - start;
    Outcome {
        cpu,
        bytes: files.iter().map(|f| f.len() as u64 + 44).sum(),
    }
}

fn herald(args: &Args, left: &[i16], right: &[i16]) -> Outcome {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let node = NodeSigningKey::generate(&mut rng);
    let frames = args.seconds as usize * 50;
    let t0 = Instant::now();
    let start = thread_cpu();
    let mut writers: Vec<(RecordingWriter, Vec<u8>)> = (0..args.recordings)
        .map(|_| {
            let key = DataKey::generate(&mut rng);
            let header = Header {
                id: RecordingId::random(&mut rng),
                codec: Codec::Pcma,
                sample_rate: 8000,
                channels: vec![ChannelRole::Caller, ChannelRole::Herald],
                start_unix_ms: 1_700_000_000_000,
                recipients: vec![RecipientKeyId([1; 8])],
                node_key: node.id(),
            };
            let writer = RecordingWriter::new(header, &key, WriterConfig::default())
                .expect("a valid writer");
            (writer, Vec::new())
        })
        .collect();
    for f in 0..frames {
        let now = t0 + Duration::from_millis(20 * f as u64);
        let at = (f % 50) * FRAME;
        let position = (f * FRAME) as u64;
        for (writer, blob) in &mut writers {
            writer
                .audio(now, 0, position, &left[at..at + FRAME])
                .expect("audio");
            writer
                .audio(now, 1, position, &right[at..at + FRAME])
                .expect("audio");
            if writer.poll_timeout().is_some_and(|due| due <= now) {
                writer.handle_timeout(now).expect("seal");
            }
            while let Some(bytes) = writer.poll_output() {
                blob.extend_from_slice(&bytes);
            }
        }
    }
    for (writer, blob) in &mut writers {
        writer.finish(1_700_000_060_000, &node).expect("finish");
        while let Some(bytes) = writer.poll_output() {
            blob.extend_from_slice(&bytes);
        }
    }
    let cpu = thread_cpu() - start;
    Outcome {
        cpu,
        bytes: writers.iter().map(|(_, b)| b.len() as u64).sum(),
    }
}

fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("recorder_load: {e}\nusage: recorder_load [--recordings N] [--seconds S]");
            std::process::exit(2);
        }
    };
    let (left, right) = (audio(1), audio(2));
    let recording_seconds = (args.recordings as u64 * u64::from(args.seconds)) as f64;
    println!(
        "{} recordings x {} s of stereo 8 kHz audio = {recording_seconds:.0} recording-seconds",
        args.recordings, args.seconds
    );
    // Three rounds of each, interleaved; the median round of each is reported.
    let mut bases: Vec<Outcome> = Vec::new();
    let mut ourses: Vec<Outcome> = Vec::new();
    for _ in 0..3 {
        bases.push(baseline(&args, &left, &right));
        ourses.push(herald(&args, &left, &right));
    }
    bases.sort_by_key(|o| o.cpu);
    ourses.sort_by_key(|o| o.cpu);
    let (base, ours) = (&bases[1], &ourses[1]);
    println!(
        "| | CPU per recording-second | bytes per recording-second | recording-seconds per CPU-second |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for (name, o) in [
        ("plaintext WAV (A-law) baseline", &base),
        ("Herald encrypted format", &ours),
    ] {
        let cpu = o.cpu.as_secs_f64() / recording_seconds;
        println!(
            "| {name} | {:.2} µs | {:.0} | {:.0} |",
            cpu * 1e6,
            o.bytes as f64 / recording_seconds,
            1.0 / cpu
        );
    }
    println!(
        "ratio herald / baseline: CPU {:.2}x, bytes {:.3}x",
        ours.cpu.as_secs_f64() / base.cpu.as_secs_f64(),
        ours.bytes as f64 / base.bytes as f64
    );
}
