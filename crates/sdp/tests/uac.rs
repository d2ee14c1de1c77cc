//! The UAC side: our offer for outbound legs and reading the answer.

use herald_sdp::{
    AnswerPolicy, Codec, Direction, LocalMedia, NotAcceptableReason, OfferAnswerError, PayloadType,
    SessionDescription, accept_answer, answer, offer,
};

fn local() -> LocalMedia {
    LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 77)
}

fn our_offer() -> SessionDescription {
    offer(&local(), &AnswerPolicy::default())
}

/// An answer to [`our_offer`] with the given audio section.
fn their_answer(audio: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=- 9 9 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n{audio}"
    );
    SessionDescription::parse(text.as_bytes()).expect("test answer is valid")
}

#[test]
fn offer_lists_the_policy_codecs_in_order_with_events_ptime_and_direction() {
    let sdp = our_offer();
    let text = sdp.to_string();
    let expected = "v=0\r\no=- 77 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 9 8 0 111 101 110\r\n\
        a=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=rtpmap:110 telephone-event/48000\r\na=fmtp:101 0-15\r\na=fmtp:110 0-15\r\n\
        a=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n";
    assert_eq!(text, expected);
    assert_eq!(SessionDescription::parse(text.as_bytes()), Ok(sdp));
}

#[test]
fn offer_without_opus_has_no_48k_events_and_unofferable_codecs_fall_back_to_pcmu() {
    let policy = AnswerPolicy {
        codecs: vec![Codec::Pcma],
        telephone_event: false,
        ..AnswerPolicy::default()
    };
    assert_eq!(offer(&local(), &policy).media[0].formats, ["8"]);
    let g711 = AnswerPolicy {
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        ..AnswerPolicy::default()
    };
    assert_eq!(offer(&local(), &g711).media[0].formats, ["8", "0", "101"]);
    let repeated = AnswerPolicy {
        codecs: vec![Codec::Pcma, Codec::Pcmu, Codec::Pcma],
        telephone_event: false,
        ..AnswerPolicy::default()
    };
    assert_eq!(offer(&local(), &repeated).media[0].formats, ["8", "0"]);
    let nothing = AnswerPolicy {
        codecs: vec![Codec::Other("G729".into())],
        ..AnswerPolicy::default()
    };
    assert_eq!(offer(&local(), &nothing).media[0].formats, ["0", "101"]);
}

#[test]
fn accepted_answer_gives_the_first_answered_codec_and_event() {
    let answer = their_answer(
        "m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\na=rtcp-mux\r\n",
    );
    let audio = accept_answer(&our_offer(), &answer).expect("valid answer");
    assert_eq!(
        (audio.codec, audio.payload_type, audio.clock_rate),
        (Codec::Pcma, PayloadType::PCMA, 8000)
    );
    assert_eq!(
        audio
            .telephone_event
            .map(|e| (e.payload_type.get(), e.clock_rate)),
        Some((101, 8000))
    );
    assert_eq!(audio.ptime, 30);
    assert_eq!(
        audio.remote_rtp,
        "192.0.2.20:40000".parse().expect("literal")
    );
    assert!(audio.rtcp_mux);
    assert_eq!(audio.local_direction, Direction::SendRecv);
}

#[test]
fn rejected_audio_port_zero_is_not_acceptable() {
    let error = accept_answer(&our_offer(), &their_answer("m=audio 0 RTP/AVP 0\r\n"))
        .expect_err("rejected");
    assert_eq!(
        error,
        OfferAnswerError::NotAcceptable(NotAcceptableReason::NoAudioStream)
    );
}

#[test]
fn answer_must_choose_among_offered_formats_with_the_same_meaning() {
    let unoffered = their_answer("m=audio 40000 RTP/AVP 18\r\n");
    let pt18 = PayloadType::new(18).expect("7 bits");
    assert_eq!(
        accept_answer(&our_offer(), &unoffered),
        Err(OfferAnswerError::UnofferedFormat(pt18))
    );
    let remapped = their_answer("m=audio 40000 RTP/AVP 111\r\na=rtpmap:111 SILK/16000\r\n");
    let pt111 = PayloadType::new(111).expect("7 bits");
    assert_eq!(
        accept_answer(&our_offer(), &remapped),
        Err(OfferAnswerError::UnofferedFormat(pt111))
    );
    let events_only = their_answer("m=audio 40000 RTP/AVP 101\r\n");
    let error = accept_answer(&our_offer(), &events_only).expect_err("no voice");
    assert_eq!(
        error,
        OfferAnswerError::NotAcceptable(NotAcceptableReason::NoCommonCodec)
    );
}

#[test]
fn answer_must_keep_the_media_count_and_proto() {
    let two = their_answer("m=audio 40000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n");
    let error = accept_answer(&our_offer(), &two).expect_err("two sections");
    assert_eq!(
        error,
        OfferAnswerError::MediaCountMismatch {
            offered: 1,
            answered: 2
        }
    );
    let savp = their_answer("m=audio 40000 RTP/SAVP 0\r\n");
    let reason = NotAcceptableReason::UnsupportedProto("RTP/SAVP".into());
    assert_eq!(
        accept_answer(&our_offer(), &savp),
        Err(OfferAnswerError::NotAcceptable(reason))
    );
}

#[test]
fn answered_direction_limits_ours_and_reports_hold() {
    let audio = accept_answer(
        &our_offer(),
        &their_answer("m=audio 40000 RTP/AVP 0\r\na=recvonly\r\n"),
    )
    .expect("valid");
    assert_eq!(
        (
            audio.remote_direction,
            audio.local_direction,
            audio.remote_on_hold
        ),
        (Direction::RecvOnly, Direction::SendOnly, false)
    );
    let audio = accept_answer(
        &our_offer(),
        &their_answer("m=audio 40000 RTP/AVP 0\r\na=inactive\r\n"),
    )
    .expect("valid");
    assert_eq!(
        (audio.local_direction, audio.remote_on_hold),
        (Direction::Inactive, true)
    );
}

#[test]
fn our_offer_answered_by_our_answerer_agrees_on_both_sides() {
    let uac_offer = our_offer();
    let callee = LocalMedia::new("203.0.113.5".parse().expect("literal"), 31000, 88);
    let policy = AnswerPolicy {
        codecs: vec![Codec::Opus, Codec::Pcma],
        ..AnswerPolicy::default()
    };
    let uas = answer(&uac_offer, &callee, &policy).expect("acceptable");
    let uac = accept_answer(&uac_offer, &uas.sdp).expect("valid answer");
    assert_eq!(
        (uac.codec.clone(), uac.payload_type, uac.channels),
        (Codec::Opus, uas.audio.payload_type, 2)
    );
    assert_eq!(uac.telephone_event, uas.audio.telephone_event);
    assert_eq!(uac.telephone_event.map(|e| e.clock_rate), Some(48000));
    assert_eq!(
        uac.remote_rtp,
        "203.0.113.5:31000".parse().expect("literal")
    );
    assert_eq!(
        uas.audio.remote_rtp,
        "198.51.100.1:30000".parse().expect("literal")
    );
    assert_eq!(
        (uac.ptime, uac.rtcp_mux),
        (uas.audio.ptime, uas.audio.rtcp_mux)
    );
}
