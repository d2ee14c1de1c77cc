//! Calls: INVITE dialogs from offer to hang-up, both those Herald answers (the UAS side,
//! here) and the outbound legs it places (the UAC side of the INVITE, in
//! [`super::outbound`]). Once a dialog exists, both run the same in-dialog code: BYE, INFO,
//! re-INVITE/UPDATE offers, REFER, session timers.
//!
//! ```text
//! Inbound (UAS):
//!   INVITE ──> Offered ──answer──> Answered ──ACK──> Confirmed ──BYE (either side)──> ended
//!                 │  └─ring (18x, reliable with 100rel)      │
//!                 ├─reject / CANCEL (487) ──> ended          └─ re-INVITE / UPDATE / INFO /
//!                 └─(no ACK in 64*T1) ──> BYE ──> ended         PRACK / REFER
//!
//! Outbound (UAC):
//!   invite() ──> Outgoing ──2xx, ACK sent (Answered)──> Confirmed ──BYE (either side)──> ended
//!                  │  ├─1xx (Progress; with a To tag: early dialog)
//!                  │  ├─401/407 ──> INVITE again with credentials (once per realm)
//!                  │  └─3xx-6xx, Timer B (408) ──> ended (Unanswered)
//!                  └─hangup ──> CANCEL (at once after a 1xx; else when the first 1xx comes)
//!                                 ├─487 (or any final error) ──> ended (LocalHangup)
//!                                 ├─2xx crossing the CANCEL ──> ACK, BYE ──> ended
//!                                 └─no 1xx before Timer B ──> ended (LocalHangup, 408)
//! ```
//!
//! Session timers (RFC 4028) run in `Answered` and `Confirmed`: when Herald is the refresher
//! it sends an UPDATE (or a re-INVITE with the same SDP when the peer does not allow UPDATE)
//! at half the interval; when the peer is, a missing refresh ends the call with a BYE. On an
//! outbound leg the timer is what the 2xx says; a 2xx without Session-Expires runs none.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngCore;

use super::outbound::Outbound;
use super::refer::ReferSubscription;
use super::{
    ClientOwner, Due, Endpoint, Event, Incoming, Purpose, RequestCtx, Target, Transport, TxMsg,
    duration_secs,
};
use crate::dialog::{Dialog, DialogId, DialogState};
use crate::message::headers::{self, SessionExpires};
use crate::message::{HeaderName, Method, Request, Response};
use crate::transaction::{
    ClientState, InviteClientState, Retransmit2xx, Retransmit2xxOutput, TransactionId,
    TransactionKey,
};
use crate::uas::Checked;

/// A call handle, stable for the call's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// A final status the application may answer an INVITE or an offer with: 300 to 699.
/// Anything else cannot be a final error and is not representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalStatus(u16);

impl FinalStatus {
    pub const NOT_FOUND: Self = Self(404);
    pub const TEMPORARILY_UNAVAILABLE: Self = Self(480);
    pub const BUSY_HERE: Self = Self(486);
    pub const NOT_ACCEPTABLE_HERE: Self = Self(488);
    pub const SERVER_ERROR: Self = Self(500);
    pub const SERVICE_UNAVAILABLE: Self = Self(503);
    pub const DECLINE: Self = Self(603);

    /// `None` outside 300..=699.
    pub fn new(status: u16) -> Option<Self> {
        (300..=699).contains(&status).then_some(Self(status))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// Why a call ended; stored in the call record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndCause {
    /// The caller sent CANCEL before we answered.
    Cancelled,
    /// The caller sent BYE.
    CallerBye,
    /// The application hung up (we sent BYE or a final error).
    LocalHangup,
    /// The application rejected the INVITE.
    Rejected,
    /// Our 2xx was never acknowledged.
    NoAck,
    /// The session timer expired without a refresh.
    SessionExpired,
    /// A reliable provisional response was never PRACKed.
    NoPrack,
    /// A request or transport failed.
    Failed,
    /// An outbound leg got a final error response (its status is in `CallEnded`; 408 when
    /// the INVITE timed out).
    Unanswered,
}

impl EndCause {
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::Cancelled => "cancelled",
            EndCause::CallerBye => "caller-bye",
            EndCause::LocalHangup => "local-hangup",
            EndCause::Rejected => "rejected",
            EndCause::NoAck => "no-ack",
            EndCause::SessionExpired => "session-expired",
            EndCause::NoPrack => "no-prack",
            EndCause::Failed => "failed",
            EndCause::Unanswered => "unanswered",
        }
    }
}

/// What the application learns about a new call.
#[derive(Clone, Debug)]
pub struct CallInfo {
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub request_uri: String,
    pub caller_user: Option<String>,
    pub callee_user: Option<String>,
    pub callee_host: String,
    pub source: SocketAddr,
    pub local: SocketAddr,
    pub transport: Transport,
    pub user_agent: Option<String>,
    /// The SDP offer, if the INVITE carried one.
    pub offer: Option<Bytes>,
    /// `P-Asserted-Identity` (RFC 3325), as sent: only worth anything from a trusted peer.
    pub asserted_identity: Option<String>,
    /// `Privacy` (RFC 3323), as sent (`id` withholds the caller's identity).
    pub privacy: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Inbound: the INVITE waits for the application's answer.
    Offered,
    /// Inbound: we sent the 2xx and wait for the ACK.
    Answered,
    /// Outbound: our INVITE has no final response yet.
    Outgoing,
    Confirmed,
    /// We sent BYE and wait for its answer.
    Ending(EndCause),
}

