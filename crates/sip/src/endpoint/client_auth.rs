//! Answering digest challenges as a client (RFC 3261 §22.2, §22.3): outbound INVITEs to
//! trunks and registrations with upstream registrars. The digest itself is
//! [`crate::auth::DigestChallenge`]'s; this module decides which challenges to answer.

use std::fmt;

use rand::RngCore;

use crate::auth::{ClientSecret, DigestChallenge, NonceCount, generate_cnonce};
use crate::message::{HeaderName, Response};

/// What Herald answers a trunk's or an upstream registrar's challenge with.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// At most this many challenges are answered for one request (its retries included): one per
/// realm, and a few `stale=true` renewals.
const MAX_ANSWERS: u8 = 4;

/// The challenges answered so far for a request and its retries, one per (header, realm).
#[derive(Debug, Default)]
pub(super) struct ClientAuth {
    answers: Vec<Answer>,
    /// Challenges taken since the request was first sent.
    taken: u8,
}

#[derive(Debug)]
struct Answer {
    /// Authorization (for a 401) or Proxy-Authorization (for a 407).
    header: HeaderName,
    challenge: DigestChallenge,
    /// Requests sent with this nonce.
    nc: u32,
    /// Whether the challenge came for the current request (else it is reused from an
    /// earlier one, as a registration refresh does, and a new challenge simply replaces it).
    current: bool,
}

impl ClientAuth {
    /// Takes the challenge of a 401 or 407 for the next retry. `false`: give up, because
    /// the response holds no usable Digest challenge, or this realm was answered already
    /// for this request and the server does not say the nonce was merely stale (the
    /// credentials are wrong), or too many challenges came.
    pub fn take_challenge(&mut self, resp: &Response) -> bool {
        let (asked, answer) = match resp.status {
            401 => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
            407 => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            ),
            _ => return false,
        };
        let Some(challenge) = DigestChallenge::best(resp.headers.get_all(&asked)) else {
            return false;
        };
        if self.taken >= MAX_ANSWERS {
            return false;
        }
        let same_realm = self
            .answers
            .iter_mut()
            .find(|a| a.header == answer && a.challenge.realm() == challenge.realm());
        match same_realm {
            Some(a)
                if !a.current
                    || (challenge.stale() && challenge.nonce() != a.challenge.nonce()) =>
            {
                *a = Answer {
                    header: answer,
                    challenge,
                    nc: 0,
                    current: true,
                };
            }
            Some(_) => return false,
            None => self.answers.push(Answer {
                header: answer,
                challenge,
                nc: 0,
                current: true,
            }),
        }
        self.taken += 1;
        true
    }

    /// A new request starts (a registration refresh): earlier answers are sent again, and a
    /// challenge to them is answered afresh.
    pub fn new_request(&mut self) {
        self.taken = 0;
        for a in &mut self.answers {
            a.current = false;
        }
    }

    /// The Authorization / Proxy-Authorization headers for `method uri`, one per answered
    /// challenge, each with the next nonce count. An answer that cannot be computed (a
    /// username with control characters) is left out; the server then challenges again.
    pub fn headers(
        &mut self,
        method: &str,
        uri: &str,
        credentials: &ClientCredentials,
        rng: &mut impl RngCore,
    ) -> Vec<(HeaderName, String)> {
        let mut out = Vec::with_capacity(self.answers.len());
        for a in &mut self.answers {
            a.nc = a.nc.saturating_add(1);
            let Some(nc) = NonceCount::new(a.nc) else {
                continue;
            };
            let cnonce = generate_cnonce(rng);
            let secret = ClientSecret::Password(&credentials.password);
            if let Ok(value) =
                a.challenge
                    .authorization(method, uri, &credentials.username, secret, &cnonce, nc)
            {
                out.push((a.header.clone(), value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Framing, Message, parse_message};

    fn challenge(status: u16, header: &str, nonce: &str, stale: bool) -> Response {
        let stale = if stale { ", stale=true" } else { "" };
        let text = format!(
            "SIP/2.0 {status} X\r\n{header}: Digest realm=\"trunk\", nonce=\"{nonce}\", qop=\"auth\"{stale}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match parse_message(text.as_bytes(), Framing::Datagram) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_answer_per_realm_unless_stale() {
        let mut auth = ClientAuth::default();
        assert!(auth.take_challenge(&challenge(407, "Proxy-Authenticate", "n1", false)));
        assert!(
            !auth.take_challenge(&challenge(407, "Proxy-Authenticate", "n2", false)),
            "a second challenge for an answered realm: wrong credentials"
        );
        assert!(auth.take_challenge(&challenge(407, "Proxy-Authenticate", "n3", true)));
        assert!(
            !auth.take_challenge(&challenge(407, "Proxy-Authenticate", "n3", true)),
            "stale, but the nonce we just answered"
        );
        assert!(
            auth.take_challenge(&challenge(401, "WWW-Authenticate", "w1", false)),
            "another header is another protection space"
        );
        let creds = ClientCredentials {
            username: "u".into(),
            password: "p".into(),
        };
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let headers = auth.headers("INVITE", "sip:x", &creds, &mut rng);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].0, HeaderName::ProxyAuthorization);
        assert!(headers[0].1.contains("nc=00000001"));
        auth.new_request();
        assert!(
            auth.take_challenge(&challenge(407, "Proxy-Authenticate", "n4", false)),
            "a refresh answers a new challenge"
        );
        assert!(!auth.take_challenge(&challenge(400, "Proxy-Authenticate", "n5", false)));
        let creds = ClientCredentials {
            username: "u".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{creds:?}").contains("s3cret"));
    }
}
