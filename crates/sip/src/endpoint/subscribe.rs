//! Subscriptions phones hold with Herald (RFC 6665): `message-summary` (RFC 3842), which
//! Polycom and AudioCodes phones ask for to light their message-waiting lamp. Herald has no
//! voicemail, so the answer is always "no messages"; what matters is answering the way the
//! phones expect, so that they stop retrying and keep their lamp off.
//!
//! ```text
//!   SUBSCRIBE (no To tag) ──200 (To tag, Expires: min(asked, 3600))──> NOTIFY (active)
//!        │                                                  │
//!        └─ Expires: 0 ──200──> NOTIFY (terminated;reason=timeout), nothing kept
//!   in-dialog SUBSCRIBE ──200──> NOTIFY; Expires: 0 ends it; the deadline ends it silently
//!   a 481 or a timeout of a NOTIFY ends it
//! ```
//!
//! Other packages (`dialog`, `presence`, `ua-profile`, `as-feature-event`...) get 489 Bad
//! Event with Allow-Events. At most [`MAX_SUBSCRIPTIONS`] live at once (then 503), so a
//! peer cannot grow our memory at will.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rand::RngCore;

use super::{ClientOwner, Due, Endpoint, Incoming, RequestCtx, Target, duration_secs};
use crate::dialog::{Dialog, DialogId, DialogState};
use crate::message::headers::{self, parse_params};
use crate::message::{HeaderName, Method, Request};
use crate::uas::Checked;

/// The longest subscription we grant, and what a SUBSCRIBE without Expires gets (RFC 3842
/// §4.2 suggests an hour).
const MAX_EXPIRES: u32 = 3600;

/// Live subscriptions at most; more get 503.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 10_000;

const SUMMARY: &str = "message-summary";

/// The body of every NOTIFY: Herald keeps no messages.
const NO_MESSAGES: &str = "Messages-Waiting: no\r\n";

#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    next: u64,
    by_id: HashMap<u64, Subscription>,
    by_dialog: HashMap<DialogId, u64>,
}

impl Subscriptions {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[derive(Debug)]
struct Subscription {
    dialog: Dialog,
    /// Where NOTIFYs go: where the SUBSCRIBE came from.
    peer: Target,
    local: SocketAddr,
    /// The Event value of our NOTIFYs: the package with the SUBSCRIBE's `id`, if any.
    event: String,
    expires_at: Instant,
}

/// The package of an Event value, lower case, and the value to echo in NOTIFYs.
fn event_package(value: &str) -> Option<(String, String)> {
    let end = value.find(';').unwrap_or(value.len());
    let package = value[..end].trim().to_ascii_lowercase();
    let params = parse_params(&value[end..], "malformed Event").ok()?;
    let id = params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case("id"))
        .and_then(|p| p.value.as_deref());
    let echo = match id {
        Some(id) => format!("{package};id={id}"),
        None => package.clone(),
    };
    Some((package, echo))
}

impl<R: RngCore> Endpoint<R> {
    pub(super) fn handle_subscribe(
        &mut self,
        now: Instant,
        ctx: RequestCtx,
        req: Arc<Request>,
        checked: Checked,
        incoming: &Incoming<'_>,
    ) {
        let in_call = checked.to.tag().is_some_and(|tag| {
            self.calls.by_dialog.contains_key(&DialogId {
                call_id: checked.call_id.clone(),
                local_tag: tag.to_owned(),
                remote_tag: checked.from.tag().unwrap_or("").to_owned(),
            })
        });
        if in_call {
            return self.handle_in_dialog(now, ctx, req, checked);
        }
        let Some(event) = req.headers.get(&HeaderName::Event) else {
            return self.respond(now, &ctx, &req, 400, Some("Missing Event"), &[], None);
        };
        let Some((package, echo)) = event_package(event) else {
            return self.respond(now, &ctx, &req, 400, Some("Malformed Event"), &[], None);
        };
        if package != SUMMARY {
            let extra = [self.config.policy.allow_headers()[1].clone()];
            return self.respond(now, &ctx, &req, 489, None, &extra, None);
        }
        let expires = req
            .headers
            .get(&HeaderName::Expires)
            .and_then(|v| headers::parse_delta_seconds(v).ok())
            .unwrap_or(MAX_EXPIRES)
            .min(MAX_EXPIRES);
        match checked.to.tag() {
            None => self.new_subscription(now, &ctx, &req, incoming, echo, expires),
            Some(tag) => {
                let id = DialogId {
                    call_id: checked.call_id.clone(),
                    local_tag: tag.to_owned(),
                    remote_tag: checked.from.tag().unwrap_or("").to_owned(),
                };
                self.refresh_subscription(now, &ctx, &req, &checked, &id, expires);
            }
        }
    }

