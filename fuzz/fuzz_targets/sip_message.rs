//! The SIP message parser, under both framings, with UAS validation of every request it accepts
//! and a serialize/re-parse round trip.
//!
//! Asserts:
//! * `parse_message` and `check_request` never panic (on requests and on the partial request a
//!   parse error carries, which the endpoint also validates and answers);
//! * a parsed request (response) written with `to_bytes` parses again, under the same framing,
//!   into the same method and Request-URI (status), the same headers in the same order and the
//!   same body. The writer drops any received Content-Length and writes one computed from the
//!   body, so Content-Length is compared against the body instead of header by header.

#![no_main]

use herald_sip::message::{
    Framing, HeaderName, Headers, Message, Request, Response, parse_message,
};
use herald_sip::uas::{UasPolicy, check_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = UasPolicy::default();
    for framing in [Framing::Datagram, Framing::Stream] {
        match parse_message(data, framing) {
            Ok(Message::Request(req)) => {
                let _ = check_request(&req, &policy);
                request_round_trip(&req, framing);
            }
            Ok(Message::Response(resp)) => response_round_trip(&resp, framing),
            Err(error) => {
                let _ = error.status();
                if let Some(partial) = error.partial {
                    let _ = check_request(&partial, &policy);
                }
            }
        }
    }
});

fn request_round_trip(req: &Request, framing: Framing) {
    let wire = req.to_bytes();
    let back = match parse_message(&wire, framing) {
        Ok(Message::Request(back)) => back,
        other => panic!(
            "a serialized request does not parse back ({framing:?}): {other:?}\nwire: {:?}",
            String::from_utf8_lossy(&wire)
        ),
    };
    assert_eq!(back.method, req.method, "method");
    assert_eq!(back.uri, req.uri, "Request-URI");
    assert_same_headers(&back.headers, &req.headers);
    assert_eq!(back.body, req.body, "body");
}

fn response_round_trip(resp: &Response, framing: Framing) {
    let wire = resp.to_bytes();
    let back = match parse_message(&wire, framing) {
        Ok(Message::Response(back)) => back,
        other => panic!(
            "a serialized response does not parse back ({framing:?}): {other:?}\nwire: {:?}",
            String::from_utf8_lossy(&wire)
        ),
    };
    assert_eq!(back.status, resp.status, "status");
    // The writer strips CR and LF from reason phrases, whatever a caller put there.
    let reason: String = resp
        .reason
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    assert_eq!(back.reason, reason, "reason phrase");
    assert_same_headers(&back.headers, &resp.headers);
    assert_eq!(back.body, resp.body, "body");
}

/// Equal header lists, Content-Length aside; the re-parsed Content-Length is the body length.
fn assert_same_headers(back: &Headers, original: &Headers) {
    let without_length = |h: &Headers| -> Vec<(String, String)> {
        h.iter()
            .filter(|(name, _)| **name != HeaderName::ContentLength)
            .map(|(name, value)| (name.as_str().to_ascii_lowercase(), value.to_owned()))
            .collect()
    };
    assert_eq!(without_length(back), without_length(original), "headers");
    assert_eq!(
        back.count(&HeaderName::ContentLength),
        1,
        "one Content-Length written"
    );
}
