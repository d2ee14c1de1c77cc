//! Recording format (`herald_recorder`): the keyless walker, the reader and crash recovery on
//! arbitrary blobs; the writer under arbitrary operation sequences, then one corruption of what
//! it wrote.
//!
//! Keys: the committed test-vector keys (`crates/recorder/tests/vectors/`), so that seeds made
//! from the vector blobs authenticate and reach the record decoder.
//!
//! Input layout: the whole input is first read as a blob. The same bytes, read by `arbitrary`,
//! then give a `Script`: codec, segment duration and byte cap, a list of actions (audio relative
//! to the channel's cursor, gap begin/end, evidence, time passing), whether to finish, and one
//! corruption (bit flip, truncation, or a frame-sized cut) applied to the written blob.
//!
//! Asserts:
//! * `verify`, `open`, `seal_interrupted`, `trailer_signer` and rendering never panic;
//! * `verify` says complete only if `open` reads a complete recording;
//! * a recovery trailer appended where `seal_interrupted` says makes `verify` say interrupted;
//! * what the writer wrote opens, complete if finished, else unsealed, with the evidence and
//!   gaps it was given, and passes `verify` when finished;
//! * a corrupted blob is never `verify`-complete, and `open` either fails or yields a prefix of
//!   the true records (all of them if it claims complete).

#![no_main]

use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use herald_recorder::{
    ChannelRole, Codec, ConsentChoice, DataKey, Evidence, GapBegin, GapEnd, GapReason, Header,
    NodeSigningKey, RecipientKeyId, Record, RecordingId, RecordingState, RecordingWriter, Verdict,
    WriterConfig, open, seal_interrupted, trailer_signer, verify,
};
use libfuzzer_sys::fuzz_target;

const DATA_KEY_HEX: &str = include_str!("../../crates/recorder/tests/vectors/data_key.hex");
const NODE_KEY_TEXT: &str =
    include_str!("../../crates/recorder/tests/vectors/node_signing_key.txt");
/// Render only recordings shorter than this many samples per channel (memory).
const RENDER_LIMIT: u64 = 1 << 20;

#[derive(Arbitrary, Debug)]
enum Action {
    Audio {
        channel: bool,
        jump: i16,
        len: u16,
        seed: i16,
    },
    GapBegin,
    GapEnd,
    Evidence {
        choice: u8,
        completed: bool,
    },
    Advance {
        ms: u16,
    },
}

#[derive(Arbitrary, Debug)]
enum Corruption {
    Flip { at: u32, bit: u8 },
    Truncate { at: u32 },
    CutOut { at: u32, len: u16 },
}

#[derive(Arbitrary, Debug)]
struct Script {
    codec: u8,
    segment_ms: u16,
    segment_bytes: u16,
    actions: Vec<Action>,
    finish: bool,
    corruption: Corruption,
}

fn data_key() -> DataKey {
    let text = DATA_KEY_HEX.trim();
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("the vector key is hex");
    }
    DataKey::from_bytes(bytes)
}

fn node_key() -> NodeSigningKey {
    NodeSigningKey::from_text(NODE_KEY_TEXT).expect("the vector node key parses")
}

fuzz_target!(|data: &[u8]| {
    let (key, node) = (data_key(), node_key());
    check_blob(data, &key, &node);
    if let Ok(script) = Script::arbitrary(&mut Unstructured::new(data)) {
        run_script(&script, &key, &node);
    }
});

fn check_blob(blob: &[u8], key: &DataKey, node: &NodeSigningKey) {
    let report = verify(blob, &node.public_key());
    let opened = open(blob, key);
    let _ = trailer_signer(blob);
    if let Ok(recording) = &opened {
        if recording.samples_per_channel() <= RENDER_LIMIT {
            let _ = recording.to_pcm_interleaved();
        }
    }
    if matches!(report.verdict, Verdict::Complete { .. }) {
        let state = opened.as_ref().map(|r| r.state);
        assert_eq!(
            state,
            Ok(RecordingState::Complete),
            "verified complete but {state:?}"
        );
    }
    if let Ok(seal) = seal_interrupted(blob, 1, node) {
        let mut recovered = blob[..seal.keep_len as usize].to_vec();
        recovered.extend_from_slice(&seal.trailer);
        let verdict = verify(&recovered, &node.public_key()).verdict;
        assert_eq!(verdict, Verdict::Interrupted { end_unix_ms: 1 });
    }
}

fn header(codec: u8, node: &NodeSigningKey) -> Header {
    Header {
        id: RecordingId([0x5a; 16]),
        codec: [Codec::Pcma, Codec::Pcmu, Codec::L16][usize::from(codec % 3)],
        sample_rate: 8000,
        channels: vec![ChannelRole::Caller, ChannelRole::Herald],
        start_unix_ms: 1_767_225_600_000,
        recipients: vec![RecipientKeyId([1; 8])],
        node_key: node.id(),
    }
}

