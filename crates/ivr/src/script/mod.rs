//! ECMAScript for `expr`, `cond` and `<script>`, through QuickJS (rquickjs), with VoiceXML's
//! scope chain.
//!
//! Each session owns one QuickJS runtime (its own heap, memory limit and instruction budget),
//! so a runaway script hurts only its own call. The five VoiceXML scopes (session,
//! application, document, dialog, anonymous) are plain objects without prototypes; an
//! expression is evaluated inside nested `with` statements, innermost scope last, so a name
//! resolves the way VoiceXML 2.0 section 5.1 says, and each scope object names itself
//! (`application.x`, `document.x`). A `<script>` runs with the chain down to its own scope;
//! its top-level `var` and `function` declarations are declared on that scope object first
//! (see [`declared_names`]), because ECMAScript would otherwise hoist them out of the `with`.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Object, Runtime, Value};

/// The VoiceXML scopes, outermost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Session,
    Application,
    Document,
    Dialog,
    Anonymous,
}

impl Level {
    const ALL: [Level; 5] = [
        Level::Session,
        Level::Application,
        Level::Document,
        Level::Dialog,
        Level::Anonymous,
    ];

    fn key(self) -> &'static str {
        match self {
            Level::Session => "s",
            Level::Application => "a",
            Level::Document => "d",
            Level::Dialog => "g",
            Level::Anonymous => "n",
        }
    }

    fn self_name(self) -> &'static str {
        match self {
            Level::Session => "session",
            Level::Application => "application",
            Level::Document => "document",
            Level::Dialog => "dialog",
            Level::Anonymous => "",
        }
    }

    /// The scope a dotted name's prefix refers to (`application.x` → Application).
    pub fn named(prefix: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| !l.self_name().is_empty() && l.self_name() == prefix)
    }
}

/// Limits on one session's script engine.
#[derive(Clone, Copy, Debug)]
pub struct ScriptLimits {
    /// Heap bytes for the session's runtime.
    pub memory: usize,
    /// Interrupt checks (QuickJS checks about every 10,000 operations) allowed per evaluation.
    pub budget: u32,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            memory: 16 << 20,
            budget: 2_000,
        }
    }
}

/// Why an evaluation failed; the interpreter throws `error.semantic` with the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("{0}")]
    Thrown(String),
    #[error("script ran past its instruction budget (an endless loop?)")]
    Budget,
    #[error("script engine out of memory")]
    Memory,
}

const PRELUDE: &str = r#"
var __h = (function () {
  function scope(name) { var o = Object.create(null); if (name) o[name] = o; return o; }
  var h = { s: scope('session'), a: scope('application'), d: scope('document'),
            g: scope('dialog'), n: scope(''), saved: [], scope: scope };
  h.find = function (name) {
    var order = [h.n, h.g, h.d, h.a, h.s];
    for (var i = 0; i < order.length; i++) { if (name in order[i]) return order[i]; }
    return null;
  };
  h.str = function (v) { return v === undefined ? 'undefined' : (v === null ? 'null' : String(v)); };
  h.json = function (v) {
    if (v === undefined) return 'null';
    try { var j = JSON.stringify(v); return j === undefined ? 'null' : j; }
    catch (e) { return JSON.stringify(String(v)); }
  };
  return h;
})();
"#;

/// Sessions that share one QuickJS runtime. A runtime's own tables and allocator arenas cost
/// about 115 KiB, a context about 30 KiB (see docs/benchmarks.md, "IVR interpreter"): sharing
/// cuts a waiting session from about 170 KiB to about 40 KiB. Sessions of a runtime never run
/// at the same time (a runtime lives on one thread), so one session's runaway script fails on
/// its own instruction budget or on the runtime's memory limit while it alone is running, and
/// the session then ends and releases what it held.
pub const SESSIONS_PER_RUNTIME: usize = 16;

/// A runtime some sessions of this thread share, with its budget counter.
#[derive(Clone)]
struct SharedRuntime {
    runtime: Runtime,
    remaining: Rc<Cell<u32>>,
    sessions: Rc<Cell<usize>>,
    /// A session ended since the last collection.
    ended: Rc<Cell<bool>>,
    memory: usize,
}

