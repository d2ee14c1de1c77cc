//! Resampling of prompts and real-time decimation for the DTMF detector.

mod codec_signals;

use codec_signals::{fit_tone, goertzel, level_db, rms, sinad_db, sine, zero_crossing_frequency};
use herald_media::resample::{Decimator, Interpolator, OutputTooSmall, resample};

const RATES: [u32; 7] = [8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];

#[test]
fn lengths_follow_the_rate_ratio() {
    for from in RATES {
        for to in RATES {
            for len in [1usize, 441, 1000, 12_345] {
                let input = vec![100i16; len];
                let expected = (len as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
                assert_eq!(
                    resample(&input, from, to).len(),
                    expected,
                    "{from} -> {to}, {len}"
                );
            }
        }
    }
    assert!(resample(&[], 8_000, 16_000).is_empty());
    assert!(resample(&[1, 2, 3], 0, 16_000).is_empty());
    assert_eq!(resample(&[1, 2, 3], 8_000, 8_000), vec![1, 2, 3]);
}

#[test]
fn a_1khz_tone_keeps_frequency_and_level_from_44k1_to_8k() {
    let input = sine(1000.0, 44_100, 16_000.0, 44_100);
    let output = resample(&input, 44_100, 8_000);
    assert_eq!(output.len(), 8_000);
    // Leave out the edges, where the filter sees the clip start and end.
    let middle = &output[400..7_600];
    let frequency = zero_crossing_frequency(middle, 8_000);
    assert!((frequency - 1000.0).abs() < 1.0, "{frequency:.2} Hz");
    let at_1k = goertzel(middle, 1000.0, 8_000);
    let nearby = goertzel(middle, 1100.0, 8_000).max(goertzel(middle, 900.0, 8_000));
    assert!(at_1k > 1000.0 * nearby, "the energy stays at 1 kHz");
    let level = level_db(&input[2_205..41_895], middle);
    assert!(level.abs() < 1.0, "{level:.3} dB");
    let sinad = sinad_db(middle, 1000.0, 8_000);
    assert!(sinad > 60.0, "SINAD {sinad:.1} dB");
}

#[test]
fn every_rate_pair_keeps_a_tone_clean_and_aligned() {
    for from in RATES {
        for to in RATES {
            let input = sine(1000.0, from, 12_000.0, from as usize);
            let output = resample(&input, from, to);
            let edge = to as usize / 20;
            let middle = &output[edge..to as usize - edge];
            let sinad = sinad_db(middle, 1000.0, to);
            assert!(sinad > 60.0, "{from} -> {to}: SINAD {sinad:.1} dB");
            // rubato trims its filter delay in whole output samples: the output may lead the
            // input by up to one sample, never more.
            let (amplitude, phase, _) = fit_tone(middle, 1000.0, to);
            let expected_phase = std::f64::consts::TAU * 1000.0 * edge as f64 / f64::from(to);
            let lead = (phase - expected_phase).rem_euclid(std::f64::consts::TAU);
            let lead = if lead > std::f64::consts::PI {
                lead - std::f64::consts::TAU
            } else {
                lead
            };
            let lead_samples = lead / std::f64::consts::TAU * f64::from(to) / 1000.0;
            assert!(
                (-0.1..=1.1).contains(&lead_samples),
                "{from} -> {to}: {lead_samples:.3}"
            );
            assert!(
                (amplitude / 12_000.0 - 1.0).abs() < 0.01,
                "{from} -> {to}: {amplitude:.0}"
            );
        }
    }
}

#[test]
fn downsampling_removes_what_the_new_rate_cannot_carry() {
    // 5 kHz does not exist at 8 kHz: it must not fold back to 3 kHz.
    let input = sine(5000.0, 48_000, 16_000.0, 48_000);
    let output = resample(&input, 48_000, 8_000);
    let folded = rms(&output[400..7_600]);
    assert!(folded < 16_000.0 * 0.001, "residue {folded:.1}");
}

/// Level in dB of a tone at `freq` after decimation from `from` to `to`, measured after the
/// filter has settled.
fn decimated_level(freq: f64, from: u32, to: u32) -> f64 {
    let input = sine(freq, from, 10_000.0, from as usize);
    let mut decimator = Decimator::new(from, to).expect("integer factor");
    let mut output = vec![0i16; decimator.output_len(input.len())];
    let n = decimator
        .process(&input, &mut output)
        .expect("sized by output_len");
    assert_eq!(n, to as usize);
    let settled = &output[to as usize / 10..];
    20.0 * (rms(settled) / rms(&input)).log10()
}

#[test]
fn decimation_by_two_rejects_3900hz_and_keeps_dtmf() {
    let rejected = decimated_level(3_900.0, 16_000, 8_000);
    assert!(rejected < -30.0, "3.9 kHz at {rejected:.1} dB");
    for dtmf in [697.0, 941.0, 1209.0, 1633.0] {
        let kept = decimated_level(dtmf, 16_000, 8_000);
        assert!(kept.abs() < 0.1, "{dtmf} Hz at {kept:.3} dB");
    }
}

#[test]
fn decimation_by_six_rejects_aliases_and_keeps_dtmf() {
    // 5 kHz at 48 kHz would fold to 3 kHz at 8 kHz; 7.7 kHz to 300 Hz.
    for alias in [5_000.0, 7_700.0, 12_000.0] {
        let rejected = decimated_level(alias, 48_000, 8_000);
        assert!(rejected < -60.0, "{alias} Hz at {rejected:.1} dB");
    }
    for dtmf in [697.0, 1477.0, 1633.0] {
        let kept = decimated_level(dtmf, 48_000, 8_000);
        assert!(kept.abs() < 0.1, "{dtmf} Hz at {kept:.3} dB");
    }
}

#[test]
fn decimated_output_is_the_input_delayed() {
    let input = sine(1000.0, 48_000, 10_000.0, 48_000);
    let mut decimator = Decimator::new(48_000, 8_000).expect("integer factor");
    let mut output = vec![0i16; 8_000];
    decimator.process(&input, &mut output).expect("sized");
    // Output k is the filtered input at 6k + 5, which the filter delays by `delay()` samples.
    let delay = decimator.delay();
    for (k, &got) in output.iter().enumerate().skip(200).take(100) {
        let source = 6 * k + 5 - delay;
        let ideal = 10_000.0 * (std::f64::consts::TAU * 1000.0 * source as f64 / 48_000.0).sin();
        assert!((f64::from(got) - ideal).abs() < 20.0, "sample {k}");
    }
}

#[test]
fn lengths_and_errors_of_the_decimator() {
    let mut decimator = Decimator::new(16_000, 8_000).expect("2:1");
    assert_eq!(decimator.factor(), 2);
    let mut out = [0i16; 80];
    assert_eq!(decimator.process(&[0; 161], &mut out), Ok(80));
    assert_eq!(
        decimator.output_len(1),
        1,
        "the odd sample completes the next pair"
    );
    assert_eq!(
        decimator.process(&[0; 321], &mut out),
        Err(OutputTooSmall {
            needed: 161,
            got: 80
        })
    );
    assert!(Decimator::new(16_000, 0).is_err());
    assert!(Decimator::new(22_050, 8_000).is_err());
    assert_eq!(Decimator::new(8_000, 8_000).map(|d| d.delay()), Ok(0));
}

/// `input` at `from` Hz through a fresh interpolator to `to` Hz, fed in chunks of `chunk`.
fn interpolated(input: &[i16], from: u32, to: u32, chunk: usize) -> Vec<i16> {
    let mut interpolator = Interpolator::new(from, to).expect("integer factor");
    let mut output = Vec::new();
    let mut out = vec![0i16; interpolator.output_len(chunk)];
    for piece in input.chunks(chunk) {
        let n = interpolator
            .process(piece, &mut out)
            .expect("sized by output_len");
        output.extend_from_slice(&out[..n]);
    }
    output
}

#[test]
fn interpolation_by_two_keeps_a_tone_and_its_level_and_removes_the_image() {
    // 1 kHz at 8 kHz, upsampled: still 1 kHz, same level, clean; its image at 7 kHz gone.
    let input = sine(1000.0, 8_000, 12_000.0, 8_000);
    let output = interpolated(&input, 8_000, 16_000, 160);
    assert_eq!(output.len(), 16_000);
    let settled = &output[1_600..14_400];
    let frequency = zero_crossing_frequency(settled, 16_000);
    assert!((frequency - 1000.0).abs() < 1.0, "{frequency:.2} Hz");
    let (amplitude, _, _) = fit_tone(settled, 1000.0, 16_000);
    assert!((amplitude / 12_000.0 - 1.0).abs() < 0.01, "{amplitude:.0}");
    let sinad = sinad_db(settled, 1000.0, 16_000);
    assert!(sinad > 60.0, "SINAD {sinad:.1} dB");
    let image = goertzel(settled, 7000.0, 16_000);
    let tone = goertzel(settled, 1000.0, 16_000);
    assert!(tone > 1e6 * image, "the 7 kHz image is gone");
    // DTMF frequencies pass flat.
    for dtmf in [697.0, 1633.0] {
        let input = sine(dtmf, 8_000, 10_000.0, 8_000);
        let output = interpolated(&input, 8_000, 16_000, 160);
        let level = level_db(&input[800..7_200], &output[1_600..14_400]);
        assert!(level.abs() < 0.1, "{dtmf} Hz at {level:.3} dB");
    }
}

#[test]
fn interpolated_output_is_the_input_delayed_however_it_is_cut() {
    let input = sine(1000.0, 8_000, 10_000.0, 4_000);
    let whole = interpolated(&input, 8_000, 16_000, 4_000);
    assert_eq!(interpolated(&input, 8_000, 16_000, 37), whole);
    assert_eq!(interpolated(&input, 8_000, 16_000, 160), whole);
    let delay = Interpolator::new(8_000, 16_000).expect("1:2").delay();
    assert!((20..=60).contains(&delay), "{delay}");
    for (k, &got) in whole.iter().enumerate().skip(400).take(200) {
        let ideal =
            10_000.0 * (std::f64::consts::TAU * 1000.0 * (k - delay) as f64 / 16_000.0).sin();
        assert!(
            (f64::from(got) - ideal).abs() < 20.0,
            "sample {k}: {got} vs {ideal:.0}"
        );
    }
}

#[test]
fn lengths_and_errors_of_the_interpolator() {
    let mut interpolator = Interpolator::new(8_000, 16_000).expect("1:2");
    assert_eq!(interpolator.factor(), 2);
    assert_eq!(interpolator.output_len(160), 320);
    let mut out = [0i16; 100];
    assert_eq!(
        interpolator.process(&[1; 51], &mut out),
        Err(OutputTooSmall {
            needed: 102,
            got: 100
        })
    );
    assert_eq!(interpolator.process(&[1; 50], &mut out), Ok(100));
    interpolator.reset();
    let mut fresh = Interpolator::new(8_000, 16_000).expect("1:2");
    let (mut a, mut b) = ([0i16; 40], [0i16; 40]);
    interpolator.process(&[500; 20], &mut a).expect("sized");
    fresh.process(&[500; 20], &mut b).expect("sized");
    assert_eq!(a, b, "reset forgets the history");
    assert!(Interpolator::new(16_000, 8_000).is_err());
    assert!(Interpolator::new(0, 8_000).is_err());
    assert!(Interpolator::new(8_000, 22_050).is_err());
    assert_eq!(Interpolator::new(8_000, 8_000).map(|i| i.delay()), Ok(0));
}
