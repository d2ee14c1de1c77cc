//! `endpoint_call`: one whole call through `herald_sip::endpoint::Endpoint`, the code path of
//! `herald serve` minus sockets, SDP negotiation and the database: INVITE (with SDP) in,
//! 100 Trying and 200 OK out (the application answers at once with a fixed SDP), ACK in,
//! BYE in, 200 OK out. The messages are SIPp's `sipp-uac.xml` (built before timing).
//!
//! Virtual time advances 1 ms per call and due timers fire, so the endpoint is in the steady
//! state of a 1,000 calls/s load: about 32 s x 1,000 = 32,000 finished INVITE transactions
//! waiting for Timer L and as many BYE transactions waiting for Timer J, expiring as new
//! calls arrive. The per-call time includes finding the To tag in the 200 OK (a byte search,
//! the caller's side) and the expiry of the transactions of earlier calls.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_benches::{CallBench, CallScript};

const SCRIPTS: u64 = 1024;
const WARM_CALLS: u64 = 40_000;

fn endpoint_call(c: &mut Criterion) {
    let mut bench = CallBench::new(Instant::now());
    let mut n = 0u64;
    // Reach the steady state before measuring (more than 64*T1 of virtual time).
    for _ in 0..WARM_CALLS {
        assert!(bench.call(&CallScript::new(n)), "call {n} was not answered");
        n += 1;
        bench.advance(Duration::from_millis(1));
    }
    let mut group = c.benchmark_group("endpoint_call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("invite_200_ack_bye", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(SCRIPTS);
                left -= batch;
                let scripts: Vec<CallScript> = (0..batch).map(|k| CallScript::new(n + k)).collect();
                n += batch;
                let start = Instant::now();
                for script in &scripts {
                    assert!(bench.call(script), "a call was not answered");
                    bench.advance(Duration::from_millis(1));
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
    let stats = bench.endpoint.stats();
    assert_eq!(stats.calls, 0, "calls left over: {stats:?}");
    println!(
        "endpoint_call: steady state {stats:?}, {} calls ended",
        bench.completed
    );
}

criterion_group!(benches, endpoint_call);
criterion_main!(benches);