/// A reliable provisional response awaiting PRACK (RFC 3262).
#[derive(Debug)]
struct PendingPrack {
    rseq: u32,
    bytes: Bytes,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// The RFC 4028 session timer.
#[derive(Clone, Copy, Debug)]
pub(super) struct SessionTimer {
    pub interval: u32,
    pub we_refresh: bool,
    pub deadline: Instant,
}

/// A re-INVITE or UPDATE whose offer the application is answering.
#[derive(Debug)]
pub(super) struct PendingOffer {
    ctx: RequestCtx,
    request: Arc<Request>,
}

/// Waiting for the ACK of a 2xx to INVITE. The 2xx is retransmitted until then on every
/// transport (RFC 3261 §13.3.1.4: there may be UDP hops beyond a TCP peer).
#[derive(Debug)]
pub(super) struct AckWait {
    /// The CSeq of the INVITE being acknowledged.
    seq: u32,
    machine: Box<Retransmit2xx<TxMsg>>,
}

/// The INVITE server side of a call we answer: only it has an INVITE to respond to.
#[derive(Debug)]
pub(super) struct Inbound {
    /// The INVITE, until the call is confirmed (nothing answers it after that).
    invite: Option<Arc<Request>>,
    ctx: RequestCtx,
    peer_supports_100rel: bool,
    peer_requires_100rel: bool,
    next_rseq: u32,
    prack: Option<PendingPrack>,
}

/// Which side of the INVITE we are.
#[derive(Debug)]
pub(super) enum Side {
    Uas(Box<Inbound>),
    Uac(Box<Outbound>),
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(super) phase: Phase,
    pub(super) side: Side,
    pub(super) dialog: Dialog,
    /// Where in-dialog requests go: for a call we answer, the address (and connection) the
    /// caller's INVITE came from, which also works for phones behind NAT; for an outbound
    /// leg, its target.
    pub(super) peer: Target,
    pub(super) local: SocketAddr,
    pub(super) peer_allows_update: bool,
    /// The 2xx we sent to an INVITE (initial or re-INVITE) until its ACK.
    pub(super) ack: Option<AckWait>,
    pub(super) session: Option<SessionTimer>,
    pub(super) offer: Option<PendingOffer>,
    /// The last SDP we sent (reused by re-INVITE session refreshes).
    pub(super) local_sdp: Option<Bytes>,
    /// The final status of the INVITE: sent (inbound) or received (outbound).
    pub(super) final_status: Option<u16>,
    /// The implicit subscription of the REFER being reported on, if any.
    pub(super) refer: Option<ReferSubscription>,
    /// REFERs accepted in this dialog (the second and later NOTIFYs carry an id, RFC 3515).
    pub(super) refers: u32,
    /// The deadline currently filed with the endpoint.
    pub(super) filed: Option<Instant>,
}

impl Call {
    /// A call in its first phase, with nothing pending.
    pub(super) fn new(
        phase: Phase,
        side: Side,
        dialog: Dialog,
        peer: Target,
        local: SocketAddr,
    ) -> Self {
        Self {
            phase,
            side,
            dialog,
            peer,
            local,
            peer_allows_update: false,
            ack: None,
            session: None,
            offer: None,
            local_sdp: None,
            final_status: None,
            refer: None,
            refers: 0,
            filed: None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let ack = self.ack.as_ref().and_then(|a| a.machine.poll_timeout());
        let prack = self
            .inbound()
            .and_then(|i| i.prack.as_ref())
            .map(|p| p.next.min(p.give_up));
        let session = self.session.map(|s| s.deadline);
        [ack, prack, session].into_iter().flatten().min()
    }

    fn inbound(&self) -> Option<&Inbound> {
        match &self.side {
            Side::Uas(i) => Some(i),
            Side::Uac(_) => None,
        }
    }

    fn inbound_mut(&mut self) -> Option<&mut Inbound> {
        match &mut self.side {
            Side::Uas(i) => Some(i),
            Side::Uac(_) => None,
        }
    }

    pub(super) fn outbound(&self) -> Option<&Outbound> {
        match &self.side {
            Side::Uac(o) => Some(o),
            Side::Uas(_) => None,
        }
    }

    pub(super) fn outbound_mut(&mut self) -> Option<&mut Outbound> {
        match &mut self.side {
            Side::Uac(o) => Some(o),
            Side::Uas(_) => None,
        }
    }
}

/// The live calls and their indexes.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub(super) next: u64,
    pub(super) by_ref: HashMap<CallRef, Call>,
    /// Calls by the dialog id as a request from the peer names it (Call-ID, our tag, their
    /// tag); an outbound leg is filed once a response gave it the peer's tag.
    pub(super) by_dialog: HashMap<DialogId, CallRef>,
    by_invite_tx: HashMap<TransactionId, CallRef>,
    /// Unanswered calls by (Call-ID, From tag), for merged-request detection (482).
    offered: HashMap<(String, String), CallRef>,
    /// Outbound legs by (Call-ID, our From tag), for 2xx responses that outlived their
    /// INVITE transaction.
    pub(super) outbound: HashMap<(String, String), CallRef>,
}

impl Calls {
    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    /// A fresh call handle (inbound and outbound calls share the numbering).
    pub(super) fn allocate(&mut self) -> CallRef {
        let call = CallRef(self.next);
        self.next += 1;
        call
    }

    fn remove(&mut self, call: CallRef) -> Option<Call> {
        let c = self.by_ref.remove(&call)?;
        let id = &c.dialog.id;
        remove_if(&mut self.by_dialog, id, call);
        if let Some(i) = c.inbound() {
            self.by_invite_tx.remove(&i.ctx.tx);
            remove_if(
                &mut self.offered,
                &(id.call_id.clone(), id.remote_tag.clone()),
                call,
            );
        } else {
            remove_if(
                &mut self.outbound,
                &(id.call_id.clone(), id.local_tag.clone()),
                call,
            );
        }
        Some(c)
    }

