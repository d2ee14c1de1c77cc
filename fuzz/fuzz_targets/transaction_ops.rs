//! The transaction table (`Transactions<u32>`) driven by an arbitrary sequence of operations in
//! virtual time: client and server transactions of both kinds over reliable and unreliable
//! transports, responses with arbitrary status codes, request retransmissions, ACKs, CANCEL
//! guards, transport errors, TU responses, `set_ack`, removals, and time that jumps by
//! arbitrary steps or to the next deadline.
//!
//! Asserts, after every operation:
//! * no panic;
//! * `poll_timeout` is never before the last `now` given to `handle_timeout` (a zero timer
//!   makes it equal);
//! * one `handle_timeout` sends at most one message per transaction (late calls do not burst);
//! * the table never holds more transactions than were started, and exactly
//!   `started - terminated - removed` of them;
//! * `Terminated` is the last output of a transaction, after which the table has forgotten it;
//! * `BuildAck` only for 300-699 to a client INVITE, `Response` only with a valid status, `Ack`
//!   only from a server INVITE.

#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use herald_sip::transaction::{
    Output, Reliability, RequestIdentity, TimerConfig, TransactionId, TransactionKey,
    TransactionKind, Transactions,
};
use libfuzzer_sys::fuzz_target;

/// An operation on the table. Branch numbers are small so that keys collide often.
#[derive(Arbitrary, Debug)]
enum Op {
    StartClient {
        invite: bool,
        reliable: bool,
        branch: u8,
    },
    StartServer {
        method: ServerMethod,
        reliable: bool,
        branch: u8,
    },
    /// A response for the client transaction with this branch.
    Response {
        invite: bool,
        branch: u8,
        status: Status,
    },
    /// The request of a server transaction arrives again.
    Retransmission {
        method: ServerMethod,
        branch: u8,
    },
    /// An ACK for the INVITE server transaction with this branch.
    Ack {
        branch: u8,
    },
    /// The TU responds on the n-th transaction started.
    Respond {
        tx: u8,
        status: Status,
    },
    /// The caller answers `BuildAck` for the n-th transaction started.
    SetAck {
        tx: u8,
    },
    CancelSent {
        tx: u8,
    },
    TransportError {
        tx: u8,
    },
    Remove {
        tx: u8,
    },
    /// Advance virtual time and fire what is due.
    Advance {
        millis: u16,
    },
    /// Jump to the next deadline (plus a few milliseconds) and fire it.
    AdvanceToDeadline {
        late_millis: u8,
    },
    /// Advance time without firing timers (the caller is late).
    Sleep {
        millis: u16,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ServerMethod {
    Invite,
    Options,
    Bye,
    Cancel,
}

impl ServerMethod {
    fn as_str(self) -> &'static str {
        match self {
            ServerMethod::Invite => "INVITE",
            ServerMethod::Options => "OPTIONS",
            ServerMethod::Bye => "BYE",
            ServerMethod::Cancel => "CANCEL",
        }
    }
}

/// Mostly valid status codes, sometimes any `u16`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Status {
    Valid(u16),
    Raw(u16),
}

impl Status {
    fn code(self) -> u16 {
        match self {
            Status::Valid(n) => 100 + n % 600,
            Status::Raw(n) => n,
        }
    }
}

fn branch(n: u8) -> String {
    format!("z9hG4bK{}", n % 8)
}

fn client_key(invite: bool, n: u8) -> TransactionKey {
    TransactionKey::client(&branch(n), if invite { "INVITE" } else { "OPTIONS" })
}

fn server_key(method: &str, n: u8) -> TransactionKey {
    let branch = branch(n);
    TransactionKey::server(&RequestIdentity {
        method,
        branch: Some(&branch),
        sent_by_host: "peer.example",
        sent_by_port: 5060,
        request_uri: "sip:herald@example.com",
        call_id: "call",
        from_tag: Some("from"),
        to_tag: None,
        cseq: 1,
        top_via: "SIP/2.0/UDP peer.example",
    })
}

