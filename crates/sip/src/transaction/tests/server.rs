//! Every path of the INVITE and non-INVITE server diagrams.

use super::{Clock, Msg, drain, drive, ms, transmit_times};
use crate::transaction::{
    InviteServerState, NonInviteServerState, Output, Reliability, ServerState, ServerTransaction,
    TimerConfig, TransactionKind, UsageError,
};

use InviteServerState as Inv;
use NonInviteServerState as Non;

fn server(
    kind: TransactionKind,
    reliability: Reliability,
    clock: &Clock,
) -> ServerTransaction<Msg> {
    ServerTransaction::new(kind, reliability, TimerConfig::default(), clock.now)
}

fn sent(status: u16) -> Output<Msg> {
    Output::Transmit(Msg::Response(status))
}

#[test]
fn invite_retransmission_resends_the_last_provisional_response() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    assert_eq!(tx.state(), ServerState::Invite(Inv::Proceeding));
    tx.handle_request_retransmission(clock.now);
    assert!(
        drain(&mut tx).is_empty(),
        "nothing to re-send yet, and never to the TU"
    );

    tx.respond(100, Msg::Response(100), clock.set(ms(10)))
        .expect("1xx in Proceeding");
    tx.handle_request_retransmission(clock.set(ms(500)));
    assert_eq!(drain(&mut tx), vec![sent(100), sent(100)]);

    tx.respond(180, Msg::Response(180), clock.set(ms(700)))
        .expect("1xx in Proceeding");
    tx.handle_request_retransmission(clock.set(ms(1_500)));
    assert_eq!(drain(&mut tx), vec![sent(180), sent(180)]);
    assert_eq!(tx.poll_timeout(), None, "no timers in Proceeding");
}

#[test]
fn invite_non_2xx_is_retransmitted_on_timer_g_until_the_ack() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.respond(486, Msg::Response(486), clock.now)
        .expect("final in Proceeding");
    assert_eq!(tx.state(), ServerState::Invite(Inv::Completed));
    let mut outputs = drive(&mut tx, &mut clock, ms(12_000));
    // An INVITE retransmission in Completed re-sends the final response too.
    tx.handle_request_retransmission(clock.set(ms(12_000)));
    outputs.extend(
        drain(&mut tx)
            .into_iter()
            .map(|output| (ms(12_000), output)),
    );
    assert_eq!(
        transmit_times(&outputs),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 12_000]
    );

    tx.handle_ack(Msg::Ack, clock.set(ms(12_100)));
    assert_eq!(tx.state(), ServerState::Invite(Inv::Confirmed));
    assert_eq!(
        tx.poll_timeout(),
        Some(clock.at(ms(17_100))),
        "Timer I = T4"
    );
    let rest = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        rest,
        vec![(ms(17_100), Output::Terminated)],
        "no retransmission after ACK"
    );
}

#[test]
fn invite_without_ack_times_out_on_timer_h() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.respond(404, Msg::Response(404), clock.now)
        .expect("final in Proceeding");
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        transmit_times(&outputs),
        vec![
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    let tail: Vec<_> = outputs.iter().rev().take(2).cloned().collect();
    assert_eq!(
        tail,
        vec![
            (ms(32_000), Output::Terminated),
            (ms(32_000), Output::Timeout)
        ]
    );
    assert_eq!(tx.retransmissions(), 10);
}

#[test]
fn invite_confirmed_absorbs_acks_and_retransmissions() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.respond(503, Msg::Response(503), clock.now)
        .expect("final in Proceeding");
    tx.handle_ack(Msg::Ack, clock.set(ms(100)));
    drain(&mut tx);
    for _ in 0..5 {
        tx.handle_ack(Msg::Ack, clock.set(ms(200)));
        tx.handle_request_retransmission(clock.now);
    }
    assert!(drain(&mut tx).is_empty());
    assert_eq!(tx.state(), ServerState::Invite(Inv::Confirmed));
    assert_eq!(
        tx.respond(500, Msg::Response(500), clock.now),
        Err(UsageError::ResponseNotAllowed(500))
    );
}

#[test]
fn invite_on_reliable_transport_has_no_timer_g_and_zero_timer_i() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Reliable, &clock);
    tx.respond(486, Msg::Response(486), clock.now)
        .expect("final in Proceeding");
    assert_eq!(
        tx.poll_timeout(),
        Some(clock.at(ms(32_000))),
        "only Timer H"
    );
    let now = clock.set(ms(50));
    tx.handle_ack(Msg::Ack, now);
    assert_eq!(tx.poll_timeout(), Some(now), "Timer I = 0");
    tx.handle_timeout(now);
    assert_eq!(drain(&mut tx), vec![sent(486), Output::Terminated]);
}

#[test]
fn invite_reliable_without_ack_times_out_on_h_without_retransmitting() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Reliable, &clock);
    tx.respond(486, Msg::Response(486), clock.now)
        .expect("final in Proceeding");
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(transmit_times(&outputs), vec![0]);
    assert!(outputs.contains(&(ms(32_000), Output::Timeout)));
}

