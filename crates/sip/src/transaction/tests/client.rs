//! Every path of the INVITE and non-INVITE client diagrams.

use super::{Clock, Msg, drain, drive, ms, transmit_times};
use crate::transaction::{
    ClientState, ClientTransaction, InviteClientState, NonInviteClientState, Output, Reliability,
    TimerConfig, TransactionKind, UsageError,
};

use InviteClientState as Inv;
use NonInviteClientState as Non;

fn invite(reliability: Reliability, clock: &Clock) -> ClientTransaction<Msg> {
    ClientTransaction::new(
        TransactionKind::Invite,
        Msg::Request,
        reliability,
        TimerConfig::default(),
        clock.now,
    )
}

fn non_invite(reliability: Reliability, clock: &Clock) -> ClientTransaction<Msg> {
    ClientTransaction::new(
        TransactionKind::NonInvite,
        Msg::Request,
        reliability,
        TimerConfig::default(),
        clock.now,
    )
}

fn response(status: u16) -> Output<Msg> {
    Output::Response {
        status,
        response: Msg::Response(status),
    }
}

#[test]
fn invite_1xx_then_2xx_is_accepted_passes_every_2xx_and_ends_on_timer_m() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    assert_eq!(drain(&mut tx), vec![Output::Transmit(Msg::Request)]);

    tx.handle_response(180, Msg::Response(180), clock.set(ms(100)));
    assert_eq!(tx.state(), ClientState::Invite(Inv::Proceeding));
    assert_eq!(drain(&mut tx), vec![response(180)]);
    assert_eq!(tx.poll_timeout(), None, "no Timer A or B in Proceeding");

    tx.handle_response(200, Msg::Response(200), clock.set(ms(2_000)));
    assert_eq!(tx.state(), ClientState::Invite(Inv::Accepted));
    assert_eq!(drain(&mut tx), vec![response(200)]);
    // RFC 6026: a retransmitted (or forked) 2xx still reaches the TU; other responses do not.
    tx.handle_response(200, Msg::Response(200), clock.set(ms(2_500)));
    tx.handle_response(180, Msg::Response(180), clock.now);
    tx.handle_response(486, Msg::Response(486), clock.now);
    assert_eq!(drain(&mut tx), vec![response(200)]);

    assert_eq!(
        tx.poll_timeout(),
        Some(clock.at(ms(2_000 + 32_000))),
        "Timer M = 64*T1"
    );
    let rest = drive(&mut tx, &mut clock, ms(60_000));
    assert_eq!(rest, vec![(ms(34_000), Output::Terminated)]);
    assert_eq!(tx.retransmissions(), 0);
}

#[test]
fn invite_486_asks_for_one_ack_and_resends_it_for_retransmissions() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    drain(&mut tx);
    tx.handle_response(180, Msg::Response(180), clock.set(ms(100)));
    drain(&mut tx);

    tx.handle_response(486, Msg::Response(486), clock.set(ms(300)));
    assert_eq!(tx.state(), ClientState::Invite(Inv::Completed));
    assert_eq!(
        drain(&mut tx),
        vec![
            Output::BuildAck {
                status: 486,
                response: Msg::Response(486)
            },
            response(486)
        ]
    );
    assert_eq!(tx.set_ack(Msg::Ack), Ok(()));
    assert_eq!(drain(&mut tx), vec![Output::Transmit(Msg::Ack)]);
    assert_eq!(tx.set_ack(Msg::Ack), Err(UsageError::NotAwaitingAck));

    // Retransmissions of the final response re-send the ACK and never reach the TU.
    for _ in 0..3 {
        tx.handle_response(486, Msg::Response(486), clock.set(ms(1_000)));
        assert_eq!(drain(&mut tx), vec![Output::Transmit(Msg::Ack)]);
    }
    tx.handle_response(180, Msg::Response(180), clock.now);
    tx.handle_response(200, Msg::Response(200), clock.now);
    assert!(drain(&mut tx).is_empty());

    let rest = drive(&mut tx, &mut clock, ms(60_000));
    assert_eq!(
        rest,
        vec![(ms(32_300), Output::Terminated)],
        "Timer D = 32 s"
    );
}

#[test]
fn invite_final_in_calling_completes_and_stops_timer_a() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    drain(&mut tx);
    tx.handle_response(603, Msg::Response(603), clock.set(ms(700)));
    assert_eq!(tx.state(), ClientState::Invite(Inv::Completed));
    assert_eq!(tx.set_ack(Msg::Ack), Ok(()));
    let outputs = drive(&mut tx, &mut clock, ms(60_000));
    assert_eq!(
        transmit_times(&outputs),
        vec![700],
        "only the ACK; no more INVITEs"
    );
}

