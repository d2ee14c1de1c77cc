//! The SIP endpoint (Herald's user-agent core) fed arbitrary datagrams, scripted dialog
//! requests with perturbations, responses to what it sent, application commands (answering,
//! placing outbound legs, transfer progress, upstream registrations) and timeouts, all in
//! virtual time. Responses to an outbound INVITE carry the To tag `peer`, so scripted callee
//! requests (`Op::Callee`) land in the leg's dialog.
//!
//! Input layout: 8 bytes of RNG seed (tags, branches, nonces come from a `ChaCha8Rng`), then a
//! sequence of [`Op`]s decoded with `arbitrary`.
//!
//! Asserts:
//! * no panic, whatever arrives;
//! * every message the endpoint transmits parses (datagram or stream framing, by transport);
//! * after `handle_timeout(now)`, `poll_timeout` is not before `now` (a deadline in the past
//!   would make the I/O loop spin);
//! * nothing leaks: once the application hangs up every call, unregisters every upstream
//!   registration and the timers run out, no transaction, no call and no upstream
//!   registration is left.

#![no_main]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use herald_sip::endpoint::{
    CallRef, ClientCredentials, ConnId, Endpoint, EndpointConfig, Event, FinalStatus, Incoming,
    OutboundCall, Output, Target, Transport, UpstreamRef, UpstreamRegistration,
};
use herald_sip::message::headers::NameAddr;
use herald_sip::message::{
    Framing, HeaderName, Message, Request, Response, parse_message, reason_phrase,
};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &[u8] = b"v=0\r\no=- 2 1 IN IP4 192.0.2.100\r\ns=-\r\nc=IN IP4 192.0.2.100\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8 101\r\n";

#[derive(Arbitrary, Debug)]
enum Op {
    /// Arbitrary bytes: a datagram, or one message a stream framer cut.
    Raw {
        transport: Tr,
        bytes: Vec<u8>,
    },
    /// A well-formed request of one of a few dialogs, slightly perturbed.
    Request(RequestSpec),
    /// A response to the n-th request the endpoint sent (a challenge for 401/407).
    Response {
        nth: u8,
        status: Status,
        contact: bool,
        body: Body,
    },
    /// The application places an outbound leg.
    Invite {
        transport: Tr,
        credentials: bool,
        /// A To with a tag: a leg that cannot be an INVITE.
        malformed: bool,
    },
    /// A request from the callee of the n-th outbound leg, in its dialog.
    Callee {
        nth: u8,
        method: RequestMethod,
        cseq: u8,
        extras: Vec<Extra>,
    },
    /// The application registers with an upstream registrar.
    Upstream {
        credentials: bool,
        expires: u16,
    },
    /// The application unregisters the n-th upstream registration.
    Unregister {
        nth: u8,
    },
    /// The application acts on the n-th call it was told about.
    App {
        nth: u8,
        action: Action,
    },
    Advance {
        millis: u16,
    },
    /// Jump to the next deadline, plus a little.
    AdvanceToDeadline {
        late_millis: u8,
    },
}

/// Mostly valid status codes (100-699), sometimes any `u16`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Status {
    Valid(u16),
    Raw(u16),
}

