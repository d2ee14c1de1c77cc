//! The committed test vectors in `tests/vectors/` (described in docs/recording-format.md):
//! regenerated deterministically and compared byte for byte, and decoded from the committed
//! files alone.
//!
//! Regenerate after a deliberate format change with
//! `HERALD_REGENERATE_VECTORS=1 cargo nextest run -p herald-recorder --test vectors`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_recorder::age::secrecy::ExposeSecret;
use herald_recorder::age::x25519::Identity;
use herald_recorder::{
    ChannelRole, Codec, ConsentChoice, DataKey, Evidence, GapBegin, GapEnd, GapReason, Header,
    NodePublicKey, NodeSigningKey, RecipientKey, Record, Recording, RecordingId, RecordingWriter,
    Verdict, WriterConfig, open, seal_interrupted, unwrap_data_key, verify, wrap_data_key,
};
use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The vectors' RNG seed: "HERALD" in ASCII.
const SEED: u64 = 0x4845_5241_4c44;
const START_UNIX_MS: u64 = 1_767_225_600_000;
const END_UNIX_MS: u64 = 1_767_225_600_900;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The fuzz target's seeds are the vector blobs.
fn fuzz_seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/recording_reader")
}

fn regenerating() -> bool {
    std::env::var_os("HERALD_REGENERATE_VECTORS").is_some()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("tests/vectors/{name}: {e}"))
}

fn read_text(name: &str) -> String {
    String::from_utf8(read(name)).expect("UTF-8")
}

/// Everything the vectors are made from: id, data key and node key from the seeded RNG in that
/// order; the recipient from the committed `recipient.txt`.
struct Inputs {
    id: RecordingId,
    data_key: DataKey,
    node_key: NodeSigningKey,
    recipient: RecipientKey,
}

fn inputs() -> Inputs {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    if regenerating() && !dir().join("recipient.txt").exists() {
        let identity = Identity::generate();
        let secret = format!("{}\n", identity.to_string().expose_secret());
        std::fs::write(dir().join("identity.txt"), secret).expect("write");
        let public = format!("{}\n", identity.to_public());
        std::fs::write(dir().join("recipient.txt"), public).expect("write");
    }
    Inputs {
        id: RecordingId::random(&mut rng),
        data_key: DataKey::generate(&mut rng),
        node_key: NodeSigningKey::generate(&mut rng),
        recipient: RecipientKey::parse(&read_text("recipient.txt")).expect("recipient"),
    }
}

fn header(inputs: &Inputs) -> Header {
    Header {
        id: inputs.id,
        codec: Codec::Pcma,
        sample_rate: 8000,
        channels: vec![ChannelRole::Caller, ChannelRole::Herald],
        start_unix_ms: START_UNIX_MS,
        recipients: vec![inputs.recipient.id()],
        node_key: inputs.node_key.id(),
    }
}

/// 10 ms packets (80 samples) on both channels every 10 ms, a disclosure first, a secure-input
/// gap from packet 4 to 6. Segments of 100 ms.
fn script(writer: &mut RecordingWriter, packets: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    let start = common::epoch();
    let mut out = Vec::new();
    for packet in packets {
        let now = start + Duration::from_millis(packet * 10);
        let position = packet * 80;
        let unix_ms = START_UNIX_MS + packet * 10;
        if writer.poll_timeout().is_some_and(|due| due <= now) {
            writer.handle_timeout(now).expect("timeout");
        }
        match packet {
            0 => writer.evidence(now, &disclosure()).expect("evidence"),
            4 => writer
                .gap_begin(now, &gap_begin(position, unix_ms))
                .expect("gap"),
            6 => writer
                .gap_end(now, &gap_end(position, unix_ms))
                .expect("gap end"),
            _ => {}
        }
        for channel in 0..2u8 {
            let first = (packet * 80) as usize + usize::from(channel) * 7;
            let samples = common::tone(first, 80);
            writer
                .audio(now, channel, position, &samples)
                .expect("audio");
        }
        out.extend(std::iter::from_fn(|| writer.poll_output()));
    }
    out
}

fn disclosure() -> Evidence {
    Evidence {
        prompt_id: "disclosure-recording".into(),
        language: "de-DE".into(),
        played_unix_ms: START_UNIX_MS,
        completed: true,
        choice: ConsentChoice::Accepted,
    }
}

fn gap_begin(position: u64, unix_ms: u64) -> GapBegin {
    GapBegin {
        position,
        unix_ms,
        reason: GapReason::SecureInput,
        actor: "ivr".into(),
        detail: "card number entry".into(),
    }
}

