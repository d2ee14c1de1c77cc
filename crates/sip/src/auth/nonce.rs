//! Self-authenticating nonces and nonce-count replay tracking.
//!
//! A nonce is `base64url(version || issued_at || seq || random || tag)` without padding, where
//! `issued_at` is big-endian unix seconds (8 bytes), `seq` the server's running count of minted
//! nonces (8 bytes), `random` 8 bytes from the injected RNG, and
//! `tag = HMAC-SHA256(secret, label || version || issued_at || seq || random || realm)`. Opening
//! a nonce checks the tag in constant time, so a nonce this server did not mint for this realm
//! (or minted under another secret) is detected without storing issued nonces.
//!
//! Replay protection needs a little state: the highest `nc` accepted per nonce, in a ring of
//! the last `capacity` minted nonces indexed by `seq % capacity`. A nonce among the last
//! `capacity` minted is tracked exactly; an older one, whose slot may have been reused, is
//! reported stale rather than trusted. Staleness is harmless: the client retries with a fresh
//! nonce without asking the user. Unlike an eviction floor by time, this never catches the many
//! nonces a busy registrar mints within one second.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::credentials::NonceCount;

const VERSION: u8 = 2;
const MAC_LABEL: &[u8] = b"herald-sip digest nonce";
const RANDOM_LEN: usize = 8;
const TAG_LEN: usize = 32;
const BODY_LEN: usize = 1 + 8 + 8 + RANDOM_LEN;
const NONCE_LEN: usize = BODY_LEN + TAG_LEN;
// Whole base64 groups: no padding, and every valid nonce has exactly this many characters.
const _: () = assert!(NONCE_LEN.is_multiple_of(3));

/// The server's nonce key, supplied by the caller (from the crypto provider's CSPRNG, or
/// configuration shared by the nodes of a cluster). `Debug` hides it.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl ServerSecret {
    /// Wraps 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> ServerSecret {
        ServerSecret(bytes)
    }

    fn tag(&self, realm: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .expect("invariant: HMAC accepts keys of any length");
        mac.update(MAC_LABEL);
        mac.update(body);
        mac.update(realm.as_bytes());
        mac
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// What an authentic nonce tells: when it was minted and its place in the minting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NonceId {
    pub issued_at: u64,
    pub seq: u64,
}

/// Mints nonce number `seq` for `realm` at `now` (unix seconds).
pub(crate) fn mint(
    secret: &ServerSecret,
    realm: &str,
    now: u64,
    seq: u64,
    rng: &mut impl RngCore,
) -> String {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[0] = VERSION;
    bytes[1..9].copy_from_slice(&now.to_be_bytes());
    bytes[9..17].copy_from_slice(&seq.to_be_bytes());
    rng.fill_bytes(&mut bytes[17..BODY_LEN]);
    let tag = secret
        .tag(realm, &bytes[..BODY_LEN])
        .finalize()
        .into_bytes();
    bytes[BODY_LEN..].copy_from_slice(&tag);
    base64url_encode(&bytes)
}

/// Opens a nonce: `None` unless this secret minted it for this realm.
pub(crate) fn open(secret: &ServerSecret, realm: &str, nonce: &str) -> Option<NonceId> {
    let bytes = base64url_decode::<NONCE_LEN>(nonce)?;
    let (body, tag) = bytes.split_at(BODY_LEN);
    secret.tag(realm, body).verify_slice(tag).ok()?;
    if body[0] != VERSION {
        return None;
    }
    let issued_at = u64::from_be_bytes(body[1..9].try_into().ok()?);
    let seq = u64::from_be_bytes(body[9..17].try_into().ok()?);
    Some(NonceId { issued_at, seq })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url of whole 3-byte groups (callers guarantee the length).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() / 3 * 4);
    for group in bytes.chunks_exact(3) {
        let n = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

/// Decodes exactly `N` bytes (a multiple of 3) of unpadded base64url, or `None`.
fn base64url_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N / 3 * 4 {
        return None;
    }
    let mut out = [0u8; N];
    for (chunk, group) in text.as_bytes().chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | u32::from(sextet(c)?);
        }
        group.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Why a nonce-count was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CountRejected {
    /// `nc` not above the highest already accepted for this nonce.
    Replay,
    /// The nonce's history may have been evicted: treat it as stale.
    Forgotten,
}

/// Mints sequence numbers and remembers the highest accepted `nc` of the last `capacity`
/// minted nonces. See the module docs.
pub(crate) struct NonceTracker {
    ttl_secs: u64,
    /// `(seq, highest nc)` per slot; seq 0 marks an empty slot (sequence numbers start at 1).
    slots: Vec<(u64, u32)>,
    /// The next sequence number to mint.
    next_seq: u64,
}

impl NonceTracker {
    pub fn new(ttl_secs: u64, capacity: usize) -> NonceTracker {
        NonceTracker {
            ttl_secs,
            slots: vec![(0, 0); capacity.max(1)],
            next_seq: 1,
        }
    }

