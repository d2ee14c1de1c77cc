//! Fixtures shared by Herald's criterion benchmarks (`micro/*.rs`).
//!
//! What lives here: the SIP messages the parser benchmark feeds to Herald and to `rsip`, and a
//! SIPp-like caller that drives [`herald_sip::endpoint::Endpoint`] through whole calls in
//! virtual time. What does not: timing. Benchmarks measure; nothing here asserts on speed
//! (see `docs/benchmarks.md` for method and results, and `load/sip-load.sh` for the
//! whole-system load harness that drives the release binary with SIPp).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_sip::endpoint::{CallRef, Endpoint, EndpointConfig, Event, Incoming, Output, Transport};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// A typical INVITE from a desk phone: eight headers a phone always sends plus Allow,
/// Supported, User-Agent, and an SDP offer with PCMU, PCMA and telephone-event.
pub const INVITE_WITH_SDP: &[u8] = b"INVITE sip:2000@192.0.2.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---a4f3e1c9d2b7;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1001@198.51.100.7:5060;transport=udp>\r\n\
To: <sip:2000@192.0.2.10>\r\n\
From: \"Desk 1001\" <sip:1001@192.0.2.10>;tag=8a1b2c3d\r\n\
Call-ID: 9f8e7d6c5b4a39281706f5e4d3c2b1a0@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, UPDATE\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: Acme DeskPhone 5.4.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 282\r\n\
\r\n\
v=0\r\n\
o=- 1733412345 1733412345 IN IP4 198.51.100.7\r\n\
s=Acme\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 50000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n\
a=rtcp:50001\r\n\
a=label:1\r\n";

/// A REGISTER with digest credentials (the second REGISTER of a 401 exchange).
pub const REGISTER_WITH_AUTH: &[u8] = b"REGISTER sip:192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---77e3b1f09a2c;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1001@198.51.100.7:5060;transport=udp>;expires=3600\r\n\
To: <sip:1001@192.0.2.10>\r\n\
From: <sip:1001@192.0.2.10>;tag=5c6d7e8f\r\n\
Call-ID: 1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f@198.51.100.7\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, UPDATE\r\n\
User-Agent: Acme DeskPhone 5.4.1\r\n\
Authorization: Digest username=\"1001\",realm=\"192.0.2.10\",nonce=\"AQAAAABnUt1Y6b8sX3JzJ0e6-FQ0Vt9yB8xYw2JtVq8u9x7G0sH5kL3mN1pR4tU6wZ2a\",uri=\"sip:192.0.2.10\",response=\"0a1b2c3d4e5f60718293a4b5c6d7e8f9\",cnonce=\"4f3e2d1c\",nc=00000001,qop=auth,algorithm=MD5\r\n\
Content-Length: 0\r\n\
\r\n";

/// A 200 OK to an INVITE with a Record-Route, Contact and an SDP answer.
pub const OK_200_WITH_SDP: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK4b43c2ff8.1;rport=5060\r\n\
Record-Route: <sip:192.0.2.1;lr>\r\n\
From: <sip:herald@192.0.2.10>;tag=a6c85cf\r\n\
To: <sip:2000@198.51.100.20>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:2000@198.51.100.20:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n\
Supported: timer\r\n\
Server: Acme Gateway 2.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 198\r\n\
\r\n\
v=0\r\n\
o=- 8 8 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// The parser inputs, by name.
pub const PARSE_INPUTS: [(&str, &[u8]); 3] = [
    ("invite_sdp", INVITE_WITH_SDP),
    ("register_auth", REGISTER_WITH_AUTH),
    ("ok_200_sdp", OK_200_WITH_SDP),
];

const SDP_ANSWER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

/// The three requests of one SIPp `sipp-uac.xml` call, with unique Call-ID, tag and branches.
#[derive(Debug)]
pub struct CallScript {
    pub invite: Vec<u8>,
    /// ACK and BYE without the To tag, which only Herald's 200 OK can tell: `{TAG}` marks
    /// where it goes.
    ack_template: String,
    bye_template: String,
}