    fn new_subscription(
        &mut self,
        now: Instant,
        ctx: &RequestCtx,
        req: &Request,
        incoming: &Incoming<'_>,
        event: String,
        expires: u32,
    ) {
        if expires > 0 && self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            let extra = [(HeaderName::RetryAfter, "60".to_owned())];
            return self.respond(now, ctx, req, 503, None, &extra, None);
        }
        let tag = self.new_tag();
        let mut dialog = match Dialog::new_uas(req, &tag) {
            Ok(d) => d,
            Err(e) => {
                let reason = e.to_string();
                return self.respond(now, ctx, req, e.status(), Some(&reason), &[], Some(&tag));
            }
        };
        dialog.state = DialogState::Confirmed;
        let extra = [
            (HeaderName::Expires, expires.to_string()),
            (
                HeaderName::Contact,
                self.contact(incoming.local, incoming.transport),
            ),
        ];
        self.respond(now, ctx, req, 200, None, &extra, Some(&tag));
        let sub = Subscription {
            dialog,
            peer: Target {
                transport: incoming.transport,
                addr: incoming.remote,
                conn: incoming.conn,
            },
            local: incoming.local,
            event,
            expires_at: now + duration_secs(expires),
        };
        if expires == 0 {
            // A fetch: one NOTIFY with the state, and nothing kept.
            self.send_summary_notify(now, sub, None);
            return;
        }
        let id = self.subscriptions.next;
        self.subscriptions.next += 1;
        let sub = self.send_summary_notify(now, sub, Some(id));
        self.schedule(Due::Subscription(id), None, Some(sub.expires_at));
        self.subscriptions
            .by_dialog
            .insert(sub.dialog.id.clone(), id);
        self.subscriptions.by_id.insert(id, sub);
    }

    fn refresh_subscription(
        &mut self,
        now: Instant,
        ctx: &RequestCtx,
        req: &Request,
        checked: &Checked,
        dialog: &DialogId,
        expires: u32,
    ) {
        let Some(id) = self.subscriptions.by_dialog.get(dialog).copied() else {
            return self.respond(now, ctx, req, 481, None, &[], None);
        };
        let Some(mut sub) = self.subscriptions.by_id.remove(&id) else {
            return self.respond(now, ctx, req, 481, None, &[], None);
        };
        if let Err(e) = sub.dialog.accept_remote_cseq(&checked.cseq) {
            self.subscriptions.by_id.insert(id, sub);
            let reason = Some("CSeq out of order");
            return self.respond(now, ctx, req, e.status(), reason, &[], None);
        }
        let extra = [(HeaderName::Expires, expires.to_string())];
        self.respond(now, ctx, req, 200, None, &extra, None);
        let old = sub.expires_at;
        sub.expires_at = now + duration_secs(expires);
        if expires == 0 {
            self.schedule(Due::Subscription(id), Some(old), None);
            self.subscriptions.by_dialog.remove(dialog);
            self.send_summary_notify(now, sub, None);
            return;
        }
        self.schedule(Due::Subscription(id), Some(old), Some(sub.expires_at));
        let sub = self.send_summary_notify(now, sub, Some(id));
        self.subscriptions.by_id.insert(id, sub);
    }

    /// Sends the NOTIFY with the (empty) summary in `sub`'s dialog: `active` with the time
    /// left, or `terminated;reason=timeout` once it is up. `id`: the live subscription the
    /// NOTIFY belongs to (a 481 to it ends the subscription).
    fn send_summary_notify(
        &mut self,
        now: Instant,
        mut sub: Subscription,
        id: Option<u64>,
    ) -> Subscription {
        let left = sub.expires_at.saturating_duration_since(now).as_secs();
        let state = if left == 0 {
            "terminated;reason=timeout".to_owned()
        } else {
            format!("active;expires={left}")
        };
        let (branch, via) = self.new_via(sub.peer.transport, sub.local);
        let mut notify = sub.dialog.request(Method::Notify, None);
        notify.headers.set(HeaderName::Via, via);
        let h = &mut notify.headers;
        h.push(
            HeaderName::Contact,
            self.contact(sub.local, sub.peer.transport),
        );
        h.push(HeaderName::Event, sub.event.clone());
        h.push(HeaderName::SubscriptionState, state);
        if !self.config.user_agent.is_empty() {
            h.push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        h.push(
            HeaderName::ContentType,
            "application/simple-message-summary",
        );
        notify.body = Bytes::from_static(NO_MESSAGES.as_bytes());
        let owner = id.map(ClientOwner::Subscription);
        self.start_client_request(now, sub.peer, &branch, &notify, owner);
        sub
    }

    /// A subscription's deadline passed: it ends without a word (the phone refreshes
    /// before it, or no longer cares).
    pub(super) fn subscription_timeout(&mut self, id: u64, now: Instant) {
        match self.subscriptions.by_id.get(&id).map(|s| s.expires_at) {
            Some(at) if at <= now => self.forget_subscription(id),
            Some(at) => self.schedule(Due::Subscription(id), None, Some(at)),
            None => {}
        }
    }

    /// The answer to a summary NOTIFY (408 for a timeout or transport failure): a 481 or
    /// 408 ends the subscription (RFC 6665 §4.2.2); other answers are absorbed.
    pub(super) fn subscription_notify_answered(&mut self, id: u64, status: u16) {
        if matches!(status, 408 | 481) {
            self.forget_subscription(id);
        }
    }

    fn forget_subscription(&mut self, id: u64) {
        if let Some(sub) = self.subscriptions.by_id.remove(&id) {
            self.subscriptions.by_dialog.remove(&sub.dialog.id);
            self.schedule(Due::Subscription(id), Some(sub.expires_at), None);
        }
    }
}
