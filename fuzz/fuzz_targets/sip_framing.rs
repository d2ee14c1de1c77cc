//! The TCP/TLS stream framer, fed the same bytes in one piece and cut at arbitrary points.
//!
//! Input layout: `[limit_hi, limit_lo, n, size_1 .. size_n, stream ..]`. The framer's limit is
//! `64 + u16(limit) % 8192`; the stream is pushed in chunks of `size_i + 1` bytes, cycling
//! through the sizes (one byte at a time when `n` is 0). A plain SIP message is a fine seed:
//! its first bytes just become the parameters.
//!
//! Asserts, after every push and drain:
//! * the frames (messages and keep-alive pings), whether the stream ended in an error, and
//!   what stays buffered at the end do not depend on how the stream was cut;
//! * the framer never holds more than its limit once it asks for more bytes (`Ok(None)`), and
//!   never returns a message larger than its limit.

#![no_main]

use herald_sip::framing::{Frame, StreamFramer};
use libfuzzer_sys::fuzz_target;

/// What a framer made of a stream.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Frame>,
    failed: bool,
    /// Bytes still buffered at the end (only compared when no error closed the stream).
    buffered: usize,
}

fuzz_target!(|data: &[u8]| {
    let Some((params, rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let limit = 64 + usize::from(u16::from_be_bytes([params[0], params[1]]) % 8192);
    let n = usize::from(params[2] % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(n);

    let whole = run(limit, std::iter::once(stream));
    let cut = run(limit, chunks(stream, sizes));
    assert_eq!(
        cut.failed, whole.failed,
        "error depends on the cut: {cut:?} vs {whole:?}"
    );
    assert_eq!(cut.frames, whole.frames, "frames depend on the cut");
    if !whole.failed {
        assert_eq!(cut.buffered, whole.buffered, "leftover depends on the cut");
    }
});

/// Cuts `stream` into chunks of `sizes[i] + 1` bytes, cycling; bytes of 1 when `sizes` is empty.
fn chunks<'a>(mut stream: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut next = sizes.iter().map(|&s| usize::from(s) + 1).cycle();
    std::iter::from_fn(move || {
        if stream.is_empty() {
            return None;
        }
        let len = next.next().unwrap_or(1).min(stream.len());
        let (chunk, rest) = stream.split_at(len);
        stream = rest;
        Some(chunk)
    })
}

fn run<'a>(limit: usize, pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut framer = StreamFramer::new(limit);
    let mut frames = Vec::new();
    for piece in pieces {
        framer.push(piece);
        loop {
            match framer.next_message() {
                Ok(Some(frame)) => {
                    if let Frame::Message(message) = &frame {
                        assert!(
                            message.len() <= limit,
                            "a {}-byte message over the {limit} limit",
                            message.len()
                        );
                    }
                    frames.push(frame);
                }
                Ok(None) => {
                    assert!(
                        framer.buffered() <= limit,
                        "{} bytes buffered over the {limit} limit",
                        framer.buffered()
                    );
                    break;
                }
                Err(_) => {
                    return Outcome {
                        frames,
                        failed: true,
                        buffered: framer.buffered(),
                    };
                }
            }
        }
    }
    Outcome {
        frames,
        failed: false,
        buffered: framer.buffered(),
    }
}