impl Status {
    fn code(self) -> u16 {
        match self {
            Status::Valid(n) => 100 + n % 600,
            Status::Raw(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tr {
    Udp,
    Tcp,
    Tls,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum RequestMethod {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Update,
    Info,
    Subscribe,
    Notify,
    Refer,
    Unknown,
}

#[derive(Arbitrary, Debug)]
struct RequestSpec {
    method: RequestMethod,
    transport: Tr,
    dialog: u8,
    branch: u8,
    cseq: u8,
    /// Use the To tag the endpoint gave this dialog (an in-dialog request).
    in_dialog: bool,
    body: Body,
    extras: Vec<Extra>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Body {
    None,
    Sdp,
    Dtmf,
    Garbage,
}

#[derive(Arbitrary, Debug)]
enum Extra {
    Require100rel,
    RequireTimer,
    RequireUnknown,
    Supported,
    SessionExpires { interval: u16, uac_refresher: bool },
    MinSe(u16),
    RAck { rseq: u8, cseq: u8 },
    MaxForwards(u8),
    Expires(u16),
    RecordRoute,
    NoContact,
    ReferTo,
    ReferSubFalse,
    EventMessageSummary,
    EventDialog,
    Header { name: u8, value: String },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Action {
    Ring { early_media: bool },
    Answer,
    Reject { status: Status },
    Hangup,
    AnswerOffer,
    RejectOffer { status: Status },
    ReferProgress { status: Status },
}

impl Tr {
    fn transport(self) -> Transport {
        match self {
            Tr::Udp => Transport::Udp,
            Tr::Tcp => Transport::Tcp,
            Tr::Tls => Transport::Tls,
        }
    }
}

impl RequestMethod {
    fn as_str(self) -> &'static str {
        match self {
            RequestMethod::Invite => "INVITE",
            RequestMethod::Ack => "ACK",
            RequestMethod::Bye => "BYE",
            RequestMethod::Cancel => "CANCEL",
            RequestMethod::Options => "OPTIONS",
            RequestMethod::Register => "REGISTER",
            RequestMethod::Prack => "PRACK",
            RequestMethod::Update => "UPDATE",
            RequestMethod::Info => "INFO",
            RequestMethod::Subscribe => "SUBSCRIBE",
            RequestMethod::Notify => "NOTIFY",
            RequestMethod::Refer => "REFER",
            RequestMethod::Unknown => "FROB",
        }
    }
}

fn local() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 100], 5060))
}

fn remote() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5060))
}

struct Harness {
    endpoint: Endpoint<ChaCha8Rng>,
    now: Instant,
    calls: Vec<CallRef>,
    /// Outbound legs with their INVITE (Call-ID and our From tag, for callee requests).
    legs: Vec<(CallRef, Request)>,
    upstreams: Vec<UpstreamRef>,
    /// The To tag the endpoint put in its responses, by Call-ID.
    to_tags: HashMap<String, String>,
    /// Requests the endpoint sent (BYE, UPDATE, re-INVITE ...), with where they went.
    sent_requests: Vec<(Target, Request)>,
}

