//! Outbound legs: the UAC side of an INVITE (RFC 3261 §13.2, §9.1, §17.1; RFC 6026).
//!
//! [`Endpoint::invite`] sends the INVITE; its responses move the call through the states in
//! the diagram of [`super::call`]:
//!
//! * a provisional response is reported ([`Event::Progress`], with the first early answer);
//!   with a To tag and a Contact it makes the early dialog;
//! * the first 2xx confirms the dialog, is acknowledged here (an ACK for a 2xx is the core's
//!   job, not the transaction's) and is reported ([`Event::Answered`]);
//! * a 401/407 is answered once per realm with the leg's credentials, a 422 once with the
//!   Min-SE it asks for, each by the same INVITE with a new branch and the next CSeq;
//! * any other final response, or Timer B, ends the leg ([`EndCause::Unanswered`]).
//!
//! Hanging up before the final response CANCELs the INVITE, only once a provisional response
//! came (§9.1); until then the CANCEL waits for one. A 2xx that crosses the CANCEL is
//! acknowledged and then ended with BYE.
//!
//! The core keeps answering 2xx after the call moved on: a retransmitted 2xx gets the same
//! ACK again ([`AckMemory`]), even once the INVITE transaction is gone (RFC 6026 §8.1); a 2xx
//! from another fork gets an ACK and a BYE; and the INVITE of a leg that ended early lives on
//! as an orphan that CANCELs a late provisional response and ends a late 2xx.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand::RngCore;

use super::call::{Call, Phase, SessionTimer, Side, session_deadline};
use super::client_auth::{ClientAuth, ClientCredentials};
use super::{ClientOwner, Endpoint, Event, Purpose, Target};
use crate::dialog::Dialog;
use crate::message::headers::{self, NameAddr, SessionExpires, Via};
use crate::message::parse::is_token_char;
use crate::message::uri::Uri;
use crate::message::{HeaderName, Method, Request, Response};
use crate::transaction::{ClientState, InviteClientState, TransactionId};

use super::call::{CallRef, EndCause};

/// The smallest session interval RFC 4028 allows (§5); a 2xx asking for less gets this.
const MIN_SESSION_INTERVAL: u32 = 90;

/// ACKs remembered for retransmitted 2xx responses, at most (the oldest go first).
const MAX_REMEMBERED_ACKS: usize = 65_536;

/// A call Herald places, for [`Endpoint::invite`].
#[derive(Clone, Debug)]
pub struct OutboundCall {
    /// Where the INVITE (and every in-dialog request of the leg) is sent: a registered
    /// phone's flow (its connection, or its address) or a trunk's address.
    pub target: Target,
    /// Our listener's address for Via and Contact.
    pub local: SocketAddr,
    pub request_uri: String,
    /// From and To values without tags, e.g. `"\"+4930123\" <sip:+4930123@herald.local>"`.
    pub from: String,
    pub to: String,
    /// The SDP offer (empty: an INVITE without offer).
    pub sdp: Bytes,
    /// Extra headers (P-Asserted-Identity, Privacy, Alert-Info...). Headers the endpoint
    /// writes itself (Via, From, To, Call-ID, CSeq, Contact, Max-Forwards, Content-Type,
    /// Content-Length) are ignored here.
    pub headers: Vec<(HeaderName, String)>,
    /// Answer one 401/407 challenge with these (trunks); `None`: a challenge fails the call.
    pub credentials: Option<ClientCredentials>,
}

/// Whether and when we CANCEL the INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cancel {
    No,
    /// Asked for before any provisional response: sent when the first one comes.
    Pending,
    Sent,
}

/// The INVITE client side of an outbound leg.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// The INVITE as last sent (retries send it again with a new Via branch and CSeq).
    invite: Request,
    /// Its client transaction.
    tx: Option<TransactionId>,
    /// Whether the current INVITE got a provisional response (CANCEL may be sent).
    provisional: bool,
    cancel: Cancel,
    credentials: Option<ClientCredentials>,
    auth: ClientAuth,
    /// Whether a 422 was answered already (retry once with the interval it asks for).
    session_retried: bool,
    /// Whether an early answer was reported already.
    early_sdp_reported: bool,
}

