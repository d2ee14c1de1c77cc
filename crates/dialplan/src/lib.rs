//! Herald dialplans: which IVR application answers a new incoming call.
//!
//! A dialplan is a set of TOML files (`dialplans/*.toml`, format in `dialplans/README.md`), each
//! a list of `[[route]]` tables. A route has optional **criteria** (called number, caller
//! number, trunk, opening hours in a time zone) and an **action**: answer with a VoiceXML
//! application (plus language, recording policy, retention class, agent group and session
//! variables) or reject with a SIP status.
//!
//! # What this crate does, and does not
//!
//! It parses and checks dialplan text ([`Dialplan::parse`]), joins files
//! ([`Dialplan::merge`]) and picks the route for a call ([`Dialplan::route`]). It does no I/O:
//! the server reads the files (every `*.toml` of the dialplans directory, in file-name order),
//! fetches URL applications, checks that files and prompts exist (`herald check`) and that the
//! retention class is configured. It never reads the clock.
//!
//! ```
//! use herald_dialplan::{Action, CallFacts, Dialplan};
//! use std::path::Path;
//!
//! let text = r#"
//! zone = "Europe/Berlin"
//!
//! [[route]]
//! name = "office"
//! called = ["+4930 1234*"]
//! hours = [{ days = "mon-fri", from = "08:00", to = "18:00" }]
//! application = "support.vxml"
//! language = "de-DE"
//!
//! [[route]]
//! name = "closed"
//! reject = 480
//! "#;
//! let plan = Dialplan::parse(Path::new("dialplans/support.toml"), text)?;
//! let call = CallFacts {
//!     called: "+49301234567",
//!     caller: "+4917012345",
//!     trunk: Some("carrier-a"),
//!     at: "2026-03-30T06:30:00Z".parse()?, // Monday 08:30 in Berlin (summer time)
//! };
//! let route = plan.route(&call).expect("office is open");
//! assert_eq!(route.name, "office");
//! assert!(matches!(route.action, Action::Answer(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a call is matched
//!
//! Routes are tried in order (file order within a file, then the order of the files given to
//! [`Dialplan::merge`]); the first route whose criteria all hold wins. A route without criteria
//! matches every call, so a catch-all goes last. If no route matches, [`Dialplan::route`]
//! returns `None` and the server decides (typically 404).
//!
//! - `called` / `caller`: any of a list of patterns: exact (`"+493012345"`), prefix
//!   (`"+4930*"`) or any (`"*"`). Numbers and patterns are compared after removing the visual
//!   separators space, `-`, `.`, `(` and `)`; nothing else is rewritten (`+49` and `0049`
//!   differ).
//! - `trunk` / `trunks`: the trunk the call came in on; calls from registered phones (no
//!   trunk) never match a route that names trunks.
//! - `hours` / `closed_dates`: see below.
//!
//! # Time semantics
//!
//! The call's arrival instant ([`CallFacts::at`], a [`jiff::Timestamp`]) is converted to the
//! wall-clock time of the route's IANA time zone (`zone` on the route, else at the top of its
//! file) with the IANA database compiled into the binary, so daylight-saving changes are
//! followed and every host routes alike. A window `from`-`to` holds from `from` (inclusive) to
//! `to` (exclusive) on each of its `days`; a `to` at or before `from` wraps past midnight and
//! the window belongs to the day it starts on (`fri 22:00-06:00` covers Saturday 05:59). Local
//! times skipped by a spring change never occur; those repeated in autumn match twice. A
//! closed date excludes every instant whose local date it is.

mod error;
mod file_format;
mod number_pattern;
mod parse;
mod route;
mod schedule;

use std::path::Path;

pub use error::{DialplanError, ErrorKind, Location};
pub use number_pattern::{NumberPattern, VISUAL_SEPARATORS};
pub use route::{
    Action, Answer, Application, CallFacts, Language, LanguageTag, RecordingPolicy, RejectStatus,
    Route,
};

/// Routes from one or more dialplan files, in match order.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    routes: Vec<Route>,
}

impl Dialplan {
    /// Parses one dialplan file. `path` is where the text came from: errors name it, and
    /// file applications are resolved against its directory. Errors display as
    /// `path:line:column: message`.
    pub fn parse(path: &Path, text: &str) -> Result<Dialplan, DialplanError> {
        parse::parse_file(path, text).map(|routes| Dialplan { routes })
    }

    /// Joins files in the order given (the server gives them in file-name order). A route
    /// name used in two files is an error naming both places.
    pub fn merge(files: Vec<Dialplan>) -> Result<Dialplan, DialplanError> {
        let routes: Vec<Route> = files.into_iter().flat_map(|file| file.routes).collect();
        parse::check_unique_names(&routes)?;
        Ok(Dialplan { routes })
    }

    /// The first route that `call` matches.
    pub fn route(&self, call: &CallFacts<'_>) -> Option<&Route> {
        self.routes.iter().find(|route| route.matches(call))
    }

    /// Every route, in match order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}
