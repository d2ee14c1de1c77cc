//! Black-box SIP tests: the real `herald serve` on loopback, driven by SIPp (and by a small
//! UDP client where SIPp cannot express the case), checked on the wire and in the call
//! records (`herald calls list/show --json`).

mod common;

use std::time::Duration;

use common::{
    Herald, HeraldConfig, SipResponse, Sipp, SippTransport, UdpPeer, User, event_kinds, field,
    sipp_available, summary,
};
use serde_json::Value;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

fn is_ended_by(call: &Value, cause: &str) -> bool {
    field(call, "state") == "ended" && field(call, "hangup_cause") == cause
}

/// A configuration with one user whose calls ring (the route for configured users) and MD5
/// digest, which is all SIPp's `[authentication]` can answer.
fn config_with_alice() -> HeraldConfig {
    HeraldConfig {
        users: vec![User::new("alice", "alice-secret-1")],
        algorithms: Some(vec!["MD5".into()]),
        ..HeraldConfig::default()
    }
}

// 1. OPTIONS -------------------------------------------------------------------------------

#[test]
fn options_is_answered_with_allow_accept_and_supported() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&HeraldConfig::default());
    Sipp::new("options.xml")
        .run(&herald)
        .assert_success("OPTIONS");
    assert!(
        herald.calls().is_empty(),
        "an OPTIONS must not create a call record"
    );
}

// 2. REGISTER ------------------------------------------------------------------------------

fn register_then_restart(transport: SippTransport) {
    let dir = tempfile::Builder::new()
        .prefix("herald-it-reg-")
        .tempdir()
        .unwrap();
    let config = HeraldConfig {
        tcp: transport == SippTransport::Tcp,
        ..config_with_alice()
    };
    let herald = Herald::start_in(dir.path(), &config);
    Sipp::new("register.xml")
        .transport(transport)
        .service("alice")
        .credentials("alice", "alice-secret-1")
        .run(&herald)
        .assert_success("REGISTER 401 -> REGISTER with credentials -> 200");

    // Store writes are applied in order: once a later call record is visible, the binding is
    // in the database too. Then a graceful stop and a start on the same data directory.
    store_barrier(&herald);
    let status = herald.stop();
    assert!(
        status.success(),
        "herald exited with {status} after SIGTERM"
    );

    let herald = Herald::start_in(dir.path(), &config);
    Sipp::new("register_fetch.xml")
        .transport(transport)
        .service("alice")
        .credentials("alice", "alice-secret-1")
        .run(&herald)
        .assert_success("REGISTER fetch after restart lists the binding");
}

/// Makes a call with no route (404) and waits for its record.
fn store_barrier(herald: &Herald) {
    let peer = UdpPeer::new(herald.udp);
    let local = peer.local();
    let head = format!(
        "sip:nobody@elsewhere.invalid SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-barrier-1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:barrier@127.0.0.1>;tag=barrier\r\n"
    );
    let invite = format!(
        "INVITE {head}To: <sip:nobody@elsewhere.invalid>\r\nCall-ID: barrier-{}@127.0.0.1\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:barrier@{local}>\r\nContent-Length: 0\r\n\r\n",
        local.port()
    );
    peer.send(invite.as_bytes());
    let answers = peer.recv_until(ANSWER_TIMEOUT, "final answer to the barrier INVITE", |r| {
        r.status >= 200
    });
    let last = answers.last().unwrap();
    assert_eq!(
        last.status, 404,
        "a call to a foreign domain has no route:\n{}",
        last.raw
    );
    let to = last.header("To").unwrap();
    let ack = format!(
        "ACK {head}To: {to}\r\nCall-ID: barrier-{}@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        local.port()
    );
    peer.send(ack.as_bytes());
    herald.wait_for_calls("the barrier call ended with 404", |calls| {
        calls
            .iter()
            .any(|c| field(c, "final_status") == 404 && field(c, "hangup_cause").is_string())
    });
}

#[test]
fn register_udp_digest_binding_persists_across_restart() {
    if !sipp_available() {
        return;
    }
    register_then_restart(SippTransport::Udp);
}

#[test]
fn register_tcp_digest_binding_persists_across_restart() {
    if !sipp_available() {
        return;
    }
    register_then_restart(SippTransport::Tcp);
}

