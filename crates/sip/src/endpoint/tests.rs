//! Endpoint tests in virtual time: a scripted peer sends bytes, the test plays the
//! application, and the clock jumps to the endpoint's next deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::auth::{
    Algorithm, ClientSecret, DigestChallenge, DigestConfig, Ha1, NonceCount, ServerSecret,
};
use crate::message::{Message, Response, parse_message};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

struct Harness {
    ep: Endpoint<ChaCha8Rng>,
    now: Instant,
    sent: Vec<(Target, Response)>,
    requests: Vec<(Target, Request)>,
    events: Vec<Event>,
}

fn peer() -> SocketAddr {
    "10.0.0.2:5070".parse().unwrap()
}

fn local() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}

fn registrar_settings() -> RegistrarSettings {
    let mut users = HashMap::new();
    users.insert(
        "alice".to_owned(),
        UserCredentials {
            md5: Some(Ha1::from_password(
                Algorithm::Md5,
                "alice",
                "herald.local",
                "secret",
            )),
            sha256: Some(Ha1::from_password(
                Algorithm::Sha256,
                "alice",
                "herald.local",
                "secret",
            )),
        },
    );
    RegistrarSettings {
        realm: "herald.local".into(),
        domain: "herald.local".into(),
        secret: ServerSecret::new([7; 32]),
        digest: DigestConfig::default(),
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_contacts: 10,
        users: Arc::new(users),
    }
}

