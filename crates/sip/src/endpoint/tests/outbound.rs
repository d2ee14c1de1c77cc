//! Outbound legs (the UAC side of INVITE) in virtual time: the test plays the callee, or the
//! trunk that challenges.

use proptest::prelude::*;

use super::*;
use crate::auth::{DigestAuthenticator, DigestCredentials, DigestHash, DigestRequest, Realm};
use crate::message::headers::{NameAddr, Via};

const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
const CALLEE_CONTACT: &str = "<sip:agent@10.0.0.2:5070>";
const FROM: &str = "\"+4930123\" <sip:+4930123@herald.local>";

fn trunk() -> Target {
    Target {
        transport: Transport::Udp,
        addr: peer(),
        conn: None,
    }
}

fn outbound_call() -> OutboundCall {
    OutboundCall {
        target: trunk(),
        local: local(),
        request_uri: "sip:agent@10.0.0.2:5070".into(),
        from: FROM.into(),
        to: "<sip:agent@herald.local>".into(),
        sdp: Bytes::from_static(SDP.as_bytes()),
        headers: vec![(
            HeaderName::PAssertedIdentity,
            "<sip:+4930123@herald.local>".into(),
        )],
        credentials: None,
    }
}

/// Places a leg; returns it with its INVITE.
fn place(h: &mut Harness, call: OutboundCall) -> (CallRef, Request) {
    let leg = h.ep.invite(h.now, call);
    h.drain();
    (leg, h.last_request(Method::Invite))
}

/// The callee's answer headers: its Contact, SDP, and `extra`.
fn answer_headers<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        ("Contact", CALLEE_CONTACT),
        ("Content-Type", "application/sdp"),
    ];
    headers.extend_from_slice(extra);
    headers
}

/// Places a leg and answers it with 200 (callee tag `callee`); returns it with its INVITE.
fn answered_leg(h: &mut Harness, extra: &[(&str, &str)]) -> (CallRef, Request) {
    let (leg, invite) = place(h, outbound_call());
    h.reply(&invite, 200, Some("callee"), &answer_headers(extra), ANSWER);
    (leg, invite)
}

fn branch(req: &Request) -> String {
    let via = header(req, HeaderName::Via).expect("a Via");
    Via::parse(via)
        .expect("our Via parses")
        .branch()
        .expect("a branch")
        .to_owned()
}

fn tag(value: Option<&str>) -> Option<String> {
    NameAddr::parse(value?).ok()?.tag().map(str::to_owned)
}

fn progress(h: &Harness) -> Vec<(u16, Option<Bytes>)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { status, sdp, .. } => Some((*status, sdp.clone())),
            _ => None,
        })
        .collect()
}

fn answers(h: &Harness) -> Vec<Option<Bytes>> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Answered { sdp, .. } => Some(sdp.clone()),
            _ => None,
        })
        .collect()
}

fn sdp(text: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(text.as_bytes()))
}

