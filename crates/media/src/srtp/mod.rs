//! SRTP and SRTCP (RFC 3711) with SDES keys (RFC 4568), as hard phones use them: AudioCodes and
//! Polycom phones configured for secure media offer `RTP/SAVP` with `a=crypto` lines.
//!
//! # What it does
//!
//! - [`SrtpSession`] protects our RTP and RTCP with our key and unprotects the peer's with
//!   theirs, in place, in a buffer the caller owns: no allocation, no I/O, no clock.
//! - Suites ([`SrtpSuite`]): `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32` (RFC 3711,
//!   RFC 4568) and `AEAD_AES_128_GCM`, `AEAD_AES_256_GCM` (RFC 7714).
//! - Session keys are derived once from the master key (RFC 3711 §4.3 with a key derivation rate
//!   of 0; AES-256 as the PRF for `AEAD_AES_256_GCM`, RFC 7714 §11).
//! - The packet index of each received SSRC is estimated from its sequence number (§3.3.1), so a
//!   sequence number wrapping from 65535 to 0 keeps decrypting; our own ROC follows our sequence
//!   numbers the same way.
//! - Replay protection (§3.3.2) over 128 packets per SSRC, for SRTP and SRTCP; packets may arrive
//!   out of order within that window. State changes only after a packet authenticated.
//! - SRTCP carries the E flag and the 31-bit SRTCP index (§3.4); we always encrypt, and accept
//!   the peer's unencrypted-but-authenticated SRTCP (E = 0) too.
//! - [`SdesKey`] reads and writes the `inline:` key parameters of `a=crypto`.
//!
//! # What it does not do
//!
//! - No MKI, no several keys per line, no key derivation rate other than 0, no `UNENCRYPTED_*`
//!   session parameters: such `a=crypto` lines are refused during negotiation (the SDP crate
//!   does not pick them and [`SdesKey::from_key_params`] refuses them).
//! - The key lifetime is accepted and ignored. The index spaces themselves are enforced:
//!   [`MisuseError::IndexExhausted`] asks for a new key after 2^48 RTP or 2^31 RTCP packets.
//! - No `AES_256_CM_HMAC_SHA1_*` (RFC 6188), F8 or NULL-cipher suites; no DTLS-SRTP (WebRTC
//!   keys come from DTLS, another module's job, though [`SrtpSession`] would carry them).
//! - No demultiplexing: with `rtcp-mux` the caller tells RTCP (payload types 192..=223 in the
//!   second byte, RFC 5761 §4) from RTP and calls the matching method.
//! - No randomness: our key is an input ([`SdesKey::new`]), drawn by the caller from a CSPRNG.
//!
//! # Use
//!
//! ```
//! use herald_media::srtp::{PeerError, SdesKey, SrtpError, SrtpSession, SrtpSuite};
//!
//! let suite = SrtpSuite::AesCm128HmacSha1_80;
//! // In a call, ours comes from a CSPRNG and theirs from the peer's `a=crypto` line.
//! let ours = SdesKey::new(suite, &[7; 30])?;
//! let theirs = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20";
//! let theirs = SdesKey::from_key_params(suite, theirs)?;
//! let mut sender = SrtpSession::new(ours.clone(), theirs.clone())?;
//! let mut receiver = SrtpSession::new(theirs, ours)?; // the peer's view
//!
//! let mut buf = [0u8; 1500];
//! let rtp = [0x80, 0, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe, 0xd5, 0xd5, 0xd5, 0xd5];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let len = sender.protect_rtp(&mut buf, rtp.len())?;
//! assert_eq!(len, rtp.len() + suite.rtp_overhead());
//!
//! let mut datagram = buf[..len].to_vec();
//! assert_eq!(receiver.unprotect_rtp(&mut datagram)?, rtp.len());
//! assert_eq!(&datagram[..rtp.len()], &rtp);
//! let mut again = buf[..len].to_vec();
//! assert_eq!(receiver.unprotect_rtp(&mut again), Err(SrtpError::Peer(PeerError::Replayed)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! After SDP negotiation, [`SrtpSession::from_negotiated`] builds the session from the keys the
//! SDP crate returns. A re-INVITE that keeps both keys keeps the session (and so its ROC and
//! replay state); one that changes only the peer's key calls
//! [`SrtpSession::replace_remote_key`]; a new key of ours means a new session.
//!
//! # Why RustCrypto primitives rather than an SRTP library
//!
//! The protocol logic here is small; the primitives are `aes`, `ctr`, `hmac`/`sha1` and
//! `aes-gcm` from RustCrypto: pure Rust, AES-NI and CLMUL detected at run time, and their key
//! schedules and HMAC states wiped on drop (`zeroize` features). The libraries looked at do not
//! fit the in-place, allocation-free, sans-IO shape:
//!
//! - `rtc-srtp` 0.21 (webrtc-rs, sans-IO, ring-based, all our suites) returns a new `BytesMut`
//!   for every packet, parses each header into an owned `rtp::Header` (CSRC and extension
//!   vectors), and derives keys into `Vec`s; it also brings `rtc-rtp`, `rtc-rtcp` and
//!   `rtc-shared`.
//! - `srtp` 0.7 wraps libsrtp2 over FFI: a C build with OpenSSL for GCM, and `unsafe` glue.
//!   libsrtp2 (Debian's, through `python3-pylibsrtp`) serves instead as the interop reference
//!   (`tests/srtp_libsrtp.rs`).
//!
//! Correctness rests on the published vectors (RFC 3711 B.2 and B.3, RFC 7714 §16 and §17, in
//! this module's tests) and on packets protected by libsrtp.

