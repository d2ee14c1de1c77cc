//! The SIP endpoint: Herald's user-agent core. It turns received bytes into transaction,
//! dialog and registrar work and turns application commands into messages.
//!
//! # What it does
//! * Parses and validates every request (RFC 3261 §8.2, see [`crate::uas`]), answering bad
//!   ones with the right status and dropping what cannot be answered (responses to nobody,
//!   garbage, requests without a usable Via).
//! * Runs server and client transactions ([`crate::transaction`]), the UAS side of INVITE
//!   dialogs (answer, CANCEL, BYE, re-INVITE, UPDATE, INFO, PRACK/100rel, RFC 4028 session
//!   timers), OPTIONS, and the registrar with digest authentication.
//! * Places outbound legs ([`Endpoint::invite`]): the UAC side of INVITE, with progress and
//!   early media ([`Event::Progress`]), one digest answer per realm for trunks that challenge,
//!   the ACK of the 2xx ([`Event::Answered`]) sent again for every retransmission (RFC 6026),
//!   a 2xx from another fork ACKed and ended, and [`Endpoint::hangup`] as CANCEL before the
//!   answer (only once a provisional response came, RFC 3261 §9.1) and BYE after it. Once
//!   answered, a leg is a call like any other: the same in-dialog requests, events and
//!   session timers (as the 2xx set them).
//! * Takes transfers: REFER in a confirmed call's dialog is answered 202, reported as
//!   [`Event::Refer`], and its progress ([`Endpoint::refer_progress`]) NOTIFYed as
//!   `message/sipfrag` (RFC 3515), unless the peer asked for no subscription (RFC 4488).
//! * Answers `message-summary` subscriptions (RFC 6665, RFC 3842) that hard phones hold, with
//!   "no messages"; other event packages get 489, NOTIFYs we never asked for 481.
//! * Keeps registrations with upstream registrars ([`Endpoint::register_upstream`]): digest
//!   answers, refresh before expiry, backoff after failures, 423 handling
//!   ([`Event::Upstream`]).
//! * Routes responses per RFC 3261 §18.2.2 and RFC 3581 (`received`, `rport`).
//!
//! # What it does not do
//! No sockets, no clock, no database, no SDP negotiation and no routing policy: the
//! application decides what to do with an [`Event::IncomingCall`] (answer with an SDP body it
//! negotiated, or reject), where an outbound leg goes and what a transfer means, and
//! persists registration changes it is told about. No DNS: an outbound leg's requests all go
//! to its [`Target`]. No PRACK as UAC (we never ask for reliable provisional responses) and
//! no redirects followed (a 3xx ends a leg with its status, for the application to act on).
//!
//! # Run loop
//! ```text
//! loop {
//!     endpoint.handle_incoming(now, incoming);   // or handle_timeout(now), or a command
//!     while let Some(out) = endpoint.poll_output() { /* Transmit -> socket, Event -> app */ }
//!     wait for input or endpoint.poll_timeout()
//! }
//! ```
//!
//! # Time
//! Monotonic time is an argument (`now: Instant`). Wall-clock time, needed for registration
//! expiry and digest nonces, is derived from the `(Instant, unix ms)` epoch pair given at
//! construction, so tests run in virtual time.

mod call;
mod client_auth;
mod outbound;
mod refer;
mod register;
mod subscribe;
#[cfg(test)]
mod tests;
mod upstream;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngCore;

use crate::message::headers::{self, Via};
use crate::message::{
    Framing, HeaderName, Message, Method, Request, Response, parse_message, reason_phrase,
};
use crate::transaction::{
    Output as TxOutput, Reliability, RequestIdentity, TimerConfig, TransactionId, TransactionKey,
    TransactionKind, Transactions,
};
use crate::uas::{Checked, Rejection, UasPolicy, check_request};

pub use call::{CallInfo, CallRef, EndCause, FinalStatus};
pub use client_auth::ClientCredentials;
pub use outbound::OutboundCall;
pub use register::{RegistrarSettings, UserCredentials};
pub use upstream::{UpstreamRef, UpstreamRegistration, UpstreamState};

