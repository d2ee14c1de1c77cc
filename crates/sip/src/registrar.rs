//! The registrar's binding decision (RFC 3261 §10.3, steps 5 to 8), as a pure function.
//!
//! # What it does
//!
//! [`decide`] takes one REGISTER, already reduced to a [`RegisterRequest`], the AOR's current
//! bindings and the time, and returns an [`Outcome`]: either the binding changes to commit plus
//! the bindings to list in the 200, or the error response to send. It never touches storage:
//! the caller loads the bindings, commits every [`BindingChange`] atomically (or, if the commit
//! fails, answers 500 and commits none, as step 7 requires) and answers.
//!
//! # What it does not do
//!
//! Steps 1 to 4 are the caller's: the Request-URI's domain, `Require`, authentication (see
//! [`crate::auth`]), authorizing the authenticated user for the AOR, and canonicalizing the To
//! URI into [`RegisterRequest::aor`]. Neither does it handle RFC 5626 outbound (`reg-id`,
//! `+sip.instance` are kept as opaque parameters) nor GRUUs.
//!
//! # Rules, in the order they apply
//!
//! 1. Bindings whose `expires_at` has passed are gone: they are removed (a
//!    [`BindingChange::Remove`] each, to clean the store), never matched, never counted.
//! 2. No Contact: a fetch. Nothing changes; the 200 lists the live bindings.
//! 3. `Contact: *` must stand alone ([`ContactsSpec::from_entries`]) and come with `Expires: 0`,
//!    else 400. It removes every binding, unless one has the same Call-ID and a CSeq not below
//!    the request's: then the request is out of order (500, nothing removed).
//! 4. Each contact's interval is its `expires` parameter, else the `Expires` header, else
//!    [`RegistrarConfig::default_expires`]. A nonzero interval below
//!    [`RegistrarConfig::min_expires`] rejects the whole request with 423 and `Min-Expires`; one
//!    above [`RegistrarConfig::max_expires`] is shortened to it. Zero removes.
//! 5. Each contact is matched against the live bindings by URI equivalence (below). A match with
//!    another Call-ID is replaced; with the same Call-ID it is replaced only if the request's
//!    CSeq is higher, otherwise the request is out of order: RFC 3261 says "the update MUST be
//!    aborted and the request fails", and step 7 names the status, 500. No match: a new binding
//!    (unless the interval is zero). Later contacts in one request override earlier equivalent
//!    ones; CSeq is always compared with the stored binding, not with an earlier contact.
//! 6. More than [`RegistrarConfig::max_contacts`] bindings afterwards, and more than before: the
//!    request is refused (403, nothing changes). Kamailio answers 503 here; 403 says the condition
//!    is permanent. An AOR already over a lowered limit may still refresh or shrink.
//!
//! # URI equivalence
//!
//! A simplified RFC 3261 §19.1.4 for `sip:`/`sips:` URIs: schemes and host:port compare
//! case-insensitively; userinfo compares exactly (no %-unescaping); the `user`, `ttl`, `method`,
//! `maddr` and `transport` parameters must match if either URI has them; other parameters must
//! match (case-insensitively) only if both have them; `?headers` compare exactly. A default port
//! is not equal to an absent one, as in the RFC. Other schemes compare as exact strings.
//!
//! # Time
//!
//! Unix seconds (`now: u64`), like [`crate::auth`]: bindings are persisted and shared across
//! restarts and nodes, which an `Instant` cannot be. `expires_at = now + interval`; a binding is
//! live while `now < expires_at`.

use std::fmt;
use std::str::FromStr;

/// Registrar limits. All intervals are in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shortest nonzero interval accepted; shorter ones get 423 with this as `Min-Expires`.
    /// Keep it at most 3600: RFC 3261 only allows 423 for requests under one hour.
    pub min_expires: u32,
    /// Longest interval granted; longer requests are shortened to this.
    pub max_expires: u32,
    /// Interval when neither the contact nor the request gives one.
    pub default_expires: u32,
    /// Most bindings one AOR may hold.
    pub max_contacts: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// A contact's `q` preference, in thousandths: `0` to `1000` (`q=0.5` is 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QValue(u16);

/// Not a qvalue (`0`, `0.xxx` or `1`, `1.000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid q value")]
pub struct InvalidQValue;

impl QValue {
    /// `None` above 1000.
    pub fn from_millis(millis: u16) -> Option<QValue> {
        (millis <= 1000).then_some(QValue(millis))
    }

