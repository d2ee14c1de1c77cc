//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
//!
//! # What it does
//!
//! * **Server side** (registrar, UAS): [`DigestAuthenticator`] builds `WWW-Authenticate`
//!   challenges ([`DigestAuthenticator::challenges`]: one per algorithm, SHA-256 first, as
//!   RFC 8760 §2.4 asks) and verifies the `Authorization` that comes back
//!   ([`DigestAuthenticator::verify`]), returning either the proof value [`Authenticated`] or an
//!   [`AuthFailure`] that says which SIP response to send ([`AuthFailure::response`]).
//! * **Client side** (UAC legs towards trunks): [`DigestChallenge`] parses a challenge,
//!   [`DigestChallenge::best`] picks among several, [`respond`] / [`DigestChallenge::authorization`]
//!   answer it with a password or a stored [`Ha1`].
//! * Algorithms `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`; qop `auth`.
//!
//! # What it does not do
//!
//! * `qop=auth-int` (a hash of the body) and `SHA-512-256`: refused with a typed error, and a
//!   client facing `qop="auth,auth-int"` falls back to `auth`.
//! * The RFC 2069 form without `qop` is answered by the client but refused by the server: with no
//!   `nc` there is no replay protection.
//! * `userhash` and `username*` (RFC 7616 §3.4.4): not offered, so not expected.
//! * Authorization (may this user register that AOR?) is the caller's next step, and it takes
//!   the [`Authenticated`] proof.
//! * No I/O, no clock, no global RNG.
//!
//! # Nonces
//!
//! A nonce is `base64url(version || issued_at || random || HMAC-SHA256(secret, … || realm))`, so
//! the server recognises its own nonces without remembering them, and nonces from another
//! secret or realm are [`AuthFailure::ForgedNonce`]. A nonce older than
//! [`DigestConfig::nonce_ttl_secs`] gives [`AuthFailure::Stale`] for an otherwise correct
//! response (re-challenge with `stale=true`; the client retries silently). The only state is the
//! highest `nc` accepted per nonce in use, in a bounded map; a repeated or lower `nc` is
//! [`AuthFailure::Replay`]. Nodes of a cluster may share the [`ServerSecret`] so any node
//! accepts any node's nonce, but nonce counts are per node: pin a client to a node, or accept
//! that a replay across nodes is possible within the nonce lifetime.
//!
//! # Time and randomness
//!
//! Time is **unix seconds** (`now: u64`), not `Instant`: a nonce must carry its issue time in
//! its bytes and stay meaningful to other nodes and across a restart, which an `Instant` cannot.
//! The shell reads the wall clock once per input and passes it in. Randomness comes from an
//! injected `&mut impl rand::RngCore`; the key is supplied by the caller.
//!
//! # Verifying, the whole loop
//!
//! ```
//! use herald_sip::auth::*;
//! # use rand::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let realm = Realm::new("example.com").expect("a valid realm");
//! let mut server = DigestAuthenticator::new(ServerSecret::new([42; 32]), DigestConfig::default());
//! let now = 1_700_000_000;
//!
//! // 401 with these challenges, one WWW-Authenticate header each.
//! let challenges = server.challenges(&realm, false, now, &mut rng);
//!
//! // The UA answers the best one.
//! let challenge = DigestChallenge::best(challenges.iter().map(String::as_str))
//!     .expect("our own challenges parse");
//! let cnonce = generate_cnonce(&mut rng);
//! let nc = NonceCount::new(1).expect("1 is a valid nonce count");
//! let authorization = challenge
//!     .authorization("REGISTER", "sip:example.com", "alice", ClientSecret::Password("s3cret"), &cnonce, nc)
//!     .expect("the challenge accepts our answer");
//!
//! // The registrar verifies it.
//! let creds = DigestCredentials::parse(&authorization).expect("our own header parses");
//! let request = DigestRequest { realm: &realm, method: "REGISTER", request_uri: "sip:example.com" };
//! let lookup = |user: &str, hash: DigestHash| {
//!     (user == "alice").then(|| Ha1::from_password(hash, "alice", "example.com", "s3cret"))
//! };
//! let proof = server.verify(&creds, &request, lookup, now + 1).expect("the right password");
//! assert_eq!(proof.username(), "alice");
//!
//! // The same Authorization again is a replay.
//! let again = server.verify(&creds, &request, lookup, now + 2);
//! assert_eq!(again.unwrap_err(), AuthFailure::Replay);
//! ```

mod algorithm;
mod client;
mod credentials;
mod header;
mod nonce;
mod server;

pub use algorithm::{Algorithm, DigestHash, Ha1, InvalidHa1, UnknownAlgorithm};
pub use client::{ChallengeError, ClientSecret, DigestChallenge, generate_cnonce, respond};
pub use credentials::{CredentialsError, DigestCredentials, Malformed, NonceCount, Qop, QopParams};
pub use nonce::ServerSecret;
pub use server::{
    AuthFailure, Authenticated, DigestAuthenticator, DigestConfig, DigestRequest, FailureResponse,
    InvalidRealm, Realm,
};
