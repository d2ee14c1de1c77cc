//! `digest_check`: the registrar's side of digest authentication, per REGISTER: parse the
//! `Authorization` value and `DigestAuthenticator::verify` it (nonce MAC, HA1 lookup, response
//! digest, freshness, nonce-count bookkeeping), for a valid MD5 and a valid SHA-256 response.
//!
//! Every verification uses a fresh nonce, as SIPp's REGISTER load does (one 401 per
//! registration), so the nonce-count table is in its steady state (full, evicting). Virtual
//! time advances one second per batch of `BATCH` (1,024 registrations/s): the table's floor
//! rule rejects a nonce issued in the second of the last evicted one as stale, so one second
//! of virtual time per 10,000 verifications or less would measure rejections (see the
//! NonceTracker finding in docs/benchmarks.md). The client's work (minting the challenge,
//! computing the response) is done outside the timed section.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald_sip::auth::{
    Algorithm, ClientSecret, DigestAuthenticator, DigestChallenge, DigestConfig, DigestCredentials,
    DigestHash, DigestRequest, Ha1, NonceCount, Realm, ServerSecret, generate_cnonce,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;

const BATCH: u64 = 1024;
const NOW: u64 = 1_700_000_000;
const URI: &str = "sip:127.0.0.1";

fn digest_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest_check");
    group.throughput(Throughput::Elements(1));
    for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
        let realm = Realm::new("127.0.0.1").expect("valid realm");
        let config = DigestConfig {
            algorithms: vec![algorithm],
            ..DigestConfig::default()
        };
        let mut server = DigestAuthenticator::new(ServerSecret::new([7; 32]), config);
        let ha1 = Ha1::from_password(algorithm, "user42", realm.as_str(), "secret");
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut now = NOW;
        group.bench_function(BenchmarkId::from_parameter(algorithm.name()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    now += 1;
                    let n = left.min(BATCH);
                    left -= n;
                    // Client side, untimed: one challenge and one answer per registration.
                    let answers: Vec<String> = (0..n)
                        .map(|_| {
                            let challenge =
                                server.challenge(&realm, algorithm, false, now, &mut rng);
                            let challenge =
                                DigestChallenge::parse(&challenge).expect("own challenge parses");
                            let cnonce = generate_cnonce(&mut rng);
                            let nc = NonceCount::new(1).expect("nonzero");
                            challenge
                                .authorization(
                                    "REGISTER",
                                    URI,
                                    "user42",
                                    ClientSecret::Password("secret"),
                                    &cnonce,
                                    nc,
                                )
                                .expect("answerable")
                        })
                        .collect();
                    let request = DigestRequest {
                        realm: &realm,
                        method: "REGISTER",
                        request_uri: URI,
                    };
                    let start = Instant::now();
                    for value in &answers {
                        let creds =
                            DigestCredentials::parse(black_box(value)).expect("well-formed");
                        let lookup = |user: &str, hash: DigestHash| {
                            (user == "user42" && hash == ha1.hash()).then(|| ha1.clone())
                        };
                        let proof = server.verify(&creds, &request, lookup, now);
                        assert!(
                            proof.is_ok(),
                            "valid credentials rejected: {:?}",
                            proof.err()
                        );
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, digest_check);
criterion_main!(benches);