thread_local! {
    static RUNTIMES: std::cell::RefCell<Vec<SharedRuntime>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl SharedRuntime {
    /// A runtime of this thread with room for one more session under these limits: fewer than
    /// [`SESSIONS_PER_RUNTIME`] sessions and at most half its heap in use once the garbage of
    /// ended sessions is collected. Otherwise a new runtime. Runtimes nobody uses are released,
    /// but one is kept for the next session.
    fn claim(limits: ScriptLimits) -> Result<SharedRuntime, ScriptError> {
        RUNTIMES.with(|runtimes| {
            let mut runtimes = runtimes.borrow_mut();
            let mut idle_kept = false;
            runtimes.retain(|r| {
                let keep = r.sessions.get() > 0 || !idle_kept;
                idle_kept |= r.sessions.get() == 0;
                keep
            });
            let free = runtimes.iter().find(|r| {
                r.memory == limits.memory && r.sessions.get() < SESSIONS_PER_RUNTIME && r.has_room()
            });
            let shared = match free {
                Some(shared) => shared.clone(),
                None => {
                    let shared = SharedRuntime::create(limits)?;
                    runtimes.push(shared.clone());
                    shared
                }
            };
            shared.sessions.set(shared.sessions.get() + 1);
            Ok(shared)
        })
    }

    /// Whether a new session fits: collects what ended sessions left in reference cycles
    /// (a context's cycles outlive it until a collection, and QuickJS does not collect before
    /// failing an allocation at the memory limit), then checks the heap is at most half full.
    fn has_room(&self) -> bool {
        if self.ended.replace(false) {
            self.runtime.run_gc();
        }
        let used =
            usize::try_from(self.runtime.memory_usage().memory_used_size).unwrap_or(usize::MAX);
        used <= self.memory / 2
    }

    fn create(limits: ScriptLimits) -> Result<SharedRuntime, ScriptError> {
        let runtime = Runtime::new().map_err(|_| ScriptError::Memory)?;
        runtime.set_memory_limit(limits.memory);
        runtime.set_max_stack_size(512 << 10);
        let remaining = Rc::new(Cell::new(limits.budget));
        let counter = remaining.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let left = counter.get();
            counter.set(left.saturating_sub(1));
            left == 0
        })));
        Ok(SharedRuntime {
            runtime,
            remaining,
            sessions: Rc::new(Cell::new(0)),
            ended: Rc::new(Cell::new(false)),
            memory: limits.memory,
        })
    }
}

/// One session's ECMAScript engine: its own context (globals, scopes) in a runtime shared with
/// up to [`SESSIONS_PER_RUNTIME`] − 1 other sessions of the same thread.
pub struct ScriptEngine {
    // Field order matters: the context must drop before its runtime.
    context: Context,
    shared: SharedRuntime,
    limits: ScriptLimits,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine").finish_non_exhaustive()
    }
}

impl Drop for ScriptEngine {
    fn drop(&mut self) {
        let sessions = &self.shared.sessions;
        sessions.set(sessions.get().saturating_sub(1));
        // The context drops after this; what it held in reference cycles is collected before
        // the runtime takes its next session.
        self.shared.ended.set(true);
    }
}

impl ScriptEngine {
    pub fn new(limits: ScriptLimits) -> Result<Self, ScriptError> {
        let shared = SharedRuntime::claim(limits)?;
        // What VoiceXML documents use; Promise, Proxy, typed arrays, WeakRef and friends cost
        // memory in every session and no IVR needs them.
        let context = Context::custom::<(
            intrinsic::Date,
            intrinsic::Eval,
            intrinsic::RegExpCompiler,
            intrinsic::RegExp,
            intrinsic::Json,
        )>(&shared.runtime);
        let context = match context {
            Ok(context) => context,
            Err(_) => {
                shared.sessions.set(shared.sessions.get().saturating_sub(1));
                return Err(ScriptError::Memory);
            }
        };
        let engine = Self {
            context,
            shared,
            limits,
        };
        engine.run(PRELUDE)?;
        Ok(engine)
    }

