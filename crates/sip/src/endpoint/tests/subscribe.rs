//! SUBSCRIBE / NOTIFY (RFC 6665, RFC 3842) in virtual time: the test plays a hard phone
//! that wants its message-waiting lamp.

use super::*;

fn subscribe(call_id: &str, cseq: u32, to_tag: Option<&str>, event: &str, extra: &str) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:alice@herald.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKs{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@herald.local>;tag=s1\r\nTo: <sip:alice@herald.local>{to_tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:alice@10.0.0.2:5070>\r\nEvent: {event}\r\n\
         Accept: application/simple-message-summary\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn message_summary_is_answered_notified_refreshed_and_expires() {
    let mut h = Harness::new();
    h.udp(&subscribe(
        "sub-1",
        1,
        None,
        "message-summary",
        "Expires: 7200\r\n",
    ));
    let ok = h.last().clone();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.get(&HeaderName::Expires),
        Some("3600"),
        "at most an hour"
    );
    assert!(ok.headers.get(&HeaderName::Contact).is_some());
    let tag = to_tag(&ok);
    let notify = h.last_request(Method::Notify);
    assert_eq!(h.requests.last().map(|(t, _)| t.addr), Some(peer()));
    assert_eq!(notify.uri, "sip:alice@10.0.0.2:5070");
    for (name, value) in [
        (HeaderName::Event, "message-summary"),
        (HeaderName::SubscriptionState, "active;expires=3600"),
        (
            HeaderName::ContentType,
            "application/simple-message-summary",
        ),
        (HeaderName::CallId, "sub-1"),
        (HeaderName::CSeq, "1 NOTIFY"),
    ] {
        assert_eq!(header(&notify, name.clone()), Some(value), "{name}");
    }
    assert_eq!(&notify.body[..], b"Messages-Waiting: no\r\n");
    assert!(
        header(&notify, HeaderName::From)
            .unwrap()
            .ends_with(&format!(";tag={tag}"))
    );
    assert!(
        header(&notify, HeaderName::To)
            .unwrap()
            .ends_with(";tag=s1")
    );
    h.reply(&notify, 200, None, &[], "");
    assert_eq!(h.ep.stats().subscriptions, 1);

    h.advance(Duration::from_secs(1800));
    h.udp(&subscribe(
        "sub-1",
        2,
        Some(&tag),
        "message-summary",
        "Expires: 600\r\n",
    ));
    assert_eq!(h.last().status, 200);
    assert_eq!(h.last().headers.get(&HeaderName::Expires), Some("600"));
    let refreshed = h.last_request(Method::Notify);
    assert_eq!(header(&refreshed, HeaderName::CSeq), Some("2 NOTIFY"));
    assert_eq!(
        header(&refreshed, HeaderName::SubscriptionState),
        Some("active;expires=600")
    );
    h.reply(&refreshed, 200, None, &[], "");

    h.advance(Duration::from_secs(599));
    assert_eq!(h.ep.stats().subscriptions, 1);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ep.stats().subscriptions, 0, "expired on its deadline");
    assert_eq!(h.sent_requests(Method::Notify).len(), 2, "silently");
    h.udp(&subscribe("sub-1", 3, Some(&tag), "message-summary", ""));
    assert_eq!(h.last().status, 481);
}

#[test]
fn fetch_and_unsubscribe_terminate_at_once() {
    let mut h = Harness::new();
    h.udp(&subscribe(
        "fetch",
        1,
        None,
        "message-summary;id=7",
        "Expires: 0\r\n",
    ));
    assert_eq!(
        (h.last().status, h.last().headers.get(&HeaderName::Expires)),
        (200, Some("0"))
    );
    let notify = h.last_request(Method::Notify);
    assert_eq!(
        header(&notify, HeaderName::SubscriptionState),
        Some("terminated;reason=timeout")
    );
    assert_eq!(
        header(&notify, HeaderName::Event),
        Some("message-summary;id=7")
    );
    assert_eq!(&notify.body[..], b"Messages-Waiting: no\r\n");
    assert_eq!(h.ep.stats().subscriptions, 0);

    h.udp(&subscribe("sub-2", 1, None, "message-summary", ""));
    assert_eq!(h.last().headers.get(&HeaderName::Expires), Some("3600"));
    let tag = to_tag(h.last());
    assert_eq!(h.ep.stats().subscriptions, 1);
    h.udp(&subscribe(
        "sub-2",
        2,
        Some(&tag),
        "message-summary",
        "Expires: 0\r\n",
    ));
    assert_eq!(h.last().status, 200);
    assert_eq!(
        header(
            &h.last_request(Method::Notify),
            HeaderName::SubscriptionState
        ),
        Some("terminated;reason=timeout")
    );
    assert_eq!(h.ep.stats().subscriptions, 0);
    h.udp(&subscribe("sub-2", 3, Some(&tag), "message-summary", ""));
    assert_eq!(h.last().status, 481);
}