    /// The value in thousandths.
    pub fn millis(self) -> u16 {
        self.0
    }
}

impl FromStr for QValue {
    type Err = InvalidQValue;

    /// RFC 3261 `qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")])`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidQValue);
        }
        let frac_millis = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
        match int {
            "0" => Ok(QValue(frac_millis)),
            "1" if frac_millis == 0 => Ok(QValue(1000)),
            _ => Err(InvalidQValue),
        }
    }
}

impl fmt::Display for QValue {
    /// Shortest form: `1`, `0`, `0.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("1"),
            0 => f.write_str("0"),
            millis => {
                let digits = format!("{millis:03}");
                write!(f, "0.{}", digits.trim_end_matches('0'))
            }
        }
    }
}

/// A contact parameter other than `expires` and `q`, kept as received (`+sip.instance`,
/// `reg-id`, `methods`...). `value` is `None` for a flag parameter.
pub type ContactParam = (String, Option<String>);

/// One Contact of a REGISTER.
#[derive(Clone, PartialEq)]
pub struct ContactSpec {
    /// The URI exactly as received (inside the angle brackets), URI parameters included.
    pub uri: String,
    /// The `expires` contact parameter.
    pub expires_param: Option<u32>,
    /// The `q` contact parameter.
    pub q: Option<QValue>,
    /// Other contact parameters, kept for the binding.
    pub params: Vec<ContactParam>,
}

/// One Contact header value as parsed: the wildcard or a contact.
#[derive(Clone, PartialEq)]
pub enum ContactEntry {
    /// `*`.
    Wildcard,
    /// A contact address.
    Contact(ContactSpec),
}

/// The Contact header fields of a REGISTER, in one of the three shapes §10.3 allows.
#[derive(Clone, PartialEq)]
pub enum ContactsSpec {
    /// No Contact: query the bindings.
    Fetch,
    /// `Contact: *` alone: remove all bindings (needs `Expires: 0`).
    Wildcard,
    /// One or more contact addresses to add, refresh or remove.
    List(Vec<ContactSpec>),
}

/// Why a REGISTER is a 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRegister {
    /// `*` together with other Contact values.
    #[error("wildcard Contact with other contacts")]
    WildcardWithOtherContacts,
    /// `*` without an `Expires: 0` header.
    #[error("wildcard Contact without Expires: 0")]
    WildcardWithoutZeroExpires,
}

impl ContactsSpec {
    /// Classifies parsed Contact values: none is a fetch, a lone `*` the wildcard, and `*` mixed
    /// with addresses is refused (400).
    pub fn from_entries(entries: Vec<ContactEntry>) -> Result<ContactsSpec, BadRegister> {
        if entries.is_empty() {
            return Ok(ContactsSpec::Fetch);
        }
        let wildcards = entries
            .iter()
            .filter(|e| matches!(e, ContactEntry::Wildcard))
            .count();
        match (wildcards, entries.len()) {
            (0, _) => Ok(ContactsSpec::List(
                entries
                    .into_iter()
                    .filter_map(|e| match e {
                        ContactEntry::Contact(c) => Some(c),
                        ContactEntry::Wildcard => None,
                    })
                    .collect(),
            )),
            (1, 1) => Ok(ContactsSpec::Wildcard),
            _ => Err(BadRegister::WildcardWithOtherContacts),
        }
    }
}

/// A REGISTER, reduced to what the binding decision needs.
#[derive(Clone, PartialEq)]
pub struct RegisterRequest {
    /// The canonical address-of-record from the To header (e.g. `sip:alice@example.com`).
    pub aor: String,
    /// The Call-ID.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The `Expires` header.
    pub expires_header: Option<u32>,
    /// The Contact header fields.
    pub contacts: ContactsSpec,
}

/// A stored binding of the AOR to a contact address. The store keys it by `(aor, contact)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI, exactly as last registered.
    pub contact: String,
    /// When it lapses, in unix seconds.
    pub expires_at: u64,
    /// The Call-ID of the REGISTER that last set it.
    pub call_id: String,
    /// The CSeq of that REGISTER.
    pub cseq: u32,
    /// The `q` preference, if given.
    pub q: Option<QValue>,
    /// Other contact parameters, to echo in the 200 and use when routing.
    pub params: Vec<ContactParam>,
}

impl Binding {
    /// Whether it is still in force at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// Seconds left at `now`: the `expires` parameter of this contact in the 200.
    pub fn expires_in(&self, now: u64) -> u32 {
        u32::try_from(self.expires_at.saturating_sub(now)).unwrap_or(u32::MAX)
    }
}

