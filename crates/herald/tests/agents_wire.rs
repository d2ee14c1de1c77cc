//! Agents on desk phones, end to end on loopback: SIPp callers dial the shipped disclosure
//! application, accept recording and are transferred to the `support` group, whose members
//! are SIPp phones written after AudioCodes 420HD (UDP, RFC 2833) and Polycom VVX 411 (TCP,
//! SIP INFO) firmware. The test is every party's RTP endpoint: the caller sends a 440 Hz tone,
//! the agents 1 kHz, and each checks it hears the other through Herald. The agent holds and
//! resumes, the caller hangs up; the call record shows the whole path and the exported
//! recording has the caller on the left channel and the agent on the right, with a hold gap.
//! Busy and unanswered agents give the document its transfer outcome and the fallback.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{
    Herald, HeraldConfig, Phone, Sipp, SippChild, TestDialplan, User, age_keygen, event_kinds,
    sipp_available,
};
use herald_media::codec::g711::{linear_to_ulaw, ulaw_to_linear};
use herald_media::srtp::{SdesKey, SrtpSession, SrtpSuite};
use serde_json::Value;

/// A French DID: the shipped dialplan's `fr` route (disclosure in French, group `support`).
const FRENCH: &str = "+33123456789";
const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
/// The RFC 4733 payload type Herald offers for telephone-event/8000.
const EVENT_PT: u8 = 101;

/// How long the whole conversation may take before the test gives up.
const CALL_BOUND: Duration = Duration::from_secs(120);

fn groups(extra: &str) -> String {
    format!(
        "[agent_groups.support]\nmembers = [\"alice\", \"bob\"]\nstrategy = \"longest-idle\"\nring_timeout = 10\nwrap_up = 600\n{extra}"
    )
}

fn herald_with(dir: &Path, recipient: &str, extra: &str) -> Herald {
    Herald::start_in(
        dir,
        &HeraldConfig {
            tcp: true,
            users: vec![User::new("alice", "alice-pw"), User::new("bob", "bob-pw")],
            // SIPp answers MD5 challenges only (as many desk phones do).
            algorithms: Some(vec!["MD5".into()]),
            dialplan: TestDialplan::Shipped,
            extra: vec![
                format!("[recorder]\nrecipients = [{}]", common::toml_str(recipient)),
                groups(extra),
            ],
            ..HeraldConfig::default()
        },
    )
}

