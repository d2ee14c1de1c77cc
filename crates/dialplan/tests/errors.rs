//! Every refusal names the file, line and column, and says what is wrong in dialplan words.

use std::path::Path;

use herald_dialplan::{Dialplan, ErrorKind};

/// The error for `text` as `herald check` prints it.
fn error(text: &str) -> String {
    match Dialplan::parse(Path::new("dialplans/x.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

/// A valid answering route named `a`, followed by `extra` lines (from line 5 on).
fn route_with(extra: &str) -> String {
    format!("[[route]]\nname = \"a\"\napplication = \"a.vxml\"\nlanguage = \"de\"\n{extra}")
}

fn assert_error(text: &str, expected: &str) {
    assert_eq!(error(text), expected, "for:\n{text}");
}

#[test]
fn toml_syntax_error() {
    let err = error("[[route]\nname = \"a\"\n");
    assert!(err.starts_with("dialplans/x.toml:1:"), "{err}");
}

#[test]
fn unknown_key_in_route_is_named() {
    let err = error(&route_with("colour = \"red\"\n"));
    assert!(
        err.starts_with("dialplans/x.toml:5:1: unknown key `colour`"),
        "{err}"
    );
}

#[test]
fn unknown_key_at_top_is_named() {
    let err = error("zone = \"UTC\"\ntimezone = \"UTC\"\n");
    assert!(
        err.starts_with("dialplans/x.toml:2:1: unknown key `timezone`"),
        "{err}"
    );
}

#[test]
fn unknown_key_in_hours_is_named() {
    let err = error(&route_with(
        "zone = \"UTC\"\nhours = [{ from = \"08:00\", to = \"09:00\", day = \"mon\" }]\n",
    ));
    assert!(
        err.starts_with("dialplans/x.toml:6:42: unknown key `day`"),
        "{err}"
    );
}

#[test]
fn missing_name() {
    assert_error(
        "\n[[route]]\nreject = 404\n",
        "dialplans/x.toml:2:1: missing key `name`",
    );
}

#[test]
fn empty_name() {
    assert_error(
        "[[route]]\nname = \" \"\nreject = 404\n",
        "dialplans/x.toml:2:8: `name` must not be empty",
    );
}

#[test]
fn bad_time() {
    assert_error(
        &route_with("zone = \"UTC\"\nhours = [{ from = \"08:00\", to = \"25:00\" }]\n"),
        "dialplans/x.toml:6:33: bad time \"25:00\": expected HH:MM from 00:00 to 23:59 (24:00 is allowed for `to`)",
    );
}

#[test]
fn bad_from_time_24_00() {
    let err = error(&route_with(
        "zone = \"UTC\"\nhours = [{ from = \"24:00\", to = \"08:00\" }]\n",
    ));
    assert!(
        err.starts_with("dialplans/x.toml:6:19: bad time \"24:00\""),
        "{err}"
    );
}

#[test]
fn time_of_the_wrong_type() {
    let err = error(&route_with(
        "zone = \"UTC\"\nhours = [{ from = 8, to = \"09:00\" }]\n",
    ));
    assert!(
        err.starts_with("dialplans/x.toml:6:19: bad time \"8\""),
        "{err}"
    );
}

#[test]
fn empty_window() {
    assert_error(
        &route_with("zone = \"UTC\"\nhours = [{ from = \"08:00\", to = \"08:00\" }]\n"),
        "dialplans/x.toml:6:33: `from` and `to` are both 08:00: the window is empty (for the whole day use from = \"00:00\", to = \"24:00\")",
    );
}

#[test]
fn unknown_day() {
    let err = error(&route_with(
        "zone = \"UTC\"\nhours = [{ days = \"mon-fry\", from = \"08:00\", to = \"09:00\" }]\n",
    ));
    assert!(
        err.starts_with("dialplans/x.toml:6:19: unknown day \"mon-fry\": expected mon,"),
        "{err}"
    );
}

#[test]
fn unknown_zone_on_route() {
    assert_error(
        &route_with("zone = \"Europe/Berln\"\n"),
        "dialplans/x.toml:5:8: unknown time zone \"Europe/Berln\": expected an IANA name such as \"Europe/Berlin\"",
    );
}

#[test]
fn unknown_zone_on_file() {
    let err = error("# top\nzone = \"CET+1\"\n");
    assert!(
        err.starts_with("dialplans/x.toml:2:8: unknown time zone \"CET+1\""),
        "{err}"
    );
}

#[test]
fn hours_without_zone() {
    assert_error(
        &route_with("hours = [{ from = \"08:00\", to = \"09:00\" }]\n"),
        "dialplans/x.toml:5:9: `hours` and `closed_dates` need a time zone: set `zone` on the route or at the top of the file",
    );
}

#[test]
fn bad_closed_date() {
    assert_error(
        &route_with("zone = \"UTC\"\nclosed_dates = [\"2026-12-25\", \"2026-02-30\"]\n"),
        "dialplans/x.toml:6:31: bad date \"2026-02-30\": expected a date such as 2026-12-25",
    );
}

#[test]
fn bad_pattern() {
    assert_error(
        &route_with("called = [\"+49*\", \"+49*30\"]\n"),
        "dialplans/x.toml:5:19: bad pattern \"+49*30\": '*' is only allowed at the end (a prefix match)",
    );
}

#[test]
fn bad_single_pattern() {
    let err = error(&route_with("caller = \"\"\n"));
    assert!(
        err.starts_with("dialplans/x.toml:5:10: bad pattern \"\": empty"),
        "{err}"
    );
}

#[test]
fn empty_pattern_list() {
    assert_error(
        &route_with("called = []\n"),
        "dialplans/x.toml:5:10: `called` is empty, so the route would never match: leave the key out to match any call",
    );
}

#[test]
fn trunk_and_trunks() {
    assert_error(
        &route_with("trunk = \"a\"\ntrunks = [\"b\"]\n"),
        "dialplans/x.toml:6:10: give either `trunk` or `trunks`, not both",
    );
}

#[test]
fn empty_trunk() {
    assert_error(
        &route_with("trunks = [\"a\", \"\"]\n"),
        "dialplans/x.toml:5:16: empty trunk name",
    );
}

#[test]
fn both_application_and_reject() {
    assert_error(
        &route_with("reject = 480\n"),
        "dialplans/x.toml:5:10: a route has either `application` or `reject`, not both",
    );
}

#[test]
fn neither_application_nor_reject() {
    assert_error(
        "[[route]]\nname = \"a\"\n\n[[route]]\nname = \"b\"\ncalled = \"+49*\"\n",
        "dialplans/x.toml:1:1: route \"a\" needs `application` (a VoiceXML document) or `reject` (a SIP status)",
    );
}

#[test]
fn unsupported_reject_status() {
    assert_error(
        "[[route]]\nname = \"a\"\nreject = 500\n",
        "dialplans/x.toml:3:10: reject = 500 is not supported: use 403, 404, 480, 486 or 503",
    );
}

#[test]
fn answer_keys_on_a_reject_route() {
    assert_error(
        "[[route]]\nname = \"a\"\nreject = 403\nrecording = \"never\"\n",
        "dialplans/x.toml:4:13: `recording` has no effect on a route that rejects the call: remove it",
    );
    let err = error("[[route]]\nname = \"a\"\nreject = 403\n[route.variables]\nx = \"1\"\n");
    assert_eq!(
        err,
        "dialplans/x.toml:5:1: `variables` has no effect on a route that rejects the call: remove it"
    );
}

#[test]
fn missing_language() {
    assert_error(
        "[[route]]\nname = \"a\"\napplication = \"a.vxml\"\n",
        "dialplans/x.toml:1:1: route \"a\" needs `language`: a language tag such as \"de-DE\", or \"menu\"",
    );
}

#[test]
fn bad_language() {
    assert_error(
        "[[route]]\nname = \"a\"\napplication = \"a.vxml\"\nlanguage = \"de_DE\"\n",
        "dialplans/x.toml:4:12: bad language tag \"de_DE\": expected a BCP 47 tag such as \"de\" or \"de-DE\"",
    );
}

#[test]
fn bad_language_in_list() {
    let err = error(&route_with("languages = [\"de\", \"menu\"]\n"));
    assert!(
        err.starts_with("dialplans/x.toml:5:20: bad language tag \"menu\""),
        "{err}"
    );
}

#[test]
fn menu_without_languages() {
    assert_error(
        "[[route]]\nname = \"a\"\napplication = \"a.vxml\"\nlanguage = \"menu\"\n",
        "dialplans/x.toml:4:12: language = \"menu\" needs `languages`: the languages the menu offers",
    );
}

#[test]
fn bad_recording_policy() {
    let err = error(&route_with("recording = \"sometimes\"\n"));
    assert!(
        err.starts_with("dialplans/x.toml:5:13: unknown variant `sometimes`, expected one of `ask`, `always`, `never`"),
        "{err}"
    );
}

#[test]
fn bad_application() {
    assert_error(
        "[[route]]\nname = \"a\"\napplication = \"ftp://x/a.vxml\"\nlanguage = \"de\"\n",
        "dialplans/x.toml:3:15: bad application \"ftp://x/a.vxml\": only http:// and https:// URLs can be fetched; other documents are files relative to the dialplan",
    );
    let err = error("[[route]]\nname = \"a\"\napplication = \"https://\"\nlanguage = \"de\"\n");
    assert!(
        err.starts_with("dialplans/x.toml:3:15: bad application \"https://\": a URL needs a host"),
        "{err}"
    );
    let err = error("[[route]]\nname = \"a\"\napplication = \"\"\nlanguage = \"de\"\n");
    assert!(
        err.starts_with("dialplans/x.toml:3:15: bad application \"\": empty"),
        "{err}"
    );
}

#[test]
fn empty_retention() {
    assert_error(
        &route_with("retention = \"\"\n"),
        "dialplans/x.toml:5:13: `retention` must not be empty",
    );
}

#[test]
fn bad_variable_name() {
    assert_error(
        &route_with("variables = { ok = \"1\", \"2nd\" = \"2\" }\n"),
        "dialplans/x.toml:5:25: bad variable name \"2nd\": use letters, digits and '_', not starting with a digit",
    );
}

#[test]
fn variable_of_the_wrong_type() {
    let err = error(&route_with("variables = { n = 1 }\n"));
    assert!(
        err.starts_with("dialplans/x.toml:5:19: invalid type: integer `1`, expected a string"),
        "{err}"
    );
}

#[test]
fn duplicate_name_in_one_file() {
    assert_error(
        "[[route]]\nname = \"a\"\nreject = 404\n\n[[route]]\nname = \"a\"\nreject = 403\n",
        "dialplans/x.toml:5:1: duplicate route name \"a\": first defined at dialplans/x.toml:1:1",
    );
}

#[test]
fn duplicate_name_across_files_names_both() {
    let parse = |path: &str, text: &str| Dialplan::parse(Path::new(path), text).expect("valid");
    let first = parse(
        "dialplans/10-a.toml",
        "[[route]]\nname = \"sales\"\nreject = 404\n",
    );
    let second = parse(
        "dialplans/20-b.toml",
        "[[route]]\nname = \"other\"\nreject = 404\n\n[[route]]\nname = \"sales\"\nreject = 403\n",
    );
    let Err(err) = Dialplan::merge(vec![first, second]) else {
        panic!("duplicate accepted");
    };
    assert_eq!(
        err.to_string(),
        "dialplans/20-b.toml:5:1: duplicate route name \"sales\": first defined at dialplans/10-a.toml:1:1"
    );
    assert!(matches!(err.kind, ErrorKind::DuplicateName { .. }));
    assert_eq!((err.location.line, err.location.column), (5, 1));
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = error("# Übersicht\n[[route]]\nname = \"ä\"\nreject = 999\n");
    assert!(
        err.starts_with("dialplans/x.toml:4:10: reject = 999"),
        "{err}"
    );
    let err = error("[[route]]\nname = \"äöü\" ; reject = 404\n");
    assert!(err.starts_with("dialplans/x.toml:2:"), "{err}");
}
