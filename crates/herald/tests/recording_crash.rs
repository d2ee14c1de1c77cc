//! Crash recovery on the real binary: 20 calls are being recorded when the server is killed
//! with SIGKILL. After a restart on the same data, all 20 recordings are `interrupted`,
//! verify without any private key, export with the auditor's key, and each lost at most about
//! one second (one open segment) of what was recorded up to the kill.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Herald, HeraldConfig, Sipp, TestDialplan, age_keygen, sipp_available};
use serde_json::Value;

const CALLS: usize = 20;

/// Receives RTP until each of [`CALLS`] sources has sent `packets` packets (at most 30 s).
fn wait_for_packets(socket: &UdpSocket, packets: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut counts: HashMap<SocketAddr, usize> = HashMap::new();
    let mut buf = [0u8; 2048];
    while counts.values().filter(|&&n| n >= packets).count() < CALLS {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the calls' audio did not flow: {counts:?}");
        socket.set_read_timeout(Some(left)).expect("read timeout");
        match socket.recv_from(&mut buf) {
            // RTP (version 2) only, not RTCP.
            Ok((n, from)) if common::is_rtp(&buf[..n]) => {
                *counts.entry(from).or_default() += 1;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("receiving RTP: {e}"),
        }
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[test]
fn recordings_survive_a_kill_9_losing_at_most_the_open_segment() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a test directory");
    let Some((identity, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).expect("a prompts directory");
    common::write_tone(&prompts.join("tone.wav"));
    let config = HeraldConfig {
        dialplan: TestDialplan::Application(common::RECORDED_TONE.to_owned()),
        media: vec![format!(
            "prompts = {}",
            common::toml_str(&prompts.display().to_string())
        )],
        extra: vec![format!(
            "[recorder]\nrecipients = [{}]",
            common::toml_str(&recipient)
        )],
        ..HeraldConfig::default()
    };
    let herald = Herald::start_in(dir.path(), &config);
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("the callers' RTP socket");
    let rtp_port = rtp.local_addr().expect("local address").port();

    let killed_at = std::thread::scope(|scope| {
        // The callers stay on the line; they fail once the server is gone, which is the point.
        let callers = scope.spawn(|| {
            Sipp::new("uac_media.xml")
                .calls(CALLS as u32)
                .set("rtp_port", &rtp_port.to_string())
                .timeout(Duration::from_secs(20))
                .run(&herald)
        });
        herald.wait_for_recordings("every call recording", |r| {
            r.len() == CALLS && r.iter().all(|r| r["state"] == "recording")
        });
        // Every call's SDP points at our socket: once each stream has sent us 4 s of the
        // tone (200 packets), each recording holds at least 3 sealed seconds.
        wait_for_packets(&rtp, 200);
        let killed_at = unix_ms();
        herald.kill_9();
        let _ = callers.join();
        killed_at
    });
    drop(herald);

    let herald = Herald::start_in(dir.path(), &config);
    let recordings = herald.recordings();
    assert_eq!(recordings.len(), CALLS, "{recordings:?}");
    for recording in &recordings {
        let id = recording["id"].as_str().expect("an id");
        assert_eq!(recording["state"], "interrupted", "{recording}");
        assert!(recording["digest"].is_string(), "{recording}");
        assert!(
            recording["segments"].as_u64().unwrap_or(0) >= 3,
            "{recording}"
        );
        let verified: Value =
            serde_json::from_str(&herald.cli(&["recordings", "verify", id, "--json"])).unwrap();
        assert_eq!(verified["intact"], true, "{verified}");
        assert!(
            verified["verdict"]
                .as_str()
                .unwrap()
                .starts_with("Interrupted"),
            "{verified}"
        );

        let out = dir.path().join("export");
        herald.export(id, &identity, &out);
        let reader = hound::WavReader::open(out.join(format!("{id}.wav"))).expect("the WAV");
        let recorded = f64::from(reader.duration()) / 8000.0;
        let started = recording["started_at"].as_i64().unwrap();
        let up_to_kill = (killed_at - started) as f64 / 1000.0;
        let lost = up_to_kill - recorded;
        assert!(
            (-0.2..=1.5).contains(&lost),
            "recording {id}: {recorded:.2} s kept of {up_to_kill:.2} s recorded before the kill"
        );
    }
    // Recovery is done once: a second restart finds nothing left open.
    drop(herald);
    let herald = Herald::start_in(dir.path(), &config);
    assert!(
        !herald.log().contains("closed as interrupted"),
        "{}",
        herald.log()
    );
}