    /// This session's share of its runtime's heap (the runtime's bytes in use divided by the
    /// sessions sharing it).
    pub fn memory_used(&self) -> usize {
        let used = usize::try_from(self.shared.runtime.memory_usage().memory_used_size)
            .unwrap_or(usize::MAX);
        used / self.shared.sessions.get().max(1)
    }

    /// Evaluates `code` (a program; its completion value is the result) and maps the result.
    fn with_result<T>(
        &self,
        code: &str,
        map: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<T, ScriptError>,
    ) -> Result<T, ScriptError> {
        self.shared.remaining.set(self.limits.budget);
        self.context.with(|ctx| {
            let mut options = rquickjs::context::EvalOptions::default();
            options.global = true;
            options.strict = false;
            options.filename = None;
            match ctx.eval_with_options::<Value, _>(code, options) {
                Ok(value) => map(&ctx, value),
                Err(error) => Err(self.describe(&ctx, error)),
            }
        })
    }

    fn describe(&self, ctx: &Ctx<'_>, error: rquickjs::Error) -> ScriptError {
        match error {
            rquickjs::Error::Exception => {
                let thrown = ctx.catch();
                if self.shared.remaining.get() == 0 {
                    return ScriptError::Budget;
                }
                // QuickJS throws `null` when it cannot even allocate its "out of memory"
                // error (`JS_ThrowError2`). A document that throws an uncaught `null` itself
                // is reported the same way; it gets no better message either way.
                if thrown.is_null() {
                    return ScriptError::Memory;
                }
                let text = thrown
                    .as_exception()
                    .map(|e| {
                        let name: String = e.get("name").unwrap_or_default();
                        format!("{}: {}", name, e.message().unwrap_or_default())
                    })
                    .or_else(|| thrown.as_string().and_then(|s| s.to_string().ok()))
                    .unwrap_or_else(|| "script threw a value".to_owned());
                if text.contains("out of memory") {
                    ScriptError::Memory
                } else {
                    ScriptError::Thrown(text)
                }
            }
            rquickjs::Error::Allocation => ScriptError::Memory,
            other => ScriptError::Thrown(other.to_string()),
        }
    }

    /// Runs a program for its effects.
    pub fn run(&self, code: &str) -> Result<(), ScriptError> {
        self.with_result(code, |_, _| Ok(()))
    }

    fn chain(level: Level, body: &str) -> String {
        let mut code = String::with_capacity(body.len() + 96);
        for l in Level::ALL.into_iter().filter(|l| *l <= level) {
            code.push_str("with(__h.");
            code.push_str(l.key());
            code.push(')');
        }
        code.push('{');
        code.push_str(body);
        code.push_str("\n}");
        code
    }

    fn expression(expr: &str, wrap: &str) -> String {
        Self::chain(Level::Anonymous, &format!("{wrap}(({expr}\n))"))
    }

    /// An expression's value as a string (ECMAScript `String()`).
    pub fn eval_string(&self, expr: &str) -> Result<String, ScriptError> {
        self.with_result(&Self::expression(expr, "__h.str"), |_, v| {
            Ok(v.as_string()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_default())
        })
    }

    /// An expression's truth value.
    pub fn eval_bool(&self, expr: &str) -> Result<bool, ScriptError> {
        self.with_result(&Self::expression(expr, "!!"), |_, v| {
            Ok(v.as_bool().unwrap_or(false))
        })
    }

