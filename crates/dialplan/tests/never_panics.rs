//! No input makes the parser or the matcher panic.

use std::path::Path;

use herald_dialplan::{CallFacts, Dialplan};
use jiff::Timestamp;
use proptest::prelude::*;

/// Fragments of valid and invalid dialplan text, to get past the TOML parser more often than
/// random bytes do.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[[route]]\n".to_owned()),
        Just("name = \"r\"\n".to_owned()),
        Just("zone = \"Europe/Berlin\"\n".to_owned()),
        Just("application = \"a.vxml\"\n".to_owned()),
        Just("language = \"menu\"\n".to_owned()),
        Just("reject = 480\n".to_owned()),
        "[a-z_]{1,12} = \"[ -~]{0,12}\"\n",
        "(called|caller|languages|trunks) = \\[\"[ -~]{0,8}\"\\]\n",
        "hours = \\[\\{ days = \"[a-z,-]{0,9}\", from = \"[0-9:]{0,6}\", to = \"[0-9:]{0,6}\" \\}\\]\n",
        "closed_dates = \\[\"[0-9-]{0,11}\"\\]\n",
        "reject = -?[0-9]{1,20}\n",
        ".{0,16}",
    ]
}

/// A route that usually parses: random criteria, a supported reject status.
fn route(index: usize) -> impl Strategy<Value = String> {
    let pattern = "\\+?[0-9 ()-]{0,6}\\*?";
    let list = move || proptest::option::of(proptest::collection::vec(pattern, 1..3));
    let days = prop_oneof![
        Just("mon-fri"),
        Just("sat"),
        Just("fri-mon"),
        Just("sun, tue")
    ];
    let hours = proptest::option::of((days, "[0-2][0-9]:[0-5][0-9]", "[0-2][0-9]:[0-5][0-9]"));
    let status = prop_oneof![Just(403), Just(404), Just(480), Just(486), Just(503)];
    (list(), list(), proptest::option::of("[a-c]"), hours, status).prop_map(
        move |(called, caller, trunk, hours, status)| {
            let mut text = format!("[[route]]\nname = \"r{index}\"\nreject = {status}\n");
            if let Some(called) = called {
                text += &format!("called = {called:?}\n");
            }
            if let Some(caller) = caller {
                text += &format!("caller = {caller:?}\n");
            }
            if let Some(trunk) = trunk {
                text += &format!("trunk = {trunk:?}\n");
            }
            if let Some((days, from, to)) = hours {
                text += &format!("hours = [{{ days = {days:?}, from = {from:?}, to = {to:?} }}]\n");
            }
            text
        },
    )
}

fn dialplan() -> impl Strategy<Value = String> {
    (0usize..6).prop_flat_map(|count| {
        let routes: Vec<_> = (0..count).map(route).collect();
        routes.prop_map(|routes| format!("zone = \"Europe/Berlin\"\n{}", routes.concat()))
    })
}

fn calls() -> impl Strategy<Value = (String, String, Option<String>, i64)> {
    let number = || prop_oneof![".{0,12}", "\\+?[0-9]{0,8}"];
    (
        number(),
        number(),
        proptest::option::of("[a-c-]{0,2}"),
        Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
    )
}

proptest! {
    #[test]
    fn parse_never_panics_on_random_text(text in ".{0,300}") {
        let _ = Dialplan::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn parse_and_route_never_panic_on_dialplan_like_text(
        fragments in proptest::collection::vec(fragment(), 0..24),
        (called, caller, trunk, second) in calls(),
    ) {
        let text = fragments.concat();
        match Dialplan::parse(Path::new("fuzz.toml"), &text) {
            Ok(plan) => {
                let at = Timestamp::from_second(second).expect("strategy stays in range");
                let call = CallFacts { called: &called, caller: &caller, trunk: trunk.as_deref(), at };
                let _ = plan.route(&call);
            }
            Err(error) => {
                let shown = error.to_string();
                prop_assert!(shown.starts_with("fuzz.toml:"), "{}", shown);
                prop_assert!(error.location.line >= 1 && error.location.column >= 1);
            }
        }
    }

    #[test]
    fn generated_dialplans_route_every_call_to_its_first_match(
        text in dialplan(),
        (called, caller, trunk, second) in calls(),
    ) {
        let Ok(plan) = Dialplan::parse(Path::new("fuzz.toml"), &text) else {
            // Random times may be 25:00 or equal; those are refused, which is fine here.
            return Ok(());
        };
        let at = Timestamp::from_second(second).expect("strategy stays in range");
        let call = CallFacts { called: &called, caller: &caller, trunk: trunk.as_deref(), at };
        let first = plan.routes().iter().position(|route| route.matches(&call));
        let chosen = plan.route(&call).map(|route| route.name.as_str());
        prop_assert_eq!(chosen, first.map(|index| plan.routes()[index].name.as_str()));
    }
}
