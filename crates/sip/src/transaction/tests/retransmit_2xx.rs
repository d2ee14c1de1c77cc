//! The UAS core's 2xx retransmission.

use super::{Clock, Msg, drive, ms};
use crate::transaction::{Retransmit2xx, Retransmit2xxOutput, Retransmit2xxState, TimerConfig};

fn times(outputs: &[(std::time::Duration, Retransmit2xxOutput<Msg>)]) -> Vec<u128> {
    outputs
        .iter()
        .filter(|(_, output)| matches!(output, Retransmit2xxOutput::Transmit(_)))
        .map(|(at, _)| at.as_millis())
        .collect()
}

#[test]
fn retransmits_doubling_to_t2_and_gives_up_after_64_t1() {
    let mut clock = Clock::new();
    let mut core = Retransmit2xx::new(Msg::Response(200), TimerConfig::default(), clock.now);
    let outputs = drive(&mut core, &mut clock, ms(100_000));
    assert_eq!(
        times(&outputs),
        vec![
            500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(
        outputs.last(),
        Some(&(ms(32_000), Retransmit2xxOutput::AckTimeout))
    );
    assert_eq!(core.state(), Retransmit2xxState::TimedOut);
    assert_eq!(core.poll_timeout(), None);
    assert!(
        !core.handle_ack(clock.now),
        "an ACK after the timeout changes nothing"
    );
}

#[test]
fn ack_stops_retransmissions() {
    let mut clock = Clock::new();
    let mut core = Retransmit2xx::new(Msg::Response(200), TimerConfig::default(), clock.now);
    let outputs = drive(&mut core, &mut clock, ms(2_000));
    assert_eq!(times(&outputs), vec![500, 1_500]);
    assert!(core.handle_ack(clock.set(ms(2_000))));
    assert!(!core.handle_ack(clock.now), "retransmitted ACK");
    assert_eq!(core.state(), Retransmit2xxState::Acked);
    assert_eq!(core.poll_timeout(), None);
    assert!(drive(&mut core, &mut clock, ms(100_000)).is_empty());
    assert_eq!(core.retransmissions(), 2);
}
