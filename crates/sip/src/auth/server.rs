//! The UAS / registrar side: challenges out, credentials in, a proof value or a typed failure.

use std::fmt;

use rand::RngCore;

use super::algorithm::{
    Algorithm, DigestHash, DigestInputs, Ha1, QopInputs, constant_time_eq, request_digest,
};
use super::credentials::{CredentialsError, DigestCredentials, Malformed};
use super::header::push_quoted;
use super::nonce::{self, CountRejected, NonceTracker, ServerSecret};

/// A protection space name, checked once so challenges can always be formatted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Realm(String);

/// A realm that is empty or holds control characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("realm is empty or holds control characters")]
pub struct InvalidRealm;

impl Realm {
    /// Accepts any non-empty string without control characters (quotes are escaped on output).
    pub fn new(realm: impl Into<String>) -> Result<Realm, InvalidRealm> {
        let realm = realm.into();
        if realm.is_empty() || realm.chars().any(char::is_control) {
            return Err(InvalidRealm);
        }
        Ok(Realm(realm))
    }

    /// The realm string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Digest server settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestConfig {
    /// How long a nonce stays usable, in seconds. After that a correct response gets
    /// [`AuthFailure::Stale`].
    pub nonce_ttl_secs: u64,
    /// How many of the most recently minted nonces have their counts tracked (12 bytes each);
    /// an older nonce is answered stale. The default covers about 15 s of challenges at
    /// 17,000 registrations per second, and minutes at ordinary rates.
    pub max_tracked_nonces: usize,
    /// Algorithms offered and accepted, most preferred first. RFC 8760 §2.4: SHA-256 before MD5.
    pub algorithms: Vec<Algorithm>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            nonce_ttl_secs: 300,
            max_tracked_nonces: 1 << 18,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// The request being authenticated, as the registrar sees it.
#[derive(Clone, Copy, Debug)]
pub struct DigestRequest<'a> {
    /// The realm this server challenges with for the request's domain.
    pub realm: &'a Realm,
    /// The request method (`REGISTER`, `INVITE`...), case-sensitive.
    pub method: &'a str,
    /// The Request-URI exactly as received; the `uri` parameter must equal it byte for byte.
    pub request_uri: &'a str,
}

/// Proof that a request carried valid, fresh, non-replayed digest credentials. Only
/// [`DigestAuthenticator::verify`] makes one; the next step (authorizing the user for the AOR)
/// takes it by value.
pub struct Authenticated {
    username: String,
    realm: Realm,
    algorithm: Algorithm,
}

impl Authenticated {
    /// The authenticated user name.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The realm it was authenticated in.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }
    /// The algorithm the client used.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("username", &"<redacted>")
            .field("realm", &self.realm)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// The SIP response an authentication failure leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureResponse {
    /// 401 with fresh `WWW-Authenticate` challenges (407 with `Proxy-Authenticate` when acting
    /// as a proxy), `stale=true` when set.
    Challenge {
        /// Whether to add `stale=true` (the client retries without asking its user).
        stale: bool,
    },
    /// 403 Forbidden: the credentials are wrong; challenging again would only invite guessing.
    Forbidden,
    /// 400 Bad Request.
    BadRequest,
}

impl FailureResponse {
    /// The status code for a UAS or registrar (a proxy sends 407 instead of 401).
    pub fn status_code(self) -> u16 {
        match self {
            FailureResponse::Challenge { .. } => 401,
            FailureResponse::Forbidden => 403,
            FailureResponse::BadRequest => 400,
        }
    }
}

/// Why credentials were not accepted. [`AuthFailure::response`] gives the SIP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Not `Digest` credentials. 401 with a fresh challenge.
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// Unparsable credentials. 400.
    #[error("malformed credentials: {0}")]
    Malformed(Malformed),
    /// An algorithm not implemented or not enabled in [`DigestConfig::algorithms`]. 401 with a
    /// fresh challenge listing the supported ones.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No `qop`, or a `qop` other than `auth`: without `nc` there is no replay protection, so the
    /// RFC 2069 form is refused. 401 with a fresh challenge (`qop="auth"`).
    #[error("unsupported or missing qop")]
    UnsupportedQop,
    /// The `realm` parameter is not this server's realm. 401 with a fresh challenge.
    #[error("realm mismatch")]
    RealmMismatch,
    /// The `uri` parameter differs from the Request-URI. 400 (RFC 7616 §3.4.6).
    #[error("uri parameter differs from the Request-URI")]
    UriMismatch,
    /// The nonce was not minted by this server for this realm (forged, corrupted, or from before
    /// a secret rotation). 401 with a fresh challenge.
    #[error("nonce not issued by this server")]
    ForgedNonce,
    /// No HA1 for this user and algorithm. 403, exactly like [`AuthFailure::BadResponse`], so a
    /// peer cannot enumerate users.
    #[error("unknown user")]
    UnknownUser,
    /// The response digest is wrong (wrong password, or a tampered field). 403.
    #[error("wrong response digest")]
    BadResponse,
    /// The response is correct but the nonce has expired (or its count history was evicted).
    /// 401 with a fresh challenge carrying `stale=true`.
    #[error("stale nonce")]
    Stale,
    /// The nonce-count is not above one already accepted for this nonce. 401 with a fresh
    /// challenge (a replayer learns nothing from it; a confused client recovers).
    #[error("replayed nonce-count")]
    Replay,
}

