//! Shared by the integration tests: fixed keys, a header, and a scripted writer run.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::time::{Duration, Instant};

use herald_recorder::{
    ChannelRole, Codec, ConsentChoice, DataKey, Evidence, GapBegin, GapEnd, GapReason, Header,
    NodeSigningKey, RecipientKeyId, RecordingId, RecordingWriter, WriterConfig,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary epoch; only differences from it matter"
)]
pub fn epoch() -> Instant {
    Instant::now()
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn node_key() -> NodeSigningKey {
    NodeSigningKey::generate(&mut rng(1))
}

pub fn data_key() -> DataKey {
    DataKey::from_bytes([0x42; 32])
}

pub fn header(codec: Codec, id: u8) -> Header {
    Header {
        id: RecordingId([id; 16]),
        codec,
        sample_rate: 8000,
        channels: vec![ChannelRole::Caller, ChannelRole::Herald],
        start_unix_ms: 1_700_000_000_000,
        recipients: vec![RecipientKeyId([7; 8])],
        node_key: node_key().id(),
    }
}

/// A writer operation, at `at_ms` milliseconds after the epoch.
#[derive(Debug, Clone)]
pub enum Op {
    Audio {
        channel: u8,
        position: u64,
        samples: Vec<i16>,
    },
    GapBegin(GapBegin),
    GapEnd(GapEnd),
    Evidence(Evidence),
    /// Let time pass and handle the writer's timeout if due.
    Tick,
}

/// Runs `ops` (one every `step_ms`) through a writer and returns the blob; `finish` adds the
/// last segment and trailer.
pub fn write(
    header: Header,
    config: WriterConfig,
    ops: &[Op],
    step_ms: u64,
    finish: bool,
) -> Vec<u8> {
    let (blob, _) = write_with_frames(header, config, ops, step_ms, finish);
    blob
}

/// Like [`write`], also returning each output chunk (header, frames, trailer) separately.
pub fn write_with_frames(
    header: Header,
    config: WriterConfig,
    ops: &[Op],
    step_ms: u64,
    finish: bool,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let start = epoch();
    let mut writer = RecordingWriter::new(header, &data_key(), config).expect("valid writer");
    let mut chunks = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let now = start + Duration::from_millis(step_ms * i as u64);
        if writer.poll_timeout().is_some_and(|due| due <= now) {
            writer.handle_timeout(now).expect("timeout");
        }
        apply(&mut writer, now, op);
        while let Some(chunk) = writer.poll_output() {
            chunks.push(chunk);
        }
    }
    if finish {
        writer
            .finish(1_700_000_100_000, &node_key())
            .expect("finish");
    }
    while let Some(chunk) = writer.poll_output() {
        chunks.push(chunk);
    }
    (chunks.concat(), chunks)
}

pub fn apply(writer: &mut RecordingWriter, now: Instant, op: &Op) {
    // Misuse (gap order) is allowed by the scripts; the writer rejects it and carries on.
    let _ = match op {
        Op::Audio {
            channel,
            position,
            samples,
        } => writer.audio(now, *channel, *position, samples),
        Op::GapBegin(gap) => writer.gap_begin(now, gap),
        Op::GapEnd(gap) => writer.gap_end(now, gap),
        Op::Evidence(evidence) => writer.evidence(now, evidence),
        Op::Tick => writer.handle_timeout(now),
    };
}

pub fn tone(start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|i| (((i * 37) % 2000) as i16 - 1000) * 16)
        .collect()
}

pub fn gap_begin(position: u64) -> GapBegin {
    GapBegin {
        position,
        unix_ms: 1_700_000_000_000 + position / 8,
        reason: GapReason::SecureInput,
        actor: "ivr".into(),
        detail: "card number entry".into(),
    }
}

pub fn gap_end(position: u64) -> GapEnd {
    GapEnd {
        position,
        unix_ms: 1_700_000_000_000 + position / 8,
        actor: "ivr".into(),
    }
}

pub fn disclosure() -> Evidence {
    Evidence {
        prompt_id: "disclosure-recording".into(),
        language: "de-DE".into(),
        played_unix_ms: 1_700_000_000_000,
        completed: true,
        choice: ConsentChoice::Accepted,
    }
}

/// Two channels of 20 ms packets for `packets` packets, a gap in the middle, evidence first.
pub fn conversation(packets: usize) -> Vec<Op> {
    let mut ops = vec![Op::Evidence(disclosure())];
    for packet in 0..packets {
        let position = (packet * 160) as u64;
        if packet == packets / 2 {
            ops.push(Op::GapBegin(gap_begin(position)));
        }
        if packet == packets / 2 + 2 {
            ops.push(Op::GapEnd(gap_end(position)));
        }
        for channel in 0..2 {
            ops.push(Op::Audio {
                channel,
                position,
                samples: tone(packet * 160 + usize::from(channel), 160),
            });
        }
    }
    ops
}

/// Offsets of the segment frames in a blob written by [`write_with_frames`].
pub fn frame_spans(chunks: &[Vec<u8>]) -> Vec<(usize, usize)> {
    let mut offset = chunks[0].len();
    let mut spans = Vec::new();
    for chunk in &chunks[1..] {
        if chunk[0] == b'S' {
            spans.push((offset, offset + chunk.len()));
        }
        offset += chunk.len();
    }
    spans
}