    /// The call is no longer unanswered.
    fn leave_offered(&mut self, call: CallRef) {
        if let Some(c) = self.by_ref.get(&call) {
            let key = (c.dialog.id.call_id.clone(), c.dialog.id.remote_tag.clone());
            remove_if(&mut self.offered, &key, call);
        }
    }

    /// Replaces the dialog of `call` (an outbound leg's early or confirmed dialog) and
    /// re-files it under its new id.
    pub(super) fn set_dialog(&mut self, call: CallRef, dialog: Dialog) {
        let Some(c) = self.by_ref.get_mut(&call) else {
            return;
        };
        let old = std::mem::replace(&mut c.dialog, dialog);
        remove_if(&mut self.by_dialog, &old.id, call);
        if !c.dialog.id.remote_tag.is_empty() {
            self.by_dialog.insert(c.dialog.id.clone(), call);
        }
    }
}

/// Removes `key` from an index only if it points at `call` (another call may share an id
/// that a peer chose badly).
fn remove_if<K: std::hash::Hash + Eq>(map: &mut HashMap<K, CallRef>, key: &K, call: CallRef) {
    if map.get(key) == Some(&call) {
        map.remove(key);
    }
}

pub(super) fn has_tag(headers: &crate::message::Headers, name: &HeaderName, tag: &str) -> bool {
    headers.list(name).any(|t| t.eq_ignore_ascii_case(tag))
}

impl<R: RngCore> Endpoint<R> {
    pub(super) fn handle_invite(
        &mut self,
        now: Instant,
        ctx: RequestCtx,
        req: Arc<Request>,
        checked: Checked,
        incoming: &Incoming<'_>,
    ) {
        if checked.to.tag().is_some() {
            return self.handle_in_dialog(now, ctx, req, checked);
        }
        if self.is_merged(&checked) {
            return self.respond(now, &ctx, &req, 482, Some("Loop Detected"), &[], None);
        }
        if let Some(min) = self.session_too_small(&req) {
            let extra = [(HeaderName::MinSe, min.to_string())];
            return self.respond(now, &ctx, &req, 422, None, &extra, None);
        }
        self.respond(now, &ctx, &req, 100, None, &[], None);
        let local_tag = self.new_tag();
        let dialog = match Dialog::new_uas(&req, &local_tag) {
            Ok(d) => d,
            Err(e) => {
                return self.respond(
                    now,
                    &ctx,
                    &req,
                    e.status(),
                    Some(&e.to_string()),
                    &[],
                    Some(&local_tag),
                );
            }
        };
        let info = call_info(&req, &checked, incoming);
        let call = self.calls.allocate();
        let h = &req.headers;
        let peer_allows_update = h
            .list(&HeaderName::Allow)
            .any(|m| m.eq_ignore_ascii_case("UPDATE"));
        let inbound = Inbound {
            peer_supports_100rel: has_tag(h, &HeaderName::Supported, "100rel"),
            peer_requires_100rel: has_tag(h, &HeaderName::Require, "100rel"),
            invite: Some(req),
            ctx: ctx.clone(),
            next_rseq: 1,
            prack: None,
        };
        let peer = Target {
            transport: incoming.transport,
            addr: incoming.remote,
            conn: incoming.conn,
        };
        let mut record = Call::new(
            Phase::Offered,
            Side::Uas(Box::new(inbound)),
            dialog,
            peer,
            incoming.local,
        );
        record.peer_allows_update = peer_allows_update;
        self.calls.by_dialog.insert(record.dialog.id.clone(), call);
        self.calls.offered.insert(
            (
                record.dialog.id.call_id.clone(),
                record.dialog.id.remote_tag.clone(),
            ),
            call,
        );
        self.calls.by_invite_tx.insert(ctx.tx, call);
        self.calls.by_ref.insert(call, record);
        self.event(Event::IncomingCall {
            call,
            info: Box::new(info),
        });
    }

    /// RFC 3261 §8.2.2.2: the same request (From tag, Call-ID, CSeq) arriving on another
    /// branch while we still process the first is a loop or a fork merge.
    fn is_merged(&self, checked: &Checked) -> bool {
        let key = (
            checked.call_id.clone(),
            checked.from.tag().unwrap_or("").to_owned(),
        );
        let offered = self
            .calls
            .offered
            .get(&key)
            .and_then(|call| self.calls.by_ref.get(call));
        offered.is_some_and(|c| {
            c.phase == Phase::Offered && c.dialog.remote_seq == Some(checked.cseq.seq)
        })
    }

    /// RFC 4028 §8.1: a Session-Expires below our Min-SE gets 422.
    fn session_too_small(&self, req: &Request) -> Option<u32> {
        let se = SessionExpires::parse(req.headers.get(&HeaderName::SessionExpires)?).ok()?;
        (se.interval < self.config.min_se).then_some(self.config.min_se)
    }

    fn ring_inner(&mut self, now: Instant, call: CallRef, early_sdp: Option<Bytes>) {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        let Some(i) = c.inbound() else { return };
        if c.phase != Phase::Offered || i.prack.is_some() {
            return;
        }
        let reliable = i.peer_requires_100rel || i.peer_supports_100rel;
        let status = if early_sdp.is_some() { 183 } else { 180 };
        let mut resp = self.dialog_response(call, status, early_sdp);
        let Some(c) = self
            .calls
            .by_ref
            .get_mut(&call)
            .and_then(|c| c.inbound_mut())
        else {
            return;
        };
        if reliable {
            let rseq = c.next_rseq;
            c.next_rseq += 1;
            resp.headers.push(HeaderName::Require, "100rel");
            resp.headers.push(HeaderName::RSeq, rseq.to_string());
            let bytes = Bytes::from(resp.to_bytes());
            let t1 = self.config.timers.t1;
            c.prack = Some(PendingPrack {
                rseq,
                bytes,
                next: now + t1,
                interval: t1,
                give_up: now + t1 * 64,
            });
        }
        let ctx = c.ctx.clone();
        self.send_response(now, &ctx, resp);
        self.refile(call);
    }