impl Harness {
    fn new(seed: u64) -> Self {
        let now = Instant::now();
        let rng = ChaCha8Rng::seed_from_u64(seed);
        let endpoint = Endpoint::new(EndpointConfig::default(), rng, (now, 1_700_000_000_000));
        Self {
            endpoint,
            now,
            calls: Vec::new(),
            legs: Vec::new(),
            upstreams: Vec::new(),
            to_tags: HashMap::new(),
            sent_requests: Vec::new(),
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Raw { transport, bytes } => self.deliver(transport.transport(), &bytes),
            Op::Request(spec) => {
                let text = self.request_text(&spec);
                self.deliver(spec.transport.transport(), text.as_bytes());
            }
            Op::Response {
                nth,
                status,
                contact,
                body,
            } => {
                if self.sent_requests.is_empty() {
                    return;
                }
                let (target, request) =
                    &self.sent_requests[usize::from(nth) % self.sent_requests.len()];
                let status = status.code();
                let mut response =
                    Response::to_request(request, status, reason_phrase(status), Some("peer"));
                if contact {
                    response
                        .headers
                        .push(HeaderName::Contact, "<sip:callee@192.0.2.1:5060>");
                }
                let challenge = format!("Digest realm=\"trunk\", nonce=\"n{nth}\", qop=\"auth\"");
                match status {
                    401 => response
                        .headers
                        .push(HeaderName::WwwAuthenticate, challenge),
                    407 => response
                        .headers
                        .push(HeaderName::ProxyAuthenticate, challenge),
                    423 | 422 => {
                        response.headers.push(HeaderName::MinExpires, "1200");
                        response.headers.push(HeaderName::MinSe, "1200");
                    }
                    _ => {}
                }
                if let (Some(content_type), text) = body.content() {
                    response.headers.push(HeaderName::ContentType, content_type);
                    response.body = Bytes::from(text);
                }
                let (transport, bytes) = (target.transport, response.to_bytes());
                self.deliver(transport, &bytes);
            }
            Op::Invite {
                transport,
                credentials,
                malformed,
            } => {
                let transport = transport.transport();
                let call = OutboundCall {
                    target: Target {
                        transport,
                        addr: remote(),
                        conn: (transport != Transport::Udp).then_some(ConnId(1)),
                    },
                    local: local(),
                    request_uri: "sip:callee@192.0.2.1:5060".into(),
                    from: "\"+4930123\" <sip:+4930123@herald.example>".into(),
                    to: if malformed {
                        "<sip:callee@example.com>;tag=x".into()
                    } else {
                        "<sip:callee@example.com>".into()
                    },
                    sdp: Bytes::from_static(ANSWER),
                    headers: vec![(
                        HeaderName::PAssertedIdentity,
                        "<sip:+4930123@herald.example>".into(),
                    )],
                    credentials: credentials.then(|| ClientCredentials {
                        username: "trunk".into(),
                        password: "secret".into(),
                    }),
                };
                let leg = self.endpoint.invite(now, call);
                self.calls.push(leg);
                self.drain();
                if let Some((_, invite)) = self
                    .sent_requests
                    .iter()
                    .rev()
                    .find(|(_, r)| r.method.as_str() == "INVITE")
                {
                    self.legs.push((leg, invite.clone()));
                }
            }
            Op::Callee {
                nth,
                method,
                cseq,
                extras,
            } => {
                if self.legs.is_empty() {
                    return;
                }
                let (_, invite) = &self.legs[usize::from(nth) % self.legs.len()];
                let text = callee_request(invite, method, cseq, &extras);
                self.deliver(Transport::Udp, text.as_bytes());
            }
            Op::Upstream {
                credentials,
                expires,
            } => {
                let reg = UpstreamRegistration {
                    target: Target {
                        transport: Transport::Udp,
                        addr: remote(),
                        conn: None,
                    },
                    local: local(),
                    registrar_uri: "sip:carrier.example".into(),
                    aor: "sip:+4930123@carrier.example".into(),
                    contact_user: "+4930123".into(),
                    expires: u32::from(expires),
                    credentials: credentials.then(|| ClientCredentials {
                        username: "+4930123".into(),
                        password: "secret".into(),
                    }),
                };
                let r = self.endpoint.register_upstream(now, reg);
                self.upstreams.push(r);
            }
            Op::Unregister { nth } => {
                if self.upstreams.is_empty() {
                    return;
                }
                let r = self.upstreams[usize::from(nth) % self.upstreams.len()];
                self.endpoint.unregister_upstream(now, r);
            }
            Op::App { nth, action } => {
                if self.calls.is_empty() {
                    return;
                }
                let call = self.calls[usize::from(nth) % self.calls.len()];
                let sdp = Bytes::from_static(ANSWER);
                let ep = &mut self.endpoint;
                match action {
                    Action::Ring { early_media } => ep.ring(now, call, early_media.then_some(sdp)),
                    Action::Answer => ep.answer(now, call, sdp),
                    Action::Reject { status } => {
                        if let Some(status) = FinalStatus::new(status.code()) {
                            ep.reject(now, call, status)
                        }
                    }
                    Action::Hangup => ep.hangup(now, call),
                    Action::AnswerOffer => ep.answer_offer(now, call, sdp),
                    Action::RejectOffer { status } => {
                        if let Some(status) = FinalStatus::new(status.code()) {
                            ep.reject_offer(now, call, status)
                        }
                    }
                    Action::ReferProgress { status } => ep.refer_progress(now, call, status.code()),
                }
            }
            Op::Advance { millis } => self.advance(Duration::from_millis(u64::from(millis) * 4)),
            Op::AdvanceToDeadline { late_millis } => {
                let step = match self.endpoint.poll_timeout() {
                    Some(at) => at.saturating_duration_since(self.now),
                    None => Duration::ZERO,
                };
                self.advance(step + Duration::from_millis(u64::from(late_millis)));
            }
        }
        self.drain();
    }

    fn deliver(&mut self, transport: Transport, bytes: &[u8]) {
        let conn = (transport != Transport::Udp).then_some(ConnId(1));
        let incoming = Incoming {
            transport,
            conn,
            local: local(),
            remote: remote(),
            bytes,
        };
        self.endpoint.handle_incoming(self.now, incoming);
    }