#[test]
fn invite_timer_a_sends_seven_times_before_timer_b() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        transmit_times(&outputs),
        vec![0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
    );
    let tail: Vec<_> = outputs.iter().skip(7).cloned().collect();
    assert_eq!(
        tail,
        vec![
            (ms(32_000), Output::Timeout),
            (ms(32_000), Output::Terminated)
        ]
    );
    assert_eq!(tx.retransmissions(), 6);
    assert_eq!(tx.state(), ClientState::Invite(Inv::Terminated));
}

#[test]
fn invite_on_reliable_transport_never_retransmits_and_times_out_on_b() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Reliable, &clock);
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        outputs,
        vec![
            (ms(0), Output::Transmit(Msg::Request)),
            (ms(32_000), Output::Timeout),
            (ms(32_000), Output::Terminated),
        ]
    );
}

#[test]
fn invite_timer_d_is_zero_on_reliable_transport() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Reliable, &clock);
    drain(&mut tx);
    let now = clock.set(ms(40));
    tx.handle_response(404, Msg::Response(404), now);
    assert_eq!(
        tx.poll_timeout(),
        Some(now),
        "due at once, after the caller drained outputs"
    );
    drain(&mut tx);
    tx.set_ack(Msg::Ack).expect("BuildAck was emitted");
    tx.handle_timeout(now);
    assert_eq!(tx.state(), ClientState::Invite(Inv::Terminated));
    assert_eq!(
        drain(&mut tx),
        vec![Output::Transmit(Msg::Ack), Output::Terminated]
    );
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn invite_in_proceeding_times_out_64_t1_after_a_cancel() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    tx.handle_response(183, Msg::Response(183), clock.set(ms(200)));
    assert_eq!(tx.poll_timeout(), None);
    tx.handle_cancel_sent(clock.set(ms(10_000)));
    // A further provisional response does not cancel the guard.
    tx.handle_response(180, Msg::Response(180), clock.set(ms(11_000)));
    assert_eq!(tx.poll_timeout(), Some(clock.at(ms(42_000))));
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    let tail: Vec<_> = outputs.into_iter().rev().take(2).collect();
    assert_eq!(
        tail,
        vec![
            (ms(42_000), Output::Terminated),
            (ms(42_000), Output::Timeout)
        ]
    );
}

#[test]
fn invite_487_after_cancel_completes_normally() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    tx.handle_response(180, Msg::Response(180), clock.set(ms(200)));
    tx.handle_cancel_sent(clock.set(ms(1_000)));
    tx.handle_response(487, Msg::Response(487), clock.set(ms(1_100)));
    assert_eq!(tx.state(), ClientState::Invite(Inv::Completed));
    assert_eq!(
        tx.poll_timeout(),
        Some(clock.at(ms(33_100))),
        "Timer D replaced the guard"
    );
}

