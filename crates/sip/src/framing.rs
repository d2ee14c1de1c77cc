//! Stream framing for SIP over TCP and TLS (RFC 3261 §18.3): cuts a byte stream into
//! messages using the Content-Length of each, resumably and with size limits.
//!
//! The framer is check-then-parse: [`StreamFramer::push`] appends received bytes, and
//! [`StreamFramer::next_message`] returns the bytes of one complete message when they are all
//! there, without parsing headers other than Content-Length. CRLF keep-alives between
//! messages (RFC 5626 §4.4.1 "double CRLF" pings) are reported so the transport can answer
//! them with a single CRLF.

use crate::message::{HeaderName, Headers};

/// What the framer found in the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (header section and exactly Content-Length body bytes).
    Message(Vec<u8>),
    /// A CRLFCRLF keep-alive ping: answer with CRLF (a pong).
    KeepAlivePing,
}

/// A framing failure. After any error the connection must be closed: the stream position
/// is lost (RFC 3261 §18.3: a bad Content-Length on a stream is fatal for the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("header section larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("message larger than {0} bytes")]
    MessageTooLarge(usize),
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    #[error("invalid Content-Length")]
    InvalidContentLength,
}

/// Cuts SIP messages out of a TCP/TLS byte stream.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max_message: usize,
    /// Where to resume searching for the end of the header section.
    scanned: usize,
    /// Length of the current message (headers and body), once its headers are complete.
    total: Option<usize>,
}

impl StreamFramer {
    /// `max_message` bounds the header section and the whole message.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_message,
            scanned: 0,
            total: None,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.total.is_none()
            && let Some(frame) = self.skip_keepalives()
        {
            return Ok(frame);
        }
        let total = match self.total {
            Some(total) => total,
            None => {
                let from = self.scanned.saturating_sub(3);
                let Some(end) =
                    memchr::memmem::find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i + 4)
                else {
                    if self.buf.len() > self.max_message {
                        return Err(FramingError::HeadersTooLarge(self.max_message));
                    }
                    self.scanned = self.buf.len();
                    return Ok(None);
                };
                let total = end + content_length(&self.buf[..end])?;
                if total > self.max_message {
                    return Err(FramingError::MessageTooLarge(self.max_message));
                }
                total
            }
        };
        if self.buf.len() < total {
            self.total = Some(total);
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        self.total = None;
        Ok(Some(Frame::Message(message)))
    }

    /// Handles CR/LF bytes between messages. `Some(Some(ping))` for a CRLFCRLF keep-alive,
    /// `Some(None)` when only CR/LF bytes are buffered (more are needed to tell), `None` to
    /// go on with a message. The result does not depend on how the bytes were split.
    fn skip_keepalives(&mut self) -> Option<Option<Frame>> {
        let run = self
            .buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if run == 0 {
            return None;
        }
        if let Some(i) = memchr::memmem::find(&self.buf[..run], b"\r\n\r\n") {
            self.buf.drain(..i + 4);
            self.scanned = 0;
            return Some(Some(Frame::KeepAlivePing));
        }
        if run == self.buf.len() {
            // Keep the last three bytes: they may begin a ping that the next read completes.
            self.buf.drain(..run.saturating_sub(3));
            return Some(None);
        }
        self.buf.drain(..run);
        self.scanned = 0;
        None
    }
}

/// Finds Content-Length (or `l`) in a header section without a full parse.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let text = String::from_utf8_lossy(head);
    let mut headers = Headers::new();
    let mut lines = text.split("\r\n").skip(1).peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if HeaderName::parse(name.trim_end()) != HeaderName::ContentLength {
            continue;
        }
        let mut value = value.trim().to_owned();
        while let Some(cont) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push_str(cont.trim());
        }
        headers.push(HeaderName::ContentLength, value);
    }
    match crate::message::parse::content_length(&headers) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(FramingError::MissingContentLength),
        Err(_) => Err(FramingError::InvalidContentLength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\nCall-ID: x\r\n\r\nabc";

    #[test]
    fn byte_by_byte_and_pipelined() {
        let mut f = StreamFramer::new(4096);
        let mut stream = MSG.to_vec();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        let mut frames = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(frame) = f.next_message().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(
            frames,
            vec![
                Frame::Message(MSG.to_vec()),
                Frame::KeepAlivePing,
                Frame::Message(MSG.to_vec())
            ]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn keepalive_detection_does_not_depend_on_the_split() {
        let stream = b"\r\r\r\r\r\n\r\n";
        for cut in 0..=stream.len() {
            let mut f = StreamFramer::new(4096);
            let mut frames = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                f.push(part);
                while let Some(frame) = f.next_message().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames, vec![Frame::KeepAlivePing], "cut at {cut}");
        }
    }

    #[test]
    fn errors_close_the_connection() {
        let cases: [(&[u8], FramingError); 4] = [
            (
                b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n",
                FramingError::MissingContentLength,
            ),
            (
                b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n",
                FramingError::InvalidContentLength,
            ),
            (
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n",
                FramingError::InvalidContentLength,
            ),
            (
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 90000\r\n\r\n",
                FramingError::MessageTooLarge(4096),
            ),
        ];
        for (input, want) in cases {
            let mut f = StreamFramer::new(4096);
            f.push(input);
            assert_eq!(f.next_message(), Err(want));
        }
        let mut f = StreamFramer::new(64);
        f.push(&[b'A'; 100]);
        assert_eq!(f.next_message(), Err(FramingError::HeadersTooLarge(64)));
    }
}
