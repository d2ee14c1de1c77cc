//! The stream machine in virtual time.
//!
//! A [`Harness`] drives one [`MediaStream`] the way a media worker does (`handle_timeout`, then
//! `poll_transmit` and `poll_event` until `None`) at each deadline it asks for, and records what
//! it sent. A [`Peer`] writes the far end's RTP, RFC 4733 events and RTCP by hand; a [`Pair`]
//! wires two streams through a seeded network that delays, reorders and loses datagrams. Time
//! is a base instant plus durations: nothing sleeps, nothing reads the clock after the base.
//!
//! Every serve checks the run-loop contract: once a deadline has been handled and the
//! datagrams due drained, the next deadline lies in the future (or the stream is closed).

mod bridge;
mod bridge_robustness;
mod capture;
mod harness;
mod robustness;

use std::net::SocketAddr;
use std::time::Instant;

use herald_sdp::PayloadType;

use super::*;
use crate::codec::CodecKind;
use crate::rtcp::{Compound, RtcpPacket};
use crate::srtp::SrtpSuite;
use harness::*;

// ----- 1. Pacing -----

#[test]
fn sends_one_packet_per_ptime_with_consecutive_numbers_to_the_sdp_address() {
    use CodecKind::{G722, Opus, Pcmu};
    for (codec, ptime_ms, step) in [
        (Pcmu, 20, 160),
        (Pcmu, 40, 320),
        (Opus, 20, 960),
        (G722, 20, 160),
    ] {
        let cfg = config(codec, ptime_ms);
        let silence = cfg.silence.frame(0).unwrap().to_vec();
        let ptime = ms(ptime_ms);
        let mut h = Harness::new(cfg);
        h.run_until(h.t0 + ptime * 49 + ptime / 2);
        let rtp = h.rtp();
        assert_eq!(rtp.len(), 50, "{codec} {ptime_ms} ms");
        for (n, packet) in (0u32..).zip(&rtp) {
            assert_eq!(
                packet.at,
                h.t0 + ptime * n,
                "{codec}: packet {n} on its slot"
            );
            assert_eq!(packet.to, A);
            let header = packet.header;
            assert_eq!(header.sequence, FIRST_SEQ.wrapping_add(n as u16));
            assert_eq!(header.timestamp, FIRST_TS.wrapping_add(step * n), "{codec}");
            assert_eq!(header.marker, n == 0);
            assert_eq!(header.payload_type, payload_type(codec));
            assert_eq!(header.ssrc, Ssrc::new(SSRC));
            assert_eq!(packet.payload, silence);
        }
        assert_eq!(h.stream.stats().packets_sent, 50);
        assert_eq!(h.stream.stats().packets_late, 0);

        // Each prompt starts with a marker, and only its first packet has one.
        for _ in 0..2 {
            h.play(numbered_prompt(step, ptime, 3), false);
            h.run_for(ptime * 5);
        }
        let markers: Vec<bool> = h.rtp()[50..].iter().map(|p| p.header.marker).collect();
        assert_eq!(markers, [[true, false, false, false, false]; 2].concat());
    }
}

// ----- 2. Prompts -----

#[test]
fn plays_a_prompt_in_order_then_silence_and_finishes_once() {
    let mut h = Harness::new(pcmu());
    let silence = vec![0xff; 160];
    h.run_for(ms(50));
    let started = h.now;
    h.play(numbered_prompt(160, ms(20), 5), false);
    h.run_for(ms(300));
    let payloads = rtp_payloads_after(&h, started);
    assert_eq!(payloads[..5], (0..5).map(frame).collect::<Vec<_>>());
    assert!(payloads[5..].iter().all(|p| *p == silence));
    // Finished when the first packet after the prompt went out: its last frame has played.
    let after_prompt = h
        .rtp()
        .into_iter()
        .find(|p| p.at > started && p.payload == silence);
    assert_eq!(
        h.events,
        [(
            after_prompt.unwrap().at,
            StreamEvent::PlaybackFinished { interrupted: false }
        )]
    );
}