/// The ACKs we sent for 2xx responses to our INVITEs, by (Call-ID, From tag, To tag, CSeq),
/// kept for as long as the UAS may retransmit the 2xx.
#[derive(Debug, Default)]
pub(crate) struct AckMemory {
    /// The ACK, where it went, and until when it is kept.
    sent: HashMap<AckKey, (Target, Bytes, Instant)>,
    /// Keys in the order they were remembered (which is expiry order).
    expiry: VecDeque<(Instant, AckKey)>,
}

type AckKey = (String, String, String, u32);

impl AckMemory {
    fn remember(&mut self, key: AckKey, target: Target, ack: Bytes, until: Instant) {
        while self.expiry.len() >= MAX_REMEMBERED_ACKS {
            self.forget_oldest();
        }
        self.sent.insert(key.clone(), (target, ack, until));
        self.expiry.push_back((until, key));
    }

    fn get(&self, key: &AckKey) -> Option<(Target, Bytes)> {
        self.sent.get(key).map(|(t, b, _)| (*t, b.clone()))
    }

    /// Forgets the ACKs whose 2xx can no longer be retransmitted at `now`.
    pub fn forget_before(&mut self, now: Instant) {
        while self.expiry.front().is_some_and(|(at, _)| *at <= now) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((at, key)) = self.expiry.pop_front()
            && self
                .sent
                .get(&key)
                .is_some_and(|(_, _, until)| *until == at)
        {
            // (A key remembered again since has a later entry of its own.)
            self.sent.remove(&key);
        }
    }
}

/// Whether `resp` answers an INVITE (by its CSeq).
pub(super) fn is_invite_response(resp: &Response) -> bool {
    resp.headers
        .get(&HeaderName::CSeq)
        .and_then(|v| headers::CSeq::parse(v).ok())
        .is_some_and(|c| c.method == Method::Invite)
}

fn tag_in(resp: &Response, name: &HeaderName) -> Option<String> {
    let na = NameAddr::parse(resp.headers.get(name)?).ok()?;
    na.tag().map(str::to_owned)
}

/// What identifies the ACK for a 2xx: Call-ID, From tag, To tag, CSeq number.
fn ack_key(resp: &Response) -> Option<AckKey> {
    let call_id = resp.headers.get(&HeaderName::CallId)?.to_owned();
    let seq = headers::CSeq::parse(resp.headers.get(&HeaderName::CSeq)?)
        .ok()?
        .seq;
    Some((
        call_id,
        tag_in(resp, &HeaderName::From)?,
        tag_in(resp, &HeaderName::To).unwrap_or_default(),
        seq,
    ))
}

fn is_sdp(resp: &Response) -> bool {
    !resp.body.is_empty()
        && resp
            .headers
            .get(&HeaderName::ContentType)
            .map(headers::media_type)
            .as_deref()
            == Some("application/sdp")
}

/// Header names an [`OutboundCall`] may not set: the endpoint writes them.
fn reserved(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Via
            | HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::Contact
            | HeaderName::MaxForwards
            | HeaderName::ContentType
            | HeaderName::ContentLength
    )
}

