//! Herald's encrypted call-recording format: writer, reader, keyless verifier, crash recovery,
//! and data-key wrapping. The normative specification is `docs/recording-format.md`; the test
//! vectors are in `crates/recorder/tests/vectors/`.
//!
//! # What it does
//!
//! A recording is one blob: a public [`Header`], then AES-256-GCM segments of at most about one
//! second each (STREAM nonces: counter and last flag, so truncation, reordering, dropping,
//! duplicating or transplanting a segment fails to open), then a public trailer signed with the
//! node's Ed25519 key. Inside the segments are typed [`Record`]s: audio, gap begin/end (pauses,
//! with a closed [`GapReason`]) and disclosure [`Evidence`]. Each recording has its own random
//! [`DataKey`]; [`wrap_data_key`] encrypts it to recipients' `age` X25519 public keys, one
//! `age` file per recipient, for the database. The host that writes a recording holds only
//! public keys afterwards, so it cannot read back what it wrote; deleting the wrapped keys
//! erases every copy of the blob.
//!
//! # What it does not do
//!
//! No I/O: it never opens files, talks to a database or object store, reads the clock, or
//! draws randomness of its own (the one exception: `age` draws its wrapping randomness from the
//! operating system). It does not decide *when* to record or pause (the engine does) and never
//! sees DTMF digits: no record type has a field for caller input.
//!
//! # Run loop
//!
//! ```text
//! let writer = RecordingWriter::new(header, &data_key, config)?;   // output: header bytes
//! loop {
//!     writer.audio(now, channel, position, &pcm)? / gap_begin / gap_end / evidence
//!     if now >= writer.poll_timeout() { writer.handle_timeout(now)? }
//!     while let Some(bytes) = writer.poll_output() { append bytes to the blob }
//! }
//! writer.finish(end_unix_ms, &node_key)?;     // last segment + signed trailer
//! while let Some(bytes) = writer.poll_output() { append }
//! ```
//!
//! After a crash, [`seal_interrupted`] says how many bytes to keep and which trailer to append.
//! [`verify`] checks a blob with the node's public key only; [`open`] decrypts it with the data
//! key (from [`unwrap_data_key`]) and [`Recording::to_pcm_interleaved`] renders it.
//!
//! # Time
//!
//! Two clocks, both inputs. `now: Instant` (monotonic) drives segmenting: a segment is sealed
//! [`WriterConfig::segment_duration`] after its first record, or earlier when its plaintext
//! reaches [`WriterConfig::max_segment_bytes`]; [`RecordingWriter::poll_timeout`] names the
//! deadline. Wall time is unix milliseconds given by the caller (header start, gap and evidence
//! times, trailer end time) and is only recorded, never acted on. Audio time is sample
//! positions since the start, which place every audio record exactly.

mod blob_layout;
mod data_key;
pub mod g711;
mod header;
mod key_ids;
mod key_wrap;
mod node_key;
mod public_trailer;
mod reader;
mod records;
mod verify;
mod wire;
mod writer;

pub use age;
pub use blob_layout::{Defect, MAX_SEGMENT_PLAINTEXT};
pub use data_key::{DATA_KEY_LEN, DataKey};
pub use header::{
    ChannelRole, Codec, FORMAT_VERSION, HEADER_MAGIC, Header, HeaderError, MAX_CHANNELS,
    MAX_RECIPIENTS, RecordingId,
};
pub use key_ids::{KEY_ID_LEN, NodeKeyId, RecipientKeyId};
pub use key_wrap::{KeyWrapError, RecipientKey, WrappedKey, unwrap_data_key, wrap_data_key};
pub use node_key::{NodeKeyError, NodePublicKey, NodeSigningKey};
pub use public_trailer::{TRAILER_LEN, TrailerState};
pub use reader::{ReadError, Recording, RecordingState, RenderError, open};
#[doc(hidden)]
pub use records::decode_segment_plaintext;
pub use records::{
    AudioFrame, ConsentChoice, Evidence, GapBegin, GapEnd, GapReason, InnerTrailer, Record,
    RecordError, TextField,
};
pub use verify::{
    RecoveryError, RecoverySeal, Verdict, VerifyReport, seal_interrupted, trailer_signer, verify,
};
pub use writer::{
    MAX_SEGMENT_DURATION, MIN_SEGMENT_BYTES, MIN_SEGMENT_DURATION, RecordingWriter, WriterConfig,
    WriterError, WriterStats,
};
