//! The transaction table: routing, removal and timer multiplexing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Clock, Msg, ms};
use crate::transaction::{
    InviteServerState, Output, Reliability, RequestIdentity, ServerState, TableError, TimerConfig,
    TransactionId, TransactionKey, TransactionKind, Transactions, UsageError,
};

fn identity(method: &'static str, branch: &'static str) -> RequestIdentity<'static> {
    RequestIdentity {
        method,
        branch: Some(branch),
        sent_by_host: "192.0.2.1",
        sent_by_port: 5060,
        request_uri: "sip:ivr@example.com",
        call_id: "a84b4c76e66710",
        from_tag: Some("1928301774"),
        to_tag: None,
        cseq: 314159,
        top_via: "SIP/2.0/UDP 192.0.2.1",
    }
}

fn drain(table: &mut Transactions<Msg>) -> Vec<(TransactionId, Output<Msg>)> {
    std::iter::from_fn(|| table.poll_output()).collect()
}

#[test]
fn server_requests_are_routed_absorbed_and_cancel_finds_its_invite() {
    let mut clock = Clock::new();
    let mut table = Transactions::new(TimerConfig::default());
    let key = TransactionKey::server(&identity("INVITE", "z9hG4bKa"));
    assert_eq!(table.handle_request(&key, clock.now), None, "new request");
    let id = table
        .start_server(
            key.clone(),
            TransactionKind::Invite,
            Reliability::Unreliable,
            clock.now,
        )
        .expect("fresh key");
    assert_eq!(
        table.start_server(
            key.clone(),
            TransactionKind::Invite,
            Reliability::Unreliable,
            clock.now
        ),
        Err(TableError::DuplicateKey)
    );
    table
        .respond(id, 180, Msg::Response(180), clock.set(ms(10)))
        .expect("1xx");
    assert_eq!(
        table.handle_request(&key, clock.set(ms(500))),
        Some(id),
        "retransmission"
    );
    assert_eq!(
        drain(&mut table),
        vec![
            (id, Output::Transmit(Msg::Response(180))),
            (id, Output::Transmit(Msg::Response(180)))
        ]
    );

    let cancel = TransactionKey::server(&identity("CANCEL", "z9hG4bKa"));
    assert_eq!(
        table.find(&cancel),
        None,
        "CANCEL is a transaction of its own"
    );
    assert_eq!(table.find_cancel_target(&cancel), Some(id));
    assert_eq!(table.find_cancel_target(&key), None);

    table
        .respond(id, 487, Msg::Response(487), clock.set(ms(600)))
        .expect("final");
    let ack_key = TransactionKey::server(&identity("ACK", "z9hG4bKa"));
    assert_eq!(
        table.handle_ack(&ack_key, Msg::Ack, clock.set(ms(700))),
        Ok(id)
    );
    let state = table.server(id).map(|tx| tx.state());
    assert_eq!(
        state,
        Some(ServerState::Invite(InviteServerState::Confirmed))
    );
    let stray_ack = TransactionKey::server(&identity("ACK", "z9hG4bKother"));
    assert_eq!(
        table.handle_ack(&stray_ack, Msg::Ack, clock.now),
        Err(Msg::Ack),
        "ACK for a 2xx"
    );
}

#[test]
fn outputs_are_tagged_and_terminated_transactions_are_removed() {
    let mut clock = Clock::new();
    let mut table = Transactions::new(TimerConfig::default());
    let key = TransactionKey::client("z9hG4bK1", "OPTIONS");
    let id = table
        .start_client(
            key.clone(),
            TransactionKind::NonInvite,
            Msg::Request,
            Reliability::Reliable,
            clock.now,
        )
        .expect("fresh key");
    assert_eq!(table.key(id), Some(&key));
    assert_eq!(table.client(id).map(|tx| tx.request()), Some(&Msg::Request));
    let now = clock.set(ms(20));
    assert_eq!(
        table.handle_response(&key, 200, Msg::Response(200), now),
        Ok(id)
    );
    assert_eq!(table.poll_timeout(), Some(now), "Timer K = 0 on reliable");
    table.handle_timeout(now);
    assert_eq!(
        drain(&mut table),
        vec![
            (id, Output::Transmit(Msg::Request)),
            (
                id,
                Output::Response {
                    status: 200,
                    response: Msg::Response(200)
                }
            ),
            (id, Output::Terminated),
        ]
    );
    assert!(table.is_empty());
    assert_eq!(table.poll_timeout(), None);
    assert_eq!(table.find(&key), None);
    assert!(table.client(id).is_none());
    assert_eq!(
        table.handle_response(&key, 200, Msg::Response(200), now),
        Err(Msg::Response(200))
    );
    assert_eq!(
        table.handle_transport_error(id, now),
        Err(TableError::UnknownTransaction)
    );

    // The slot is reused under a new generation: the old id stays dead.
    let again = table
        .start_client(
            key.clone(),
            TransactionKind::NonInvite,
            Msg::Request,
            Reliability::Reliable,
            now,
        )
        .expect("key is free again");
    assert_ne!(again, id);
    assert!(table.client(id).is_none());
    assert!(table.remove(again));
    assert!(!table.remove(again));
    assert!(table.is_empty());
    assert_eq!(table.poll_timeout(), None, "remove drops the deadline too");
}

