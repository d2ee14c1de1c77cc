//! Agent groups: which agents a transfer rings, in which order, and who is free.
//!
//! An agent is available when one of their phones is registered, they are not ringing or on a
//! call, and their wrap-up after the last call is over. The board never reads a clock: `now`
//! is an argument.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::config::{AgentGroup, Strategy};

/// One agent's state.
#[derive(Debug, Default, Clone)]
struct Agent {
    /// Legs ringing or bridged to this agent.
    legs: u32,
    wrap_up_until: Option<Instant>,
    last_ended: Option<Instant>,
}

/// Why no agent could be picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Members are registered but every one is on a call or in wrap-up.
    AllBusy,
    /// No member is registered (or every one was tried already).
    NoneReachable,
}

/// The agents of every group and their state.
#[derive(Debug, Default)]
pub struct AgentBoard {
    groups: HashMap<String, (AgentGroup, usize)>,
    agents: HashMap<String, Agent>,
}

impl AgentBoard {
    pub fn new(groups: &[AgentGroup]) -> Self {
        Self {
            groups: groups
                .iter()
                .map(|g| (g.name.clone(), (g.clone(), 0)))
                .collect(),
            agents: HashMap::new(),
        }
    }

    pub fn group(&self, name: &str) -> Option<&AgentGroup> {
        self.groups.get(name).map(|(g, _)| g)
    }

    fn free(&self, user: &str, now: Instant) -> bool {
        self.agents
            .get(user)
            .is_none_or(|a| a.legs == 0 && a.wrap_up_until.is_none_or(|until| until <= now))
    }

    /// The agents of `group` to ring now: one (`ring-all`: every available one), never one in
    /// `tried`. `registered` says whether a user has a phone to ring.
    pub fn pick(
        &mut self,
        group: &str,
        now: Instant,
        registered: impl Fn(&str) -> bool,
        tried: &HashSet<String>,
    ) -> Result<Vec<String>, Unavailable> {
        let Some((config, _)) = self.groups.get(group) else {
            return Err(Unavailable::NoneReachable);
        };
        let reachable: Vec<&String> = config
            .members
            .iter()
            .filter(|m| !tried.contains(*m) && registered(m))
            .collect();
        let free: Vec<String> = reachable
            .iter()
            .filter(|m| self.free(m, now))
            .map(|m| (*m).clone())
            .collect();
        if free.is_empty() {
            return Err(if reachable.is_empty() {
                Unavailable::NoneReachable
            } else {
                Unavailable::AllBusy
            });
        }
        let strategy = config.strategy;
        let members = config.members.clone();
        Ok(match strategy {
            Strategy::RingAll => free,
            Strategy::LongestIdle => {
                let idle_since = |m: &String| self.agents.get(m).and_then(|a| a.last_ended);
                // Never-called agents (None) sort first; ties keep the members' order.
                let best = free.iter().min_by_key(|m| idle_since(m)).cloned();
                best.into_iter().collect()
            }
            Strategy::RoundRobin => {
                let Some((_, next)) = self.groups.get_mut(group) else {
                    return Err(Unavailable::NoneReachable);
                };
                let n = members.len();
                let chosen = (0..n)
                    .map(|i| (*next + i) % n)
                    .find(|&i| free.contains(&members[i]));
                match chosen {
                    Some(i) => {
                        *next = (i + 1) % n;
                        vec![members[i].clone()]
                    }
                    None => Vec::new(),
                }
            }
        })
    }

    /// The agent is being rung or is on a call.
    pub fn seize(&mut self, user: &str) {
        self.agents.entry(user.to_owned()).or_default().legs += 1;
    }

