//! Property tests for digest authentication: total parsing, interop for arbitrary inputs, and
//! that tampering with any single field, replaying, waiting or forging is caught.

use herald_sip::auth::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const NOW: u64 = 1_700_000_000;
const TTL: u64 = 300;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Md5),
        Just(Algorithm::Md5Sess),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha256Sess),
    ]
}

/// Header-safe text: anything but control characters (quotes and backslashes included).
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,24}"
}

#[derive(Debug, Clone)]
struct Case {
    algorithm: Algorithm,
    realm: String,
    username: String,
    password: String,
    uri: String,
    cnonce: String,
    nc: u32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        algorithm(),
        text(),
        text(),
        any::<String>(),
        "[!-~]{1,40}",
        "[!-~]{1,24}",
        1..u32::MAX,
        any::<u64>(),
    )
        .prop_map(
            |(algorithm, realm, username, password, uri, cnonce, nc, seed)| Case {
                algorithm,
                realm,
                username,
                password,
                uri,
                cnonce,
                nc,
                seed,
            },
        )
}

fn config() -> DigestConfig {
    DigestConfig {
        nonce_ttl_secs: TTL,
        algorithms: vec![
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Md5,
            Algorithm::Md5Sess,
        ],
        ..DigestConfig::default()
    }
}

struct Run {
    server: DigestAuthenticator,
    realm: Realm,
    case: Case,
    /// The one challenge this run's client answers (repeatedly, with growing nc).
    challenge: String,
}

impl Run {
    fn new(case: Case) -> Run {
        let mut server = DigestAuthenticator::new(ServerSecret::new([1; 32]), config());
        let realm = Realm::new(case.realm.clone()).expect("strategy yields valid realms");
        let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
        let challenge = server.challenge(&realm, case.algorithm, false, NOW, &mut rng);
        Run {
            server,
            realm,
            case,
            challenge,
        }
    }

    /// The client's answer to this run's challenge with nonce count `nc`.
    fn authorization(&self, nc: u32) -> String {
        respond(
            &self.challenge,
            "REGISTER",
            &self.case.uri,
            &self.case.username,
            ClientSecret::Password(&self.case.password),
            &self.case.cnonce,
            NonceCount::new(nc).expect("nonzero"),
        )
        .expect("answerable")
    }

    fn verify_at(
        &mut self,
        authorization: &str,
        method: &str,
        now: u64,
    ) -> Result<(), AuthFailure> {
        let creds = DigestCredentials::parse(authorization)?;
        let request = DigestRequest {
            realm: &self.realm,
            method,
            request_uri: &self.case.uri,
        };
        let (realm, password) = (self.case.realm.clone(), self.case.password.clone());
        // Every user exists with the same password, so a changed username changes HA1.
        let lookup = |user: &str, hash| Some(Ha1::from_password(hash, user, &realm, &password));
        self.server
            .verify(&creds, &request, lookup, now)
            .map(|_| ())
    }

    fn verify(&mut self, authorization: &str) -> Result<(), AuthFailure> {
        self.verify_at(authorization, "REGISTER", NOW + 1)
    }
}

/// The fields of an Authorization value, to rebuild it with one of them changed.
#[derive(Debug, Clone)]
struct Fields {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    cnonce: String,
    nc: u32,
}

impl Fields {
    fn of(authorization: &str) -> Fields {
        let creds = DigestCredentials::parse(authorization).expect("our output parses");
        let qop = creds.qop().expect("qop=auth");
        Fields {
            username: creds.username().to_owned(),
            realm: creds.realm().to_owned(),
            nonce: creds.nonce().to_owned(),
            uri: creds.uri().to_owned(),
            response: creds.response_hex(),
            algorithm: creds.algorithm(),
            cnonce: qop.cnonce().to_owned(),
            nc: qop.nc().get(),
        }
    }