/// A request from the callee in the leg's dialog (its tag `callee`, ours from the INVITE).
fn from_callee(invite: &Request, method: &str, cseq: u32, extra: &str, body: &str) -> String {
    let call_id = header(invite, HeaderName::CallId).unwrap_or("");
    let ours = tag(header(invite, HeaderName::From)).unwrap_or_default();
    format!(
        "{method} sip:herald@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK{method}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:agent@herald.local>;tag=callee\r\nTo: {FROM};tag={ours}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: {CALLEE_CONTACT}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn answered_leg_is_acked_through_the_route_set_and_hung_up_with_bye() {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    assert_eq!(h.requests.last().map(|(t, _)| *t), Some(trunk()));
    assert_eq!(invite.uri, "sip:agent@10.0.0.2:5070");
    let via = header(&invite, HeaderName::Via).unwrap();
    assert!(
        via.starts_with("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK") && via.ends_with(";rport"),
        "{via}"
    );
    let from = header(&invite, HeaderName::From).unwrap();
    assert!(from.starts_with(&format!("{FROM};tag=")), "{from}");
    assert_eq!(
        header(&invite, HeaderName::To),
        Some("<sip:agent@herald.local>")
    );
    let call_id = header(&invite, HeaderName::CallId).unwrap();
    assert!(call_id.len() == 32 && call_id.bytes().all(|b| b.is_ascii_hexdigit()));
    for (name, value) in [
        (HeaderName::CSeq, "1 INVITE"),
        (HeaderName::MaxForwards, "70"),
        (HeaderName::Contact, "<sip:herald@10.0.0.1:5060>"),
        (HeaderName::Supported, "timer"),
        (HeaderName::SessionExpires, "1800"),
        (HeaderName::MinSe, "90"),
        (HeaderName::AllowEvents, "message-summary, refer"),
        (HeaderName::UserAgent, "Herald"),
        (HeaderName::ContentType, "application/sdp"),
        (HeaderName::PAssertedIdentity, "<sip:+4930123@herald.local>"),
    ] {
        assert_eq!(header(&invite, name.clone()), Some(value), "{name}");
    }
    let allow = header(&invite, HeaderName::Allow).unwrap();
    assert!(allow.contains("INVITE") && allow.contains("REFER") && allow.contains("UPDATE"));
    assert_eq!(&invite.body[..], SDP.as_bytes());

    h.reply(&invite, 100, None, &[], "");
    assert!(h.events.is_empty(), "100 Trying is not progress");
    let rr = [
        ("Record-Route", "<sip:p1.example.com;lr>"),
        ("Record-Route", "<sip:p2.example.com;lr>"),
    ];
    h.reply(&invite, 200, Some("callee"), &answer_headers(&rr), ANSWER);
    let ack = h.last_request(Method::Ack);
    assert_eq!(h.requests.last().map(|(t, _)| *t), Some(trunk()));
    assert_eq!(ack.uri, "sip:agent@10.0.0.2:5070", "the remote target");
    let routes: Vec<_> = ack.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(
        routes,
        vec!["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"],
        "the route set, reversed"
    );
    assert_eq!(header(&ack, HeaderName::CSeq), Some("1 ACK"));
    assert_eq!(header(&ack, HeaderName::From), Some(from));
    assert_eq!(tag(header(&ack, HeaderName::To)).as_deref(), Some("callee"));
    assert_eq!(header(&ack, HeaderName::CallId), Some(call_id));
    assert_ne!(
        branch(&ack),
        branch(&invite),
        "an ACK for a 2xx is a new transaction"
    );
    assert_eq!(answers(&h), vec![sdp(ANSWER)]);

    h.ep.hangup(h.now, leg);
    h.drain();
    let bye = h.last_request(Method::Bye);
    assert_eq!(bye.uri, "sip:agent@10.0.0.2:5070");
    assert_eq!(bye.headers.get_all(&HeaderName::Route).count(), 2);
    assert_eq!(header(&bye, HeaderName::CSeq), Some("2 BYE"));
    h.reply(&bye, 200, None, &[], "");
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(200))]);
    h.advance(Duration::from_secs(64));
    assert_eq!((h.ep.stats().calls, h.ep.stats().transactions), (0, 0));
}

#[test]
fn ringing_then_early_media_are_progress_events() {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    let contact = [("Contact", CALLEE_CONTACT)];
    h.reply(&invite, 180, Some("callee"), &contact, "");
    let early = answer_headers(&[]);
    h.reply(&invite, 183, Some("callee"), &early, ANSWER);
    h.reply(&invite, 183, Some("callee"), &early, ANSWER);
    assert_eq!(
        progress(&h),
        vec![(180, None), (183, sdp(ANSWER)), (183, None)],
        "the early answer comes once, with the first provisional response that carries it"
    );
    h.reply(&invite, 200, Some("callee"), &early, ANSWER);
    assert_eq!(answers(&h), vec![sdp(ANSWER)]);
    assert!(h.events.iter().all(|e| match e {
        Event::Progress { call, .. } | Event::Answered { call, .. } => *call == leg,
        _ => true,
    }));
}

#[test]
fn busy_ends_the_leg_unanswered_and_the_transaction_acks_it() {
    let mut h = Harness::new();
    let (_leg, invite) = place(&mut h, outbound_call());
    h.reply(
        &invite,
        180,
        Some("callee"),
        &[("Contact", CALLEE_CONTACT)],
        "",
    );
    h.reply(&invite, 486, Some("callee"), &[], "");
    assert_eq!(h.ended(), vec![(EndCause::Unanswered, Some(486))]);
    let ack = h.last_request(Method::Ack);
    assert_eq!(
        branch(&ack),
        branch(&invite),
        "RFC 3261 §17.1.1.3: same branch"
    );
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(header(&ack, HeaderName::CSeq), Some("1 ACK"));
    assert_eq!(tag(header(&ack, HeaderName::To)).as_deref(), Some("callee"));
    h.reply(&invite, 486, Some("callee"), &[], "");
    assert_eq!(
        h.sent_requests(Method::Ack).len(),
        2,
        "a retransmitted 486 gets the ACK again"
    );
    h.advance(Duration::from_secs(40));
    assert_eq!((h.ep.stats().calls, h.ep.stats().transactions), (0, 0));
}

