//! Matching messages to transactions: RFC 3261 §17.1.3 (responses to client transactions) and
//! §17.2.3 (requests to server transactions, with the RFC 2543 fallback).
//!
//! Keys are built from plain strings the caller parsed out of the message, so this module does
//! not depend on the message model. Their `Debug` output shows only the branch and method:
//! hosts, URIs, Call-IDs and tags identify people and stay out of logs.

use std::fmt;

/// The prefix of an RFC 3261 branch parameter (§8.1.1.7). A request whose top Via branch
/// lacks it came from an RFC 2543 element and is matched with [`LegacyServerKey`].
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// The method part of a key. Server keys map ACK to INVITE (an ACK for a non-2xx response
/// matches the INVITE transaction, §17.2.3); CANCEL is its own transaction.
#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyMethod {
    Invite,
    Cancel,
    Other(Box<str>),
}

impl KeyMethod {
    fn for_server(method: &str) -> Self {
        match method {
            "INVITE" | "ACK" => KeyMethod::Invite,
            other => Self::for_client(other),
        }
    }

    fn for_client(method: &str) -> Self {
        match method {
            "INVITE" => KeyMethod::Invite,
            "CANCEL" => KeyMethod::Cancel,
            other => KeyMethod::Other(other.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            KeyMethod::Invite => "INVITE",
            KeyMethod::Cancel => "CANCEL",
            KeyMethod::Other(method) => method,
        }
    }
}

/// Identifies a transaction, to route messages to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// A server transaction for a request with an RFC 3261 branch.
    Server(ServerKey),
    /// A server transaction for a request from an RFC 2543 element (no magic cookie).
    LegacyServer(LegacyServerKey),
    /// A client transaction.
    Client(ClientKey),
}

/// RFC 3261 §17.2.3: branch, sent-by and method (ACK counted as INVITE).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    branch: Box<str>,
    /// Lower-cased: host names compare case-insensitively.
    sent_by_host: Box<str>,
    sent_by_port: u16,
    method: KeyMethod,
}

/// The RFC 2543 fallback of §17.2.3: Request-URI, tags, Call-ID, CSeq number, top Via and
/// method (ACK counted as INVITE).
///
/// For INVITE and ACK the To tag is left out: an ACK carries the tag of our response, which
/// the INVITE did not have; a CANCEL or other request keeps it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LegacyServerKey {
    request_uri: Box<str>,
    call_id: Box<str>,
    from_tag: Option<Box<str>>,
    to_tag: Option<Box<str>>,
    cseq: u32,
    top_via: Box<str>,
    method: KeyMethod,
}

/// RFC 3261 §17.1.3: the branch of the top Via and the CSeq method (a CANCEL shares the
/// INVITE's branch but is a separate client transaction).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: Box<str>,
    method: KeyMethod,
}

/// The fields of a received request that server transaction matching looks at, borrowed from
/// the caller's parsed message. Its `Debug` output shows only the method and branch.
#[derive(Clone, Copy)]
pub struct RequestIdentity<'a> {
    /// The request method (`INVITE`, `ACK`, `CANCEL`, ...), case-sensitive.
    pub method: &'a str,
    /// The `branch` parameter of the top Via, if any.
    pub branch: Option<&'a str>,
    /// The host of the top Via sent-by.
    pub sent_by_host: &'a str,
    /// The port of the top Via sent-by, or the transport's default (5060, 5061 for TLS) when
    /// the Via has none.
    pub sent_by_port: u16,
    /// RFC 2543 fallback: the Request-URI as received.
    pub request_uri: &'a str,
    /// RFC 2543 fallback: the Call-ID.
    pub call_id: &'a str,
    /// RFC 2543 fallback: the From tag.
    pub from_tag: Option<&'a str>,
    /// RFC 2543 fallback: the To tag.
    pub to_tag: Option<&'a str>,
    /// RFC 2543 fallback: the CSeq number.
    pub cseq: u32,
    /// RFC 2543 fallback: the top Via header field value as received.
    pub top_via: &'a str,
}