    fn advance(&mut self, step: Duration) {
        self.now += step;
        self.endpoint.handle_timeout(self.now);
        if let Some(at) = self.endpoint.poll_timeout() {
            assert!(
                at >= self.now,
                "poll_timeout {:?} in the past after handle_timeout",
                self.now - at
            );
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit { target, bytes } => self.sent(target, &bytes),
                Output::Event(Event::IncomingCall { call, .. }) => self.calls.push(call),
                Output::Event(_) => {}
            }
        }
    }

    /// Checks a transmitted message and learns the tags and requests in it.
    fn sent(&mut self, target: Target, bytes: &[u8]) {
        let framing = if target.transport == Transport::Udp {
            Framing::Datagram
        } else {
            Framing::Stream
        };
        let message = match parse_message(bytes, framing) {
            Ok(message) => message,
            Err(e) => panic!(
                "the endpoint sent a message that does not parse ({}): {:?}",
                e.reason,
                String::from_utf8_lossy(bytes)
            ),
        };
        match message {
            Message::Response(response) => {
                let call_id = response
                    .headers
                    .get(&HeaderName::CallId)
                    .unwrap_or("")
                    .to_owned();
                let tag = response
                    .headers
                    .get(&HeaderName::To)
                    .and_then(|to| NameAddr::parse(to).ok())
                    .and_then(|to| to.tag().map(str::to_owned));
                if let Some(tag) = tag {
                    self.to_tags.entry(call_id).or_insert(tag);
                }
            }
            Message::Request(request) => {
                if self.sent_requests.len() < 64 {
                    self.sent_requests.push((target, request));
                }
            }
        }
    }

    fn request_text(&self, spec: &RequestSpec) -> String {
        let method = spec.method.as_str();
        let transport = spec.transport.transport().via_name();
        let dialog = spec.dialog % 4;
        let call_id = format!("call{dialog}@192.0.2.1");
        let mut text = format!("{method} sip:herald@192.0.2.100 SIP/2.0\r\n");
        let _ = write!(
            text,
            "Via: SIP/2.0/{transport} 192.0.2.1:5060;branch=z9hG4bK{};rport\r\n",
            spec.branch % 8
        );
        let _ = write!(text, "From: <sip:alice@example.com>;tag=f{dialog}\r\n");
        match self.to_tags.get(&call_id).filter(|_| spec.in_dialog) {
            Some(tag) => {
                let _ = write!(text, "To: <sip:herald@example.com>;tag={tag}\r\n");
            }
            None => text.push_str("To: <sip:herald@example.com>\r\n"),
        }
        let _ = write!(
            text,
            "Call-ID: {call_id}\r\nCSeq: {} {method}\r\n",
            spec.cseq
        );
        let mut contact = true;
        let mut max_forwards = true;
        for extra in spec.extras.iter().take(6) {
            match extra {
                Extra::Require100rel => text.push_str("Require: 100rel\r\n"),
                Extra::RequireTimer => text.push_str("Require: timer\r\n"),
                Extra::RequireUnknown => text.push_str("Require: foo\r\n"),
                Extra::Supported => text.push_str("Supported: 100rel, timer\r\n"),
                Extra::SessionExpires {
                    interval,
                    uac_refresher,
                } => {
                    let refresher = if *uac_refresher { "uac" } else { "uas" };
                    let _ = write!(
                        text,
                        "Session-Expires: {interval};refresher={refresher}\r\n"
                    );
                }
                Extra::MinSe(n) => {
                    let _ = write!(text, "Min-SE: {n}\r\n");
                }
                Extra::RAck { rseq, cseq } => {
                    let _ = write!(text, "RAck: {rseq} {cseq} INVITE\r\n");
                }
                Extra::MaxForwards(n) => {
                    max_forwards = false;
                    let _ = write!(text, "Max-Forwards: {n}\r\n");
                }
                Extra::Expires(n) => {
                    let _ = write!(text, "Expires: {n}\r\n");
                }
                Extra::RecordRoute => text.push_str("Record-Route: <sip:proxy.example.com;lr>\r\n"),
                Extra::NoContact => contact = false,
                Extra::ReferTo => text.push_str("Refer-To: <sip:agent@herald.example>\r\n"),
                Extra::ReferSubFalse => text.push_str("Refer-Sub: false\r\n"),
                Extra::EventMessageSummary => text.push_str("Event: message-summary\r\n"),
                Extra::EventDialog => text.push_str("Event: dialog\r\n"),
                Extra::Header { name, value } => {
                    let names = [
                        "Route",
                        "Contact",
                        "Content-Encoding",
                        "Accept",
                        "Event",
                        "X-Test",
                    ];
                    let name = names[usize::from(*name) % names.len()];
                    let value: String = value.chars().filter(|c| !c.is_control()).collect();
                    let _ = write!(text, "{name}: {value}\r\n");
                }
            }
        }
        if max_forwards {
            text.push_str("Max-Forwards: 70\r\n");
        }
        if contact {
            text.push_str("Contact: <sip:alice@192.0.2.1:5060>\r\n");
        }
        let (content_type, body) = spec.body.content();
        if let Some(content_type) = content_type {
            let _ = write!(text, "Content-Type: {content_type}\r\n");
        }
        let _ = write!(text, "Content-Length: {}\r\n\r\n{body}", body.len());
        text
    }
}

