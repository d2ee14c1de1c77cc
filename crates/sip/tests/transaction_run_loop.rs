//! The transaction layer driven from outside the crate, through its public API only: a UAC
//! table and a UAS table joined by an in-memory wire, in virtual time. It shows the run loop a
//! caller writes and checks that the public surface is enough to write it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use herald_sip::transaction::{
    Output, Reliability, RequestIdentity, Retransmit2xx, Retransmit2xxOutput, TimerConfig,
    TransactionKey, TransactionKind, Transactions,
};

/// The caller's message type: here just what the peer needs to route it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wire {
    Invite,
    Ack,
    Response(u16),
}

fn server_key(method: &str) -> TransactionKey {
    TransactionKey::server(&RequestIdentity {
        method,
        branch: Some("z9hG4bKrunloop"),
        sent_by_host: "198.51.100.4",
        sent_by_port: 5060,
        request_uri: "sip:ivr@example.com",
        call_id: "run-loop",
        from_tag: Some("a"),
        to_tag: None,
        cseq: 1,
        top_via: "SIP/2.0/UDP 198.51.100.4;branch=z9hG4bKrunloop",
    })
}

/// Runs one INVITE answered with `status` over a wire that drops the first `drops` messages
/// from the UAS. Returns what the UAC TU saw and the virtual time everything ended.
fn invite(status: u16, drops: usize) -> (Vec<u16>, Duration) {
    #[allow(
        clippy::disallowed_methods,
        reason = "one arbitrary epoch for virtual time"
    )]
    let epoch = Instant::now();
    let mut now = epoch;
    let config = TimerConfig::default();
    let mut uac = Transactions::new(config);
    let mut uas = Transactions::new(config);
    let mut core: Option<Retransmit2xx<Wire>> = None;
    let (mut to_uas, mut to_uac) = (VecDeque::new(), VecDeque::new());
    let mut dropped = 0;
    let mut tu_saw = Vec::new();
    let client_key = TransactionKey::client("z9hG4bKrunloop", "INVITE");
    uac.start_client(
        client_key.clone(),
        TransactionKind::Invite,
        Wire::Invite,
        Reliability::Unreliable,
        now,
    )
    .expect("empty table");

    loop {
        // Drain every output; messages "arrive" instantly unless dropped.
        while let Some((id, output)) = uac.poll_output() {
            match output {
                Output::Transmit(msg) => to_uas.push_back(msg),
                Output::Response { status, .. } => {
                    tu_saw.push(status);
                    if (200..300).contains(&status) {
                        to_uas.push_back(Wire::Ack);
                    }
                }
                Output::BuildAck { .. } => uac.set_ack(id, Wire::Ack).expect("asked for it"),
                _ => {}
            }
        }
        while let Some((_, output)) = uas.poll_output() {
            if let Output::Transmit(msg) = output {
                to_uac.push_back(msg);
            }
        }
        if let Some(machine) = &mut core {
            while let Some(Retransmit2xxOutput::Transmit(msg)) = machine.poll_output() {
                to_uac.push_back(msg);
            }
        }
        if let Some(msg) = to_uas.pop_front() {
            match msg {
                Wire::Invite if uas.handle_request(&server_key("INVITE"), now).is_none() => {
                    let key = server_key("INVITE");
                    let id = uas
                        .start_server(key, TransactionKind::Invite, Reliability::Unreliable, now)
                        .expect("new");
                    uas.respond(id, status, Wire::Response(status), now)
                        .expect("Proceeding");
                    if (200..300).contains(&status) {
                        core = Some(Retransmit2xx::new(Wire::Response(status), config, now));
                    }
                }
                Wire::Ack => match &mut core {
                    Some(machine) => {
                        machine.handle_ack(now);
                    }
                    None => {
                        let _ = uas.handle_ack(&server_key("ACK"), Wire::Ack, now);
                    }
                },
                _ => {}
            }
            continue;
        }
        if let Some(msg) = to_uac.pop_front() {
            if dropped < drops {
                dropped += 1;
            } else if let Wire::Response(status) = msg {
                let _ = uac.handle_response(&client_key, status, msg, now);
            }
            continue;
        }
        let deadlines = [
            uac.poll_timeout(),
            uas.poll_timeout(),
            core.as_ref().and_then(|c| c.poll_timeout()),
        ];
        let Some(next) = deadlines.into_iter().flatten().min() else {
            return (tu_saw, now - epoch);
        };
        now = now.max(next);
        uac.handle_timeout(now);
        uas.handle_timeout(now);
        if let Some(machine) = &mut core {
            machine.handle_timeout(now);
        }
    }
}

#[test]
fn transaction_invite_rejected_is_acked_and_everything_terminates() {
    let (seen, ended) = invite(486, 3);
    assert_eq!(seen, vec![486], "retransmissions of the 486 are absorbed");
    // Lost: the 486 at 0 s, and at 0.5 s both its Timer G copy and the copy answering the
    // retransmitted INVITE. At 1.5 s one gets through; the UAC then lingers for Timer D.
    assert_eq!(ended, Duration::from_millis(1_500 + 32_000));
}

#[test]
fn transaction_invite_accepted_survives_lost_2xx() {
    let (seen, ended) = invite(200, 3);
    assert_eq!(
        seen,
        vec![200],
        "the first 2xx that got through; the ACK stopped the rest"
    );
    // 2xx lost at 0, 0.5 and 1.5 s; the one at 3.5 s gets through. Timer L ends the UAS
    // transaction 64*T1 after the 2xx, the UAC's Timer M 64*T1 after 3.5 s.
    assert_eq!(ended, Duration::from_millis(3_500 + 32_000));
}