#[test]
fn a_new_prompt_interrupts_the_one_playing_and_stop_ends_it() {
    let mut h = Harness::new(pcmu());
    h.play(numbered_prompt(160, ms(20), 20), false);
    h.run_for(ms(50));
    let second = h.now;
    h.play(numbered_prompt(160, ms(20), 2), false);
    assert_eq!(
        h.take_events(),
        [StreamEvent::PlaybackFinished { interrupted: true }]
    );
    h.run_for(ms(100));
    let payloads = rtp_payloads_after(&h, second);
    assert_eq!(payloads[..3], [frame(0), frame(1), vec![0xff; 160]]);
    assert_eq!(
        h.take_events(),
        [StreamEvent::PlaybackFinished { interrupted: false }]
    );

    h.play(numbered_prompt(160, ms(20), 20), true);
    h.run_for(ms(30));
    let stopped = h.now;
    h.stream.stop_playback(h.now);
    h.drain_events();
    h.stream.stop_playback(h.now);
    h.drain_events();
    h.run_for(ms(100));
    assert_eq!(
        h.take_events(),
        [StreamEvent::PlaybackFinished { interrupted: true }]
    );
    assert!(
        rtp_payloads_after(&h, stopped)
            .iter()
            .all(|p| *p == [0xff; 160])
    );
}

// ----- 3. Catch-up -----

#[test]
fn a_late_worker_catches_up_in_a_burst_then_skips_ahead() {
    let mut h = Harness::new(pcmu());
    let t0 = h.t0;
    let slot = |n: u32| t0 + ms(20) * n;
    h.serve(slot(0));
    // Two ptimes late: the two missed packets and the one due go out at once, on the grid.
    h.serve(slot(3));
    let rtp = h.rtp();
    assert_eq!(rtp.len(), 4);
    for (n, packet) in (0u32..).zip(&rtp) {
        assert_eq!(packet.header.timestamp, FIRST_TS.wrapping_add(160 * n));
        assert_eq!(packet.header.sequence, FIRST_SEQ.wrapping_add(n as u16));
    }
    assert!(rtp[1..].iter().all(|p| p.at == slot(3)));
    assert_eq!(h.stream.stats().packets_late, 2);

    // MAX_CATCH_UP ptimes late is still a burst.
    h.serve(slot(4 + MAX_CATCH_UP));
    assert_eq!(h.rtp().len(), 4 + 1 + MAX_CATCH_UP as usize);
    assert_eq!(h.stream.stats().packets_late, 2 + u64::from(MAX_CATCH_UP));

    // One more and the stream skips: one packet, the timestamp jumps as time did, the sequence
    // number does not, and what was skipped counts as late.
    let prompt_start = slot(5 + MAX_CATCH_UP);
    h.serve(prompt_start);
    h.play(numbered_prompt(160, ms(20), 30), false);
    let before = h.rtp().len();
    let late_before = h.stream.stats().packets_late;
    let behind = MAX_CATCH_UP + 1;
    let skipped_to = 6 + MAX_CATCH_UP + behind;
    h.serve(slot(skipped_to));
    let rtp = h.rtp();
    assert_eq!(rtp.len(), before + 1);
    let last = rtp.last().unwrap();
    assert_eq!(
        last.header.timestamp,
        FIRST_TS.wrapping_add(160 * skipped_to)
    );
    assert_eq!(last.header.sequence, FIRST_SEQ.wrapping_add(before as u16));
    assert_eq!(
        h.stream.stats().packets_late,
        late_before + u64::from(behind)
    );
    // The prompt moved on as time did.
    assert_eq!(last.payload, frame(behind as u8));
    h.serve(slot(skipped_to + 1));
    assert_eq!(h.rtp().last().unwrap().payload, frame(behind as u8 + 1));
    assert_eq!(
        h.stream.stats().packets_late,
        late_before + u64::from(behind)
    );
}

