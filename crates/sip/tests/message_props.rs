//! Properties of the SIP message parser, serializer and stream framer.
//!
//! * Parsing never panics, on arbitrary bytes and on mutated valid messages, under both
//!   framings.
//! * A generated valid request serializes and parses back into an equal request.
//! * The stream framer cuts a concatenation of serialized requests (with keep-alive pings
//!   between them) into exactly those frames, however the stream is chunked.
//!
//! The fuzz targets in `fuzz/` (`sip_message`, `sip_framing`) check the same properties from
//! coverage-guided inputs.

use bytes::Bytes;
use herald_sip::framing::{Frame, StreamFramer};
use herald_sip::message::{Framing, HeaderName, Message, Method, Request, parse_message};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

fn method() -> impl Strategy<Value = Method> {
    select(vec![
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "REGISTER",
        "PRACK",
        "UPDATE",
        "INFO",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "MESSAGE",
        "PUBLISH",
        "FROB",
        "x.y!z",
    ])
    .prop_map(|m| Method::parse(m).expect("a token"))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (any::<[u8; 4]>()).prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        Just("[2001:db8::1]".to_owned()),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        select(vec!["sip", "sips"]),
        proptest::option::of("[a-zA-Z0-9_.!~*'()%+-]{1,12}"),
        host(),
        proptest::option::of(1..=65535u16),
        vec(
            "(transport=(udp|tcp|tls)|lr|user=phone|ob|x-[a-z]{1,4}=[a-z0-9]{1,4})",
            0..3,
        ),
    )
        .prop_map(|(scheme, user, host, port, params)| {
            let mut uri = format!("{scheme}:");
            if let Some(user) = user {
                uri.push_str(&user);
                uri.push('@');
            }
            uri.push_str(&host);
            if let Some(port) = port {
                uri.push_str(&format!(":{port}"));
            }
            for param in params {
                uri.push(';');
                uri.push_str(&param);
            }
            uri
        })
}

fn via() -> impl Strategy<Value = String> {
    (
        select(vec!["UDP", "TCP", "TLS", "WS"]),
        host(),
        proptest::option::of(1..=65535u16),
        "[a-zA-Z0-9]{1,16}",
        any::<bool>(),
    )
        .prop_map(|(transport, host, port, branch, rport)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let rport = if rport { ";rport" } else { "" };
            format!("SIP/2.0/{transport} {host}{port};branch=z9hG4bK{branch}{rport}")
        })
}

fn name_addr() -> impl Strategy<Value = String> {
    (
        proptest::option::of("[a-zA-Z ]{0,12}"),
        sip_uri(),
        "[a-zA-Z0-9]{1,12}",
    )
        .prop_map(|(display, uri, tag)| match display {
            Some(display) => format!("\"{display}\" <{uri}>;tag={tag}"),
            None => format!("<{uri}>;tag={tag}"),
        })
}

/// A header value as the parser stores it: no CR or LF, no surrounding whitespace.
fn header_value() -> impl Strategy<Value = String> {
    "[^\r\n]{0,40}".prop_map(|v| v.trim().to_owned())
}

/// Extra header names: unknown `X-` names and known ones that carry no framing meaning.
fn extra_name() -> impl Strategy<Value = HeaderName> {
    prop_oneof![
        "[xX]-[A-Za-z0-9.!%*_+`'~-]{1,12}",
        select(vec![
            "Subject",
            "s",
            "User-Agent",
            "Supported",
            "k",
            "Allow",
            "Date",
            "Warning"
        ])
        .prop_map(str::to_owned),
    ]
    .prop_map(|name| HeaderName::parse(&name))
}

prop_compose! {
    /// A valid request. Its last header is the Content-Length the serializer writes, so that a
    /// parsed copy compares equal field for field.
    fn request()(
        method in method(),
        uri in sip_uri(),
        vias in vec(via(), 1..=5),
        from in name_addr(),
        to in name_addr(),
        call_id in "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,24}(@[a-z0-9.]{1,12})?",
        seq in any::<u32>(),
        extras in vec((extra_name(), header_value()), 0..6),
        body in vec(any::<u8>(), 0..200),
    ) -> Request {
        let mut req = Request::new(method.clone(), uri);
        for via in vias {
            req.headers.push(HeaderName::Via, via);
        }
        req.headers.push(HeaderName::From, from);
        req.headers.push(HeaderName::To, to);
        req.headers.push(HeaderName::CallId, call_id);
        req.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        req.headers.push(HeaderName::MaxForwards, "70");
        for (name, value) in extras {
            req.headers.push(name, value);
        }
        if !body.is_empty() {
            req.headers.push(HeaderName::ContentType, "application/sdp");
        }
        req.headers.push(HeaderName::ContentLength, body.len().to_string());
        req.body = Bytes::from(body);
        req
    }
}