/// One change to commit to the location store.
#[derive(Clone, PartialEq, Eq)]
pub enum BindingChange {
    /// Insert the binding, or replace the one with the same contact string.
    Upsert(Binding),
    /// Delete the binding with exactly this contact string.
    Remove(String),
}

/// What to answer, and what to commit first.
#[derive(Clone, PartialEq)]
pub enum Outcome {
    /// 200 OK: commit `changes` atomically, then list `bindings_after` as Contact values, each
    /// with `expires=` [`Binding::expires_in`].
    Ok {
        /// The changes, removals of stale bindings included.
        changes: Vec<BindingChange>,
        /// Every live binding after the changes.
        bindings_after: Vec<Binding>,
    },
    /// 423 Interval Too Brief, with a `Min-Expires` header.
    IntervalTooBrief {
        /// The `Min-Expires` value.
        min_expires: u32,
    },
    /// 400 Bad Request.
    BadRequest(BadRegister),
    /// 500 Server Internal Error: a binding with this Call-ID has a CSeq not below the request's
    /// (a delayed or replayed REGISTER). RFC 3261 §10.3 steps 6 and 7.
    OutOfOrder,
    /// 403 Forbidden: the AOR would hold more than `max` bindings.
    TooManyContacts {
        /// The configured limit.
        max: usize,
    },
}

impl Outcome {
    /// The response status code.
    pub fn status_code(&self) -> u16 {
        match self {
            Outcome::Ok { .. } => 200,
            Outcome::IntervalTooBrief { .. } => 423,
            Outcome::BadRequest(_) => 400,
            Outcome::OutOfOrder => 500,
            Outcome::TooManyContacts { .. } => 403,
        }
    }
}

/// Decides a REGISTER for one AOR: see the module docs for the rules. `current` holds the AOR's
/// stored bindings (expired ones included, they get removed); `now` is unix seconds.
pub fn decide(
    config: &RegistrarConfig,
    request: &RegisterRequest,
    current: &[Binding],
    now: u64,
) -> Outcome {
    let (live, expired): (Vec<&Binding>, Vec<&Binding>) =
        current.iter().partition(|b| b.is_live(now));
    let cleanup = expired
        .iter()
        .map(|b| BindingChange::Remove(b.contact.clone()));
    let mut changes: Vec<BindingChange> = cleanup.collect();
    let after = match &request.contacts {
        ContactsSpec::Fetch => Ok(live.iter().map(|&b| b.clone()).collect()),
        ContactsSpec::Wildcard => unregister_all(request, &live),
        ContactsSpec::List(contacts) if contacts.is_empty() => {
            Ok(live.iter().map(|&b| b.clone()).collect())
        }
        ContactsSpec::List(contacts) => update(config, request, contacts, &live, now),
    };
    let bindings_after = match after {
        Ok(after) => after,
        Err(refusal) => return refusal,
    };
    changes.extend(diff(&live, &bindings_after));
    Outcome::Ok {
        changes,
        bindings_after,
    }
}

/// Whether an existing binding blocks this request: same Call-ID and CSeq not below it.
fn is_out_of_order(request: &RegisterRequest, binding: &Binding) -> bool {
    binding.call_id == request.call_id && request.cseq <= binding.cseq
}

fn unregister_all(request: &RegisterRequest, live: &[&Binding]) -> Result<Vec<Binding>, Outcome> {
    if request.expires_header != Some(0) {
        return Err(Outcome::BadRequest(BadRegister::WildcardWithoutZeroExpires));
    }
    if live.iter().any(|b| is_out_of_order(request, b)) {
        return Err(Outcome::OutOfOrder);
    }
    Ok(Vec::new())
}

/// The interval granted to a contact, or the 423 for it.
fn granted_interval(
    config: &RegistrarConfig,
    request: &RegisterRequest,
    contact: &ContactSpec,
) -> Result<u32, Outcome> {
    let requested = contact
        .expires_param
        .or(request.expires_header)
        .unwrap_or(config.default_expires);
    if requested != 0 && requested < config.min_expires {
        return Err(Outcome::IntervalTooBrief {
            min_expires: config.min_expires,
        });
    }
    Ok(requested.min(config.max_expires))
}