impl AuthFailure {
    /// The SIP response this failure leads to.
    pub fn response(&self) -> FailureResponse {
        match self {
            AuthFailure::Malformed(_) | AuthFailure::UriMismatch => FailureResponse::BadRequest,
            AuthFailure::UnknownUser | AuthFailure::BadResponse => FailureResponse::Forbidden,
            AuthFailure::Stale => FailureResponse::Challenge { stale: true },
            AuthFailure::UnsupportedScheme(_)
            | AuthFailure::UnsupportedAlgorithm(_)
            | AuthFailure::UnsupportedQop
            | AuthFailure::RealmMismatch
            | AuthFailure::ForgedNonce
            | AuthFailure::Replay => FailureResponse::Challenge { stale: false },
        }
    }
}

impl From<CredentialsError> for AuthFailure {
    fn from(error: CredentialsError) -> Self {
        match error {
            CredentialsError::UnsupportedScheme(scheme) => AuthFailure::UnsupportedScheme(scheme),
            CredentialsError::Malformed(malformed) => AuthFailure::Malformed(malformed),
            CredentialsError::UnsupportedAlgorithm(name) => AuthFailure::UnsupportedAlgorithm(name),
            CredentialsError::UnsupportedQop(_) => AuthFailure::UnsupportedQop,
        }
    }
}

/// The digest server: mints nonces into challenges and verifies credentials against them.
///
/// Time is unix seconds passed in by the caller; randomness comes from the caller's RNG.
/// Nonce-count state grows only on successful authentications, so unauthenticated peers cannot
/// fill it.
pub struct DigestAuthenticator {
    secret: ServerSecret,
    config: DigestConfig,
    counts: NonceTracker,
}

impl DigestAuthenticator {
    /// A server keyed with `secret`.
    pub fn new(secret: ServerSecret, config: DigestConfig) -> DigestAuthenticator {
        let counts = NonceTracker::new(config.nonce_ttl_secs, config.max_tracked_nonces);
        DigestAuthenticator {
            secret,
            config,
            counts,
        }
    }

    /// The settings.
    pub fn config(&self) -> &DigestConfig {
        &self.config
    }

    /// One `WWW-Authenticate` value with a fresh nonce:
    /// `Digest realm="..", nonce="..", algorithm=SHA-256, qop="auth"[, stale=true]`.
    /// No `opaque` is sent: the nonce authenticates itself.
    pub fn challenge(
        &mut self,
        realm: &Realm,
        algorithm: Algorithm,
        stale: bool,
        now: u64,
        rng: &mut impl RngCore,
    ) -> String {
        let nonce = nonce::mint(
            &self.secret,
            realm.as_str(),
            now,
            self.counts.next_seq(),
            rng,
        );
        format_challenge(realm, &nonce, algorithm, stale)
    }

    /// One challenge per configured algorithm, in preference order (SHA-256 first by default),
    /// sharing one nonce: send each as its own `WWW-Authenticate` header (RFC 8760 §2.4).
    pub fn challenges(
        &mut self,
        realm: &Realm,
        stale: bool,
        now: u64,
        rng: &mut impl RngCore,
    ) -> Vec<String> {
        let nonce = nonce::mint(
            &self.secret,
            realm.as_str(),
            now,
            self.counts.next_seq(),
            rng,
        );
        self.config
            .algorithms
            .iter()
            .map(|&a| format_challenge(realm, &nonce, a, stale))
            .collect()
    }

