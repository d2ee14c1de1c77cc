use super::*;

fn engine() -> ScriptEngine {
    ScriptEngine::new(ScriptLimits::default()).expect("engine")
}

#[test]
fn names_resolve_innermost_scope_first() {
    let js = engine();
    js.declare(Level::Application, "x", Some("'app'")).unwrap();
    js.declare(Level::Document, "x", Some("'doc'")).unwrap();
    assert_eq!(js.eval_string("x").unwrap(), "doc");
    assert_eq!(js.eval_string("application.x").unwrap(), "app");
    js.assign("x", "'changed'").unwrap();
    assert_eq!(js.eval_string("document.x").unwrap(), "changed");
    assert_eq!(js.eval_string("application.x").unwrap(), "app");
}

#[test]
fn assigning_an_undeclared_variable_is_an_error() {
    let js = engine();
    assert!(js.assign("nope", "1").is_err());
    assert!(js.assign("application.nope", "1").is_err());
    assert!(js.eval_string("nope").is_err());
}

#[test]
fn script_declarations_land_on_their_scope() {
    let js = engine();
    js.run_script(
        Level::Document,
        "var a = 1, b = [1,2].length; function twice(n) { return 2 * n + a; }",
    )
    .unwrap();
    assert_eq!(js.eval_string("document.a + document.b").unwrap(), "3");
    assert_eq!(js.eval_string("twice(b)").unwrap(), "5");
    assert!(!js.global_has("a"));
    assert!(!js.global_has("twice"));
    js.reset(Level::Document).unwrap();
    assert!(js.eval_string("a").is_err());
}

#[test]
fn endless_loops_hit_the_budget() {
    let js = engine();
    assert_eq!(js.run("while (true) {}"), Err(ScriptError::Budget));
    // The engine is still usable afterwards.
    assert_eq!(js.eval_string("1 + 1").unwrap(), "2");
}

#[test]
fn runaway_allocation_is_contained() {
    let js = ScriptEngine::new(ScriptLimits {
        memory: 4 << 20,
        budget: 100_000,
    })
    .unwrap();
    let result = js.run(
        "(function () { var a = []; while (true) a.push('xxxxxxxxxxxxxxxxxxxxxxxx' + a.length); })()",
    );
    assert!(
        matches!(
            result,
            Err(ScriptError::Memory) | Err(ScriptError::Thrown(_))
        ),
        "{result:?}"
    );
    assert_eq!(js.eval_string("'still' + ' alive'").unwrap(), "still alive");
}

#[test]
fn subdialog_contexts_are_isolated() {
    let js = engine();
    js.declare(Level::Document, "x", Some("1")).unwrap();
    js.push_context().unwrap();
    assert!(js.eval_string("x").is_err());
    js.pop_context().unwrap();
    assert_eq!(js.eval_string("x").unwrap(), "1");
}

#[test]
fn scanner_finds_top_level_declarations_only() {
    let found = declared_names(
        "var a = {x: 1, y: function () { var inner = 2; }}, b; // var c\n\
         let d = \"var e\"; const f = /var g/; function h() { var i; }\n\
         if (x) { var j = 1; }",
    );
    assert_eq!(found.vars, ["a", "b", "d", "f"]);
    assert_eq!(found.functions, ["h"]);
}

#[test]
fn js_strings_escape_everything_that_could_break_out() {
    let js = engine();
    let tricky = "a\"b\\c\nd\u{2028}e'</script>";
    assert_eq!(js.eval_string(&js_string(tricky)).unwrap(), tricky);
}

#[test]
fn a_session_costs_little_memory() {
    let js = engine();
    let used = js.memory_used();
    eprintln!("one session's script heap: {used} bytes");
    assert!(used > 0);
}

#[test]
fn a_runaway_session_does_not_harm_its_runtime_neighbours() {
    let limits = ScriptLimits {
        memory: 6 << 20,
        budget: 100_000,
    };
    let good = ScriptEngine::new(limits).unwrap();
    good.declare(Level::Document, "x", Some("'kept'")).unwrap();
    {
        let bad = ScriptEngine::new(limits).unwrap();
        assert!(bad.shares_runtime_with(&good));
        // A global keeps everything it allocated alive until the session ends.
        let result =
            bad.run("var a = []; while (true) a.push('xxxxxxxxxxxxxxxxxxxxxxxx' + a.length);");
        assert!(
            matches!(
                result,
                Err(ScriptError::Memory) | Err(ScriptError::Thrown(_))
            ),
            "{result:?}"
        );
    }
    // The runaway session ended and freed its heap: its neighbour and new sessions go on.
    assert_eq!(
        good.eval_string("x + ' ' + [1, 2, 3].map(String).join('')")
            .unwrap(),
        "kept 123"
    );
    let fresh = ScriptEngine::new(limits).unwrap();
    assert_eq!(
        fresh
            .eval_string("new Array(1000).join('y').length")
            .unwrap(),
        "999"
    );
}

#[test]
fn sessions_spread_over_runtimes_of_at_most_sixteen() {
    let limits = ScriptLimits {
        memory: 5 << 20,
        budget: 1_000,
    };
    let sessions: Vec<ScriptEngine> = (0..SESSIONS_PER_RUNTIME + 1)
        .map(|_| ScriptEngine::new(limits).unwrap())
        .collect();
    let first = &sessions[0];
    let sharing = sessions
        .iter()
        .filter(|s| s.shares_runtime_with(first))
        .count();
    assert_eq!(sharing, SESSIONS_PER_RUNTIME);
    assert!(!sessions[SESSIONS_PER_RUNTIME].shares_runtime_with(first));
}

#[test]
fn garbage_a_session_left_in_cycles_does_not_stop_new_sessions() {
    let limits = ScriptLimits {
        memory: 4 << 20,
        budget: 1_000_000,
    };
    for round in 0..4 {
        let bad = ScriptEngine::new(limits).unwrap();
        // Objects that point at each other outlive their context until a cycle collection.
        let result = bad.run(
            "var keep = []; while (true) { var a = {s: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyy' + keep.length}; a.me = a; keep.push(a); }",
        );
        assert!(
            matches!(
                result,
                Err(ScriptError::Memory) | Err(ScriptError::Thrown(_))
            ),
            "round {round}: {result:?}"
        );
        drop(bad);
        let sessions: Vec<ScriptEngine> = (0..SESSIONS_PER_RUNTIME)
            .map(|n| {
                ScriptEngine::new(limits)
                    .unwrap_or_else(|e| panic!("round {round}, session {n}: {e:?}"))
            })
            .collect();
        for s in &sessions {
            assert_eq!(s.eval_string("[1, 2].join('+')").unwrap(), "1+2");
        }
    }
}

#[test]
fn a_session_starts_beside_a_neighbour_that_holds_its_runtime_full() {
    let limits = ScriptLimits {
        memory: 4 << 20,
        budget: 1_000_000,
    };
    let hog = ScriptEngine::new(limits).unwrap();
    // The neighbour keeps (in a global) all it could allocate, and stays alive.
    let _ =
        hog.run("var keep = []; while (true) keep.push('zzzzzzzzzzzzzzzzzzzzzz' + keep.length);");
    let fresh = ScriptEngine::new(limits).expect("a new session finds room elsewhere");
    assert_eq!(fresh.eval_string("'ok'").unwrap(), "ok");
    assert!(!fresh.shares_runtime_with(&hog));
}