impl Harness {
    fn new() -> Self {
        // The one real clock read: a base instant; everything after it is virtual time.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let config = EndpointConfig {
            registrar: Some(registrar_settings()),
            ..EndpointConfig::default()
        };
        let ep = Endpoint::new(
            config,
            ChaCha8Rng::seed_from_u64(1),
            (now, 1_700_000_000_000),
        );
        Self {
            ep,
            now,
            sent: Vec::new(),
            requests: Vec::new(),
            events: Vec::new(),
        }
    }

    fn send(&mut self, transport: Transport, text: &str) {
        let conn = transport.is_reliable().then_some(ConnId(9));
        let incoming = Incoming {
            transport,
            conn,
            local: local(),
            remote: peer(),
            bytes: text.as_bytes(),
        };
        self.ep.handle_incoming(self.now, incoming);
        self.drain();
    }

    fn udp(&mut self, text: &str) {
        self.send(Transport::Udp, text);
    }

    fn drain(&mut self) {
        while let Some(out) = self.ep.poll_output() {
            match out {
                Output::Transmit { target, bytes } => {
                    match parse_message(&bytes, crate::message::Framing::Stream) {
                        Ok(Message::Response(r)) => self.sent.push((target, r)),
                        Ok(Message::Request(r)) => self.requests.push((target, r)),
                        Err(e) => panic!("endpoint sent unparseable bytes: {e}"),
                    }
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    /// Advances virtual time to `until`, firing every deadline on the way.
    fn run_until(&mut self, until: Instant) {
        while let Some(at) = self.ep.poll_timeout().filter(|at| *at <= until) {
            self.now = self.now.max(at);
            self.ep.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn statuses(&self) -> Vec<u16> {
        self.sent.iter().map(|(_, r)| r.status).collect()
    }

    fn last(&self) -> &Response {
        &self.sent.last().expect("a response was sent").1
    }

    fn take_call(&mut self) -> CallRef {
        let pos = self
            .events
            .iter()
            .position(|e| matches!(e, Event::IncomingCall { .. }))
            .expect("an IncomingCall event");
        match self.events.remove(pos) {
            Event::IncomingCall { call, .. } => call,
            _ => unreachable!(),
        }
    }

    fn ended(&self) -> Vec<(EndCause, Option<u16>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::CallEnded { cause, status, .. } => Some((*cause, *status)),
                _ => None,
            })
            .collect()
    }

    fn answer(&mut self, call: CallRef) {
        self.ep
            .answer(self.now, call, Bytes::from_static(SDP.as_bytes()));
        self.drain();
    }

    /// The peer answers `req` with `status`, a To tag (unless the request has one), extra
    /// header lines and a body, over UDP.
    fn reply(
        &mut self,
        req: &Request,
        status: u16,
        tag: Option<&str>,
        extra: &[(&str, &str)],
        body: &str,
    ) {
        let mut resp =
            Response::to_request(req, status, crate::message::reason_phrase(status), tag);
        for (name, value) in extra {
            resp.headers.push(HeaderName::parse(name), *value);
        }
        resp.body = Bytes::copy_from_slice(body.as_bytes());
        let bytes = resp.to_bytes();
        self.udp(&String::from_utf8(bytes).expect("our test responses are text"));
    }

    /// The requests of `method` the endpoint sent, oldest first.
    fn sent_requests(&self, method: Method) -> Vec<Request> {
        self.requests
            .iter()
            .filter(|(_, r)| r.method == method)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The last request of `method` the endpoint sent.
    fn last_request(&self, method: Method) -> Request {
        self.sent_requests(method.clone())
            .pop()
            .unwrap_or_else(|| panic!("a {method} was sent"))
    }
}

/// The value of `name` in a request, for assertions.
fn header(req: &Request, name: HeaderName) -> Option<&str> {
    req.headers.get(&name)
}

fn invite(branch: &str, extra: &str) -> String {
    format!(
        "INVITE sip:ivr@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:caller@10.0.0.2>;tag=ft\r\nTo: <sip:ivr@10.0.0.1>\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:caller@10.0.0.2:5070>\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn in_dialog(
    method: &str,
    cseq: u32,
    to_tag: &str,
    branch: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:herald@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:caller@10.0.0.2>;tag=ft\r\nTo: <sip:ivr@10.0.0.1>;tag={to_tag}\r\nCall-ID: call-1\r\nCSeq: {cseq} {method}\r\n\
         Contact: <sip:caller@10.0.0.2:5070>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn to_tag(r: &Response) -> String {
    let to = r.headers.get(&HeaderName::To).unwrap();
    crate::message::headers::NameAddr::parse(to)
        .unwrap()
        .tag()
        .unwrap()
        .to_owned()
}

/// Sets up an answered call and returns (call, our To tag).
fn answered(h: &mut Harness, extra: &str) -> (CallRef, String) {
    h.udp(&invite("z9hG4bKinv", extra));
    let call = h.take_call();
    h.answer(call);
    let tag = to_tag(h.last());
    (call, tag)
}

#[test]
fn invite_answer_ack_bye() {
    let mut h = Harness::new();
    let (call, tag) = answered(&mut h, "");
    assert_eq!(h.statuses(), vec![100, 200]);
    let ok = h.last();
    assert_eq!(&ok.body[..], SDP.as_bytes());
    assert!(
        ok.headers
            .get(&HeaderName::Contact)
            .unwrap()
            .contains("10.0.0.1:5060")
    );
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::CallConfirmed { call: c } if *c == call))
    );
    h.udp(&in_dialog("BYE", 2, &tag, "z9hG4bKbye", "", ""));
    assert_eq!(h.statuses(), vec![100, 200, 200]);
    assert_eq!(
        h.ended(),
        vec![(EndCause::CallerBye, Some(200))],
        "status: the INVITE's final status"
    );
    assert_eq!(h.ep.stats().calls, 0);
}

#[test]
fn retransmitted_invite_and_bye_are_absorbed() {
    let mut h = Harness::new();
    h.udp(&invite("z9hG4bKinv", ""));
    h.udp(&invite("z9hG4bKinv", ""));
    assert_eq!(
        h.events
            .iter()
            .filter(|e| matches!(e, Event::IncomingCall { .. }))
            .count(),
        1
    );
    assert_eq!(h.statuses(), vec![100, 100]);
    let call = h.take_call();
    h.answer(call);
    let tag = to_tag(h.last());
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    h.udp(&in_dialog("BYE", 2, &tag, "z9hG4bKbye", "", ""));
    h.udp(&in_dialog("BYE", 2, &tag, "z9hG4bKbye", "", ""));
    assert_eq!(
        h.statuses(),
        vec![100, 100, 200, 200, 200],
        "the duplicate BYE gets the stored 200"
    );
    assert_eq!(h.ended().len(), 1);
}

#[test]
fn ok_is_retransmitted_until_ack_and_a_missing_ack_ends_the_call() {
    let mut h = Harness::new();
    let (_call, tag) = answered(&mut h, "");
    h.advance(Duration::from_millis(1600));
    assert_eq!(
        h.statuses(),
        vec![100, 200, 200, 200],
        "T1 and 2*T1 retransmissions"
    );
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    h.advance(Duration::from_secs(60));
    assert_eq!(h.statuses().len(), 4, "nothing after the ACK");

    let mut h = Harness::new();
    answered(&mut h, "");
    h.advance(Duration::from_secs(33));
    let bye = h
        .requests
        .iter()
        .find(|(_, r)| r.method == Method::Bye)
        .expect("BYE after 64*T1 without ACK");
    assert_eq!(bye.0.addr, peer());
    h.advance(Duration::from_secs(40));
    assert_eq!(
        h.ended(),
        vec![(EndCause::NoAck, Some(200))],
        "BYE unanswered: ended after its timeout"
    );
}

#[test]
fn cancel_before_answer_gives_487() {
    let mut h = Harness::new();
    h.udp(&invite("z9hG4bKinv", ""));
    let cancel = "CANCEL sip:ivr@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKinv\r\nMax-Forwards: 70\r\n\
                  From: <sip:caller@10.0.0.2>;tag=ft\r\nTo: <sip:ivr@10.0.0.1>\r\nCall-ID: call-1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    h.udp(cancel);
    assert_eq!(h.statuses(), vec![100, 200, 487]);
    assert_eq!(h.ended(), vec![(EndCause::Cancelled, Some(487))]);
    let stray = cancel.replace("z9hG4bKinv", "z9hG4bKother");
    h.udp(&stray);
    assert_eq!(h.last().status, 481);
}

#[test]
fn unknown_dialogs_get_481_and_merged_requests_482() {
    let mut h = Harness::new();
    h.udp(&in_dialog("BYE", 2, "nosuch", "z9hG4bKb1", "", ""));
    assert_eq!(h.last().status, 481);
    h.udp(&in_dialog("INVITE", 2, "nosuch", "z9hG4bKb2", "", ""));
    assert_eq!(h.last().status, 481);
    h.udp(&invite("z9hG4bKone", ""));
    h.udp(&invite("z9hG4bKtwo", ""));
    assert_eq!(h.last().status, 482);
}

#[test]
fn session_timers() {
    let mut h = Harness::new();
    h.udp(&invite(
        "z9hG4bKinv",
        "Supported: timer\r\nSession-Expires: 30\r\n",
    ));
    assert_eq!(h.last().status, 422);
    assert_eq!(h.last().headers.get(&HeaderName::MinSe), Some("90"));

    let mut h = Harness::new();
    let (_call, tag) = answered(
        &mut h,
        "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n",
    );
    assert_eq!(
        h.last().headers.get(&HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert_eq!(h.last().headers.get(&HeaderName::Require), Some("timer"));
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    h.advance(Duration::from_secs(59));
    h.udp(&in_dialog(
        "UPDATE",
        2,
        &tag,
        "z9hG4bKupd",
        "Session-Expires: 90;refresher=uac\r\n",
        "",
    ));
    assert_eq!(h.last().status, 200, "a refresh UPDATE is answered");
    h.advance(Duration::from_secs(59));
    assert!(h.requests.is_empty(), "refreshed: no BYE yet");
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.requests.last().map(|(_, r)| r.method.clone()),
        Some(Method::Bye),
        "no refresh in 90-30 s: BYE"
    );
}

#[test]
fn we_refresh_when_the_caller_does_not_support_timers() {
    let mut h = Harness::new();
    let (_call, tag) = answered(&mut h, "Allow: INVITE, ACK, BYE, UPDATE\r\n");
    assert_eq!(
        h.last().headers.get(&HeaderName::SessionExpires),
        Some("1800;refresher=uas")
    );
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    h.advance(Duration::from_secs(901));
    let (_, update) = h.requests.last().expect("a refresh at half the interval");
    assert_eq!(update.method, Method::Update);
    assert_eq!(update.headers.get(&HeaderName::CSeq), Some("1 UPDATE"));
    assert_eq!(
        update.headers.get(&HeaderName::SessionExpires),
        Some("1800;refresher=uac"),
        "RFC 4028 §7.4: we stay the refresher, and are this request's UAC"
    );
}

#[test]
fn reinvite_offer_is_answered_and_acknowledged() {
    let mut h = Harness::new();
    let (call, tag) = answered(&mut h, "");
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    let hold = SDP.replace(
        "m=audio 4000 RTP/AVP 0\r\n",
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
    );
    h.udp(&in_dialog(
        "INVITE",
        2,
        &tag,
        "z9hG4bKre",
        "Content-Type: application/sdp\r\n",
        &hold,
    ));
    let offer = h.events.iter().find_map(|e| match e {
        Event::Offer { call: c, offer } if *c == call => offer.clone(),
        _ => None,
    });
    assert_eq!(offer.as_deref(), Some(hold.as_bytes()));
    h.ep.answer_offer(h.now, call, Bytes::from_static(b"v=0\r\n"));
    h.drain();
    assert_eq!(h.statuses(), vec![100, 200, 100, 200]);
    h.udp(&in_dialog("INVITE", 3, &tag, "z9hG4bKre2", "", ""));
    assert_eq!(
        h.last().status,
        491,
        "a second offer while the first is unacknowledged"
    );
    h.udp(&in_dialog("ACK", 3, &tag, "z9hG4bKre2", "", ""));
    h.udp(&in_dialog("ACK", 2, &tag, "z9hG4bKack2", "", ""));
    let before = h.sent.len();
    h.advance(Duration::from_secs(10));
    assert_eq!(
        h.sent.len(),
        before,
        "re-INVITE 2xx not retransmitted after its ACK"
    );
}

#[test]
fn reliable_provisional_is_retransmitted_until_prack() {
    let mut h = Harness::new();
    h.udp(&invite("z9hG4bKinv", "Supported: 100rel\r\n"));
    let call = h.take_call();
    h.ep.ring(h.now, call, None);
    h.drain();
    let ringing = h.last().clone();
    assert_eq!(
        (ringing.status, ringing.headers.get(&HeaderName::RSeq)),
        (180, Some("1"))
    );
    assert_eq!(ringing.headers.get(&HeaderName::Require), Some("100rel"));
    h.advance(Duration::from_millis(600));
    assert_eq!(h.statuses(), vec![100, 180, 180]);
    let tag = to_tag(&ringing);
    h.udp(&in_dialog(
        "PRACK",
        2,
        &tag,
        "z9hG4bKpr",
        "RAck: 1 1 INVITE\r\n",
        "",
    ));
    assert_eq!(h.last().status, 200);
    let before = h.sent.len();
    h.advance(Duration::from_secs(5));
    assert_eq!(h.sent.len(), before);
    h.udp(&in_dialog(
        "PRACK",
        3,
        &tag,
        "z9hG4bKpr2",
        "RAck: 7 1 INVITE\r\n",
        "",
    ));
    assert_eq!(h.last().status, 481);
}

#[test]
fn info_options_and_validation() {
    let mut h = Harness::new();
    let (call, tag) = answered(&mut h, "");
    h.udp(&in_dialog(
        "INFO",
        2,
        &tag,
        "z9hG4bKi",
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert_eq!(h.last().status, 200);
    assert!(h.events.iter().any(|e| matches!(e, Event::Info { call: c, content_type, .. } if *c == call && content_type == "application/dtmf-relay")));
    h.udp(&in_dialog("INFO", 2, &tag, "z9hG4bKi2", "", ""));
    assert_eq!(h.last().status, 500, "CSeq not above the last one");

    let options = "OPTIONS sip:10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKo;rport\r\nMax-Forwards: 0\r\n\
                   From: <sip:a@10.0.0.2>;tag=x\r\nTo: <sip:10.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    h.udp(options);
    let (target, ok) = h.sent.last().unwrap();
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers
            .get(&HeaderName::Allow)
            .unwrap()
            .contains("INVITE")
    );
    assert!(
        ok.headers
            .get(&HeaderName::Accept)
            .unwrap()
            .contains("application/sdp")
    );
    assert_eq!(
        ok.headers.get(&HeaderName::AllowEvents),
        Some("message-summary, refer")
    );
    assert!(
        ok.headers
            .get(&HeaderName::Via)
            .unwrap()
            .contains("rport=5070")
    );
    assert_eq!(target.addr, peer());

    let mut h = Harness::new();
    h.udp(&invite("z9hG4bKinv", "").replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(h.last().status, 483);
    h.udp("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5999;branch=z9hG4bKbad\r\nContent-Length: 5\r\n\r\n");
    let (target, bad) = h.sent.last().unwrap();
    assert_eq!(
        (bad.status, bad.reason.as_str()),
        (400, "Content-Length exceeds the message")
    );
    assert_eq!(target.addr.port(), 5999, "no rport: the Via port");
    let before = h.sent.len();
    h.udp("INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
    h.udp("\u{0}\u{1}garbage");
    assert_eq!(h.sent.len(), before, "unroutable garbage is dropped");
}

#[test]
fn tcp_responses_use_the_connection() {
    let mut h = Harness::new();
    h.send(
        Transport::Tcp,
        &invite("z9hG4bKinv", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP"),
    );
    let (target, trying) = h.sent.last().unwrap();
    assert_eq!(
        (trying.status, target.conn, target.transport),
        (100, Some(ConnId(9)), Transport::Tcp)
    );
    let call = h.take_call();
    h.answer(call);
    h.advance(Duration::from_millis(600));
    assert_eq!(
        h.statuses(),
        vec![100, 200, 200],
        "RFC 3261 §13.3.1.4: 2xx retransmitted on TCP too"
    );
    let tag = to_tag(h.last());
    let ack = in_dialog("ACK", 1, &tag, "z9hG4bKack", "", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    h.send(Transport::Tcp, &ack);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.statuses().len(), 3, "nothing after the ACK");
    assert!(
        h.sent.iter().all(|(t, _)| t.conn == Some(ConnId(9))),
        "all on the caller's connection"
    );
}

fn register(branch: &str, cseq: u32, extra: &str) -> String {
    format!(
        "REGISTER sip:herald.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@herald.local>;tag=r1\r\nTo: <sip:alice@herald.local>\r\nCall-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice@10.0.0.2:5070>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn authorization(h: &Harness, password: &str, nc: u32, algorithm: &str) -> String {
    let challenges: Vec<&str> = h
        .last()
        .headers
        .get_all(&HeaderName::WwwAuthenticate)
        .collect();
    let challenge = challenges
        .iter()
        .find(|c| c.contains(&format!("algorithm={algorithm}")))
        .expect("a challenge for the algorithm");
    let challenge = DigestChallenge::parse(challenge).unwrap();
    let value = challenge
        .authorization(
            "REGISTER",
            "sip:herald.local",
            "alice",
            ClientSecret::Password(password),
            "cn0nce",
            NonceCount::new(nc).unwrap(),
        )
        .unwrap();
    format!("Authorization: {value}\r\n")
}

#[test]
fn register_with_digest_sha256_and_md5() {
    for algorithm in ["SHA-256", "MD5"] {
        let mut h = Harness::new();
        h.udp(&register("z9hG4bKr1", 1, ""));
        assert_eq!(h.last().status, 401);
        assert_eq!(
            h.last().headers.count(&HeaderName::WwwAuthenticate),
            2,
            "one challenge per algorithm"
        );
        let auth = authorization(&h, "secret", 1, algorithm);
        h.udp(&register("z9hG4bKr2", 2, &auth));
        assert_eq!(h.last().status, 200, "{algorithm}");
        assert_eq!(
            h.last().headers.get(&HeaderName::Contact),
            Some("<sip:alice@10.0.0.2:5070>;expires=3600")
        );
        let bindings = h.ep.bindings("sip:alice@herald.local", h.now);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].source, Some(peer()));
        assert!(h.events.iter().any(
            |e| matches!(e, Event::Registration { aor, .. } if aor == "sip:alice@herald.local")
        ));
        h.udp(&register("z9hG4bKr3", 3, &auth));
        assert_eq!(
            h.last().status,
            401,
            "a replayed nonce count is re-challenged"
        );
    }
}

#[test]
fn register_failures() {
    let mut h = Harness::new();
    h.udp(&register("z9hG4bKr1", 1, ""));
    let wrong = authorization(&h, "guess", 1, "SHA-256");
    h.udp(&register("z9hG4bKr2", 2, &wrong));
    assert_eq!(h.last().status, 403);
    let auth = authorization_from(&h, 1);
    let short = format!("{auth}Expires: 10\r\n");
    h.udp(&register("z9hG4bKr3", 3, &short));
    assert_eq!(
        (
            h.last().status,
            h.last().headers.get(&HeaderName::MinExpires)
        ),
        (423, Some("60"))
    );
    h.advance(Duration::from_secs(301));
    h.udp(&register("z9hG4bKr4", 4, &authorization_from(&h, 2)));
    assert_eq!(h.last().status, 401);
    assert!(
        h.last()
            .headers
            .get(&HeaderName::WwwAuthenticate)
            .unwrap()
            .contains("stale=true"),
        "expired nonce: stale"
    );
    let foreign = register("z9hG4bKr5", 5, "").replace(
        "To: <sip:alice@herald.local>",
        "To: <sip:alice@elsewhere.example>",
    );
    h.udp(&foreign);
    assert_eq!(h.last().status, 404);
}

/// An Authorization header for the first challenge that `h` received.
fn authorization_from(h: &Harness, nc: u32) -> String {
    let first = h
        .sent
        .iter()
        .find(|(_, r)| r.status == 401)
        .map(|(_, r)| r.clone())
        .unwrap();
    let mut tmp = Harness::new();
    tmp.sent.push((
        Target {
            transport: Transport::Udp,
            addr: peer(),
            conn: None,
        },
        first,
    ));
    authorization(&tmp, "secret", nc, "SHA-256")
}

mod outbound;
mod refer;
mod subscribe;
mod upstream;
