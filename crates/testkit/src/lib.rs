//! Test support for Herald: real servers and free ports for tests.
//!
//! - [`PostgresServer`] starts a real, throwaway PostgreSQL server from the
//!   binaries Debian installs under `/usr/lib/postgresql/<version>/bin`, in a
//!   temporary directory, listening on `127.0.0.1` only, and removes it again
//!   on drop.
//! - [`free_loopback_tcp_port`] and [`free_loopback_udp_port`] find ports
//!   for test servers.
//! - [`capture::udp_datagrams`] reads the UDP datagrams of a pcap or pcapng
//!   file, for tests that replay real captures.
//! - [`wav::write_wav`] writes small WAV prompts.
//!
//! This crate is a dev-dependency only. It runs external programs, blocks
//! the calling thread while it waits for them, and panics in the `*_or_skip`
//! helpers, which is what a test wants and nothing else should.
//!
//! Time: waiting is always polling a condition with a deadline (for example
//! `pg_isready` every 50 ms for at most 30 s), never a fixed sleep.

pub mod capture;
pub mod http;
mod ports;
mod postgres;
mod s3;
mod system_user;
pub mod wav;

pub use ports::{free_loopback_tcp_port, free_loopback_udp_port};
pub use postgres::{PostgresError, PostgresServer};
pub use s3::{S3Server, S3ServerError};

/// An error and its sources, one line: `outer: inner: innermost`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