mod error;
mod kdf;
mod key;
mod packet;
mod replay;
mod suite;
mod transform;

#[cfg(test)]
mod rfc_vectors;

pub use error::{MisuseError, PeerError, SrtpError};
pub use key::{SdesKey, SdesKeyError};
pub use suite::{SrtpSuite, UnsupportedSuite};

use packet::{RTCP_HEADER_LEN, RtpHeader, rtcp_ssrc};
use replay::{Freshness, ReplayWindow, SsrcTable, estimate_index};
use transform::{Protocol, Transform};

/// The SRTP index has 48 bits (RFC 3711 §3.3.1).
const INDEX_LIMIT: u64 = 1 << 48;

/// The SRTCP index has 31 bits (RFC 3711 §3.4).
const SRTCP_INDEX_LIMIT: u32 = 1 << 31;

/// One SRTP session: our key protects what we send, the peer's key unprotects what we receive.
///
/// Each direction keeps per-SSRC state (index and replay window) for up to four SSRCs. The
/// type is `Send`; a media worker owns it with the stream it belongs to.
pub struct SrtpSession {
    suite: SrtpSuite,
    outbound: Side<u32>,
    inbound: Side<ReplayWindow>,
}

/// `Debug` shows the suite only: everything else is key material or derived from it.
impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// A media worker thread owns sessions: they must be `Send`.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<SrtpSession>();
};

/// The keys and per-SSRC state of one direction. `R` is the SRTCP state: the next index to send,
/// or the replay window of received ones.
struct Side<R> {
    rtp: Transform,
    rtcp: Transform,
    rtp_streams: SsrcTable<ReplayWindow>,
    rtcp_streams: SsrcTable<R>,
}

impl<R> Side<R> {
    fn new(key: &SdesKey) -> Self {
        Self {
            rtp: Transform::derive(key, Protocol::Rtp),
            rtcp: Transform::derive(key, Protocol::Rtcp),
            rtp_streams: SsrcTable::default(),
            rtcp_streams: SsrcTable::default(),
        }
    }
}