#[test]
fn timer_b_ends_an_unanswered_leg_with_408() {
    let mut h = Harness::new();
    place(&mut h, outbound_call());
    h.advance(Duration::from_millis(31_999));
    assert!(h.ended().is_empty());
    assert_eq!(
        h.sent_requests(Method::Invite).len(),
        7,
        "Timer A: 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s"
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.ended(), vec![(EndCause::Unanswered, Some(408))], "64*T1");
    assert_eq!(h.ep.stats().transactions, 0);
}

#[test]
fn cancel_waits_for_the_first_provisional_response() {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    h.ep.hangup(h.now, leg);
    h.drain();
    assert!(
        h.sent_requests(Method::Cancel).is_empty(),
        "RFC 3261 §9.1: no CANCEL before a provisional response"
    );
    h.reply(
        &invite,
        180,
        Some("callee"),
        &[("Contact", CALLEE_CONTACT)],
        "",
    );
    let cancel = h.last_request(Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(branch(&cancel), branch(&invite));
    assert_eq!(header(&cancel, HeaderName::CSeq), Some("1 CANCEL"));
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        assert_eq!(header(&cancel, name.clone()), header(&invite, name));
    }
    assert!(progress(&h).is_empty(), "no progress after hangup");
    h.reply(&cancel, 200, None, &[], "");
    assert!(
        h.ended().is_empty(),
        "the 200 to CANCEL does not end the INVITE"
    );
    h.reply(&invite, 487, Some("callee"), &[], "");
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(487))]);
    assert_eq!(branch(&h.last_request(Method::Ack)), branch(&invite));
}

#[test]
fn cancel_after_ringing_is_sent_at_once() {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    h.reply(
        &invite,
        180,
        Some("callee"),
        &[("Contact", CALLEE_CONTACT)],
        "",
    );
    h.ep.hangup(h.now, leg);
    h.drain();
    let cancel = h.last_request(Method::Cancel);
    h.reply(&cancel, 200, None, &[], "");
    h.reply(&invite, 487, Some("callee"), &[], "");
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(487))]);
    assert_eq!(progress(&h), vec![(180, None)]);

    // A peer that never answers the INVITE after the CANCEL: 64*T1 later it is over.
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    h.reply(&invite, 100, None, &[], "");
    h.ep.hangup(h.now, leg);
    h.drain();
    assert_eq!(
        h.sent_requests(Method::Cancel).len(),
        1,
        "100 Trying counts"
    );
    h.advance(Duration::from_secs(33));
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(408))]);
}

#[test]
fn hangup_before_any_response_ends_at_timer_b_without_cancel() {
    let mut h = Harness::new();
    let (leg, _invite) = place(&mut h, outbound_call());
    h.ep.hangup(h.now, leg);
    h.drain();
    h.advance(Duration::from_secs(33));
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(408))]);
    assert!(h.sent_requests(Method::Cancel).is_empty());
}

#[test]
fn ok_crossing_our_cancel_is_acked_then_byed() {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, outbound_call());
    h.reply(
        &invite,
        180,
        Some("callee"),
        &[("Contact", CALLEE_CONTACT)],
        "",
    );
    h.ep.hangup(h.now, leg);
    h.drain();
    let cancel = h.last_request(Method::Cancel);
    h.reply(&invite, 200, Some("callee"), &answer_headers(&[]), ANSWER);
    h.reply(&cancel, 200, None, &[], "");
    let ack = h.last_request(Method::Ack);
    let bye = h.last_request(Method::Bye);
    assert_eq!(header(&ack, HeaderName::CSeq), Some("1 ACK"));
    assert_eq!(ack.uri, "sip:agent@10.0.0.2:5070");
    assert_eq!(tag(header(&bye, HeaderName::To)).as_deref(), Some("callee"));
    let ack_at = h.requests.iter().position(|(_, r)| r.method == Method::Ack);
    let bye_at = h.requests.iter().position(|(_, r)| r.method == Method::Bye);
    assert!(ack_at < bye_at, "ACK first");
    assert!(answers(&h).is_empty(), "the application hung up already");
    assert!(h.ended().is_empty(), "until the BYE is answered");
    h.reply(&bye, 200, None, &[], "");
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(200))]);
}

