//! Where a live session's memory goes: the process's resident set, the bytes Rust code holds
//! on the heap, and (from the interpreter) the bytes of its QuickJS heap.
//!
//! QuickJS allocates with libc `malloc` (rquickjs without its `rust-alloc` feature), not
//! through Rust's global allocator, so the counting allocator below sees exactly the Rust-side
//! state (interpreter, collected grammars, output queues, the shared documents) and none of
//! the script heaps.

#![allow(unsafe_code)] // A `GlobalAlloc` is unsafe to implement; it only forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Forwards to the system allocator and keeps the live byte count of Rust allocations.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards the caller's arguments unchanged to `System`, which upholds
// the `GlobalAlloc` contract; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(signed(new_size) - signed(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes Rust code holds on the heap now.
pub fn rust_heap() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The process's resident set (VmRSS), in bytes.
pub fn rss() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

/// Memory before and after creating N live things, as one child process measured it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Footprint {
    pub count: usize,
    pub rss_before: u64,
    pub rss_after: u64,
    pub rust_before: isize,
    pub rust_after: isize,
    /// Sum of the script heaps (`Interpreter::script_memory`, or the bare runtimes' own).
    pub script: u64,
}

impl Footprint {
    /// One line for the parent process to read back.
    pub fn to_line(self) -> String {
        format!(
            "FOOTPRINT {} {} {} {} {} {}",
            self.count,
            self.rss_before,
            self.rss_after,
            self.rust_before,
            self.rust_after,
            self.script
        )
    }

    pub fn from_output(text: &str) -> Option<Self> {
        let line = text.lines().find_map(|l| l.strip_prefix("FOOTPRINT "))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        Some(Self {
            count: f.first()?.parse().ok()?,
            rss_before: f.get(1)?.parse().ok()?,
            rss_after: f.get(2)?.parse().ok()?,
            rust_before: f.get(3)?.parse().ok()?,
            rust_after: f.get(4)?.parse().ok()?,
            script: f.get(5)?.parse().ok()?,
        })
    }

    pub fn rss_per(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.count.max(1) as f64
    }

    pub fn rust_per(&self) -> f64 {
        (self.rust_after - self.rust_before) as f64 / self.count.max(1) as f64
    }

    pub fn script_per(&self) -> f64 {
        self.script as f64 / self.count.max(1) as f64
    }
}