    fn answer_inner(&mut self, now: Instant, call: CallRef, sdp: Bytes) {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        if c.phase != Phase::Offered {
            return;
        }
        let Some(invite) = c.inbound().and_then(|i| i.invite.clone()) else {
            return;
        };
        let session = self.negotiate_session_timer(&invite, now);
        let mut resp = self.dialog_response(call, 200, Some(sdp.clone()));
        if let Some((value, require)) = session
            .as_ref()
            .map(|(s, hdr)| (hdr.clone(), !s.we_refresh))
        {
            resp.headers.push(HeaderName::SessionExpires, value);
            if require {
                resp.headers.push(HeaderName::Require, "timer");
            }
        }
        self.calls.leave_offered(call);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(i) = c.inbound_mut() else { return };
        i.prack = None;
        let ctx = i.ctx.clone();
        let seq = c.dialog.remote_seq.unwrap_or(0);
        let bytes = Bytes::from(resp.to_bytes());
        let machine = Box::new(Retransmit2xx::new(
            TxMsg::Wire(ctx.target, bytes.clone()),
            self.config.timers,
            now,
        ));
        c.ack = Some(AckWait { seq, machine });
        c.phase = Phase::Answered;
        c.final_status = Some(200);
        c.dialog.state = DialogState::Confirmed;
        c.session = session.map(|(s, _)| s);
        c.local_sdp = Some(sdp);
        let _ = self
            .transactions
            .respond(ctx.tx, 200, TxMsg::Wire(ctx.target, bytes.clone()), now);
        self.refile(call);
    }

    fn reject_inner(&mut self, now: Instant, call: CallRef, status: FinalStatus) {
        let status = status.get();
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        if c.phase != Phase::Offered {
            return;
        }
        self.fail_invite(now, call, status);
        self.end_call(now, call, EndCause::Rejected);
    }

    fn hangup_inner(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        match c.phase {
            Phase::Offered => self.reject_inner(now, call, FinalStatus::TEMPORARILY_UNAVAILABLE),
            Phase::Outgoing => self.cancel_outbound(now, call),
            Phase::Answered | Phase::Confirmed => self.send_bye(now, call, EndCause::LocalHangup),
            Phase::Ending(_) => {}
        }
    }

    fn answer_offer_inner(&mut self, now: Instant, call: CallRef, sdp: Bytes) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(pending) = c.offer.take() else {
            return;
        };
        c.local_sdp = Some(sdp.clone());
        let mut resp = self.dialog_response_to(call, &pending.request, 200, Some(sdp));
        self.add_session_refresh(call, &pending.request, &mut resp, now);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        if pending.request.method == Method::Invite {
            let bytes = Bytes::from(resp.to_bytes());
            let seq = c.dialog.remote_seq.unwrap_or(0);
            let machine = Box::new(Retransmit2xx::new(
                TxMsg::Wire(pending.ctx.target, bytes.clone()),
                self.config.timers,
                now,
            ));
            c.ack = Some(AckWait { seq, machine });
            let _ = self.transactions.respond(
                pending.ctx.tx,
                200,
                TxMsg::Wire(pending.ctx.target, bytes),
                now,
            );
        } else {
            self.send_response(now, &pending.ctx, resp);
        }
        self.refile(call);
    }

