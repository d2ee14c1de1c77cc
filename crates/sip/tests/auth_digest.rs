//! Digest authentication end to end: challenge -> respond -> verify, and every way it must fail.

use herald_sip::auth::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const NOW: u64 = 1_700_000_000;
const URI: &str = "sip:example.com";

struct Fixture {
    server: DigestAuthenticator,
    realm: Realm,
    rng: ChaCha8Rng,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_config(DigestConfig::default())
    }

    fn with_config(config: DigestConfig) -> Fixture {
        Fixture {
            server: DigestAuthenticator::new(ServerSecret::new([7; 32]), config),
            realm: Realm::new("example.com").expect("valid realm"),
            rng: ChaCha8Rng::seed_from_u64(99),
        }
    }

    fn challenge(&mut self, algorithm: Algorithm) -> String {
        self.server
            .challenge(&self.realm, algorithm, false, NOW, &mut self.rng)
    }

    fn verify_at(
        &mut self,
        authorization: &str,
        method: &str,
        now: u64,
    ) -> Result<String, AuthFailure> {
        let creds = DigestCredentials::parse(authorization)?;
        let request = DigestRequest {
            realm: &self.realm,
            method,
            request_uri: URI,
        };
        self.server
            .verify(&creds, &request, lookup, now)
            .map(|proof| proof.username().to_owned())
    }

    fn verify(&mut self, authorization: &str) -> Result<String, AuthFailure> {
        self.verify_at(authorization, "REGISTER", NOW + 1)
    }
}

fn lookup(user: &str, hash: DigestHash) -> Option<Ha1> {
    (user == "alice").then(|| Ha1::from_password(hash, "alice", "example.com", "wonderland"))
}

fn nc(n: u32) -> NonceCount {
    NonceCount::new(n).expect("nonzero")
}

fn answer(challenge: &str, password: &str, cnonce: &str, count: u32) -> String {
    respond(
        challenge,
        "REGISTER",
        URI,
        "alice",
        ClientSecret::Password(password),
        cnonce,
        nc(count),
    )
    .expect("answerable")
}

const ALL: [Algorithm; 4] = [
    Algorithm::Md5,
    Algorithm::Md5Sess,
    Algorithm::Sha256,
    Algorithm::Sha256Sess,
];

fn all_algorithms() -> DigestConfig {
    DigestConfig {
        algorithms: ALL.to_vec(),
        ..DigestConfig::default()
    }
}

#[test]
fn round_trip_every_algorithm() {
    let mut fx = Fixture::with_config(all_algorithms());
    for algorithm in ALL {
        let challenge = fx.challenge(algorithm);
        assert!(
            challenge.contains(&format!("algorithm={algorithm}")),
            "{challenge}"
        );
        let authorization = answer(&challenge, "wonderland", "c0ffee", 1);
        assert_eq!(
            fx.verify(&authorization),
            Ok("alice".to_owned()),
            "{algorithm}"
        );
    }
}

#[test]
fn client_with_stored_ha1_interoperates() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    let ha1 = Ha1::from_password(Algorithm::Sha256, "alice", "example.com", "wonderland");
    let stored = Ha1::from_hex(DigestHash::Sha256, ha1.expose_hex()).expect("valid hex");
    let authorization = respond(
        &challenge,
        "REGISTER",
        URI,
        "alice",
        ClientSecret::Ha1(&stored),
        "x",
        nc(1),
    )
    .expect("answerable");
    assert_eq!(fx.verify(&authorization), Ok("alice".to_owned()));
}