/// A trunk's digest server, its realm, and the unix time the harness starts at.
fn trunk_auth() -> (DigestAuthenticator, Realm, u64) {
    let server = DigestAuthenticator::new(ServerSecret::new([9; 32]), DigestConfig::default());
    (server, Realm::new("trunk.example").unwrap(), 1_700_000_000)
}

fn with_credentials(mut call: OutboundCall) -> OutboundCall {
    call.credentials = Some(ClientCredentials {
        username: "trunkuser".into(),
        password: "pw".into(),
    });
    call
}

/// Proxy-Authenticate lines for a 407.
fn proxy_challenges(values: &[String]) -> Vec<(&str, &str)> {
    values
        .iter()
        .map(|v| ("Proxy-Authenticate", v.as_str()))
        .collect()
}

#[test]
fn proxy_challenge_is_answered_once_with_a_correct_digest() {
    let mut h = Harness::new();
    let (mut server, realm, unix) = trunk_auth();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (_leg, invite) = place(&mut h, with_credentials(outbound_call()));
    let challenges = server.challenges(&realm, false, unix, &mut rng);
    h.reply(
        &invite,
        407,
        Some("proxy"),
        &proxy_challenges(&challenges),
        "",
    );
    assert_eq!(
        branch(&h.last_request(Method::Ack)),
        branch(&invite),
        "the 407 is ACKed by its transaction"
    );
    let retry = h.last_request(Method::Invite);
    assert_ne!(branch(&retry), branch(&invite));
    assert_eq!(header(&retry, HeaderName::CSeq), Some("2 INVITE"));
    for name in [HeaderName::CallId, HeaderName::From, HeaderName::To] {
        assert_eq!(header(&retry, name.clone()), header(&invite, name));
    }
    assert_eq!(retry.body, invite.body);
    let value = header(&retry, HeaderName::ProxyAuthorization).expect("credentials");
    let creds = DigestCredentials::parse(value).unwrap();
    assert_eq!(
        creds.algorithm(),
        Algorithm::Sha256,
        "the stronger challenge"
    );
    let request = DigestRequest {
        realm: &realm,
        method: "INVITE",
        request_uri: &retry.uri,
    };
    let lookup = |user: &str, hash: DigestHash| {
        (user == "trunkuser").then(|| Ha1::from_password(hash, "trunkuser", "trunk.example", "pw"))
    };
    server
        .verify(&creds, &request, lookup, unix + 1)
        .expect("the trunk accepts the digest");
    h.reply(&retry, 200, Some("callee"), &answer_headers(&[]), ANSWER);
    let ack = h.last_request(Method::Ack);
    assert_eq!(header(&ack, HeaderName::CSeq), Some("2 ACK"));
    assert_eq!(
        header(&ack, HeaderName::ProxyAuthorization),
        Some(value),
        "RFC 3261 §13.2.2.4: the ACK carries the INVITE's credentials"
    );
    assert_eq!(answers(&h).len(), 1);
}

#[test]
fn a_second_challenge_fails_the_leg_unless_the_nonce_was_stale() {
    let mut h = Harness::new();
    let (mut server, realm, unix) = trunk_auth();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (_leg, invite) = place(&mut h, with_credentials(outbound_call()));
    let first = server.challenges(&realm, false, unix, &mut rng);
    h.reply(&invite, 407, Some("proxy"), &proxy_challenges(&first), "");
    let retry = h.last_request(Method::Invite);
    let stale = server.challenges(&realm, true, unix, &mut rng);
    h.reply(&retry, 407, Some("proxy"), &proxy_challenges(&stale), "");
    let third = h.last_request(Method::Invite);
    assert_eq!(
        header(&third, HeaderName::CSeq),
        Some("3 INVITE"),
        "stale=true: answered again"
    );
    let again = server.challenges(&realm, false, unix, &mut rng);
    h.reply(&third, 407, Some("proxy"), &proxy_challenges(&again), "");
    assert_eq!(h.ended(), vec![(EndCause::Unanswered, Some(407))]);
    assert_eq!(h.sent_requests(Method::Invite).len(), 3);

    let mut h = Harness::new();
    let (_leg, invite) = place(&mut h, outbound_call());
    h.reply(&invite, 407, Some("proxy"), &proxy_challenges(&first), "");
    assert_eq!(
        h.ended(),
        vec![(EndCause::Unanswered, Some(407))],
        "no credentials: a challenge fails the leg"
    );
}