impl SrtpSession {
    /// A session sending with `local` (our key, the one in our `a=crypto`) and receiving with
    /// `remote` (the peer's). The keys are consumed and wiped once the session keys are derived.
    ///
    /// # Errors
    ///
    /// [`SdesKeyError::SuiteMismatch`] when the keys are for different suites.
    pub fn new(local: SdesKey, remote: SdesKey) -> Result<Self, SdesKeyError> {
        if local.suite() != remote.suite() {
            let (local, remote) = (local.suite(), remote.suite());
            return Err(SdesKeyError::SuiteMismatch { local, remote });
        }
        Ok(Self {
            suite: local.suite(),
            outbound: Side::new(&local),
            inbound: Side::new(&remote),
        })
    }

    /// The session for what SDP offer/answer agreed ([`herald_sdp::NegotiatedAudio::srtp`]).
    ///
    /// # Errors
    ///
    /// [`SdesKeyError`] when the suite is not one of ours or a key does not parse; the SDP crate
    /// only picks lines that pass its own checks, so this means the caller supplied a bad key.
    pub fn from_negotiated(srtp: &herald_sdp::NegotiatedSrtp) -> Result<Self, SdesKeyError> {
        let suite = SrtpSuite::from_name(&srtp.suite)
            .ok_or_else(|| SdesKeyError::UnsupportedSuite(srtp.suite.clone()))?;
        let local = SdesKey::from_key_params(suite, &srtp.local_key_params)?;
        let remote = SdesKey::from_key_params(suite, &srtp.remote_key_params)?;
        Self::new(local, remote)
    }

    /// Replaces the peer's key after a re-INVITE that changed only theirs: the receiving side
    /// starts afresh (a new key is a new crypto context), while what we send keeps its ROC and
    /// replay state, as the peer still holds our unchanged key's context.
    ///
    /// # Errors
    ///
    /// [`SdesKeyError::SuiteMismatch`] when `remote` is for another suite; a new suite needs a
    /// new session.
    pub fn replace_remote_key(&mut self, remote: SdesKey) -> Result<(), SdesKeyError> {
        if remote.suite() != self.suite {
            let (local, remote) = (self.suite, remote.suite());
            return Err(SdesKeyError::SuiteMismatch { local, remote });
        }
        self.inbound = Side::new(&remote);
        Ok(())
    }