    /// An expression's value as JSON text (`null` for undefined or unserialisable values).
    pub fn eval_json(&self, expr: &str) -> Result<String, ScriptError> {
        self.with_result(&Self::expression(expr, "__h.json"), |_, v| {
            Ok(v.as_string()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| "null".into()))
        })
    }

    /// An expression's value as a number, if it is one.
    pub fn eval_number(&self, expr: &str) -> Result<Option<f64>, ScriptError> {
        self.with_result(&Self::expression(expr, "Number"), |_, v| Ok(v.as_number()))
    }

    /// Declares `name` in `level`, initialised to `expr` (evaluated in the full chain) or
    /// undefined.
    pub fn declare(&self, level: Level, name: &str, expr: Option<&str>) -> Result<(), ScriptError> {
        let value = expr.map_or_else(|| "undefined".to_owned(), |e| format!("({e}\n)"));
        let code = Self::chain(
            Level::Anonymous,
            &format!("__h.{}[{}] = {value};", level.key(), js_string(name)),
        );
        self.run(&code)
    }

    /// Declares `name` in `level` with a value given as ECMAScript source (a literal).
    pub fn declare_literal(
        &self,
        level: Level,
        name: &str,
        literal: &str,
    ) -> Result<(), ScriptError> {
        self.run(&format!(
            "__h.{}[{}] = ({literal});",
            level.key(),
            js_string(name)
        ))
    }

    /// Whether `name` (plain or `scope.name`) is declared in the current chain.
    pub fn is_declared(&self, name: &str) -> Result<bool, ScriptError> {
        let code = match name.split_once('.') {
            Some((prefix, rest)) if Level::named(prefix).is_some() && !rest.contains('.') => {
                let level = Level::named(prefix).unwrap_or(Level::Anonymous);
                format!("({} in __h.{})", js_string(rest), level.key())
            }
            Some(_) => format!(
                "(function(){{ try {{ {} ; return true; }} catch (e) {{ return false; }} }})()",
                Self::chain(Level::Anonymous, &format!("void ({name}\n);"))
            ),
            None => format!("(__h.find({}) !== null)", js_string(name)),
        };
        self.with_result(&code, |_, v| Ok(v.as_bool().unwrap_or(false)))
    }

    /// Assigns `expr` to a declared variable `name` (`x`, `dialog.x`, `application.x`,
    /// `x.y.z`); an undeclared name is an error (VoiceXML `error.semantic`).
    pub fn assign(&self, name: &str, expr: &str) -> Result<(), ScriptError> {
        let root = name.split('.').next().unwrap_or(name);
        let declared = if Level::named(root).is_some() && name.contains('.') {
            self.is_declared(name)?
        } else {
            self.is_declared(root)?
        };
        if !declared {
            return Err(ScriptError::Thrown(format!(
                "ReferenceError: {name} is not declared"
            )));
        }
        self.run(&Self::chain(
            Level::Anonymous,
            &format!("{name} = ({expr}\n);"),
        ))
    }

    /// Sets a declared variable to a literal value without a declaration check (form item
    /// variables, shadow variables).
    pub fn set_literal(&self, name: &str, literal: &str) -> Result<(), ScriptError> {
        self.run(&Self::chain(
            Level::Anonymous,
            &format!("{name} = ({literal});"),
        ))
    }

    /// Runs `<script>` content in `level`'s chain, its top-level declarations landing on that
    /// scope object.
    pub fn run_script(&self, level: Level, source: &str) -> Result<(), ScriptError> {
        let names = declared_names(source);
        let scope = format!("__h.{}", level.key());
        let mut code = String::new();
        for name in &names.vars {
            code.push_str(&format!(
                "if (!({n} in {scope})) {scope}[{n}] = undefined;",
                n = js_string(name)
            ));
        }
        let mut body = String::from(source);
        body.push('\n');
        for name in &names.functions {
            body.push_str(&format!(
                ";if (typeof {name} === 'function') {scope}[{}] = {name};",
                js_string(name)
            ));
        }
        // Inside a function, so that Annex B does not turn block-level function declarations
        // into globals.
        code.push_str("(function(){");
        code.push_str(&Self::chain(level, &body));
        code.push_str("})();");
        self.run(&code)
    }

    /// Replaces the scope object of `level` with a fresh one (entering a dialog, document or
    /// application); deeper scopes are left to their own resets.
    pub fn reset(&self, level: Level) -> Result<(), ScriptError> {
        self.with_scopes(|ctx, h| {
            let scope = Object::new(ctx.clone())?;
            scope.set_prototype(None)?;
            let name = level.self_name();
            if !name.is_empty() {
                scope.set(name, scope.clone())?;
            }
            h.set(level.key(), scope)
        })
    }

    /// Runs bookkeeping on the scope objects through the engine's API, without compiling any
    /// ECMAScript (most of what the interpreter does between a document's own expressions).
    fn with_scopes<T>(
        &self,
        f: impl for<'js> FnOnce(&Ctx<'js>, Object<'js>) -> rquickjs::Result<T>,
    ) -> Result<T, ScriptError> {
        self.context
            .with(|ctx| {
                let h: Object = ctx.globals().get("__h")?;
                f(&ctx, h)
            })
            .map_err(|e| ScriptError::Thrown(format!("internal: {e}")))
    }

    /// Whether `name` in scope `level` is undefined (a form item's guard).
    pub fn is_undefined(&self, level: Level, name: &str) -> Result<bool, ScriptError> {
        self.with_scopes(|_, h| {
            let scope: Object = h.get(level.key())?;
            let value: Value = scope.get(name)?;
            Ok(value.is_undefined())
        })
    }

    /// Sets `name` in scope `level` to a simple value (declaring it).
    pub fn set_simple(&self, level: Level, name: &str, value: Simple) -> Result<(), ScriptError> {
        self.with_scopes(|ctx, h| {
            let scope: Object = h.get(level.key())?;
            match value {
                Simple::Undefined => scope.set(name, rquickjs::Undefined),
                Simple::Bool(b) => scope.set(name, b),
                Simple::EmptyObject => scope.set(name, Object::new(ctx.clone())?),
            }
        })
    }

    /// Removes `name` from scope `level`, if there.
    pub fn remove(&self, level: Level, name: &str) -> Result<(), ScriptError> {
        self.with_scopes(|_, h| {
            let scope: Object = h.get(level.key())?;
            scope.remove(name)
        })
    }

    /// Drops the subdialog parameters of the hidden slot once they have been consumed.
    pub fn forget_params(&self) -> Result<(), ScriptError> {
        self.with_scopes(|_, h| match h.get::<_, Option<Object>>("v")? {
            Some(slot) => slot.remove("params"),
            None => Ok(()),
        })
    }

    /// Saves the application, document, dialog and anonymous scopes (entering a subdialog's
    /// new execution context) and installs fresh ones.
    pub fn push_context(&self) -> Result<(), ScriptError> {
        self.run(
            "__h.saved.push([__h.a, __h.d, __h.g, __h.n]); __h.a = __h.scope('application'); \
             __h.d = __h.scope('document'); __h.g = __h.scope('dialog'); __h.n = __h.scope('');",
        )
    }

    /// Restores the scopes saved by [`push_context`](Self::push_context).
    pub fn pop_context(&self) -> Result<(), ScriptError> {
        self.run(
            "var __s = __h.saved.pop(); if (__s) { __h.a = __s[0]; __h.d = __s[1]; \
             __h.g = __s[2]; __h.n = __s[3]; }",
        )
    }

    /// Evaluates an expression and stores it in the hidden slot `__h.v[key]` (values that must
    /// outlive a context switch, such as a subdialog's parameters and return value).
    pub fn stash(&self, key: &str, expr: &str) -> Result<(), ScriptError> {
        self.run(&format!(
            "if (!__h.v) __h.v = {{}}; {}",
            Self::chain(
                Level::Anonymous,
                &format!("__h.v[{}] = ({expr}\n);", js_string(key))
            )
        ))
    }

    /// Evaluates to a `String` result of arbitrary program text.
    pub fn program_string(&self, code: &str) -> Result<String, ScriptError> {
        self.with_result(code, |_, v| {
            Ok(v.as_string()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_default())
        })
    }

    /// Whether two sessions share a runtime: used by tests.
    #[cfg(test)]
    fn shares_runtime_with(&self, other: &ScriptEngine) -> bool {
        Rc::ptr_eq(&self.shared.sessions, &other.shared.sessions)
    }

    /// Whether the object `Object` is reachable: used by tests.
    #[cfg(test)]
    fn global_has(&self, name: &str) -> bool {
        self.context.with(|ctx| {
            let globals: Object = ctx.globals();
            globals.contains_key(name).unwrap_or(false)
        })
    }
}

