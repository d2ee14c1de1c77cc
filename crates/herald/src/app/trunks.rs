//! Trunks and callers: which trunk a call came from, whether Herald takes it at all, who the
//! caller is (P-Asserted-Identity and Privacy from trusted trunks only, numbers in E.164), and
//! keeping registrations with carriers alive.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Instant;

use herald_sip::endpoint::{
    CallInfo, ClientCredentials, Target, Transport, UpstreamRegistration, UpstreamState,
};

use super::{CallApp, Ep};
use crate::config::{AgentGroup, Config, Trunk, User};

/// Who called, as far as the call's source vouches for it.
#[derive(Debug, Clone, Default)]
pub struct CallerIdentity {
    /// The number (E.164 when it came from a trunk that knows its numbering), or user.
    pub number: String,
    /// The caller withheld their identity (CLIR: `Privacy: id`, or an anonymous From): it
    /// goes to no agent's display and no trunk.
    pub private: bool,
}

/// One of our SIP listeners, as outbound requests advertise it.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddress {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// A wildcard listener: advertise the address the kernel routes to each peer from.
    pub per_peer: bool,
}

/// What destinations resolve against, and who may call in.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub domain: String,
    pub groups: Vec<AgentGroup>,
    pub users: Vec<User>,
    pub trunks: Vec<Trunk>,
    /// Users whose phones are offered SRTP (SDES).
    pub srtp_users: HashSet<String>,
    /// Some trunk names its source addresses: calls from anywhere else (other than a
    /// registered phone) are refused before any dialplan work.
    pub restricted: bool,
}

impl DirectoryConfig {
    pub fn new(config: &Config) -> Self {
        Self {
            domain: config.sip.domain.clone(),
            groups: config.agent_groups.clone(),
            users: config.users.clone(),
            trunks: config.trunks.clone(),
            srtp_users: config
                .users
                .iter()
                .filter(|u| u.srtp)
                .map(|u| u.username.clone())
                .collect(),
            restricted: config.trunks.iter().any(|t| !t.allowed_sources.is_empty()),
        }
    }

    /// The trunk whose `allowed_sources` hold `ip`.
    pub fn trunk_of(&self, ip: IpAddr) -> Option<usize> {
        self.trunks
            .iter()
            .position(|t| t.allowed_sources.iter().any(|net| net.contains(ip)))
    }
}

/// Where a call may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// From a trunk's allowed source (its index).
    Trunk(usize),
    /// From a registered phone, or from anyone when no trunk restricts sources.
    Direct,
    /// From an address no trunk or phone has: 403.
    Refused,
}

impl CallApp {
    /// Whether a new call is taken, and as what.
    pub(super) fn admit(&self, ep: &Ep, now: Instant, info: &CallInfo) -> Admission {
        let ip = info.source.ip();
        if let Some(trunk) = self.directory.trunk_of(ip) {
            return Admission::Trunk(trunk);
        }
        if !self.directory.restricted {
            return Admission::Direct;
        }
        let domain = &self.directory.domain;
        let from_phone = self.directory.users.iter().any(|u| {
            ep.bindings(&format!("sip:{}@{domain}", u.username), now)
                .iter()
                .any(|b| b.source.is_some_and(|s| s.ip() == ip))
        });
        if from_phone {
            Admission::Direct
        } else {
            Admission::Refused
        }
    }

    /// The caller's identity: a trusted trunk's P-Asserted-Identity and Privacy count, and
    /// its numbers become E.164; from anywhere else, the From user, and PAI is ignored
    /// (RFC 3325 §5: only a trust domain asserts identities).
    pub(super) fn caller_identity(&self, info: &CallInfo, trunk: Option<usize>) -> CallerIdentity {
        let from_user = info.caller_user.clone().unwrap_or_default();
        let privacy = info.privacy.as_deref().unwrap_or("").to_ascii_lowercase();
        let withheld = privacy
            .split([';', ','])
            .any(|p| matches!(p.trim(), "id" | "user" | "header"));
        let anonymous = from_user.eq_ignore_ascii_case("anonymous") || from_user.is_empty();
        let Some(trunk) = trunk.and_then(|t| self.directory.trunks.get(t)) else {
            return CallerIdentity {
                number: from_user,
                private: withheld || anonymous,
            };
        };
        let asserted = info
            .asserted_identity
            .as_deref()
            .and_then(asserted_user)
            .filter(|u| !u.eq_ignore_ascii_case("anonymous"));
        let number = asserted.unwrap_or(from_user);
        let number = trunk.numbering.to_e164(&number).unwrap_or(number);
        CallerIdentity {
            private: withheld || (anonymous && info.asserted_identity.is_none()),
            number,
        }
    }