/// A header value the application gave: no line breaks or NULs (they would inject headers).
fn clean(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether the application's call can become a well-formed INVITE: a valid Request-URI,
/// From and To without tags, clean extra headers.
fn well_formed(call: &OutboundCall) -> bool {
    let name_addr = |v: &str| clean(v) && NameAddr::parse(v).is_ok_and(|n| n.tag().is_none());
    Uri::parse(&call.request_uri).is_ok_and(|u| u.headers.is_none())
        && name_addr(&call.from)
        && name_addr(&call.to)
        && call.headers.iter().all(|(name, value)| {
            let n = name.as_str();
            !n.is_empty() && n.bytes().all(is_token_char) && clean(value)
        })
}

/// The Via of a request like `like` (same transport and sent-by) with a fresh branch.
fn via_like(like: &Request, branch: &str) -> Option<String> {
    let top = like.headers.get(&HeaderName::Via)?;
    let via = Via::parse(crate::message::split_list(top).next()?).ok()?;
    Some(format!(
        "SIP/2.0/{} {};branch={branch};rport",
        via.transport,
        via.sent_by()
    ))
}

impl<R: RngCore> Endpoint<R> {
    /// Places an outbound leg: sends an INVITE with `call.sdp` as offer. The leg's events
    /// ([`Event::Progress`], [`Event::Answered`], [`Event::CallEnded`], and once answered
    /// every in-dialog event) carry the returned `CallRef`, numbered with incoming calls. A
    /// call that cannot become a well-formed INVITE (a bad URI, a From or To with a tag,
    /// line breaks in a header) ends at once with [`EndCause::Failed`].
    pub fn invite(&mut self, now: Instant, call: OutboundCall) -> CallRef {
        let id = self.calls.allocate();
        let call_id = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        let from_tag = self.new_tag();
        let invite = well_formed(&call)
            .then(|| self.initial_invite(&call, &call_id, &from_tag))
            .and_then(|r| Dialog::new_uac_pending(&r).ok().map(|d| (r, d)));
        let Some((invite, dialog)) = invite else {
            self.event(Event::CallEnded {
                call: id,
                cause: EndCause::Failed,
                status: None,
            });
            return id;
        };
        let outbound = Outbound {
            invite,
            tx: None,
            provisional: false,
            cancel: Cancel::No,
            credentials: call.credentials,
            auth: ClientAuth::default(),
            session_retried: false,
            early_sdp_reported: false,
        };
        let mut record = Call::new(
            Phase::Outgoing,
            Side::Uac(Box::new(outbound)),
            dialog,
            call.target,
            call.local,
        );
        record.local_sdp = Some(call.sdp);
        self.calls.outbound.insert((call_id, from_tag), id);
        self.calls.by_ref.insert(id, record);
        self.send_outbound_invite(now, id);
        self.drain_transactions(now);
        id
    }

    /// The INVITE of a new leg; its Via is filled in when it is sent.
    fn initial_invite(&self, call: &OutboundCall, call_id: &str, from_tag: &str) -> Request {
        let mut req = Request::new(Method::Invite, call.request_uri.clone());
        let h = &mut req.headers;
        h.push(HeaderName::Via, String::new());
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, format!("{};tag={from_tag}", call.from));
        h.push(HeaderName::To, call.to.clone());
        h.push(HeaderName::CallId, call_id);
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(
            HeaderName::Contact,
            self.contact(call.local, call.target.transport),
        );
        for (name, value) in self.config.policy.allow_headers() {
            h.push(name, value);
        }
        // No 100rel: we never PRACK, so we must not invite reliable provisional responses.
        h.push(HeaderName::Supported, "timer");
        if self.config.session_expires > 0 {
            h.push(
                HeaderName::SessionExpires,
                self.config.session_expires.to_string(),
            );
            h.push(HeaderName::MinSe, self.config.min_se.to_string());
        }
        if !self.config.user_agent.is_empty() {
            h.push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        for (name, value) in call.headers.iter().filter(|(n, _)| !reserved(n)) {
            h.push(name.clone(), value.clone());
        }
        if !call.sdp.is_empty() {
            h.push(HeaderName::ContentType, "application/sdp");
            req.body = call.sdp.clone();
        }
        req
    }

    /// Sends the leg's INVITE (again, for a retry) with a fresh branch, in a new INVITE
    /// client transaction.
    fn send_outbound_invite(&mut self, now: Instant, call: CallRef) {
        let Some((transport, local, peer)) = self
            .calls
            .by_ref
            .get(&call)
            .map(|c| (c.peer.transport, c.local, c.peer))
        else {
            return;
        };
        let (branch, via) = self.new_via(transport, local);
        let Some(o) = self
            .calls
            .by_ref
            .get_mut(&call)
            .and_then(|c| c.outbound_mut())
        else {
            return;
        };
        o.invite.headers.set(HeaderName::Via, via);
        o.provisional = false;
        let (request, previous) = (o.invite.clone(), o.tx.take());
        if let Some(previous) = previous {
            self.client_owner.remove(&previous);
        }
        let owner = ClientOwner::Call(call, Purpose::Invite);
        match self.start_client_request(now, peer, &branch, &request, Some(owner)) {
            Some(tx) => {
                if let Some(o) = self
                    .calls
                    .by_ref
                    .get_mut(&call)
                    .and_then(|c| c.outbound_mut())
                {
                    o.tx = Some(tx);
                }
            }
            None => self.end_call(now, call, EndCause::Failed),
        }
    }

    /// A response to the INVITE of an outbound leg.
    pub(super) fn outbound_response(
        &mut self,
        now: Instant,
        call: CallRef,
        id: TransactionId,
        status: u16,
        resp: &Response,
    ) {
        let current = self
            .calls
            .by_ref
            .get(&call)
            .and_then(|c| c.outbound())
            .is_some_and(|o| o.tx == Some(id));
        if !current {
            return;
        }
        match status {
            100..=199 => self.outbound_provisional(now, call, status, resp),
            200..=299 => self.outbound_accepted(now, call, resp),
            _ => self.outbound_rejected(now, call, status, resp),
        }
    }

    fn outbound_provisional(&mut self, now: Instant, call: CallRef, status: u16, resp: &Response) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let (phase, remote_tag) = (c.phase, c.dialog.id.remote_tag.clone());
        let Some(o) = c.outbound_mut() else { return };
        o.provisional = true;
        let cancel = o.cancel;
        let reportable = status > 100 && phase == Phase::Outgoing && cancel == Cancel::No;
        let mut sdp = None;
        if reportable && !o.early_sdp_reported && is_sdp(resp) {
            o.early_sdp_reported = true;
            sdp = Some(resp.body.clone());
        }
        let tag = tag_in(resp, &HeaderName::To);
        let early = match &tag {
            Some(_) if remote_tag.is_empty() && status > 100 => {
                Dialog::new_uac(&o.invite, resp).ok()
            }
            _ => None,
        };
        if let Some(early) = early {
            self.calls.set_dialog(call, early);
        } else if tag.is_some_and(|t| t == remote_tag)
            && let Some(c) = self.calls.by_ref.get_mut(&call)
        {
            c.dialog.refresh_target(&resp.headers);
        }
        if cancel == Cancel::Pending {
            self.send_outbound_cancel(now, call);
        } else if reportable {
            self.event(Event::Progress { call, status, sdp });
        }
    }

    /// The first 2xx confirms the leg (other forks' 2xx are ended: ACK and BYE).
    fn outbound_accepted(&mut self, now: Instant, call: CallRef, resp: &Response) {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        let Some(o) = c.outbound() else { return };
        if c.phase != Phase::Outgoing {
            let (peer, invite) = (c.peer, o.invite.clone());
            return self.ack_and_bye(now, peer, &invite, resp);
        }
        let Some(dialog) = Dialog::new_uac_lenient(&o.invite, resp) else {
            return;
        };
        let cancelled = o.cancel != Cancel::No;
        let seq = dialog.local_seq;
        self.calls.set_dialog(call, dialog);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        c.final_status = Some(resp.status);
        c.phase = Phase::Confirmed;
        self.ack_in_dialog(now, call, resp, seq);
        if cancelled {
            return self.send_bye(now, call, EndCause::LocalHangup);
        }
        let session = uac_session_timer(resp, now);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        c.peer_allows_update = resp
            .headers
            .list(&HeaderName::Allow)
            .any(|m| m.eq_ignore_ascii_case("UPDATE"));
        c.session = session;
        self.refile(call);
        let sdp = is_sdp(resp).then(|| resp.body.clone());
        self.event(Event::Answered { call, sdp });
    }

    fn outbound_rejected(&mut self, now: Instant, call: CallRef, status: u16, resp: &Response) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(o) = c.outbound_mut() else { return };
        if o.cancel == Cancel::No {
            let challenged = matches!(status, 401 | 407) && o.credentials.is_some();
            if challenged && o.auth.take_challenge(resp) {
                return self.retry_outbound(now, call);
            }
            if status == 422 && !o.session_retried && self.config.session_expires > 0 {
                let min_se = resp
                    .headers
                    .get(&HeaderName::MinSe)
                    .and_then(|v| headers::parse_delta_seconds(v).ok());
                if let Some(min_se) = min_se {
                    o.session_retried = true;
                    let h = &mut o.invite.headers;
                    h.set(HeaderName::SessionExpires, min_se.to_string());
                    h.set(HeaderName::MinSe, min_se.to_string());
                    return self.retry_outbound(now, call);
                }
            }
        }
        let cause = if o.cancel == Cancel::No {
            EndCause::Unanswered
        } else {
            EndCause::LocalHangup
        };
        o.tx = None; // over: its transaction ACKs the response and absorbs retransmissions
        c.final_status = Some(status);
        self.end_call(now, call, cause);
    }

    /// Sends the INVITE again with the next CSeq and a new branch, answering the challenges
    /// taken so far.
    fn retry_outbound(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let seq = c.dialog.local_seq.wrapping_add(1).max(1);
        c.dialog.local_seq = seq;
        let Some(o) = c.outbound_mut() else { return };
        let uri = o.invite.uri.clone();
        let h = &mut o.invite.headers;
        h.set(HeaderName::CSeq, format!("{seq} INVITE"));
        h.remove(&HeaderName::Authorization);
        h.remove(&HeaderName::ProxyAuthorization);
        if let Some(credentials) = &o.credentials {
            for (name, value) in o.auth.headers("INVITE", &uri, credentials, &mut self.rng) {
                o.invite.headers.push(name, value);
            }
        }
        self.send_outbound_invite(now, call);
    }

    /// The INVITE timed out (Timer B, or 64*T1 after our CANCEL) or its transport failed.
    pub(super) fn outbound_failed(&mut self, now: Instant, call: CallRef, timeout: bool) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(o) = c.outbound_mut() else { return };
        o.tx = None;
        let cause = match (o.cancel, timeout) {
            (Cancel::Pending | Cancel::Sent, _) => EndCause::LocalHangup,
            (Cancel::No, true) => EndCause::Unanswered,
            (Cancel::No, false) => EndCause::Failed,
        };
        // RFC 3261 §8.1.3.1: a timeout counts as a 408.
        c.final_status = timeout.then_some(408);
        self.end_call(now, call, cause);
    }

    /// `hangup` on an outbound leg before its final response.
    pub(super) fn cancel_outbound(&mut self, now: Instant, call: CallRef) {
        let Some(o) = self
            .calls
            .by_ref
            .get_mut(&call)
            .and_then(|c| c.outbound_mut())
        else {
            return;
        };
        match (o.cancel, o.provisional) {
            (Cancel::No, true) => self.send_outbound_cancel(now, call),
            (Cancel::No, false) => o.cancel = Cancel::Pending,
            _ => {}
        }
    }

    fn send_outbound_cancel(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let peer = c.peer;
        let Some(o) = c.outbound_mut() else { return };
        let Some(tx) = o.tx else { return };
        o.cancel = Cancel::Sent;
        let invite = o.invite.clone();
        let owner = ClientOwner::Call(call, Purpose::Cancel);
        self.send_cancel(now, peer, &invite, tx, Some(owner));
    }

    /// RFC 3261 §9.1: a CANCEL for the INVITE of transaction `tx`: its Request-URI,
    /// Call-ID, From, To, Route and top Via (same branch), CSeq number with method CANCEL.
    fn send_cancel(
        &mut self,
        now: Instant,
        peer: Target,
        invite: &Request,
        tx: TransactionId,
        owner: Option<ClientOwner>,
    ) {
        let via = invite.headers.get(&HeaderName::Via).unwrap_or("");
        let Some(via) = crate::message::split_list(via).next() else {
            return;
        };
        let Some(branch) = Via::parse(via)
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
        else {
            return;
        };
        let Some(cseq) = invite
            .headers
            .get(&HeaderName::CSeq)
            .and_then(|v| headers::CSeq::parse(v).ok())
        else {
            return;
        };
        let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
        cancel.headers.push(HeaderName::Via, via);
        for route in invite.headers.get_all(&HeaderName::Route) {
            cancel.headers.push(HeaderName::Route, route);
        }
        for name in [
            HeaderName::MaxForwards,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(value) = invite.headers.get(&name) {
                cancel.headers.push(name, value);
            }
        }
        cancel
            .headers
            .push(HeaderName::CSeq, format!("{} CANCEL", cseq.seq));
        if !self.config.user_agent.is_empty() {
            cancel
                .headers
                .push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        self.start_client_request(now, peer, &branch, &cancel, owner);
        let _ = self.transactions.handle_cancel_sent(tx, now);
    }

    /// Sends (and remembers) the ACK for a 2xx with CSeq `seq` to an INVITE of ours in the
    /// dialog of `call` (RFC 3261 §13.2.2.4): to the remote target through the route set, a
    /// new branch, the INVITE's credentials.
    pub(super) fn ack_in_dialog(&mut self, now: Instant, call: CallRef, resp: &Response, seq: u32) {
        let Some((transport, local)) = self
            .calls
            .by_ref
            .get(&call)
            .map(|c| (c.peer.transport, c.local))
        else {
            return;
        };
        let (_, via) = self.new_via(transport, local);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let mut ack = c.dialog.request(Method::Ack, Some(seq));
        ack.headers.set(HeaderName::Via, via);
        if let Some(o) = c.outbound() {
            copy_credentials(&o.invite, &mut ack);
        }
        let peer = c.peer;
        self.send_ack(now, peer, ack, resp);
    }

    fn send_ack(&mut self, now: Instant, peer: Target, mut ack: Request, resp: &Response) {
        if !self.config.user_agent.is_empty() {
            ack.headers
                .push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        let bytes = Bytes::from(ack.to_bytes());
        if let Some(key) = ack_key(resp) {
            let until = now + self.config.timers.transaction_timeout() + self.config.timers.t4;
            self.acks.remember(key, peer, bytes.clone(), until);
        }
        self.transmit(peer, bytes);
    }

    /// Re-sends the ACK of a 2xx we acknowledged already. `false`: not one of those.
    pub(super) fn reack(&mut self, resp: &Response) -> bool {
        let Some((target, ack)) = ack_key(resp).and_then(|key| self.acks.get(&key)) else {
            return false;
        };
        self.transmit(target, ack);
        true
    }

    /// A 2xx to an INVITE of ours for a dialog we do not keep (another fork, or a leg that
    /// ended): acknowledge it, then end that dialog (RFC 3261 §13.2.2.4).
    fn ack_and_bye(&mut self, now: Instant, peer: Target, invite: &Request, resp: &Response) {
        let Some(mut dialog) = Dialog::new_uac_lenient(invite, resp) else {
            return;
        };
        let ack_branch = self.new_branch();
        let bye_branch = self.new_branch();
        let (Some(ack_via), Some(bye_via)) =
            (via_like(invite, &ack_branch), via_like(invite, &bye_branch))
        else {
            return;
        };
        let mut ack = dialog.request(Method::Ack, Some(dialog.local_seq));
        ack.headers.set(HeaderName::Via, ack_via);
        copy_credentials(invite, &mut ack);
        self.send_ack(now, peer, ack, resp);
        let mut bye = dialog.request(Method::Bye, None);
        bye.headers.set(HeaderName::Via, bye_via);
        if let Some(contact) = invite.headers.get(&HeaderName::Contact) {
            bye.headers.push(HeaderName::Contact, contact);
        }
        if !self.config.user_agent.is_empty() {
            bye.headers
                .push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        self.start_client_request(now, peer, &bye_branch, &bye, None);
    }

    /// A 2xx to an INVITE that matched no transaction (RFC 6026 §8.1: the transaction may be
    /// gone). Re-acknowledged if we acknowledged it before; a 2xx for a live leg from a
    /// dialog we do not keep is acknowledged and ended; anything else is dropped.
    pub(super) fn stray_invite_2xx(&mut self, now: Instant, resp: &Response) {
        if self.reack(resp) {
            return;
        }
        let key = resp
            .headers
            .get(&HeaderName::CallId)
            .zip(tag_in(resp, &HeaderName::From));
        let Some(call) = key.and_then(|(call_id, tag)| {
            self.calls.outbound.get(&(call_id.to_owned(), tag)).copied()
        }) else {
            return;
        };
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        let Some(o) = c.outbound() else { return };
        let ours = tag_in(resp, &HeaderName::To).is_some_and(|t| t == c.dialog.id.remote_tag);
        let seq = headers::CSeq::parse(resp.headers.get(&HeaderName::CSeq).unwrap_or(""))
            .map(|c| c.seq)
            .unwrap_or(0);
        if ours && c.phase == Phase::Confirmed {
            return self.ack_in_dialog(now, call, resp, seq);
        }
        if c.phase == Phase::Outgoing {
            return; // its INVITE transaction is still there to take it
        }
        let (peer, invite) = (c.peer, o.invite.clone());
        self.ack_and_bye(now, peer, &invite, resp);
    }

    /// The leg of `outbound` ended while its INVITE transaction may still hear responses:
    /// the transaction becomes an orphan (CANCEL now if it is proceeding; later 1xx get a
    /// CANCEL, later 2xx an ACK and a BYE).
    pub(super) fn orphan_invite(&mut self, now: Instant, peer: Target, outbound: &Outbound) {
        let Some(tx) = outbound.tx else { return };
        let Some(state) = self.transactions.client(tx).map(|t| t.state()) else {
            return;
        };
        let cancelled = outbound.cancel == Cancel::Sent;
        let cancelled = match state {
            ClientState::Invite(InviteClientState::Calling) => cancelled,
            ClientState::Invite(InviteClientState::Proceeding) => {
                if !cancelled {
                    self.send_cancel(now, peer, &outbound.invite, tx, None);
                }
                true
            }
            ClientState::Invite(InviteClientState::Accepted) => true,
            _ => return,
        };
        self.client_owner
            .insert(tx, ClientOwner::OrphanInvite { cancelled });
    }

    /// CANCELs the INVITE of client transaction `tx` (nobody waits for the outcome).
    pub(super) fn cancel_invite_transaction(&mut self, now: Instant, tx: TransactionId) {
        if let Some((peer, invite)) = self.client_request(tx) {
            self.send_cancel(now, peer, &invite, tx, None);
        }
    }

    /// A response to an orphaned INVITE.
    pub(super) fn orphan_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        cancelled: bool,
        status: u16,
        resp: &Response,
    ) {
        let Some((peer, invite)) = self.client_request(id) else {
            return;
        };
        match status {
            100..=199 if !cancelled => {
                self.send_cancel(now, peer, &invite, id, None);
                self.client_owner
                    .insert(id, ClientOwner::OrphanInvite { cancelled: true });
            }
            200..=299 => self.ack_and_bye(now, peer, &invite, resp),
            _ => {}
        }
    }
}

/// RFC 3261 §13.2.2.4 / §22: the ACK carries the INVITE's credentials.
fn copy_credentials(invite: &Request, ack: &mut Request) {
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        for value in invite.headers.get_all(&name) {
            ack.headers.push(name.clone(), value);
        }
    }
}

/// RFC 4028 §7.2: the session timer of an outbound leg is what its 2xx says; none without
/// Session-Expires. We refresh unless the 2xx names the UAS (the callee) as refresher.
fn uac_session_timer(resp: &Response, now: Instant) -> Option<SessionTimer> {
    let se = SessionExpires::parse(resp.headers.get(&HeaderName::SessionExpires)?).ok()?;
    let interval = se.interval.max(MIN_SESSION_INTERVAL);
    let we_refresh = se.refresher.as_deref() != Some("uas");
    Some(SessionTimer {
        interval,
        we_refresh,
        deadline: session_deadline(now, interval, we_refresh),
    })
}