/// Transport protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }

    /// Byte-stream transports, cut into messages by Content-Length. SIP over WebSocket is
    /// message-framed (RFC 7118: one SIP message per WebSocket message), like UDP.
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// The Via transport token.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    fn default_port(self) -> u16 {
        if matches!(self, Transport::Tls | Transport::Wss) {
            5061
        } else {
            5060
        }
    }
}

/// A connection-oriented transport's connection, as numbered by the I/O layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// Where a message goes: on a connection if there is one, else to an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub conn: Option<ConnId>,
}

/// One received message.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    pub transport: Transport,
    pub conn: Option<ConnId>,
    /// The local address to advertise for this listener (Contact, Via).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// A whole datagram, or one framed stream message.
    pub bytes: &'a [u8],
}

/// What the endpoint asks of the I/O layer and tells the application.
#[derive(Debug)]
pub enum Output {
    Transmit { target: Target, bytes: Bytes },
    Event(Event),
}

/// A registration binding as the application sees and persists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI.
    pub contact: String,
    /// Unix seconds at which the binding lapses.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
    /// The q-value in thousandths.
    pub q_milli: Option<u16>,
    /// Where the REGISTER came from.
    pub source: Option<SocketAddr>,
    /// The transport it came over, lower case.
    pub transport: Option<String>,
    pub user_agent: Option<String>,
    /// The connection it came over (not persisted: connections do not survive a restart).
    pub conn: Option<ConnId>,
}

/// Things the application acts on.
#[derive(Debug)]
pub enum Event {
    /// A new INVITE passed validation. Answer it with [`Endpoint::answer`] or
    /// [`Endpoint::reject`].
    IncomingCall { call: CallRef, info: Box<CallInfo> },
    /// The caller's ACK arrived for our 2xx.
    CallConfirmed { call: CallRef },
    /// The call is over (or never started). `status` is the final status of its INVITE, if
    /// there was one: the one we sent for a call we answered (200 once answered), the one we
    /// received for an outbound leg (408 when it timed out, 487 after our CANCEL).
    CallEnded {
        call: CallRef,
        cause: EndCause,
        status: Option<u16>,
    },
    /// The peer sent a new offer (re-INVITE or UPDATE); answer with
    /// [`Endpoint::answer_offer`] or [`Endpoint::reject_offer`]. `offer` is `None` for an
    /// offerless re-INVITE, which the application answers with an offer of its own.
    Offer { call: CallRef, offer: Option<Bytes> },
    /// An in-dialog INFO (DTMF relay from AudioCodes/Polycom phones).
    Info {
        call: CallRef,
        content_type: String,
        body: Bytes,
    },
    /// Registrations of `aor` changed: persist `bindings` (the full current set).
    Registration {
        aor: String,
        bindings: Vec<Binding>,
        source: SocketAddr,
        user_agent: Option<String>,
    },
    /// A message was dropped or rejected as malformed (for metrics and logs; carries no
    /// message content).
    Malformed {
        source: SocketAddr,
        reason: &'static str,
    },
    /// An outbound leg got a provisional response other than 100 (180, 181, 182, 183...).
    /// `sdp` is the early-media answer, given once: with the first provisional response that
    /// carries one.
    Progress {
        call: CallRef,
        status: u16,
        sdp: Option<Bytes>,
    },
    /// An outbound leg was answered (2xx); the endpoint already sent the ACK. `sdp` is the
    /// answer in the 2xx (the same as an early answer, if one came).
    Answered { call: CallRef, sdp: Option<Bytes> },
    /// The peer asked to transfer the call (an in-dialog REFER, RFC 3515), already answered
    /// 202. Report how the transfer goes with [`Endpoint::refer_progress`]. `refer_to` is the
    /// URI of Refer-To (with any `?Replaces=` header part), `referred_by` the Referred-By value.
    Refer {
        call: CallRef,
        refer_to: String,
        referred_by: Option<String>,
    },
    /// A registration with an upstream registrar succeeded or failed.
    Upstream {
        registration: UpstreamRef,
        state: UpstreamState,
    },
}

