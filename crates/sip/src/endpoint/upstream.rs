//! Registrations Herald keeps with upstream registrars, such as a carrier's for a SIP trunk
//! (RFC 3261 §10.2, the client side of REGISTER).
//!
//! ```text
//!   register_upstream ──> Registering ──2xx──> Registered ──(refresh: half the granted
//!                          │  ▲                              expires, at most expires - 5 s)
//!                          │  └──────────────────────────────────┘
//!                          ├─401/407 ──> REGISTER again with credentials (once per realm;
//!                          │             a stale nonce is renewed)
//!                          ├─423 ──> REGISTER again asking for Min-Expires
//!                          └─other final, timeout ──> Failed ──(Retry-After, else 30 s
//!                                                     doubling to 10 min)──> Registering
//!   unregister_upstream ──> REGISTER with Expires: 0 (one challenge answered) ──> forgotten
//! ```
//!
//! Every REGISTER of a registration shares its Call-ID and From tag, with an increasing CSeq
//! (§10.2.4). Its Contact is `<sip:{contact_user}@{local}>`. The application hears
//! [`Event::Upstream`] after every success and every failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::RngCore;

use super::call::contact_with_user;
use super::client_auth::{ClientAuth, ClientCredentials};
use super::{ClientOwner, Due, Endpoint, Event, Target, duration_secs};
use crate::message::headers::{self, NameAddr};
use crate::message::uri::Uri;
use crate::message::{HeaderName, Method, Request, Response};
use crate::transaction::TransactionId;

/// The first retry after a failure; it doubles with each failure in a row.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between retries without Retry-After.
const MAX_RETRY: Duration = Duration::from_secs(600);
/// The longest Retry-After honoured.
const MAX_RETRY_AFTER: u32 = 86_400;
/// The largest Min-Expires a 423 may ask for before we call it a failure.
const MAX_MIN_EXPIRES: u32 = 86_400;

/// A registration to keep with an upstream registrar, for [`Endpoint::register_upstream`].
#[derive(Clone, Debug)]
pub struct UpstreamRegistration {
    /// Where REGISTERs go.
    pub target: Target,
    /// Our listener's address for Via and Contact.
    pub local: SocketAddr,
    /// The Request-URI, e.g. `sip:carrier.example`.
    pub registrar_uri: String,
    /// The address of record (To and From URI), e.g. `sip:+4930123@carrier.example`.
    pub aor: String,
    /// The Contact user part (our local address is the host).
    pub contact_user: String,
    /// The registration interval asked for, in seconds.
    pub expires: u32,
    pub credentials: Option<ClientCredentials>,
}

/// An upstream registration's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamRef(pub u64);

