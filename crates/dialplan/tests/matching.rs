//! Which route a call gets: each criterion, time zones and DST, order across files.

use std::path::{Path, PathBuf};

use herald_dialplan::{
    Action, Answer, Application, CallFacts, Dialplan, Language, LanguageTag, RecordingPolicy,
    RejectStatus,
};
use jiff::Timestamp;

fn plan(text: &str) -> Dialplan {
    Dialplan::parse(Path::new("dialplans/test.toml"), text).expect("test dialplan is valid")
}

fn instant(text: &str) -> Timestamp {
    text.parse().expect("test instant is valid")
}

/// A call to `called` from a German mobile on trunk "carrier-a", Monday 2026-03-02 10:00 UTC.
fn call(called: &str) -> CallFacts<'_> {
    CallFacts {
        called,
        caller: "+4917012345",
        trunk: Some("carrier-a"),
        at: instant("2026-03-02T10:00:00Z"),
    }
}

fn routed<'a>(plan: &'a Dialplan, call: &CallFacts<'_>) -> Option<&'a str> {
    plan.route(call).map(|route| route.name.as_str())
}

const TWO_COUNTRIES: &str = r#"
[[route]]
name = "berlin"
called = ["+49 30 *", "+49-40-1234"]
reject = 480

[[route]]
name = "fr"
called = "+33*"
reject = 486
"#;

#[test]
fn called_number_exact_and_prefix() {
    let plan = plan(TWO_COUNTRIES);
    assert_eq!(routed(&plan, &call("+49301111")), Some("berlin"));
    assert_eq!(routed(&plan, &call("+49 (30) 1111")), Some("berlin"));
    assert_eq!(routed(&plan, &call("+49401234")), Some("berlin"));
    assert_eq!(
        routed(&plan, &call("+494012345")),
        None,
        "exact, not prefix"
    );
    assert_eq!(routed(&plan, &call("+33123")), Some("fr"));
    assert_eq!(
        routed(&plan, &call("0033123")),
        None,
        "no number-plan rewriting"
    );
}

#[test]
fn caller_prefix() {
    let plan = plan(
        r#"
[[route]]
name = "germany"
caller = ["+49*", "0049*"]
reject = 403
"#,
    );
    let mut c = call("+493012345");
    assert_eq!(routed(&plan, &c), Some("germany"));
    c.caller = "004917012345";
    assert_eq!(routed(&plan, &c), Some("germany"));
    c.caller = "anonymous";
    assert_eq!(routed(&plan, &c), None);
}

#[test]
fn trunk_and_trunks() {
    let plan = plan(
        r#"
[[route]]
name = "a"
trunk = "carrier-a"
reject = 403

[[route]]
name = "b-or-c"
trunks = ["carrier-b", "carrier-c"]
reject = 404
"#,
    );
    let mut c = call("+4930");
    assert_eq!(routed(&plan, &c), Some("a"));
    c.trunk = Some("carrier-c");
    assert_eq!(routed(&plan, &c), Some("b-or-c"));
    c.trunk = None;
    assert_eq!(
        routed(&plan, &c),
        None,
        "registered phones match no trunk route"
    );
}

#[test]
fn all_criteria_must_hold() {
    let plan = plan(
        r#"
[[route]]
name = "both"
called = "+4930*"
caller = "+49*"
reject = 403
"#,
    );
    let mut c = call("+4930");
    assert_eq!(routed(&plan, &c), Some("both"));
    c.caller = "+33123";
    assert_eq!(routed(&plan, &c), None);
}

#[test]
fn a_route_without_criteria_matches_every_call() {
    let plan = plan("[[route]]\nname = \"all\"\nreject = 503\n");
    let mut c = call("");
    c.caller = "";
    c.trunk = None;
    assert_eq!(routed(&plan, &c), Some("all"));
}

#[test]
fn first_match_in_file_order_wins() {
    let plan = plan(
        r#"
[[route]]
name = "specific"
called = "+493012345"
reject = 403

[[route]]
name = "broad"
called = "+49*"
reject = 404

[[route]]
name = "never-reached"
called = "+493012345"
reject = 480
"#,
    );
    assert_eq!(routed(&plan, &call("+493012345")), Some("specific"));
    assert_eq!(routed(&plan, &call("+4989")), Some("broad"));
}

