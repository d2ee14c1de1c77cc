//! `transaction_step`: the RFC 3261 §17.2 server transaction table
//! (`herald_sip::transaction::Transactions`) per operation, with 10,000 other live INVITE
//! transactions in the table (a server in the middle of a load; they sit in `Proceeding`,
//! which has no timer, so only the measured transaction fires).
//!
//! * `invite_lifecycle`: start an INVITE server transaction, respond 100 and 200 (RFC 6026
//!   `Accepted`), look up the ACK (a 2xx's ACK has its own branch: no match, it goes to the
//!   dialog layer), fire Timer L (64*T1) in virtual time, drain every output: 5 operations,
//!   reported per operation (criterion throughput = 5 elements).
//! * `invite_rejected_lifecycle`: the same with 486: the ACK matches and confirms, Timer I
//!   ends it: 5 operations.
//! * `non_invite_lifecycle`: start a REGISTER/BYE transaction, respond 200, fire Timer J:
//!   3 operations.
//! * `retransmission_absorbed`: an INVITE retransmission matched to its live transaction,
//!   which re-sends its last provisional response: 1 operation.
//!
//! Keys are built before timing (hashing the key is part of every operation; building it from
//! a parsed message is the endpoint's work and is measured by `endpoint_call`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_sip::transaction::{
    Reliability, RequestIdentity, TimerConfig, TransactionKey, TransactionKind, Transactions,
};
use std::hint::black_box;

const BACKGROUND: usize = 10_000;
const KEYS: usize = 4096;

/// The server key of `method` on the branch `z9hG4bK-bench-{branch}-{n}`.
fn key(method: &str, branch: &str, n: usize) -> TransactionKey {
    let branch = format!("z9hG4bK-bench-{branch}-{n}");
    TransactionKey::server(&RequestIdentity {
        method,
        branch: Some(&branch),
        sent_by_host: "127.0.0.1",
        sent_by_port: 5091,
        request_uri: "sip:service@127.0.0.1:5060",
        call_id: "",
        from_tag: None,
        to_tag: None,
        cseq: 1,
        top_via: "",
    })
}

/// A table with `BACKGROUND` INVITE transactions in `Proceeding` (100 sent).
fn loaded_table(now: Instant) -> Transactions<Bytes> {
    let mut table = Transactions::new(TimerConfig::default());
    let trying = Bytes::from_static(b"SIP/2.0 100 Trying\r\n\r\n");
    for n in 0..BACKGROUND {
        let id = table
            .start_server(
                key("INVITE", "bg", n),
                TransactionKind::Invite,
                Reliability::Unreliable,
                now,
            )
            .expect("unique key");
        table
            .respond(id, 100, trying.clone(), now)
            .expect("100 allowed");
    }
    while table.poll_output().is_some() {}
    table
}

fn drain(table: &mut Transactions<Bytes>) -> usize {
    let mut n = 0;
    while let Some(out) = table.poll_output() {
        black_box(out);
        n += 1;
    }
    n
}

fn transaction_step(c: &mut Criterion) {
    let t0 = Instant::now();
    let timer_l = TimerConfig::default().transaction_timeout() + Duration::from_millis(1);
    let trying = Bytes::from_static(b"SIP/2.0 100 Trying\r\n\r\n");
    let ok = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
    let ack = Bytes::from_static(b"ACK sip:service@127.0.0.1 SIP/2.0\r\n\r\n");
    let mut group = c.benchmark_group("transaction_step");

    let invite_keys: Vec<_> = (0..KEYS).map(|n| key("INVITE", "inv", n)).collect();
    // The ACK for a 2xx is its own transaction (new branch): the table does not match it and
    // hands it back for the dialog layer (RFC 3261 §17.1.1.3, RFC 6026).
    let ack_2xx_keys: Vec<_> = (0..KEYS).map(|n| key("ACK", "ack", n)).collect();
    // The ACK for a non-2xx final response has the INVITE's branch and matches it.
    let rejected_keys: Vec<_> = (0..KEYS).map(|n| key("INVITE", "rej", n)).collect();
    let ack_non2xx_keys: Vec<_> = (0..KEYS).map(|n| key("ACK", "rej", n)).collect();
    let busy = Bytes::from_static(b"SIP/2.0 486 Busy Here\r\n\r\n");
    let mut table = loaded_table(t0);
    let mut i = 0usize;
    group.throughput(Throughput::Elements(5));
    group.bench_function("invite_lifecycle", |b| {
        b.iter(|| {
            let k = i % KEYS;
            i += 1;
            let id = table
                .start_server(
                    invite_keys[k].clone(),
                    TransactionKind::Invite,
                    Reliability::Unreliable,
                    t0,
                )
                .expect("key not live");
            table.respond(id, 100, trying.clone(), t0).expect("100");
            table.respond(id, 200, ok.clone(), t0).expect("200");
            let acked = table.handle_ack(&ack_2xx_keys[k], ack.clone(), t0);
            assert!(acked.is_err(), "the ACK of a 2xx matched a transaction");
            table.handle_timeout(t0 + timer_l);
            drain(&mut table)
        })
    });
    assert_eq!(
        table.len(),
        BACKGROUND,
        "a measured transaction outlived Timer L"
    );

    let timer_h = TimerConfig::default().transaction_timeout() + Duration::from_millis(1);
    group.bench_function("invite_rejected_lifecycle", |b| {
        b.iter(|| {
            let k = i % KEYS;
            i += 1;
            let id = table
                .start_server(
                    rejected_keys[k].clone(),
                    TransactionKind::Invite,
                    Reliability::Unreliable,
                    t0,
                )
                .expect("key not live");
            table.respond(id, 100, trying.clone(), t0).expect("100");
            table.respond(id, 486, busy.clone(), t0).expect("486");
            let acked = table.handle_ack(&ack_non2xx_keys[k], ack.clone(), t0);
            assert!(acked.is_ok(), "the ACK of a 486 did not match its INVITE");
            // Timer I (T4) ends it; Timer H is stopped by the ACK. Jump past both.
            table.handle_timeout(t0 + timer_h);
            drain(&mut table)
        })
    });
    assert_eq!(
        table.len(),
        BACKGROUND,
        "a rejected transaction outlived Timer I"
    );

    let bye_keys: Vec<_> = (0..KEYS).map(|n| key("BYE", "bye", n)).collect();
    let timer_j = TimerConfig::default().transaction_timeout() + Duration::from_millis(1);
    group.throughput(Throughput::Elements(3));
    group.bench_function("non_invite_lifecycle", |b| {
        b.iter(|| {
            let k = i % KEYS;
            i += 1;
            let id = table
                .start_server(
                    bye_keys[k].clone(),
                    TransactionKind::NonInvite,
                    Reliability::Unreliable,
                    t0,
                )
                .expect("key not live");
            table.respond(id, 200, ok.clone(), t0).expect("200");
            table.handle_timeout(t0 + timer_j);
            drain(&mut table)
        })
    });
    assert_eq!(
        table.len(),
        BACKGROUND,
        "a measured transaction outlived Timer J"
    );

    let retransmitted = key("INVITE", "bg", BACKGROUND / 2);
    group.throughput(Throughput::Elements(1));
    group.bench_function("retransmission_absorbed", |b| {
        b.iter(|| {
            let id = table.handle_request(black_box(&retransmitted), t0);
            assert!(id.is_some(), "retransmission not matched");
            drain(&mut table)
        })
    });
    group.finish();
}

criterion_group!(benches, transaction_step);
criterion_main!(benches);
