//! The shipped `dialplans/default.toml` parses and routes as its comments say.

use std::path::{Path, PathBuf};

use herald_dialplan::{Action, Application, CallFacts, Dialplan, Language, RecordingPolicy};

const DEFAULT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dialplans/default.toml");
const DEFAULT_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dialplans/default.toml"
));

fn shipped() -> Dialplan {
    match Dialplan::parse(Path::new(DEFAULT_PATH), DEFAULT_TOML) {
        Ok(plan) => plan,
        Err(error) => panic!("{error}"),
    }
}

fn route_for(plan: &Dialplan, called: &str) -> String {
    let call = CallFacts {
        called,
        caller: "+4917012345",
        trunk: Some("carrier-a"),
        at: "2026-12-25T12:00:00Z".parse().expect("valid instant"),
    };
    plan.route(&call)
        .expect("the catch-all matches")
        .name
        .clone()
}

#[test]
fn default_dialplan_parses() {
    let plan = shipped();
    let names: Vec<_> = plan.routes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["de", "fr", "es", "it", "nl", "pl", "en", "default"]);
}

#[test]
fn every_route_runs_the_disclosure_with_opt_out() {
    let disclosure = PathBuf::from(DEFAULT_PATH).with_file_name("disclosure.vxml");
    for route in shipped().routes() {
        let Action::Answer(answer) = &route.action else {
            panic!("{} rejects", route.name);
        };
        assert_eq!(answer.application, Application::File(disclosure.clone()));
        assert_eq!(answer.recording, RecordingPolicy::Ask);
        assert_eq!(answer.retention.as_deref(), Some("voice"));
        assert_eq!(answer.agent_group.as_deref(), Some("support"));
    }
}

#[test]
fn the_country_dialled_picks_the_language() {
    let plan = shipped();
    for (called, route) in [
        ("+493012345", "de"),
        ("+43 1 234", "de"),
        ("+33142000000", "fr"),
        ("+34911", "es"),
        ("+3906", "it"),
        ("+3120", "nl"),
        ("+4822", "pl"),
        ("+44 20 7946 0000", "en"),
        ("+1555", "default"),
        ("support", "default"),
    ] {
        assert_eq!(route_for(&plan, called), route, "{called}");
    }
}

#[test]
fn the_catch_all_offers_the_shipped_languages() {
    let plan = shipped();
    let last = plan.routes().last().expect("has routes");
    let Action::Answer(answer) = &last.action else {
        panic!("catch-all answers");
    };
    assert_eq!(answer.language, Language::Menu);
    let languages: Vec<_> = answer.languages.iter().map(|t| t.as_str()).collect();
    assert_eq!(languages, ["en", "de", "fr", "es", "it", "nl", "pl"]);
}

#[test]
fn the_commented_closed_hours_example_is_valid() {
    let example: String = DEFAULT_TOML
        .lines()
        .skip_while(|line| !line.starts_with("# [[route]]"))
        .take_while(|line| line.starts_with('#'))
        .map(|line| format!("{}\n", line.trim_start_matches('#')))
        .collect();
    assert!(example.contains("de-closed"), "example found: {example}");
    let text = format!("zone = \"Europe/Berlin\"\n{example}");
    if let Err(error) = Dialplan::parse(Path::new("example.toml"), &text) {
        panic!("{error}");
    }
}
