//! `sip_parse`: Herald's SIP parser on three typical messages, with `rsip` 0.4 on the same bytes
//! in the same run as the baseline (`rsip::SipMessage::try_from(&[u8])`).
//!
//! Both parse the start line and split the header section into (name, value) pairs, keeping
//! header values as text for typed parsing on demand; Herald also unfolds continuation lines,
//! expands compact names and checks Content-Length framing. The ratio is in docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald_benches::PARSE_INPUTS;
use herald_sip::message::{Framing, parse_message};
use std::hint::black_box;

fn sip_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sip_parse");
    for (name, bytes) in PARSE_INPUTS {
        // Both parsers must accept the input, or the comparison means nothing.
        assert!(
            parse_message(bytes, Framing::Datagram).is_ok(),
            "herald rejects {name}"
        );
        assert!(
            rsip::SipMessage::try_from(bytes).is_ok(),
            "rsip rejects {name}"
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("herald", name), bytes, |b, bytes| {
            b.iter(|| parse_message(black_box(bytes), Framing::Datagram))
        });
        group.bench_with_input(BenchmarkId::new("rsip", name), bytes, |b, bytes| {
            b.iter(|| rsip::SipMessage::try_from(black_box(bytes)))
        });
    }
    group.finish();
}

criterion_group!(benches, sip_parse);
criterion_main!(benches);