#[test]
fn challenges_offer_sha256_first_with_one_nonce() {
    let mut fx = Fixture::new();
    let challenges = fx.server.challenges(&fx.realm, true, NOW, &mut fx.rng);
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256") && challenges[1].contains("algorithm=MD5"));
    assert!(
        challenges
            .iter()
            .all(|c| c.ends_with(", stale=true") && c.contains("qop=\"auth\""))
    );
    let nonce = |c: &str| {
        c.split("nonce=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
            .map(str::to_owned)
    };
    assert_eq!(nonce(&challenges[0]), nonce(&challenges[1]));
    let parsed = DigestChallenge::parse(&challenges[0]).expect("parses");
    assert!(parsed.stale());
    assert_eq!(parsed.realm(), "example.com");
}

#[test]
fn wrong_password_is_bad_response_and_unknown_user_looks_the_same() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    let wrong = answer(&challenge, "guess", "c", 1);
    assert_eq!(fx.verify(&wrong), Err(AuthFailure::BadResponse));
    let bob = respond(
        &challenge,
        "REGISTER",
        URI,
        "bob",
        ClientSecret::Password("x"),
        "c",
        nc(1),
    )
    .expect("answerable");
    assert_eq!(fx.verify(&bob), Err(AuthFailure::UnknownUser));
    assert_eq!(
        AuthFailure::UnknownUser.response(),
        AuthFailure::BadResponse.response()
    );
    assert_eq!(
        AuthFailure::BadResponse.response(),
        FailureResponse::Forbidden
    );
}

#[test]
fn bad_attempts_do_not_burn_nonce_counts() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    assert_eq!(
        fx.verify(&answer(&challenge, "guess", "c", 5)),
        Err(AuthFailure::BadResponse)
    );
    assert_eq!(
        fx.verify(&answer(&challenge, "wonderland", "c", 1)),
        Ok("alice".to_owned())
    );
}

#[test]
fn nonce_counts_must_increase() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Md5);
    let first = answer(&challenge, "wonderland", "c1", 1);
    assert_eq!(fx.verify(&first), Ok("alice".to_owned()));
    assert_eq!(fx.verify(&first), Err(AuthFailure::Replay));
    assert_eq!(
        fx.verify(&answer(&challenge, "wonderland", "c2", 1)),
        Err(AuthFailure::Replay)
    );
    assert_eq!(
        fx.verify(&answer(&challenge, "wonderland", "c3", 3)),
        Ok("alice".to_owned())
    );
    assert_eq!(
        fx.verify(&answer(&challenge, "wonderland", "c4", 2)),
        Err(AuthFailure::Replay)
    );
    assert_eq!(
        fx.verify(&answer(&challenge, "wonderland", "c5", 4)),
        Ok("alice".to_owned())
    );
    assert_eq!(
        AuthFailure::Replay.response(),
        FailureResponse::Challenge { stale: false }
    );
}

#[test]
fn expired_nonce_is_stale_only_for_a_correct_response() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    let ttl = fx.server.config().nonce_ttl_secs;
    let good = answer(&challenge, "wonderland", "c", 1);
    let bad = answer(&challenge, "guess", "c", 1);
    assert_eq!(
        fx.verify_at(&good, "REGISTER", NOW + ttl),
        Err(AuthFailure::Stale)
    );
    assert_eq!(
        fx.verify_at(&bad, "REGISTER", NOW + ttl),
        Err(AuthFailure::BadResponse)
    );
    assert_eq!(
        fx.verify_at(&good, "REGISTER", NOW + ttl - 1),
        Ok("alice".to_owned())
    );
    assert_eq!(
        AuthFailure::Stale.response(),
        FailureResponse::Challenge { stale: true }
    );
}

#[test]
fn nonce_from_another_secret_or_realm_is_forged() {
    let mut fx = Fixture::new();
    let mut other = DigestAuthenticator::new(ServerSecret::new([8; 32]), DigestConfig::default());
    let foreign = other.challenge(&fx.realm, Algorithm::Sha256, false, NOW, &mut fx.rng);
    assert_eq!(
        fx.verify(&answer(&foreign, "wonderland", "c", 1)),
        Err(AuthFailure::ForgedNonce)
    );

    let elsewhere = Realm::new("example.org").expect("valid");
    let challenge = fx
        .server
        .challenge(&elsewhere, Algorithm::Sha256, false, NOW, &mut fx.rng);
    // Answered for example.org but presented as example.com: the nonce is bound to its realm.
    let moved = answer(&challenge, "wonderland", "c", 1)
        .replace("realm=\"example.org\"", "realm=\"example.com\"");
    assert_eq!(fx.verify(&moved), Err(AuthFailure::ForgedNonce));
    let made_up = answer(
        "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"",
        "wonderland",
        "c",
        1,
    );
    assert_eq!(fx.verify(&made_up), Err(AuthFailure::ForgedNonce));
}