#[test]
fn operations_on_the_wrong_side_are_refused() {
    let clock = Clock::new();
    let mut table = Transactions::new(TimerConfig::default());
    let client_key = TransactionKey::client("z9hG4bK1", "INVITE");
    let server_key = TransactionKey::server(&identity("INVITE", "z9hG4bK1"));
    let reliability = Reliability::Unreliable;
    assert_eq!(
        table.start_client(
            server_key.clone(),
            TransactionKind::Invite,
            Msg::Request,
            reliability,
            clock.now
        ),
        Err(TableError::WrongSide)
    );
    assert_eq!(
        table.start_server(
            client_key.clone(),
            TransactionKind::Invite,
            reliability,
            clock.now
        ),
        Err(TableError::WrongSide)
    );
    let client = table
        .start_client(
            client_key.clone(),
            TransactionKind::Invite,
            Msg::Request,
            reliability,
            clock.now,
        )
        .expect("fresh");
    let server = table
        .start_server(
            server_key.clone(),
            TransactionKind::Invite,
            reliability,
            clock.now,
        )
        .expect("fresh");
    assert_eq!(
        table.respond(client, 200, Msg::Response(200), clock.now),
        Err(TableError::WrongSide)
    );
    assert_eq!(table.set_ack(server, Msg::Ack), Err(TableError::WrongSide));
    assert_eq!(
        table.handle_cancel_sent(server, clock.now),
        Err(TableError::WrongSide)
    );
    assert_eq!(
        table.set_ack(client, Msg::Ack),
        Err(TableError::Usage(UsageError::NotAwaitingAck))
    );
    assert_eq!(
        table.handle_response(&server_key, 200, Msg::Response(200), clock.now),
        Err(Msg::Response(200))
    );
    assert_eq!(table.handle_request(&client_key, clock.now), None);
    assert_eq!(table.len(), 2);
}

/// Thousands of live transactions under random inputs: after every operation `poll_timeout`
/// equals the minimum found by visiting every transaction, and the deadline set holds exactly
/// one entry per transaction with a deadline. In the end every transaction terminates.
#[test]
fn poll_timeout_is_the_minimum_over_thousands_of_transactions() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut clock = Clock::new();
    let mut table = Transactions::new(TimerConfig::default());
    let mut ids = Vec::new();
    for n in 0..3_000u32 {
        let now = clock.set(ms(u64::from(n) * 7));
        let kind = if rng.random_bool(0.5) {
            TransactionKind::Invite
        } else {
            TransactionKind::NonInvite
        };
        let reliability = if rng.random_bool(0.7) {
            Reliability::Unreliable
        } else {
            Reliability::Reliable
        };
        let branch = format!("z9hG4bK{n}");
        let id = if rng.random_bool(0.5) {
            let key = TransactionKey::client(&branch, "INVITE");
            table.start_client(key, kind, Msg::Request, reliability, now)
        } else {
            let request = RequestIdentity {
                branch: Some(&branch),
                ..identity("INVITE", "")
            };
            table.start_server(TransactionKey::server(&request), kind, reliability, now)
        }
        .expect("unique branches");
        ids.push(id);
        // Poke a random live transaction with a random input.
        let target = ids[rng.random_range(0..ids.len())];
        let status = [100, 180, 200, 486, 603][rng.random_range(0..5)];
        match rng.random_range(0..4) {
            0 => {
                if let Some(key) = table.key(target).cloned() {
                    let _ = table.handle_response(&key, status, Msg::Response(status), now);
                }
            }
            1 => {
                let _ = table.respond(target, status, Msg::Response(status), now);
            }
            2 => {
                if let Some(key) = table.key(target).cloned() {
                    let _ = table.handle_ack(&key, Msg::Ack, now);
                }
            }
            _ => table.handle_timeout(now),
        }
        while let Some((id, output)) = table.poll_output() {
            if matches!(output, Output::BuildAck { .. }) {
                table.set_ack(id, Msg::Ack).expect("asked for an ACK");
            }
        }
        // The scans are O(n): checking them at every step would make the test quadratic.
        if n.is_multiple_of(16) {
            assert_eq!(table.poll_timeout(), table.scanned_min_deadline());
            assert!(table.deadline_set_is_exact());
        }
    }
    // Transactions still waiting for the TU (server Proceeding/Trying, INVITE client in
    // Proceeding) have no deadline; everything else must run out.
    let mut steps = 0u32;
    while let Some(at) = table.poll_timeout() {
        let now = clock.advance_to(at);
        table.handle_timeout(now);
        assert!(
            table.poll_timeout().is_none_or(|next| next > now),
            "due work left behind"
        );
        steps += 1;
        if steps.is_multiple_of(1_024) {
            assert_eq!(table.poll_timeout(), table.scanned_min_deadline());
            assert!(table.deadline_set_is_exact());
        }
    }
    assert!(table.deadline_set_is_exact());
    assert_eq!(table.scanned_min_deadline(), None);
    let waiting = ids.iter().filter(|&&id| table.key(id).is_some()).count();
    assert_eq!(waiting, table.len());
}
