//! Writer → blob → reader: what goes in comes out, sample-accurate, and segmenting follows the
//! configuration.

mod common;

use std::time::Duration;

use common::*;
use herald_recorder::{
    Codec, Record, RecordingState, RecordingWriter, Verdict, WriterConfig, WriterError, open,
    seal_interrupted, verify,
};

fn audio_of(records: &[Record], channel: u8, codec: Codec) -> Vec<(u64, i16)> {
    records
        .iter()
        .filter_map(|record| match record {
            Record::Audio(frame) if frame.channel == channel => Some(frame),
            _ => None,
        })
        .flat_map(|frame| (frame.position..).zip(frame.samples(codec).collect::<Vec<_>>()))
        .collect()
}

#[test]
fn stereo_l16_round_trips_exactly_with_gaps_and_evidence() {
    let ops = conversation(60);
    let blob = write(
        header(Codec::L16, 1),
        WriterConfig::default(),
        &ops,
        10,
        true,
    );
    let recording = open(&blob, &data_key()).expect("opens");
    assert_eq!(recording.state, RecordingState::Complete);
    assert_eq!(recording.header, header(Codec::L16, 1));
    assert_eq!(recording.end_unix_ms, Some(1_700_000_100_000));

    let others: Vec<_> = recording
        .records
        .iter()
        .filter(|record| !matches!(record, Record::Audio(_)))
        .cloned()
        .collect();
    assert_eq!(
        others,
        [
            Record::Evidence(disclosure()),
            Record::GapBegin(gap_begin(30 * 160)),
            Record::GapEnd(gap_end(32 * 160)),
        ]
    );
    for channel in 0..2u8 {
        let expected: Vec<(u64, i16)> = (0..60)
            .filter(|packet| !(30..32).contains(packet))
            .flat_map(|packet| {
                let first = packet * 160;
                (first as u64..).zip(tone(first + usize::from(channel), 160))
            })
            .collect();
        assert_eq!(audio_of(&recording.records, channel, Codec::L16), expected);
    }
    let inner = recording.inner_trailer.as_ref().expect("inner trailer");
    assert_eq!(inner.samples_per_channel, [9600, 9600]);
    assert_eq!(inner.segment_count, recording.segments);

    let pcm = recording.to_pcm_interleaved().expect("renders");
    assert_eq!(pcm.len(), 9600 * 2);
    assert_eq!(
        pcm[..4],
        [tone(0, 1)[0], tone(1, 1)[0], tone(1, 1)[0], tone(2, 1)[0]]
    );
    assert!(
        pcm[30 * 160 * 2..32 * 160 * 2].iter().all(|&s| s == 0),
        "the gap is silent"
    );
}

#[test]
fn g711_audio_is_what_the_codec_makes_of_it() {
    for codec in [Codec::Pcma, Codec::Pcmu] {
        let ops = vec![Op::Audio {
            channel: 0,
            position: 80,
            samples: tone(0, 400),
        }];
        let blob = write(header(codec, 2), WriterConfig::default(), &ops, 10, true);
        let recording = open(&blob, &data_key()).expect("opens");
        let pcm = recording.to_pcm_interleaved().expect("renders");
        assert_eq!(pcm.len(), 480 * 2);
        let left: Vec<i16> = pcm.iter().step_by(2).copied().collect();
        assert!(left[..80].iter().all(|&s| s == 0));
        for (got, want) in left[80..].iter().zip(tone(0, 400)) {
            let error = (i32::from(*got) - i32::from(want)).abs();
            assert!(
                error <= i32::from(want).abs() / 16 + 16,
                "{codec:?}: {got} vs {want}"
            );
        }
        assert!(
            pcm.iter().skip(1).step_by(2).all(|&s| s == 0),
            "right is silent"
        );
    }
}