#[test]
fn first_match_across_files_follows_merge_order() {
    let first = Dialplan::parse(
        Path::new("dialplans/10-sales.toml"),
        "[[route]]\nname = \"sales\"\ncalled = \"+4930*\"\nreject = 486\n",
    );
    let last = Dialplan::parse(
        Path::new("dialplans/90-default.toml"),
        "[[route]]\nname = \"default\"\nreject = 404\n\n[[route]]\nname = \"later\"\ncalled = \"+4930*\"\nreject = 403\n",
    );
    let plan = Dialplan::merge(vec![first.expect("valid"), last.expect("valid")]).expect("merges");
    let names: Vec<_> = plan.routes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["sales", "default", "later"]);
    assert_eq!(routed(&plan, &call("+49301")), Some("sales"));
    assert_eq!(routed(&plan, &call("+33")), Some("default"));
    let sales = &plan.routes()[0];
    assert_eq!(sales.source.to_string(), "dialplans/10-sales.toml:1:1");
    assert_eq!(
        plan.routes()[2].source.to_string(),
        "dialplans/90-default.toml:5:1"
    );
}

const OFFICE: &str = r#"
zone = "Europe/Berlin"

[[route]]
name = "office"
hours = [
  { days = "mon-fri", from = "08:00", to = "18:00" },
  { days = "sat", from = 09:00, to = 13:00 },
]
closed_dates = ["2026-12-25", 2026-12-26]
reject = 486

[[route]]
name = "closed"
reject = 480
"#;

fn office_at(utc: &str) -> Option<String> {
    let plan = plan(OFFICE);
    let mut c = call("+4930");
    c.at = instant(utc);
    plan.route(&c).map(|route| route.name.clone())
}

#[test]
fn hours_follow_the_local_wall_clock_in_winter() {
    // Monday 2026-03-02, CET = UTC+1.
    assert_eq!(office_at("2026-03-02T06:59:59Z").as_deref(), Some("closed"));
    assert_eq!(office_at("2026-03-02T07:00:00Z").as_deref(), Some("office"));
    assert_eq!(office_at("2026-03-02T16:59:59Z").as_deref(), Some("office"));
    assert_eq!(office_at("2026-03-02T17:00:00Z").as_deref(), Some("closed"));
}

#[test]
fn hours_after_the_spring_change_use_summer_time() {
    // Clocks go forward on Sunday 2026-03-29; Monday 2026-03-30 is CEST = UTC+2.
    assert_eq!(
        office_at("2026-03-30T06:30:00Z").as_deref(),
        Some("office"),
        "08:30 local"
    );
    assert_eq!(
        office_at("2026-03-30T05:30:00Z").as_deref(),
        Some("closed"),
        "07:30 local"
    );
    assert_eq!(
        office_at("2026-03-30T15:59:00Z").as_deref(),
        Some("office"),
        "17:59 local"
    );
    assert_eq!(
        office_at("2026-03-30T16:00:00Z").as_deref(),
        Some("closed"),
        "18:00 local"
    );
}

#[test]
fn hours_after_the_autumn_change_use_winter_time() {
    // Clocks go back on Sunday 2026-10-25; Monday 2026-10-26 is CET = UTC+1.
    assert_eq!(
        office_at("2026-10-26T06:30:00Z").as_deref(),
        Some("closed"),
        "07:30 local"
    );
    assert_eq!(
        office_at("2026-10-26T07:30:00Z").as_deref(),
        Some("office"),
        "08:30 local"
    );
    // The Friday before, still CEST.
    assert_eq!(
        office_at("2026-10-23T06:30:00Z").as_deref(),
        Some("office"),
        "08:30 local"
    );
}

#[test]
fn day_of_week_is_the_local_day() {
    // Saturday 2026-03-07 09:30 CET is 08:30 UTC; Friday 23:30 UTC is Saturday 00:30 local.
    assert_eq!(office_at("2026-03-07T08:30:00Z").as_deref(), Some("office"));
    assert_eq!(
        office_at("2026-03-07T12:00:00Z").as_deref(),
        Some("closed"),
        "13:00 local"
    );
    assert_eq!(
        office_at("2026-03-08T09:00:00Z").as_deref(),
        Some("closed"),
        "sunday"
    );
}

#[test]
fn closed_dates_close_whole_local_days() {
    // Friday 2026-12-25 and Saturday 2026-12-26 (a TOML date literal) are closed.
    assert_eq!(office_at("2026-12-25T09:00:00Z").as_deref(), Some("closed"));
    assert_eq!(office_at("2026-12-26T09:00:00Z").as_deref(), Some("closed"));
    assert_eq!(office_at("2026-12-24T09:00:00Z").as_deref(), Some("office"));
    assert_eq!(office_at("2026-12-28T09:00:00Z").as_deref(), Some("office"));
}

