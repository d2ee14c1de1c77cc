//! Behaviour of the jitter buffer in virtual time.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn scratch_debug_drift() {
    let Ok(text) = std::fs::read_to_string(std::env::var("JB_FILE").unwrap_or_default()) else { return };
    let mut jb = JitterBuffer::new(JitterConfig { mode: JitterMode::Adaptive { initial: Duration::ZERO, min: Duration::ZERO, max: Duration::from_millis(180) }, ..JitterConfig::default() }).unwrap();
    let t0 = Instant::now();
    let mut now = t0;
    let mut seq = 1u64;
    let mut ticks = 0;
    for c in text.chars() {
        match c {
            'P' => { jb.put(now, seq, seq * 160, &[0]); seq += 1; }
            'G' => {
                let line = jb.debug_line(now);
                let p = jb.get(now);
                let kind = match p { Playout::Frame(_) => "F".to_string(), Playout::Empty { reason } => format!("E{reason:?}"), Playout::Missing{..} => "M".into(), Playout::Continued{..} => "C".into() };
                ticks += 1;
                if ticks % 5 == 0 || !kind.starts_with('F') {
                    println!("{ticks:5} {kind:12} {line}");
                }
                now += Duration::from_millis(20);
            }
            _ => {}
        }
    }
}
