//! SRTP errors, split by origin: what the peer sent ([`PeerError`]: drop the packet, count it,
//! keep the call) versus how the caller used the session ([`MisuseError`]: a bug to fix).

/// Why a packet was not protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The received packet is dropped.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The caller passed something the session cannot work with.
    #[error(transparent)]
    Misuse(#[from] MisuseError),
}

impl SrtpError {
    /// Whether the peer (or an attacker on the path) caused this: such packets are dropped and
    /// counted, never a reason to end the call.
    pub fn is_peer(&self) -> bool {
        matches!(self, Self::Peer(_))
    }
}

/// A received SRTP or SRTCP packet that must be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The tag does not match: the packet was altered, is not ours, or was protected with
    /// another key (RFC 3711 §3.3 step 5).
    #[error("SRTP authentication failed")]
    AuthenticationFailed,
    /// A packet with this index was already accepted (RFC 3711 §3.3.2).
    #[error("SRTP packet replayed")]
    Replayed,
    /// The packet is older than the replay window, so it cannot be told from a replay.
    #[error("SRTP packet older than the replay window")]
    TooOld,
    /// Too short for a header and a tag, or not version 2.
    #[error("malformed SRTP packet")]
    Malformed,
}

/// The caller used the session wrongly; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MisuseError {
    /// `len` is larger than the buffer.
    #[error("packet length {len} exceeds the buffer's {capacity} bytes")]
    LengthOutOfBounds {
        /// The length passed.
        len: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// The buffer has no room for the tag (and SRTCP trailer) after the packet.
    #[error("buffer of {capacity} bytes cannot hold the {needed}-byte protected packet")]
    BufferTooSmall {
        /// Bytes the protected packet needs.
        needed: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// The packet to protect has no valid RTP header.
    #[error("not an RTP packet")]
    NotRtp,
    /// The packet to protect is not RTCP version 2 with a sender SSRC.
    #[error("not an RTCP packet")]
    NotRtcp,
    /// This SSRC's sequence number was already protected, or lies behind the 128-packet window:
    /// protecting it again would reuse keystream (RFC 3711 §9.1).
    #[error("RTP sequence number already protected; sending it again would reuse keystream")]
    IndexReused,
    /// The 2^48 SRTP or 2^31 SRTCP indices of this key are used up (RFC 3711 §9.2): re-key.
    #[error("SRTP index space exhausted; a new key is needed")]
    IndexExhausted,
}
