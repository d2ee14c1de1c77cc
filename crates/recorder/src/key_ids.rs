//! Short, stable fingerprints that name keys in headers, trailers and database rows.
//!
//! An id only selects a key; it is never trusted on its own. Signatures are checked against the
//! full public key the caller supplies, and a wrapped data key only opens with the right
//! identity.

use std::fmt;

use sha2::{Digest, Sha256};

/// Bytes in a key id.
pub const KEY_ID_LEN: usize = 8;

/// Names a node signing key: the first 8 bytes of
/// SHA-256(`"herald node key id v1"` || the 32-byte Ed25519 public key), printed as 16 lowercase
/// hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKeyId(pub [u8; KEY_ID_LEN]);

/// Names a recipient key: the first 8 bytes of SHA-256 of its `age1...` text (the canonical
/// lower-case Bech32 form), printed as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientKeyId(pub [u8; KEY_ID_LEN]);

/// Domain separation for node key ids.
const NODE_KEY_ID_LABEL: &[u8] = b"herald node key id v1";

impl NodeKeyId {
    pub(crate) fn of_public_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(NODE_KEY_ID_LABEL)
            .chain_update(public_key)
            .finalize();
        Self(first_bytes(&digest))
    }
}

impl RecipientKeyId {
    pub(crate) fn of_age_text(age_text: &str) -> Self {
        Self(first_bytes(&Sha256::digest(age_text.as_bytes())))
    }
}

fn first_bytes(digest: &[u8]) -> [u8; KEY_ID_LEN] {
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

impl fmt::Display for NodeKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for RecipientKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
