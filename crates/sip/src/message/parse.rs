//! Structural parsing: start line, header lines (with unfolding and compact names) and body
//! framing. Semantic checks of individual header values belong to [`super::headers`] and to the
//! UAS validation in `crate::uas`.
//!
//! A request whose start line parsed but whose headers or framing are broken is returned inside
//! the error as a *partial* request, so the caller can still answer `400` to the address in its
//! Via (RFC 3261 §8.2 wants a response, not silence, whenever one can be routed).

use bytes::Bytes;

use super::{HeaderName, Headers, Message, Method, Request, Response};

/// How the body of a message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// UDP: the datagram is the message. Content-Length is optional (RFC 3261 §18.3); when it
    /// is present it must not exceed the bytes received, and octets past it are ignored.
    Datagram,
    /// TCP/TLS/WebSocket: the stream framer has already cut one message whose body is exactly
    /// Content-Length bytes long.
    Stream,
}

/// What kind of failure a parse error is, and therefore how to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Not recognisably SIP (or a response, which is never answered): drop it.
    Garbage,
    /// A request with a broken header or framing: answer `400` with the reason if the partial
    /// request carries a usable Via.
    Malformed,
    /// A request for a SIP version other than 2.0: answer `505`.
    VersionNotSupported,
}

/// A message that could not be parsed.
#[derive(Clone, Debug)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Short human-readable reason, suitable for a reason phrase (no message content in it).
    pub reason: &'static str,
    /// The request as far as it could be parsed, for routing a `400`/`505`.
    pub partial: Option<Box<Request>>,
}

impl ParseError {
    fn garbage(reason: &'static str) -> Self {
        Self {
            kind: ParseErrorKind::Garbage,
            reason,
            partial: None,
        }
    }

    /// The SIP status this error is answered with, if it is answered at all.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ParseErrorKind::Garbage => None,
            ParseErrorKind::Malformed => Some(400),
            ParseErrorKind::VersionNotSupported => Some(505),
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for ParseError {}

/// RFC 3261 token characters.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Parses one message. Leading CRLFs (keep-alives, RFC 3261 §7.5) are skipped.
pub fn parse_message(buf: &[u8], framing: Framing) -> Result<Message, ParseError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let buf = &buf[start..];
    if buf.is_empty() {
        return Err(ParseError::garbage("empty message"));
    }
    let (head_len, body_start) = match find_header_end(buf, framing) {
        Some(v) => v,
        None => (buf.len(), buf.len()),
    };
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| head_error(buf, head_len))?;
    let mut lines = split_lines(head);
    let start_line = lines.next().unwrap_or("");
    if let Some(rest) = start_line.strip_prefix("SIP/") {
        return parse_response(rest, lines, &buf[body_start..], framing).map(Message::Response);
    }
    let (method, uri, version) = parse_request_line(start_line)?;
    let mut request = Request {
        method,
        uri,
        headers: Headers::new(),
        body: Bytes::new(),
    };
    let mut error = version;
    if body_start == buf.len() && head_len == buf.len() && framing == Framing::Datagram {
        error = error.or(Some((
            ParseErrorKind::Malformed,
            "no empty line after the headers",
        )));
    }
    match parse_headers(lines, &mut request.headers) {
        Ok(()) => {}
        Err(reason) => error = error.or(Some((ParseErrorKind::Malformed, reason))),
    }
    match frame_body(&request.headers, &buf[body_start..], framing) {
        Ok(body) => request.body = body,
        Err(reason) => error = error.or(Some((ParseErrorKind::Malformed, reason))),
    }
    match error {
        None => Ok(Message::Request(request)),
        Some((kind, reason)) => Err(ParseError {
            kind,
            reason,
            partial: Some(Box::new(request)),
        }),
    }
}

