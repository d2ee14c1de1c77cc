use super::*;
use crate::header::{ChannelRole, RecordingId};
use crate::key_ids::{NodeKeyId, RecipientKeyId};

fn header(codec: Codec) -> Header {
    Header {
        id: RecordingId([0; 16]),
        codec,
        sample_rate: 8000,
        channels: vec![ChannelRole::Caller, ChannelRole::Herald],
        start_unix_ms: 0,
        recipients: vec![RecipientKeyId([0; 8])],
        node_key: NodeKeyId([0; 8]),
    }
}

fn gap_begin() -> GapBegin {
    GapBegin {
        position: 8000,
        unix_ms: 1_700_000_001_000,
        reason: GapReason::SecureInput,
        actor: "ivr".into(),
        detail: "card number".into(),
    }
}

fn evidence() -> Evidence {
    Evidence {
        prompt_id: "disclosure-recording".into(),
        language: "de-DE".into(),
        played_unix_ms: 1_700_000_000_500,
        completed: true,
        choice: ConsentChoice::NoInput,
    }
}

#[test]
fn every_record_kind_round_trips() {
    let mut plaintext = Vec::new();
    put_audio(&mut plaintext, 1, 160, &[0xd5; 160]);
    put_gap_begin(&mut plaintext, &gap_begin());
    let end = GapEnd {
        position: 16_000,
        unix_ms: 1_700_000_002_000,
        actor: "api:desk-7".into(),
    };
    put_gap_end(&mut plaintext, &end);
    put_evidence(&mut plaintext, &evidence());
    let trailer = InnerTrailer {
        segment_count: 3,
        samples_per_channel: vec![16_000, 320],
        running_digest: [9; 32],
    };
    put_inner_trailer(&mut plaintext, &trailer);
    assert_eq!(plaintext.len() - inner_trailer_len(2), {
        let mut without = Vec::new();
        put_audio(&mut without, 1, 160, &[0xd5; 160]);
        put_gap_begin(&mut without, &gap_begin());
        put_gap_end(&mut without, &end);
        put_evidence(&mut without, &evidence());
        without.len()
    });
    let (records, inner) =
        decode_segment_plaintext(&plaintext, &header(Codec::Pcma)).expect("decodes");
    assert_eq!(
        records,
        [
            Record::Audio(AudioFrame {
                channel: 1,
                position: 160,
                payload: vec![0xd5; 160]
            }),
            Record::GapBegin(gap_begin()),
            Record::GapEnd(end),
            Record::Evidence(evidence()),
        ]
    );
    assert_eq!(inner, Some(trailer));
}

#[test]
fn malformed_records_are_typed_errors() {
    let pcma = header(Codec::Pcma);
    let decode = |bytes: &[u8], header: &Header| decode_segment_plaintext(bytes, header).err();
    let mut audio = Vec::new();
    put_audio(&mut audio, 2, 0, &[1]);
    assert_eq!(decode(&audio, &pcma), Some(RecordError::NoSuchChannel(2)));
    let mut odd = Vec::new();
    put_audio(&mut odd, 0, 0, &[1, 2, 3]);
    assert_eq!(
        decode(&odd, &header(Codec::L16)),
        Some(RecordError::BadAudioLength)
    );
    let mut overflow = Vec::new();
    put_audio(&mut overflow, 0, u64::MAX, &[1]);
    assert_eq!(decode(&overflow, &pcma), Some(RecordError::BadAudioLength));
    assert_eq!(
        decode(&[9, 0, 0, 0, 0], &pcma),
        Some(RecordError::UnknownType(9))
    );
    assert_eq!(decode(&[1, 0, 0, 1], &pcma), Some(RecordError::Truncated));
    let mut bad_reason = Vec::new();
    put_gap_begin(&mut bad_reason, &gap_begin());
    bad_reason[5 + 16] = 6;
    assert_eq!(
        decode(&bad_reason, &pcma),
        Some(RecordError::UnknownCode(6))
    );
    let mut bad_language = evidence();
    bad_language.language = "de DE".into();
    let mut bytes = Vec::new();
    put_evidence(&mut bytes, &bad_language);
    assert_eq!(
        decode(&bytes, &pcma),
        Some(RecordError::BadText(TextField::Language))
    );
    let mut after_trailer = Vec::new();
    put_inner_trailer(
        &mut after_trailer,
        &InnerTrailer {
            segment_count: 1,
            samples_per_channel: vec![0, 0],
            running_digest: [0; 32],
        },
    );
    put_evidence(&mut after_trailer, &evidence());
    assert_eq!(
        decode(&after_trailer, &pcma),
        Some(RecordError::BadInnerTrailer)
    );
}

#[test]
fn text_limits() {
    assert!(TextField::Actor.accepts("api:token-name"));
    assert!(!TextField::Actor.accepts(""));
    assert!(!TextField::Actor.accepts(&"a".repeat(65)));
    assert!(!TextField::Detail.accepts("line\nbreak"));
    assert!(TextField::Detail.accepts(""));
    assert!(TextField::Language.accepts("es-419"));
    assert!(!TextField::Language.accepts("-de"));
    assert!(!TextField::PromptId.accepts(&"p".repeat(129)));
}

#[test]
fn audio_frames_decode_their_codec() {
    let frame = AudioFrame {
        channel: 0,
        position: 0,
        payload: vec![0x01, 0x80, 0xff, 0x7f],
    };
    assert_eq!(
        frame.samples(Codec::L16).collect::<Vec<_>>(),
        [-32767, 32767]
    );
    assert_eq!(frame.sample_count(Codec::Pcmu), 4);
    assert_eq!(
        frame.samples(Codec::Pcmu).collect::<Vec<_>>(),
        [ulaw_decode(1), ulaw_decode(0x80), 0, 0]
    );
    assert!(!format!("{frame:?}").contains("128"));
}
