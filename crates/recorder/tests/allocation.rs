//! The hot path does not allocate: once its buffers have grown, the writer takes a second of
//! stereo 8 kHz A-law in 20 ms packets without a single allocation, and sealing that second
//! costs a couple (the frame handed to the caller).
//!
//! Counted with a global allocator that counts only on the thread that asks for it.
#![allow(unsafe_code, reason = "a counting global allocator, in this test only")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use common::*;
use herald_recorder::{Codec, RecordingWriter, WriterConfig};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    work();
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn a_second_of_stereo_alaw_allocates_only_when_sealed() {
    let start = epoch();
    let mut writer =
        RecordingWriter::new(header(Codec::Pcma, 1), &data_key(), WriterConfig::default())
            .expect("writer");
    let packets: Vec<Vec<i16>> = (0..100).map(|packet| tone(packet * 160, 160)).collect();
    let second = |writer: &mut RecordingWriter, index: u64| {
        for (packet, samples) in packets.iter().enumerate().take(50) {
            let now = start + Duration::from_millis(index * 1000 + packet as u64 * 20);
            let position = index * 8000 + packet as u64 * 160;
            writer.audio(now, 0, position, samples).expect("audio");
            writer
                .audio(now, 1, position, &packets[50 + packet])
                .expect("audio");
        }
    };
    let drain = |writer: &mut RecordingWriter| while writer.poll_output().is_some() {};
    // Warm-up: buffers grow to a second of audio.
    second(&mut writer, 0);
    writer
        .handle_timeout(start + Duration::from_secs(1))
        .expect("seal");
    drain(&mut writer);

    let audio = allocations_during(|| second(&mut writer, 1));
    assert_eq!(audio, 0, "100 audio() calls allocated");
    let due = writer.poll_timeout().expect("a segment is open");
    let seal = allocations_during(|| writer.handle_timeout(due).expect("seal"));
    assert!(seal <= 2, "sealing allocated {seal} times");
    assert_eq!(writer.stats().segments, 2);
}