    fn reject_offer_inner(&mut self, now: Instant, call: CallRef, status: FinalStatus) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(pending) = c.offer.take() else {
            return;
        };
        let resp = self.dialog_response_to(call, &pending.request, status.get(), None);
        self.send_response(now, &pending.ctx, resp);
    }

    // Application commands. Each drains the transaction output it produced, so nothing waits
    // for the next packet to be sent.

    /// Sends a provisional response (180 Ringing, or 183 with early media SDP). Reliable
    /// (RFC 3262) when the caller supports or requires 100rel.
    pub fn ring(&mut self, now: Instant, call: CallRef, early_sdp: Option<Bytes>) {
        self.ring_inner(now, call, early_sdp);
        self.drain_transactions(now);
    }

    /// Answers the call with `sdp` (200 OK). The dialog is confirmed when the ACK arrives.
    pub fn answer(&mut self, now: Instant, call: CallRef, sdp: Bytes) {
        self.answer_inner(now, call, sdp);
        self.drain_transactions(now);
    }

    /// Rejects an unanswered call with a final status (e.g. 404, 486, 488, 603).
    pub fn reject(&mut self, now: Instant, call: CallRef, status: FinalStatus) {
        self.reject_inner(now, call, status);
        self.drain_transactions(now);
    }

    /// Ends the call from our side: a final error before the answer, BYE after it. On an
    /// outbound leg before its final response: CANCEL (RFC 3261 §9.1: once a provisional
    /// response came; until then the CANCEL waits for one, and Timer B ends the call if none
    /// comes). A 2xx that crosses the CANCEL is acknowledged and then ended with BYE.
    pub fn hangup(&mut self, now: Instant, call: CallRef) {
        self.hangup_inner(now, call);
        self.drain_transactions(now);
    }

    /// Answers a pending re-INVITE/UPDATE offer with our SDP.
    pub fn answer_offer(&mut self, now: Instant, call: CallRef, sdp: Bytes) {
        self.answer_offer_inner(now, call, sdp);
        self.drain_transactions(now);
    }

    /// Refuses a pending re-INVITE/UPDATE offer (e.g. 488); the session stays as it was.
    pub fn reject_offer(&mut self, now: Instant, call: CallRef, status: FinalStatus) {
        self.reject_offer_inner(now, call, status);
        self.drain_transactions(now);
    }

    /// A response in the dialog of `call` to its INVITE, with To tag, Contact, Record-Route.
    fn dialog_response(&self, call: CallRef, status: u16, sdp: Option<Bytes>) -> Response {
        let invite = self
            .calls
            .by_ref
            .get(&call)
            .and_then(|c| c.inbound())
            .and_then(|i| i.invite.clone());
        match invite {
            Some(inv) => self.dialog_response_to(call, &inv, status, sdp),
            None => Response::new(500, "Server Internal Error"),
        }
    }

    pub(super) fn dialog_response_to(
        &self,
        call: CallRef,
        req: &Request,
        status: u16,
        sdp: Option<Bytes>,
    ) -> Response {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return Response::new(500, "Server Internal Error");
        };
        let mut resp = self.build_response(req, status, None, Some(&c.dialog.id.local_tag));
        if (101..300).contains(&status) {
            for rr in req.headers.get_all(&HeaderName::RecordRoute) {
                resp.headers.push(HeaderName::RecordRoute, rr);
            }
            resp.headers
                .push(HeaderName::Contact, self.contact(c.local, c.peer.transport));
            for (name, value) in self.config.policy.allow_headers() {
                resp.headers.push(name, value);
            }
            resp.headers
                .push(HeaderName::Supported, self.config.policy.supported_header());
        }
        if let Some(sdp) = sdp {
            resp.headers
                .push(HeaderName::ContentType, "application/sdp");
            resp.body = sdp;
        }
        resp
    }

    /// Our Contact for a listener.
    pub(super) fn contact(&self, local: SocketAddr, transport: Transport) -> String {
        contact_with_user("herald", local, transport)
    }

    /// RFC 4028 §9: the interval and refresher for our 2xx, and its Session-Expires value.
    fn negotiate_session_timer(
        &self,
        req: &Request,
        now: Instant,
    ) -> Option<(SessionTimer, String)> {
        let h = &req.headers;
        let uac_supports = has_tag(h, &HeaderName::Supported, "timer")
            || has_tag(h, &HeaderName::Require, "timer");
        let requested = h
            .get(&HeaderName::SessionExpires)
            .and_then(|v| SessionExpires::parse(v).ok());
        let (interval, refresher) = match requested {
            Some(se) => (
                se.interval
                    .min(self.config.session_expires)
                    .max(self.config.min_se),
                se.refresher,
            ),
            None if self.config.session_expires > 0 => (self.config.session_expires, None),
            None => return None,
        };
        let we_refresh = match refresher.as_deref() {
            Some("uas") => true,
            Some(_) => false,
            None => !uac_supports,
        };
        let who = if we_refresh { "uas" } else { "uac" };
        let timer = SessionTimer {
            interval,
            we_refresh,
            deadline: session_deadline(now, interval, we_refresh),
        };
        Some((timer, format!("{interval};refresher={who}")))
    }

    /// A refresh (re-INVITE/UPDATE) from the peer restarts the timer; the 2xx echoes it.
    fn add_session_refresh(
        &mut self,
        call: CallRef,
        req: &Request,
        resp: &mut Response,
        now: Instant,
    ) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(mut timer) = c.session else { return };
        if let Some(se) = req
            .headers
            .get(&HeaderName::SessionExpires)
            .and_then(|v| SessionExpires::parse(v).ok())
        {
            timer.interval = se.interval.max(self.config.min_se);
            timer.we_refresh = se.refresher.as_deref() == Some("uas");
        }
        timer.deadline = session_deadline(now, timer.interval, timer.we_refresh);
        c.session = Some(timer);
        let who = if timer.we_refresh { "uas" } else { "uac" };
        resp.headers.push(
            HeaderName::SessionExpires,
            format!("{};refresher={who}", timer.interval),
        );
        if !timer.we_refresh {
            resp.headers.push(HeaderName::Require, "timer");
        }
    }

    pub(super) fn handle_cancel(&mut self, now: Instant, ctx: RequestCtx, req: &Request) {
        let Some(invite_tx) = self.transactions.find_cancel_target(&ctx.key) else {
            return self.respond(now, &ctx, req, 481, None, &[], None);
        };
        let call = self.calls.by_invite_tx.get(&invite_tx).copied();
        let tag = call
            .and_then(|c| self.calls.by_ref.get(&c))
            .map(|c| c.dialog.id.local_tag.clone());
        self.respond(now, &ctx, req, 200, None, &[], tag.as_deref());
        let Some(call) = call else { return };
        if self
            .calls
            .by_ref
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Offered)
        {
            self.fail_invite(now, call, 487);
            self.end_call(now, call, EndCause::Cancelled);
        }
    }

    pub(super) fn handle_ack(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        req: Request,
        checked: &Checked,
        key: TransactionKey,
    ) {
        let dialog = checked.to.tag().map(|tag| DialogId {
            call_id: checked.call_id.clone(),
            local_tag: tag.to_owned(),
            remote_tag: checked.from.tag().unwrap_or("").to_owned(),
        });
        if let Some(call) = dialog.and_then(|d| self.calls.by_dialog.get(&d).copied()) {
            let Some(c) = self.calls.by_ref.get_mut(&call) else {
                return;
            };
            if c.ack.as_ref().map(|a| a.seq) == Some(checked.cseq.seq) {
                c.ack = None;
                if c.phase == Phase::Answered {
                    c.phase = Phase::Confirmed;
                    if let Some(i) = c.inbound_mut() {
                        i.invite = None;
                    }
                    self.event(Event::CallConfirmed { call });
                }
                self.refile(call);
                return;
            }
        }
        // The ACK of a non-2xx final response: its INVITE server transaction absorbs it.
        let target = Target {
            transport: incoming.transport,
            addr: incoming.remote,
            conn: incoming.conn,
        };
        let _ = self.transactions.handle_ack(
            &key,
            TxMsg::Wire(target, Bytes::from(req.to_bytes())),
            now,
        );
    }

    /// Requests that need a dialog: BYE, INFO, UPDATE, PRACK, re-INVITE, in-dialog OPTIONS.
    pub(super) fn handle_in_dialog(
        &mut self,
        now: Instant,
        ctx: RequestCtx,
        req: Arc<Request>,
        checked: Checked,
    ) {
        let id = checked.to.tag().map(|tag| DialogId {
            call_id: checked.call_id.clone(),
            local_tag: tag.to_owned(),
            remote_tag: checked.from.tag().unwrap_or("").to_owned(),
        });
        let Some(call) = id.and_then(|id| self.calls.by_dialog.get(&id).copied()) else {
            return self.respond(now, &ctx, &req, 481, None, &[], None);
        };
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        if let Err(e) = c.dialog.accept_remote_cseq(&checked.cseq) {
            return self.respond(
                now,
                &ctx,
                &req,
                e.status(),
                Some("CSeq out of order"),
                &[],
                None,
            );
        }
        match req.method {
            Method::Bye => {
                self.respond(now, &ctx, &req, 200, None, &[], None);
                self.end_after_bye(now, call);
            }
            Method::Info => {
                self.respond(now, &ctx, &req, 200, None, &[], None);
                let content_type = req
                    .headers
                    .get(&HeaderName::ContentType)
                    .map(headers::media_type)
                    .unwrap_or_default();
                self.event(Event::Info {
                    call,
                    content_type,
                    body: req.body.clone(),
                });
            }
            Method::Prack => self.handle_prack(now, &ctx, &req, call),
            Method::Options => self.answer_options(now, &ctx, &req),
            Method::Invite | Method::Update => self.handle_offer(now, ctx, req, call),
            Method::Refer => self.handle_refer(now, &ctx, &req, call),
            // We subscribe to nothing, so no NOTIFY is ours; a subscription inside a call's
            // dialog is not a package we serve (489 ends only that usage, RFC 5057).
            Method::Notify => self.respond(now, &ctx, &req, 481, None, &[], None),
            Method::Subscribe => {
                let extra = [self.config.policy.allow_headers()[1].clone()];
                self.respond(now, &ctx, &req, 489, None, &extra, None);
            }
            _ => {
                let extra = self.config.policy.allow_headers();
                self.respond(now, &ctx, &req, 405, None, &extra, None);
            }
        }
    }

    /// The caller hung up: a BYE on an unanswered call also ends its INVITE with 487.
    fn end_after_bye(&mut self, now: Instant, call: CallRef) {
        if self
            .calls
            .by_ref
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Offered)
        {
            self.fail_invite(now, call, 487);
        }
        self.end_call(now, call, EndCause::CallerBye);
    }

    fn handle_prack(&mut self, now: Instant, ctx: &RequestCtx, req: &Request, call: CallRef) {
        let rack = req.headers.get(&HeaderName::RAck).unwrap_or("");
        let rseq = rack
            .split_ascii_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok());
        let Some(c) = self
            .calls
            .by_ref
            .get_mut(&call)
            .and_then(|c| c.inbound_mut())
        else {
            // We never send reliable provisional responses on an outbound leg.
            return self.respond(now, ctx, req, 481, None, &[], None);
        };
        match (&c.prack, rseq) {
            (Some(p), Some(r)) if p.rseq == r => {
                c.prack = None;
                self.respond(now, ctx, req, 200, None, &[], None);
                self.refile(call);
            }
            _ => self.respond(now, ctx, req, 481, None, &[], None),
        }
    }

    /// re-INVITE or UPDATE: a target refresh, maybe a session refresh, maybe a new offer.
    fn handle_offer(&mut self, now: Instant, ctx: RequestCtx, req: Arc<Request>, call: CallRef) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let busy = c.offer.is_some() || (req.method == Method::Invite && c.ack.is_some());
        if busy {
            let extra = [(HeaderName::RetryAfter, "1".to_owned())];
            return self.respond(now, &ctx, &req, 491, None, &extra, None);
        }
        c.dialog.refresh_target(&req.headers);
        if req.method == Method::Invite {
            self.respond(now, &ctx, &req, 100, None, &[], None);
        }
        let has_sdp = !req.body.is_empty();
        if req.method == Method::Update && !has_sdp {
            let mut resp = self.dialog_response_to(call, &req, 200, None);
            self.add_session_refresh(call, &req, &mut resp, now);
            self.send_response(now, &ctx, resp);
            return self.refile(call);
        }
        let offer = has_sdp.then(|| req.body.clone());
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        c.offer = Some(PendingOffer { ctx, request: req });
        self.event(Event::Offer { call, offer });
    }

    /// Sends BYE and ends the call when it is answered (or times out).
    pub(super) fn send_bye(&mut self, now: Instant, call: CallRef, cause: EndCause) {
        if self.send_in_dialog(now, call, Method::Bye, None).is_some() {
            let mut pending = None;
            if let Some(c) = self.calls.by_ref.get_mut(&call) {
                c.phase = Phase::Ending(cause);
                c.ack = None;
                c.session = None;
                pending = c.offer.take();
            }
            self.terminate_pending_offer(now, pending);
            self.refile(call);
        } else {
            self.end_call(now, call, cause);
        }
    }

    /// Starts a client transaction for an in-dialog request of ours (BYE, UPDATE, re-INVITE)
    /// with an optional SDP body.
    pub(super) fn send_in_dialog(
        &mut self,
        now: Instant,
        call: CallRef,
        method: Method,
        sdp: Option<Bytes>,
    ) -> Option<TransactionId> {
        let request = DialogRequest {
            method,
            body: sdp.map(|sdp| ("application/sdp", sdp)),
            headers: Vec::new(),
            purpose: Purpose::Request,
        };
        self.send_dialog_request(now, call, request)
    }

    /// Starts a client transaction for an in-dialog request of ours, sent to the call's peer
    /// (the caller's flow, or an outbound leg's target) with the dialog's Request-URI and
    /// route set.
    pub(super) fn send_dialog_request(
        &mut self,
        now: Instant,
        call: CallRef,
        request: DialogRequest,
    ) -> Option<TransactionId> {
        let DialogRequest {
            method,
            body,
            headers,
            purpose,
        } = request;
        let (transport, local) = self
            .calls
            .by_ref
            .get(&call)
            .map(|c| (c.peer.transport, c.local))?;
        let (branch, via) = self.new_via(transport, local);
        let contact = self.contact(local, transport);
        let c = self.calls.by_ref.get_mut(&call)?;
        let mut req = c.dialog.request(method.clone(), None);
        req.headers.set(HeaderName::Via, via);
        req.headers.push(HeaderName::Contact, contact);
        if !self.config.user_agent.is_empty() {
            req.headers
                .push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        if (method == Method::Update || method == Method::Invite)
            && let Some(s) = c.session
        {
            // RFC 4028 §7.4: the refresher names the roles of this transaction, in which we
            // are the UAC.
            let who = if s.we_refresh { "uac" } else { "uas" };
            req.headers.push(
                HeaderName::SessionExpires,
                format!("{};refresher={who}", s.interval),
            );
        }
        for (name, value) in headers {
            req.headers.push(name, value);
        }
        if let Some((content_type, body)) = body {
            req.headers.push(HeaderName::ContentType, content_type);
            req.body = body;
        }
        let peer = c.peer;
        let owner = ClientOwner::Call(call, purpose);
        self.start_client_request(now, peer, &branch, &req, Some(owner))
    }

    /// A final (or provisional) response to one of our in-dialog requests.
    pub(super) fn client_response(
        &mut self,
        now: Instant,
        call: CallRef,
        _id: TransactionId,
        status: u16,
        resp: &Response,
    ) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let method = resp
            .headers
            .get(&HeaderName::CSeq)
            .and_then(|v| headers::CSeq::parse(v).ok());
        let Some(cseq) = method else { return };
        if let Phase::Ending(cause) = c.phase {
            if cseq.method == Method::Bye && status >= 200 {
                self.end_call(now, call, cause);
            }
            return;
        }
        if status < 200 {
            return;
        }
        if cseq.method == Method::Invite && (200..300).contains(&status) {
            // Our session-refresh re-INVITE was accepted: acknowledge it (RFC 3261 §13.2.2.4).
            self.ack_in_dialog(now, call, resp, cseq.seq);
        }
        if matches!(status, 408 | 481) {
            // RFC 4028 §10 / RFC 5057: the dialog is gone.
            self.end_call(now, call, EndCause::Failed);
        }
    }

    /// One of our in-dialog requests timed out or could not be sent.
    pub(super) fn client_failed(&mut self, now: Instant, call: CallRef, _id: TransactionId) {
        let cause = match self.calls.by_ref.get(&call).map(|c| c.phase) {
            Some(Phase::Ending(cause)) => cause,
            Some(_) => EndCause::Failed,
            None => return,
        };
        self.end_call(now, call, cause);
    }

    /// A server transaction failed (transport error, Timer H).
    pub(super) fn server_failed(&mut self, now: Instant, id: TransactionId) {
        if let Some(call) = self.calls.by_invite_tx.get(&id).copied()
            && self
                .calls
                .by_ref
                .get(&call)
                .is_some_and(|c| c.phase == Phase::Offered)
        {
            self.end_call(now, call, EndCause::Failed);
        }
    }

    /// Fires a call's timers.
    pub(super) fn call_timeout(&mut self, call: CallRef, now: Instant) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        c.filed = None;
        let mut outputs = Vec::new();
        let mut bye = None;
        if let Some(AckWait { machine, .. }) = &mut c.ack {
            machine.handle_timeout(now);
            while let Some(out) = machine.poll_output() {
                match out {
                    Retransmit2xxOutput::Transmit(TxMsg::Wire(t, b)) => outputs.push((t, b)),
                    Retransmit2xxOutput::Transmit(_) => {}
                    Retransmit2xxOutput::AckTimeout => bye = Some(EndCause::NoAck),
                }
            }
        }
        let mut give_up_prack = false;
        if let Some(i) = c.inbound_mut() {
            let target = i.ctx.target;
            if let Some(p) = &mut i.prack {
                if p.give_up <= now {
                    give_up_prack = true;
                } else if p.next <= now {
                    outputs.push((target, p.bytes.clone()));
                    p.interval *= 2;
                    p.next = now + p.interval;
                }
            }
        }
        let mut refresh = false;
        if let Some(s) = c.session.filter(|s| s.deadline <= now) {
            if s.we_refresh {
                refresh = true;
                c.session = Some(SessionTimer {
                    deadline: now + duration_secs(s.interval / 2),
                    ..s
                });
            } else {
                bye = bye.or(Some(EndCause::SessionExpired));
            }
        }
        let (allows_update, sdp) = (c.peer_allows_update, c.local_sdp.clone());
        for (t, b) in outputs {
            self.transmit(t, b);
        }
        if give_up_prack {
            // RFC 3262 §3: no PRACK in 64*T1: reject the INVITE with a 5xx.
            self.fail_invite(now, call, 504);
            return self.end_call(now, call, EndCause::NoPrack);
        }
        if let Some(cause) = bye {
            return self.send_bye(now, call, cause);
        }
        if refresh {
            let method = if allows_update {
                Method::Update
            } else {
                Method::Invite
            };
            let body = if method == Method::Invite { sdp } else { None };
            self.send_in_dialog(now, call, method, body);
        }
        self.refile(call);
    }

    /// Removes the call and tells the application (with the INVITE's final status). The
    /// INVITE of an outbound leg may outlive it (see [`ClientOwner::OrphanInvite`]).
    pub(super) fn end_call(&mut self, now: Instant, call: CallRef, cause: EndCause) {
        if let Some(c) = self.calls.remove(call) {
            self.schedule(Due::Call(call), c.filed, None);
            // A re-INVITE of ours that got a provisional response has no timer left
            // (Timer B runs only until then): CANCEL it, or it would wait forever.
            let proceeding: Vec<TransactionId> = self
                .client_owner
                .iter()
                .filter(|(_, owner)| **owner == ClientOwner::Call(call, Purpose::Request))
                .map(|(id, _)| *id)
                .filter(|id| {
                    self.transactions.client(*id).is_some_and(|t| {
                        t.state() == ClientState::Invite(InviteClientState::Proceeding)
                    })
                })
                .collect();
            self.client_owner
                .retain(|_, owner| !matches!(owner, ClientOwner::Call(c, _) if *c == call));
            for tx in proceeding {
                self.cancel_invite_transaction(now, tx);
            }
            if let Side::Uac(outbound) = &c.side {
                self.orphan_invite(now, c.peer, outbound);
            }
            self.terminate_pending_offer(now, c.offer);
            self.event(Event::CallEnded {
                call,
                cause,
                status: c.final_status,
            });
        }
    }

    /// RFC 3261 §15.1.2: a re-INVITE or UPDATE still waiting for the application when its
    /// dialog ends is answered 487.
    fn terminate_pending_offer(&mut self, now: Instant, pending: Option<PendingOffer>) {
        if let Some(PendingOffer { ctx, request }) = pending {
            self.respond(now, &ctx, &request, 487, None, &[], None);
        }
    }

    /// Answers the unanswered INVITE of `call` with a final error status.
    fn fail_invite(&mut self, now: Instant, call: CallRef, status: u16) {
        let resp = self.dialog_response(call, status, None);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(ctx) = c.inbound().map(|i| i.ctx.clone()) else {
            return;
        };
        c.final_status = Some(status);
        self.send_response(now, &ctx, resp);
    }

    /// Files the call's next deadline with the endpoint.
    pub(super) fn refile(&mut self, call: CallRef) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let (old, new) = (c.filed, c.deadline());
        if old != new {
            c.filed = new;
            self.schedule(Due::Call(call), old, new);
        }
    }
}

