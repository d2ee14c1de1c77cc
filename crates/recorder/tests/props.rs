//! Property tests: arbitrary operation sequences and segmenting round-trip exactly against a
//! model; arbitrary truncations and bit flips of them are detected.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use herald_recorder::{
    Codec, ConsentChoice, Evidence, GapBegin, GapEnd, GapReason, Record, RecordingState, Verdict,
    WriterConfig, open, verify,
};
use proptest::prelude::*;

/// Audio relative to the channel's cursor, so that sequences exercise forward jumps, exact
/// continuations, overlaps and fully stale packets.
#[derive(Debug, Clone)]
enum Step {
    Audio {
        channel: u8,
        jump: i64,
        samples: Vec<i16>,
    },
    GapBegin(GapReason),
    GapEnd,
    Evidence(ConsentChoice, bool),
    Tick,
}

fn step() -> impl Strategy<Value = Step> {
    let reason = prop_oneof![
        Just(GapReason::SecureInput),
        Just(GapReason::Api),
        Just(GapReason::Hold),
        Just(GapReason::OptOut),
        Just(GapReason::Policy),
    ];
    let choice = prop_oneof![
        Just(ConsentChoice::Accepted),
        Just(ConsentChoice::Objected),
        Just(ConsentChoice::None),
        Just(ConsentChoice::NoInput),
    ];
    prop_oneof![
        8 => (0..2u8, prop_oneof![Just(0i64), -400..400i64], prop::collection::vec(any::<i16>(), 1..400))
            .prop_map(|(channel, jump, samples)| Step::Audio { channel, jump, samples }),
        1 => reason.prop_map(Step::GapBegin),
        1 => Just(Step::GapEnd),
        1 => (choice, any::<bool>()).prop_map(|(c, done)| Step::Evidence(c, done)),
        2 => Just(Step::Tick),
    ]
}

/// What the writer should keep: per channel position → sample, the non-audio records, and the
/// cursors.
#[derive(Default)]
struct Model {
    audio: [BTreeMap<u64, i16>; 2],
    others: Vec<Record>,
    cursor: [u64; 2],
    gap_open: bool,
}

/// Turns steps into writer operations while predicting what the writer keeps.
fn plan(steps: &[Step]) -> (Vec<Op>, Model) {
    let mut model = Model::default();
    let mut ops = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let op = match step {
            Step::Audio {
                channel,
                jump,
                samples,
            } => {
                let ch = usize::from(*channel);
                let position = model.cursor[ch].saturating_add_signed(*jump);
                let end = position + samples.len() as u64;
                for (offset, &sample) in samples.iter().enumerate() {
                    let at = position + offset as u64;
                    if at >= model.cursor[ch] && !model.gap_open {
                        model.audio[ch].insert(at, sample);
                    }
                }
                model.cursor[ch] = model.cursor[ch].max(end);
                Op::Audio {
                    channel: *channel,
                    position,
                    samples: samples.clone(),
                }
            }
            Step::GapBegin(reason) => {
                let gap = GapBegin {
                    reason: *reason,
                    ..gap_begin(i as u64)
                };
                if !model.gap_open {
                    model.others.push(Record::GapBegin(gap.clone()));
                    model.gap_open = true;
                }
                Op::GapBegin(gap)
            }
            Step::GapEnd => {
                let gap = GapEnd {
                    actor: format!("api:desk-{i}"),
                    ..gap_end(i as u64)
                };
                if model.gap_open {
                    model.others.push(Record::GapEnd(gap.clone()));
                    model.gap_open = false;
                }
                Op::GapEnd(gap)
            }
            Step::Evidence(choice, completed) => {
                let evidence = Evidence {
                    choice: *choice,
                    completed: *completed,
                    prompt_id: format!("prompt-{i}"),
                    ..disclosure()
                };
                model.others.push(Record::Evidence(evidence.clone()));
                Op::Evidence(evidence)
            }
            Step::Tick => Op::Tick,
        };
        ops.push(op);
    }
    (ops, model)
}

fn config() -> impl Strategy<Value = (WriterConfig, u64)> {
    (100..=1000u64, 4096..=20_000usize, 1..150u64).prop_map(|(ms, bytes, step_ms)| {
        let config = WriterConfig {
            segment_duration: Duration::from_millis(ms),
            max_segment_bytes: bytes,
        };
        (config, step_ms)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn operation_sequences_round_trip_exactly(
        steps in prop::collection::vec(step(), 0..80),
        (config, step_ms) in config(),
    ) {
        let (ops, model) = plan(&steps);
        let (blob, chunks) = write_with_frames(header(Codec::L16, 1), config.clone(), &ops, step_ms, true);
        for frame in &chunks[1..chunks.len() - 1] {
            prop_assert!(frame.len() - 10 - 16 <= config.max_segment_bytes);
        }
        let recording = open(&blob, &data_key()).expect("opens");
        prop_assert_eq!(recording.state, RecordingState::Complete);
        let others: Vec<_> = recording.records.iter()
            .filter(|r| !matches!(r, Record::Audio(_))).cloned().collect();
        prop_assert_eq!(&others, &model.others);
        let mut audio: [BTreeMap<u64, i16>; 2] = Default::default();
        for record in &recording.records {
            if let Record::Audio(frame) = record {
                for (offset, sample) in frame.samples(Codec::L16).enumerate() {
                    let fresh = audio[usize::from(frame.channel)]
                        .insert(frame.position + offset as u64, sample)
                        .is_none();
                    prop_assert!(fresh, "a position written twice");
                }
            }
        }
        prop_assert_eq!(&audio, &model.audio);
        let inner = recording.inner_trailer.clone().expect("inner trailer");
        prop_assert_eq!(inner.samples_per_channel, model.cursor.to_vec());
        let pcm = recording.to_pcm_interleaved().expect("renders");
        prop_assert_eq!(pcm.len() as u64, model.cursor.iter().max().copied().unwrap_or(0) * 2);
        for (channel, samples) in model.audio.iter().enumerate() {
            for (&at, &sample) in samples {
                prop_assert_eq!(pcm[at as usize * 2 + channel], sample);
            }
        }
        let verdict = verify(&blob, &node_key().public_key()).verdict;
        prop_assert!(matches!(verdict, Verdict::Complete { .. }), "verdict {:?}", verdict);
    }

    #[test]
    fn truncations_and_bit_flips_are_detected(
        steps in prop::collection::vec(step(), 1..40),
        (config, step_ms) in config(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let (ops, _) = plan(&steps);
        let blob = write(header(Codec::Pcmu, 2), config, &ops, step_ms, true);
        let original = open(&blob, &data_key()).expect("opens");
        let cut_blob = &blob[..cut.index(blob.len())];
        let mut flipped = blob.clone();
        flipped[flip.index(blob.len())] ^= 1 << bit;
        for damaged in [cut_blob, &flipped[..]] {
            let verdict = verify(damaged, &node_key().public_key()).verdict;
            prop_assert!(!matches!(verdict, Verdict::Complete { .. }), "verdict {:?}", verdict);
            if let Ok(read) = open(damaged, &data_key()) {
                prop_assert!(original.records.starts_with(&read.records));
                prop_assert!(read.state != RecordingState::Complete || read.records == original.records);
            }
        }
    }
}