fn update(
    config: &RegistrarConfig,
    request: &RegisterRequest,
    contacts: &[ContactSpec],
    live: &[&Binding],
    now: u64,
) -> Result<Vec<Binding>, Outcome> {
    let intervals: Vec<u32> = contacts
        .iter()
        .map(|c| granted_interval(config, request, c))
        .collect::<Result<_, _>>()?;
    let mut after: Vec<Binding> = live.iter().map(|&b| b.clone()).collect();
    for (contact, interval) in contacts.iter().zip(intervals) {
        if live
            .iter()
            .any(|b| uri_equivalent(&b.contact, &contact.uri) && is_out_of_order(request, b))
        {
            return Err(Outcome::OutOfOrder);
        }
        let existing = after
            .iter()
            .position(|b| uri_equivalent(&b.contact, &contact.uri));
        match (existing, interval) {
            (Some(index), 0) => {
                after.remove(index);
            }
            (None, 0) => {}
            (Some(index), _) => after[index] = new_binding(request, contact, interval, now),
            (None, _) => after.push(new_binding(request, contact, interval, now)),
        }
    }
    // Only growth is refused: an AOR already over a lowered limit can still refresh and shrink.
    if after.len() > config.max_contacts && after.len() > live.len() {
        return Err(Outcome::TooManyContacts {
            max: config.max_contacts,
        });
    }
    Ok(after)
}

fn new_binding(
    request: &RegisterRequest,
    contact: &ContactSpec,
    interval: u32,
    now: u64,
) -> Binding {
    Binding {
        contact: contact.uri.clone(),
        expires_at: now.saturating_add(u64::from(interval)),
        call_id: request.call_id.clone(),
        cseq: request.cseq,
        q: contact.q,
        params: contact.params.clone(),
    }
}

/// Store changes that turn `before` into `after`, keyed by exact contact string.
fn diff(before: &[&Binding], after: &[Binding]) -> Vec<BindingChange> {
    let removed = before
        .iter()
        .filter(|b| !after.iter().any(|a| a.contact == b.contact))
        .map(|b| BindingChange::Remove(b.contact.clone()));
    let upserted = after
        .iter()
        .filter(|a| !before.contains(a))
        .map(|a| BindingChange::Upsert(a.clone()));
    removed.chain(upserted).collect()
}

/// A `sip:`/`sips:` URI split for comparison.
struct UriParts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    hostport: &'a str,
    params: Vec<(&'a str, Option<&'a str>)>,
    headers: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    fn split(uri: &'a str) -> Option<UriParts<'a>> {
        let (scheme, rest) = uri.split_once(':')?;
        if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
            return None;
        }
        let (userinfo, rest) = match rest.split_once('@') {
            Some((userinfo, rest)) => (Some(userinfo), rest),
            None => (None, rest),
        };
        let (rest, headers) = match rest.split_once('?') {
            Some((rest, headers)) => (rest, Some(headers)),
            None => (rest, None),
        };
        let mut pieces = rest.split(';');
        let hostport = pieces.next()?;
        let params = pieces
            .map(|p| p.split_once('=').map_or((p, None), |(n, v)| (n, Some(v))))
            .collect();
        Some(UriParts {
            scheme,
            userinfo,
            hostport,
            params,
            headers,
        })
    }

    fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    fn equivalent(&self, other: &UriParts<'_>) -> bool {
        let same_value = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        };
        let mandatory_match = ["user", "ttl", "method", "maddr", "transport"]
            .iter()
            .all(|name| match (self.param(name), other.param(name)) {
                (None, None) => true,
                (Some(a), Some(b)) => same_value(a, b),
                _ => false,
            });
        let common_match = self.params.iter().all(|&(name, value)| {
            other
                .param(name)
                .is_none_or(|theirs| same_value(value, theirs))
        });
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.userinfo == other.userinfo
            && self.hostport.eq_ignore_ascii_case(other.hostport)
            && self.headers == other.headers
            && mandatory_match
            && common_match
    }
}

/// URI equivalence as described in the module docs.
fn uri_equivalent(a: &str, b: &str) -> bool {
    match (UriParts::split(a), UriParts::split(b)) {
        (Some(a), Some(b)) => a.equivalent(&b),
        _ => a == b,
    }
}

// Contact URIs, AORs and Call-IDs carry phone numbers and addresses: Debug hides them.

const REDACTED: &str = "<redacted>";

impl fmt::Debug for ContactSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactSpec")
            .field("uri", &REDACTED)
            .field("expires_param", &self.expires_param)
            .field("q", &self.q)
            .field("params", &self.params.len())
            .finish()
    }
}

