//! Transfers: REFER in a call's dialog (RFC 3515) and the progress NOTIFYs of its implicit
//! subscription, or none with `Refer-Sub: false` (RFC 4488).
//!
//! ```text
//!   REFER ──202──> NOTIFY "SIP/2.0 100 Trying" (active) ──> Event::Refer
//!     refer_progress(1xx) ──> NOTIFY (active)
//!     refer_progress(>= 200) ──> NOTIFY (terminated;reason=noresource) ──> no subscription
//!   a 481 or a timeout of a NOTIFY ends the subscription, never the call
//! ```
//!
//! One subscription per call is reported on: a later REFER in the same dialog replaces the
//! earlier one (whose subscription then just expires at the peer). REFER outside a dialog is
//! refused (403) by the endpoint: Herald takes transfers within a call only.

use std::time::Instant;

use bytes::Bytes;
use rand::RngCore;

use super::call::{CallRef, DialogRequest, Phase};
use super::{Endpoint, Event, Purpose, RequestCtx};
use crate::message::headers::NameAddr;
use crate::message::{HeaderName, Method, Request, reason_phrase};

/// How long we say a REFER's implicit subscription lasts, in seconds (the peer extends
/// nothing: we notify the final status well before in practice).
const REFER_EXPIRES: u32 = 60;

/// The implicit subscription of the REFER being reported on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReferSubscription {
    /// The Event `id` parameter: the REFER's CSeq, for the second and later REFERs of a
    /// dialog (RFC 3515 §2.4.6).
    id: Option<u32>,
}

fn refer_sub_header() -> HeaderName {
    HeaderName::Other("Refer-Sub".into())
}

impl<R: RngCore> Endpoint<R> {
    /// An in-dialog REFER: answered 202 when it names one target, then reported to the
    /// application after the first NOTIFY.
    pub(super) fn handle_refer(
        &mut self,
        now: Instant,
        ctx: &RequestCtx,
        req: &Request,
        call: CallRef,
    ) {
        let Some(c) = self.calls.by_ref.get(&call) else {
            return;
        };
        if !matches!(c.phase, Phase::Answered | Phase::Confirmed) {
            let reason = Some("Transfers are taken in a confirmed call only");
            return self.respond(now, ctx, req, 403, reason, &[], None);
        }
        let targets: Vec<&str> = req.headers.list(&HeaderName::ReferTo).collect();
        let [target] = targets.as_slice() else {
            let reason = Some("One Refer-To is required");
            return self.respond(now, ctx, req, 400, reason, &[], None);
        };
        let Ok(refer_to) = NameAddr::parse(target) else {
            return self.respond(now, ctx, req, 400, Some("Malformed Refer-To"), &[], None);
        };
        let referred_by = req.headers.get(&HeaderName::ReferredBy).map(str::to_owned);
        let no_subscription = req
            .headers
            .get(&refer_sub_header())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let seq = req
            .headers
            .get(&HeaderName::CSeq)
            .and_then(|v| crate::message::headers::CSeq::parse(v).ok())
            .map_or(0, |c| c.seq);
        let extra = if no_subscription {
            vec![(refer_sub_header(), "false".to_owned())]
        } else {
            Vec::new()
        };
        let mut resp = self.dialog_response_to(call, req, 202, None);
        for (name, value) in extra {
            resp.headers.push(name, value);
        }
        self.send_response(now, ctx, resp);
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        c.refers = c.refers.saturating_add(1);
        if no_subscription {
            c.refer = None;
        } else {
            let id = (c.refers > 1).then_some(seq);
            c.refer = Some(ReferSubscription { id });
            self.send_refer_notify(now, call, 100);
        }
        // The 202 and the first NOTIFY go out before the application hears of the transfer.
        self.drain_transactions(now);
        self.event(Event::Refer {
            call,
            refer_to: refer_to.uri.to_string(),
            referred_by,
        });
    }

    /// Reports the progress of the transfer the peer asked for with REFER (RFC 3515 §2.4.5):
    /// a NOTIFY with the `message/sipfrag` status line `SIP/2.0 <status> <reason>`. A final
    /// status (200 and above) terminates the subscription. Nothing is sent when there is no
    /// subscription (`Refer-Sub: false`, a final status already reported, a 481 from the
    /// peer) or `status` is outside 100..=699.
    pub fn refer_progress(&mut self, now: Instant, call: CallRef, status: u16) {
        if !(100..=699).contains(&status) {
            return;
        }
        let reportable = self
            .calls
            .by_ref
            .get(&call)
            .is_some_and(|c| c.refer.is_some() && !matches!(c.phase, Phase::Ending(_)));
        if reportable {
            self.send_refer_notify(now, call, status);
            self.drain_transactions(now);
        }
    }

    fn send_refer_notify(&mut self, now: Instant, call: CallRef, status: u16) {
        let Some(c) = self.calls.by_ref.get_mut(&call) else {
            return;
        };
        let Some(sub) = c.refer else { return };
        let terminated = status >= 200;
        if terminated {
            c.refer = None;
        }
        let event = match sub.id {
            Some(id) => format!("refer;id={id}"),
            None => "refer".to_owned(),
        };
        let state = if terminated {
            "terminated;reason=noresource".to_owned()
        } else {
            format!("active;expires={REFER_EXPIRES}")
        };
        let body = format!("SIP/2.0 {status} {}\r\n", reason_phrase(status));
        let request = DialogRequest {
            method: Method::Notify,
            body: Some(("message/sipfrag;version=2.0", Bytes::from(body))),
            headers: vec![
                (HeaderName::Event, event),
                (HeaderName::SubscriptionState, state),
            ],
            purpose: Purpose::Notify,
        };
        self.send_dialog_request(now, call, request);
    }

    /// The answer to a refer NOTIFY (408 for a timeout or transport failure): a 481 or 408
    /// ends the subscription (RFC 6665 §4.2.2), nothing else; other answers are absorbed.
    pub(super) fn refer_notify_answered(&mut self, call: CallRef, status: u16) {
        if matches!(status, 408 | 481)
            && let Some(c) = self.calls.by_ref.get_mut(&call)
        {
            c.refer = None;
        }
    }
}