/// One RTP packet of a tone (PCMU, 20 ms).
fn tone_packet(seq: u32, ssrc: u32, hz: f64) -> Vec<u8> {
    let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    packet[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&(seq * 160).to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for i in 0..160 {
        let t = f64::from(seq * 160 + i) / 8000.0;
        packet.push(linear_to_ulaw(
            (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16,
        ));
    }
    packet
}

/// An RFC 4733 packet for digit 5 (`end` on the last three).
fn event_packet(seq: u32, ssrc: u32, timestamp: u32, duration: u16, end: bool) -> Vec<u8> {
    let mut packet = vec![0x80, EVENT_PT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    packet[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(&[5, if end { 0x80 | 10 } else { 10 }]);
    packet.extend_from_slice(&duration.to_be_bytes());
    packet
}

/// The power of `hz` in a frame relative to the frame's power (Goertzel), 0 to about 1.
fn tone_share(samples: &[i16], hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let tone = s1 * s1 + s2 * s2 - k * s1 * s2;
    let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    if total < 1e3 {
        return 0.0;
    }
    2.0 * tone / (total * samples.len() as f64)
}

/// Whether a 20 ms frame is mostly `hz`.
fn is_tone(samples: &[i16], hz: f64) -> bool {
    tone_share(samples, hz) > 0.5
}

/// One party's media: answers every RTP packet from Herald with one of its own tone (so both
/// directions run at Herald's pace), counts the received frames that carry `listen_for`, and
/// when `digit_after` packets were exchanged, sends an RFC 4733 digit in place of audio.
struct Party {
    socket: UdpSocket,
    hz: f64,
    listen_for: f64,
    digit_after: Option<u32>,
    exchanged: AtomicU32,
    heard: AtomicU32,
    stop: AtomicBool,
    /// SRTP with Herald, once the keys are known: packets that do not authenticate are not
    /// heard.
    srtp: Mutex<Option<SrtpSession>>,
}

impl Party {
    fn new(hz: f64, listen_for: f64, digit_after: Option<u32>) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("an RTP socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("a read timeout");
        Self {
            socket,
            hz,
            listen_for,
            digit_after,
            exchanged: AtomicU32::new(0),
            heard: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            srtp: Mutex::new(None),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("a local address")
    }

    fn run(&self) {
        let mut buf = [0u8; 2048];
        let ssrc = 0x1234_0000 | (self.hz as u32);
        let started = Instant::now();
        let mut seq = 0u32;
        let mut digit_sent = 0u32;
        while !self.stop.load(Ordering::Relaxed) && started.elapsed() < CALL_BOUND {
            let Ok((mut len, from)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            if !common::is_rtp(&buf[..len]) {
                continue;
            }
            let mut srtp = self.srtp.lock().expect("the SRTP session");
            if let Some(session) = srtp.as_mut() {
                match session.unprotect_rtp(&mut buf[..len]) {
                    Ok(plain) => len = plain,
                    Err(_) => continue,
                }
            }
            if len < 12 + 160 {
                continue;
            }
            let pcm: Vec<i16> = buf[12..12 + 160]
                .iter()
                .map(|&b| ulaw_to_linear(b))
                .collect();
            if buf[1] & 0x7f == 0 && is_tone(&pcm, self.listen_for) {
                self.heard.fetch_add(1, Ordering::Relaxed);
            }
            let n = self.exchanged.fetch_add(1, Ordering::Relaxed);
            let packet = match self.digit_after {
                Some(at) if n >= at && digit_sent < 8 => {
                    digit_sent += 1;
                    let end = digit_sent > 5;
                    event_packet(seq, ssrc, at * 160, (digit_sent.min(6) * 160) as u16, end)
                }
                _ => tone_packet(seq, ssrc, self.hz),
            };
            seq += 1;
            let mut packet = packet;
            if let Some(session) = srtp.as_mut() {
                let plain = packet.len();
                packet.resize(plain + 16, 0);
                let Ok(sealed) = session.protect_rtp(&mut packet, plain) else {
                    continue;
                };
                packet.truncate(sealed);
            }
            let _ = self.socket.send_to(&packet, from);
        }
    }

    /// Waits (bounded) until this party heard the other in `n` frames in all.
    fn hear(&self, n: u32) {
        let deadline = Instant::now() + CALL_BOUND;
        while self.heard.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "heard the other party in only {} frames",
                self.heard.load(Ordering::Relaxed)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn detail<'v>(call: &'v Value, kind: &str) -> Vec<&'v Value> {
    call["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["kind"] == kind)
                .map(|e| &e["detail"])
                .collect()
        })
        .unwrap_or_default()
}

fn has_event(call: &Value, kind: &str, field: &str, value: &str) -> bool {
    detail(call, kind).iter().any(|d| d[field] == value)
}

/// Waits until the phone's REGISTER got its 200.
fn registered(phone: &SippChild) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = phone.messages();
        if messages.contains("SIP/2.0 200 OK") && messages.contains("REGISTER") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the phone never registered:\n{messages}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One bridged call from a caller to whichever agent the group picks; returns the call record.
fn bridged_call(herald: &Herald, caller_number: &str, agent: &Party, user: &str) -> Value {
    let caller = Party::new(CALLER_HZ, AGENT_HZ, None);
    let sipp = Sipp::new("uac_media_hangup.xml")
        .ooc("uac_stop_ooc.xml")
        .caller(caller_number)
        .service(FRENCH)
        .set("rtp_port", &caller.addr().port().to_string())
        .timeout(CALL_BOUND)
        .spawn(herald);
    std::thread::scope(|scope| {
        scope.spawn(|| caller.run());
        scope.spawn(|| agent.run());
        let label = format!("agent:{user}");
        let pick = |c: &Value| c["caller"] == caller_number;
        herald.wait_for_call_within(CALL_BOUND, "the agent resumed", pick, |c| {
            has_event(c, "resume", "by", &label)
        });
        // After the resumption (and the IVR's last prompts) both talk for a few seconds; then
        // the agent presses a key (when it has one).
        caller.hear(150);
        agent.hear(150);
        if agent.digit_after.is_some() {
            herald.wait_for_call_within(CALL_BOUND, "the agent's digit", pick, |c| {
                has_event(c, "leg-dtmf", "by", &label)
            });
        }
        let run = sipp.stop(CALL_BOUND);
        caller.stop.store(true, Ordering::Relaxed);
        agent.stop.store(true, Ordering::Relaxed);
        run.assert_success("the caller");
    });
    assert!(
        caller.heard.load(Ordering::Relaxed) > 50,
        "the caller heard the agent in {} frames",
        caller.heard.load(Ordering::Relaxed)
    );
    assert!(
        agent.heard.load(Ordering::Relaxed) > 50,
        "the agent heard the caller in {} frames",
        agent.heard.load(Ordering::Relaxed)
    );
    herald.wait_for_call_where(
        "the call ended",
        |c| c["caller"] == caller_number,
        |c| c["state"] == "ended" && !detail(c, "bridge-ended").is_empty(),
    )
}

#[test]
fn callers_are_bridged_to_audiocodes_and_polycom_agents_and_recorded_in_stereo() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory");
    let Some((identity, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let herald = herald_with(dir.path(), &recipient, "");
    let alice_media = Party::new(AGENT_HZ, CALLER_HZ, Some(100));
    let bob_media = Party::new(AGENT_HZ, CALLER_HZ, None);
    let alice = Sipp::phone(Phone::AudioCodes420, "alice", "alice-pw")
        .plan("a")
        .invites(1)
        .rtp_endpoint(alice_media.addr())
        .set("talk_ms", "2000")
        .set("hold_ms", "1500")
        .stay(CALL_BOUND)
        .spawn(&herald);
    let bob = Sipp::phone(Phone::PolycomVvx411, "bob", "bob-pw")
        .plan("a")
        .invites(1)
        .rtp_endpoint(bob_media.addr())
        .set("talk_ms", "2000")
        .set("hold_ms", "1500")
        .set("digits", "7")
        .stay(CALL_BOUND)
        .spawn(&herald);
    registered(&alice);
    registered(&bob);

    // First caller: both agents are free and never called; longest-idle takes the first
    // member, alice, on her AudioCodes phone over UDP.
    let first = bridged_call(&herald, "+33612345678", &alice_media, "alice");
    // Second caller: alice is in wrap-up, bob's Polycom over TCP takes it.
    let second = bridged_call(&herald, "+33698765432", &bob_media, "bob");
    alice
        .wait(CALL_BOUND)
        .assert_success("alice's AudioCodes phone");
    bob.wait(CALL_BOUND).assert_success("bob's Polycom phone");

    for (call, user, profile, dtmf) in [
        (&first, "alice", "audiocodes", "rfc4733"),
        (&second, "bob", "polycom", "sip-info"),
    ] {
        let label = format!("agent:{user}");
        let kinds = event_kinds(call);
        let path: Vec<&str> = kinds
            .iter()
            .map(String::as_str)
            .filter(|k| {
                matches!(
                    *k,
                    "recording-started"
                        | "transfer"
                        | "leg-ringing"
                        | "bridged"
                        | "hold"
                        | "resume"
                        | "bridge-ended"
                )
            })
            .collect();
        assert_eq!(
            path,
            [
                "recording-started",
                "transfer",
                "leg-ringing",
                "bridged",
                "hold",
                "resume",
                "bridge-ended"
            ],
            "{call:#}"
        );
        assert!(
            has_event(call, "transfer", "to", "queue:support"),
            "{call:#}"
        );
        assert!(
            has_event(call, "leg-ringing", "profile", profile),
            "{call:#}"
        );
        assert!(has_event(call, "bridged", "to", &label), "{call:#}");
        assert!(has_event(call, "hold", "by", &label), "{call:#}");
        assert!(has_event(call, "bridge-ended", "by", "caller"), "{call:#}");
        assert!(has_event(call, "leg-dtmf", "method", dtmf), "{call:#}");
        assert_eq!(call["hangup_cause"], "caller-bye", "{call:#}");
        // The recording: stereo, the caller left, the agent right, a hold gap.
        let recordings = herald.wait_for_recordings("the call's complete recording", |r| {
            r.iter()
                .any(|r| r["call_id"] == call["id"] && r["state"] == "complete")
        });
        let recording = recordings
            .iter()
            .find(|r| r["call_id"] == call["id"])
            .expect("a recording of the call");
        let id = recording["id"].as_str().expect("a recording id");
        let details = common::json(&herald.cli(&["recordings", "show", id, "--json"]));
        let gaps = details["gaps"].as_array().cloned().unwrap_or_default();
        assert!(
            gaps.iter().any(|g| g["reason"] == "hold"
                && g["actor"] == "bridge"
                && g["end_position"].is_u64()),
            "a closed hold gap: {details:#}"
        );
        let out = dir.path().join(format!("export-{user}"));
        std::fs::create_dir_all(&out).expect("an export directory");
        let (wav, _) = herald.export(id, &identity, &out);
        let mut reader = hound::WavReader::open(&wav).expect("the WAV");
        assert_eq!(reader.spec().channels, 2);
        let samples: Vec<i16> = reader
            .samples::<i16>()
            .map(|s| s.expect("a sample"))
            .collect();
        let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
        let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
        let frames =
            |channel: &[i16], hz| channel.chunks_exact(160).filter(|f| is_tone(f, hz)).count();
        let counts = format!(
            "{user}: left {} caller / {} agent frames, right {} caller / {} agent frames, of {}",
            frames(&left, CALLER_HZ),
            frames(&left, AGENT_HZ),
            frames(&right, CALLER_HZ),
            frames(&right, AGENT_HZ),
            left.len() / 160
        );
        assert!(
            frames(&left, CALLER_HZ) > 100,
            "the caller on the left: {counts}"
        );
        assert!(
            frames(&right, AGENT_HZ) > 100,
            "the agent on the right: {counts}"
        );
        assert_eq!(frames(&left, AGENT_HZ), 0, "no agent on the left: {counts}");
        assert_eq!(
            frames(&right, CALLER_HZ),
            0,
            "no caller on the right: {counts}"
        );
    }
}

/// A document that transfers to the group named by the called user and exits with the
/// transfer's outcome, after the fallback prompt.
fn outcome_application() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form>
    <transfer name="call" bridge="true" connecttimeout="20s"
              destexpr="'queue:' + session.connection.local.uri.split('@')[0].split(':')[1]"/>
    <block>
      <prompt><audio src="prompt:no-agents"/></prompt>
      <exit expr="call"/>
    </block>
  </form>
</vxml>
"#
    .to_owned()
}

#[test]
fn busy_and_unanswered_agents_give_the_document_its_outcome_and_fallback() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory");
    let herald = Herald::start_in(
        dir.path(),
        &HeraldConfig {
            tcp: true,
            users: vec![User::new("alice", "alice-pw"), User::new("bob", "bob-pw")],
            // SIPp answers MD5 challenges only (as many desk phones do).
            algorithms: Some(vec!["MD5".into()]),
            dialplan: TestDialplan::Application(outcome_application()),
            extra: vec![
                "[agent_groups.busydesk]\nmembers = [\"alice\"]\n\n[agent_groups.quietdesk]\nmembers = [\"bob\"]\nring_timeout = 2\n"
                    .to_owned(),
            ],
            ..HeraldConfig::default()
        },
    );
    // Both phones also subscribe to message-summary, as desk phones with a voicemail key do.
    let alice = Sipp::phone(Phone::AudioCodes420, "alice", "alice-pw")
        .plan("b")
        .invites(1)
        .set("mwi", "yes")
        .stay(CALL_BOUND)
        .spawn(&herald);
    let bob = Sipp::phone(Phone::PolycomVvx411, "bob", "bob-pw")
        .plan("n")
        .invites(1)
        .set("mwi", "yes")
        .stay(CALL_BOUND)
        .spawn(&herald);
    registered(&alice);
    registered(&bob);
    for (desk, outcome, leg) in [
        ("busydesk", "busy", "leg-busy"),
        ("quietdesk", "noanswer", "leg-no-answer"),
    ] {
        Sipp::new("uac_media.xml")
            .service(desk)
            .set("rtp_port", "9")
            .timeout(CALL_BOUND)
            .run(&herald)
            .assert_success(desk);
        let call = herald.wait_for_call_where(
            desk,
            |c| c["callee"] == desk,
            |c| c["state"] == "ended" && !detail(c, "ivr-exit").is_empty(),
        );
        let exit = detail(&call, "ivr-exit");
        assert_eq!(exit[0]["value"], outcome, "{call:#}");
        assert!(!detail(&call, leg).is_empty(), "{call:#}");
        assert!(
            detail(&call, "ivr-prompt")
                .iter()
                .any(|p| p["src"] == "prompt:no-agents"),
            "the fallback played: {call:#}"
        );
        assert!(detail(&call, "bridged").is_empty(), "{call:#}");
    }
    for (phone, what) in [(alice, "the busy phone"), (bob, "the phone nobody answers")] {
        let run = phone.wait(CALL_BOUND);
        run.assert_success(what);
        // Herald has no voicemail: the subscription is accepted and says "no messages".
        let notify = run
            .messages
            .find("NOTIFY sip:")
            .map(|at| &run.messages[at..])
            .unwrap_or_else(|| panic!("{what}: no NOTIFY for its SUBSCRIBE:\n{}", run.messages));
        let notify = &notify[..notify.find("\n-----").unwrap_or(notify.len())];
        assert!(notify.contains("Event: message-summary"), "{notify}");
        assert!(
            notify.contains("application/simple-message-summary")
                && notify.contains("Messages-Waiting: no"),
            "{notify}"
        );
    }
}

/// Herald's SDES key for `suite` from the INVITE the phone received.
fn offered_key(messages: &str, suite: &str) -> Option<String> {
    let at = messages.find("INVITE sip:")?;
    let line = messages[at..]
        .lines()
        .find(|l| l.starts_with("a=crypto:") && l.contains(suite))?;
    let inline = line.split("inline:").nth(1)?;
    Some(inline.split(['|', ' ', '\r']).next()?.to_owned())
}

#[test]
fn a_polycom_agent_is_called_with_sdes_srtp_limited_to_the_suites_the_firmware_knows() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory");
    let Some((_, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let herald = Herald::start_in(
        dir.path(),
        &HeraldConfig {
            tcp: true,
            users: vec![User::new("carol", "carol-pw").with_srtp()],
            algorithms: Some(vec!["MD5".into()]),
            dialplan: TestDialplan::Shipped,
            media: vec![
                "srtp = \"optional\"".into(),
                "srtp_over_plain_sip = true".into(),
            ],
            extra: vec![
                format!(
                    "[recorder]\nrecipients = [{}]",
                    common::toml_str(&recipient)
                ),
                "[agent_groups.support]\nmembers = [\"carol\"]\n".to_owned(),
            ],
            ..HeraldConfig::default()
        },
    );
    let carol_media = Party::new(AGENT_HZ, CALLER_HZ, None);
    let carol = Sipp::phone(Phone::PolycomVvx411, "carol", "carol-pw")
        .plan("a")
        .invites(1)
        .rtp_endpoint(carol_media.addr())
        .set("talk_ms", "1000")
        .set("hold_ms", "1000")
        .stay(CALL_BOUND)
        .spawn(&herald);
    registered(&carol);
    std::thread::scope(|scope| {
        // Once Herald's INVITE is at the phone, the test (the phone's media) knows both keys.
        scope.spawn(|| {
            let deadline = Instant::now() + CALL_BOUND;
            let herald_key = loop {
                if let Some(key) = offered_key(&carol.messages(), "AES_CM_128_HMAC_SHA1_80") {
                    break key;
                }
                assert!(Instant::now() < deadline, "no SRTP offer reached the phone");
                std::thread::sleep(Duration::from_millis(20));
            };
            let suite = SrtpSuite::AesCm128HmacSha1_80;
            let session = SrtpSession::new(
                SdesKey::from_key_params(suite, &format!("inline:{}", common::PHONE_SRTP_KEY))
                    .expect("the phone's key"),
                SdesKey::from_key_params(suite, &format!("inline:{herald_key}"))
                    .expect("Herald's key"),
            )
            .expect("an SRTP session");
            *carol_media.srtp.lock().expect("the session") = Some(session);
        });
        bridged_call(&herald, "+33611112222", &carol_media, "carol");
    });
    let run = carol.wait(CALL_BOUND);
    run.assert_success("carol's Polycom phone");
    let messages = run.messages;
    let invite = &messages[messages.find("INVITE sip:").expect("Herald's INVITE")..];
    let body_end = invite.find("\n-----").unwrap_or(invite.len());
    let invite = &invite[..body_end];
    assert!(
        invite.contains("m=audio") && invite.contains("RTP/SAVP"),
        "{invite}"
    );
    let suites: Vec<&str> = invite
        .lines()
        .filter(|l| l.starts_with("a=crypto:"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        suites,
        ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"],
        "the Polycom profile offers the AES-CM suites only: {invite}"
    );
}

#[test]
fn an_agent_transfers_the_caller_to_another_agent_with_refer() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a directory");
    let Some((_, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let herald = herald_with(dir.path(), &recipient, "");
    let bob_media = Party::new(AGENT_HZ, CALLER_HZ, None);
    // alice answers and hands the caller to bob (a blind transfer from her phone).
    let alice = Sipp::phone(Phone::AudioCodes420, "alice", "alice-pw")
        .plan("r")
        .refer_to("sip:bob@herald.test")
        .invites(1)
        .set("talk_ms", "500")
        .stay(CALL_BOUND)
        .spawn(&herald);
    let bob = Sipp::phone(Phone::PolycomVvx411, "bob", "bob-pw")
        .plan("a")
        .invites(1)
        .rtp_endpoint(bob_media.addr())
        .set("talk_ms", "2000")
        .set("hold_ms", "1500")
        .stay(CALL_BOUND)
        .spawn(&herald);
    registered(&alice);
    registered(&bob);
    let call = bridged_call(&herald, "+33655554444", &bob_media, "bob");
    alice
        .wait(CALL_BOUND)
        .assert_success("alice's phone (REFER, NOTIFY 200, then Herald's BYE)");
    bob.wait(CALL_BOUND).assert_success("bob's phone");
    assert!(has_event(&call, "refer", "by", "agent:alice"), "{call:#}");
    assert!(has_event(&call, "refer", "to", "agent:bob"), "{call:#}");
    let bridged: Vec<&Value> = detail(&call, "bridged");
    assert_eq!(
        bridged
            .iter()
            .map(|d| d["to"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["agent:alice", "agent:bob"],
        "{call:#}"
    );
    assert!(has_event(&call, "bridge-ended", "by", "caller"), "{call:#}");
    assert_eq!(call["hangup_cause"], "caller-bye", "{call:#}");
}