impl fmt::Debug for ContactEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactEntry::Wildcard => f.write_str("Wildcard"),
            ContactEntry::Contact(c) => f.debug_tuple("Contact").field(c).finish(),
        }
    }
}

impl fmt::Debug for ContactsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactsSpec::Fetch => f.write_str("Fetch"),
            ContactsSpec::Wildcard => f.write_str("Wildcard"),
            ContactsSpec::List(list) => f.debug_tuple("List").field(list).finish(),
        }
    }
}

impl fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("aor", &REDACTED)
            .field("call_id", &REDACTED)
            .field("cseq", &self.cseq)
            .field("expires_header", &self.expires_header)
            .field("contacts", &self.contacts)
            .finish()
    }
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("contact", &REDACTED)
            .field("expires_at", &self.expires_at)
            .field("call_id", &REDACTED)
            .field("cseq", &self.cseq)
            .field("q", &self.q)
            .field("params", &self.params.len())
            .finish()
    }
}

impl fmt::Debug for BindingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingChange::Upsert(b) => f.debug_tuple("Upsert").field(b).finish(),
            BindingChange::Remove(_) => f.debug_tuple("Remove").field(&REDACTED).finish(),
        }
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok {
                changes,
                bindings_after,
            } => f
                .debug_struct("Ok")
                .field("changes", changes)
                .field("bindings_after", bindings_after)
                .finish(),
            Outcome::IntervalTooBrief { min_expires } => f
                .debug_struct("IntervalTooBrief")
                .field("min_expires", min_expires)
                .finish(),
            Outcome::BadRequest(reason) => f.debug_tuple("BadRequest").field(reason).finish(),
            Outcome::OutOfOrder => f.write_str("OutOfOrder"),
            Outcome::TooManyContacts { max } => {
                f.debug_struct("TooManyContacts").field("max", max).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_equivalence_rules() {
        let eq = uri_equivalent;
        assert!(eq(
            "sip:alice@EXAMPLE.com:5060;transport=TCP",
            "SIP:alice@example.COM:5060;transport=tcp"
        ));
        assert!(
            !eq("sip:Alice@example.com", "sip:alice@example.com"),
            "user is case-sensitive"
        );
        assert!(
            !eq("sip:alice@example.com", "sip:alice@example.com:5060"),
            "default port is not absent"
        );
        assert!(!eq(
            "sip:alice@example.com",
            "sip:alice@example.com;transport=tcp"
        ));
        assert!(!eq(
            "sip:alice@example.com;maddr=1.2.3.4",
            "sip:alice@example.com"
        ));
        assert!(
            eq("sip:alice@example.com;ob", "sip:alice@example.com"),
            "other params only if both"
        );
        assert!(eq(
            "sip:alice@example.com;lr;foo=1",
            "sip:alice@example.com;FOO=1"
        ));
        assert!(!eq(
            "sip:alice@example.com;foo=1",
            "sip:alice@example.com;foo=2"
        ));
        assert!(!eq("sip:alice@example.com", "sips:alice@example.com"));
        assert!(!eq(
            "sip:alice@example.com?subject=x",
            "sip:alice@example.com"
        ));
        assert!(eq("tel:+15551234", "tel:+15551234"));
        assert!(
            !eq("tel:+15551234", "TEL:+15551234"),
            "other schemes compare exactly"
        );
        assert!(eq("sip:10.0.0.1:5062", "sip:10.0.0.1:5062"));
    }

    #[test]
    fn qvalue_parse_and_display() {
        let q = |s: &str| s.parse::<QValue>().map(QValue::millis);
        assert_eq!(q("0"), Ok(0));
        assert_eq!(q("0.5"), Ok(500));
        assert_eq!(q("0.125"), Ok(125));
        assert_eq!(q("1"), Ok(1000));
        assert_eq!(q("1.000"), Ok(1000));
        assert_eq!(q("1.001"), Err(InvalidQValue));
        assert_eq!(q("0.1234"), Err(InvalidQValue));
        assert_eq!(q("2"), Err(InvalidQValue));
        assert_eq!(q(".5"), Err(InvalidQValue));
        assert_eq!(q("0.-1"), Err(InvalidQValue));
        for s in ["0", "0.5", "0.125", "0.05", "1"] {
            assert_eq!(s.parse::<QValue>().map(|v| v.to_string()), Ok(s.to_owned()));
        }
    }
}