#[test]
fn retransmitted_2xx_is_acked_again_and_another_forks_2xx_is_ended() {
    let mut h = Harness::new();
    let (_leg, invite) = answered_leg(&mut h, &[]);
    let ack = h.last_request(Method::Ack);
    h.reply(&invite, 200, Some("callee"), &answer_headers(&[]), ANSWER);
    assert_eq!(h.sent_requests(Method::Ack), vec![ack.clone(), ack.clone()]);
    h.advance(Duration::from_secs(33));
    assert_eq!(
        h.ep.stats().transactions,
        0,
        "the INVITE transaction is gone"
    );
    h.reply(&invite, 200, Some("callee"), &answer_headers(&[]), ANSWER);
    assert_eq!(
        h.sent_requests(Method::Ack).len(),
        3,
        "RFC 6026: the core still ACKs a retransmitted 2xx"
    );
    assert_eq!(h.last_request(Method::Ack), ack);
    assert_eq!(answers(&h).len(), 1);

    // Another fork answers, before and after the INVITE transaction ended.
    for (fork, wait) in [("fork2", 0), ("fork3", 33)] {
        let mut h = Harness::new();
        let (leg, invite) = answered_leg(&mut h, &[]);
        h.advance(Duration::from_secs(wait));
        let contact = [("Contact", "<sip:other@10.0.0.3>")];
        h.reply(&invite, 200, Some(fork), &contact, ANSWER);
        let ack = h.last_request(Method::Ack);
        let bye = h.last_request(Method::Bye);
        for req in [&ack, &bye] {
            assert_eq!(req.uri, "sip:other@10.0.0.3");
            assert_eq!(tag(header(req, HeaderName::To)).as_deref(), Some(fork));
        }
        assert_eq!(header(&bye, HeaderName::CSeq), Some("2 BYE"));
        h.reply(&bye, 200, None, &[], "");
        assert!(h.ended().is_empty(), "the first fork's call goes on");
        h.ep.hangup(h.now, leg);
        h.drain();
        let ours = h.last_request(Method::Bye);
        assert_eq!(
            tag(header(&ours, HeaderName::To)).as_deref(),
            Some("callee")
        );
    }
}

#[test]
fn callee_bye_and_in_dialog_requests_on_the_leg() {
    let mut h = Harness::new();
    let (leg, invite) = answered_leg(&mut h, &[]);
    h.udp(&from_callee(
        &invite,
        "INFO",
        1,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert_eq!(h.last().status, 200);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Info { call, .. } if *call == leg))
    );
    h.udp(&from_callee(
        &invite,
        "PRACK",
        2,
        "RAck: 1 1 INVITE\r\n",
        "",
    ));
    assert_eq!(h.last().status, 481, "we never send reliable provisionals");
    h.udp(&from_callee(&invite, "OPTIONS", 3, "", ""));
    assert_eq!(h.last().status, 200);
    h.udp(&from_callee(&invite, "BYE", 4, "", ""));
    assert_eq!(h.last().status, 200);
    assert_eq!(h.ended(), vec![(EndCause::CallerBye, Some(200))]);
    h.udp(&from_callee(&invite, "BYE", 5, "", ""));
    assert_eq!(h.last().status, 481, "the dialog is gone");
}