    /// The called number in E.164 for a call from a trunk, as dialplans match it.
    pub(super) fn called_number(&self, info: &CallInfo, trunk: Option<usize>) -> String {
        let called = info.callee_user.clone().unwrap_or_default();
        match trunk.and_then(|t| self.directory.trunks.get(t)) {
            Some(trunk) => trunk.numbering.to_e164(&called).unwrap_or(called),
            None => called,
        }
    }

    /// Records our listeners, resolves the trunks' addresses and registers with the trunks
    /// that want it.
    pub fn start_trunks(&mut self, ep: &mut Ep, now: Instant, listeners: Vec<LocalAddress>) {
        self.local_addresses = listeners;
        let trunks = self.directory.trunks.clone();
        self.trunk_targets = trunks.iter().map(resolve_trunk).collect();
        for (i, trunk) in trunks.iter().enumerate() {
            let Some(target) = self.trunk_targets[i] else {
                if trunk.address.is_some() {
                    tracing::warn!(trunk = %trunk.name, "cannot resolve the trunk's address; no calls go out over it");
                }
                continue;
            };
            if !trunk.register {
                continue;
            }
            let Some(local) = self.local_address(target.transport, target.addr) else {
                tracing::warn!(trunk = %trunk.name, "no listener on the trunk's transport; not registering");
                continue;
            };
            let host = trunk
                .address
                .as_ref()
                .map_or_else(|| target.addr.to_string(), |a| a.host.to_string());
            let user = trunk.username.clone().unwrap_or_else(|| "herald".into());
            let credentials = match (&trunk.username, &trunk.password) {
                (Some(username), Some(password)) => Some(ClientCredentials {
                    username: username.clone(),
                    password: password.expose().to_owned(),
                }),
                _ => None,
            };
            let registration = ep.register_upstream(
                now,
                UpstreamRegistration {
                    target,
                    local,
                    registrar_uri: format!("sip:{host}"),
                    aor: format!("sip:{user}@{host}"),
                    contact_user: user.clone(),
                    expires: trunk.register_expires,
                    credentials,
                },
            );
            self.upstream.insert(registration, trunk.name.clone());
        }
    }

    /// A trunk registration succeeded or failed.
    pub(super) fn upstream_state(
        &mut self,
        registration: herald_sip::endpoint::UpstreamRef,
        state: UpstreamState,
    ) {
        let trunk = self
            .upstream
            .get(&registration)
            .cloned()
            .unwrap_or_default();
        match state {
            UpstreamState::Registered { expires } => {
                tracing::info!(trunk = %trunk, expires, "registered with the trunk");
                crate::metrics::trunk_registration(&trunk, true);
            }
            UpstreamState::Failed { status, retry_in } => {
                tracing::warn!(trunk = %trunk, status, retry_in_s = retry_in.as_secs(), "trunk registration failed");
                crate::metrics::trunk_registration(&trunk, false);
            }
        }
    }
}

/// The user part of a P-Asserted-Identity value (`"Name" <sip:+4930@host>`, `<tel:+4930>`).
fn asserted_user(value: &str) -> Option<String> {
    let first = value.split(',').next()?.trim();
    let uri = match (first.find('<'), first.find('>')) {
        (Some(a), Some(b)) if a < b => &first[a + 1..b],
        _ => first,
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '?']).next()?.trim();
    (!user.is_empty()).then(|| user.to_owned())
}

/// Where a trunk's requests go (resolved once, at start: a name is looked up in DNS).
fn resolve_trunk(trunk: &Trunk) -> Option<Target> {
    let address = trunk.address.as_ref()?;
    let addr = (
        address.host.to_string().trim_matches(['[', ']']),
        address.port,
    )
        .to_socket_addrs()
        .ok()?
        .next()?;
    let transport = match trunk.transport {
        crate::config::Transport::Tcp => Transport::Tcp,
        crate::config::Transport::Tls => Transport::Tls,
        _ => Transport::Udp,
    };
    Some(Target {
        transport,
        addr,
        conn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::asserted_user;

    #[test]
    fn asserted_identities_give_their_user_part() {
        assert_eq!(
            asserted_user("\"Jo\" <sip:+4930123@carrier.example;user=phone>").as_deref(),
            Some("+4930123")
        );
        assert_eq!(
            asserted_user("<tel:+331234>, <sip:x@y>").as_deref(),
            Some("+331234")
        );
        assert_eq!(
            asserted_user("sip:0301234@carrier").as_deref(),
            Some("0301234")
        );
        assert_eq!(asserted_user("<http://x>"), None);
        assert_eq!(asserted_user("<sip:@host>"), None);
    }
}