/// An in-dialog request of ours, for [`Endpoint::send_dialog_request`].
pub(super) struct DialogRequest {
    pub method: Method,
    /// Content-Type and body.
    pub body: Option<(&'static str, Bytes)>,
    pub headers: Vec<(HeaderName, String)>,
    pub purpose: Purpose,
}

/// When a session timer fires: at half the interval for the refresher, and for the other side
/// at the interval minus min(32 s, interval/3) (RFC 4028 §10).
pub(super) fn session_deadline(now: Instant, interval: u32, we_refresh: bool) -> Instant {
    if we_refresh {
        now + duration_secs(interval / 2)
    } else {
        now + duration_secs(interval - (interval / 3).min(32))
    }
}

fn call_info(req: &Request, checked: &Checked, incoming: &Incoming<'_>) -> CallInfo {
    let user = |uri: &crate::message::uri::Uri| {
        uri.user_decoded()
            .map(|u| String::from_utf8_lossy(&u).into_owned())
    };
    let is_sdp = req
        .headers
        .get(&HeaderName::ContentType)
        .map(headers::media_type)
        .as_deref()
        == Some("application/sdp");
    CallInfo {
        call_id: checked.call_id.clone(),
        from: req.headers.get(&HeaderName::From).unwrap_or("").to_owned(),
        to: req.headers.get(&HeaderName::To).unwrap_or("").to_owned(),
        request_uri: req.uri.clone(),
        caller_user: user(&checked.from.uri),
        callee_user: user(&checked.uri),
        callee_host: checked.uri.host.clone(),
        source: incoming.remote,
        local: incoming.local,
        transport: incoming.transport,
        user_agent: req.headers.get(&HeaderName::UserAgent).map(str::to_owned),
        offer: (is_sdp && !req.body.is_empty()).then(|| req.body.clone()),
        asserted_identity: req
            .headers
            .get(&HeaderName::PAssertedIdentity)
            .map(str::to_owned),
        privacy: req.headers.get(&HeaderName::Privacy).map(str::to_owned),
    }
}

/// A Contact `<sip:user@local>` for a listener (`sips:` over TLS, a transport parameter for
/// the other reliable transports).
pub(super) fn contact_with_user(user: &str, local: SocketAddr, transport: Transport) -> String {
    let host = match local {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    };
    match transport {
        Transport::Udp => format!("<sip:{user}@{host}>"),
        Transport::Tls => format!("<sips:{user}@{host}>"),
        t => format!(
            "<sip:{user}@{host};transport={}>",
            t.via_name().to_ascii_lowercase()
        ),
    }
}