    /// Verifies credentials for `request` at `now` (unix seconds). `lookup_ha1(username, hash)`
    /// fetches the user's stored HA1 in `request.realm`; it is only called once the nonce is
    /// known to be authentic.
    ///
    /// Checks run from cheapest and least revealing to most: realm, algorithm, qop, uri, nonce
    /// authenticity, user, response digest (constant-time), freshness, nonce-count. The count is
    /// recorded only for a correct, fresh response, so bogus requests cannot burn counts.
    pub fn verify(
        &mut self,
        creds: &DigestCredentials,
        request: &DigestRequest<'_>,
        lookup_ha1: impl FnOnce(&str, DigestHash) -> Option<Ha1>,
        now: u64,
    ) -> Result<Authenticated, AuthFailure> {
        if creds.realm() != request.realm.as_str() {
            return Err(AuthFailure::RealmMismatch);
        }
        let algorithm = creds.algorithm();
        if !self.config.algorithms.contains(&algorithm) {
            return Err(AuthFailure::UnsupportedAlgorithm(
                algorithm.name().to_owned(),
            ));
        }
        let qop = creds.qop().ok_or(AuthFailure::UnsupportedQop)?;
        if creds.uri() != request.request_uri {
            return Err(AuthFailure::UriMismatch);
        }
        let nonce_id = nonce::open(&self.secret, creds.realm(), creds.nonce())
            .ok_or(AuthFailure::ForgedNonce)?;
        let ha1 = lookup_ha1(creds.username(), algorithm.hash()).ok_or(AuthFailure::UnknownUser)?;
        let expected = request_digest(&DigestInputs {
            algorithm,
            ha1: &ha1,
            nonce: creds.nonce(),
            method: request.method,
            uri: creds.uri(),
            qop: Some(QopInputs {
                cnonce: qop.cnonce(),
                nc: qop.nc_text(),
            }),
        })
        // The lookup returned an HA1 of another hash: no credentials for this algorithm.
        .ok_or(AuthFailure::UnknownUser)?;
        let received = hex::encode(creds.response_bytes());
        if !constant_time_eq(expected.as_bytes(), received.as_bytes()) {
            return Err(AuthFailure::BadResponse);
        }
        if !self.counts.is_fresh(nonce_id.issued_at, now) {
            return Err(AuthFailure::Stale);
        }
        self.counts
            .accept(nonce_id, qop.nc())
            .map_err(|rejected| match rejected {
                CountRejected::Replay => AuthFailure::Replay,
                CountRejected::Forgotten => AuthFailure::Stale,
            })?;
        Ok(Authenticated {
            username: creds.username().to_owned(),
            realm: request.realm.clone(),
            algorithm,
        })
    }
}

impl fmt::Debug for DigestAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuthenticator")
            .field("secret", &self.secret)
            .field("config", &self.config)
            .field("tracked_nonces", &self.counts.len())
            .finish()
    }
}

fn format_challenge(realm: &Realm, nonce: &str, algorithm: Algorithm, stale: bool) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("Digest realm=");
    push_quoted(&mut out, realm.as_str()).expect("invariant: Realm holds no control characters");
    out.push_str(", nonce=\"");
    out.push_str(nonce); // base64url: nothing to escape
    out.push_str("\", algorithm=");
    out.push_str(algorithm.name());
    out.push_str(", qop=\"auth\"");
    if stale {
        out.push_str(", stale=true");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_rejects_empty_and_controls() {
        assert_eq!(Realm::new(""), Err(InvalidRealm));
        assert_eq!(Realm::new("a\r\nb"), Err(InvalidRealm));
        assert!(Realm::new("example.com").is_ok());
    }

    #[test]
    fn challenge_format() {
        let realm = Realm::new("ex\"ample").expect("valid");
        assert_eq!(
            format_challenge(&realm, "NONCE", Algorithm::Sha256, true),
            "Digest realm=\"ex\\\"ample\", nonce=\"NONCE\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
    }

    #[test]
    fn failure_responses() {
        assert_eq!(AuthFailure::Stale.response().status_code(), 401);
        assert_eq!(
            AuthFailure::Stale.response(),
            FailureResponse::Challenge { stale: true }
        );
        assert_eq!(AuthFailure::BadResponse.response().status_code(), 403);
        assert_eq!(
            AuthFailure::UnknownUser.response(),
            AuthFailure::BadResponse.response()
        );
        assert_eq!(AuthFailure::UriMismatch.response().status_code(), 400);
        assert_eq!(
            AuthFailure::ForgedNonce.response(),
            FailureResponse::Challenge { stale: false }
        );
    }
}