fn run_script(script: &Script, key: &DataKey, node: &NodeSigningKey) {
    let config = WriterConfig {
        segment_duration: Duration::from_millis(100 + u64::from(script.segment_ms % 901)),
        max_segment_bytes: 4096 + usize::from(script.segment_bytes),
    };
    let mut writer =
        RecordingWriter::new(header(script.codec, node), key, config).expect("a valid writer");
    let mut now = Instant::now();
    let mut cursor = [0u64; 2];
    let mut others = Vec::new();
    let mut blob: Vec<u8> = std::iter::from_fn(|| writer.poll_output())
        .flatten()
        .collect();
    for (i, action) in script.actions.iter().enumerate() {
        if writer.poll_timeout().is_some_and(|due| due <= now) {
            writer
                .handle_timeout(now)
                .expect("sealing never fails here");
        }
        if let Some(record) = act(&mut writer, now, i as u64, action, &mut cursor) {
            others.push(record);
        }
        if let Action::Advance { ms } = action {
            now += Duration::from_millis(u64::from(*ms));
        }
        blob.extend(std::iter::from_fn(|| writer.poll_output()).flatten());
    }
    if script.finish {
        writer.finish(1_767_225_700_000, node).expect("finish");
        blob.extend(std::iter::from_fn(|| writer.poll_output()).flatten());
    }
    let original = open(&blob, key).expect("what the writer wrote opens");
    let expected_state = if script.finish {
        RecordingState::Complete
    } else {
        RecordingState::Unsealed
    };
    assert_eq!(original.state, expected_state);
    let read_others: Vec<_> = original
        .records
        .iter()
        .filter(|r| !matches!(r, Record::Audio(_)))
        .cloned()
        .collect();
    if script.finish {
        assert_eq!(read_others, others);
        let verdict = verify(&blob, &node.public_key()).verdict;
        assert!(matches!(verdict, Verdict::Complete { .. }), "{verdict:?}");
    } else {
        assert!(others.starts_with(&read_others));
    }
    check_corruption(&blob, &script.corruption, &original.records, key, node);
}

/// Applies one action; returns the non-audio record the writer accepted, if any.
fn act(
    writer: &mut RecordingWriter,
    now: Instant,
    i: u64,
    action: &Action,
    cursor: &mut [u64; 2],
) -> Option<Record> {
    match action {
        Action::Audio {
            channel,
            jump,
            len,
            seed,
        } => {
            let ch = usize::from(*channel);
            let position = cursor[ch].saturating_add_signed(i64::from(*jump));
            let samples: Vec<i16> = (0..*len % 1000)
                .map(|n| seed.wrapping_mul(n as i16).wrapping_add(n as i16))
                .collect();
            writer
                .audio(now, ch as u8, position, &samples)
                .expect("audio is accepted");
            cursor[ch] = cursor[ch].max(position + samples.len() as u64);
            None
        }
        Action::GapBegin => {
            let gap = GapBegin {
                position: i,
                unix_ms: i,
                reason: GapReason::SecureInput,
                actor: "ivr".into(),
                detail: String::new(),
            };
            writer
                .gap_begin(now, &gap)
                .ok()
                .map(|()| Record::GapBegin(gap))
        }
        Action::GapEnd => {
            let gap = GapEnd {
                position: i,
                unix_ms: i,
                actor: "api:fuzz".into(),
            };
            writer.gap_end(now, &gap).ok().map(|()| Record::GapEnd(gap))
        }
        Action::Evidence { choice, completed } => {
            let choices = [
                ConsentChoice::Accepted,
                ConsentChoice::Objected,
                ConsentChoice::None,
                ConsentChoice::NoInput,
            ];
            let evidence = Evidence {
                prompt_id: format!("prompt-{i}"),
                language: "en-GB".into(),
                played_unix_ms: i,
                completed: *completed,
                choice: choices[usize::from(*choice % 4)],
            };
            writer
                .evidence(now, &evidence)
                .expect("evidence is accepted");
            Some(Record::Evidence(evidence))
        }
        Action::Advance { .. } => None,
    }
}

fn check_corruption(
    blob: &[u8],
    corruption: &Corruption,
    records: &[Record],
    key: &DataKey,
    node: &NodeSigningKey,
) {
    let len = blob.len() as u64;
    let damaged: Vec<u8> = match *corruption {
        Corruption::Flip { at, bit } => {
            let mut copy = blob.to_vec();
            copy[(u64::from(at) % len) as usize] ^= 1 << (bit % 8);
            copy
        }
        Corruption::Truncate { at } => blob[..(u64::from(at) % len) as usize].to_vec(),
        Corruption::CutOut { at, len: cut } => {
            let start = (u64::from(at) % len) as usize;
            let end = (start + usize::from(cut).max(1)).min(blob.len());
            [&blob[..start], &blob[end..]].concat()
        }
    };
    check_blob(&damaged, key, node);
    let verdict = verify(&damaged, &node.public_key()).verdict;
    assert!(
        !matches!(verdict, Verdict::Complete { .. }),
        "corruption verified complete"
    );
    if let Ok(read) = open(&damaged, key) {
        assert!(
            records.starts_with(&read.records),
            "corruption yielded other records"
        );
        if read.state == RecordingState::Complete {
            assert_eq!(
                read.records, records,
                "corruption claimed complete with other records"
            );
        }
    }
}