/// Values the interpreter sets without compiling ECMAScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simple {
    Undefined,
    Bool(bool),
    EmptyObject,
}

/// An ECMAScript string literal for `text`.
pub fn js_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Names a script declares at its top level.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Declared {
    pub vars: Vec<String>,
    pub functions: Vec<String>,
}

/// The top-level `var`/`let`/`const` and `function` names of a script. A light scanner, not a
/// parser: it skips strings, comments, template literals and bracketed code, and after `var`
/// takes each identifier that follows the keyword or a top-level comma. A name it finds in
/// excess is declared `undefined`, which is harmless; it misses nothing a normal script
/// declares at its top level.
pub fn declared_names(source: &str) -> Declared {
    let tokens = scan(source);
    let mut declared = Declared::default();
    let mut i = 0;
    while i < tokens.len() {
        let (depth, word) = &tokens[i];
        if *depth == 0 && matches!(word.as_str(), "var" | "let" | "const") {
            i = collect_declarators(&tokens, i + 1, &mut declared.vars);
            continue;
        }
        if *depth == 0
            && word == "function"
            && let Some((0, name)) = tokens.get(i + 1)
            && is_identifier(name)
        {
            declared.functions.push(name.clone());
        }
        i += 1;
    }
    declared
}

fn collect_declarators(tokens: &[(u32, String)], mut i: usize, out: &mut Vec<String>) -> usize {
    let mut expect_name = true;
    while i < tokens.len() {
        let (depth, word) = &tokens[i];
        if *depth == 0 && (word == ";" || is_statement_keyword(word) && !expect_name) {
            return i;
        }
        if *depth == 0 && word == "," {
            expect_name = true;
        } else if expect_name && *depth == 0 && is_identifier(word) {
            out.push(word.clone());
            expect_name = false;
        } else {
            expect_name = false;
        }
        i += 1;
    }
    i
}

