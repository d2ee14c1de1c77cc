//! SDP negotiation and SRTP together: what `herald_sdp` negotiates with SDES keys from
//! `SdesKey` builds sessions that talk to the phone's side, for the UAS and the UAC.

use herald_media::srtp::{SdesKey, SdesKeyError, SrtpSession, SrtpSuite};
use proptest::prelude::*;

use herald_sdp::{
    AnswerPolicy, LocalCryptoKey, LocalMedia, NegotiatedSrtp, SessionDescription, SrtpPolicy,
    accept_answer, answer, offer,
};

/// Per-call keys for every suite, as the binary would draw them from its CSPRNG (fixed here).
fn our_keys() -> Vec<SdesKey> {
    SrtpSuite::ALL
        .into_iter()
        .enumerate()
        .map(|(i, suite)| {
            let bytes: Vec<u8> = (0..suite.key_material_len())
                .map(|b| (b * 13 + i) as u8)
                .collect();
            SdesKey::new(suite, &bytes).expect("suite length")
        })
        .collect()
}

fn local() -> LocalMedia {
    let keys: Vec<LocalCryptoKey> = our_keys().iter().map(SdesKey::to_sdp).collect();
    LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42).with_srtp_keys(keys)
}

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text.as_bytes()).expect("valid SDP")
}

/// The phone's own key, the one in its `a=crypto` line.
fn phone_key(suite: SrtpSuite) -> SdesKey {
    SdesKey::new(suite, &vec![0x5a; suite.key_material_len()]).expect("suite length")
}

/// RTP from `ssrc` through `from` to `to`, and an RTCP report the same way.
fn exchange(from: &mut SrtpSession, to: &mut SrtpSession, ssrc: u32) {
    let mut plain = vec![0x80, 0, 0, 9, 0, 0, 5, 160];
    plain.extend_from_slice(&ssrc.to_be_bytes());
    plain.extend_from_slice(&[0xd5; 160]);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    let len = from.protect_rtp(&mut buf, plain.len()).expect("protects");
    assert_eq!(to.unprotect_rtp(&mut buf[..len]), Ok(plain.len()));
    assert_eq!(buf[..plain.len()], plain[..]);

    let mut report = vec![0x80, 201, 0, 1];
    report.extend_from_slice(&ssrc.to_be_bytes());
    let mut buf = report.clone();
    buf.resize(report.len() + 20, 0);
    let len = from.protect_rtcp(&mut buf, report.len()).expect("protects");
    assert_eq!(to.unprotect_rtcp(&mut buf[..len]), Ok(report.len()));
}

#[test]
fn an_audiocodes_style_offer_gets_srtp_both_ways() {
    let key = phone_key(SrtpSuite::AesCm128HmacSha1_80);
    let offer = parse(&format!(
        "v=0\r\no=AudiocodesGW 1 1 IN IP4 10.10.1.50\r\ns=Phone-Call\r\nc=IN IP4 10.10.1.50\r\n\
         t=0 0\r\nm=audio 6010 RTP/SAVP 9 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=ptime:20\r\na=sendrecv\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 {}\r\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_32 {}|2^31\r\n",
        key.key_params().as_str(),
        phone_key(SrtpSuite::AesCm128HmacSha1_32)
            .key_params()
            .as_str(),
    ));
    let answered = answer(&offer, &local(), &AnswerPolicy::default()).expect("acceptable");
    let srtp = answered.audio.srtp.as_ref().expect("SRTP negotiated");
    let mut herald = SrtpSession::from_negotiated(srtp).expect("keys parse");
    assert_eq!(herald.suite(), SrtpSuite::AesCm128HmacSha1_80);

    // The phone reads our key from the answer it receives.
    let answer_sdp = parse(&answered.sdp.to_string());
    let ours = answer_sdp.media[0]
        .crypto()
        .next()
        .expect("one crypto line");
    assert_eq!(
        (ours.tag, ours.suite.as_str()),
        (1, "AES_CM_128_HMAC_SHA1_80")
    );
    let ours = SdesKey::from_key_params(herald.suite(), &ours.key_params).expect("our key");
    let mut phone = SrtpSession::new(key, ours).expect("same suite");
    exchange(&mut phone, &mut herald, 0x1111);
    exchange(&mut herald, &mut phone, 0x2222);
}