impl CallScript {
    /// The messages of call number `n` (as SIPp builds them: UDP from 127.0.0.1:5091).
    pub fn new(n: u64) -> Self {
        let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let common = |method: &str, seq: u32, branch: &str, to_tag: &str| {
            format!(
                "{method} sip:service@127.0.0.1:5060 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP 127.0.0.1:5091;branch=z9hG4bK-{n}-{branch}\r\n\
                 From: sipp <sip:sipp@127.0.0.1:5091>;tag={n}SIPpTag001\r\n\
                 To: service <sip:service@127.0.0.1:5060>{to_tag}\r\n\
                 Call-ID: {n}-4242@127.0.0.1\r\n\
                 CSeq: {seq} {method}\r\n\
                 Contact: sip:sipp@127.0.0.1:5091\r\n\
                 Max-Forwards: 70\r\n\
                 Subject: Performance Test\r\n"
            )
        };
        let mut invite = common("INVITE", 1, "1", "");
        invite.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
        let mut ack = common("ACK", 1, "2", ";tag={TAG}");
        ack.push_str("Content-Length: 0\r\n\r\n");
        let mut bye = common("BYE", 2, "3", ";tag={TAG}");
        bye.push_str("Content-Length: 0\r\n\r\n");
        Self {
            invite: invite.into_bytes(),
            ack_template: ack,
            bye_template: bye,
        }
    }

    /// The ACK and BYE for the To tag Herald chose.
    pub fn ack_and_bye(&self, to_tag: &str) -> (Vec<u8>, Vec<u8>) {
        (
            self.ack_template.replace("{TAG}", to_tag).into_bytes(),
            self.bye_template.replace("{TAG}", to_tag).into_bytes(),
        )
    }
}

/// The To tag of a response, found by byte search (what a load generator does: no parse).
pub fn to_tag(response: &[u8]) -> Option<&str> {
    let line_at = memchr::memmem::find(response, b"\r\nTo: ")?;
    let line = &response[line_at + 2..];
    let end = memchr::memmem::find(line, b"\r\n")?;
    let line = &line[..end];
    let tag_at = memchr::memmem::find(line, b";tag=")?;
    std::str::from_utf8(&line[tag_at + 5..])
        .ok()?
        .split(';')
        .next()
}

/// A Herald endpoint and the application logic of `herald serve` reduced to what the
/// signalling path does: answer every call with a fixed SDP.
pub struct CallBench {
    pub endpoint: Endpoint<ChaCha8Rng>,
    pub now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    /// The last response sent to the caller (for the To tag).
    last_response: Option<Bytes>,
    pub completed: u64,
}

impl std::fmt::Debug for CallBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBench")
            .field("completed", &self.completed)
            .finish_non_exhaustive()
    }
}

impl CallBench {
    /// An endpoint with default settings (RFC 3261 timers, session timers on), seeded RNG,
    /// at virtual time `now`.
    pub fn new(now: Instant) -> Self {
        let endpoint = Endpoint::new(
            EndpointConfig::default(),
            ChaCha8Rng::seed_from_u64(1),
            (now, 1_700_000_000_000),
        );
        Self {
            endpoint,
            now,
            local: SocketAddr::from(([127, 0, 0, 1], 5060)),
            remote: SocketAddr::from(([127, 0, 0, 1], 5091)),
            last_response: None,
            completed: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let incoming = Incoming {
            transport: Transport::Udp,
            conn: None,
            local: self.local,
            remote: self.remote,
            bytes,
        };
        self.endpoint.handle_incoming(self.now, incoming);
        self.drain();
    }

    fn drain(&mut self) {
        let mut answer: Vec<CallRef> = Vec::new();
        while let Some(out) = self.endpoint.poll_output() {
            match out {
                Output::Transmit { bytes, .. } => self.last_response = Some(bytes),
                Output::Event(Event::IncomingCall { call, .. }) => answer.push(call),
                Output::Event(Event::CallEnded { .. }) => self.completed += 1,
                Output::Event(_) => {}
            }
        }
        for call in answer {
            self.endpoint
                .answer(self.now, call, Bytes::from_static(SDP_ANSWER));
            self.drain();
        }
    }

    /// One whole call: INVITE, (100, 200), ACK, BYE, (200). Returns false if Herald did not
    /// answer with a tagged 200 OK.
    pub fn call(&mut self, script: &CallScript) -> bool {
        self.feed(&script.invite);
        let Some(tag) = self
            .last_response
            .as_deref()
            .and_then(to_tag)
            .map(str::to_owned)
        else {
            return false;
        };
        let (ack, bye) = script.ack_and_bye(&tag);
        self.feed(&ack);
        self.feed(&bye);
        true
    }

    /// INVITE and ACK only: the call stays up, idle (for memory per idle dialog).
    pub fn idle_call(&mut self, script: &CallScript) -> bool {
        self.feed(&script.invite);
        let Some(tag) = self
            .last_response
            .as_deref()
            .and_then(to_tag)
            .map(str::to_owned)
        else {
            return false;
        };
        let (ack, _) = script.ack_and_bye(&tag);
        self.feed(&ack);
        true
    }

    /// Advances virtual time and fires every timer that is due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.endpoint.handle_timeout(self.now);
        self.drain();
    }
}