/// How an upstream registration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamState {
    /// The registrar accepted the binding for `expires` seconds (refreshed before then).
    Registered { expires: u32 },
    /// The REGISTER failed with `status` (`None`: no answer, or it could not be sent); it is
    /// sent again in `retry_in`.
    Failed {
        status: Option<u16>,
        retry_in: Duration,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Upstreams {
    next: u64,
    by_ref: HashMap<UpstreamRef, Upstream>,
}

impl Upstreams {
    pub fn len(&self) -> usize {
        self.by_ref.len()
    }
}

#[derive(Debug)]
struct Upstream {
    reg: UpstreamRegistration,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The Expires we ask for (raised by a 423; 0 once leaving).
    expires: u32,
    /// The REGISTER in flight.
    tx: Option<TransactionId>,
    auth: ClientAuth,
    /// Failures in a row, for the backoff.
    failures: u32,
    /// When the next REGISTER is due (refresh or retry), and the deadline filed for it.
    next: Option<Instant>,
    filed: Option<Instant>,
    /// Unregistering: forgotten once the REGISTER with Expires: 0 is answered.
    leaving: bool,
}

/// Whether the application's registration can become a well-formed REGISTER.
fn well_formed(reg: &UpstreamRegistration) -> bool {
    let clean = |v: &str| !v.bytes().any(|b| b.is_ascii_control() || b == b' ');
    let user_ok = !reg.contact_user.is_empty()
        && reg
            .contact_user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/%".contains(&b));
    user_ok
        && clean(&reg.registrar_uri)
        && clean(&reg.aor)
        && Uri::parse(&reg.registrar_uri).is_ok_and(|u| u.is_sip() && u.headers.is_none())
        && Uri::parse(&reg.aor).is_ok_and(|u| u.is_sip() && u.headers.is_none())
}

/// The interval the registrar granted our Contact: its `expires` parameter, else the
/// Expires header, else what we asked for.
fn granted_expires(resp: &Response, user: &str, asked: u32) -> u32 {
    let contacts: Vec<NameAddr> = resp
        .headers
        .list(&HeaderName::Contact)
        .filter_map(|v| NameAddr::parse(v).ok())
        .collect();
    let ours = contacts
        .iter()
        .find(|c| c.uri.user.as_deref() == Some(user))
        .or_else(|| contacts.first().filter(|_| contacts.len() == 1));
    let param = ours
        .and_then(|c| c.param("expires").flatten())
        .and_then(|v| headers::parse_delta_seconds(v).ok());
    let header = resp
        .headers
        .get(&HeaderName::Expires)
        .and_then(|v| headers::parse_delta_seconds(v).ok());
    param.or(header).unwrap_or(asked)
}

/// When to refresh a binding granted for `expires` seconds: at half of it, never later than
/// 5 s before it lapses, and not sooner than a second from now.
fn refresh_in(expires: u32) -> Duration {
    duration_secs((expires / 2).min(expires.saturating_sub(5)).max(1))
}

/// RFC 3261 §20.33: `Retry-After: delta-seconds [comment] *(;param)`.
fn retry_after(resp: &Response) -> Option<u32> {
    let value = resp.headers.get(&HeaderName::RetryAfter)?;
    let digits: &str = value
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?;
    headers::parse_delta_seconds(digits).ok()
}

/// The backoff after `failures` failures in a row (the first waits [`FIRST_RETRY`]).
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

impl<R: RngCore> Endpoint<R> {
    /// Keeps a registration with an upstream registrar (a carrier trunk) alive: sends
    /// REGISTER now, answers a 401/407 with the credentials, refreshes at about half the
    /// granted interval, retries after failures with backoff (honouring Retry-After) and
    /// follows 423 Interval Too Brief. Every success and failure is an [`Event::Upstream`].
    pub fn register_upstream(&mut self, now: Instant, reg: UpstreamRegistration) -> UpstreamRef {
        let r = UpstreamRef(self.upstreams.next);
        self.upstreams.next += 1;
        let upstream = Upstream {
            call_id: format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64()),
            from_tag: self.new_tag(),
            cseq: 0,
            expires: reg.expires,
            reg,
            tx: None,
            auth: ClientAuth::default(),
            failures: 0,
            next: None,
            filed: None,
            leaving: false,
        };
        self.upstreams.by_ref.insert(r, upstream);
        self.send_register(now, r);
        self.drain_transactions(now);
        r
    }

    /// Unregisters (REGISTER with Expires: 0, answering one challenge) and forgets the
    /// registration: no more events about it.
    pub fn unregister_upstream(&mut self, now: Instant, reg: UpstreamRef) {
        let Some(u) = self.upstreams.by_ref.get_mut(&reg) else {
            return;
        };
        if let Some(tx) = u.tx.take() {
            self.client_owner.remove(&tx); // its answer no longer matters
        }
        u.leaving = true;
        u.expires = 0;
        u.next = None;
        u.auth.new_request();
        self.refile_upstream(reg);
        self.send_register(now, reg);
        self.drain_transactions(now);
    }

    /// Sends the next REGISTER of `r`.
    fn send_register(&mut self, now: Instant, r: UpstreamRef) {
        let Some(u) = self.upstreams.by_ref.get(&r) else {
            return;
        };
        if !well_formed(&u.reg) {
            return self.upstream_failed(now, r, None);
        }
        let (transport, local) = (u.reg.target.transport, u.reg.local);
        let (branch, via) = self.new_via(transport, local);
        let Some(u) = self.upstreams.by_ref.get_mut(&r) else {
            return;
        };
        u.cseq = u.cseq.wrapping_add(1).max(1);
        let mut req = Request::new(Method::Register, u.reg.registrar_uri.clone());
        let h = &mut req.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        h.push(
            HeaderName::From,
            format!("<{}>;tag={}", u.reg.aor, u.from_tag),
        );
        h.push(HeaderName::To, format!("<{}>", u.reg.aor));
        h.push(HeaderName::CallId, u.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} REGISTER", u.cseq));
        h.push(
            HeaderName::Contact,
            contact_with_user(&u.reg.contact_user, local, transport),
        );
        h.push(HeaderName::Expires, u.expires.to_string());
        if !self.config.user_agent.is_empty() {
            h.push(HeaderName::UserAgent, self.config.user_agent.clone());
        }
        if let Some(credentials) = &u.reg.credentials {
            let uri = &u.reg.registrar_uri;
            for (name, value) in u.auth.headers("REGISTER", uri, credentials, &mut self.rng) {
                req.headers.push(name, value);
            }
        }
        let target = u.reg.target;
        u.next = None;
        let owner = Some(ClientOwner::Upstream(r));
        let tx = self.start_client_request(now, target, &branch, &req, owner);
        if let Some(u) = self.upstreams.by_ref.get_mut(&r) {
            u.tx = tx;
        }
        self.refile_upstream(r);
        if tx.is_none() {
            self.upstream_failed(now, r, None);
        }
    }

    /// A final response to a REGISTER of `r`.
    pub(super) fn upstream_response(
        &mut self,
        now: Instant,
        r: UpstreamRef,
        status: u16,
        resp: &Response,
    ) {
        if status < 200 {
            return;
        }
        let Some(u) = self.upstreams.by_ref.get_mut(&r) else {
            return;
        };
        u.tx = None;
        let challenged = matches!(status, 401 | 407) && u.reg.credentials.is_some();
        if challenged && u.auth.take_challenge(resp) {
            return self.send_register(now, r);
        }
        if u.leaving {
            return self.forget_upstream(r);
        }
        match status {
            200..=299 => {
                let granted = granted_expires(resp, &u.reg.contact_user, u.expires);
                if granted == 0 {
                    // The registrar kept no binding for us: not registered.
                    return self.upstream_failed(now, r, Some(status));
                }
                u.failures = 0;
                u.auth.new_request();
                u.next = Some(now + refresh_in(granted));
                self.refile_upstream(r);
                self.event(Event::Upstream {
                    registration: r,
                    state: UpstreamState::Registered { expires: granted },
                });
            }
            423 => {
                let min = resp
                    .headers
                    .get(&HeaderName::MinExpires)
                    .and_then(|v| headers::parse_delta_seconds(v).ok());
                match min {
                    Some(min) if min > u.expires && min <= MAX_MIN_EXPIRES => {
                        u.expires = min;
                        self.send_register(now, r);
                    }
                    _ => self.upstream_failed(now, r, Some(status)),
                }
            }
            _ => {
                let wait = retry_after(resp);
                self.upstream_failed_after(now, r, Some(status), wait);
            }
        }
    }

    /// A REGISTER of `r` failed without a final response (`None`) or with one.
    pub(super) fn upstream_failed(&mut self, now: Instant, r: UpstreamRef, status: Option<u16>) {
        self.upstream_failed_after(now, r, status, None);
    }

    fn upstream_failed_after(
        &mut self,
        now: Instant,
        r: UpstreamRef,
        status: Option<u16>,
        retry_after: Option<u32>,
    ) {
        let Some(u) = self.upstreams.by_ref.get_mut(&r) else {
            return;
        };
        u.tx = None;
        if u.leaving {
            return self.forget_upstream(r);
        }
        u.failures = u.failures.saturating_add(1);
        let retry_in = match retry_after {
            Some(secs) => duration_secs(secs.clamp(1, MAX_RETRY_AFTER)),
            None => backoff(u.failures),
        };
        u.auth.new_request();
        u.next = Some(now + retry_in);
        self.refile_upstream(r);
        self.event(Event::Upstream {
            registration: r,
            state: UpstreamState::Failed { status, retry_in },
        });
    }

    /// A refresh or retry of `r` is due.
    pub(super) fn upstream_timeout(&mut self, r: UpstreamRef, now: Instant) {
        let Some(u) = self.upstreams.by_ref.get_mut(&r) else {
            return;
        };
        u.filed = None;
        match u.next {
            Some(at) if at <= now && u.tx.is_none() => {
                u.auth.new_request();
                self.send_register(now, r);
            }
            _ => self.refile_upstream(r),
        }
    }

    fn refile_upstream(&mut self, r: UpstreamRef) {
        let Some(u) = self.upstreams.by_ref.get_mut(&r) else {
            return;
        };
        let (old, new) = (u.filed, u.next);
        if old != new {
            u.filed = new;
            self.schedule(Due::Upstream(r.0), old, new);
        }
    }

    fn forget_upstream(&mut self, r: UpstreamRef) {
        if let Some(u) = self.upstreams.by_ref.remove(&r) {
            self.schedule(Due::Upstream(r.0), u.filed, None);
            if let Some(tx) = u.tx {
                self.client_owner.remove(&tx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_and_backoff_intervals() {
        assert_eq!(refresh_in(3600), Duration::from_secs(1800));
        assert_eq!(
            refresh_in(8),
            Duration::from_secs(3),
            "never later than expires - 5 s"
        );
        assert_eq!(refresh_in(2), Duration::from_secs(1));
        let waits: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(backoff(u32::MAX), MAX_RETRY);
    }
}
