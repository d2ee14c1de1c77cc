//! Every way of damaging a blob is detected: the reader errors or reports a state short of
//! complete with a prefix of the true records, never wrong audio; `verify` never says complete.

mod common;

use std::time::Duration;

use common::*;
use herald_recorder::{
    Codec, Defect, Header, ReadError, Recording, RecordingState, Verdict, WriterConfig, open,
    verify,
};

fn config() -> WriterConfig {
    WriterConfig {
        segment_duration: Duration::from_millis(100),
        ..WriterConfig::default()
    }
}

/// A small complete recording of several segments, and its output chunks.
fn small(header: Header) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut ops = vec![Op::Evidence(disclosure())];
    for packet in 0..8u64 {
        if packet == 4 {
            ops.push(Op::GapBegin(gap_begin(packet * 40)));
        }
        if packet == 6 {
            ops.push(Op::GapEnd(gap_end(packet * 40)));
        }
        for channel in 0..2 {
            ops.push(Op::Audio {
                channel,
                position: packet * 40,
                samples: tone(packet as usize * 40, 40),
            });
        }
    }
    write_with_frames(header, config(), &ops, 25, true)
}

fn original() -> (Vec<u8>, Vec<Vec<u8>>, Recording) {
    let (blob, chunks) = small(header(Codec::Pcma, 1));
    let recording = open(&blob, &data_key()).expect("the original opens");
    assert_eq!(recording.state, RecordingState::Complete);
    assert!(frame_spans(&chunks).len() >= 3, "several segments");
    (blob, chunks, recording)
}

/// The invariant every damaged blob must keep.
fn assert_detected(damaged: &[u8], original: &Recording, what: &str) {
    let verdict = verify(damaged, &node_key().public_key()).verdict;
    assert!(
        !matches!(verdict, Verdict::Complete { .. }),
        "{what}: verify said complete"
    );
    if let Ok(read) = open(damaged, &data_key()) {
        assert!(
            original.records.starts_with(&read.records),
            "{what}: records are not a prefix of the original's"
        );
        assert!(
            read.state != RecordingState::Complete || read.records == original.records,
            "{what}: complete with other records"
        );
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let (blob, _, recording) = original();
    for bit in 0..blob.len() * 8 {
        let mut damaged = blob.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert_detected(&damaged, &recording, &format!("bit {bit}"));
    }
}

#[test]
fn truncation_at_every_offset_is_detected() {
    let (blob, chunks, recording) = original();
    let frame_ends: Vec<usize> = frame_spans(&chunks).iter().map(|span| span.1).collect();
    for cut in 0..blob.len() {
        let damaged = &blob[..cut];
        assert_detected(damaged, &recording, &format!("cut at {cut}"));
        if frame_ends.contains(&cut) || cut == chunks[0].len() {
            let read = open(damaged, &data_key()).expect("a clean cut opens");
            assert_eq!(read.state, RecordingState::Unsealed, "cut at {cut}");
        }
    }
}

fn rebuild(blob: &[u8], chunks: &[Vec<u8>], frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = chunks[0].clone();
    for frame in frames {
        out.extend_from_slice(frame);
    }
    out.extend_from_slice(&blob[blob.len() - herald_recorder::TRAILER_LEN..]);
    out
}

fn frames_of(blob: &[u8], chunks: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frame_spans(chunks)
        .iter()
        .map(|&(start, end)| blob[start..end].to_vec())
        .collect()
}

fn renumber(frames: &mut [Vec<u8>]) {
    for (index, frame) in frames.iter_mut().enumerate() {
        frame[1..5].copy_from_slice(&(index as u32).to_be_bytes());
    }
}

#[test]
fn reordered_dropped_and_duplicated_segments_are_detected() {
    let (blob, chunks, recording) = original();
    let frames = frames_of(&blob, &chunks);
    let n = frames.len();
    for i in 0..n {
        for j in i + 1..n {
            let mut swapped = frames.clone();
            swapped.swap(i, j);
            assert_detected(&rebuild(&blob, &chunks, &swapped), &recording, "swap");
            renumber(&mut swapped);
            let damaged = rebuild(&blob, &chunks, &swapped);
            assert_detected(&damaged, &recording, "swap, renumbered");
            assert!(matches!(
                open(&damaged, &data_key()),
                Err(ReadError::SegmentRejected { index }) if index == i as u32
            ));
        }
        let mut dropped = frames.clone();
        dropped.remove(i);
        assert_detected(&rebuild(&blob, &chunks, &dropped), &recording, "drop");
        renumber(&mut dropped);
        assert_detected(
            &rebuild(&blob, &chunks, &dropped),
            &recording,
            "drop, renumbered",
        );
        let mut duplicated = frames.clone();
        duplicated.insert(i, frames[i].clone());
        assert_detected(
            &rebuild(&blob, &chunks, &duplicated),
            &recording,
            "duplicate",
        );
        renumber(&mut duplicated);
        assert_detected(
            &rebuild(&blob, &chunks, &duplicated),
            &recording,
            "dup, renumbered",
        );
    }
}

#[test]
fn a_segment_from_another_recording_with_the_same_key_is_rejected() {
    let (blob, chunks, recording) = original();
    let frames = frames_of(&blob, &chunks);
    let mut same_id_other_start = header(Codec::Pcma, 1);
    same_id_other_start.start_unix_ms += 1;
    for other_header in [header(Codec::Pcma, 2), same_id_other_start] {
        let (other_blob, other_chunks) = small(other_header);
        let other_frames = frames_of(&other_blob, &other_chunks);
        for i in 0..frames.len().min(other_frames.len()) {
            let mut mixed = frames.clone();
            mixed[i] = other_frames[i].clone();
            let damaged = rebuild(&blob, &chunks, &mixed);
            assert_detected(&damaged, &recording, "transplant");
            assert_eq!(
                open(&damaged, &data_key()),
                Err(ReadError::SegmentRejected { index: i as u32 })
            );
            assert!(matches!(
                verify(&damaged, &node_key().public_key()).verdict,
                Verdict::Damaged {
                    defect: Defect::DigestMismatch | Defect::SegmentCountMismatch { .. },
                    ..
                }
            ));
        }
    }
}

#[test]
fn wrong_data_key_and_trailing_junk_are_refused() {
    let (blob, _, _) = original();
    let wrong = herald_recorder::DataKey::from_bytes([0x43; 32]);
    assert_eq!(
        open(&blob, &wrong),
        Err(ReadError::SegmentRejected { index: 0 })
    );
    let mut junk = blob.clone();
    junk.push(0);
    assert!(matches!(
        open(&junk, &data_key()),
        Err(ReadError::Damaged { defect: Defect::TrailingBytes, offset }) if offset == blob.len() as u64
    ));
    let mut v2 = blob.clone();
    v2[10] = 2;
    assert_eq!(
        open(&v2, &data_key()),
        Err(ReadError::UnsupportedVersion { version: 2 })
    );
    assert!(matches!(
        verify(b"not a recording", &node_key().public_key()).verdict,
        Verdict::Damaged {
            offset: 0,
            defect: Defect::Header(_)
        }
    ));
}
