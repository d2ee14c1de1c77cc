use herald_media::dtmf::{Digit, InbandDetector};
use herald_media::tone::{Cadence, ToneComponent, ToneGenerator, ToneSpec, dbm0_to_peak};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
const ALL: &str = "0123456789*#ABCD";
fn burst(key: char, l: f64, h: f64, ld: f64, hd: f64, n: usize, lead: usize) -> Vec<i16> {
    let (lo, hi) = Digit::from_char(key).unwrap().frequencies();
    let spec = ToneSpec::dual(ToneComponent{hz: lo*(1.0+ld), dbm0: l}, ToneComponent{hz: hi*(1.0+hd), dbm0: h}, Cadence::Continuous);
    let mut out = vec![0; lead + n + 800];
    ToneGenerator::new(8000, spec).fill(&mut out[lead..lead+n]);
    out
}
fn count(pcm: &[i16]) -> usize {
    let mut d = InbandDetector::new(8000).unwrap();
    let mut c = 0;
    for ch in pcm.chunks(160) { d.process(ch); while d.poll_digit().is_some() { c += 1; } }
    c
}
fn noise(pcm: &mut [i16], power: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for s in pcm { let u1: f64 = rng.random::<f64>().max(1e-300); let u2: f64 = rng.random();
      let n = power.sqrt() * (-2.0*u1.ln()).sqrt() * (std::f64::consts::TAU*u2).cos();
      *s = (f64::from(*s)+n).round().clamp(-32768.0, 32767.0) as i16; }
}
#[test]
fn margins() {
    let mode = std::env::var("MARGINS").unwrap_or_default();
    if mode.contains("dev") {
    for dev in [0.015, 0.018, 0.02, 0.022, 0.024, 0.026, 0.028] {
        let mut acc = [0; 4];
        for (j, (a, b)) in [(dev, 0.0), (-dev, 0.0), (0.0, dev), (0.0, -dev)].iter().enumerate() {
            for k in ALL.chars() { for off in [0, 17, 34] { acc[j] += count(&burst(k, -10.0, -10.0, *a, *b, 800, off)); } }
        }
        println!("dev {dev}: accepted {acc:?} of 48 each");
    } }
    if mode.contains("combo") {
        // 1.5 % deviation with 4 dB reverse twist, 40 ms
        let mut a = 0; for k in ALL.chars() { for off in 0..51 { for (x,y) in [(0.015,0.015),(-0.015,-0.015),(0.015,-0.015),(-0.015,0.015)] { a += count(&burst(k, -14.0, -10.0, x, y, 320, off)); } } }
        println!("40 ms, ±1.5 %, 4 dB reverse twist: {a}/3264");
    }
    if mode.contains("twist") {
    for tw in [8.0, 8.5, 9.0, 9.5, 10.0] { let mut a=0; for k in ALL.chars() { for off in [0,17,34] { a += count(&burst(k, -5.0, -5.0-tw, 0.0,0.0, 800, off)); } } println!("normal twist {tw}: {a}/48"); }
    for tw in [4.0, 4.5, 5.0, 5.5, 6.0] { let mut a=0; for k in ALL.chars() { for off in [0,17,34] { a += count(&burst(k, -10.0-tw, -10.0, 0.0,0.0, 800, off)); } } println!("reverse twist {tw}: {a}/48"); }
    }
    if mode.contains("level") {
    for lvl in [-38.0, -40.0, -41.0, -42.0, -43.0] { let mut a=0; for k in ALL.chars() { for off in [0,17,34] { a += count(&burst(k, lvl, lvl, 0.0,0.0, 800, off)); } } println!("level {lvl}: {a}/48"); }
    }
    if mode.contains("dur") {
    for msx in [22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0, 36.0, 40.0] { let n = (msx*8.0) as usize; let mut a=0; for k in ALL.chars() { for off in 0..51 { a += count(&burst(k, -10.0, -10.0, 0.0,0.0, n, off)); } } println!("duration {msx} ms: {a}/816"); }
    }
    if mode.contains("snr") {
    for snr in [12.0, 10.0, 8.0, 6.0] {
        let tone = dbm0_to_peak(-10.0).powi(2)/2.0; let p = 2.0*tone/10f64.powf(snr/10.0);
        for dur in [40.0, 60.0] { let n = (dur*8.0) as usize; let mut a=0; let mut extra = 0;
        for k in ALL.chars() { for seed in 0..10 { let mut b = burst(k, -10.0, -10.0, 0.0, 0.0, n, 300); noise(&mut b, p, seed); let c = count(&b); if c >= 1 { a += 1; } if c > 1 { extra += c-1; } } }
        println!("snr {snr} dB, {dur} ms: {a}/160, extra {extra}"); }
    } }
}