#[test]
fn on_hold_nothing_is_sent_while_time_and_the_prompt_move_on() {
    let mut h = Harness::new(pcmu());
    let t0 = h.t0;
    h.play(numbered_prompt(160, ms(20), 100), false);
    h.run_for(ms(190));
    h.update(A, false, true);
    h.run_for(ms(1000));
    assert!(h.rtp().iter().all(|p| p.at < t0 + ms(190)));

    // Off hold: sending resumes on the grid, with a marker, and nothing counts as late.
    h.update(A, true, true);
    h.run_for(ms(90));
    let rtp = h.rtp();
    let resumed = &rtp[10];
    assert_eq!(resumed.at, t0 + ms(1200));
    assert!(resumed.header.marker);
    assert_eq!(resumed.header.timestamp, FIRST_TS.wrapping_add(60 * 160));
    assert_eq!(resumed.header.sequence, FIRST_SEQ.wrapping_add(10));
    assert_eq!(resumed.payload, frame(60));
    assert_eq!(h.stream.stats().packets_late, 0);

    // A prompt that runs out on hold finishes when it would have finished playing.
    h.update(A, false, true);
    h.run_for(ms(5000));
    let finished = StreamEvent::PlaybackFinished { interrupted: false };
    assert_eq!(h.events, [(t0 + ms(2000), finished)]);
}

// ----- 4. Symmetric RTP -----

#[test]
fn latches_to_the_first_valid_source_and_ignores_strangers() {
    let mut h = Harness::new(pcmu());
    let mut peer = Peer::new(0xabc);
    h.run_for(ms(30));
    assert_eq!(h.last_rtp_to(), A);

    // Garbage and payload types we did not negotiate never latch.
    h.receive(B, &[0x80, 0, 1]);
    h.receive(C, b"hello, is this RTP?");
    let mut stray = Peer::new(0x51);
    h.receive(
        C,
        &stray.packet(false, PayloadType::new(96).unwrap(), 0, &[0; 20]),
    );
    h.run_for(ms(40));
    assert_eq!(h.last_rtp_to(), A);
    assert!(h.take_events().is_empty());
    let stats = h.stream.stats();
    assert_eq!((stats.malformed, stats.unknown_payload), (2, 1));

    // The first valid packet, from B, latches: RTP and RTCP go there from now on.
    h.feed(B, peer.silence(2), ms(20));
    assert_eq!(h.take_events(), [StreamEvent::Latched { remote: B }]);
    h.run_for(ms(40));
    assert_eq!(h.last_rtp_to(), B);

    // A stranger changes nothing, whatever it sends: its digits are not ours.
    let mut stranger = Peer::new(0x666);
    let mut stranger_packets = stranger.silence(3);
    stranger_packets.extend(stranger.press('9', 4));
    let strangers = stranger_packets.len() as u64;
    h.feed(C, stranger_packets, ms(20));
    h.receive(C, &stranger.rtcp(true));
    assert!(h.take_events().is_empty());
    assert_eq!(h.last_rtp_to(), B);
    assert_eq!(h.stream.stats().foreign_packets, strangers + 1);
    h.run_for(ms(5000));
    assert!(h.rtcp().iter().all(|sent| sent.to == B));

    // A re-INVITE that keeps the SDP address (a refresh, a hold) keeps the latch.
    h.update(A, true, true);
    h.feed(B, peer.silence(2), ms(20));
    assert_eq!(h.last_rtp_to(), B);
    assert!(h.take_events().is_empty());

    // One that moves the peer clears it: RTP goes to the new address until the peer is heard.
    h.update(D, true, true);
    h.run_for(ms(40));
    assert_eq!(h.last_rtp_to(), D);
    h.feed(B, peer.silence(1), ms(40));
    assert_eq!(h.take_events(), [StreamEvent::Latched { remote: B }]);
    assert_eq!(h.last_rtp_to(), B);
}