#[test]
fn register_with_wrong_password_is_forbidden() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&config_with_alice());
    Sipp::new("register_wrong_password.xml")
        .service("alice")
        .credentials("alice", "not-alices-password")
        .run(&herald)
        .assert_success("REGISTER with a wrong password -> 403");
}

// 3 and 7. A basic call over UDP and over TCP ----------------------------------------------

fn basic_call(transport: SippTransport) {
    let herald = Herald::start(&HeraldConfig {
        tcp: transport == SippTransport::Tcp,
        ..HeraldConfig::default()
    });
    let run = Sipp::new("uac_call.xml").transport(transport).run(&herald);
    run.assert_success("INVITE/200/ACK/BYE");
    let port = answered_rtp_port(&run.messages);
    assert!(
        (herald.rtp.0..=herald.rtp.1).contains(&port),
        "the SDP answer's port {port} is outside the configured RTP range {:?}",
        herald.rtp
    );

    let call = herald.wait_for_single_call("one call ended by the caller's BYE", |c| {
        is_ended_by(c, "caller-bye")
    });
    assert_eq!(field(&call, "final_status"), 200, "{:?}", summary(&call));
    assert_eq!(
        field(&call, "transport"),
        if transport == SippTransport::Udp {
            "udp"
        } else {
            "tcp"
        }
    );
    assert!(
        field(&call, "answered_at").is_i64(),
        "an answered call has answered_at: {call:#}"
    );
    let kinds = event_kinds(&call);
    assert!(
        kinds.iter().any(|k| k == "confirmed"),
        "no `confirmed` event (the ACK): {kinds:?}"
    );
}

/// The audio port of the SDP answer in the 200 OK that SIPp received (its message log).
fn answered_rtp_port(messages: &str) -> u16 {
    let received = messages.split("message received").skip(1);
    for msg in received {
        if let Some(start) = msg.find("SIP/2.0 200") {
            let msg = &msg[start..];
            if let Some(m) = msg.lines().find(|l| l.starts_with("m=audio ")) {
                return m
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .expect("a port in m=audio");
            }
        }
    }
    panic!("no 200 OK with an m=audio line in SIPp's message log:\n{messages}");
}

#[test]
fn invite_udp_answer_ack_bye_is_recorded() {
    if !sipp_available() {
        return;
    }
    basic_call(SippTransport::Udp);
}

#[test]
fn invite_tcp_answer_ack_bye_is_recorded() {
    if !sipp_available() {
        return;
    }
    basic_call(SippTransport::Tcp);
}

// 4. CANCEL before answer -------------------------------------------------------------------

#[test]
fn cancel_before_answer_gets_200_and_487() {
    if !sipp_available() {
        return;
    }
    // Calls to a configured user ring (180) and are not answered (ring timeout 480).
    let herald = Herald::start(&config_with_alice());
    Sipp::new("uac_cancel.xml")
        .service("alice")
        .run(&herald)
        .assert_success("INVITE/180/CANCEL/200/487/ACK");
    let call = herald.wait_for_single_call("one cancelled call", |c| {
        field(c, "hangup_cause") == "cancelled"
    });
    assert_eq!(field(&call, "final_status"), 487, "{:?}", summary(&call));
    assert_eq!(
        field(&call, "state"),
        "failed",
        "a call cancelled before answer never was answered: {:?}",
        summary(&call)
    );
    assert!(field(&call, "answered_at").is_null(), "{call:#}");
}

// 5. Hold and resume -----------------------------------------------------------------------

#[test]
fn reinvite_hold_and_resume_are_answered_and_recorded() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&HeraldConfig::default());
    Sipp::new("uac_hold_resume.xml")
        .run(&herald)
        .assert_success("hold (sendonly -> recvonly) and resume (sendrecv)");
    let call =
        herald.wait_for_single_call("one call ended by BYE", |c| is_ended_by(c, "caller-bye"));
    let kinds = event_kinds(&call);
    let hold = kinds.iter().position(|k| k == "hold");
    let resume = kinds.iter().position(|k| k == "resume");
    assert!(
        hold.is_some() && resume.is_some() && hold < resume,
        "expected `hold` then `resume` events, got {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "hold").count(),
        1,
        "{kinds:?}"
    );
}

