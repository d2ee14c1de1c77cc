//! UAS request validation, RFC 3261 §8.2 in its order: well-formedness (400), method
//! inspection (501/405), header inspection (416, CSeq/method consistency), loop and hop
//! checks (483), extensions (420), content (415) and acceptable responses (406).
//!
//! Stateful checks (481 for unknown dialogs, 482 for merged requests) belong to the endpoint,
//! which knows the live transactions and dialogs; this module only looks at one request.

use crate::message::headers::{self, CSeq, HeaderError, NameAddr, Via};
use crate::message::uri::{Scheme, Uri};
use crate::message::{HeaderName, Method, Request};

/// What a UAS supports; drives 405/420/415/406 answers and OPTIONS responses.
#[derive(Clone, Debug)]
pub struct UasPolicy {
    /// Methods we process; others known to SIP get 405 with this list in Allow.
    pub allow: Vec<Method>,
    /// Option tags we support (Require/Supported).
    pub supported: Vec<&'static str>,
    /// Body media types we accept.
    pub accept: Vec<&'static str>,
    /// Event packages we act as notifier for (RFC 6665 Allow-Events): `message-summary`
    /// subscriptions and the implicit `refer` subscriptions of RFC 3515.
    pub allow_events: Vec<&'static str>,
}

impl Default for UasPolicy {
    fn default() -> Self {
        use Method::*;
        Self {
            allow: vec![
                Invite, Ack, Bye, Cancel, Options, Register, Prack, Update, Info, Refer, Subscribe,
                Notify,
            ],
            supported: vec!["100rel", "timer", "norefersub"],
            accept: vec![
                "application/sdp",
                "application/dtmf-relay",
                "application/dtmf",
            ],
            allow_events: vec!["message-summary", "refer"],
        }
    }
}

impl UasPolicy {
    pub fn allow_header(&self) -> String {
        self.allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn supported_header(&self) -> String {
        self.supported.join(", ")
    }

    pub fn accept_header(&self) -> String {
        self.accept.join(", ")
    }

    pub fn allow_events_header(&self) -> String {
        self.allow_events.join(", ")
    }

    /// Allow and Allow-Events, sent together wherever we say what we accept.
    pub fn allow_headers(&self) -> [(HeaderName, String); 2] {
        [
            (HeaderName::Allow, self.allow_header()),
            (HeaderName::AllowEvents, self.allow_events_header()),
        ]
    }
}

/// A request that passed §8.2 validation, with its key headers parsed. Holding one is the
/// proof the endpoint needs before any transaction or dialog work.
#[derive(Clone, Debug)]
pub struct Checked {
    pub vias: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
    pub max_forwards: Option<u8>,
    pub uri: Uri,
}

impl Checked {
    /// The top Via (validation guarantees there is one).
    pub fn top_via(&self) -> &Via {
        &self.vias[0]
    }
}

/// The response a request earns instead of processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
    /// Headers the status requires (Allow for 405, Unsupported for 420, Accept for 415).
    pub headers: Vec<(HeaderName, String)>,
}

