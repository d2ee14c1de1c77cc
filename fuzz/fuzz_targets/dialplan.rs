//! Dialplan files (`herald_dialplan`): TOML text parsed into routes, and calls routed through
//! them.
//!
//! Input layout: the dialplan text, then optionally a NUL byte and a call decoded with
//! `arbitrary` (called number, caller number, trunk, arrival second, clamped to the range
//! `jiff::Timestamp` can hold). Without a NUL, a few fixed calls (numbers of the seeds,
//! anonymous, no trunk; instants around a daylight-saving change and a leap day) are routed.
//! Non-UTF-8 bytes in the text are replaced.
//!
//! Asserts:
//! * `Dialplan::parse`, `Dialplan::merge` and `Dialplan::route` never panic;
//! * an error names the file and a position from 1 (`fuzz.toml:line:column: ...`);
//! * `route` picks the first route whose criteria the call meets;
//! * a file merged with itself is refused (route names are unique), merged alone it routes
//!   the same.

#![no_main]

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use herald_dialplan::{CallFacts, Dialplan, DialplanError};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz.toml";

#[derive(Arbitrary, Debug)]
struct Call {
    called: String,
    caller: String,
    trunk: Option<String>,
    second: i64,
}

/// Fixed calls: (called, caller, trunk, RFC 3339 instant).
const FIXED: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "+49301234567",
        "+4917012345",
        Some("carrier-a"),
        "2026-03-30T06:30:00Z",
    ),
    // 02:30 local does not exist in Berlin on this day.
    (
        "+49 (30) 1234-567",
        "anonymous",
        None,
        "2026-03-29T01:30:00Z",
    ),
    ("+33123456789", "", Some("b"), "2028-02-29T23:59:59Z"),
    ("0049301234", "+1", Some(""), "2025-10-26T00:30:00Z"),
    ("", "", None, "1970-01-01T00:00:00Z"),
];

fuzz_target!(|data: &[u8]| {
    let (text, call) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let text = String::from_utf8_lossy(text);
    let plan = match Dialplan::parse(Path::new(FILE), &text) {
        Ok(plan) => plan,
        Err(error) => {
            check_error(&error);
            return;
        }
    };
    match call {
        Some(bytes) => {
            let Ok(call) = Call::arbitrary(&mut Unstructured::new(bytes)) else {
                return;
            };
            let second = call
                .second
                .clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
            let at = Timestamp::from_second(second).expect("clamped into range");
            route(
                &plan,
                &CallFacts {
                    called: &call.called,
                    caller: &call.caller,
                    trunk: call.trunk.as_deref(),
                    at,
                },
            );
        }
        None => {
            for (called, caller, trunk, at) in FIXED {
                let at: Timestamp = at.parse().expect("fixed instants parse");
                let call = CallFacts {
                    called,
                    caller,
                    trunk: *trunk,
                    at,
                };
                route(&plan, &call);
            }
        }
    }
    check_merge(plan);
});

fn check_error(error: &DialplanError) {
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{FILE}:")),
        "error does not name the file: {shown}"
    );
    assert!(
        error.location.line >= 1 && error.location.column >= 1,
        "error without a position: {shown}"
    );
}

/// Routes `call` and checks that the first matching route was chosen.
fn route(plan: &Dialplan, call: &CallFacts<'_>) {
    let first = plan.routes().iter().position(|route| route.matches(call));
    let chosen = plan.route(call).map(|route| route.name.as_str());
    assert_eq!(
        chosen,
        first.map(|index| plan.routes()[index].name.as_str()),
        "route() did not pick the first match"
    );
}

fn check_merge(plan: Dialplan) {
    if plan.routes().is_empty() {
        return;
    }
    match Dialplan::merge(vec![plan.clone(), plan.clone()]) {
        Ok(_) => panic!("a file merged with itself repeats every route name"),
        Err(error) => check_error(&error),
    }
    let count = plan.routes().len();
    let alone = Dialplan::merge(vec![plan]).expect("one parsed file merges");
    assert_eq!(alone.routes().len(), count);
}