#[test]
fn a_polycom_style_offer_with_lifetimes_gets_srtp_both_ways() {
    let key = phone_key(SrtpSuite::AesCm128HmacSha1_32);
    let offer = parse(&format!(
        "v=0\no=- 2 2 IN IP4 192.168.1.120\ns=Polycom IP Phone\nc=IN IP4 192.168.1.120\nt=0 0\n\
         a=sendrecv\nm=audio 2230 RTP/SAVP 9 0 8 127\na=rtpmap:127 telephone-event/8000\n\
         a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:{}|2^31\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_32 {}|2^31\n",
        "M1JxkK/O7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7AsqSWiHpg==",
        key.key_params().as_str(),
    ));
    let answered = answer(&offer, &local(), &AnswerPolicy::default()).expect("acceptable");
    let srtp = answered.audio.srtp.as_ref().expect("SRTP negotiated");
    assert_eq!(srtp.tag, 2);
    let mut herald = SrtpSession::from_negotiated(srtp).expect("keys parse");
    let ours = answered.sdp.media[0]
        .crypto()
        .next()
        .expect("one crypto line");
    let ours = SdesKey::from_key_params(herald.suite(), &ours.key_params).expect("our key");
    let mut phone = SrtpSession::new(key, ours).expect("same suite");
    exchange(&mut phone, &mut herald, 7);
    exchange(&mut herald, &mut phone, 8);
}

#[test]
fn our_savp_offer_and_the_phones_answer_give_a_working_session() {
    let required = AnswerPolicy {
        srtp: SrtpPolicy::Required,
        ..AnswerPolicy::default()
    };
    let our_offer = offer(&local(), &required);
    // The phone answers as Herald would, with its own key for the suite it picks.
    let phone_local = LocalMedia::new("192.0.2.20".parse().expect("literal"), 40000, 9)
        .with_srtp_keys(vec![phone_key(SrtpSuite::AeadAes128Gcm).to_sdp()]);
    let phone_answer =
        answer(&our_offer, &phone_local, &AnswerPolicy::default()).expect("the phone accepts");
    let phone_side = phone_answer.audio.srtp.as_ref().expect("phone negotiated");
    assert_eq!(
        (phone_side.tag, phone_side.suite.as_str()),
        (2, "AEAD_AES_128_GCM")
    );

    let audio = accept_answer(&our_offer, &phone_answer.sdp).expect("we accept");
    let ours = audio.srtp.as_ref().expect("SRTP negotiated");
    assert_eq!(ours.local_key_params, phone_side.remote_key_params);
    assert_eq!(ours.remote_key_params, phone_side.local_key_params);
    let mut herald = SrtpSession::from_negotiated(ours).expect("keys parse");
    let mut phone = SrtpSession::from_negotiated(phone_side).expect("keys parse");
    exchange(&mut herald, &mut phone, 1);
    exchange(&mut phone, &mut herald, 2);
}

#[test]
fn sdes_keys_print_as_padded_inline_text_and_refuse_bad_negotiations() {
    for key in our_keys() {
        let params = key.key_params();
        let again = SdesKey::from_key_params(key.suite(), &params).expect("round trip");
        assert_eq!(again.key_params().as_str(), params.as_str());
        assert_eq!(
            format!("{key:?}"),
            format!("SdesKey {{ suite: {:?}, .. }}", key.suite())
        );
    }
    let negotiated = |suite: &str, remote: &str| NegotiatedSrtp {
        tag: 1,
        suite: suite.into(),
        local_key_params: our_keys()[2].key_params().to_string(),
        remote_key_params: remote.into(),
    };
    let unknown = negotiated("AES_CM_256_HMAC_SHA1_80", "inline:QUJD");
    let error = SrtpSession::from_negotiated(&unknown).err();
    assert_eq!(
        error,
        Some(SdesKeyError::UnsupportedSuite(
            "AES_CM_256_HMAC_SHA1_80".into()
        ))
    );
    let short = negotiated("AES_CM_128_HMAC_SHA1_80", "inline:QUJD");
    let error = SrtpSession::from_negotiated(&short).err();
    assert_eq!(
        error,
        Some(SdesKeyError::WrongLength {
            expected: 30,
            found: 3
        })
    );
}

proptest! {
    #[test]
    fn arbitrary_key_parameters_never_panic_and_what_parses_prints_back(
        params in "(inline:|INLINE:|uri:)?[A-Za-z0-9+/=|^:;]{0,80}",
        suite in proptest::sample::select(SrtpSuite::ALL.to_vec()),
    ) {
        if let Ok(key) = SdesKey::from_key_params(suite, &params) {
            let printed = key.key_params();
            let again = SdesKey::from_key_params(suite, &printed).expect("ours parse");
            prop_assert_eq!(&*again.key_params(), &*printed);
        }
    }
}
