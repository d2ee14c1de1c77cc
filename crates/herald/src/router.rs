//! The placeholder call router.
//!
//! Until dialplans arrive (the IVR issue replaces this module with `dialplans/*.toml`
//! matching), the rule is deliberately simple and says what it is: a call addressed to
//! Herald itself (its SIP domain, `localhost`, or an IP literal, which can only have reached
//! us directly because Herald is not a proxy) is answered with the media placeholder; a call
//! for any other domain has no route and gets 404.

use herald_sip::endpoint::CallInfo;

/// What to do with a new call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Answer and hold the negotiated media session (audio arrives with the media engine).
    Answer,
    /// A call for an agent: ring (180), then 480 at the ring timeout.
    Ring,
    /// No route: answer 404.
    NotFound,
}

/// The placeholder router.
#[derive(Clone, Debug)]
pub struct Router {
    domain: String,
    agents: std::collections::HashSet<String>,
}

impl Router {
    pub fn new(domain: &str, agents: impl IntoIterator<Item = String>) -> Self {
        Self {
            domain: domain.to_ascii_lowercase(),
            agents: agents.into_iter().collect(),
        }
    }

    pub fn route(&self, call: &CallInfo) -> Route {
        let host = call
            .callee_host
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let ours =
            host == self.domain || host == "localhost" || host.parse::<std::net::IpAddr>().is_ok();
        match (ours, call.callee_user.as_deref()) {
            (false, _) => Route::NotFound,
            (true, Some(user)) if self.agents.contains(user) => Route::Ring,
            (true, _) => Route::Answer,
        }
    }

    /// The name recorded in the call record for a route.
    pub fn route_name(route: Route) -> &'static str {
        match route {
            Route::Answer => "placeholder-answer",
            Route::Ring => "placeholder-agent",
            Route::NotFound => "none",
        }
    }
}