fn gap_end(position: u64, unix_ms: u64) -> GapEnd {
    GapEnd {
        position,
        unix_ms,
        actor: "ivr".into(),
    }
}

fn config() -> WriterConfig {
    WriterConfig {
        segment_duration: Duration::from_millis(100),
        max_segment_bytes: 4096,
    }
}

/// (complete blob, crashed blob with a torn tail, recovered interrupted blob).
fn build(inputs: &Inputs) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut writer = RecordingWriter::new(header(inputs), &inputs.data_key, config()).expect("w");
    let mut chunks = script(&mut writer, 0..25);
    writer
        .finish(END_UNIX_MS, &inputs.node_key)
        .expect("finish");
    chunks.extend(std::iter::from_fn(|| writer.poll_output()));
    let complete = chunks.concat();

    let mut writer = RecordingWriter::new(header(inputs), &inputs.data_key, config()).expect("w");
    let chunks = script(&mut writer, 0..25);
    let torn_frame = chunks.last().expect("a segment");
    let whole = chunks[..chunks.len() - 1].concat();
    let mut crashed = whole.clone();
    crashed.extend_from_slice(&torn_frame[..torn_frame.len() / 2]);
    let seal = seal_interrupted(&crashed, END_UNIX_MS, &inputs.node_key).expect("recovers");
    assert_eq!(seal.keep_len, whole.len() as u64);
    let mut interrupted = whole;
    interrupted.extend_from_slice(&seal.trailer);
    (complete, crashed, interrupted)
}

fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(|line| format!("{}\n", hex::encode(line)))
        .collect()
}

fn record_json(record: &Record) -> Value {
    match record {
        Record::Audio(frame) => json!({
            "type": "audio", "channel": frame.channel, "position": frame.position,
            "payload_hex": hex::encode(&frame.payload),
        }),
        Record::GapBegin(gap) => json!({
            "type": "gap-begin", "position": gap.position, "unix_ms": gap.unix_ms,
            "reason": gap.reason.name(), "actor": gap.actor, "detail": gap.detail,
        }),
        Record::GapEnd(gap) => json!({
            "type": "gap-end", "position": gap.position, "unix_ms": gap.unix_ms,
            "actor": gap.actor,
        }),
        Record::Evidence(e) => json!({
            "type": "evidence", "prompt_id": e.prompt_id, "language": e.language,
            "played_unix_ms": e.played_unix_ms, "completed": e.completed,
            "choice": e.choice.name(),
        }),
    }
}

fn recording_json(recording: &Recording, blob: &[u8], node_key: &NodePublicKey) -> Value {
    let header = &recording.header;
    let pcm: Vec<u8> = recording
        .to_pcm_interleaved()
        .expect("renders")
        .iter()
        .flat_map(|sample| sample.to_le_bytes())
        .collect();
    let report = verify(blob, node_key);
    json!({
        "header": {
            "id": header.id.to_string(), "codec": header.codec.name(),
            "sample_rate": header.sample_rate,
            "channels": header.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "start_unix_ms": header.start_unix_ms,
            "recipients": header.recipients.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "node_key": header.node_key.to_string(),
        },
        "state": format!("{:?}", recording.state).to_lowercase(),
        "segments": recording.segments,
        "end_unix_ms": recording.end_unix_ms,
        "records": recording.records.iter().map(record_json).collect::<Vec<_>>(),
        "inner_trailer": recording.inner_trailer.as_ref().map(|t| json!({
            "segment_count": t.segment_count,
            "samples_per_channel": t.samples_per_channel,
            "running_digest": hex::encode(t.running_digest),
        })),
        "digest": report.digest.map(hex::encode),
        "pcm_interleaved_sha256": hex::encode(Sha256::digest(&pcm)),
        "pcm_frames": pcm.len() / 4,
    })
}

fn expected_json(inputs: &Inputs, complete: &[u8], interrupted: &[u8]) -> Value {
    let (header_len, segment_key) = {
        let (_, len) = Header::parse(complete).expect("header");
        let hkdf = Hkdf::<Sha256>::new(Some(&inputs.id.0), inputs.data_key.expose_bytes());
        let mut key = [0u8; 32];
        hkdf.expand(b"herald recording v1 segments", &mut key)
            .expect("HKDF");
        (len, key)
    };
    let public = inputs.node_key.public_key();
    let open_with = |blob| open(blob, &inputs.data_key).expect("opens");
    json!({
        "rng_seed": SEED,
        "header_len": header_len,
        "header_sha256": hex::encode(Sha256::digest(&complete[..header_len])),
        "segment_key": hex::encode(segment_key),
        "node_key_id": inputs.node_key.id().to_string(),
        "recipient_key_id": inputs.recipient.id().to_string(),
        "complete": recording_json(&open_with(complete), complete, &public),
        "interrupted": recording_json(&open_with(interrupted), interrupted, &public),
    })
}

