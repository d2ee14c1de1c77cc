//! A client and a server transaction table talking over a seeded network that loses,
//! duplicates and reorders, in virtual time.
//!
//! Property: whatever the network does, the pair converges. The client TU sees the server's
//! final status or a timeout (never another status, never both); the server TU sees the
//! request at most once; every transaction terminates; no call panics; and each table's
//! `poll_timeout` is always the minimum deadline of its transactions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Clock, Msg, ms};
use crate::transaction::{
    Output, Reliability, RequestIdentity, Retransmit2xx, Retransmit2xxOutput, Retransmit2xxState,
    TimerConfig, TransactionId, TransactionKey, TransactionKind, Transactions,
};

#[derive(Clone, Copy, Debug)]
struct Scenario {
    seed: u64,
    kind: TransactionKind,
    reliability: Reliability,
    provisional: Option<u16>,
    final_status: u16,
    tu_delay: Duration,
    loss: f64,
    duplicate: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Client,
    Server,
}

/// What the client TU ended up with.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Final(u16),
    Timeout,
}

/// Messages in flight, delivered in (time, send order).
struct Network {
    rng: ChaCha8Rng,
    reliability: Reliability,
    loss: f64,
    duplicate: f64,
    in_flight: BTreeMap<(Instant, u64), (Side, Msg)>,
    sent: u64,
}

impl Network {
    fn send(&mut self, now: Instant, to: Side, msg: Msg) {
        let copies = match self.reliability {
            Reliability::Reliable => 1,
            Reliability::Unreliable if self.rng.random_bool(self.loss) => 0,
            Reliability::Unreliable if self.rng.random_bool(self.duplicate) => 2,
            Reliability::Unreliable => 1,
        };
        for _ in 0..copies {
            let delay = match self.reliability {
                // In order: a stream transport.
                Reliability::Reliable => ms(20),
                Reliability::Unreliable => ms(self.rng.random_range(1..=200)),
            };
            self.sent += 1;
            self.in_flight
                .insert((now + delay, self.sent), (to, msg.clone()));
        }
    }
}

/// The server TU's plan: respond at these times.
struct ServerTu {
    plan: BTreeMap<Instant, u16>,
    transaction: Option<TransactionId>,
    requests_seen: u32,
    core: Option<Retransmit2xx<Msg>>,
}

struct Sim {
    scenario: Scenario,
    clock: Clock,
    net: Network,
    client: Transactions<Msg>,
    server: Transactions<Msg>,
    client_key: TransactionKey,
    server_key: TransactionKey,
    outcome: Outcome,
    finals_seen: Vec<u16>,
    /// When the client TU gives up on an INVITE stuck in Proceeding (it "sends a CANCEL").
    give_up_at: Option<Instant>,
    tu: ServerTu,
}

impl Sim {
    fn new(scenario: Scenario) -> Self {
        let clock = Clock::new();
        let method = match scenario.kind {
            TransactionKind::Invite => "INVITE",
            TransactionKind::NonInvite => "OPTIONS",
        };
        let identity = RequestIdentity {
            method,
            branch: Some("z9hG4bKlossy"),
            sent_by_host: "192.0.2.7",
            sent_by_port: 5060,
            request_uri: "sip:ivr@example.com",
            call_id: "lossy",
            from_tag: Some("f"),
            to_tag: None,
            cseq: 1,
            top_via: "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKlossy",
        };
        let give_up_at = Some(clock.at(ms(40_000)));
        Self {
            net: Network {
                rng: ChaCha8Rng::seed_from_u64(scenario.seed),
                reliability: scenario.reliability,
                loss: scenario.loss,
                duplicate: scenario.duplicate,
                in_flight: BTreeMap::new(),
                sent: 0,
            },
            clock,
            client: Transactions::new(TimerConfig::default()),
            server: Transactions::new(TimerConfig::default()),
            client_key: TransactionKey::client("z9hG4bKlossy", method),
            server_key: TransactionKey::server(&identity),
            outcome: Outcome::Pending,
            finals_seen: Vec::new(),
            give_up_at,
            tu: ServerTu {
                plan: BTreeMap::new(),
                transaction: None,
                requests_seen: 0,
                core: None,
            },
            scenario,
        }
    }

