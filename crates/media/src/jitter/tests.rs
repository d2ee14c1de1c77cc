//! Behaviour of the jitter buffer in virtual time.