#[test]
fn window_wraps_past_midnight() {
    let plan = plan(
        r#"
[[route]]
name = "night"
zone = "Europe/Berlin"
hours = [{ days = "fri", from = "22:00", to = "06:00" }]
reject = 480
"#,
    );
    let at = |utc: &str| {
        let mut c = call("+4930");
        c.at = instant(utc);
        plan.route(&c).map(|r| r.name.clone())
    };
    // Friday 2026-03-06 and Saturday 2026-03-07, CET = UTC+1.
    assert_eq!(
        at("2026-03-06T21:00:00Z").as_deref(),
        Some("night"),
        "fri 22:00"
    );
    assert_eq!(
        at("2026-03-07T04:59:59Z").as_deref(),
        Some("night"),
        "sat 05:59:59"
    );
    assert_eq!(at("2026-03-07T05:00:00Z"), None, "sat 06:00");
    assert_eq!(at("2026-03-06T20:59:59Z"), None, "fri 21:59:59");
    assert_eq!(at("2026-03-07T21:30:00Z"), None, "sat 22:30");
    assert_eq!(
        at("2026-03-06T04:00:00Z"),
        None,
        "fri 05:00 belongs to thursday"
    );
}

#[test]
fn route_zone_overrides_file_zone() {
    let plan = plan(
        r#"
zone = "Europe/Berlin"

[[route]]
name = "lisbon"
zone = "Europe/Lisbon"
hours = [{ from = "08:00", to = "09:00" }]
reject = 480

[[route]]
name = "berlin"
hours = [{ from = "08:00", to = "09:00" }]
reject = 486
"#,
    );
    let mut c = call("+351");
    c.at = instant("2026-03-02T07:30:00Z"); // 07:30 Lisbon (WET), 08:30 Berlin
    assert_eq!(routed(&plan, &c), Some("berlin"));
    c.at = instant("2026-03-02T08:30:00Z"); // 08:30 Lisbon, 09:30 Berlin
    assert_eq!(routed(&plan, &c), Some("lisbon"));
}

#[test]
fn application_route_carries_everything() {
    let plan = Dialplan::parse(
        Path::new("/etc/herald/dialplans/main.toml"),
        r#"
[[route]]
name = "de"
application = "ivr/disclosure.vxml"
language = "de-DE"
languages = ["de", "en"]
recording = "always"
retention = "long"
agent_group = "support"
variables = { brand = "Acme", queue_hint = "7" }

[[route]]
name = "web"
application = "https://ivr.example.com/start.vxml"
language = "menu"
languages = ["en", "fr"]
"#,
    )
    .expect("valid");
    let Action::Answer(de) = &plan.routes()[0].action else {
        panic!("de answers");
    };
    let tag = |t: &str| LanguageTag::parse(t).expect("valid tag");
    let expected = Answer {
        application: Application::File(PathBuf::from("/etc/herald/dialplans/ivr/disclosure.vxml")),
        language: Language::Tag(tag("de-DE")),
        languages: vec![tag("de"), tag("en")],
        recording: RecordingPolicy::Always,
        retention: Some("long".into()),
        agent_group: Some("support".into()),
        variables: [("brand", "Acme"), ("queue_hint", "7")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    };
    assert_eq!(de, &expected);
    let Action::Answer(web) = &plan.routes()[1].action else {
        panic!("web answers");
    };
    assert_eq!(
        web.application,
        Application::Url("https://ivr.example.com/start.vxml".into())
    );
    assert_eq!(web.language, Language::Menu);
    assert_eq!(web.recording, RecordingPolicy::Ask, "default");
    assert_eq!(web.retention, None, "the server's default");
    assert_eq!(web.agent_group, None);
    assert!(web.variables.is_empty());
}

#[test]
fn languages_default_to_the_language() {
    let plan = plan("[[route]]\nname = \"x\"\napplication = \"a.vxml\"\nlanguage = \"fr-BE\"\n");
    let Action::Answer(answer) = &plan.routes()[0].action else {
        panic!("answers");
    };
    let languages: Vec<_> = answer.languages.iter().map(LanguageTag::as_str).collect();
    assert_eq!(languages, ["fr-BE"]);
    assert_eq!(
        answer.application,
        Application::File(PathBuf::from("dialplans/a.vxml"))
    );
}

#[test]
fn reject_routes_carry_the_status() {
    let plan = plan(TWO_COUNTRIES);
    let statuses: Vec<_> = plan
        .routes()
        .iter()
        .map(|route| match route.action {
            Action::Reject(status) => Some(status),
            Action::Answer(_) => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            Some(RejectStatus::TemporarilyUnavailable),
            Some(RejectStatus::BusyHere)
        ]
    );
}

#[test]
fn an_empty_file_routes_nothing() {
    let plan = plan("# nothing yet\n");
    assert!(plan.routes().is_empty());
    assert_eq!(routed(&plan, &call("+4930")), None);
    assert!(
        Dialplan::merge(Vec::new())
            .expect("merges")
            .routes()
            .is_empty()
    );
}
