//! Wrapping the data key to recipient public keys with `age` (X25519 recipients).
//!
//! Each recipient gets its own binary age file whose plaintext is the 32 raw data-key bytes, so
//! the database holds one row per (recording, recipient) and deleting a row revokes exactly that
//! recipient. `age -d -i identity.txt wrapped.age` prints the data key. The file keys and
//! ephemeral shares inside come from `age`'s own use of the operating system's CSPRNG: `age`
//! offers no way to inject an RNG, so wrapping is the one non-deterministic step of this crate.

use std::io::{Read, Write};

use age::x25519::{Identity, Recipient};

use crate::data_key::{DATA_KEY_LEN, DataKey};
use crate::key_ids::RecipientKeyId;

/// A recipient's public key (`age1...`), with its id.
#[derive(Debug, Clone)]
pub struct RecipientKey {
    recipient: Recipient,
    id: RecipientKeyId,
}

/// One wrapped copy of a data key: the row stored in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Which recipient can unwrap it.
    pub recipient: RecipientKeyId,
    /// A binary age file whose plaintext is the 32-byte data key.
    pub age_file: Vec<u8>,
}

/// Why wrapping or unwrapping failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyWrapError {
    /// The text is not an `age1...` X25519 recipient.
    #[error("not an age X25519 recipient (expected `age1...`): {0}")]
    NotARecipient(&'static str),
    /// No recipients were given.
    #[error("no recipient keys to wrap the data key to")]
    NoRecipients,
    /// `age` refused to encrypt.
    #[error("age could not wrap the data key: {0}")]
    Encrypt(String),
    /// The age file is malformed or not for this identity.
    #[error("age could not unwrap the data key: {0}")]
    Decrypt(String),
    /// The age file decrypted to something other than 32 bytes.
    #[error("the wrapped plaintext is not a 32-byte data key")]
    NotADataKey,
}

impl RecipientKey {
    /// Parses an `age1...` recipient string (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, KeyWrapError> {
        let recipient: Recipient = text.trim().parse().map_err(KeyWrapError::NotARecipient)?;
        Ok(Self::from(recipient))
    }

    /// The key's id: see [`RecipientKeyId`].
    pub fn id(&self) -> RecipientKeyId {
        self.id
    }

    /// The canonical `age1...` text.
    pub fn to_text(&self) -> String {
        self.recipient.to_string()
    }
}

impl From<Recipient> for RecipientKey {
    fn from(recipient: Recipient) -> Self {
        let id = RecipientKeyId::of_age_text(&recipient.to_string());
        Self { recipient, id }
    }
}

/// One age file per recipient, each holding the data key.
pub fn wrap_data_key(
    data_key: &DataKey,
    recipients: &[RecipientKey],
) -> Result<Vec<WrappedKey>, KeyWrapError> {
    if recipients.is_empty() {
        return Err(KeyWrapError::NoRecipients);
    }
    recipients
        .iter()
        .map(|recipient| {
            Ok(WrappedKey {
                recipient: recipient.id,
                age_file: wrap_one(data_key, &recipient.recipient)?,
            })
        })
        .collect()
}

fn wrap_one(data_key: &DataKey, recipient: &Recipient) -> Result<Vec<u8>, KeyWrapError> {
    let encrypt = |e: &dyn std::fmt::Display| KeyWrapError::Encrypt(e.to_string());
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| encrypt(&e))?;
    let mut out = Vec::with_capacity(256);
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| encrypt(&e))?;
    writer
        .write_all(data_key.expose_bytes())
        .map_err(|e| encrypt(&e))?;
    writer.finish().map_err(|e| encrypt(&e))?;
    Ok(out)
}

/// Recovers the data key from one age file with the recipient's identity.
pub fn unwrap_data_key(wrapped: &[u8], identity: &Identity) -> Result<DataKey, KeyWrapError> {
    let decrypt = |e: &dyn std::fmt::Display| KeyWrapError::Decrypt(e.to_string());
    let decryptor = age::Decryptor::new_buffered(wrapped).map_err(|e| decrypt(&e))?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| decrypt(&e))?;
    // Read one byte more than a key, so that a longer plaintext is noticed without reading it all.
    let mut plaintext = zeroize::Zeroizing::new(Vec::with_capacity(DATA_KEY_LEN + 1));
    reader
        .take(DATA_KEY_LEN as u64 + 1)
        .read_to_end(&mut plaintext)
        .map_err(|e| decrypt(&e))?;
    DataKey::from_slice(&plaintext).ok_or(KeyWrapError::NotADataKey)
}
