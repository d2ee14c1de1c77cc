//! The SIP message model: requests and responses as a start line, an ordered list of header
//! fields and a body.
//!
//! Header values are stored unfolded (RFC 3261 §7.3.1: a CRLF followed by whitespace is one SP)
//! and trimmed, in the order they arrived, with compact names expanded. Typed views of the
//! headers a media server acts on (Via, From/To/Contact, CSeq, ...) live in [`headers`] and are
//! parsed on demand, strictly: a value that does not follow the grammar is an error that becomes
//! a `400` with a reason phrase, never a guess.
//!
//! Why not `rsip`: see `docs/sip-codec.md`. In short, `rsip` 0.4 rejects six valid RFC 4475
//! messages (line folding, unusual tokens, escapes) and accepts invalid ones (negative or
//! conflicting Content-Length); `rsipstack` cannot be built without tokio.

pub mod headers;
mod method;
mod name;
pub(crate) mod parse;
pub mod uri;
mod write;

pub use method::Method;
pub use name::HeaderName;
pub use parse::{Framing, ParseError, ParseErrorKind, parse_message};

use bytes::Bytes;

/// Header fields in arrival order. Lookups are linear: SIP messages carry a few dozen headers
/// and a linear scan of a small vector beats hashing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(HeaderName, String)>,
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, mutably.
    pub fn get_mut(&mut self, name: &HeaderName) -> Option<&mut String> {
        self.fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Every header line of `name`, in order (list values are not split; see [`split_list`]).
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every element of a comma-separated list header, across all its header lines.
    pub fn list<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_list)
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.fields.iter().filter(|(n, _)| n == name).count()
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// Appends a header line.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.fields.push((name, value.into()));
    }

    /// Replaces every line of `name` with one line, keeping the position of the first.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.fields[i].1 = value;
                let mut seen = false;
                self.fields.retain(|(n, _)| {
                    let dup = *n == name && seen;
                    seen |= *n == name;
                    !dup
                });
            }
            None => self.fields.push((name, value)),
        }
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.fields.retain(|(n, _)| n != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.fields.iter().map(|(n, v)| (n, v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Splits a header value at top-level commas (not inside quotes or angle brackets), trimming
/// each element and skipping empty ones.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut quoted = false;
    let mut angle = false;
    std::iter::from_fn(move || {
        while i <= bytes.len() {
            let at_end = i == bytes.len();
            let b = if at_end { b',' } else { bytes[i] };
            i += 1;
            match b {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if (!quoted && !angle) || at_end => {
                    let end = (i - 1).min(bytes.len());
                    let item = value.get(start..end).unwrap_or("").trim();
                    start = i.min(bytes.len());
                    if !item.is_empty() {
                        return Some(item);
                    }
                }
                _ => {}
            }
        }
        None
    })
}

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The Request-URI exactly as received (parse it with [`uri::Uri::parse`]).
    pub uri: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn call_id(&self) -> Option<&str> {
        self.headers.get(&HeaderName::CallId)
    }
}

impl Response {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Builds a response to `request` per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq
    /// are copied; a To tag is added (unless the request already has one or this is a 100).
    pub fn to_request(request: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut r = Response::new(status, reason);
        for (name, value) in request.headers.iter() {
            if matches!(
                name,
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq
            ) {
                r.headers.push(name.clone(), value);
            } else if *name == HeaderName::To && !r.headers.contains(&HeaderName::To) {
                let has_tag = headers::NameAddr::parse(value)
                    .map(|na| na.tag().is_some())
                    .unwrap_or(true);
                match to_tag {
                    Some(tag) if !has_tag && status != 100 => {
                        r.headers.push(HeaderName::To, format!("{value};tag={tag}"))
                    }
                    _ => r.headers.push(HeaderName::To, value),
                }
            }
        }
        r
    }

    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}

/// The standard reason phrase of a status code (RFC 3261 §21 and extensions we send).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        603 => "Decline",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        let v = r#""Doe, John" <sip:a@b;x=1,2>;q=1, <sip:c@d> , ,sip:e@f"#;
        let items: Vec<_> = split_list(v).collect();
        assert_eq!(
            items,
            vec![r#""Doe, John" <sip:a@b;x=1,2>;q=1"#, "<sip:c@d>", "sip:e@f"]
        );
    }

    #[test]
    fn set_replaces_all_lines_keeping_first_position() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::To, "t");
        h.push(HeaderName::Via, "b");
        h.set(HeaderName::Via, "c");
        let all: Vec<_> = h
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            all,
            vec![("Via".into(), "c".into()), ("To".into(), "t".into())]
        );
    }
}