/// When the header section is not UTF-8 we still try to recover enough to route a 400.
fn head_error(buf: &[u8], head_len: usize) -> ParseError {
    let lossy = String::from_utf8_lossy(&buf[..head_len]);
    let mut lines = split_lines(&lossy);
    let partial = lines
        .next()
        .and_then(|l| parse_request_line(l).ok())
        .map(|(method, uri, _)| {
            let mut request = Request {
                method,
                uri,
                headers: Headers::new(),
                body: Bytes::new(),
            };
            let _ = parse_headers(lines, &mut request.headers);
            Box::new(request)
        });
    let kind = if partial.is_some() {
        ParseErrorKind::Malformed
    } else {
        ParseErrorKind::Garbage
    };
    ParseError {
        kind,
        reason: "header section is not UTF-8",
        partial,
    }
}

/// Returns (length of the header section, offset of the body). On streams only CRLFCRLF ends
/// the headers, as in the stream framer; datagrams also tolerate a bare LFLF.
fn find_header_end(buf: &[u8], framing: Framing) -> Option<(usize, usize)> {
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, i + 4));
    if framing == Framing::Stream {
        return crlf;
    }
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn split_lines(head: &str) -> impl Iterator<Item = &str> {
    head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l))
}

type RequestLine = (Method, String, Option<(ParseErrorKind, &'static str)>);

/// `Method SP Request-URI SP SIP-Version`, with exactly one SP between elements
/// (RFC 3261 §7.1; RFC 4475 §3.1.2.9 and §3.1.2.10 ask for 400 on extra or trailing spaces).
fn parse_request_line(line: &str) -> Result<RequestLine, ParseError> {
    let mut parts = line.splitn(2, ' ');
    let method_str = parts.next().unwrap_or("");
    let rest = parts
        .next()
        .ok_or_else(|| ParseError::garbage("not a SIP request line"))?;
    let method =
        Method::parse(method_str).ok_or_else(|| ParseError::garbage("method is not a token"))?;
    let (uri, version) = rest.rsplit_once(' ').unwrap_or((rest, ""));
    let version_ok = version.len() > 4 && has_sip_prefix(version);
    if !version_ok && !looks_like_version(uri) {
        return Err(ParseError::garbage("not a SIP request line"));
    }
    let mut problem = None;
    if uri.is_empty() || uri.bytes().any(|b| b.is_ascii_whitespace()) {
        problem = Some((ParseErrorKind::Malformed, "malformed Request-Line"));
    } else if !version_ok {
        problem = Some((ParseErrorKind::Malformed, "malformed SIP-Version"));
    } else if version[4..] != *"2.0" {
        let numeric = version[4..]
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        problem = Some(if numeric {
            (
                ParseErrorKind::VersionNotSupported,
                "SIP version not supported",
            )
        } else {
            (ParseErrorKind::Malformed, "malformed SIP-Version")
        });
    }
    Ok((method, uri.to_owned(), problem))
}

/// True for a request line with trailing whitespace after the version ("... SIP/2.0 ").
fn looks_like_version(uri_and_version: &str) -> bool {
    uri_and_version
        .trim_end()
        .rsplit(' ')
        .next()
        .is_some_and(|v| v.len() > 4 && has_sip_prefix(v))
}

/// `SIP/` in any case, compared as bytes (slicing a `str` at 4 could split a character).
fn has_sip_prefix(v: &str) -> bool {
    v.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

/// More header fields than any real message carries; beyond this a message is rejected
/// rather than letting one datagram cost the signalling thread milliseconds. Content-Length
/// does not count, so that whatever we accept we can also write back (the writer adds it).
pub const MAX_HEADERS: usize = 256;

/// Parses header lines into `headers`, unfolding continuation lines. Returns the first
/// problem found; every well-formed line is still collected.
fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
    headers: &mut Headers,
) -> Result<(), &'static str> {
    let mut problem = None;
    let mut current: Option<(HeaderName, String)> = None;
    let mut counted = 0;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            match current.as_mut() {
                Some((_, value)) => {
                    let more = line.trim();
                    if !more.is_empty() {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(more);
                    }
                }
                None => problem = problem.or(Some("continuation line without a header")),
            }
            continue;
        }
        if let Some((name, value)) = current.take() {
            headers.push(name, value);
        }
        if line.is_empty() {
            continue;
        }
        if counted >= MAX_HEADERS {
            return Err("too many header fields");
        }
        match line.split_once(':') {
            Some((name, value)) => {
                let name = name.trim_end_matches([' ', '\t']);
                if name.is_empty() || !name.bytes().all(is_token_char) {
                    problem = problem.or(Some("malformed header name"));
                    continue;
                }
                let name = HeaderName::parse(name);
                counted += usize::from(name != HeaderName::ContentLength);
                current = Some((name, value.trim().to_owned()));
            }
            None => problem = problem.or(Some("header line without a colon")),
        }
    }
    if let Some((name, value)) = current {
        headers.push(name, value);
    }
    problem.map_or(Ok(()), Err)
}