    fn header(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}, cnonce={}, qop=auth, nc={:08x}",
            q(&self.username),
            q(&self.realm),
            q(&self.nonce),
            q(&self.uri),
            q(&self.response),
            self.algorithm,
            q(&self.cnonce),
            self.nc
        )
    }

    fn tampered(&self, field: usize) -> Fields {
        let mut f = self.clone();
        match field {
            0 => f.username.push('x'),
            1 => f.realm.push('x'),
            2 => f.nonce.push('x'),
            3 => f.uri.push('x'),
            4 => {
                let first = if f.response.starts_with('0') {
                    "1"
                } else {
                    "0"
                };
                f.response.replace_range(..1, first);
            }
            5 => {
                f.algorithm = match f.algorithm {
                    Algorithm::Md5 => Algorithm::Md5Sess,
                    Algorithm::Md5Sess => Algorithm::Md5,
                    Algorithm::Sha256 => Algorithm::Sha256Sess,
                    _ => Algorithm::Sha256,
                }
            }
            6 => f.cnonce.push('x'),
            _ => f.nc = if f.nc == 1 { 2 } else { f.nc - 1 },
        }
        f
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(input in any::<String>()) {
        let _ = DigestCredentials::parse(&input);
        let _ = DigestChallenge::parse(&input);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(
        input in "(Digest|digest|Basic)?[ \t\r\n,=\"\\\\a-z0-9\u{e9}-]{0,120}"
    ) {
        let _ = DigestCredentials::parse(&input);
        let _ = DigestChallenge::parse(&input);
    }

    #[test]
    fn round_trip_succeeds(case in case()) {
        let mut run = Run::new(case);
        let authorization = run.authorization(run.case.nc);
        prop_assert_eq!(run.verify(&authorization), Ok(()));
    }

    #[test]
    fn credentials_round_trip_through_the_parser(case in case()) {
        let run = Run::new(case);
        let fields = Fields::of(&run.authorization(run.case.nc));
        prop_assert_eq!(&fields.username, &run.case.username);
        prop_assert_eq!(&fields.realm, &run.case.realm);
        prop_assert_eq!(&fields.uri, &run.case.uri);
        prop_assert_eq!(&fields.cnonce, &run.case.cnonce);
        prop_assert_eq!(fields.nc, run.case.nc);
        prop_assert_eq!(fields.algorithm, run.case.algorithm);
    }

    #[test]
    fn tampering_any_field_fails(case in case(), field in 0..8usize) {
        let mut run = Run::new(case);
        let fields = Fields::of(&run.authorization(run.case.nc));
        let tampered = fields.tampered(field).header();
        prop_assert!(run.verify(&tampered).is_err(), "field {} accepted: {}", field, tampered);
        // The rebuilt original still verifies: only the change was rejected.
        prop_assert_eq!(run.verify(&fields.header()), Ok(()));
    }

    #[test]
    fn tampering_the_method_fails(case in case()) {
        let mut run = Run::new(case);
        let authorization = run.authorization(run.case.nc);
        prop_assert_eq!(run.verify_at(&authorization, "INVITE", NOW + 1), Err(AuthFailure::BadResponse));
    }

    #[test]
    fn replayed_or_lower_nonce_count_fails(case in case()) {
        let mut run = Run::new(case);
        let nc = run.case.nc;
        prop_assert_eq!(run.verify(&run.authorization(nc)), Ok(()));
        prop_assert_eq!(run.verify(&run.authorization(nc)), Err(AuthFailure::Replay));
        if nc > 1 {
            prop_assert_eq!(run.verify(&run.authorization(nc - 1)), Err(AuthFailure::Replay));
        }
        prop_assert_eq!(run.verify(&run.authorization(nc + 1)), Ok(()));
    }

    #[test]
    fn expired_nonce_is_stale(case in case(), late in TTL..1_000_000u64) {
        let mut run = Run::new(case);
        let authorization = run.authorization(run.case.nc);
        prop_assert_eq!(run.verify_at(&authorization, "REGISTER", NOW + late), Err(AuthFailure::Stale));
        prop_assert_eq!(run.verify_at(&authorization, "REGISTER", NOW + TTL - 1), Ok(()));
    }

    #[test]
    fn nonce_from_another_secret_is_forged(case in case(), other in any::<[u8; 32]>()) {
        prop_assume!(other != [1; 32]);
        let mut run = Run::new(case);
        let authorization = run.authorization(run.case.nc);
        run.server = DigestAuthenticator::new(ServerSecret::new(other), config());
        prop_assert_eq!(run.verify(&authorization), Err(AuthFailure::ForgedNonce));
    }
}
