//! Packet-loss concealment of the waveform codecs (G.711 Appendix I style, and G.722 with its
//! ADPCM state carried through the loss).

mod codec_signals;

use codec_signals::{correlation, rms, snr_db, speech_like};
use herald_media::codec::{CodecKind, Decoder, Encoder};

/// A 1 s speech-like clip at the codec's rate, its 20 ms packets, and the loss-free decode.
struct Clip {
    kind: CodecKind,
    rate: u32,
    frame: usize,
    packets: Vec<Vec<u8>>,
    reference: Vec<i16>,
}

impl Clip {
    fn new(kind: CodecKind) -> Self {
        let rate = kind.native_rate();
        let frame = kind.samples_per_frame(rate, 20);
        let input = speech_like(rate, rate as usize);
        let mut encoder = Encoder::new(kind, rate).expect("native rate");
        let mut payload = vec![0u8; kind.max_payload_len(20)];
        let packets: Vec<Vec<u8>> = input
            .chunks_exact(frame)
            .map(|chunk| {
                let n = encoder.encode(chunk, &mut payload).expect("20 ms frame");
                payload[..n].to_vec()
            })
            .collect();
        let mut clip = Clip {
            kind,
            rate,
            frame,
            packets,
            reference: Vec::new(),
        };
        clip.reference = clip.play(&[]);
        clip
    }

    /// Decodes the clip with the packets in `lost` concealed instead.
    fn play(&self, lost: &[usize]) -> Vec<i16> {
        let mut decoder = Decoder::new(self.kind, self.rate).expect("native rate");
        let mut out = vec![0i16; self.frame];
        let mut pcm = Vec::new();
        for (index, packet) in self.packets.iter().enumerate() {
            let n = if lost.contains(&index) {
                decoder.conceal(&mut out).expect("conceal")
            } else {
                decoder.decode(packet, &mut out).expect("decode")
            };
            assert_eq!(n, self.frame);
            pcm.extend_from_slice(&out);
        }
        pcm
    }

    fn frame_of<'a>(&self, pcm: &'a [i16], index: usize) -> &'a [i16] {
        &pcm[index * self.frame..(index + 1) * self.frame]
    }
}

/// Concealment of single losses follows the lost speech, and beats replaying the previous frame.
fn conceals_single_losses(kind: CodecKind) {
    let clip = Clip::new(kind);
    for lost in [10, 17, 24, 31, 38] {
        let played = clip.play(&[lost]);
        let concealed = clip.frame_of(&played, lost);
        let expected = clip.frame_of(&clip.reference, lost);
        let previous = clip.frame_of(&clip.reference, lost - 1);
        let plc = correlation(expected, concealed);
        let replay = correlation(expected, previous);
        // The first 10 ms repeat the last period as is; later the pitch has drifted away.
        let half = clip.frame / 2;
        let first_half = correlation(&expected[..half], &concealed[..half]);
        assert!(
            first_half > 0.85,
            "{kind} packet {lost}: first 10 ms {first_half:.3}"
        );
        assert!(plc > 0.6, "{kind} packet {lost}: correlation {plc:.3}");
        assert!(
            plc > replay,
            "{kind} packet {lost}: PLC {plc:.3} vs replay {replay:.3}"
        );
        let ratio = rms(concealed) / rms(expected);
        assert!(
            (0.5..2.0).contains(&ratio),
            "{kind} packet {lost}: level x{ratio:.2}"
        );
    }
}

#[test]
fn g711_concealment_follows_the_lost_speech() {
    conceals_single_losses(CodecKind::Pcmu);
}

#[test]
fn g722_concealment_follows_the_lost_speech() {
    conceals_single_losses(CodecKind::G722);
}

/// A long loss fades: full level for 10 ms, then down 20 % per 10 ms to silence at 60 ms.
fn fades_to_silence(kind: CodecKind) {
    let clip = Clip::new(kind);
    let lost: Vec<usize> = (20..26).collect();
    let played = clip.play(&lost);
    let levels: Vec<f64> = lost
        .iter()
        .map(|&i| rms(clip.frame_of(&played, i)))
        .collect();
    assert!(
        levels[0] > 0.5 * rms(clip.frame_of(&clip.reference, 20)),
        "{levels:?}"
    );
    assert!(levels[1] < levels[0] && levels[2] < levels[1], "{levels:?}");
    let third = clip.frame_of(&played, 22);
    let peak = third.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    let tail = third[third.len() - 4..]
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!(
        tail <= peak / 20,
        "fading towards 60 ms: peak {peak}, tail {tail}"
    );
    // Silent from 60 ms on.
    for index in [23, 24, 25] {
        assert!(clip.frame_of(&played, index).iter().all(|&s| s == 0));
    }
}

#[test]
fn g711_long_losses_fade_to_silence() {
    fades_to_silence(CodecKind::Pcma);
}

#[test]
fn g722_long_losses_fade_to_silence() {
    fades_to_silence(CodecKind::G722);
}

/// The first packet after a loss is blended in: no step larger than the signal's own slopes.
fn recovers_smoothly(kind: CodecKind, lost: &[usize]) {
    let clip = Clip::new(kind);
    let played = clip.play(lost);
    let max_slope = |pcm: &[i16]| {
        pcm.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    };
    let signal_slope = max_slope(&clip.reference);
    let after = lost.last().expect("a loss") + 1;
    let boundary = &played[after * clip.frame - 4..after * clip.frame + 4];
    let step = max_slope(boundary);
    assert!(
        step <= signal_slope,
        "{kind}: step {step} at recovery vs {signal_slope} in the signal"
    );
}

#[test]
fn g711_recovery_is_smooth() {
    recovers_smoothly(CodecKind::Pcmu, &[15]);
    recovers_smoothly(CodecKind::Pcmu, &[15, 16, 17]);
}

#[test]
fn g722_recovery_is_smooth() {
    recovers_smoothly(CodecKind::G722, &[15]);
    recovers_smoothly(CodecKind::G722, &[15, 16, 17]);
}

#[test]
fn g722_decoder_resynchronizes_after_a_loss() {
    let clip = Clip::new(CodecKind::G722);
    for lost in [&[20][..], &[20, 21, 22]] {
        let played = clip.play(lost);
        let resync = lost.last().expect("a loss") + 4;
        let later = &played[resync * clip.frame..];
        let snr = snr_db(&clip.reference[resync * clip.frame..], later);
        assert!(
            snr > 20.0,
            "{lost:?}: {snr:.1} dB once the ADPCM state has converged"
        );
    }
}

#[test]
fn concealment_takes_any_frame_length() {
    for kind in [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::G722] {
        let mut decoder = Decoder::new(kind, kind.native_rate()).expect("native rate");
        let mut out = vec![0i16; 2000];
        for len in [0, 1, 7, 160, 333, 2000] {
            assert_eq!(decoder.conceal(&mut out[..len]), Ok(len));
        }
        let payload = vec![0x55u8; 160];
        assert!(decoder.decode(&payload, &mut out).is_ok());
        assert_eq!(decoder.decode_fec(&payload, &mut out[..160]), Ok(160));
    }
}