/// Endpoint settings.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Our SIP domain (Contact user part host, registrar domain).
    pub domain: String,
    /// Server / User-Agent header value; empty sends none.
    pub user_agent: String,
    pub timers: TimerConfig,
    pub policy: UasPolicy,
    /// RFC 4028 session interval we ask for, and the smallest we accept (Min-SE).
    pub session_expires: u32,
    pub min_se: u32,
    pub registrar: Option<RegistrarSettings>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            domain: "herald.local".into(),
            user_agent: "Herald".into(),
            timers: TimerConfig::default(),
            policy: UasPolicy::default(),
            session_expires: 1800,
            min_se: 90,
            registrar: None,
        }
    }
}

/// Messages as the transaction layer keeps them: serialized with their destination, or a
/// received response handed back to us.
#[derive(Clone, Debug)]
pub(crate) enum TxMsg {
    Wire(Target, Bytes),
    Received(Arc<Response>),
}

/// The SIP endpoint. `R` supplies tags, branches and nonces.
pub struct Endpoint<R: RngCore> {
    config: EndpointConfig,
    rng: R,
    epoch: (Instant, i64),
    transactions: Transactions<TxMsg>,
    outputs: VecDeque<Output>,
    calls: call::Calls,
    registrar: register::Registrar,
    subscriptions: subscribe::Subscriptions,
    upstreams: upstream::Upstreams,
    /// The ACKs we sent for 2xx responses to our INVITEs, to answer retransmissions.
    acks: outbound::AckMemory,
    /// Deadlines of calls (2xx and 1xx retransmission, session timers), subscriptions and
    /// upstream registrations, earliest first.
    deadlines: BTreeSet<(Instant, Due)>,
    /// Who handles the responses to a client transaction we started.
    client_owner: HashMap<TransactionId, ClientOwner>,
}

/// What a deadline in [`Endpoint::deadlines`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    Call(CallRef),
    Subscription(u64),
    Upstream(u64),
}

/// The owner of a client transaction: where its responses and failures go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientOwner {
    Call(CallRef, Purpose),
    /// A NOTIFY of a `message-summary` subscription.
    Subscription(u64),
    Upstream(UpstreamRef),
    /// The INVITE of an outbound leg that ended before the INVITE was over: a provisional
    /// response gets a CANCEL (unless `cancelled`), a 2xx an ACK and a BYE.
    OrphanInvite {
        cancelled: bool,
    },
}

/// What a call's client transaction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The INVITE of an outbound leg.
    Invite,
    /// The CANCEL of that INVITE.
    Cancel,
    /// A NOTIFY of a REFER's implicit subscription: its failure ends only the subscription.
    Notify,
    /// BYE, UPDATE or re-INVITE: a 408 or 481 ends the call.
    Request,
}

impl<R: RngCore> std::fmt::Debug for Endpoint<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("transactions", &self.transactions.len())
            .finish_non_exhaustive()
    }
}