// ----- 5. RFC 4733 and SIP INFO -----

/// The presses of `keys` between stretches of audio, each update packet sent twice
/// (redundancy) and the second end packet swapped with the audio after it (reordering).
fn presses(peer: &mut Peer, keys: &str) -> Vec<Vec<u8>> {
    let mut packets = peer.silence(5);
    for c in keys.chars() {
        let mut press = peer.press(c, 4);
        let ends = press.split_off(4);
        for update in press {
            packets.push(update.clone());
            packets.push(update);
        }
        let mut after = peer.silence(10);
        packets.extend([
            ends[0].clone(),
            after.remove(0),
            ends[1].clone(),
            ends[2].clone(),
        ]);
        packets.extend(after);
    }
    packets
}

#[test]
fn reports_each_rfc_4733_key_press_once() {
    let mut h = Harness::new(pcmu());
    let mut peer = Peer::new(0xabc);
    h.feed(A, presses(&mut peer, "123"), ms(20));
    h.run_for(ms(500));
    use DtmfSource::Rfc4733;
    assert_eq!(
        h.take_digits(),
        [('1', Rfc4733), ('2', Rfc4733), ('3', Rfc4733)]
    );
    assert_eq!(h.stream.stats().digits, 3);
}

#[test]
fn a_sip_info_for_the_same_press_counts_once_and_a_later_one_again() {
    let mut h = Harness::new(pcmu());
    let mut peer = Peer::new(0xabc);
    h.feed(A, peer.press('5', 2), ms(20));
    h.stream.handle_signalled_digit(h.now, key('5'));
    h.drain_events();
    assert_eq!(h.take_digits(), [('5', DtmfSource::Rfc4733)]);
    h.run_for(ms(1000));
    h.stream.handle_signalled_digit(h.now, key('5'));
    h.drain_events();
    assert_eq!(h.take_digits(), [('5', DtmfSource::SipInfo)]);
}

#[test]
fn barge_in_stops_the_prompt_at_the_first_digit_and_only_with_barge_in() {
    for barge_in in [true, false] {
        let mut h = Harness::new(pcmu());
        let mut peer = Peer::new(0xabc);
        h.play(numbered_prompt(160, ms(20), 25), barge_in);
        h.feed(A, peer.silence(5), ms(20));
        assert_eq!(h.take_events(), [StreamEvent::Latched { remote: A }]);
        let mut press = peer.press('7', 3);
        h.receive(A, &press.remove(0));
        let pressed = h.now;
        let digit = StreamEvent::Digit {
            digit: key('7'),
            method: DtmfSource::Rfc4733,
        };
        h.feed(A, press, ms(20));
        h.feed(A, peer.silence(20), ms(20));
        h.run_for(ms(200));
        let after: Vec<_> = rtp_payloads_after(&h, pressed);
        let finished = |interrupted| StreamEvent::PlaybackFinished { interrupted };
        if barge_in {
            assert_eq!(h.take_events(), [digit, finished(true)]);
            assert!(
                after.iter().all(|p| *p == [0xff; 160]),
                "silence after the digit"
            );
        } else {
            assert_eq!(h.take_events(), [digit, finished(false)]);
            assert_eq!(after[..3], [frame(6), frame(7), frame(8)]);
        }
    }
}

// ----- 6. In-band DTMF -----

fn inband(codec: CodecKind, mode: InbandMode, telephone_event: bool) -> Harness {
    let mut cfg = config(codec, 20);
    cfg.inband = mode;
    if !telephone_event {
        cfg.telephone_event = None;
    }
    Harness::new(cfg)
}

fn feed_tone(h: &mut Harness, peer: &mut Peer, codec: CodecKind, c: char) {
    let audio = tone_payloads(codec, c, 5, 100, 10);
    let packets: Vec<_> = audio.iter().map(|payload| peer.audio(payload)).collect();
    h.feed(A, packets, ms(20));
    h.run_for(ms(200));
}

