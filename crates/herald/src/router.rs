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
    /// No route: answer 404.
    NotFound,
}

/// The placeholder router.
#[derive(Clone, Debug)]
pub struct Router {
    domain: String,
}

impl Router {
    pub fn new(domain: &str) -> Self {
        Self { domain: domain.to_ascii_lowercase() }
    }

    pub fn route(&self, call: &CallInfo) -> Route {
        let host = call.callee_host.trim_matches(['[', ']']).to_ascii_lowercase();
        let ours = host == self.domain || host == "localhost" || host.parse::<std::net::IpAddr>().is_ok();
        if ours { Route::Answer } else { Route::NotFound }
    }

    /// The name recorded in the call record for a route.
    pub fn route_name(route: Route) -> &'static str {
        match route {
            Route::Answer => "placeholder-answer",
            Route::NotFound => "none",
        }
    }
}