#[test]
fn vectors_regenerate_byte_for_byte() {
    let inputs = inputs();
    let (complete, crashed, interrupted) = build(&inputs);
    let expected = serde_json::to_string_pretty(&expected_json(&inputs, &complete, &interrupted))
        .expect("json")
        + "\n";
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "data_key.hex",
            format!("{}\n", hex::encode(inputs.data_key.expose_bytes())).into(),
        ),
        (
            "node_signing_key.txt",
            inputs.node_key.to_text().as_bytes().to_vec(),
        ),
        (
            "node_public_key.txt",
            inputs.node_key.public_key().to_text().into(),
        ),
        ("recording.bin", complete.clone()),
        ("recording.hex", hex_lines(&complete).into()),
        ("crashed.bin", crashed),
        ("interrupted.bin", interrupted),
        ("expected.json", expected.into()),
    ];
    for (name, bytes) in files {
        if regenerating() {
            std::fs::write(dir().join(name), &bytes).expect("write vector");
        }
        assert!(
            read(name) == bytes,
            "tests/vectors/{name} differs from a fresh run"
        );
    }
    for name in ["recording.bin", "crashed.bin", "interrupted.bin"] {
        let seed = fuzz_seeds().join(name);
        if regenerating() {
            std::fs::write(&seed, read(name)).expect("write fuzz seed");
        }
        assert!(
            std::fs::read(&seed).ok() == Some(read(name)),
            "fuzz/seeds/recording_reader/{name} differs from tests/vectors/{name}"
        );
    }
    if regenerating() {
        let wrapped = wrap_data_key(&inputs.data_key, &[inputs.recipient]).expect("wraps");
        std::fs::write(dir().join("wrapped_key.age"), &wrapped[0].age_file).expect("write");
    }
}

/// Uses the committed files only, as another implementation would.
#[test]
fn committed_vectors_decode_as_documented() {
    let mut key_bytes = [0u8; 32];
    hex::decode_to_slice(read_text("data_key.hex").trim(), &mut key_bytes).expect("hex");
    let data_key = DataKey::from_bytes(key_bytes);
    let node_key = NodePublicKey::from_text(&read_text("node_public_key.txt")).expect("key");
    let expected: Value = serde_json::from_slice(&read("expected.json")).expect("json");
    let complete = read("recording.bin");
    assert_eq!(hex_lines(&complete), read_text("recording.hex"));
    let recording = open(&complete, &data_key).expect("opens");
    assert_eq!(
        recording_json(&recording, &complete, &node_key),
        expected["complete"]
    );
    assert_eq!(
        verify(&complete, &node_key).verdict,
        Verdict::Complete {
            end_unix_ms: END_UNIX_MS
        }
    );

    let interrupted = read("interrupted.bin");
    let recording = open(&interrupted, &data_key).expect("opens");
    assert_eq!(
        recording_json(&recording, &interrupted, &node_key),
        expected["interrupted"]
    );
    assert_eq!(
        verify(&interrupted, &node_key).verdict,
        Verdict::Interrupted {
            end_unix_ms: END_UNIX_MS
        }
    );
    let crashed = read("crashed.bin");
    assert!(
        matches!(verify(&crashed, &node_key).verdict, Verdict::Unsealed { torn_tail_bytes } if torn_tail_bytes > 0)
    );
    let seal = seal_interrupted(
        &crashed,
        END_UNIX_MS,
        &NodeSigningKey::from_text(&read_text("node_signing_key.txt")).expect("key"),
    )
    .expect("recovers");
    let mut recovered = crashed[..seal.keep_len as usize].to_vec();
    recovered.extend_from_slice(&seal.trailer);
    assert_eq!(recovered, interrupted, "recovery is deterministic");
}

#[test]
fn committed_wrapped_key_unwraps_to_the_data_key() {
    let identity: Identity = read_text("identity.txt").trim().parse().expect("identity");
    let recipient = RecipientKey::parse(&read_text("recipient.txt")).expect("recipient");
    assert_eq!(
        RecipientKey::from(identity.to_public()).id(),
        recipient.id()
    );
    let data_key = unwrap_data_key(&read("wrapped_key.age"), &identity).expect("unwraps");
    assert_eq!(
        hex::encode(data_key.expose_bytes()),
        read_text("data_key.hex").trim()
    );
}