impl<R: RngCore> Endpoint<R> {
    /// `epoch` pairs a monotonic instant with the wall-clock time (unix milliseconds) at that
    /// instant; the endpoint never reads a clock.
    pub fn new(config: EndpointConfig, rng: R, epoch: (Instant, i64)) -> Self {
        let registrar = register::Registrar::new(config.registrar.clone());
        Self {
            transactions: Transactions::new(config.timers),
            config,
            rng,
            epoch,
            outputs: VecDeque::new(),
            calls: call::Calls::default(),
            registrar,
            subscriptions: subscribe::Subscriptions::default(),
            upstreams: upstream::Upstreams::default(),
            acks: outbound::AckMemory::default(),
            deadlines: BTreeSet::new(),
            client_owner: HashMap::new(),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Wall-clock unix milliseconds at `now`.
    pub fn unix_ms(&self, now: Instant) -> i64 {
        let (at, ms) = self.epoch;
        match now.checked_duration_since(at) {
            Some(d) => ms + d.as_millis() as i64,
            None => ms - at.duration_since(now).as_millis() as i64,
        }
    }

    /// Live transactions, dialogs and calls (for metrics and memory benchmarks).
    pub fn stats(&self) -> Stats {
        Stats {
            transactions: self.transactions.len(),
            calls: self.calls.len(),
            registrations: self.registrar.binding_count(),
            subscriptions: self.subscriptions.len(),
            upstream_registrations: self.upstreams.len(),
        }
    }

    /// Restores persisted registration bindings (at start-up).
    pub fn restore_bindings(&mut self, aor: &str, bindings: Vec<Binding>) {
        self.registrar.restore(aor, bindings);
    }

    /// Current non-expired bindings of `aor` (for routing calls to registered phones).
    pub fn bindings(&self, aor: &str, now: Instant) -> Vec<Binding> {
        self.registrar
            .current(aor, (self.unix_ms(now) / 1000).max(0) as u64)
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ours = self.deadlines.first().map(|(at, _)| *at);
        match (self.transactions.poll_timeout(), ours) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        self.drain_transactions(now);
        while let Some(&(at, due)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            match due {
                Due::Call(call) => self.call_timeout(call, now),
                Due::Subscription(id) => self.subscription_timeout(id, now),
                Due::Upstream(id) => self.upstream_timeout(UpstreamRef(id), now),
            }
        }
        self.acks.forget_before(now);
        // What the timers started (refreshes, BYEs, REGISTERs) goes out now, not at the next
        // input.
        self.drain_transactions(now);
    }

    /// Feeds one received message.
    pub fn handle_incoming(&mut self, now: Instant, incoming: Incoming<'_>) {
        let framing = if incoming.transport.is_stream() {
            Framing::Stream
        } else {
            Framing::Datagram
        };
        match parse_message(incoming.bytes, framing) {
            Ok(Message::Request(mut req)) => {
                stamp_top_via(&mut req, incoming.remote);
                self.handle_request(now, &incoming, req)
            }
            Ok(Message::Response(resp)) => self.handle_response(now, resp),
            Err(e) => {
                self.event(Event::Malformed {
                    source: incoming.remote,
                    reason: e.reason,
                });
                if let (Some(status), Some(mut partial)) = (e.status(), e.partial) {
                    stamp_top_via(&mut partial, incoming.remote);
                    if partial.method != Method::Ack {
                        self.reply_stateless(&incoming, &partial, status, e.reason, &[]);
                    }
                }
            }
        }
        self.drain_transactions(now);
    }

    fn handle_request(&mut self, now: Instant, incoming: &Incoming<'_>, req: Request) {
        let checked = match check_request(&req, &self.config.policy) {
            Ok(c) => c,
            Err(rej) => return self.reject_invalid(now, incoming, &req, rej),
        };
        let key = TransactionKey::server(&identity(&req, &checked, incoming.transport));
        if req.method == Method::Ack {
            return self.handle_ack(now, incoming, req, &checked, key);
        }
        if self.transactions.handle_request(&key, now).is_some() {
            return; // a retransmission, absorbed by its transaction
        }
        let kind = TransactionKind::for_method(req.method.as_str());
        let reliability = if incoming.transport.is_reliable() {
            Reliability::Reliable
        } else {
            Reliability::Unreliable
        };
        let Ok(tx) = self
            .transactions
            .start_server(key.clone(), kind, reliability, now)
        else {
            return self.reply_stateless(incoming, &req, 503, "Service Unavailable", &[]);
        };
        let ctx = RequestCtx {
            tx,
            key,
            target: response_target(incoming, checked.top_via()),
        };
        let req = Arc::new(req);
        match req.method {
            Method::Invite => self.handle_invite(now, ctx, req, checked, incoming),
            Method::Cancel => self.handle_cancel(now, ctx, &req),
            Method::Register => self.handle_register(now, ctx, &req, &checked, incoming),
            Method::Options if checked.to.tag().is_none() => self.answer_options(now, &ctx, &req),
            Method::Subscribe => self.handle_subscribe(now, ctx, req, checked, incoming),
            Method::Refer if checked.to.tag().is_none() => self.respond(
                now,
                &ctx,
                &req,
                403,
                Some("Transfers are taken within a call only"),
                &[],
                None,
            ),
            _ => self.handle_in_dialog(now, ctx, req, checked),
        }
    }

    /// Answers a request that failed §8.2 validation, through a server transaction so that
    /// retransmissions are absorbed.
    fn reject_invalid(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        req: &Request,
        rej: Rejection,
    ) {
        self.event(Event::Malformed {
            source: incoming.remote,
            reason: rej.reason,
        });
        if req.method == Method::Ack {
            return;
        }
        let Ok(vias) = headers::vias(&req.headers) else {
            return self.reply_stateless(incoming, req, rej.status, rej.reason, &rej.headers);
        };
        let Some(top) = vias.first() else { return };
        let branch = top.branch().unwrap_or("");
        if !branch.starts_with(crate::transaction::MAGIC_COOKIE) || branch.len() <= 7 {
            return self.reply_stateless(incoming, req, rej.status, rej.reason, &rej.headers);
        }
        let id = RequestIdentity {
            method: req.method.as_str(),
            branch: Some(branch),
            sent_by_host: &top.host,
            sent_by_port: top.port.unwrap_or(incoming.transport.default_port()),
            request_uri: &req.uri,
            call_id: "",
            from_tag: None,
            to_tag: None,
            cseq: 0,
            top_via: "",
        };
        let key = TransactionKey::server(&id);
        if self.transactions.handle_request(&key, now).is_some() {
            return;
        }
        let kind = TransactionKind::for_method(req.method.as_str());
        let rel = if incoming.transport.is_reliable() {
            Reliability::Reliable
        } else {
            Reliability::Unreliable
        };
        match self.transactions.start_server(key.clone(), kind, rel, now) {
            Ok(tx) => {
                let ctx = RequestCtx {
                    tx,
                    key,
                    target: response_target(incoming, top),
                };
                let extra: Vec<_> = rej
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect();
                self.respond(now, &ctx, req, rej.status, Some(rej.reason), &extra, None);
            }
            Err(_) => self.reply_stateless(incoming, req, rej.status, rej.reason, &rej.headers),
        }
    }

    /// Sends a response without a transaction (the request could not be matched to one).
    fn reply_stateless(
        &mut self,
        incoming: &Incoming<'_>,
        req: &Request,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        // No Via at all: nowhere to answer. A Via that does not parse: answer the source
        // address over the transport the request came on (nothing better to route by).
        let target = match headers::vias(&req.headers) {
            Ok(vias) => match vias.first() {
                Some(top) => response_target(incoming, top),
                None => return,
            },
            Err(_) if req.headers.contains(&HeaderName::Via) => Target {
                transport: incoming.transport,
                addr: incoming.remote,
                conn: incoming.conn,
            },
            Err(_) => return,
        };
        let mut resp = self.build_response(req, status, Some(reason), None);
        for (n, v) in extra {
            resp.headers.push(n.clone(), v.clone());
        }
        self.transmit(target, Bytes::from(resp.to_bytes()));
    }

    fn answer_options(&mut self, now: Instant, ctx: &RequestCtx, req: &Request) {
        let [allow, allow_events] = self.config.policy.allow_headers();
        let extra = vec![
            allow,
            allow_events,
            (HeaderName::Accept, self.config.policy.accept_header()),
            (HeaderName::Supported, self.config.policy.supported_header()),
            (HeaderName::AcceptEncoding, "identity".to_owned()),
            (HeaderName::AcceptLanguage, "en".to_owned()),
        ];
        let tag = self.new_tag();
        self.respond(now, ctx, req, 200, None, &extra, Some(&tag));
    }

    /// Builds a response with our standard headers.
    fn build_response(
        &self,
        req: &Request,
        status: u16,
        reason: Option<&str>,
        to_tag: Option<&str>,
    ) -> Response {
        let mut resp =
            Response::to_request(req, status, reason.unwrap_or(reason_phrase(status)), to_tag);
        if !self.config.user_agent.is_empty() {
            resp.headers
                .push(HeaderName::Server, self.config.user_agent.clone());
        }
        resp
    }

    /// Sends a response through the request's server transaction.
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        now: Instant,
        ctx: &RequestCtx,
        req: &Request,
        status: u16,
        reason: Option<&str>,
        extra: &[(HeaderName, String)],
        to_tag: Option<&str>,
    ) {
        let mut resp = self.build_response(req, status, reason, to_tag);
        for (n, v) in extra {
            resp.headers.push(n.clone(), v.clone());
        }
        self.send_response(now, ctx, resp);
    }

    fn send_response(&mut self, now: Instant, ctx: &RequestCtx, resp: Response) {
        let status = resp.status;
        let msg = TxMsg::Wire(ctx.target, Bytes::from(resp.to_bytes()));
        if self
            .transactions
            .respond(ctx.tx, status, msg.clone(), now)
            .is_err()
        {
            // The transaction is gone (e.g. timed out): send once, statelessly.
            if let TxMsg::Wire(target, bytes) = msg {
                self.transmit(target, bytes);
            }
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Response) {
        let Some(via) = resp
            .headers
            .get(&HeaderName::Via)
            .and_then(|v| crate::message::split_list(v).next())
        else {
            return;
        };
        let (Ok(via), Some(cseq)) = (Via::parse(via), resp.headers.get(&HeaderName::CSeq)) else {
            return;
        };
        let (Some(branch), Ok(cseq)) = (via.branch(), headers::CSeq::parse(cseq)) else {
            return;
        };
        let key = TransactionKey::client(branch, cseq.method.as_str());
        let status = resp.status;
        let invite_2xx = cseq.method == Method::Invite && (200..300).contains(&status);
        let stray =
            self.transactions
                .handle_response(&key, status, TxMsg::Received(Arc::new(resp)), now);
        // A response no transaction of ours is waiting for is stray: drop it (RFC 3261
        // §18.1.2), unless it is a 2xx to one of our INVITEs, which the core acknowledges
        // (RFC 6026 §8.1: its INVITE transaction may be gone).
        if let Err(TxMsg::Received(resp)) = stray
            && invite_2xx
        {
            self.stray_invite_2xx(now, &resp);
        }
    }

    /// Routes transaction outputs: transmissions to the I/O layer, responses and timeouts to
    /// the calls that own client transactions.
    fn drain_transactions(&mut self, now: Instant) {
        while let Some((id, out)) = self.transactions.poll_output() {
            match out {
                TxOutput::Transmit(TxMsg::Wire(target, bytes)) => self.transmit(target, bytes),
                TxOutput::Transmit(TxMsg::Received(_)) | TxOutput::Ack(_) => {}
                TxOutput::Response {
                    status,
                    response: TxMsg::Received(resp),
                } => self.route_client_response(now, id, status, &resp),
                TxOutput::Response { .. } => {}
                TxOutput::BuildAck {
                    response: TxMsg::Received(resp),
                    ..
                } => self.build_non2xx_ack(id, &resp),
                TxOutput::BuildAck { .. } => {}
                TxOutput::Timeout => self.route_client_failure(now, id, true),
                TxOutput::TransportError => self.route_client_failure(now, id, false),
                TxOutput::Terminated => {
                    self.client_owner.remove(&id);
                }
            }
        }
    }

    /// A response to one of our client transactions, to whoever started it.
    fn route_client_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        status: u16,
        resp: &Response,
    ) {
        if (200..300).contains(&status) && outbound::is_invite_response(resp) && self.reack(resp) {
            return; // a retransmitted 2xx we already acknowledged
        }
        match self.client_owner.get(&id).copied() {
            Some(ClientOwner::Call(call, Purpose::Invite)) => {
                self.outbound_response(now, call, id, status, resp)
            }
            Some(ClientOwner::Call(_, Purpose::Cancel)) => {}
            Some(ClientOwner::Call(call, Purpose::Notify)) => {
                self.refer_notify_answered(call, status)
            }
            Some(ClientOwner::Call(call, Purpose::Request)) => {
                self.client_response(now, call, id, status, resp)
            }
            Some(ClientOwner::Subscription(sub)) => self.subscription_notify_answered(sub, status),
            Some(ClientOwner::Upstream(reg)) => self.upstream_response(now, reg, status, resp),
            Some(ClientOwner::OrphanInvite { cancelled }) => {
                self.orphan_response(now, id, cancelled, status, resp)
            }
            None => {}
        }
    }

    /// A client transaction timed out (`timeout`) or its transport failed; a server
    /// transaction failure goes to its call.
    fn route_client_failure(&mut self, now: Instant, id: TransactionId, timeout: bool) {
        match self.client_owner.get(&id).copied() {
            Some(ClientOwner::Call(call, Purpose::Invite)) => {
                self.outbound_failed(now, call, timeout)
            }
            Some(ClientOwner::Call(_, Purpose::Cancel) | ClientOwner::OrphanInvite { .. }) => {}
            Some(ClientOwner::Call(call, Purpose::Notify)) => self.refer_notify_answered(call, 408),
            Some(ClientOwner::Call(call, Purpose::Request)) => self.client_failed(now, call, id),
            Some(ClientOwner::Subscription(sub)) => self.subscription_notify_answered(sub, 408),
            Some(ClientOwner::Upstream(reg)) => self.upstream_failed(now, reg, None),
            None => self.server_failed(now, id),
        }
    }

    /// The request of a live client transaction, parsed back, with its destination.
    fn client_request(&self, id: TransactionId) -> Option<(Target, Request)> {
        let Some(TxMsg::Wire(target, bytes)) =
            self.transactions.client(id).map(|c| c.request().clone())
        else {
            return None;
        };
        match parse_message(&bytes, Framing::Stream) {
            Ok(Message::Request(request)) => Some((target, request)),
            _ => None,
        }
    }

    /// RFC 3261 §17.1.1.3: the ACK for a non-2xx final response to our INVITE.
    fn build_non2xx_ack(&mut self, id: TransactionId, resp: &Response) {
        let Some((target, invite)) = self.client_request(id) else {
            return;
        };
        let mut ack = Request::new(Method::Ack, invite.uri.clone());
        for name in [
            HeaderName::Via,
            HeaderName::Route,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::MaxForwards,
        ] {
            if let Some(v) = invite.headers.get(&name) {
                ack.headers.push(name, v);
            }
        }
        if let Some(to) = resp.headers.get(&HeaderName::To) {
            ack.headers.push(HeaderName::To, to);
        }
        let seq = invite
            .headers
            .get(&HeaderName::CSeq)
            .and_then(|c| headers::CSeq::parse(c).ok())
            .map_or(1, |c| c.seq);
        ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
        let _ = self
            .transactions
            .set_ack(id, TxMsg::Wire(target, Bytes::from(ack.to_bytes())));
    }

    fn transmit(&mut self, target: Target, bytes: Bytes) {
        self.outputs.push_back(Output::Transmit { target, bytes });
    }

    fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// A random token (tags, branches): 64 bits as hex.
    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    fn new_branch(&mut self) -> String {
        format!(
            "{}{:016x}",
            crate::transaction::MAGIC_COOKIE,
            self.rng.next_u64()
        )
    }

    /// A Via for a request we send from `local` over `transport`, with a fresh branch.
    fn new_via(&mut self, transport: Transport, local: SocketAddr) -> (String, String) {
        let branch = self.new_branch();
        let via = format!(
            "SIP/2.0/{} {local};branch={branch};rport",
            transport.via_name()
        );
        (branch, via)
    }

    /// Starts a client transaction for `req` (whose top Via carries `branch`) towards
    /// `target`, owned by `owner` (`None`: nobody waits for its answer).
    fn start_client_request(
        &mut self,
        now: Instant,
        target: Target,
        branch: &str,
        req: &Request,
        owner: Option<ClientOwner>,
    ) -> Option<TransactionId> {
        let method = req.method.as_str();
        let key = TransactionKey::client(branch, method);
        let rel = if target.transport.is_reliable() {
            Reliability::Reliable
        } else {
            Reliability::Unreliable
        };
        let msg = TxMsg::Wire(target, Bytes::from(req.to_bytes()));
        let id = self
            .transactions
            .start_client(key, TransactionKind::for_method(method), msg, rel, now)
            .ok()?;
        if let Some(owner) = owner {
            self.client_owner.insert(id, owner);
        }
        Some(id)
    }

    /// Re-files a deadline after its owner's state changed.
    fn schedule(&mut self, due: Due, old: Option<Instant>, new: Option<Instant>) {
        if let Some(at) = old {
            self.deadlines.remove(&(at, due));
        }
        if let Some(at) = new {
            self.deadlines.insert((at, due));
        }
    }
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub transactions: usize,
    pub calls: usize,
    pub registrations: usize,
    /// `message-summary` subscriptions phones hold with us.
    pub subscriptions: usize,
    /// Registrations we keep with upstream registrars.
    pub upstream_registrations: usize,
}

/// What a request handler needs to answer through the request's server transaction.
#[derive(Clone, Debug)]
pub(crate) struct RequestCtx {
    pub tx: TransactionId,
    pub key: TransactionKey,
    pub target: Target,
}

fn identity<'a>(
    req: &'a Request,
    checked: &'a Checked,
    transport: Transport,
) -> RequestIdentity<'a> {
    let top = checked.top_via();
    RequestIdentity {
        method: req.method.as_str(),
        branch: top.branch(),
        sent_by_host: &top.host,
        sent_by_port: top.port.unwrap_or(transport.default_port()),
        request_uri: &req.uri,
        call_id: &checked.call_id,
        from_tag: checked.from.tag(),
        to_tag: checked.to.tag(),
        cseq: checked.cseq.seq,
        top_via: req.headers.list(&HeaderName::Via).next().unwrap_or(""),
    }
}

