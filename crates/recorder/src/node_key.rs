//! The node's Ed25519 signing key, which signs public trailers. It proves which node closed a
//! recording; it cannot decrypt anything.
//!
//! Text files (one key per file, surrounding whitespace ignored, hex in either case):
//!
//! ```text
//! -----BEGIN HERALD NODE SIGNING KEY-----
//! <64 hex digits: the 32-byte Ed25519 seed>
//! -----END HERALD NODE SIGNING KEY-----
//!
//! -----BEGIN HERALD NODE PUBLIC KEY-----
//! <64 hex digits: the 32-byte Ed25519 public key>
//! -----END HERALD NODE PUBLIC KEY-----
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::key_ids::NodeKeyId;

const SIGNING_LABEL: &str = "HERALD NODE SIGNING KEY";
const PUBLIC_LABEL: &str = "HERALD NODE PUBLIC KEY";

/// A node's private signing key. Wiped on drop (`ed25519-dalek`'s `zeroize`); no `Debug`, no
/// `Clone`.
pub struct NodeSigningKey {
    key: SigningKey,
}

/// A node's public key: checks trailer signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePublicKey {
    key: VerifyingKey,
}

/// Why a key text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeKeyError {
    /// Not the three lines BEGIN, hex, END with the expected label.
    #[error("not a {0} file (expected BEGIN line, 64 hex digits, END line)")]
    NotAKeyFile(&'static str),
    /// The hex line does not decode to 32 bytes.
    #[error("key material is not 64 hex digits")]
    BadHex,
    /// The 32 bytes are not an Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    NotAPoint,
}

impl NodeSigningKey {
    /// A fresh key from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> NodePublicKey {
        NodePublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The key's id (that of its public key).
    pub fn id(&self) -> NodeKeyId {
        self.public_key().id()
    }

    /// The key file text. Holds the secret: store it with care.
    pub fn to_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.key.to_bytes());
        Zeroizing::new(armor(SIGNING_LABEL, &Zeroizing::new(hex::encode(*seed))))
    }

    /// Parses [`NodeSigningKey::to_text`]'s format.
    pub fn from_text(text: &str) -> Result<Self, NodeKeyError> {
        let seed = Zeroizing::new(dearmor(SIGNING_LABEL, text)?);
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs `message` for another purpose than recordings (e.g. the audit log's chain
    /// head): the signed bytes are [`purpose_message`]`(purpose, message)`, which never
    /// begins like a recording trailer's signed message, so no signature made here is ever
    /// valid as a trailer signature, nor for another purpose.
    pub fn sign_for(&self, purpose: &str, message: &[u8]) -> [u8; 64] {
        self.sign(&purpose_message(purpose, message))
    }
}

/// What [`NodeSigningKey::sign_for`] signs: `"herald-purpose:"`, the purpose, a newline, then
/// the message.
fn purpose_message(purpose: &str, message: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(16 + purpose.len() + message.len());
    signed.extend_from_slice(b"herald-purpose:");
    signed.extend_from_slice(purpose.as_bytes());
    signed.push(b'\n');
    signed.extend_from_slice(message);
    signed
}

impl NodePublicKey {
    /// The key's id: see [`NodeKeyId`].
    pub fn id(&self) -> NodeKeyId {
        NodeKeyId::of_public_key(self.key.as_bytes())
    }

    /// The 32 public key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, NodeKeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| NodeKeyError::NotAPoint)?;
        Ok(Self { key })
    }

    /// The public key file text.
    pub fn to_text(&self) -> String {
        armor(PUBLIC_LABEL, &hex::encode(self.to_bytes()))
    }

    /// Parses [`NodePublicKey::to_text`]'s format.
    pub fn from_text(text: &str) -> Result<Self, NodeKeyError> {
        Self::from_bytes(&dearmor(PUBLIC_LABEL, text)?)
    }

    /// Checks a signature made by [`NodeSigningKey::sign_for`] for `purpose`.
    pub fn verify_for(&self, purpose: &str, message: &[u8], signature: &[u8; 64]) -> bool {
        self.verify(&purpose_message(purpose, message), signature)
    }

    /// Strict Ed25519 verification (no small-order keys, canonical signatures).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

fn armor(label: &str, hex_body: &str) -> String {
    format!("-----BEGIN {label}-----\n{hex_body}\n-----END {label}-----\n")
}

fn dearmor(label: &'static str, text: &str) -> Result<[u8; 32], NodeKeyError> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let (Some(first), Some(body), Some(last), None) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(NodeKeyError::NotAKeyFile(label));
    };
    if first != begin || last != end {
        return Err(NodeKeyError::NotAKeyFile(label));
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(body, &mut bytes).map_err(|_| NodeKeyError::BadHex)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;

    use super::*;

    fn key() -> NodeSigningKey {
        NodeSigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1))
    }

    #[test]
    fn text_forms_round_trip() {
        let key = key();
        let text = key.to_text();
        assert!(text.starts_with("-----BEGIN HERALD NODE SIGNING KEY-----\n"));
        let again = NodeSigningKey::from_text(&format!("\n  {}  \n", text.as_str()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.public_key(), key.public_key());
        let public = key.public_key();
        assert_eq!(NodePublicKey::from_text(&public.to_text()), Ok(public));
    }

    #[test]
    fn wrong_labels_and_bad_hex_are_refused() {
        let key = key();
        let public_text = key.public_key().to_text();
        assert!(matches!(
            NodeSigningKey::from_text(&public_text),
            Err(NodeKeyError::NotAKeyFile(_))
        ));
        let short = public_text.replacen("-----\n", "-----\nab", 1);
        assert_eq!(NodePublicKey::from_text(&short), Err(NodeKeyError::BadHex));
        let extra = format!("{public_text}trailing\n");
        assert!(NodePublicKey::from_text(&extra).is_err());
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message_and_key() {
        let key = key();
        let signature = key.sign(b"message");
        assert!(key.public_key().verify(b"message", &signature));
        assert!(!key.public_key().verify(b"messagf", &signature));
        let other = NodeSigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(2));
        assert!(!other.public_key().verify(b"message", &signature));
        assert_ne!(other.id(), key.id());
    }

    #[test]
    fn purpose_signatures_are_bound_to_their_purpose() {
        let key = key();
        let public = key.public_key();
        let signature = key.sign_for("audit-head", b"7 abc");
        assert!(public.verify_for("audit-head", b"7 abc", &signature));
        assert!(!public.verify_for("audit-head", b"8 abc", &signature));
        assert!(!public.verify_for("audit-tail", b"7 abc", &signature));
        // A purpose signature never passes as a plain (trailer-style) signature.
        assert!(!public.verify(b"7 abc", &signature));
        assert!(!purpose_message("x", b"").starts_with(b"herald recording"));
    }
}
