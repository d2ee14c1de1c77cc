//! Self-authenticating nonces and nonce-count replay tracking.
//!
//! A nonce is `base64url(version || issued_at || random || tag)` without padding, where
//! `issued_at` is big-endian unix seconds (8 bytes), `random` is 16 bytes from the injected RNG,
//! and `tag = HMAC-SHA256(secret, label || version || issued_at || random || realm)`. Opening a
//! nonce checks the tag in constant time, so a nonce this server did not mint for this realm (or
//! minted under another secret) is detected without storing issued nonces.
//!
//! Replay protection needs a little state: the highest `nc` accepted per nonce that has been
//! used, kept in a map ordered by issue time so expired entries fall off the front. The map is
//! bounded; when it is full of live nonces the oldest is evicted and its issue time becomes a
//! floor: an untracked nonce issued at or before the floor is reported stale rather than trusted
//! (it may be the one whose history was evicted). Staleness is harmless: the client retries with
//! a fresh nonce without asking the user.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::credentials::NonceCount;

const VERSION: u8 = 1;
const MAC_LABEL: &[u8] = b"herald-sip digest nonce";
const RANDOM_LEN: usize = 16;
const TAG_LEN: usize = 32;
const NONCE_LEN: usize = 1 + 8 + RANDOM_LEN + TAG_LEN;
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

/// What an authentic nonce tells: when it was minted, and its unique random part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NonceId {
    pub issued_at: u64,
    random: [u8; RANDOM_LEN],
}

/// Mints a nonce for `realm` at `now` (unix seconds).
pub(crate) fn mint(secret: &ServerSecret, realm: &str, now: u64, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[0] = VERSION;
    bytes[1..9].copy_from_slice(&now.to_be_bytes());
    rng.fill_bytes(&mut bytes[9..9 + RANDOM_LEN]);
    let tag = secret
        .tag(realm, &bytes[..9 + RANDOM_LEN])
        .finalize()
        .into_bytes();
    bytes[9 + RANDOM_LEN..].copy_from_slice(&tag);
    base64url_encode(&bytes)
}

/// Opens a nonce: `None` unless this secret minted it for this realm.
pub(crate) fn open(secret: &ServerSecret, realm: &str, nonce: &str) -> Option<NonceId> {
    let bytes = base64url_decode::<NONCE_LEN>(nonce)?;
    let (body, tag) = bytes.split_at(9 + RANDOM_LEN);
    secret.tag(realm, body).verify_slice(tag).ok()?;
    if body[0] != VERSION {
        return None;
    }
    let issued_at = u64::from_be_bytes(body[1..9].try_into().ok()?);
    let random = body[9..].try_into().ok()?;
    Some(NonceId { issued_at, random })
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

/// Highest accepted `nc` per live, used nonce. See the module docs for the eviction floor.
pub(crate) struct NonceTracker {
    ttl_secs: u64,
    capacity: usize,
    highest: BTreeMap<NonceId, u32>,
    floor: Option<u64>,
}

impl NonceTracker {
    pub fn new(ttl_secs: u64, capacity: usize) -> NonceTracker {
        NonceTracker {
            ttl_secs,
            capacity: capacity.max(1),
            highest: BTreeMap::new(),
            floor: None,
        }
    }

    /// Whether a nonce minted at `issued_at` is still usable at `now`. A nonce from the future
    /// (the clock went back) is accepted within the same window.
    pub fn is_fresh(&self, issued_at: u64, now: u64) -> bool {
        now.abs_diff(issued_at) < self.ttl_secs
    }

    /// Accepts `nc` for a fresh nonce if it is above every count accepted before, and records it.
    pub fn accept(&mut self, id: NonceId, nc: NonceCount, now: u64) -> Result<(), CountRejected> {
        self.drop_expired(now);
        if let Some(highest) = self.highest.get_mut(&id) {
            if nc.get() <= *highest {
                return Err(CountRejected::Replay);
            }
            *highest = nc.get();
            return Ok(());
        }
        if self.floor.is_some_and(|floor| id.issued_at <= floor) {
            return Err(CountRejected::Forgotten);
        }
        if self.highest.len() >= self.capacity
            && let Some((evicted, _)) = self.highest.pop_first()
        {
            self.floor = Some(
                self.floor
                    .map_or(evicted.issued_at, |f| f.max(evicted.issued_at)),
            );
        }
        self.highest.insert(id, nc.get());
        Ok(())
    }

    fn drop_expired(&mut self, now: u64) {
        while let Some(entry) = self.highest.first_entry() {
            if entry.key().issued_at.saturating_add(self.ttl_secs) > now {
                break;
            }
            entry.remove();
        }
    }

    /// How many nonces have counts recorded.
    pub fn len(&self) -> usize {
        self.highest.len()
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
        let nonce = mint(&secret(1), "example.com", 1_700_000_000, &mut rng);
        assert_eq!(nonce.len(), NONCE_LEN / 3 * 4);
        let id = open(&secret(1), "example.com", &nonce).expect("authentic");
        assert_eq!(id.issued_at, 1_700_000_000);
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

    fn id(issued_at: u64, tag: u8) -> NonceId {
        NonceId {
            issued_at,
            random: [tag; RANDOM_LEN],
        }
    }

    #[test]
    fn counts_must_increase() {
        let mut tracker = NonceTracker::new(300, 10);
        assert_eq!(tracker.accept(id(100, 1), nc(1), 100), Ok(()));
        assert_eq!(
            tracker.accept(id(100, 1), nc(1), 101),
            Err(CountRejected::Replay)
        );
        assert_eq!(tracker.accept(id(100, 1), nc(3), 101), Ok(()));
        assert_eq!(
            tracker.accept(id(100, 1), nc(2), 101),
            Err(CountRejected::Replay)
        );
        assert_eq!(tracker.accept(id(100, 2), nc(1), 101), Ok(()));
    }

    #[test]
    fn expired_entries_are_dropped() {
        let mut tracker = NonceTracker::new(300, 10);
        tracker.accept(id(100, 1), nc(1), 100).expect("fresh");
        tracker.accept(id(350, 2), nc(1), 350).expect("fresh");
        tracker.accept(id(400, 3), nc(1), 400).expect("fresh");
        assert_eq!(tracker.len(), 2);
        assert!(!tracker.is_fresh(100, 400));
        assert!(
            tracker.is_fresh(400, 100 + 1),
            "future nonce within the window"
        );
    }

    #[test]
    fn eviction_sets_a_floor() {
        let mut tracker = NonceTracker::new(300, 2);
        tracker.accept(id(100, 1), nc(1), 110).expect("fresh");
        tracker.accept(id(101, 2), nc(1), 110).expect("fresh");
        tracker
            .accept(id(102, 3), nc(1), 110)
            .expect("fresh, evicts 100");
        assert_eq!(tracker.len(), 2);
        // The evicted nonce cannot be replayed from count 1 again.
        assert_eq!(
            tracker.accept(id(100, 1), nc(2), 111),
            Err(CountRejected::Forgotten)
        );
        // Tracked ones keep working; newer untracked ones are admitted.
        assert_eq!(tracker.accept(id(101, 2), nc(2), 111), Ok(()));
        assert_eq!(tracker.accept(id(105, 4), nc(1), 111), Ok(()));
    }
}