impl Body {
    /// Content-Type and body text.
    fn content(self) -> (Option<&'static str>, &'static str) {
        match self {
            Body::None => (None, ""),
            Body::Sdp => (Some("application/sdp"), OFFER),
            Body::Dtmf => (
                Some("application/dtmf-relay"),
                "Signal=5\r\nDuration=160\r\n",
            ),
            Body::Garbage => (Some("application/sdp"), "not sdp"),
        }
    }
}

/// A request from the callee of an outbound leg (its tag `peer`, ours from the INVITE).
fn callee_request(invite: &Request, method: RequestMethod, cseq: u8, extras: &[Extra]) -> String {
    let method = method.as_str();
    let call_id = invite.headers.get(&HeaderName::CallId).unwrap_or("");
    let ours = invite
        .headers
        .get(&HeaderName::From)
        .and_then(|f| NameAddr::parse(f).ok())
        .and_then(|f| f.tag().map(str::to_owned))
        .unwrap_or_default();
    let mut text = format!(
        "{method} sip:herald@192.0.2.100 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc{cseq}{method}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:callee@example.com>;tag=peer\r\nTo: <sip:+4930123@herald.example>;tag={ours}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:callee@192.0.2.1:5060>\r\n"
    );
    for extra in extras.iter().take(4) {
        match extra {
            Extra::ReferTo => text.push_str("Refer-To: <sip:agent@herald.example>\r\n"),
            Extra::ReferSubFalse => text.push_str("Refer-Sub: false\r\n"),
            Extra::RAck { rseq, cseq } => {
                let _ = write!(text, "RAck: {rseq} {cseq} INVITE\r\n");
            }
            Extra::SessionExpires {
                interval,
                uac_refresher,
            } => {
                let refresher = if *uac_refresher { "uac" } else { "uas" };
                let _ = write!(
                    text,
                    "Session-Expires: {interval};refresher={refresher}\r\n"
                );
            }
            _ => {}
        }
    }
    let body = if method == "INVITE" || method == "UPDATE" {
        text.push_str("Content-Type: application/sdp\r\n");
        OFFER
    } else {
        ""
    };
    let _ = write!(text, "Content-Length: {}\r\n\r\n{body}", body.len());
    text
}

fuzz_target!(|data: &[u8]| {
    let Some((seed, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let mut harness = Harness::new(u64::from_le_bytes(*seed));
    let mut input = Unstructured::new(rest);
    for _ in 0..128 {
        if input.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut input) else {
            break;
        };
        harness.apply(op);
    }
    // Hang up every call and unregister every upstream registration, then run the timers out
    // (retransmissions, session timers, transaction timeouts): nothing may be left.
    for call in harness.calls.clone() {
        harness.endpoint.hangup(harness.now, call);
        harness.drain();
    }
    for r in harness.upstreams.clone() {
        harness.endpoint.unregister_upstream(harness.now, r);
        harness.drain();
    }
    for _ in 0..256 {
        if harness.endpoint.poll_timeout().is_none() {
            break;
        }
        harness.apply(Op::AdvanceToDeadline { late_millis: 0 });
    }
    harness.apply(Op::Advance { millis: u16::MAX });
    let stats = harness.endpoint.stats();
    assert!(
        stats.transactions == 0 && stats.calls == 0 && stats.upstream_registrations == 0,
        "left behind after hangup and all timers: {stats:?}, next deadline {:?}",
        harness
            .endpoint
            .poll_timeout()
            .map(|at| at.saturating_duration_since(harness.now))
    );
});
