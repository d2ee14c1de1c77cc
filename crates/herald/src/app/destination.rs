//! Where a transfer may go: the only way Herald places an outbound leg.
//!
//! A destination is an agent group, a configured user, or a phone number that a trunk's
//! `outbound_numbers` allows. Anything else is refused (`error.connection.baddestination` for
//! VoiceXML, 403 for a REFER), which is the toll-fraud guard: no caller input, header or
//! document mistake can make Herald dial a number nobody configured.

use crate::config::{AgentGroup, Trunk, User};

/// A resolved transfer target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Group(String),
    User(String),
    /// An E.164 number over a trunk (by index in the configuration).
    Number {
        trunk: usize,
        e164: String,
    },
}

/// Why a destination was refused (for the call record; never contains the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a URI Herald knows how to reach (another domain, a scheme we do not dial).
    NotReachable,
    /// No such group or user.
    Unknown,
    /// A number no trunk may dial.
    NumberNotAllowed,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::NotReachable => "not-reachable",
            Refused::Unknown => "unknown",
            Refused::NumberNotAllowed => "number-not-allowed",
        }
    }
}

/// What destinations resolve against.
pub struct Directory<'a> {
    pub domain: &'a str,
    pub groups: &'a [AgentGroup],
    pub users: &'a [User],
    pub trunks: &'a [Trunk],
}

impl Directory<'_> {
    /// Resolves `queue:NAME`, `sip:NAME@<our domain>`, `sip:+NUMBER@...`, `tel:+NUMBER`.
    pub fn resolve(&self, dest: &str) -> Result<Destination, Refused> {
        let dest = dest.trim();
        if let Some(group) = strip_scheme(dest, "queue:") {
            return self.named(group, true);
        }
        if let Some(tel) = strip_scheme(dest, "tel:") {
            let number = tel.split(';').next().unwrap_or("");
            return self.number(number);
        }
        let Some(rest) = strip_scheme(dest, "sip:").or_else(|| strip_scheme(dest, "sips:")) else {
            return Err(Refused::NotReachable);
        };
        let rest = rest.split([';', '?']).next().unwrap_or("");
        let (user, host) = rest.split_once('@').ok_or(Refused::NotReachable)?;
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') {
                h
            } else {
                host
            }
        });
        let host = host.trim_matches(['[', ']']);
        let ours = host.eq_ignore_ascii_case(self.domain)
            || host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok();
        if !ours {
            return Err(Refused::NotReachable);
        }
        if user.starts_with('+') {
            return self.number(user);
        }
        self.named(user, false)
    }

    fn named(&self, name: &str, group_only: bool) -> Result<Destination, Refused> {
        if self.groups.iter().any(|g| g.name == name) {
            return Ok(Destination::Group(name.to_owned()));
        }
        if !group_only && self.users.iter().any(|u| u.username == name) {
            return Ok(Destination::User(name.to_owned()));
        }
        Err(Refused::Unknown)
    }

    fn number(&self, number: &str) -> Result<Destination, Refused> {
        let digits: String = number
            .chars()
            .filter(|c| !herald_dialplan::VISUAL_SEPARATORS.contains(c))
            .collect();
        let Some(national) = digits.strip_prefix('+') else {
            return Err(Refused::NumberNotAllowed);
        };
        let valid =
            (7..=15).contains(&national.len()) && national.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(Refused::NumberNotAllowed);
        }
        self.trunks
            .iter()
            .position(|t| {
                t.address.is_some() && t.outbound_numbers.iter().any(|p| p.matches(&digits))
            })
            .map(|trunk| Destination::Number {
                trunk,
                e164: digits.clone(),
            })
            .ok_or(Refused::NumberNotAllowed)
    }
}

fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let head = text.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &text[scheme.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> Config {
        Config::from_toml_str(
            r#"
[sip]
domain = "cc.example"
[[users]]
username = "alice"
password = "pw"
[[users]]
username = "bob"
password = "pw"
[agent_groups.support]
members = ["alice", "bob"]
[[trunks]]
name = "carrier"
address = "127.0.0.1:5090"
outbound_numbers = ["+4930*", "+33*"]
[[trunks]]
name = "inbound-only"
allowed_sources = ["127.0.0.2/32"]
"#,
            "t.toml",
        )
        .expect("a valid configuration")
    }

    fn resolve(dest: &str) -> Result<Destination, Refused> {
        let c = config();
        Directory {
            domain: &c.sip.domain,
            groups: &c.agent_groups,
            users: &c.users,
            trunks: &c.trunks,
        }
        .resolve(dest)
    }

    #[test]
    fn groups_users_and_allowed_numbers_resolve() {
        assert_eq!(
            resolve("queue:support"),
            Ok(Destination::Group("support".into()))
        );
        assert_eq!(
            resolve("sip:support@cc.example"),
            Ok(Destination::Group("support".into()))
        );
        assert_eq!(
            resolve("sip:alice@127.0.0.1:5060"),
            Ok(Destination::User("alice".into()))
        );
        assert_eq!(
            resolve("tel:+49-30-1234567;phone-context=x"),
            Ok(Destination::Number {
                trunk: 0,
                e164: "+49301234567".into()
            })
        );
        assert_eq!(
            resolve("sip:+33612345678@cc.example;user=phone"),
            Ok(Destination::Number {
                trunk: 0,
                e164: "+33612345678".into()
            })
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for (dest, why) in [
            ("queue:alice", Refused::Unknown),
            ("queue:sales", Refused::Unknown),
            ("sip:mallory@cc.example", Refused::Unknown),
            ("sip:alice@evil.example", Refused::NotReachable),
            ("sip:+4930123456@evil.example", Refused::NotReachable),
            ("tel:+4989123456", Refused::NumberNotAllowed),
            ("tel:+882123456", Refused::NumberNotAllowed),
            ("tel:030123456", Refused::NumberNotAllowed),
            ("tel:+49301", Refused::NumberNotAllowed),
            ("tel:+4930abc", Refused::NumberNotAllowed),
            ("tel:+4930123456789012", Refused::NumberNotAllowed),
            ("http://example.com/", Refused::NotReachable),
            ("sip:", Refused::NotReachable),
            ("", Refused::NotReachable),
        ] {
            assert_eq!(resolve(dest), Err(why), "{dest}");
        }
    }
}