#[test]
fn detects_a_tone_in_the_audio_when_no_telephone_event_was_negotiated() {
    for codec in [CodecKind::Pcmu, CodecKind::G722] {
        let mut h = inband(codec, InbandMode::Auto, false);
        let mut peer = Peer::new(0xabc);
        peer.payload_type = payload_type(codec);
        feed_tone(&mut h, &mut peer, codec, '7');
        assert_eq!(h.take_digits(), [('7', DtmfSource::Inband)], "{codec}");
    }
}

#[test]
fn in_band_detection_is_off_when_asked_or_when_telephone_event_was_negotiated() {
    for (mode, telephone_event) in [(InbandMode::Off, false), (InbandMode::Auto, true)] {
        let mut h = inband(CodecKind::Pcmu, mode, telephone_event);
        feed_tone(&mut h, &mut Peer::new(0xabc), CodecKind::Pcmu, '7');
        assert!(h.take_digits().is_empty(), "{mode:?}");
    }
}

#[test]
fn rfc_4733_silences_in_band_detection_for_the_rest_of_the_call() {
    let mut h = inband(CodecKind::Pcmu, InbandMode::On, true);
    let mut peer = Peer::new(0xabc);
    feed_tone(&mut h, &mut peer, CodecKind::Pcmu, '7');
    assert_eq!(h.take_digits(), [('7', DtmfSource::Inband)]);
    h.feed(A, peer.press('1', 3), ms(20));
    h.run_for(ms(500));
    feed_tone(&mut h, &mut peer, CodecKind::Pcmu, '8');
    assert_eq!(h.take_digits(), [('1', DtmfSource::Rfc4733)]);
}

#[test]
fn two_tones_of_one_key_across_a_pause_in_sending_are_two_presses() {
    // Voice activity detection: the phone sends nothing between the tones, and the timestamp
    // jumps over the pause.
    for pause_ms in [60, 100, 200, 1000] {
        let mut h = inband(CodecKind::Pcmu, InbandMode::Auto, false);
        let mut peer = Peer::new(0xabc);
        let first = tone_payloads(CodecKind::Pcmu, '5', 3, 60, 0);
        let packets: Vec<_> = first.iter().map(|payload| peer.audio(payload)).collect();
        h.feed(A, packets, ms(20));
        h.run_for(ms(pause_ms));
        peer.ts = peer.ts.wrapping_add(8 * pause_ms as u32);
        let second = tone_payloads(CodecKind::Pcmu, '5', 0, 60, 10);
        let packets: Vec<_> = second.iter().map(|payload| peer.audio(payload)).collect();
        h.feed(A, packets, ms(20));
        h.run_for(ms(300));
        use DtmfSource::Inband;
        assert_eq!(
            h.take_digits(),
            [('5', Inband), ('5', Inband)],
            "{pause_ms} ms"
        );
    }
}

#[test]
fn a_late_packet_inside_a_tone_does_not_split_the_press() {
    for late_ms in [30, 50, 70, 90] {
        let mut h = inband(CodecKind::Pcmu, InbandMode::Auto, false);
        let mut peer = Peer::new(0xabc);
        let audio = tone_payloads(CodecKind::Pcmu, '5', 5, 200, 10);
        let mut packets: Vec<_> = audio.iter().map(|payload| peer.audio(payload)).collect();
        // The tone's fourth packet arrives `late_ms` after the fifth.
        let late = packets.remove(8);
        h.feed(A, packets.drain(..8), ms(20));
        h.receive(A, &packets.remove(0));
        h.run_for(ms(late_ms));
        h.receive(A, &late);
        h.run_for(ms(20 - late_ms % 20));
        h.feed(A, packets, ms(20));
        h.run_for(ms(300));
        assert_eq!(
            h.take_digits(),
            [('5', DtmfSource::Inband)],
            "{late_ms} ms late"
        );
    }
}