#[test]
fn callee_transfers_the_leg_with_refer() {
    let mut h = Harness::new();
    let (leg, invite) = answered_leg(&mut h, &[]);
    h.udp(&from_callee(
        &invite,
        "REFER",
        1,
        "Refer-To: <sip:+4940555@herald.local>\r\n",
        "",
    ));
    assert_eq!(h.last().status, 202);
    let notify = h.last_request(Method::Notify);
    assert_eq!(h.requests.last().map(|(t, _)| *t), Some(trunk()));
    assert_eq!(
        notify.uri, "sip:agent@10.0.0.2:5070",
        "the callee's Contact"
    );
    assert_eq!(
        header(&notify, HeaderName::CSeq),
        Some("2 NOTIFY"),
        "after the INVITE"
    );
    assert_eq!(&notify.body[..], b"SIP/2.0 100 Trying\r\n");
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Refer { call, refer_to, .. } if *call == leg && refer_to == "sip:+4940555@herald.local"
    )));
    h.ep.refer_progress(h.now, leg, 503);
    h.drain();
    let done = h.last_request(Method::Notify);
    assert_eq!(&done.body[..], b"SIP/2.0 503 Service Unavailable\r\n");
    assert_eq!(
        header(&done, HeaderName::SubscriptionState),
        Some("terminated;reason=noresource")
    );
}

#[test]
fn callee_reinvite_to_hold_is_an_offer_on_the_leg() {
    let mut h = Harness::new();
    let (leg, invite) = answered_leg(&mut h, &[]);
    let hold = ANSWER.replace("RTP/AVP 0\r\n", "RTP/AVP 0\r\na=sendonly\r\n");
    h.udp(&from_callee(
        &invite,
        "INVITE",
        7,
        "Content-Type: application/sdp\r\n",
        &hold,
    ));
    assert_eq!(h.last().status, 100);
    let offer = h.events.iter().find_map(|e| match e {
        Event::Offer { call, offer } if *call == leg => offer.clone(),
        _ => None,
    });
    assert_eq!(offer.as_deref(), Some(hold.as_bytes()));
    h.ep.answer_offer(h.now, leg, Bytes::from_static(b"v=0\r\n"));
    h.drain();
    let ok = h.last().clone();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"v=0\r\n"[..]));
    let ours = tag(header(&invite, HeaderName::From));
    assert_eq!(tag(ok.headers.get(&HeaderName::To)), ours);
    h.udp(&from_callee(&invite, "ACK", 7, "", ""));
    let before = h.sent.len();
    h.advance(Duration::from_secs(10));
    assert_eq!(h.sent.len(), before, "ACKed: no retransmission of the 200");
}

#[test]
fn an_offer_pending_when_the_call_ends_is_answered_487() {
    for callee_hangs_up in [false, true] {
        let mut h = Harness::new();
        let (leg, invite) = answered_leg(&mut h, &[]);
        h.udp(&from_callee(
            &invite,
            "INVITE",
            7,
            "Content-Type: application/sdp\r\n",
            ANSWER,
        ));
        assert!(h.events.iter().any(|e| matches!(e, Event::Offer { .. })));
        if callee_hangs_up {
            h.udp(&from_callee(&invite, "BYE", 8, "", ""));
        } else {
            h.ep.hangup(h.now, leg);
            h.drain();
            h.reply(&h.last_request(Method::Bye), 200, None, &[], "");
        }
        let reinvite_final = h
            .sent
            .iter()
            .find(|(_, r)| r.status >= 200 && r.headers.get(&HeaderName::CSeq) == Some("7 INVITE"))
            .map(|(_, r)| r.status);
        assert_eq!(reinvite_final, Some(487), "RFC 3261 §15.1.2");
        h.udp(&from_callee(&invite, "ACK", 7, "", ""));
        h.advance(Duration::from_secs(40));
        assert_eq!(h.ep.stats().transactions, 0);
    }
}

