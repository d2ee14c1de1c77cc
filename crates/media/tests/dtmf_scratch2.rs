use herald_media::tone::{Cadence, ToneComponent, ToneGenerator, ToneSpec, dbm0_to_peak};
#[test]
fn which() {
    let spec = ToneSpec::dual(ToneComponent{hz: 941.0, dbm0: -5.0}, ToneComponent{hz: 1209.0, dbm0: -13.0}, Cadence::Continuous);
    let mut out = vec![0i16; 800];
    ToneGenerator::new(8000, spec).fill(&mut out);
    let col = dbm0_to_peak(-13.0).powi(2) / 2.0;
    for start in [51usize, 102, 153, 204] {
        let seg = &out[start..start + 204];
        let mut worst = (0.0, -200.0);
        for i in 0..=20 { let hz = 100.0 + 25.0 * i as f64; let w = std::f64::consts::TAU * hz / 8000.0;
            let (mut re, mut im) = (0.0, 0.0);
            for (n, &x) in seg.iter().enumerate() { let h = 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / 204.0).cos(); re += x as f64 * h * (w * n as f64).cos(); im -= x as f64 * h * (w * n as f64).sin(); }
            let p = 2.0 * (re * re + im * im) / (102.0f64).powi(2); let rel = 10.0 * (p / col).log10();
            if rel > worst.1 { worst = (hz, rel); } }
        println!("start {start}: worst {worst:?} dB rel col");
    }
}