#[test]
fn non_invite_timer_e_doubles_up_to_t2_until_timer_f() {
    let mut clock = Clock::new();
    let mut tx = non_invite(Reliability::Unreliable, &clock);
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(
        transmit_times(&outputs),
        vec![
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(outputs.last(), Some(&(ms(32_000), Output::Terminated)));
    assert!(outputs.contains(&(ms(32_000), Output::Timeout)));
}

#[test]
fn non_invite_in_proceeding_retransmits_every_t2() {
    let mut clock = Clock::new();
    let mut tx = non_invite(Reliability::Unreliable, &clock);
    let mut outputs = drive(&mut tx, &mut clock, ms(600));
    tx.handle_response(100, Msg::Response(100), clock.set(ms(600)));
    assert_eq!(tx.state(), ClientState::NonInvite(Non::Proceeding));
    assert_eq!(drain(&mut tx), vec![response(100)]);
    outputs.extend(drive(&mut tx, &mut clock, ms(100_000)));
    assert_eq!(
        transmit_times(&outputs),
        // The E armed in Trying fires at 1.5 s; from then on every T2.
        vec![
            0, 500, 1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500
        ]
    );
    assert!(
        outputs.contains(&(ms(32_000), Output::Timeout)),
        "Timer F still runs"
    );
}

#[test]
fn non_invite_final_response_completes_and_absorbs_until_timer_k() {
    let mut clock = Clock::new();
    let mut tx = non_invite(Reliability::Unreliable, &clock);
    drain(&mut tx);
    tx.handle_response(100, Msg::Response(100), clock.set(ms(100)));
    tx.handle_response(200, Msg::Response(200), clock.set(ms(800)));
    assert_eq!(tx.state(), ClientState::NonInvite(Non::Completed));
    assert_eq!(drain(&mut tx), vec![response(100), response(200)]);
    tx.handle_response(200, Msg::Response(200), clock.set(ms(900)));
    tx.handle_response(100, Msg::Response(100), clock.now);
    assert!(drain(&mut tx).is_empty(), "retransmissions absorbed");
    let rest = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(rest, vec![(ms(5_800), Output::Terminated)], "Timer K = T4");
}

#[test]
fn non_invite_timer_k_is_zero_on_reliable_transport() {
    let mut clock = Clock::new();
    let mut tx = non_invite(Reliability::Reliable, &clock);
    assert_eq!(drain(&mut tx), vec![Output::Transmit(Msg::Request)]);
    let now = clock.set(ms(30));
    tx.handle_response(404, Msg::Response(404), now);
    assert_eq!(tx.poll_timeout(), Some(now));
    tx.handle_timeout(now);
    assert_eq!(drain(&mut tx), vec![response(404), Output::Terminated]);
}

#[test]
fn non_invite_reliable_sends_once_and_times_out_on_f() {
    let mut clock = Clock::new();
    let mut tx = non_invite(Reliability::Reliable, &clock);
    let outputs = drive(&mut tx, &mut clock, ms(100_000));
    assert_eq!(transmit_times(&outputs), vec![0]);
    assert!(outputs.contains(&(ms(32_000), Output::Timeout)));
}

#[test]
fn transport_error_informs_the_tu_and_terminates() {
    for kind in [TransactionKind::Invite, TransactionKind::NonInvite] {
        let mut clock = Clock::new();
        let mut tx = ClientTransaction::new(
            kind,
            Msg::Request,
            Reliability::Unreliable,
            TimerConfig::default(),
            clock.now,
        );
        drain(&mut tx);
        tx.handle_transport_error(clock.set(ms(10)));
        assert!(tx.state().is_terminated());
        assert_eq!(
            drain(&mut tx),
            vec![Output::TransportError, Output::Terminated]
        );
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_transport_error(clock.now);
        tx.handle_response(200, Msg::Response(200), clock.now);
        assert!(
            drain(&mut tx).is_empty(),
            "a terminated transaction stays silent"
        );
    }
}

#[test]
fn invite_transport_error_while_sending_the_ack_terminates() {
    let mut clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    tx.handle_response(500, Msg::Response(500), clock.set(ms(10)));
    tx.set_ack(Msg::Ack).expect("BuildAck was emitted");
    drain(&mut tx);
    tx.handle_transport_error(clock.now);
    assert_eq!(
        drain(&mut tx),
        vec![Output::TransportError, Output::Terminated]
    );
}

#[test]
fn invalid_status_codes_are_ignored() {
    let clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    drain(&mut tx);
    for status in [0, 99, 700, u16::MAX] {
        tx.handle_response(status, Msg::Response(status), clock.now);
    }
    assert_eq!(tx.state(), ClientState::Invite(Inv::Calling));
    assert!(drain(&mut tx).is_empty());
}

#[test]
fn set_ack_is_refused_unless_asked_for() {
    let clock = Clock::new();
    let mut tx = invite(Reliability::Unreliable, &clock);
    assert_eq!(tx.set_ack(Msg::Ack), Err(UsageError::NotAwaitingAck));
    let mut tx = non_invite(Reliability::Unreliable, &clock);
    tx.handle_response(486, Msg::Response(486), clock.now);
    assert_eq!(tx.set_ack(Msg::Ack), Err(UsageError::NotAwaitingAck));
}

#[test]
fn extreme_timer_config_neither_panics_nor_spins() {
    let mut clock = Clock::new();
    let zero = TimerConfig {
        t1: ms(0),
        t2: ms(0),
        t4: ms(0),
    };
    let mut tx = ClientTransaction::new(
        TransactionKind::NonInvite,
        Msg::Request,
        Reliability::Unreliable,
        zero,
        clock.now,
    );
    // T1 = 0 makes Timer F due at once; the retransmission floor keeps E from spinning.
    let outputs = drive(&mut tx, &mut clock, ms(1_000));
    assert!(outputs.contains(&(ms(0), Output::Timeout)));

    let huge = TimerConfig {
        t1: std::time::Duration::MAX,
        ..TimerConfig::default()
    };
    let mut tx = ClientTransaction::new(
        TransactionKind::Invite,
        Msg::Request,
        Reliability::Unreliable,
        huge,
        clock.now,
    );
    assert_eq!(
        tx.poll_timeout(),
        None,
        "unrepresentable deadlines mean never"
    );
    tx.handle_response(486, Msg::Response(486), clock.now);
    assert_eq!(tx.state(), ClientState::Invite(Inv::Completed));
}