    /// A leg to the agent ended; `wrap_up` (after a call that was answered) keeps them free
    /// of new calls for a while.
    pub fn release(&mut self, user: &str, now: Instant, wrap_up: Option<Duration>) {
        let agent = self.agents.entry(user.to_owned()).or_default();
        agent.legs = agent.legs.saturating_sub(1);
        if let Some(wrap_up) = wrap_up {
            agent.last_ended = Some(now);
            agent.wrap_up_until = Some(now + wrap_up);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(strategy: Strategy) -> AgentGroup {
        AgentGroup {
            name: "support".into(),
            members: vec!["alice".into(), "bob".into(), "carol".into()],
            strategy,
            ring_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_secs(10),
            hold_music: None,
        }
    }

    fn everyone(_: &str) -> bool {
        true
    }

    #[test]
    fn longest_idle_prefers_never_called_then_the_earliest_ended() {
        let t0 = Instant::now();
        let mut board = AgentBoard::new(&[group(Strategy::LongestIdle)]);
        let none = HashSet::new();
        assert_eq!(
            board.pick("support", t0, everyone, &none),
            Ok(vec!["alice".into()])
        );
        for (who, at) in [("alice", 5), ("bob", 3), ("carol", 4)] {
            board.seize(who);
            board.release(who, t0 + Duration::from_secs(at), Some(Duration::ZERO));
        }
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            board.pick("support", later, everyone, &none),
            Ok(vec!["bob".into()])
        );
    }

    #[test]
    fn round_robin_moves_on_and_skips_busy_agents() {
        let t0 = Instant::now();
        let mut board = AgentBoard::new(&[group(Strategy::RoundRobin)]);
        let none = HashSet::new();
        let pick = |b: &mut AgentBoard| b.pick("support", t0, everyone, &none).unwrap();
        assert_eq!(pick(&mut board), ["alice"]);
        assert_eq!(pick(&mut board), ["bob"]);
        board.seize("carol");
        assert_eq!(pick(&mut board), ["alice"], "carol is busy");
        assert_eq!(pick(&mut board), ["bob"]);
    }

    #[test]
    fn ring_all_rings_every_free_registered_untried_member() {
        let t0 = Instant::now();
        let mut board = AgentBoard::new(&[group(Strategy::RingAll)]);
        let tried: HashSet<String> = ["bob".to_owned()].into();
        let registered = |u: &str| u != "carol";
        assert_eq!(
            board.pick("support", t0, registered, &tried),
            Ok(vec!["alice".into()])
        );
    }

    #[test]
    fn wrap_up_keeps_an_agent_free_of_calls_until_it_ends() {
        let t0 = Instant::now();
        let mut board = AgentBoard::new(&[AgentGroup {
            members: vec!["alice".into()],
            ..group(Strategy::LongestIdle)
        }]);
        let none = HashSet::new();
        board.seize("alice");
        assert_eq!(
            board.pick("support", t0, everyone, &none),
            Err(Unavailable::AllBusy)
        );
        board.release("alice", t0, Some(Duration::from_secs(10)));
        let during = t0 + Duration::from_secs(9);
        assert_eq!(
            board.pick("support", during, everyone, &none),
            Err(Unavailable::AllBusy)
        );
        let after = t0 + Duration::from_secs(10);
        assert_eq!(
            board.pick("support", after, everyone, &none),
            Ok(vec!["alice".into()])
        );
        // An unanswered ring gives no wrap-up.
        board.seize("alice");
        board.release("alice", after, None);
        assert!(board.pick("support", after, everyone, &none).is_ok());
    }

    #[test]
    fn nobody_registered_or_everyone_tried_is_unreachable() {
        let t0 = Instant::now();
        let mut board = AgentBoard::new(&[group(Strategy::RingAll)]);
        let none = HashSet::new();
        assert_eq!(
            board.pick("support", t0, |_| false, &none),
            Err(Unavailable::NoneReachable)
        );
        let all: HashSet<String> = ["alice", "bob", "carol"].map(str::to_owned).into();
        assert_eq!(
            board.pick("support", t0, everyone, &all),
            Err(Unavailable::NoneReachable)
        );
        assert_eq!(
            board.pick("nosuch", t0, everyone, &none),
            Err(Unavailable::NoneReachable)
        );
    }
}