// ----- 7. Media timeout -----

fn with_media_timeout(limit: Duration) -> Harness {
    let mut cfg = pcmu();
    cfg.media_timeout = Some(limit);
    Harness::new(cfg)
}

fn timeouts(h: &Harness) -> Vec<Instant> {
    h.events
        .iter()
        .filter(|(_, event)| *event == StreamEvent::MediaTimeout)
        .map(|(at, _)| *at)
        .collect()
}

#[test]
fn media_timeout_fires_once_after_the_silence_and_never_while_packets_arrive() {
    let mut h = with_media_timeout(ms(2000));
    let mut peer = Peer::new(0xabc);
    h.feed(B, peer.silence(500), ms(20));
    assert!(timeouts(&h).is_empty());
    let last_heard = h.now - ms(20);
    h.run_for(ms(20_000));
    assert_eq!(timeouts(&h), [last_heard + ms(2000)]);
    // It fires again only after media came back and stopped again.
    h.feed(B, peer.silence(1), ms(10_000));
    assert_eq!(timeouts(&h).len(), 2);
}

#[test]
fn media_timeout_waits_while_on_hold_and_restarts_when_media_resumes() {
    let mut h = with_media_timeout(ms(2000));
    let mut peer = Peer::new(0xabc);
    h.feed(B, peer.silence(10), ms(20));
    h.update(A, true, false);
    h.run_for(ms(30_000));
    assert!(timeouts(&h).is_empty(), "no media is expected on hold");
    // Off hold: the peer gets the whole timeout to resume sending.
    h.update(A, true, true);
    let resumed = h.now;
    h.run_for(ms(1900));
    assert!(timeouts(&h).is_empty(), "timed out at once after hold");
    h.run_for(ms(200));
    assert_eq!(timeouts(&h), [resumed + ms(2000)]);
}

// ----- 8. RTCP -----

fn rtcp_packets(sent: &Sent) -> Vec<RtcpPacket<'_>> {
    Compound::parse(&sent.bytes).unwrap().packets().collect()
}

#[test]
fn reports_within_five_seconds_to_the_rtp_address_or_the_next_port() {
    for mux in [true, false] {
        let mut cfg = pcmu();
        cfg.rtcp_mux = mux;
        let mut h = Harness::new(cfg);
        h.run_for(ms(5000));
        let rtcp = h.rtcp();
        let first = rtcp.first().expect("a report within 5 s");
        let expected_to = if mux {
            A
        } else {
            SocketAddr::new(A.ip(), A.port() + 1)
        };
        assert_eq!(first.to, expected_to);
        let sent_before = h.rtp().iter().filter(|p| p.at <= first.at).count() as u32;
        let packets = rtcp_packets(first);
        let RtcpPacket::SenderReport(sr) = packets[0] else {
            panic!("an SR first once we have sent RTP: {packets:?}");
        };
        assert_eq!(sr.ssrc, Ssrc::new(SSRC));
        assert_eq!(sr.sender_info.packet_count, sent_before);
        assert_eq!(sr.sender_info.octet_count, sent_before * 160);
        let RtcpPacket::SourceDescription(sdes) = packets[1] else {
            panic!("SDES second");
        };
        let cname = sdes.chunks().next().unwrap().cname();
        assert_eq!(cname, Some(&b"herald@test.invalid"[..]));
    }

    // Not sending (recvonly): a receiver report.
    let mut cfg = pcmu();
    cfg.send = false;
    let mut h = Harness::new(cfg);
    h.run_for(ms(5000));
    assert!(h.rtp().is_empty());
    let rtcp = h.rtcp();
    assert!(matches!(
        rtcp_packets(rtcp[0])[0],
        RtcpPacket::ReceiverReport(_)
    ));
}