#[test]
fn invite_accepted_absorbs_invites_passes_acks_and_2xx_until_timer_l() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.respond(180, Msg::Response(180), clock.now).expect("1xx");
    tx.respond(200, Msg::Response(200), clock.set(ms(1_000)))
        .expect("2xx");
    assert_eq!(tx.state(), ServerState::Invite(Inv::Accepted));
    assert_eq!(drain(&mut tx), vec![sent(180), sent(200)]);

    tx.handle_request_retransmission(clock.set(ms(1_200)));
    assert!(
        drain(&mut tx).is_empty(),
        "INVITE retransmissions are absorbed, not answered"
    );

    tx.respond(200, Msg::Response(200), clock.set(ms(1_500)))
        .expect("TU's 2xx retransmission");
    tx.handle_ack(Msg::Ack, clock.set(ms(1_600)));
    assert_eq!(drain(&mut tx), vec![sent(200), Output::Ack(Msg::Ack)]);
    assert_eq!(
        tx.respond(486, Msg::Response(486), clock.now),
        Err(UsageError::ResponseNotAllowed(486))
    );
    assert_eq!(
        tx.respond(180, Msg::Response(180), clock.now),
        Err(UsageError::ResponseNotAllowed(180))
    );

    let rest = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        rest,
        vec![(ms(33_000), Output::Terminated)],
        "Timer L = 64*T1, no retransmits"
    );
}

#[test]
fn invite_ack_before_a_final_response_is_absorbed() {
    let clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.handle_ack(Msg::Ack, clock.now);
    assert_eq!(tx.state(), ServerState::Invite(Inv::Proceeding));
    assert!(drain(&mut tx).is_empty());
}

#[test]
fn invite_transport_error_informs_the_tu_and_keeps_the_state() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    tx.respond(486, Msg::Response(486), clock.now)
        .expect("final");
    drain(&mut tx);
    tx.handle_transport_error(clock.set(ms(10)));
    assert_eq!(drain(&mut tx), vec![Output::TransportError]);
    assert_eq!(
        tx.state(),
        ServerState::Invite(Inv::Completed),
        "RFC 6026 §7.1"
    );
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert!(
        outputs.contains(&(ms(32_000), Output::Timeout)),
        "Timer H still ends it"
    );
}

#[test]
fn non_invite_absorbs_retransmissions_with_the_stored_response() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::NonInvite, Reliability::Unreliable, &clock);
    assert_eq!(tx.state(), ServerState::NonInvite(Non::Trying));
    tx.handle_request_retransmission(clock.now);
    assert!(drain(&mut tx).is_empty(), "Trying discards retransmissions");

    tx.respond(100, Msg::Response(100), clock.set(ms(100)))
        .expect("1xx");
    assert_eq!(tx.state(), ServerState::NonInvite(Non::Proceeding));
    tx.handle_request_retransmission(clock.set(ms(500)));
    assert_eq!(drain(&mut tx), vec![sent(100), sent(100)]);

    tx.respond(200, Msg::Response(200), clock.set(ms(600)))
        .expect("final");
    assert_eq!(tx.state(), ServerState::NonInvite(Non::Completed));
    tx.handle_request_retransmission(clock.set(ms(1_500)));
    tx.handle_request_retransmission(clock.set(ms(3_500)));
    assert_eq!(drain(&mut tx), vec![sent(200), sent(200), sent(200)]);
    assert_eq!(
        tx.respond(500, Msg::Response(500), clock.now),
        Err(UsageError::ResponseNotAllowed(500)),
        "other final responses are discarded in Completed"
    );
    tx.handle_ack(Msg::Ack, clock.now);
    assert!(drain(&mut tx).is_empty());

    let rest = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        rest,
        vec![(ms(32_600), Output::Terminated)],
        "Timer J = 64*T1"
    );
}

#[test]
fn non_invite_final_from_trying_and_zero_timer_j_on_reliable() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::NonInvite, Reliability::Reliable, &clock);
    let now = clock.set(ms(5));
    tx.respond(202, Msg::Response(202), now)
        .expect("final from Trying");
    assert_eq!(tx.poll_timeout(), Some(now));
    tx.handle_timeout(now);
    assert_eq!(drain(&mut tx), vec![sent(202), Output::Terminated]);
    assert_eq!(
        tx.respond(200, Msg::Response(200), now),
        Err(UsageError::ResponseNotAllowed(200))
    );
}

#[test]
fn non_invite_transport_error_terminates() {
    let mut clock = Clock::new();
    let mut tx = server(TransactionKind::NonInvite, Reliability::Unreliable, &clock);
    tx.respond(200, Msg::Response(200), clock.now)
        .expect("final");
    tx.handle_transport_error(clock.set(ms(1)));
    assert_eq!(
        drain(&mut tx),
        vec![sent(200), Output::TransportError, Output::Terminated]
    );
    assert_eq!(tx.poll_timeout(), None);
    tx.handle_request_retransmission(clock.now);
    tx.handle_transport_error(clock.now);
    assert!(drain(&mut tx).is_empty());
}

#[test]
fn invalid_status_codes_are_refused() {
    let clock = Clock::new();
    let mut tx = server(TransactionKind::Invite, Reliability::Unreliable, &clock);
    for status in [0, 99, 700, u16::MAX] {
        assert_eq!(
            tx.respond(status, Msg::Response(status), clock.now),
            Err(UsageError::InvalidStatus(status))
        );
    }
    assert!(drain(&mut tx).is_empty());
    assert_eq!(tx.state(), ServerState::Invite(Inv::Proceeding));
}