// 6. UDP retransmissions ---------------------------------------------------------------------

#[test]
fn udp_retransmitted_invite_and_bye_are_absorbed() {
    let herald = Herald::start(&HeraldConfig::default());
    let peer = UdpPeer::new(herald.udp);
    let local = peer.local();
    let call_id = format!("retrans-{}@127.0.0.1", local.port());
    let sdp = format!(
        "v=0\r\no=rt 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        common::free_udp_port()
    );
    let from = "From: <sip:caller@127.0.0.1>;tag=rt-caller";
    let uri = format!("sip:service@{}", herald.udp);
    let invite = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-rt-invite;rport\r\nMax-Forwards: 70\r\n{from}\r\n\
         To: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    // The same INVITE twice: the second is a retransmission (same branch) and must be absorbed.
    peer.send(invite.as_bytes());
    peer.send(invite.as_bytes());
    let mut seen = peer.recv_until(ANSWER_TIMEOUT, "200 OK to the INVITE", |r| {
        r.status == 200 && r.cseq_method().as_deref() == Some("INVITE")
    });
    let ok = seen.last().unwrap().clone();
    let to = ok.header("To").expect("To in the 200");
    assert!(to.contains(";tag="), "the 200 OK has a To tag: {to}");

    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\n{from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    peer.send(in_dialog("ACK", 1, "z9hG4bK-rt-ack").as_bytes());
    // The same BYE twice: one transaction; the duplicate gets the 200 again, never a 481.
    let bye = in_dialog("BYE", 2, "z9hG4bK-rt-bye");
    peer.send(bye.as_bytes());
    peer.send(bye.as_bytes());
    let mut bye_answers = 0;
    seen.extend(peer.recv_until(
        ANSWER_TIMEOUT,
        "two 200 OK to the BYE and its retransmission",
        |r| {
            if r.cseq_method().as_deref() == Some("BYE") && r.status >= 200 {
                bye_answers += 1;
            }
            bye_answers == 2
        },
    ));
    let bye_statuses: Vec<u16> = seen
        .iter()
        .filter(|r| r.cseq_method().as_deref() == Some("BYE"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        bye_statuses,
        vec![200, 200],
        "the BYE and its retransmission"
    );
    let unexpected: Vec<&SipResponse> = seen
        .iter()
        .filter(|r| r.status == 481 || r.status >= 400)
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected error responses: {unexpected:#?}"
    );

    let calls = herald.wait_for_calls("the call ended by BYE", |calls| {
        calls.iter().any(|c| is_ended_by(c, "caller-bye"))
    });
    assert_eq!(
        calls.len(),
        1,
        "a retransmitted INVITE must not create a second call: {calls:#?}"
    );
    assert_eq!(field(&calls[0], "sip_call_id"), call_id.as_str());
}

// 9. Malformed input does not harm other calls -----------------------------------------------

/// A deterministic xorshift generator for the junk (no RNG dependency, reproducible runs).
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The malformed datagram number `i`: random bytes, truncated INVITEs, 64 KB of junk, an
/// INVITE with thousands of headers (and no Contact), invalid Content-Length values, and
/// broken responses.
fn malformed_datagram(i: usize, junk: &mut Junk, flood_addr: std::net::SocketAddr) -> Vec<u8> {
    let invite = |extra: &str, cl: &str| {
        format!(
            "INVITE sip:flood@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {flood_addr};branch=z9hG4bK-flood-{i};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:flood@127.0.0.1>;tag=f{i}\r\nTo: <sip:flood@127.0.0.1>\r\nCall-ID: flood-{i}\r\n\
             CSeq: 1 INVITE\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {cl}\r\n\r\nv=0\r\n"
        )
    };
    // One in 200 has thousands of headers (about 60 KB to parse); the rest cycle through the
    // cheaper kinds.
    let kind = if i % 200 == 199 {
        3
    } else {
        [0, 1, 2, 4, 5, 6, 7][i % 7]
    };
    match kind {
        0 => {
            let n = 1 + (junk.next() % 1400) as usize;
            junk.bytes(n)
        }
        1 => {
            // A truncated INVITE: cut inside the header section, never at its end.
            let full = invite("", "5");
            let head_end = full.find("\r\n\r\n").unwrap();
            let cut = 1 + (junk.next() as usize % (head_end - 1));
            full.as_bytes()[..cut].to_vec()
        }
        2 => vec![b'X'; 65_000],
        3 => {
            let many: String = (0..4_500).map(|n| format!("X-H{n}: v\r\n")).collect();
            invite(&many, "5").into_bytes()
        }
        4 => invite("", "99999999").into_bytes(),
        5 => invite("", "-5").into_bytes(),
        6 => invite("", "five").into_bytes(),
        _ => {
            let mut d = b"SIP/2.0 200 OK\r\nVia: ".to_vec();
            d.extend(junk.bytes(200));
            d
        }
    }
}

#[test]
fn malformed_flood_does_not_harm_a_concurrent_call() {
    if !sipp_available() {
        return;
    }
    const DATAGRAMS: usize = 20_000;
    const FLOOD_BOUND: Duration = Duration::from_secs(20);
    let mut herald = Herald::start(&HeraldConfig::default());
    let target = herald.udp;
    let flood = {
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = socket.local_addr().unwrap();
            let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
            let deadline = std::time::Instant::now() + FLOOD_BOUND;
            let mut sent = 0;
            for i in 0..DATAGRAMS {
                if std::time::Instant::now() >= deadline {
                    break;
                }
                let d = malformed_datagram(i, &mut junk, addr);
                // A full socket buffer or an ICMP error from an earlier datagram is fine.
                if socket.send_to(&d, target).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    let run = Sipp::new("uac_call.xml").run(&herald);
    let sent = flood.join().expect("the flood thread");
    run.assert_success("a call during a flood of malformed datagrams");
    eprintln!("sent {sent} malformed datagrams during the call");

    assert!(
        herald.exit_status().is_none(),
        "herald exited: {:?}\n{}",
        herald.exit_status(),
        herald.log()
    );
    let calls = herald.wait_for_calls("the SIPp call ended by BYE", |calls| {
        calls.iter().any(|c| is_ended_by(c, "caller-bye"))
    });
    assert_eq!(
        calls.len(),
        1,
        "malformed datagrams must never become calls: {calls:#?}"
    );
    let answer = UdpPeer::new(herald.udp).options("after-flood");
    assert_eq!(
        answer.status, 200,
        "OPTIONS after the flood:\n{}",
        answer.raw
    );
    assert_no_internal_error(&herald);
}

/// Herald contains a panic in its SIP driver and keeps serving (STYLE rule 7: the driver
/// catches it), but a panic on network input is still a bug: the log must show none.
fn assert_no_internal_error(herald: &Herald) {
    let log = herald.log();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("panicked at") || l.contains("internal error"))
        .collect();
    assert!(
        bad.is_empty(),
        "network input made herald panic:\n{}",
        bad.join("\n")
    );
}

/// The smallest datagrams the flood found that make the request-line parser panic: a
/// multi-byte character across byte 4 of the SIP-Version ("SIP\u{e9}/2.0"), in the last
/// element of the request line and in the element before it. Each must get a 400 (or be
/// dropped) without a panic, and herald must keep answering.
#[test]
fn multibyte_sip_version_is_rejected_without_a_panic() {
    let mut herald = Herald::start(&HeraldConfig::default());
    let peer = UdpPeer::new(herald.udp);
    let local = peer.local();
    for (n, request_line) in [
        format!("OPTIONS sip:{} SIP\u{e9}/2.0", herald.udp),
        "OPTIONS SIP\u{e9}/2.0 x".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let msg = format!(
            "{request_line}\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-mb-{n};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:mb@127.0.0.1>;tag=mb\r\nTo: <sip:{}>\r\nCall-ID: multibyte-{n}-{}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            herald.udp,
            local.port()
        );
        peer.send(msg.as_bytes());
        let answer = peer.options(&format!("after-multibyte-{n}"));
        assert_eq!(answer.status, 200, "{}", answer.raw);
    }
    assert!(
        herald.exit_status().is_none(),
        "herald exited: {:?}",
        herald.exit_status()
    );
    assert_no_internal_error(&herald);
}
