//! Serialization. Herald writes canonical long header names, CRLF line ends, and always a
//! Content-Length computed from the body (any stored Content-Length is ignored).

use super::{HeaderName, Headers, Request, Response};

fn write_headers(out: &mut Vec<u8>, headers: &Headers, body_len: usize) {
    for (name, value) in headers.iter() {
        if *name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(body_len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

impl Request {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_headers(out, &self.headers, self.body.len());
        out.extend_from_slice(&self.body);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

impl Response {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        // A reason phrase never carries CR or LF, whatever a caller put in it.
        out.extend(self.reason.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
        out.extend_from_slice(b"\r\n");
        write_headers(out, &self.headers, self.body.len());
        out.extend_from_slice(&self.body);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Framing, Message, Method, parse_message};
    use super::*;

    #[test]
    fn request_round_trips_through_the_parser() {
        let mut r = Request::new(Method::Invite, "sip:bob@example.com");
        r.headers.push(
            HeaderName::Via,
            "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
        );
        r.headers.push(HeaderName::ContentLength, "999");
        r.body = bytes::Bytes::from_static(b"v=0\r\n");
        let wire = r.to_bytes();
        let Ok(Message::Request(back)) = parse_message(&wire, Framing::Stream) else {
            panic!()
        };
        assert_eq!(back.body, r.body);
        assert_eq!(back.headers.get(&HeaderName::ContentLength), Some("5"));
    }
}
