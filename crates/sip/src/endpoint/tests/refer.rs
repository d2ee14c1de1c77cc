//! REFER in a call's dialog (RFC 3515, RFC 4488) in virtual time: the test plays the caller
//! who transfers.

use super::*;

fn refer(tag: &str, cseq: u32, extra: &str) -> String {
    in_dialog("REFER", cseq, tag, &format!("z9hG4bKref{cseq}"), extra, "")
}

/// An answered and acknowledged inbound call.
fn confirmed(h: &mut Harness) -> (CallRef, String) {
    let (call, tag) = answered(h, "");
    h.udp(&in_dialog("ACK", 1, &tag, "z9hG4bKack", "", ""));
    (call, tag)
}

fn refers(h: &Harness) -> Vec<(String, Option<String>)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Refer {
                refer_to,
                referred_by,
                ..
            } => Some((refer_to.clone(), referred_by.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn refer_is_accepted_notified_and_reported() {
    let mut h = Harness::new();
    let (call, tag) = confirmed(&mut h);
    h.udp(&refer(
        &tag,
        2,
        "Refer-To: <sip:agent7@herald.local>\r\nReferred-By: <sip:caller@10.0.0.2>\r\n",
    ));
    assert_eq!(h.last().status, 202);
    let notify = h.last_request(Method::Notify);
    assert_eq!(h.requests.last().map(|(t, _)| t.addr), Some(peer()));
    assert_eq!(notify.uri, "sip:caller@10.0.0.2:5070");
    for (name, value) in [
        (HeaderName::Event, "refer"),
        (HeaderName::SubscriptionState, "active;expires=60"),
        (HeaderName::ContentType, "message/sipfrag;version=2.0"),
        (HeaderName::CSeq, "1 NOTIFY"),
        (HeaderName::CallId, "call-1"),
    ] {
        assert_eq!(header(&notify, name.clone()), Some(value), "{name}");
    }
    assert_eq!(&notify.body[..], b"SIP/2.0 100 Trying\r\n");
    assert!(
        header(&notify, HeaderName::From)
            .unwrap()
            .ends_with(&format!(";tag={tag}"))
    );
    assert_eq!(
        refers(&h),
        vec![(
            "sip:agent7@herald.local".to_owned(),
            Some("<sip:caller@10.0.0.2>".to_owned())
        )]
    );
    h.reply(&notify, 200, None, &[], "");

    h.ep.refer_progress(h.now, call, 180);
    h.drain();
    let ringing = h.last_request(Method::Notify);
    assert_eq!(&ringing.body[..], b"SIP/2.0 180 Ringing\r\n");
    assert_eq!(
        header(&ringing, HeaderName::SubscriptionState),
        Some("active;expires=60")
    );
    h.reply(&ringing, 200, None, &[], "");

    h.ep.refer_progress(h.now, call, 200);
    h.drain();
    let done = h.last_request(Method::Notify);
    assert_eq!(&done.body[..], b"SIP/2.0 200 OK\r\n");
    assert_eq!(
        header(&done, HeaderName::SubscriptionState),
        Some("terminated;reason=noresource")
    );
    assert_eq!(header(&done, HeaderName::CSeq), Some("3 NOTIFY"));
    h.reply(&done, 200, None, &[], "");
    h.ep.refer_progress(h.now, call, 200);
    h.drain();
    assert_eq!(
        h.sent_requests(Method::Notify).len(),
        3,
        "the subscription is over"
    );
    assert!(h.ended().is_empty(), "the call itself goes on");
}

#[test]
fn refer_sub_false_gets_no_notify() {
    let mut h = Harness::new();
    let (call, tag) = confirmed(&mut h);
    h.udp(&refer(
        &tag,
        2,
        "Refer-To: <sip:agent7@herald.local>\r\nRefer-Sub: false\r\n",
    ));
    assert_eq!(h.last().status, 202);
    assert_eq!(
        h.last().headers.get(&HeaderName::parse("Refer-Sub")),
        Some("false")
    );
    assert_eq!(refers(&h).len(), 1);
    h.ep.refer_progress(h.now, call, 200);
    h.drain();
    assert!(h.sent_requests(Method::Notify).is_empty());
}

#[test]
fn refer_without_one_target_or_outside_a_call_is_refused() {
    let mut h = Harness::new();
    let (_call, tag) = confirmed(&mut h);
    h.udp(&refer(&tag, 2, ""));
    assert_eq!(h.last().status, 400, "no Refer-To");
    h.udp(&refer(
        &tag,
        3,
        "Refer-To: <sip:a@herald.local>\r\nRefer-To: <sip:b@herald.local>\r\n",
    ));
    assert_eq!(h.last().status, 400, "two Refer-To");
    h.udp(&refer(
        &tag,
        4,
        "Refer-To: <sip:a@herald.local>, <sip:b@herald.local>\r\n",
    ));
    assert_eq!(h.last().status, 400, "two targets in one header");
    h.udp(&refer(&tag, 5, "Refer-To: <sip:a@herald.local\r\n"));
    assert_eq!(h.last().status, 400, "malformed");
    h.udp(&refer("nosuch", 6, "Refer-To: <sip:a@herald.local>\r\n"));
    assert_eq!(h.last().status, 481);
    let outside = in_dialog("REFER", 1, "x", "z9hG4bKout", "Refer-To: <sip:a@b>\r\n", "")
        .replace("To: <sip:ivr@10.0.0.1>;tag=x", "To: <sip:ivr@10.0.0.1>")
        .replace("Call-ID: call-1", "Call-ID: other");
    h.udp(&outside);
    assert_eq!(
        h.last().status,
        403,
        "transfers are taken within a call only"
    );
    assert!(refers(&h).is_empty());
    assert!(h.sent_requests(Method::Notify).is_empty());

    // An attended transfer: the Replaces header of the target is kept for the application.
    let replaces = "<sip:agent7@herald.local?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>";
    h.udp(&refer(&tag, 7, &format!("Refer-To: {replaces}\r\n")));
    assert_eq!(h.last().status, 202);
    assert_eq!(
        refers(&h),
        vec![(
            "sip:agent7@herald.local?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2".to_owned(),
            None
        )]
    );
}

#[test]
fn a_failed_notify_ends_only_the_subscription_and_a_later_refer_gets_an_id() {
    let mut h = Harness::new();
    let (call, tag) = confirmed(&mut h);
    h.udp(&refer(&tag, 2, "Refer-To: <sip:agent7@herald.local>\r\n"));
    let notify = h.last_request(Method::Notify);
    h.reply(&notify, 481, None, &[], "");
    h.ep.refer_progress(h.now, call, 200);
    h.drain();
    assert_eq!(h.sent_requests(Method::Notify).len(), 1);
    assert!(h.sent_requests(Method::Bye).is_empty() && h.ended().is_empty());

    h.udp(&refer(&tag, 3, "Refer-To: <sip:agent8@herald.local>\r\n"));
    let second = h.last_request(Method::Notify);
    assert_eq!(
        header(&second, HeaderName::Event),
        Some("refer;id=3"),
        "RFC 3515 §2.4.6: the second REFER's NOTIFYs carry its CSeq"
    );
    // Unanswered NOTIFY: Timer F ends the subscription, never the call.
    h.advance(Duration::from_secs(40));
    assert!(h.ended().is_empty());
    h.ep.refer_progress(h.now, call, 200);
    h.drain();
    let mut cseqs: Vec<_> = h
        .sent_requests(Method::Notify)
        .iter()
        .filter_map(|n| header(n, HeaderName::CSeq).map(str::to_owned))
        .collect();
    cseqs.dedup();
    assert_eq!(
        cseqs,
        vec!["1 NOTIFY", "2 NOTIFY"],
        "retransmissions of the second only"
    );
}