fn reliability(reliable: bool) -> Reliability {
    if reliable {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

/// What the harness knows about each transaction it started.
#[derive(Clone, Copy)]
struct Started {
    id: TransactionId,
    client: bool,
    invite: bool,
}

struct Harness {
    table: Transactions<u32>,
    now: Instant,
    last_handled: Instant,
    started: Vec<Started>,
    info: HashMap<TransactionId, Started>,
    /// Transactions that output `Terminated` or were removed: they must stay silent.
    gone: HashSet<TransactionId>,
    terminated: usize,
    removed: usize,
    next_message: u32,
}

impl Harness {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            table: Transactions::new(TimerConfig::default()),
            now,
            last_handled: now,
            started: Vec::new(),
            info: HashMap::new(),
            gone: HashSet::new(),
            terminated: 0,
            removed: 0,
            next_message: 0,
        }
    }

    fn message(&mut self) -> u32 {
        self.next_message += 1;
        self.next_message
    }

    fn nth(&self, n: u8) -> Option<TransactionId> {
        if self.started.is_empty() {
            return None;
        }
        Some(self.started[usize::from(n) % self.started.len()].id)
    }

    fn record(
        &mut self,
        result: Result<TransactionId, impl std::fmt::Debug>,
        client: bool,
        invite: bool,
    ) {
        if let Ok(id) = result {
            assert!(
                !self.info.contains_key(&id),
                "a live id was handed out again"
            );
            let started = Started { id, client, invite };
            self.started.push(started);
            self.info.insert(id, started);
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match *op {
            Op::StartClient {
                invite,
                reliable,
                branch,
            } => {
                let kind = if invite {
                    TransactionKind::Invite
                } else {
                    TransactionKind::NonInvite
                };
                let request = self.message();
                let key = client_key(invite, branch);
                let result =
                    self.table
                        .start_client(key, kind, request, reliability(reliable), now);
                self.record(result, true, invite);
            }
            Op::StartServer {
                method,
                reliable,
                branch,
            } => {
                let kind = TransactionKind::for_method(method.as_str());
                let key = server_key(method.as_str(), branch);
                let result = self
                    .table
                    .start_server(key, kind, reliability(reliable), now);
                self.record(result, false, matches!(method, ServerMethod::Invite));
            }
            Op::Response {
                invite,
                branch,
                status,
            } => {
                let response = self.message();
                let _ = self.table.handle_response(
                    &client_key(invite, branch),
                    status.code(),
                    response,
                    now,
                );
            }
            Op::Retransmission { method, branch } => {
                let _ = self
                    .table
                    .handle_request(&server_key(method.as_str(), branch), now);
            }
            Op::Ack { branch } => {
                let ack = self.message();
                let _ = self.table.handle_ack(&server_key("ACK", branch), ack, now);
            }
            Op::Respond { tx, status } => {
                if let Some(id) = self.nth(tx) {
                    let response = self.message();
                    let _ = self.table.respond(id, status.code(), response, now);
                }
            }
            Op::SetAck { tx } => {
                if let Some(id) = self.nth(tx) {
                    let ack = self.message();
                    let _ = self.table.set_ack(id, ack);
                }
            }
            Op::CancelSent { tx } => {
                if let Some(id) = self.nth(tx) {
                    let _ = self.table.handle_cancel_sent(id, now);
                }
            }
            Op::TransportError { tx } => {
                if let Some(id) = self.nth(tx) {
                    let _ = self.table.handle_transport_error(id, now);
                }
            }
            Op::Remove { tx } => {
                if let Some(id) = self.nth(tx)
                    && self.table.remove(id)
                {
                    assert!(self.gone.insert(id), "removed a transaction that was gone");
                    self.removed += 1;
                }
            }
            Op::Advance { millis } => self.advance(Duration::from_millis(u64::from(millis))),
            Op::AdvanceToDeadline { late_millis } => {
                let step = match self.table.poll_timeout() {
                    Some(at) => at.saturating_duration_since(self.now),
                    None => Duration::ZERO,
                };
                self.advance(step + Duration::from_millis(u64::from(late_millis % 8)));
            }
            Op::Sleep { millis } => self.now += Duration::from_millis(u64::from(millis)),
        }
    }

    fn advance(&mut self, step: Duration) {
        self.drain(); // so that the count below only sees what the timers produce
        self.now += step;
        self.table.handle_timeout(self.now);
        self.last_handled = self.now;
        let sent = self.drain();
        for (id, count) in sent {
            assert!(
                count <= 1,
                "one handle_timeout sent {count} messages for {id:?}"
            );
        }
    }

    /// Drains the outputs, checks each, and returns how many messages each transaction sent.
    fn drain(&mut self) -> HashMap<TransactionId, usize> {
        let mut sent = HashMap::new();
        while let Some((id, output)) = self.table.poll_output() {
            assert!(
                !self.gone.contains(&id),
                "{output:?} after Terminated for {id:?}"
            );
            let info = self.info.get(&id).copied();
            let info = info.unwrap_or_else(|| panic!("output {output:?} for an id never started"));
            match output {
                Output::Transmit(_) => *sent.entry(id).or_insert(0) += 1,
                Output::Response { status, .. } => {
                    assert!(info.client, "Response from a server transaction");
                    assert!(
                        (100..=699).contains(&status),
                        "Response with status {status}"
                    );
                }
                Output::BuildAck { status, .. } => {
                    assert!(
                        info.client && info.invite,
                        "BuildAck from a non-INVITE-client"
                    );
                    assert!(
                        (300..=699).contains(&status),
                        "BuildAck for status {status}"
                    );
                }
                Output::Ack(_) => {
                    assert!(!info.client && info.invite, "Ack from a non-INVITE-server")
                }
                Output::Timeout | Output::TransportError => {}
                Output::Terminated => {
                    self.gone.insert(id);
                    self.terminated += 1;
                    assert!(
                        self.table.key(id).is_none(),
                        "a terminated transaction is still in the table"
                    );
                }
            }
        }
        sent
    }

    fn check(&self) {
        if let Some(at) = self.table.poll_timeout() {
            assert!(
                at >= self.last_handled,
                "poll_timeout is {:?} before the last handled now",
                self.last_handled - at
            );
        }
        let started = self.started.len();
        let live = self.table.len();
        assert!(
            live <= started,
            "{live} live transactions but only {started} started"
        );
        assert_eq!(
            live,
            started - self.terminated - self.removed,
            "live = started - terminated - removed"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let mut harness = Harness::new();
    let mut ops = 0;
    while !input.is_empty() && ops < 256 {
        let Ok(op) = Op::arbitrary(&mut input) else {
            break;
        };
        harness.apply(&op);
        harness.drain();
        harness.check();
        ops += 1;
    }
    // Let every timer run out: each transaction that has one must terminate eventually.
    for _ in 0..64 {
        if harness.table.poll_timeout().is_none() {
            break;
        }
        harness.apply(&Op::AdvanceToDeadline { late_millis: 0 });
        harness.check();
    }
});