/// Cuts the body out of what follows the headers, per the framing rules.
fn frame_body(headers: &Headers, rest: &[u8], framing: Framing) -> Result<Bytes, &'static str> {
    let length = content_length(headers)?;
    match (length, framing) {
        (None, Framing::Datagram) => Ok(Bytes::copy_from_slice(rest)),
        (None, Framing::Stream) => {
            if rest.is_empty() {
                Ok(Bytes::new())
            } else {
                Err("missing Content-Length")
            }
        }
        (Some(n), _) if n > rest.len() => Err("Content-Length exceeds the message"),
        (Some(n), _) => Ok(Bytes::copy_from_slice(&rest[..n])),
    }
}

/// The Content-Length, if present. Several different values, a negative or non-numeric value
/// are errors (RFC 4475 §3.1.2.3, §3.3.9).
pub(crate) fn content_length(headers: &Headers) -> Result<Option<usize>, &'static str> {
    let mut length = None;
    for value in headers.get_all(&HeaderName::ContentLength) {
        if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid Content-Length");
        }
        let n: usize = value.parse().map_err(|_| "invalid Content-Length")?;
        if length.is_some_and(|l| l != n) {
            return Err("conflicting Content-Length values");
        }
        length = Some(n);
    }
    Ok(length)
}

fn parse_response<'a>(
    rest: &str,
    lines: impl Iterator<Item = &'a str>,
    after_head: &[u8],
    framing: Framing,
) -> Result<Response, ParseError> {
    let (version, rest) = rest
        .split_once(' ')
        .ok_or_else(|| ParseError::garbage("malformed Status-Line"))?;
    if version != "2.0" {
        return Err(ParseError::garbage("unsupported SIP version in response"));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::garbage("malformed status code"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| ParseError::garbage("malformed status code"))?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::garbage("status code out of range"));
    }
    let mut response = Response::new(status, reason);
    parse_headers(lines, &mut response.headers).map_err(ParseError::garbage)?;
    response.body =
        frame_body(&response.headers, after_head, framing).map_err(ParseError::garbage)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Request {
        match parse_message(s.as_bytes(), Framing::Datagram) {
            Ok(Message::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn unfolds_and_expands_compact_names() {
        let r = req(
            "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bKx\r\ni: abc\r\nl: 0\r\n\r\n",
        );
        assert_eq!(
            r.headers.get(&HeaderName::Via),
            Some("SIP/2.0/UDP h ;branch=z9hG4bKx")
        );
        assert_eq!(r.call_id(), Some("abc"));
    }

    #[test]
    fn datagram_body_without_content_length_is_the_rest() {
        let r = req("INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\nv=0\r\n");
        assert_eq!(&r.body[..], b"v=0\r\n");
    }

    #[test]
    fn datagram_ignores_octets_past_content_length() {
        let r =
            req("REGISTER sip:b SIP/2.0\r\nContent-Length: 0\r\n\r\nINVITE sip:x SIP/2.0\r\n\r\n");
        assert!(r.body.is_empty());
    }

    #[test]
    fn framing_errors_keep_a_partial_request() {
        let e = parse_message(
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 99\r\n\r\nx",
            Framing::Datagram,
        )
        .unwrap_err();
        assert_eq!(e.status(), Some(400));
        assert_eq!(
            e.partial.unwrap().headers.get(&HeaderName::Via),
            Some("SIP/2.0/UDP h")
        );
        for cl in ["-999", "12abc", "99999999999"] {
            let m = format!("INVITE sip:a@b SIP/2.0\r\nContent-Length: {cl}\r\n\r\n");
            assert_eq!(
                parse_message(m.as_bytes(), Framing::Datagram)
                    .unwrap_err()
                    .status(),
                Some(400)
            );
        }
        let m = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nContent-Length: 1\r\n\r\nabc";
        assert_eq!(
            parse_message(m.as_bytes(), Framing::Datagram)
                .unwrap_err()
                .reason,
            "conflicting Content-Length values"
        );
    }

    #[test]
    fn request_line_spacing_and_version() {
        let bad = [
            "INVITE  sip:a@b SIP/2.0",
            "INVITE sip:a@b  SIP/2.0",
            "INVITE sip:a@b SIP/2.0 ",
            "INVITE sip:a @b SIP/2.0",
        ];
        for line in bad {
            let m = format!("{line}\r\nVia: SIP/2.0/UDP h\r\n\r\n");
            let e = parse_message(m.as_bytes(), Framing::Datagram).unwrap_err();
            assert_eq!(e.status(), Some(400), "{line:?}");
        }
        let e = parse_message(
            b"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",
            Framing::Datagram,
        )
        .unwrap_err();
        assert_eq!(e.status(), Some(505));
    }

    #[test]
    fn responses_parse_and_bad_codes_are_garbage() {
        match parse_message(b"SIP/2.0 100 \r\nCall-ID: x\r\n\r\n", Framing::Datagram) {
            Ok(Message::Response(r)) => assert_eq!((r.status, r.reason.as_str()), (100, "")),
            other => panic!("{other:?}"),
        }
        let e = parse_message(b"SIP/2.0 4294967301 Big\r\n\r\n", Framing::Datagram).unwrap_err();
        assert_eq!(e.status(), None);
    }

    #[test]
    fn multibyte_characters_where_the_version_is_expected() {
        for m in [
            "OPTIONS sip:a@b SIPé/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",
            "OPTIONS SIPé/2.0 x\r\n\r\n",
            "OPTIONS sip:x é\r\n\r\n",
        ] {
            let e = parse_message(m.as_bytes(), Framing::Datagram).unwrap_err();
            assert!(
                matches!(e.kind, ParseErrorKind::Garbage | ParseErrorKind::Malformed),
                "{m:?}"
            );
        }
    }

    #[test]
    fn header_count_is_bounded() {
        let mut m =
            String::from("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n");
        for i in 0..MAX_HEADERS {
            m.push_str(&format!("X-H{i}: v\r\n"));
        }
        m.push_str("\r\n");
        let e = parse_message(m.as_bytes(), Framing::Datagram).unwrap_err();
        assert_eq!(
            (e.status(), e.reason),
            (Some(400), "too many header fields")
        );
        assert!(
            e.partial.unwrap().headers.get(&HeaderName::Via).is_some(),
            "the 400 can still be routed"
        );
    }

    #[test]
    fn garbage_is_dropped() {
        for g in [
            &b""[..],
            b"\r\n\r\n",
            b"hello",
            b"\xff\xfe\x00",
            b"GET / HTTP/1.1\r\n\r\n",
        ] {
            let e = parse_message(g, Framing::Datagram).unwrap_err();
            assert_eq!(e.status(), None, "{g:?}");
        }
    }
}