impl TransactionKey {
    /// The key of the client transaction a response belongs to: the branch of its top Via and
    /// the method of its CSeq.
    pub fn client(branch: &str, method: &str) -> Self {
        TransactionKey::Client(ClientKey {
            branch: branch.into(),
            method: KeyMethod::for_client(method),
        })
    }

    /// The key of the server transaction a request belongs to (§17.2.3): the RFC 3261 key when
    /// the top Via branch starts with [`MAGIC_COOKIE`], the RFC 2543 key otherwise.
    pub fn server(request: &RequestIdentity<'_>) -> Self {
        match request.branch {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => TransactionKey::Server(ServerKey {
                branch: branch.into(),
                sent_by_host: request.sent_by_host.to_ascii_lowercase().into(),
                sent_by_port: request.sent_by_port,
                method: KeyMethod::for_server(request.method),
            }),
            _ => TransactionKey::LegacyServer(LegacyServerKey::new(request)),
        }
    }

    /// For a CANCEL server key, the key of the INVITE server transaction it cancels (same
    /// branch and sent-by, or same RFC 2543 fields; RFC 3261 §9.2). `None` for other keys.
    pub fn cancelled_invite(&self) -> Option<TransactionKey> {
        match self {
            TransactionKey::Server(key) if key.method == KeyMethod::Cancel => {
                Some(TransactionKey::Server(ServerKey {
                    method: KeyMethod::Invite,
                    ..key.clone()
                }))
            }
            TransactionKey::LegacyServer(key) if key.method == KeyMethod::Cancel => {
                let invite = LegacyServerKey {
                    method: KeyMethod::Invite,
                    to_tag: None,
                    ..key.clone()
                };
                Some(TransactionKey::LegacyServer(invite))
            }
            _ => None,
        }
    }

    /// The method the transaction is keyed by (`INVITE` for an ACK's server key).
    pub fn method(&self) -> &str {
        match self {
            TransactionKey::Server(key) => key.method.as_str(),
            TransactionKey::LegacyServer(key) => key.method.as_str(),
            TransactionKey::Client(key) => key.method.as_str(),
        }
    }

    /// The branch parameter, for RFC 3261 keys.
    pub fn branch(&self) -> Option<&str> {
        match self {
            TransactionKey::Server(key) => Some(&key.branch),
            TransactionKey::Client(key) => Some(&key.branch),
            TransactionKey::LegacyServer(_) => None,
        }
    }

    /// Whether this key identifies a server transaction.
    pub fn is_server(&self) -> bool {
        !matches!(self, TransactionKey::Client(_))
    }
}

impl LegacyServerKey {
    fn new(request: &RequestIdentity<'_>) -> Self {
        let method = KeyMethod::for_server(request.method);
        let to_tag = match method {
            KeyMethod::Invite => None,
            _ => request.to_tag.map(Into::into),
        };
        Self {
            request_uri: request.request_uri.into(),
            call_id: request.call_id.into(),
            from_tag: request.from_tag.map(Into::into),
            to_tag,
            cseq: request.cseq,
            top_via: request.top_via.into(),
            method,
        }
    }
}

impl fmt::Debug for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionKey::Server(key) => key.fmt(f),
            TransactionKey::LegacyServer(key) => key.fmt(f),
            TransactionKey::Client(key) => key.fmt(f),
        }
    }
}

impl fmt::Debug for RequestIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestIdentity")
            .field("method", &self.method)
            .field("branch", &self.branch)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("branch", &self.branch)
            .field("sent_by", &"<redacted>")
            .field("method", &self.method.as_str())
            .finish()
    }
}

impl fmt::Debug for LegacyServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyServerKey")
            .field("cseq", &self.cseq)
            .field("method", &self.method.as_str())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("branch", &self.branch)
            .field("method", &self.method.as_str())
            .finish()
    }
}