#[test]
fn other_packages_get_489_with_allow_events() {
    let mut h = Harness::new();
    for (i, event) in [
        "dialog",
        "presence",
        "ua-profile",
        "as-feature-event",
        "refer",
    ]
    .iter()
    .enumerate()
    {
        h.udp(&subscribe(&format!("ev{i}"), 1, None, event, ""));
        assert_eq!(h.last().status, 489, "{event}");
        assert_eq!(
            h.last().headers.get(&HeaderName::AllowEvents),
            Some("message-summary, refer")
        );
    }
    let missing = subscribe("noev", 1, None, "x", "").replace("Event: x\r\n", "");
    h.udp(&missing);
    assert_eq!(h.last().status, 400);
    assert!(h.sent_requests(Method::Notify).is_empty());
    assert_eq!(h.ep.stats().subscriptions, 0);
}

#[test]
fn notifies_we_did_not_subscribe_to_get_481() {
    let mut h = Harness::new();
    let (_call, tag) = answered(&mut h, "");
    let sipfrag = "Event: refer\r\nSubscription-State: active\r\nContent-Type: message/sipfrag\r\n";
    h.udp(&in_dialog(
        "NOTIFY",
        2,
        &tag,
        "z9hG4bKn1",
        sipfrag,
        "SIP/2.0 200 OK\r\n",
    ));
    assert_eq!(h.last().status, 481, "in a call's dialog");
    assert!(h.ended().is_empty(), "the call goes on");
    let mwi = "Event: message-summary\r\nSubscription-State: active\r\n\
               Content-Type: application/simple-message-summary\r\n";
    let outside = in_dialog(
        "NOTIFY",
        1,
        "x",
        "z9hG4bKn2",
        mwi,
        "Messages-Waiting: yes\r\n",
    )
    .replace("To: <sip:ivr@10.0.0.1>;tag=x", "To: <sip:ivr@10.0.0.1>")
    .replace("Call-ID: call-1", "Call-ID: unsolicited");
    h.udp(&outside);
    assert_eq!(h.last().status, 481, "an unsolicited NOTIFY");
    h.udp(&in_dialog(
        "SUBSCRIBE",
        3,
        &tag,
        "z9hG4bKs3",
        "Event: dialog\r\n",
        "",
    ));
    assert_eq!(
        h.last().status,
        489,
        "a subscription in a call's dialog: not a package we serve, and not a 481"
    );
}

#[test]
fn a_481_to_our_notify_ends_the_subscription() {
    let mut h = Harness::new();
    h.udp(&subscribe("sub-3", 1, None, "message-summary", ""));
    let notify = h.last_request(Method::Notify);
    h.reply(&notify, 481, None, &[], "");
    assert_eq!(h.ep.stats().subscriptions, 0);

    h.udp(&subscribe("sub-4", 1, None, "message-summary", ""));
    h.advance(Duration::from_secs(40));
    assert_eq!(h.ep.stats().subscriptions, 0, "an unanswered NOTIFY too");
}

#[test]
fn subscriptions_are_bounded() {
    let mut h = Harness::new();
    for i in 0..crate::endpoint::subscribe::MAX_SUBSCRIPTIONS {
        let text = subscribe(&format!("many-{i}"), 1, None, "message-summary", "");
        let incoming = Incoming {
            transport: Transport::Udp,
            conn: None,
            local: local(),
            remote: peer(),
            bytes: text.as_bytes(),
        };
        h.ep.handle_incoming(h.now, incoming);
        while h.ep.poll_output().is_some() {}
    }
    assert_eq!(
        h.ep.stats().subscriptions,
        crate::endpoint::subscribe::MAX_SUBSCRIPTIONS
    );
    h.udp(&subscribe("one-more", 1, None, "message-summary", ""));
    assert_eq!(h.last().status, 503);
    assert!(h.last().headers.get(&HeaderName::RetryAfter).is_some());
    h.udp(&subscribe(
        "a-fetch",
        1,
        None,
        "message-summary",
        "Expires: 0\r\n",
    ));
    assert_eq!(
        h.last().status,
        200,
        "a fetch keeps nothing, so it is still served"
    );
}
