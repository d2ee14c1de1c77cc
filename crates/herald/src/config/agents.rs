//! `[agent_groups.NAME]` and the number handling of `[[trunks]]`: who takes calls after the
//! IVR, and how numbers from and to carriers are written.

use std::str::FromStr;
use std::time::Duration;

/// How a group picks the agent to ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The available agent whose last call ended longest ago (never-called agents first).
    LongestIdle,
    /// The next available agent after the one rung last, in `members` order.
    RoundRobin,
    /// Every available agent at once; the first to answer takes the call.
    RingAll,
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "longest-idle" => Ok(Strategy::LongestIdle),
            "round-robin" => Ok(Strategy::RoundRobin),
            "ring-all" => Ok(Strategy::RingAll),
            other => Err(format!(
                "unknown strategy {other:?}: use \"longest-idle\", \"round-robin\" or \"ring-all\""
            )),
        }
    }
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::RingAll => "ring-all",
        }
    }
}

/// `[agent_groups.NAME]`: a queue of agents a transfer rings.
///
/// A transfer to the group (`queue:NAME` in VoiceXML) rings available members (registered,
/// not on a call, not in wrap-up) one after another (`ring-all`: all at once), each for
/// `ring_timeout`, until one answers or the transfer's `connecttimeout` runs out. Nobody
/// answering gives the document `noanswer` (every member busy: `busy`), so the IVR plays its
/// fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentGroup {
    pub name: String,
    /// Usernames of `[[users]]`, in order.
    pub members: Vec<String>,
    pub strategy: Strategy,
    /// How long one agent's phone rings before the next is tried.
    pub ring_timeout: Duration,
    /// After a call, how long an agent gets before the next one.
    pub wrap_up: Duration,
    /// The prompt (`prompt:NAME` without the scheme) played in a loop to a caller on hold;
    /// `None`: silence.
    pub hold_music: Option<String>,
}

/// How a trunk writes phone numbers, for turning them into E.164 (`+4930123456`) and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    /// The country calling code of the trunk's national numbers (`49`); `None`: numbers
    /// without `+` or the international prefix stay as they are.
    pub country_code: Option<String>,
    /// Dialled before a national number (`0` in most of Europe).
    pub national_prefix: String,
    /// Dialled before an international number (`00` in Europe).
    pub international_prefix: String,
}

impl Numbering {
    /// The E.164 form of a number received from the trunk (`030 123` with country code 49
    /// becomes `+4930123`); `None` when it is not a number (a name, `anonymous`).
    pub fn to_e164(&self, number: &str) -> Option<String> {
        let digits: String = number
            .chars()
            .filter(|c| !herald_dialplan::VISUAL_SEPARATORS.contains(c))
            .collect();
        let (plus, rest) = match digits.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, digits.as_str()),
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if plus {
            return Some(format!("+{rest}"));
        }
        let international = &self.international_prefix;
        if !international.is_empty()
            && let Some(n) = rest.strip_prefix(international.as_str())
        {
            return (!n.is_empty()).then(|| format!("+{n}"));
        }
        let cc = self.country_code.as_deref()?;
        let national = rest.strip_prefix(self.national_prefix.as_str())?;
        (!national.is_empty()).then(|| format!("+{cc}{national}"))
    }

    /// How to dial an E.164 number over the trunk: E.164 itself (carriers take `+`).
    pub fn dial(&self, e164: &str) -> String {
        e164.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn german() -> Numbering {
        Numbering {
            country_code: Some("49".into()),
            national_prefix: "0".into(),
            international_prefix: "00".into(),
        }
    }

    #[test]
    fn national_international_and_e164_numbers_become_e164() {
        let n = german();
        assert_eq!(n.to_e164("030 1234-567").as_deref(), Some("+49301234567"));
        assert_eq!(n.to_e164("0033 6 12").as_deref(), Some("+33612"));
        assert_eq!(n.to_e164("+44 20 7946").as_deref(), Some("+44207946"));
        assert_eq!(n.to_e164("anonymous"), None);
        assert_eq!(n.to_e164("00"), None);
        assert_eq!(n.to_e164(""), None);
        // A subscriber number without a prefix is not guessed at.
        assert_eq!(n.to_e164("1234567"), None);
    }

    #[test]
    fn without_a_country_code_only_explicit_international_numbers_convert() {
        let n = Numbering {
            country_code: None,
            ..german()
        };
        assert_eq!(n.to_e164("030123"), None);
        assert_eq!(n.to_e164("004930123").as_deref(), Some("+4930123"));
    }

    #[test]
    fn strategies_parse_by_their_documented_names() {
        for s in [
            Strategy::LongestIdle,
            Strategy::RoundRobin,
            Strategy::RingAll,
        ] {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        assert!(
            "random"
                .parse::<Strategy>()
                .unwrap_err()
                .contains("longest-idle")
        );
    }
}