#[test]
fn backward_audio_is_dropped_and_counted_and_gaps_drop_audio() {
    let start = epoch();
    let mut writer =
        RecordingWriter::new(header(Codec::L16, 3), &data_key(), WriterConfig::default())
            .expect("writer");
    writer.audio(start, 0, 0, &tone(0, 100)).expect("audio");
    writer.audio(start, 0, 50, &tone(50, 100)).expect("overlap");
    writer
        .audio(start, 0, 10, &tone(10, 20))
        .expect("all behind");
    writer.gap_begin(start, &gap_begin(150)).expect("gap");
    writer.audio(start, 1, 0, &tone(0, 30)).expect("in gap");
    assert_eq!(
        writer.gap_begin(start, &gap_begin(150)),
        Err(WriterError::GapAlreadyOpen)
    );
    writer.gap_end(start, &gap_end(200)).expect("gap end");
    assert_eq!(
        writer.gap_end(start, &gap_end(200)),
        Err(WriterError::NoOpenGap)
    );
    writer
        .audio(start, 1, 20, &tone(20, 20))
        .expect("partly behind the gap's drop");
    let stats = writer.stats();
    assert_eq!(stats.dropped_backward_samples, 50 + 20 + 10);
    assert_eq!(stats.dropped_in_gap_samples, 30);
    writer.finish(0, &node_key()).expect("finish");
    let blob: Vec<u8> = std::iter::from_fn(|| writer.poll_output())
        .flatten()
        .collect();
    let recording = open(&blob, &data_key()).expect("opens");
    let expected: Vec<_> = (0u64..).zip(tone(0, 150)).collect();
    assert_eq!(audio_of(&recording.records, 0, Codec::L16), expected);
    assert_eq!(
        audio_of(&recording.records, 1, Codec::L16),
        (30u64..).zip(tone(30, 10)).collect::<Vec<_>>()
    );
    assert_eq!(
        recording.inner_trailer.expect("inner").samples_per_channel,
        [150, 40]
    );
}

#[test]
fn segments_seal_on_time_and_on_size_never_empty() {
    let start = epoch();
    let config = WriterConfig {
        segment_duration: Duration::from_millis(100),
        max_segment_bytes: 4096,
    };
    let mut writer = RecordingWriter::new(header(Codec::Pcma, 4), &data_key(), config).expect("w");
    assert_eq!(
        writer.poll_output().map(|h| &h[..9] == b"HERALDREC"),
        Some(true)
    );
    assert_eq!(writer.poll_timeout(), None, "nothing buffered, nothing due");
    writer
        .handle_timeout(start + Duration::from_secs(5))
        .expect("no-op");
    assert_eq!(writer.poll_output(), None, "no empty segment");

    let at = |ms| start + Duration::from_millis(ms);
    writer.audio(at(10), 0, 0, &tone(0, 160)).expect("audio");
    assert_eq!(writer.poll_timeout(), Some(at(110)));
    writer.handle_timeout(at(109)).expect("not yet");
    assert_eq!(writer.poll_output(), None);
    writer.handle_timeout(at(110)).expect("due");
    let first = writer.poll_output().expect("a segment");
    assert_eq!((first[0], &first[1..6]), (b'S', &[0, 0, 0, 0, 0][..]));
    assert_eq!(writer.poll_timeout(), None);

    // 10 000 samples of A-law at once: split by the 4096-byte cap.
    writer
        .audio(at(200), 0, 160, &tone(0, 10_000))
        .expect("audio");
    let mut sizes = Vec::new();
    while let Some(frame) = writer.poll_output() {
        sizes.push(frame.len() - 10 - 16);
    }
    assert_eq!(
        sizes.len(),
        2,
        "two full segments sealed, the rest still open"
    );
    assert!(
        sizes.iter().all(|&size| size <= 4096 && size > 4000),
        "{sizes:?}"
    );
    // A late call seals the overdue segment before adding to a new one.
    writer.audio(at(400), 1, 0, &tone(0, 160)).expect("audio");
    assert!(
        writer.poll_output().is_some(),
        "overdue segment sealed by audio()"
    );
    assert_eq!(writer.stats().segments, 4);
    writer.finish(0, &node_key()).expect("finish");
    assert_eq!(writer.poll_output().map(|f| f[5]), Some(1), "last flag");
    assert_eq!(
        writer.poll_output().map(|t| t.len()),
        Some(herald_recorder::TRAILER_LEN)
    );
    assert_eq!(writer.poll_timeout(), None);
    assert_eq!(
        writer.audio(at(500), 0, 0, &[1]),
        Err(WriterError::Finished)
    );
}