    /// The sequence number for the next nonce.
    pub fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Whether a nonce minted at `issued_at` is still usable at `now`. A nonce from the future
    /// (the clock went back) is accepted within the same window.
    pub fn is_fresh(&self, issued_at: u64, now: u64) -> bool {
        now.abs_diff(issued_at) < self.ttl_secs
    }

    /// Accepts `nc` for a fresh nonce if it is above every count accepted before, and records it.
    pub fn accept(&mut self, id: NonceId, nc: NonceCount) -> Result<(), CountRejected> {
        let capacity = self.slots.len() as u64;
        // Minted before the last `capacity` (or by an earlier run with the same secret): its
        // slot may have been reused, so its history is unknown.
        if id.seq == 0 || id.seq >= self.next_seq || self.next_seq - id.seq > capacity {
            return Err(CountRejected::Forgotten);
        }
        let slot = &mut self.slots[(id.seq % capacity) as usize];
        if slot.0 == id.seq && nc.get() <= slot.1 {
            return Err(CountRejected::Replay);
        }
        *slot = (id.seq, nc.get());
        Ok(())
    }

    /// How many of the last `capacity` minted nonces have counts recorded.
    pub fn len(&self) -> usize {
        let capacity = self.slots.len() as u64;
        self.slots
            .iter()
            .filter(|(seq, _)| *seq != 0 && self.next_seq - seq <= capacity)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn secret(byte: u8) -> ServerSecret {
        ServerSecret::new([byte; 32])
    }

    fn nc(n: u32) -> NonceCount {
        NonceCount::new(n).expect("nonzero")
    }

    #[test]
    fn base64url_round_trip() {
        let bytes: [u8; 6] = [0xfb, 0xff, 0x00, 0x10, 0x83, 0x3e];
        let text = base64url_encode(&bytes);
        assert_eq!(text, "-_8AEIM-");
        assert_eq!(base64url_decode::<6>(&text), Some(bytes));
        assert_eq!(base64url_decode::<6>("-_8AEIM+"), None);
        assert_eq!(base64url_decode::<6>("-_8AEIM"), None);
    }

    #[test]
    fn minted_nonce_opens_only_with_same_secret_and_realm() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let nonce = mint(&secret(1), "example.com", 1_700_000_000, 42, &mut rng);
        assert_eq!(nonce.len(), NONCE_LEN / 3 * 4);
        let id = open(&secret(1), "example.com", &nonce).expect("authentic");
        assert_eq!((id.issued_at, id.seq), (1_700_000_000, 42));
        assert_eq!(open(&secret(2), "example.com", &nonce), None);
        assert_eq!(open(&secret(1), "example.org", &nonce), None);
        let mut flipped = nonce.into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(open(&secret(1), "example.com", &flipped), None);
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", secret(7)), "ServerSecret(<redacted>)");
    }

    #[test]
    fn counts_must_increase() {
        let mut tracker = NonceTracker::new(300, 10);
        let (a, b) = (tracker.next_seq(), tracker.next_seq());
        let id = |seq| NonceId {
            issued_at: 100,
            seq,
        };
        assert_eq!(tracker.accept(id(a), nc(1)), Ok(()));
        assert_eq!(tracker.accept(id(a), nc(1)), Err(CountRejected::Replay));
        assert_eq!(tracker.accept(id(a), nc(3)), Ok(()));
        assert_eq!(tracker.accept(id(a), nc(2)), Err(CountRejected::Replay));
        assert_eq!(tracker.accept(id(b), nc(1)), Ok(()));
        assert_eq!(tracker.len(), 2);
        assert!(!tracker.is_fresh(100, 400));
        assert!(
            tracker.is_fresh(400, 100 + 1),
            "future nonce within the window"
        );
    }

    #[test]
    fn only_nonces_older_than_the_ring_are_forgotten() {
        let mut tracker = NonceTracker::new(300, 4);
        let id = |seq| NonceId {
            issued_at: 100,
            seq,
        };
        let first = tracker.next_seq();
        assert_eq!(tracker.accept(id(first), nc(1)), Ok(()));
        // Many nonces minted in the same second, used in any order: all tracked while among
        // the last four minted.
        let recent: Vec<u64> = (0..4).map(|_| tracker.next_seq()).collect();
        for &seq in recent.iter().rev() {
            assert_eq!(tracker.accept(id(seq), nc(1)), Ok(()), "seq {seq}");
        }
        assert_eq!(
            tracker.accept(id(first), nc(2)),
            Err(CountRejected::Forgotten),
            "slot reused"
        );
        for &seq in &recent {
            assert_eq!(tracker.accept(id(seq), nc(1)), Err(CountRejected::Replay));
        }
        assert_eq!(
            tracker.accept(id(999), nc(1)),
            Err(CountRejected::Forgotten),
            "never minted here"
        );
    }
}