#[test]
fn reports_on_the_peer_and_follows_it_without_rtcp_mux() {
    let mut cfg = pcmu();
    cfg.rtcp_mux = false;
    let mut h = Harness::new(cfg);
    let mut peer = Peer::new(0xabc);
    let peer_rtcp = SocketAddr::new(B.ip(), B.port() + 1);
    h.feed(B, peer.silence(50), ms(20));
    h.receive(peer_rtcp, &peer.rtcp(false));
    assert_eq!(h.stream.stats().rtcp_received, 1);
    h.feed(B, peer.silence(300), ms(20));
    let last = *h.rtcp().last().unwrap();
    assert_eq!(last.to, peer_rtcp);
    let RtcpPacket::SenderReport(sr) = rtcp_packets(last)[0] else {
        panic!("SR");
    };
    let block = sr.report_blocks().next().expect("a block on the peer");
    assert_eq!(block.ssrc, peer.ssrc);
    assert_eq!(block.last_sr, 0x5678_9abc);
    assert_eq!(block.cumulative_lost, 0);

    // The peer moves: reports follow it to its new address, not to where the old one sent from.
    h.update(D, true, true);
    let moved = h.now;
    h.run_for(ms(8000));
    let after: Vec<_> = h.rtcp().into_iter().filter(|s| s.at > moved).collect();
    assert!(!after.is_empty());
    let d_rtcp = SocketAddr::new(D.ip(), D.port() + 1);
    assert!(
        after.iter().all(|sent| sent.to == d_rtcp),
        "{:?}",
        after.last().map(|s| s.to)
    );
}

#[test]
fn close_says_bye_and_a_peer_bye_is_reported() {
    let mut h = Harness::new(pcmu());
    let mut peer = Peer::new(0xabc);
    h.feed(B, peer.silence(5), ms(20));
    h.take_events();

    // Malformed RTCP counts and changes nothing; a BYE from another source is not the peer's.
    let mut malformed = peer.rtcp(true);
    malformed[3] += 1;
    h.receive(B, &malformed);
    h.receive(B, &Peer::new(0x999).rtcp(true));
    let stats = h.stream.stats();
    assert_eq!((stats.malformed, stats.rtcp_received), (1, 1));
    assert!(h.take_events().is_empty());
    h.receive(B, &peer.rtcp(true));
    assert_eq!(h.take_events(), [StreamEvent::RemoteBye]);

    h.stream.close(h.now);
    let closed_at = h.now;
    h.run_for(ms(1000));
    assert!(h.stream.is_closed());
    assert_eq!(h.stream.poll_timeout(), None);
    let last = h.sent.last().unwrap();
    assert_eq!((last.at, last.to), (closed_at, B));
    let packets = rtcp_packets(last);
    let Some(RtcpPacket::Bye(bye)) = packets.last() else {
        panic!("BYE last: {packets:?}");
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), [Ssrc::new(SSRC)]);
    assert!(h.sent.iter().all(|sent| sent.at <= closed_at));
    assert!(h.stream.poll_transmit(h.now, &mut h.buf).is_none());
}

#[test]
fn close_completes_even_when_no_report_can_be_written() {
    let mut cfg = pcmu();
    cfg.cname = "x".repeat(300);
    let mut h = Harness::new(cfg);
    h.run_for(ms(100));
    h.stream.close(h.now);
    h.run_for(ms(100));
    assert!(h.stream.is_closed());
}

// ----- 9. SRTP -----