/// Single-byte edits of a serialized message. The replacement bytes are ASCII, weighted
/// towards SIP delimiters; arbitrary bytes (non-ASCII, invalid UTF-8) are covered by
/// `parse_never_panics_on_arbitrary_bytes` and by the `sip_message` fuzz target.
#[derive(Clone, Debug)]
enum Edit {
    Overwrite(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        select(b"\r\n :;,<>\"\\\t=@/.0123456789".to_vec()),
        0u8..0x80,
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Edit::Overwrite(i, b)),
        (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        any::<prop::sample::Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        if bytes.is_empty() {
            break;
        }
        match edit {
            Edit::Overwrite(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            Edit::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            Edit::Delete(i) => {
                bytes.remove(i.index(bytes.len()));
            }
            Edit::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        }
    }
    bytes
}

fn parse_both(bytes: &[u8]) {
    for framing in [Framing::Datagram, Framing::Stream] {
        match parse_message(bytes, framing) {
            Ok(_) => {}
            Err(e) => {
                let _ = (e.status(), e.to_string());
            }
        }
    }
}

fn parse_request(bytes: &[u8], framing: Framing) -> Request {
    match parse_message(bytes, framing) {
        Ok(Message::Request(req)) => req,
        other => panic!("expected a request ({framing:?}), got {other:?}"),
    }
}

/// Cuts `stream` into chunks of the given sizes, cycling.
fn chunk<'a>(stream: &'a [u8], sizes: &'a [usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = stream;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        parse_both(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_requests(req in request(), edits in vec(edit(), 1..8)) {
        parse_both(&apply(req.to_bytes(), &edits));
    }

    #[test]
    fn generated_requests_round_trip(req in request()) {
        let wire = req.to_bytes();
        for framing in [Framing::Datagram, Framing::Stream] {
            let parsed = parse_request(&wire, framing);
            prop_assert_eq!(&parsed, &req);
            prop_assert_eq!(parsed.to_bytes(), wire.clone());
        }
    }

    #[test]
    fn framer_cuts_any_chunking_into_the_messages(
        messages in vec((request(), any::<bool>()), 1..5),
        sizes in vec(1..96usize, 1..8),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (req, ping_after) in &messages {
            let wire = req.to_bytes();
            stream.extend_from_slice(&wire);
            expected.push(Frame::Message(wire));
            if *ping_after {
                stream.extend_from_slice(b"\r\n\r\n");
                expected.push(Frame::KeepAlivePing);
            }
        }
        let mut framer = StreamFramer::new(1 << 16);
        let mut frames = Vec::new();
        for piece in chunk(&stream, &sizes) {
            framer.push(piece);
            while let Some(frame) = framer.next_message().expect("valid stream") {
                frames.push(frame);
            }
        }
        prop_assert_eq!(frames, expected);
        prop_assert_eq!(framer.buffered(), 0);
    }
}

/// Inputs the `sip_message` fuzz target and the properties above reduced. Each panicked in
/// `parse_request_line` (`message/parse.rs`) when it sliced the SIP-Version token at byte 4
/// without checking that byte 4 is a character boundary (`version[..4]`, and `v[..4]` in
/// `looks_like_version`). Invalid UTF-8 reaches the same code through
/// `String::from_utf8_lossy`: U+FFFD is 3 bytes, so `* \x80\x80` was enough.
#[test]
fn parse_does_not_panic_on_reduced_fuzz_crashes() {
    let crashes: [&[u8]; 5] = [
        b"* \x80\x80",
        b"A abc\xc3\xa9",
        b"A b abc\xc3\xa9",
        b"OPTIONS sip:a@b SIP\xc3\xa9\r\n\r\n",
        b"OPTIONS sip:a@b SIP\xff2.0\r\n\r\n",
    ];
    for bytes in crashes {
        parse_both(bytes);
    }
}