impl Rejection {
    fn new(status: u16, reason: &'static str) -> Self {
        Self {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    fn bad(e: HeaderError) -> Self {
        Self::new(400, e.0)
    }
}

/// Validates `req`. The order of checks follows RFC 3261 §8.2 so that, for example, an unknown
/// method wins over a CSeq mismatch (RFC 4475 §3.1.2.18).
pub fn check_request(req: &Request, policy: &UasPolicy) -> Result<Checked, Rejection> {
    let checked = well_formed(req)?;
    check_method(req, policy)?;
    if checked.cseq.method != req.method {
        return Err(Rejection::new(
            400,
            "CSeq method does not match the request method",
        ));
    }
    if !checked.uri.is_sip() && checked.uri.scheme != Scheme::Tel {
        return Err(Rejection::new(416, "Unsupported URI Scheme"));
    }
    if req.method == Method::Register && !(checked.to.uri.is_sip()) {
        return Err(Rejection::new(400, "REGISTER To must be a sip or sips URI"));
    }
    if checked.max_forwards == Some(0) && req.method == Method::Invite {
        // Herald is a B2BUA: an INVITE may be bridged onward, which needs a hop.
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    check_require(req, policy)?;
    check_content(req, policy)?;
    check_accept(req)?;
    Ok(checked)
}

/// 400 checks: mandatory headers once each, each parseable.
fn well_formed(req: &Request) -> Result<Checked, Rejection> {
    let h = &req.headers;
    for (name, reason) in [
        (HeaderName::From, "missing or repeated From"),
        (HeaderName::To, "missing or repeated To"),
        (HeaderName::CallId, "missing or repeated Call-ID"),
        (HeaderName::CSeq, "missing or repeated CSeq"),
    ] {
        if h.count(&name) != 1 {
            return Err(Rejection::new(400, reason));
        }
    }
    if h.count(&HeaderName::MaxForwards) > 1 || h.count(&HeaderName::ContentType) > 1 {
        return Err(Rejection::new(400, "repeated single-value header"));
    }
    let vias = headers::vias(h).map_err(Rejection::bad)?;
    let top = vias.first().ok_or(Rejection::new(400, "missing Via"))?;
    if top.branch() == Some(headers::MAGIC_COOKIE) {
        return Err(Rejection::new(400, "Via branch is only the magic cookie"));
    }
    let field = |name| h.get(&name).unwrap_or("");
    let from = NameAddr::parse(field(HeaderName::From)).map_err(Rejection::bad)?;
    let to = NameAddr::parse(field(HeaderName::To)).map_err(Rejection::bad)?;
    let call_id = field(HeaderName::CallId);
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(Rejection::new(400, "malformed Call-ID"));
    }
    let cseq = CSeq::parse(field(HeaderName::CSeq)).map_err(Rejection::bad)?;
    let max_forwards = match h.get(&HeaderName::MaxForwards) {
        None => None,
        Some(v) => Some(
            headers::parse_number(v, 255, "malformed Max-Forwards").map_err(Rejection::bad)? as u8,
        ),
    };
    if let Some(v) = h.get(&HeaderName::Expires) {
        headers::parse_delta_seconds(v).map_err(Rejection::bad)?;
    }
    let uri = Uri::parse(&req.uri).map_err(|e| Rejection::new(400, e.0))?;
    if uri.headers.is_some() {
        return Err(Rejection::new(400, "Request-URI must not carry headers"));
    }
    Ok(Checked {
        vias,
        from,
        to,
        call_id: call_id.to_owned(),
        cseq,
        max_forwards,
        uri,
    })
}

fn check_method(req: &Request, policy: &UasPolicy) -> Result<(), Rejection> {
    if policy.allow.contains(&req.method) {
        return Ok(());
    }
    let (status, reason) = match req.method {
        Method::Other(_) => (501, "Not Implemented"),
        _ => (405, "Method Not Allowed"),
    };
    let mut r = Rejection::new(status, reason);
    r.headers.extend(policy.allow_headers());
    Err(r)
}

fn check_require(req: &Request, policy: &UasPolicy) -> Result<(), Rejection> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return Ok(());
    }
    let unknown: Vec<&str> = req
        .headers
        .list(&HeaderName::Require)
        .filter(|tag| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let mut r = Rejection::new(420, "Bad Extension");
    r.headers
        .push((HeaderName::Unsupported, unknown.join(", ")));
    Err(r)
}

fn check_content(req: &Request, policy: &UasPolicy) -> Result<(), Rejection> {
    let unsupported = || {
        let mut r = Rejection::new(415, "Unsupported Media Type");
        r.headers.push((HeaderName::Accept, policy.accept_header()));
        r.headers
            .push((HeaderName::AcceptEncoding, "identity".to_owned()));
        r
    };
    if let Some(enc) = req.headers.get(&HeaderName::ContentEncoding)
        && !enc.trim().eq_ignore_ascii_case("identity")
    {
        return Err(unsupported());
    }
    // A NOTIFY's body belongs to its event package, and Herald subscribes to none: the
    // request earns a 481 for its unknown subscription, whatever it carries.
    if req.body.is_empty() || req.method == Method::Notify {
        return Ok(());
    }
    let Some(ct) = req.headers.get(&HeaderName::ContentType) else {
        return Err(Rejection::new(400, "body without Content-Type"));
    };
    let media = headers::media_type(ct);
    if policy.accept.iter().any(|a| *a == media) {
        Ok(())
    } else {
        Err(unsupported())
    }
}

/// An INVITE whose Accept excludes SDP cannot take our answer: 406.
fn check_accept(req: &Request) -> Result<(), Rejection> {
    if req.method != Method::Invite || !req.headers.contains(&HeaderName::Accept) {
        return Ok(());
    }
    let ok = req
        .headers
        .list(&HeaderName::Accept)
        .map(headers::media_type)
        .any(|m| m == "application/sdp" || m == "application/*" || m == "*/*");
    if ok {
        Ok(())
    } else {
        Err(Rejection::new(406, "Not Acceptable"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Framing, Message, parse_message};

    fn check(extra: &str, method: &str, body: &str) -> Result<Checked, Rejection> {
        let m = format!(
            "{method} sip:ivr@herald.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:ivr@herald.local>\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let Ok(Message::Request(r)) = parse_message(m.as_bytes(), Framing::Datagram) else {
            panic!("{m}")
        };
        check_request(&r, &UasPolicy::default())
    }

    fn status(r: Result<Checked, Rejection>) -> u16 {
        r.map(|_| 200).unwrap_or_else(|e| e.status)
    }

    #[test]
    fn statuses_in_rfc_order() {
        assert_eq!(status(check("", "OPTIONS", "")), 200);
        assert_eq!(status(check("", "FOO", "")), 501);
        assert_eq!(status(check("", "MESSAGE", "")), 405);
        assert_eq!(status(check("", "PUBLISH", "")), 405);
        assert_eq!(status(check("", "REFER", "")), 200);
        assert_eq!(status(check("", "SUBSCRIBE", "")), 200);
        assert_eq!(
            status(check(
                "Content-Type: message/sipfrag\r\n",
                "NOTIFY",
                "SIP/2.0 200 OK"
            )),
            200
        );
        assert_eq!(status(check("Require: foo, timer\r\n", "OPTIONS", "")), 420);
        assert_eq!(
            status(check("Content-Type: text/plain\r\n", "INVITE", "hi")),
            415
        );
        assert_eq!(
            status(check(
                "Content-Type: application/sdp\r\n",
                "INVITE",
                "v=0\r\n"
            )),
            200
        );
        assert_eq!(status(check("Accept: text/plain\r\n", "INVITE", "")), 406);
        assert_eq!(status(check("Call-ID: c2\r\n", "OPTIONS", "")), 400);
        assert_eq!(status(check("Expires: x\r\n", "OPTIONS", "")), 400);
    }

    #[test]
    fn rejection_headers() {
        let r = check(
            "Require: nothingSupportsThis, nothingSupportsThisEither\r\n",
            "OPTIONS",
            "",
        )
        .unwrap_err();
        assert_eq!(
            r.headers,
            vec![(
                HeaderName::Unsupported,
                "nothingSupportsThis, nothingSupportsThisEither".into()
            )]
        );
        let r = check("", "PUBLISH", "").unwrap_err();
        assert_eq!(r.headers[0].0, HeaderName::Allow);
        assert!(r.headers[0].1.contains("INVITE"));
        assert_eq!(
            r.headers[1],
            (HeaderName::AllowEvents, "message-summary, refer".into())
        );
    }
}