    fn run(&mut self) {
        let s = self.scenario;
        let now = self.clock.now;
        let key = self.client_key.clone();
        self.client
            .start_client(key, s.kind, Msg::Request, s.reliability, now)
            .expect("empty table");
        for step in 0.. {
            assert!(step < 100_000, "no convergence: {s:?}");
            self.drain_outputs();
            self.check_tables();
            let Some(next) = self.next_event() else { break };
            let now = self.clock.advance_to(next);
            self.step(now);
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let give_up = self.give_up_at.filter(|_| !self.client.is_empty());
        [
            self.net.in_flight.keys().next().map(|&(at, _)| at),
            self.client.poll_timeout(),
            self.server.poll_timeout(),
            self.tu.plan.keys().next().copied(),
            self.tu.core.as_ref().and_then(Retransmit2xx::poll_timeout),
            give_up,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn step(&mut self, now: Instant) {
        if let Some(entry) = self.net.in_flight.first_entry()
            && entry.key().0 <= now
        {
            let (side, msg) = entry.remove();
            return self.deliver(side, msg, now);
        }
        if let Some(entry) = self.tu.plan.first_entry()
            && *entry.key() <= now
        {
            let status = entry.remove();
            return self.server_tu_responds(status, now);
        }
        if self.give_up_at.is_some_and(|at| at <= now) {
            self.give_up_at = None;
            if let Some(id) = self.client.find(&self.client_key) {
                self.client
                    .handle_cancel_sent(id, now)
                    .expect("a client transaction");
            }
        }
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        if let Some(core) = &mut self.tu.core {
            core.handle_timeout(now);
        }
    }

    fn deliver(&mut self, side: Side, msg: Msg, now: Instant) {
        match (side, msg) {
            (Side::Client, Msg::Response(status)) => {
                let key = self.client_key.clone();
                let _stray = self
                    .client
                    .handle_response(&key, status, Msg::Response(status), now);
            }
            (Side::Server, Msg::Request) => {
                if self.server.handle_request(&self.server_key, now).is_none() {
                    self.server_tu_receives(now);
                }
            }
            (Side::Server, Msg::Ack) => match &mut self.tu.core {
                // An ACK for a 2xx is the dialog layer's.
                Some(core) => {
                    core.handle_ack(now);
                }
                None => {
                    let _late = self.server.handle_ack(&self.server_key, Msg::Ack, now);
                }
            },
            (side, msg) => panic!("{msg:?} misrouted to {side:?}"),
        }
    }

    fn server_tu_receives(&mut self, now: Instant) {
        let s = self.scenario;
        self.tu.requests_seen += 1;
        let key = self.server_key.clone();
        let id = self
            .server
            .start_server(key, s.kind, s.reliability, now)
            .expect("new request");
        self.tu.transaction = Some(id);
        if let Some(status) = s.provisional {
            self.tu.plan.insert(now + s.tu_delay / 2, status);
        }
        self.tu
            .plan
            .insert(now + s.tu_delay + ms(1), s.final_status);
    }

    fn server_tu_responds(&mut self, status: u16, now: Instant) {
        let id = self
            .tu
            .transaction
            .expect("the TU responds to a request it saw");
        self.server
            .respond(id, status, Msg::Response(status), now)
            .expect("a transaction waiting for the TU has no timer to end it");
        if self.scenario.kind == TransactionKind::Invite && (200..300).contains(&status) {
            let core = Retransmit2xx::new(Msg::Response(status), TimerConfig::default(), now);
            self.tu.core = Some(core);
        }
    }

    fn drain_outputs(&mut self) {
        let now = self.clock.now;
        while let Some((id, output)) = self.client.poll_output() {
            match output {
                Output::Transmit(msg) => self.net.send(now, Side::Server, msg),
                Output::Response { status, .. } if status >= 200 => {
                    self.finals_seen.push(status);
                    if self.outcome == Outcome::Pending {
                        self.outcome = Outcome::Final(status);
                    }
                    // The UAC core ACKs every 2xx itself (RFC 3261 §13.2.2.4).
                    if self.scenario.kind == TransactionKind::Invite && status < 300 {
                        self.net.send(now, Side::Server, Msg::Ack);
                    }
                }
                Output::BuildAck { .. } => self.client.set_ack(id, Msg::Ack).expect("asked"),
                Output::Timeout => {
                    assert_eq!(self.outcome, Outcome::Pending, "final and timeout");
                    self.outcome = Outcome::Timeout;
                }
                Output::Response { .. } | Output::Terminated => {}
                Output::Ack(_) | Output::TransportError => panic!("unexpected {output:?}"),
            }
        }
        while let Some((_, output)) = self.server.poll_output() {
            match output {
                Output::Transmit(msg) => self.net.send(now, Side::Client, msg),
                Output::Timeout | Output::Terminated | Output::Ack(_) => {}
                other => panic!("server produced {other:?}"),
            }
        }
        if let Some(core) = &mut self.tu.core {
            while let Some(output) = core.poll_output() {
                if let Retransmit2xxOutput::Transmit(msg) = output {
                    self.net.send(now, Side::Client, msg);
                }
            }
        }
    }

    fn check_tables(&self) {
        for table in [&self.client, &self.server] {
            assert_eq!(table.poll_timeout(), table.scanned_min_deadline());
            assert!(table.deadline_set_is_exact());
        }
    }

    fn check_converged(&self) {
        let s = self.scenario;
        assert!(
            self.client.is_empty() && self.server.is_empty(),
            "all terminated: {s:?}"
        );
        assert!(
            self.tu.requests_seen <= 1,
            "retransmission reached the TU: {s:?}"
        );
        match self.outcome {
            Outcome::Final(status) => assert_eq!(status, s.final_status, "{s:?}"),
            Outcome::Timeout => assert!(s.loss > 0.0, "timeout without loss: {s:?}"),
            Outcome::Pending => panic!("the client TU heard nothing: {s:?}"),
        }
        assert!(
            self.finals_seen
                .iter()
                .all(|&status| status == s.final_status)
        );
        if s.kind == TransactionKind::NonInvite || s.final_status >= 300 {
            assert!(
                self.finals_seen.len() <= 1,
                "retransmitted final reached the TU: {s:?}"
            );
        }
        if let Some(core) = &self.tu.core {
            assert_ne!(core.state(), Retransmit2xxState::Waiting);
        }
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::option::of(prop::sample::select(vec![100u16, 180, 183])),
        prop::sample::select(vec![200u16, 202, 302, 404, 486, 503, 603]),
        0u64..6_000,
        prop::sample::select(vec![0.0, 0.1, 0.3, 0.6]),
        prop::sample::select(vec![0.0, 0.2, 0.5]),
    )
        .prop_map(
            |(seed, invite, unreliable, provisional, final_status, delay, loss, duplicate)| {
                Scenario {
                    seed,
                    kind: if invite {
                        TransactionKind::Invite
                    } else {
                        TransactionKind::NonInvite
                    },
                    reliability: if unreliable {
                        Reliability::Unreliable
                    } else {
                        Reliability::Reliable
                    },
                    provisional,
                    final_status,
                    tu_delay: ms(delay),
                    loss,
                    duplicate,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn client_and_server_converge_over_a_lossy_network(s in scenario()) {
        let mut sim = Sim::new(s);
        sim.run();
        sim.check_converged();
    }
}

/// The same property over many consecutive seeds at a high loss rate, where timeouts are
/// common: timeouts must never be mixed with a final status.
#[test]
fn converges_for_many_seeds_at_high_loss() {
    let mut timeouts = 0;
    for seed in 0..500 {
        let s = Scenario {
            seed,
            kind: if seed % 2 == 0 {
                TransactionKind::Invite
            } else {
                TransactionKind::NonInvite
            },
            reliability: Reliability::Unreliable,
            provisional: (seed % 3 == 0).then_some(180),
            final_status: [200, 486][(seed as usize / 2) % 2],
            tu_delay: ms(seed * 13 % 4_000),
            loss: 0.7,
            duplicate: 0.3,
        };
        let mut sim = Sim::new(s);
        sim.run();
        sim.check_converged();
        timeouts += usize::from(sim.outcome == Outcome::Timeout);
    }
    assert!(
        timeouts > 0,
        "70% loss should make some transactions time out"
    );
}