#[test]
fn session_timer_of_the_leg_follows_its_2xx() {
    // We refresh, with UPDATE when the callee allows it.
    let mut h = Harness::new();
    let extra = [
        ("Session-Expires", "90;refresher=uac"),
        ("Allow", "INVITE, ACK, BYE, UPDATE"),
    ];
    let (_leg, _invite) = answered_leg(&mut h, &extra);
    h.advance(Duration::from_secs(44));
    assert!(h.sent_requests(Method::Update).is_empty());
    h.advance(Duration::from_secs(1));
    let update = h.last_request(Method::Update);
    assert_eq!(h.requests.last().map(|(t, _)| *t), Some(trunk()));
    assert_eq!(update.uri, "sip:agent@10.0.0.2:5070");
    assert_eq!(header(&update, HeaderName::CSeq), Some("2 UPDATE"));
    assert_eq!(
        header(&update, HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    h.reply(
        &update,
        200,
        None,
        &[("Session-Expires", "90;refresher=uac")],
        "",
    );
    assert!(h.ended().is_empty());

    // Without UPDATE: a re-INVITE with our last SDP, ACKed.
    let mut h = Harness::new();
    let (_leg, _invite) = answered_leg(&mut h, &[("Session-Expires", "120;refresher=uac")]);
    h.advance(Duration::from_secs(60));
    let reinvite = h.last_request(Method::Invite);
    assert_eq!(header(&reinvite, HeaderName::CSeq), Some("2 INVITE"));
    assert_eq!(&reinvite.body[..], SDP.as_bytes());
    h.reply(&reinvite, 200, None, &answer_headers(&[]), ANSWER);
    assert_eq!(
        header(&h.last_request(Method::Ack), HeaderName::CSeq),
        Some("2 ACK")
    );

    // The callee refreshes: if it does not, we end the call at 90 - 30 s.
    let mut h = Harness::new();
    answered_leg(&mut h, &[("Session-Expires", "90;refresher=uas")]);
    h.advance(Duration::from_secs(59));
    assert!(h.sent_requests(Method::Bye).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);

    // No Session-Expires in the 2xx: no timer at all.
    let mut h = Harness::new();
    answered_leg(&mut h, &[]);
    let before = h.requests.len();
    h.advance(Duration::from_secs(7200));
    assert_eq!(h.requests.len(), before);
}

#[test]
fn a_refresh_reinvite_left_proceeding_is_cancelled_when_the_call_ends() {
    let mut h = Harness::new();
    let (leg, _invite) = answered_leg(&mut h, &[("Session-Expires", "120;refresher=uac")]);
    h.advance(Duration::from_secs(60));
    let reinvite = h.last_request(Method::Invite);
    h.reply(&reinvite, 100, None, &[], "");
    h.ep.hangup(h.now, leg);
    h.drain();
    h.reply(&h.last_request(Method::Bye), 200, None, &[], "");
    assert_eq!(h.ended(), vec![(EndCause::LocalHangup, Some(200))]);
    let cancel = h.last_request(Method::Cancel);
    assert_eq!(branch(&cancel), branch(&reinvite));
    assert_eq!(header(&cancel, HeaderName::CSeq), Some("2 CANCEL"));
    h.advance(Duration::from_secs(40));
    assert_eq!(h.ep.stats().transactions, 0, "nothing is left waiting");
}

#[test]
fn a_leg_to_a_registered_phone_uses_its_connection() {
    let mut h = Harness::new();
    let flow = Target {
        transport: Transport::Tcp,
        addr: peer(),
        conn: Some(ConnId(9)),
    };
    let mut call = outbound_call();
    call.target = flow;
    let (leg, invite) = place(&mut h, call);
    assert!(
        header(&invite, HeaderName::Via)
            .unwrap()
            .starts_with("SIP/2.0/TCP ")
    );
    assert_eq!(
        header(&invite, HeaderName::Contact),
        Some("<sip:herald@10.0.0.1:5060;transport=tcp>")
    );
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.sent_requests(Method::Invite).len(),
        1,
        "no retransmission on TCP"
    );
    let mut ok = Response::to_request(&invite, 200, "OK", Some("callee"));
    ok.headers.push(
        HeaderName::Contact,
        "<sip:agent@10.0.0.2:5070;transport=tcp>",
    );
    h.send(Transport::Tcp, &String::from_utf8(ok.to_bytes()).unwrap());
    h.ep.hangup(h.now, leg);
    h.drain();
    assert!(
        h.requests.iter().all(|(t, _)| *t == flow),
        "all on the phone's flow"
    );
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
}

#[test]
fn a_leg_that_cannot_be_an_invite_fails_at_once() {
    let bad = [
        OutboundCall {
            request_uri: "not a uri".into(),
            ..outbound_call()
        },
        OutboundCall {
            from: format!("{FROM};tag=already"),
            ..outbound_call()
        },
        OutboundCall {
            headers: vec![(
                HeaderName::PAssertedIdentity,
                "<sip:x@y>\r\nX-Evil: 1".into(),
            )],
            ..outbound_call()
        },
    ];
    for call in bad {
        let mut h = Harness::new();
        let leg = h.ep.invite(h.now, call);
        h.drain();
        assert!(h.requests.is_empty());
        assert!(matches!(
            h.events.as_slice(),
            [Event::CallEnded { call, cause: EndCause::Failed, status: None }] if *call == leg
        ));
    }
    let mut h = Harness::new();
    let mut call = outbound_call();
    call.headers.push((HeaderName::ContentLength, "0".into()));
    call.headers
        .push((HeaderName::Via, "SIP/2.0/UDP evil".into()));
    let (_leg, invite) = place(&mut h, call);
    assert_eq!(invite.headers.count(&HeaderName::Via), 1, "ours only");
    assert_eq!(&invite.body[..], SDP.as_bytes());
}

/// One step of a callee (or network) that the leg must survive.
#[derive(Clone, Debug)]
enum Step {
    /// A response to the n-th request the endpoint sent.
    Respond {
        nth: usize,
        status: u16,
        tag: u8,
        contact: bool,
        sdp: bool,
        session: Option<u32>,
    },
    Hangup,
    CalleeBye,
    ReferProgress(u16),
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<usize>(), prop_oneof![100u16..200, 200u16..300, 300u16..700, any::<u16>()],
              0u8..4, any::<bool>(), any::<bool>(), proptest::option::of(0u32..4000))
            .prop_map(|(nth, status, tag, contact, sdp, session)| Step::Respond {
                nth, status, tag, contact, sdp, session,
            }),
        1 => Just(Step::Hangup),
        1 => Just(Step::CalleeBye),
        1 => (0u16..800).prop_map(Step::ReferProgress),
        2 => (0u64..40_000).prop_map(Step::Advance),
    ]
}

