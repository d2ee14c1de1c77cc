//! Upstream registrations (REGISTER as a client) in virtual time: the test plays a carrier's
//! registrar.

use super::*;
use crate::auth::{DigestAuthenticator, DigestCredentials, DigestHash, DigestRequest, Realm};

fn carrier() -> Target {
    Target {
        transport: Transport::Udp,
        addr: peer(),
        conn: None,
    }
}

fn registration(credentials: bool) -> UpstreamRegistration {
    UpstreamRegistration {
        target: carrier(),
        local: local(),
        registrar_uri: "sip:carrier.example".into(),
        aor: "sip:+4930123@carrier.example".into(),
        contact_user: "+4930123".into(),
        expires: 600,
        credentials: credentials.then(|| ClientCredentials {
            username: "+4930123".into(),
            password: "trunkpw".into(),
        }),
    }
}

fn states(h: &Harness) -> Vec<UpstreamState> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Upstream { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn failed(status: Option<u16>, secs: u64) -> UpstreamState {
    UpstreamState::Failed {
        status,
        retry_in: Duration::from_secs(secs),
    }
}

fn registers(h: &Harness) -> usize {
    h.sent_requests(Method::Register).len()
}

/// The carrier's digest server and what verifies a REGISTER against it.
struct Carrier {
    server: DigestAuthenticator,
    realm: Realm,
    rng: ChaCha8Rng,
}

const UNIX: u64 = 1_700_000_000;

impl Carrier {
    fn new() -> Self {
        Self {
            server: DigestAuthenticator::new(ServerSecret::new([5; 32]), DigestConfig::default()),
            realm: Realm::new("carrier.example").unwrap(),
            rng: ChaCha8Rng::seed_from_u64(11),
        }
    }

    /// Challenges minted at unix time `at`.
    fn challenges(&mut self, at: u64) -> Vec<String> {
        self.server
            .challenges(&self.realm, false, at, &mut self.rng)
    }

    fn verify(&mut self, register: &Request, at: u64) -> bool {
        let Some(value) = header(register, HeaderName::Authorization) else {
            return false;
        };
        let creds = DigestCredentials::parse(value).unwrap();
        let request = DigestRequest {
            realm: &self.realm,
            method: "REGISTER",
            request_uri: &register.uri,
        };
        let lookup = |user: &str, hash: DigestHash| {
            (user == "+4930123")
                .then(|| Ha1::from_password(hash, "+4930123", "carrier.example", "trunkpw"))
        };
        self.server.verify(&creds, &request, lookup, at).is_ok()
    }
}

fn www(values: &[String]) -> Vec<(&str, &str)> {
    values
        .iter()
        .map(|v| ("WWW-Authenticate", v.as_str()))
        .collect()
}

#[test]
fn challenged_then_registered_then_refreshed_at_half_the_granted_expires() {
    let mut h = Harness::new();
    let mut registrar = Carrier::new();
    let reg = h.ep.register_upstream(h.now, registration(true));
    h.drain();
    let first = h.last_request(Method::Register);
    assert_eq!(h.requests.last().map(|(t, _)| *t), Some(carrier()));
    assert_eq!(first.uri, "sip:carrier.example");
    for (name, value) in [
        (HeaderName::To, "<sip:+4930123@carrier.example>"),
        (HeaderName::Contact, "<sip:+4930123@10.0.0.1:5060>"),
        (HeaderName::Expires, "600"),
        (HeaderName::CSeq, "1 REGISTER"),
        (HeaderName::MaxForwards, "70"),
    ] {
        assert_eq!(header(&first, name.clone()), Some(value), "{name}");
    }
    assert!(
        header(&first, HeaderName::From)
            .unwrap()
            .starts_with("<sip:+4930123@carrier.example>;tag=")
    );
    assert!(header(&first, HeaderName::Authorization).is_none());

    let challenges = registrar.challenges(UNIX);
    h.reply(&first, 401, Some("r"), &www(&challenges), "");
    let second = h.last_request(Method::Register);
    assert_eq!(header(&second, HeaderName::CSeq), Some("2 REGISTER"));
    for name in [HeaderName::CallId, HeaderName::From] {
        assert_eq!(header(&second, name.clone()), header(&first, name));
    }
    assert!(registrar.verify(&second, UNIX + 1), "a correct digest");
    h.reply(
        &second,
        200,
        Some("r"),
        &[("Contact", "<sip:+4930123@10.0.0.1:5060>;expires=300")],
        "",
    );
    assert_eq!(
        states(&h),
        vec![UpstreamState::Registered { expires: 300 }],
        "what the registrar granted"
    );
    assert!(
        h.events
            .iter()
            .all(|e| matches!(e, Event::Upstream { registration, .. } if *registration == reg))
    );

    h.advance(Duration::from_secs(149));
    assert_eq!(registers(&h), 2);
    h.advance(Duration::from_secs(1));
    let refresh = h.last_request(Method::Register);
    assert_eq!(header(&refresh, HeaderName::CSeq), Some("3 REGISTER"));
    assert_eq!(
        header(&refresh, HeaderName::CallId),
        header(&first, HeaderName::CallId),
        "one Call-ID across refreshes"
    );
    assert!(
        header(&refresh, HeaderName::Authorization)
            .unwrap()
            .contains("nc=00000002"),
        "the answer is reused with the next nonce count"
    );
    assert!(registrar.verify(&refresh, UNIX + 151));
    h.reply(&refresh, 200, Some("r"), &[("Expires", "300")], "");
    assert_eq!(states(&h).len(), 2);

    // The registrar challenges the next refresh afresh: answered again.
    h.advance(Duration::from_secs(150));
    let refresh = h.last_request(Method::Register);
    h.reply(
        &refresh,
        401,
        Some("r"),
        &www(&registrar.challenges(UNIX + 300)),
        "",
    );
    let answered = h.last_request(Method::Register);
    assert_eq!(header(&answered, HeaderName::CSeq), Some("5 REGISTER"));
    assert!(registrar.verify(&answered, UNIX + 302));
}

#[test]
fn failures_back_off_honour_retry_after_and_423_asks_for_more() {
    let mut h = Harness::new();
    h.ep.register_upstream(h.now, registration(false));
    h.drain();
    h.reply(&h.last_request(Method::Register), 503, Some("r"), &[], "");
    assert_eq!(states(&h), vec![failed(Some(503), 30)]);
    h.advance(Duration::from_secs(29));
    assert_eq!(registers(&h), 1);
    h.advance(Duration::from_secs(1));
    assert_eq!(registers(&h), 2);
    h.reply(&h.last_request(Method::Register), 500, Some("r"), &[], "");
    h.advance(Duration::from_secs(60));
    assert_eq!(registers(&h), 3);
    let retry_after = [("Retry-After", "120 (maintenance)")];
    h.reply(
        &h.last_request(Method::Register),
        503,
        Some("r"),
        &retry_after,
        "",
    );
    h.advance(Duration::from_secs(119));
    assert_eq!(registers(&h), 3);
    h.advance(Duration::from_secs(1));
    assert_eq!(registers(&h), 4);
    h.advance(Duration::from_secs(32));
    assert_eq!(
        states(&h),
        vec![
            failed(Some(503), 30),
            failed(Some(500), 60),
            failed(Some(503), 120),
            failed(None, 240),
        ],
        "no answer: Timer F, and the backoff doubles"
    );

    h.advance(Duration::from_secs(240));
    let register = h.last_request(Method::Register);
    h.reply(&register, 423, Some("r"), &[("Min-Expires", "1200")], "");
    let longer = h.last_request(Method::Register);
    assert_eq!(header(&longer, HeaderName::Expires), Some("1200"));
    let next = format!(
        "{} REGISTER",
        headers::CSeq::parse(header(&register, HeaderName::CSeq).unwrap())
            .unwrap()
            .seq
            + 1
    );
    assert_eq!(header(&longer, HeaderName::CSeq), Some(next.as_str()));
    h.reply(&longer, 200, Some("r"), &[("Expires", "1200")], "");
    assert_eq!(
        states(&h).last(),
        Some(&UpstreamState::Registered { expires: 1200 })
    );
    h.advance(Duration::from_secs(600));
    h.reply(&h.last_request(Method::Register), 500, Some("r"), &[], "");
    assert_eq!(
        states(&h).last(),
        Some(&failed(Some(500), 30)),
        "a success resets the backoff"
    );

    // A 423 that does not ask for more is a failure.
    h.advance(Duration::from_secs(30));
    let register = h.last_request(Method::Register);
    h.reply(&register, 423, Some("r"), &[("Min-Expires", "60")], "");
    assert_eq!(states(&h).last(), Some(&failed(Some(423), 60)));
}

#[test]
fn wrong_credentials_fail_and_are_tried_again_later() {
    let mut h = Harness::new();
    let mut registrar = Carrier::new();
    h.ep.register_upstream(h.now, registration(true));
    h.drain();
    let challenges = registrar.challenges(UNIX);
    h.reply(
        &h.last_request(Method::Register),
        401,
        Some("r"),
        &www(&challenges),
        "",
    );
    let again = registrar.challenges(UNIX);
    h.reply(
        &h.last_request(Method::Register),
        401,
        Some("r"),
        &www(&again),
        "",
    );
    assert_eq!(
        states(&h),
        vec![failed(Some(401), 30)],
        "not twice per request"
    );
    assert_eq!(registers(&h), 2);
    h.advance(Duration::from_secs(30));
    assert_eq!(registers(&h), 3);
    let more = registrar.challenges(UNIX);
    h.reply(
        &h.last_request(Method::Register),
        401,
        Some("r"),
        &www(&more),
        "",
    );
    assert_eq!(registers(&h), 4, "a new request answers a challenge again");
}

#[test]
fn unregister_sends_expires_zero_and_forgets() {
    let mut h = Harness::new();
    let mut registrar = Carrier::new();
    let reg = h.ep.register_upstream(h.now, registration(true));
    h.drain();
    h.reply(&h.last_request(Method::Register), 200, Some("r"), &[], "");
    assert_eq!(states(&h), vec![UpstreamState::Registered { expires: 600 }]);
    h.ep.unregister_upstream(h.now, reg);
    h.drain();
    let bye = h.last_request(Method::Register);
    assert_eq!(header(&bye, HeaderName::Expires), Some("0"));
    assert_eq!(header(&bye, HeaderName::CSeq), Some("2 REGISTER"));
    h.reply(&bye, 401, Some("r"), &www(&registrar.challenges(UNIX)), "");
    let answered = h.last_request(Method::Register);
    assert_eq!(header(&answered, HeaderName::Expires), Some("0"));
    assert!(registrar.verify(&answered, UNIX + 1));
    h.reply(&answered, 200, Some("r"), &[], "");
    assert_eq!(states(&h).len(), 1, "no events after unregistering");
    assert_eq!(h.ep.stats().upstream_registrations, 0);
    h.advance(Duration::from_secs(3600));
    assert_eq!(registers(&h), 3);
    assert_eq!(h.ep.poll_timeout(), None);
}
