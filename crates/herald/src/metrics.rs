//! Prometheus metrics, served by the API at `/metrics`. Names and labels are part of the
//! operator contract (`docs/api.md`); nothing personal is ever a label.
//!
//! Media counters are added when a stream closes (from its `StreamStats`), so the media
//! workers' per-packet path stays free of shared counters.

use metrics::{counter, describe_counter};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the process-wide recorder; `None` if one is installed already.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    describe_counter!(
        "herald_calls_total",
        "Calls received (INVITEs that started a call)."
    );
    describe_counter!("herald_calls_ended_total", "Calls ended, by cause.");
    describe_counter!("herald_registrations_total", "Accepted REGISTER requests.");
    describe_counter!(
        "herald_rtp_packets_total",
        "RTP packets, by direction (counted when a stream closes)."
    );
    describe_counter!(
        "herald_rtp_late_packets_total",
        "RTP packets sent late or skipped after a stall."
    );
    describe_counter!(
        "herald_rtp_lost_packets_total",
        "RTP packets lost by the peer's stream (RFC 3550)."
    );
    describe_counter!(
        "herald_dtmf_total",
        "DTMF digits received, by method (never the digit)."
    );
    describe_counter!(
        "herald_recordings_total",
        "Recordings started, or failed to start."
    );
    describe_counter!("herald_audit_entries_total", "Audit log entries written.");
    describe_counter!("herald_errors_total", "Errors, by kind.");
    Some(handle)
}

pub fn call_started() {
    counter!("herald_calls_total").increment(1);
}

pub fn call_ended(cause: &str) {
    counter!("herald_calls_ended_total", "cause" => cause.to_owned()).increment(1);
}

pub fn registration() {
    counter!("herald_registrations_total").increment(1);
}

/// A registration with a trunk succeeded or failed.
pub fn trunk_registration(trunk: &str, ok: bool) {
    let outcome = if ok { "registered" } else { "failed" };
    counter!("herald_trunk_registrations_total", "trunk" => trunk.to_owned(), "outcome" => outcome)
        .increment(1);
}

pub fn dtmf(method: &'static str) {
    counter!("herald_dtmf_total", "method" => method).increment(1);
}

pub fn recording(outcome: &'static str) {
    counter!("herald_recordings_total", "outcome" => outcome).increment(1);
}

pub fn audit_entry() {
    counter!("herald_audit_entries_total").increment(1);
}

pub fn error(kind: &'static str) {
    counter!("herald_errors_total", "kind" => kind).increment(1);
}

/// A closed stream's counters.
pub fn stream_closed(stats: &herald_media::stream::StreamStats) {
    counter!("herald_rtp_packets_total", "direction" => "received")
        .increment(stats.packets_received);
    counter!("herald_rtp_packets_total", "direction" => "sent").increment(stats.packets_sent);
    counter!("herald_rtp_late_packets_total").increment(stats.packets_late);
    counter!("herald_rtp_lost_packets_total").increment(stats.packets_lost.max(0).unsigned_abs());
    counter!("herald_errors_total", "kind" => "rtp-malformed").increment(stats.malformed);
    counter!("herald_errors_total", "kind" => "srtp-auth").increment(stats.srtp_failures);
}