fn run_steps(steps: &[Step]) {
    let mut h = Harness::new();
    let (leg, invite) = place(&mut h, with_credentials(outbound_call()));
    let (mut server, realm, unix) = trunk_auth();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for step in steps {
        match step {
            Step::Respond {
                nth,
                status,
                tag,
                contact,
                sdp,
                session,
            } => {
                let sent: Vec<Request> = h
                    .requests
                    .iter()
                    .filter(|(_, r)| r.method != Method::Ack)
                    .map(|(_, r)| r.clone())
                    .collect();
                let Some(req) = sent.get(nth % sent.len().max(1)) else {
                    continue;
                };
                let tag = (*tag > 0).then(|| format!("t{tag}"));
                let mut resp = Response::to_request(req, *status, "X", tag.as_deref());
                if *contact {
                    resp.headers.push(HeaderName::Contact, CALLEE_CONTACT);
                }
                if let Some(interval) = session {
                    resp.headers.push(
                        HeaderName::SessionExpires,
                        format!("{interval};refresher=uac"),
                    );
                }
                if matches!(status, 401 | 407) {
                    let name = if *status == 401 {
                        HeaderName::WwwAuthenticate
                    } else {
                        HeaderName::ProxyAuthenticate
                    };
                    for c in server.challenges(&realm, false, unix, &mut rng) {
                        resp.headers.push(name.clone(), c);
                    }
                }
                if *sdp {
                    resp.headers
                        .push(HeaderName::ContentType, "application/sdp");
                    resp.body = Bytes::from_static(ANSWER.as_bytes());
                }
                let bytes = resp.to_bytes();
                h.udp(&String::from_utf8_lossy(&bytes));
            }
            Step::Hangup => {
                h.ep.hangup(h.now, leg);
                h.drain();
            }
            Step::CalleeBye => h.udp(&from_callee(&invite, "BYE", 90, "", "")),
            Step::ReferProgress(status) => {
                h.ep.refer_progress(h.now, leg, *status);
                h.drain();
            }
            Step::Advance(ms) => h.advance(Duration::from_millis(*ms)),
        }
        if let Some(at) = h.ep.poll_timeout() {
            assert!(at >= h.now, "a deadline in the past");
        }
    }
    // Whatever happened, hanging up and letting the timers run leaves nothing behind.
    h.ep.hangup(h.now, leg);
    h.drain();
    for _ in 0..1000 {
        let Some(at) = h.ep.poll_timeout() else { break };
        h.run_until(at);
    }
    let ended = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::CallEnded { call, .. } if *call == leg))
        .count();
    assert_eq!(ended, 1, "a leg ends exactly once");
    let stats = h.ep.stats();
    assert_eq!((stats.calls, stats.transactions), (0, 0), "{steps:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_responses_to_an_outbound_invite_never_panic(
        steps in proptest::collection::vec(step(), 0..24),
    ) {
        run_steps(&steps);
    }
}
