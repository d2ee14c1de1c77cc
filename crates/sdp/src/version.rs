//! Keeping `o=` right across a dialog's offers and answers (RFC 3264 §8).

use crate::model::SessionDescription;

/// The `o=` identity of our side of one dialog.
///
/// RFC 3264 §8: every description we send in a dialog keeps the session id of the first one; the
/// version increases by one when the content changed and stays the same when it did not (a
/// session refresh re-INVITE must not look like a media change). A dialog holds one of these and
/// passes every description it sends through [`SessionVersion::stamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionVersion {
    session_id: u64,
    version: u64,
    last_sent: Option<SessionDescription>,
}

impl SessionVersion {
    /// Starts a dialog's identity; the first stamped description gets `initial_version`.
    pub fn new(session_id: u64, initial_version: u64) -> Self {
        Self {
            session_id,
            version: initial_version,
            last_sent: None,
        }
    }

    /// The session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version of the last stamped description (or the initial one).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Writes our session id and the right version into `sdp` and remembers it as sent.
    pub fn stamp(&mut self, mut sdp: SessionDescription) -> SessionDescription {
        sdp.origin.session_id = self.session_id;
        sdp.origin.session_version = self.version;
        if let Some(last) = &self.last_sent
            && *last != sdp
        {
            self.version = self.version.wrapping_add(1);
            sdp.origin.session_version = self.version;
        }
        self.last_sent = Some(sdp.clone());
        sdp
    }
}