    /// The negotiated suite.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Protects the RTP packet `buf[..len]` in place: encrypts its payload and appends the tag.
    /// `buf` needs [`SrtpSuite::rtp_overhead`] bytes of room after the packet. Returns the
    /// length of the SRTP packet.
    ///
    /// # Errors
    ///
    /// [`MisuseError`] only: a bad length or header, no room for the tag, or a sequence number
    /// this SSRC already sent.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let header = RtpHeader::parse(packet_of(buf, len)?).ok_or(MisuseError::NotRtp)?;
        let out = &mut self.outbound;
        check_room(buf, len + out.rtp.tag_len())?;
        let index = match out.rtp_streams.get(header.ssrc) {
            None => u64::from(header.sequence),
            Some(window) => {
                let index = estimate_index(window.highest(), header.sequence);
                if window.check(index) != Freshness::New {
                    return Err(MisuseError::IndexReused.into());
                }
                index
            }
        };
        if index >= INDEX_LIMIT {
            return Err(MisuseError::IndexExhausted.into());
        }
        let stream = out
            .rtp_streams
            .entry(header.ssrc, || ReplayWindow::starting_at(index));
        stream.accept(index);
        Ok(out.rtp.seal_rtp(buf, len, header.len, header.ssrc, index))
    }

    /// Unprotects the SRTP packet that fills `buf` (the received datagram) in place: checks
    /// replay and the tag, then decrypts. Returns the length of the RTP packet at the start of
    /// `buf`.
    ///
    /// # Errors
    ///
    /// [`PeerError`]: the packet is dropped and the session is unchanged.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let inbound = &mut self.inbound;
        let authenticated = buf.len().checked_sub(inbound.rtp.tag_len());
        let header = authenticated
            .and_then(|end| RtpHeader::parse(&buf[..end]))
            .ok_or(PeerError::Malformed)?;
        let window = inbound.rtp_streams.get(header.ssrc).copied();
        let index = match window {
            None => u64::from(header.sequence),
            Some(window) => {
                let index = estimate_index(window.highest(), header.sequence);
                check_fresh(&window, index)?;
                index
            }
        };
        let len = inbound
            .rtp
            .open_rtp(buf, header.len, header.ssrc, index)
            .map_err(|_| PeerError::AuthenticationFailed)?;
        let stream = inbound
            .rtp_streams
            .entry(header.ssrc, || ReplayWindow::starting_at(index));
        stream.accept(index);
        Ok(len)
    }

    /// Protects the RTCP packet (or compound packet) `buf[..len]` in place: encrypts all but
    /// its first 8 bytes, appends the E flag with the SRTCP index and the tag. `buf` needs
    /// [`SrtpSuite::rtcp_overhead`] bytes of room after the packet. Returns the length of the
    /// SRTCP packet.
    ///
    /// # Errors
    ///
    /// [`MisuseError`] only: a bad length or header, no room, or the SRTCP index exhausted.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = rtcp_ssrc(packet_of(buf, len)?).ok_or(MisuseError::NotRtcp)?;
        check_room(buf, len + self.suite.rtcp_overhead())?;
        let out = &mut self.outbound;
        let next = out.rtcp_streams.entry(ssrc, || 0);
        if *next >= SRTCP_INDEX_LIMIT {
            return Err(MisuseError::IndexExhausted.into());
        }
        let index = *next;
        *next += 1;
        Ok(out.rtcp.seal_rtcp(buf, len, ssrc, index))
    }

    /// Unprotects the SRTCP packet that fills `buf` in place: checks replay by its SRTCP index
    /// and the tag, then decrypts unless the E flag is clear. Returns the length of the RTCP
    /// packet at the start of `buf`.
    ///
    /// # Errors
    ///
    /// [`PeerError`]: the packet is dropped and the session is unchanged.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let inbound = &mut self.inbound;
        if buf.len() < RTCP_HEADER_LEN + self.suite.rtcp_overhead() {
            return Err(PeerError::Malformed.into());
        }
        let ssrc = rtcp_ssrc(buf).ok_or(PeerError::Malformed)?;
        let (_, index) = inbound.rtcp.srtcp_trailer(buf);
        let index = u64::from(index);
        if let Some(window) = inbound.rtcp_streams.get(ssrc) {
            check_fresh(window, index)?;
        }
        let len = inbound
            .rtcp
            .open_rtcp(buf, ssrc)
            .map_err(|_| PeerError::AuthenticationFailed)?;
        let stream = inbound
            .rtcp_streams
            .entry(ssrc, || ReplayWindow::starting_at(index));
        stream.accept(index);
        Ok(len)
    }
}

/// `buf[..len]`, or the misuse of a length beyond the buffer.
fn packet_of(buf: &[u8], len: usize) -> Result<&[u8], MisuseError> {
    buf.get(..len).ok_or(MisuseError::LengthOutOfBounds {
        len,
        capacity: buf.len(),
    })
}

fn check_room(buf: &[u8], needed: usize) -> Result<(), MisuseError> {
    if buf.len() < needed {
        return Err(MisuseError::BufferTooSmall {
            needed,
            capacity: buf.len(),
        });
    }
    Ok(())
}

fn check_fresh(window: &ReplayWindow, index: u64) -> Result<(), PeerError> {
    match window.check(index) {
        Freshness::New => Ok(()),
        Freshness::Replayed => Err(PeerError::Replayed),
        Freshness::TooOld => Err(PeerError::TooOld),
    }
}