#[test]
fn two_srtp_streams_exchange_rtp_and_rtcp_through_a_lossy_reordering_network() {
    for suite in [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AeadAes256Gcm] {
        let (ka, kb) = (srtp_key(suite, 1), srtp_key(suite, 2));
        let mut a = pcmu();
        a.srtp = Some(SrtpSession::new(ka.clone(), kb.clone()).unwrap());
        let mut b = pcmu();
        b.ssrc = Ssrc::new(0xb0b);
        b.srtp = Some(SrtpSession::new(kb, ka).unwrap());
        let mut pair = Pair::new(a, b, 0.05, 11);
        let t0 = pair.ends[0].t0;
        pair.run_until(t0 + ms(12_000));
        for (i, end) in pair.ends.iter_mut().enumerate() {
            let other = pair.addresses[1 - i];
            assert_eq!(end.take_events(), [StreamEvent::Latched { remote: other }]);
            let stats = end.stream.stats();
            assert_eq!(stats.srtp_failures, 0, "{suite}");
            assert_eq!(stats.malformed, 0);
            assert_eq!(stats.packets_received, pair.delivered[i].0);
            assert_eq!(stats.rtcp_received, pair.delivered[i].1);
            assert!(stats.packets_received > 500 && stats.rtcp_received >= 1);
        }
    }
}

#[test]
fn an_srtp_stream_rejects_tampered_and_plain_packets_and_takes_digits() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (ours, theirs) = (srtp_key(suite, 1), srtp_key(suite, 2));
    let mut cfg = pcmu();
    cfg.srtp = Some(SrtpSession::new(ours.clone(), theirs.clone()).unwrap());
    let mut h = Harness::new(cfg);
    let mut peer = Peer::new(0xabc);
    peer.srtp = Some(SrtpSession::new(theirs, ours).unwrap());

    let mut tampered = peer.audio(&[0xff; 160]);
    tampered[20] ^= 1;
    h.receive(C, &tampered);
    h.receive(B, &Peer::new(0xabc).audio(&[0xff; 160]));
    h.run_for(ms(40));
    assert_eq!(h.stream.stats().srtp_failures, 2);
    assert!(h.take_events().is_empty());
    assert_eq!(h.last_rtp_to(), A);

    // Redundant copies of one SRTP packet would be replays: a sender numbers each anew.
    let mut packets = peer.silence(5);
    for c in ['4', '2'] {
        packets.extend(peer.press(c, 4));
        packets.extend(peer.silence(5));
    }
    let replay = packets[3].clone();
    h.feed(B, packets, ms(20));
    h.receive(B, &replay);
    h.run_for(ms(500));
    assert_eq!(h.stream.stats().srtp_failures, 3);
    let events = h.take_events();
    assert_eq!(events[0], StreamEvent::Latched { remote: B });
    let digits: Vec<_> = events[1..].to_vec();
    let digit = |c| StreamEvent::Digit {
        digit: key(c),
        method: DtmfSource::Rfc4733,
    };
    assert_eq!(digits, [digit('4'), digit('2')]);
}

// ----- 10. SSRC change -----

#[test]
fn a_new_source_takes_over_and_an_old_straggler_changes_nothing() {
    let mut h = Harness::new(pcmu());
    let mut first = Peer::new(0x1111);
    h.feed(B, first.silence(5), ms(20));
    let mut press = first.press('1', 3);
    let straggler = press.last().unwrap().clone();
    h.feed(B, press.drain(..), ms(20));

    // A transfer: another source from the same address.
    let mut second = Peer::new(0x2222);
    second.seq = 7;
    second.ts = 99;
    h.feed(B, second.silence(5), ms(20));
    h.receive(B, &straggler);
    h.feed(B, second.silence(5), ms(20));
    h.feed(B, second.press('2', 3), ms(20));
    h.feed(B, second.silence(5), ms(20));
    h.run_for(ms(300));

    let received = h.stream.stats().packets_received;
    assert_eq!(received, 5 + 6 + 5 + 1 + 5 + 6 + 5);
    let digit = |c| StreamEvent::Digit {
        digit: key(c),
        method: DtmfSource::Rfc4733,
    };
    assert_eq!(
        h.take_events(),
        [
            StreamEvent::Latched { remote: B },
            digit('1'),
            StreamEvent::SourceChanged { ssrc: second.ssrc },
            digit('2'),
        ]
    );
    assert_eq!(h.stream.stats().packets_lost, 0);
}