/// RFC 3261 §18.2.2 with RFC 3581: reliable transports answer on the connection the request
/// came on; UDP answers go to the source address when `rport` was asked for, else to the
/// source IP and the sent-by port (default 5060). Broadcast and unspecified addresses in Via
/// are never used: the source address is what we answer.
fn response_target(incoming: &Incoming<'_>, top: &Via) -> Target {
    if incoming.transport.is_reliable() {
        return Target {
            transport: incoming.transport,
            addr: incoming.remote,
            conn: incoming.conn,
        };
    }
    let port = match top.rport() {
        Some(_) => incoming.remote.port(),
        None => top.port.unwrap_or(5060),
    };
    Target {
        transport: Transport::Udp,
        addr: SocketAddr::new(incoming.remote.ip(), port),
        conn: None,
    }
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: records in the request's top Via where it really came
/// from (`received`, and the source port in an empty `rport`), so that every response built
/// from the request carries them.
fn stamp_top_via(req: &mut Request, source: SocketAddr) {
    let Some(line) = req.headers.get_mut(&HeaderName::Via) else {
        return;
    };
    let Some(Ok(mut via)) = crate::message::split_list(line).next().map(Via::parse) else {
        return;
    };
    let ip = source.ip().to_string();
    let asked_rport = via.rport() == Some(None);
    if via.host.trim_matches(['[', ']']) == ip && !asked_rport {
        return; // the common case: nothing to record, nothing allocated for the Via list
    }
    let mut items: Vec<String> = crate::message::split_list(line)
        .map(str::to_owned)
        .collect();
    let Some(top) = items.first_mut() else { return };
    via.params.retain(|p| {
        !p.name.eq_ignore_ascii_case("received") && !p.name.eq_ignore_ascii_case("rport")
    });
    let mut out = format!("SIP/2.0/{} {}", via.transport, via.sent_by());
    for p in &via.params {
        match &p.value {
            Some(v) => out.push_str(&format!(";{}={v}", p.name)),
            None => out.push_str(&format!(";{}", p.name)),
        }
    }
    out.push_str(&format!(";received={ip}"));
    if asked_rport {
        out.push_str(&format!(";rport={}", source.port()));
    }
    *top = out;
    *line = items.join(", ");
}

/// Duration helper for session timers.
pub(crate) fn duration_secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}