#[test]
fn writer_refuses_misuse() {
    let bad = |config: WriterConfig| {
        RecordingWriter::new(header(Codec::Pcma, 5), &data_key(), config).err()
    };
    let short = Duration::from_millis(99);
    assert_eq!(
        bad(WriterConfig {
            segment_duration: short,
            ..WriterConfig::default()
        }),
        Some(WriterError::SegmentDuration(short))
    );
    assert_eq!(
        bad(WriterConfig {
            max_segment_bytes: 2 << 20,
            ..WriterConfig::default()
        }),
        Some(WriterError::SegmentBytes(2 << 20))
    );
    let mut writer =
        RecordingWriter::new(header(Codec::Pcma, 5), &data_key(), WriterConfig::default())
            .expect("writer");
    let now = epoch();
    assert_eq!(
        writer.audio(now, 2, 0, &[0]),
        Err(WriterError::NoSuchChannel(2))
    );
    assert_eq!(
        writer.audio(now, 0, u64::MAX, &[0, 0]),
        Err(WriterError::PositionOverflow)
    );
    let mut gap = gap_begin(0);
    gap.detail = "x".repeat(201);
    assert!(matches!(
        writer.gap_begin(now, &gap),
        Err(WriterError::BadText(_))
    ));
    let other_key = herald_recorder::NodeSigningKey::generate(&mut rng(99));
    assert!(matches!(
        writer.finish(0, &other_key),
        Err(WriterError::WrongNodeKey { .. })
    ));
}

#[test]
fn an_unsealed_recording_reads_up_to_its_last_sealed_segment() {
    let ops = conversation(100);
    let config = WriterConfig {
        segment_duration: Duration::from_millis(200),
        ..WriterConfig::default()
    };
    let (open_blob, chunks) =
        write_with_frames(header(Codec::L16, 6), config.clone(), &ops, 10, false);
    assert!(frame_spans(&chunks).len() >= 5);
    let recording = open(&open_blob, &data_key()).expect("opens");
    assert_eq!(recording.state, RecordingState::Unsealed);
    assert_eq!(recording.inner_trailer, None);
    let finished = open(
        &write(header(Codec::L16, 6), config, &ops, 10, true),
        &data_key(),
    )
    .expect("opens");
    assert!(finished.records.starts_with(&recording.records));
    assert!(finished.records.len() > recording.records.len());
    assert!(matches!(
        verify(&open_blob, &node_key().public_key()).verdict,
        Verdict::Unsealed { torn_tail_bytes: 0 }
    ));
}

#[test]
fn a_crashed_recording_is_recovered_as_interrupted() {
    let ops = conversation(100);
    let config = WriterConfig {
        segment_duration: Duration::from_millis(200),
        ..WriterConfig::default()
    };
    let (blob, chunks) = write_with_frames(header(Codec::Pcmu, 7), config, &ops, 10, false);
    let spans = frame_spans(&chunks);
    let (last_start, last_end) = spans[spans.len() - 1];
    let torn = &blob[..last_end - 7];
    assert_eq!(
        open(torn, &data_key()),
        Err(herald_recorder::ReadError::Truncated {
            segments_ok: spans.len() as u32 - 1
        })
    );
    let seal = seal_interrupted(torn, 1_700_000_050_000, &node_key()).expect("recovers");
    assert_eq!(seal.keep_len, last_start as u64);
    assert_eq!(seal.torn_tail_bytes, (last_end - 7 - last_start) as u64);
    let mut recovered = torn[..last_start].to_vec();
    recovered.extend_from_slice(&seal.trailer);
    let report = verify(&recovered, &node_key().public_key());
    assert_eq!(
        report.verdict,
        Verdict::Interrupted {
            end_unix_ms: 1_700_000_050_000
        }
    );
    assert_eq!(report.segments, spans.len() as u32 - 1);
    let recording = open(&recovered, &data_key()).expect("opens");
    assert_eq!(recording.state, RecordingState::Interrupted);
    assert_eq!(
        seal_interrupted(&recovered, 0, &node_key()),
        Err(herald_recorder::RecoveryError::AlreadySealed)
    );
}

#[test]
fn verify_checks_the_signer() {
    let blob = write(
        header(Codec::Pcma, 8),
        WriterConfig::default(),
        &conversation(10),
        10,
        true,
    );
    let report = verify(&blob, &node_key().public_key());
    assert_eq!(
        report.verdict,
        Verdict::Complete {
            end_unix_ms: 1_700_000_100_000
        }
    );
    assert_eq!(
        herald_recorder::trailer_signer(&blob),
        Some(node_key().id())
    );
    let stranger = herald_recorder::NodeSigningKey::generate(&mut rng(2)).public_key();
    assert!(matches!(
        verify(&blob, &stranger).verdict,
        Verdict::Damaged {
            defect: herald_recorder::Defect::WrongNodeKey { .. },
            ..
        }
    ));
}