fn is_statement_keyword(word: &str) -> bool {
    matches!(
        word,
        "var" | "let" | "const" | "function" | "if" | "for" | "while" | "return" | "do"
    )
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !matches!(
            word,
            "var" | "let" | "const" | "function" | "in" | "of" | "new" | "typeof" | "this"
        )
}

/// Words and punctuation with their bracket depth; strings, comments and regular expression
/// literals are dropped.
fn scan(source: &str) -> Vec<(u32, String)> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens: Vec<(u32, String)> = Vec::new();
    let mut depth: u32 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                tokens.push((depth, "\"\"".into()));
            }
            '/' if regex_allowed(tokens.last()) => {
                i += 1;
                while i < chars.len() && chars[i] != '/' && chars[i] != '\n' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                tokens.push((depth, "/re/".into()));
            }
            '{' | '(' | '[' => {
                tokens.push((depth, c.to_string()));
                depth += 1;
                i += 1;
            }
            '}' | ')' | ']' => {
                depth = depth.saturating_sub(1);
                tokens.push((depth, c.to_string()));
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                tokens.push((depth, chars[start..i].iter().collect()));
            }
            c if c.is_whitespace() => i += 1,
            c => {
                tokens.push((depth, c.to_string()));
                i += 1;
            }
        }
    }
    tokens
}

fn regex_allowed(previous: Option<&(u32, String)>) -> bool {
    match previous {
        None => true,
        Some((_, word)) => {
            matches!(
                word.as_str(),
                "(" | ","
                    | "="
                    | ":"
                    | "["
                    | "!"
                    | "&"
                    | "|"
                    | "?"
                    | "{"
                    | "}"
                    | ";"
                    | "+"
                    | "-"
                    | "*"
                    | "%"
                    | "<"
                    | ">"
                    | "~"
                    | "^"
                    | "return"
                    | "typeof"
            )
        }
    }
}

#[cfg(test)]
mod tests;