#[test]
fn realm_uri_method_mismatches() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    let authorization = answer(&challenge, "wonderland", "c", 1);
    let other_uri = respond(
        &challenge,
        "REGISTER",
        "sip:evil.com",
        "alice",
        ClientSecret::Password("wonderland"),
        "c",
        nc(1),
    )
    .expect("answerable");
    assert_eq!(fx.verify(&other_uri), Err(AuthFailure::UriMismatch));
    assert_eq!(AuthFailure::UriMismatch.response().status_code(), 400);
    assert_eq!(
        fx.verify_at(&authorization, "INVITE", NOW + 1),
        Err(AuthFailure::BadResponse)
    );
    let other_realm = authorization.replace("realm=\"example.com\"", "realm=\"example.net\"");
    assert_eq!(fx.verify(&other_realm), Err(AuthFailure::RealmMismatch));
}

#[test]
fn algorithm_and_qop_policy() {
    let mut fx = Fixture::with_config(DigestConfig {
        algorithms: vec![Algorithm::Sha256],
        ..DigestConfig::default()
    });
    let md5 = fx.challenge(Algorithm::Md5);
    assert_eq!(
        fx.verify(&answer(&md5, "wonderland", "c", 1)),
        Err(AuthFailure::UnsupportedAlgorithm("MD5".to_owned()))
    );
    let legacy = fx
        .challenge(Algorithm::Sha256)
        .replace(", qop=\"auth\"", "");
    assert_eq!(
        fx.verify(&answer(&legacy, "wonderland", "c", 1)),
        Err(AuthFailure::UnsupportedQop)
    );
    let sha = fx.challenge(Algorithm::Sha256);
    let auth_int = answer(&sha, "wonderland", "c", 1).replace("qop=auth", "qop=auth-int");
    assert_eq!(fx.verify(&auth_int), Err(AuthFailure::UnsupportedQop));
    let sha512 =
        answer(&sha, "wonderland", "c", 1).replace("algorithm=SHA-256", "algorithm=SHA-512-256");
    assert_eq!(
        fx.verify(&sha512),
        Err(AuthFailure::UnsupportedAlgorithm("SHA-512-256".to_owned()))
    );
    assert_eq!(
        fx.verify("Basic YWxpY2U6d29uZGVybGFuZA=="),
        Err(AuthFailure::UnsupportedScheme("Basic".to_owned()))
    );
    assert!(matches!(
        fx.verify("Digest username=\"alice\""),
        Err(AuthFailure::Malformed(_))
    ));
}

#[test]
fn opaque_is_echoed_and_ignored() {
    let mut fx = Fixture::new();
    let challenge = format!("{}, opaque=\"xyz\"", fx.challenge(Algorithm::Sha256));
    let authorization = answer(&challenge, "wonderland", "c", 1);
    assert!(authorization.contains("opaque=\"xyz\""));
    assert_eq!(fx.verify(&authorization), Ok("alice".to_owned()));
}

#[test]
fn nothing_secret_in_debug_output() {
    let mut fx = Fixture::new();
    let challenge = fx.challenge(Algorithm::Sha256);
    let authorization = answer(&challenge, "wonderland", "c", 1);
    let creds = DigestCredentials::parse(&authorization).expect("parses");
    let ha1 = lookup("alice", DigestHash::Sha256).expect("known");
    let request = DigestRequest {
        realm: &fx.realm,
        method: "REGISTER",
        request_uri: URI,
    };
    let proof = fx
        .server
        .verify(&creds, &request, lookup, NOW)
        .expect("valid");
    let logged = format!(
        "{creds:?} {ha1:?} {proof:?} {:?} {:?}",
        fx.server,
        ServerSecret::new([7; 32])
    );
    let response = authorization
        .split("response=\"")
        .nth(1)
        .and_then(|r| r.get(..64))
        .expect("has response");
    for secret in [
        "wonderland",
        "alice",
        ha1.expose_hex(),
        response,
        "[7, 7, 7",
    ] {
        assert!(!logged.contains(secret), "{secret} leaked in {logged}");
    }
}
