//! Collecting DTMF input for a field or menu (VoiceXML 2.0 sections 3.1.2 and 6.3.3).
//!
//! ```text
//!            prompts playing ──(prompts done)──▶ listening: noinput timer runs
//!                  │ key (barge-in)                   │ key
//!                  ▼                                  ▼
//!            keys gathered ◀──────── key ──────── after each key, against every grammar:
//!                                                 all dead         → nomatch
//!                                                 complete, final  → match now
//!                                                 complete, longer possible → wait
//!                                                    termtimeout / interdigittimeout → match
//!                                                 prefix only      → wait interdigittimeout
//!                                                    → nomatch
//!            termchar: match if complete, else nomatch; silence: noinput
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_grammar::{Grammar, Interpretation, Key, MatchState, Value};

use super::{After, Interpreter, Item, Purpose, Thrown, Wait};
use crate::document::Node;
use crate::output::{FetchKind, Method, Output, PathEvent, RecordingAction};
use crate::script::js_string;

/// What a matched grammar leads to.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// Fill the field.
    Field,
    /// A menu choice (index among the menu's choices).
    Choice(usize),
    /// A `<link>` (document or dialog level).
    Link(Arc<Node>),
}

/// A grammar active for this collection.
#[derive(Clone, Debug)]
pub(crate) struct Active {
    pub grammar: Arc<Grammar>,
    pub target: Target,
}

/// Input collection in progress.
#[derive(Debug)]
pub struct Collect {
    pub(crate) item: Item,
    pub(crate) grammars: Vec<Active>,
    pub(crate) keys: Vec<Key>,
    pub(crate) noinput: Duration,
    pub(crate) interdigit: Duration,
    pub(crate) term: Duration,
    pub(crate) termchar: Option<Key>,
    pub(crate) listening_since: Option<Instant>,
    pub(crate) judge_at: Option<Instant>,
    /// What to do when `judge_at` passes: match (true) or nomatch (false).
    pub(crate) judge_match: bool,
    pub(crate) secure: bool,
}

impl Collect {
    /// The next input deadline.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(at) = self.judge_at {
            return Some(at);
        }
        if self.keys.is_empty() {
            return self.listening_since.map(|t| t + self.noinput);
        }
        None
    }

    pub(crate) fn prompts_done(&mut self, now: Instant) {
        if self.listening_since.is_none() {
            self.listening_since = Some(now);
        }
    }
}

/// What the gathered keys amount to.
enum Verdict {
    Wait,
    Match(usize),
    NoMatch,
}

impl Interpreter {
    /// Whether every external grammar of the item is loaded; starts a fetch if not.
    pub(crate) fn grammars_ready(&mut self, node: &Node) -> Result<bool, Thrown> {
        for grammar in node.children_named("grammar") {
            let Some(src) = grammar_src(self, grammar)? else {
                continue;
            };
            if src.starts_with("builtin:") || self.grammars.contains_key(&src) {
                continue;
            }
            let timeout = self.fetch_timeout(grammar);
            self.fetch(
                src.clone(),
                FetchKind::Grammar,
                Method::Get,
                Vec::new(),
                timeout,
                Purpose::Grammar { uri: src },
            );
            return Ok(false);
        }
        Ok(true)
    }

    /// Starts collecting input for a field or menu.
    pub(crate) fn listen(&mut self, item: &Item) -> Result<(), Thrown> {
        let grammars = self.active_grammars(item)?;
        if grammars.is_empty() {
            return Err(Thrown::new(
                "error.semantic",
                Some(format!(
                    "{}: no DTMF grammar is active for {} (speech grammars need a recognizer)",
                    item.node.pos, item.name
                )),
            ));
        }
        let secure = item.node.herald_attr("secure") == Some("true");
        let timeouts = self.config.timeouts;
        let termchar = match self.property("termchar") {
            Some(t) if t.is_empty() => None,
            Some(t) => t.chars().next().and_then(Key::from_char),
            None => Some(Key::Pound),
        };
        // A zero timeout would make silence a tight loop of noinput events.
        let floor = Duration::from_millis(100);
        let collect = Collect {
            item: item.clone(),
            grammars,
            keys: Vec::new(),
            noinput: self
                .prompt_timeout
                .take()
                .unwrap_or_else(|| self.duration_property("timeout", timeouts.noinput))
                .max(floor),
            interdigit: self
                .duration_property("interdigittimeout", timeouts.interdigit)
                .max(floor),
            term: self.duration_property("termtimeout", timeouts.term),
            termchar,
            listening_since: (!self.playing).then_some(self.now).flatten(),
            judge_at: None,
            judge_match: false,
            secure,
        };
        if secure {
            self.emit(Output::Recording {
                action: RecordingAction::Pause,
                reason: "secure-input".into(),
            });
        }
        self.emit(Output::Listen { secure });
        self.wait = Wait::Input(Box::new(collect));
        // Keys typed ahead count as input.
        while let Some(key) = self.typeahead.pop_front() {
            let Some(now) = self.now else { break };
            self.key(now, key);
            if !matches!(self.wait, Wait::Input(_)) {
                break;
            }
        }
        Ok(())
    }

    fn active_grammars(&mut self, item: &Item) -> Result<Vec<Active>, Thrown> {
        let node = item.node.clone();
        let mut active = Vec::new();
        if node.is("menu") {
            active.extend(self.menu_grammars(&node)?);
        } else {
            if let Some(kind) = node.attr("type") {
                let grammar = Grammar::builtin(kind).map_err(|e| {
                    Thrown::new(
                        "error.unsupported.builtin",
                        Some(format!("{}: {e}", node.pos)),
                    )
                })?;
                active.push((Arc::new(grammar), Target::Field));
            }
            let options: Vec<(String, String)> = node
                .children_named("option")
                .filter_map(|o| {
                    let value = o.attr("value").map_or_else(|| o.text(), str::to_owned);
                    o.attr("dtmf").map(|d| (d.to_owned(), value))
                })
                .collect();
            if !options.is_empty() {
                let grammar = Grammar::choices(options)
                    .map_err(|e| Thrown::badfetch(format!("{}: {e}", node.pos)))?;
                active.push((Arc::new(grammar), Target::Field));
            }
            for grammar in node.children_named("grammar") {
                if let Some(g) = self.load_grammar(grammar)? {
                    active.push((g, Target::Field));
                }
            }
        }
        let mut result: Vec<Active> = active
            .into_iter()
            .filter(|(g, _)| g.is_dtmf())
            .map(|(grammar, target)| Active { grammar, target })
            .collect();
        result.extend(self.link_grammars()?);
        Ok(result)
    }

    fn load_grammar(&mut self, node: &Node) -> Result<Option<Arc<Grammar>>, Thrown> {
        if let Some(src) = grammar_src(self, node)? {
            if let Some(builtin) = src.strip_prefix("builtin:") {
                return Grammar::builtin(&format!("builtin:{builtin}"))
                    .map(|g| Some(Arc::new(g)))
                    .map_err(|e| Thrown::new("error.unsupported.builtin", Some(e.to_string())));
            }
            return match self.grammars.get(&src) {
                Some(Ok(g)) => Ok(Some(g.clone())),
                Some(Err(e)) => Err(Thrown::badfetch(e.clone())),
                None => Ok(None),
            };
        }
        let source = node.source.as_deref().unwrap_or_default();
        Grammar::parse_srgs(source)
            .map(|g| Some(Arc::new(g)))
            .map_err(|e| Thrown::badfetch(format!("{}: inline grammar: {e}", node.pos)))
    }

    fn menu_grammars(&mut self, menu: &Node) -> Result<Vec<(Arc<Grammar>, Target)>, Thrown> {
        let auto = menu.attr("dtmf") == Some("true");
        let mut next_auto = 1u8;
        let mut grammars = Vec::new();
        for (index, choice) in menu.children_named("choice").enumerate() {
            let dtmf = match choice.attr("dtmf") {
                Some(d) => Some(d.to_owned()),
                None if auto && next_auto <= 9 => {
                    let d = next_auto.to_string();
                    next_auto += 1;
                    Some(d)
                }
                None => None,
            };
            if let Some(dtmf) = dtmf {
                let grammar = Grammar::choices([(dtmf, choice.text())])
                    .map_err(|e| Thrown::badfetch(format!("{}: {e}", choice.pos)))?;
                grammars.push((Arc::new(grammar), Target::Choice(index)));
            }
            for grammar in choice.children_named("grammar") {
                if let Some(g) = self.load_grammar(grammar)? {
                    grammars.push((g, Target::Choice(index)));
                }
            }
        }
        Ok(grammars)
    }

    /// DTMF links of the dialog and the document(s).
    fn link_grammars(&mut self) -> Result<Vec<Active>, Thrown> {
        let mut scopes: Vec<Arc<Node>> = Vec::new();
        if let Some(dialog) = &self.ctx.dialog {
            scopes.push(dialog.node.clone());
        }
        if let Some(doc) = &self.ctx.doc {
            scopes.push(doc.root.clone());
        }
        if let Some(root) = &self.ctx.root {
            scopes.push(root.root.clone());
        }
        let mut result = Vec::new();
        for scope in scopes {
            for link in scope.children_named("link") {
                if let Some(dtmf) = link.attr("dtmf") {
                    let grammar = Grammar::choices([(dtmf, "")])
                        .map_err(|e| Thrown::badfetch(format!("{}: {e}", link.pos)))?;
                    result.push(Active {
                        grammar: Arc::new(grammar),
                        target: Target::Link(link.clone()),
                    });
                }
            }
        }
        Ok(result)
    }

    /// A key while collecting.
    pub(crate) fn key(&mut self, now: Instant, key: Key) {
        if self.playing {
            self.playing = false;
            self.emit(Output::StopPrompts);
        }
        let Wait::Input(collect) = &mut self.wait else {
            return;
        };
        collect.listening_since.get_or_insert(now);
        let mut with_key = collect.keys.clone();
        with_key.push(key);
        let key_is_grammar_input = collect
            .grammars
            .iter()
            .any(|a| a.grammar.state(&with_key) != MatchState::NoMatch);
        if Some(key) == collect.termchar && !key_is_grammar_input {
            let verdict = match complete_grammar(collect) {
                Some(index) => Verdict::Match(index),
                None => Verdict::NoMatch,
            };
            self.conclude(verdict);
            return;
        }
        collect.keys.push(key);
        let verdict = judge(collect, now);
        self.conclude(verdict);
    }

    /// Input timeouts.
    pub(crate) fn input_timeout(&mut self, now: Instant) {
        let Wait::Input(collect) = &mut self.wait else {
            return;
        };
        match collect.judge_at {
            Some(at) if at <= now => {
                let verdict = if collect.judge_match {
                    complete_grammar(collect).map_or(Verdict::NoMatch, Verdict::Match)
                } else {
                    Verdict::NoMatch
                };
                self.conclude(verdict);
            }
            Some(_) => {}
            None => {
                let expired = collect.keys.is_empty()
                    && collect
                        .listening_since
                        .is_some_and(|since| since + collect.noinput <= now);
                if expired {
                    self.stop_listening();
                    self.pending = Some(Thrown::new("noinput", None));
                }
            }
        }
    }

    fn conclude(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Wait => {}
            Verdict::NoMatch => {
                self.stop_listening();
                self.pending = Some(Thrown::new("nomatch", None));
            }
            Verdict::Match(index) => {
                let Some(collect) = self.stop_listening() else {
                    return;
                };
                if let Err(thrown) = self.matched(&collect, index) {
                    self.pending = Some(thrown);
                }
            }
        }
    }

    /// Leaves the input state, resuming a recording paused for secure input.
    fn stop_listening(&mut self) -> Option<Box<Collect>> {
        match std::mem::replace(&mut self.wait, Wait::Running) {
            Wait::Input(collect) => {
                if collect.secure {
                    self.emit(Output::Recording {
                        action: RecordingAction::Resume,
                        reason: "secure-input".into(),
                    });
                }
                Some(collect)
            }
            other => {
                self.wait = other;
                None
            }
        }
    }

    /// Called when an event interrupts a collection (hang-up).
    pub(crate) fn end_input_wait(&mut self) {
        self.stop_listening();
    }

    /// Called on hang-up: a secure collection in progress must not leave recording paused
    /// without a matching resume.
    pub(crate) fn end_secure_input(&mut self) {
        self.stop_listening();
    }

    fn matched(&mut self, collect: &Collect, index: usize) -> Result<(), Thrown> {
        let active = &collect.grammars[index];
        let Some(interpretation) = active.grammar.interpret(&collect.keys) else {
            return Err(Thrown::new("nomatch", None));
        };
        let value = self.interpretation_literal(&interpretation)?;
        let item = collect.item.name.clone();
        match &active.target {
            Target::Field => {
                if collect.secure {
                    self.secure_values.push(interpretation.utterance.clone());
                    if let Value::String(s) = &interpretation.value {
                        self.secure_values.push(s.clone());
                    }
                }
                self.emit(Output::Path(PathEvent::Input {
                    item: item.clone(),
                    keys: collect.keys.len(),
                    secure: collect.secure,
                }));
                let utterance = js_string(&interpretation.utterance);
                let shadow = format!(
                    "({{utterance: {utterance}, inputmode: 'dtmf', interpretation: {value}, \
                     confidence: 1.0}})"
                );
                self.set_lastresult(&utterance, &value)?;
                self.fill(&item, &value, &shadow)
            }
            Target::Choice(choice) => {
                let menu = collect.item.node.clone();
                let utterance = js_string(&interpretation.utterance);
                self.set_lastresult(&utterance, &value)?;
                self.emit(Output::Path(PathEvent::MenuChoice {
                    menu: menu.attr("id").unwrap_or("(menu)").to_owned(),
                    choice: interpretation.utterance.clone(),
                }));
                let choice = menu
                    .children_named("choice")
                    .nth(*choice)
                    .cloned()
                    .ok_or_else(|| {
                        Thrown::new("error.semantic", Some("menu choice vanished".to_owned()))
                    })?;
                self.follow(&choice)
            }
            Target::Link(link) => {
                let link = link.clone();
                self.follow(&link)
            }
        }
    }

    /// Goes where a `<choice>` or `<link>` points: next/expr, or throws its event.
    fn follow(&mut self, node: &Arc<Node>) -> Result<(), Thrown> {
        if node.attr("event").is_some() || node.attr("eventexpr").is_some() {
            return Err(self.thrown_by(node)?);
        }
        let goto = Arc::new(Node {
            name: "goto".into(),
            ns: crate::document::Namespace::Vxml,
            attrs: node
                .attrs
                .iter()
                .filter(|a| matches!(&*a.name, "next" | "expr" | "fetchtimeout"))
                .map(|a| crate::document::Attr {
                    name: a.name.clone(),
                    ns: a.ns,
                    value: a.value.clone(),
                })
                .collect(),
            children: Vec::new(),
            pos: node.pos,
            source: None,
        });
        self.ctx.after = Some(After::Select);
        self.execute(&goto, crate::script::Level::Anonymous)
            .map(|_| ())
    }

    fn set_lastresult(&mut self, utterance: &str, value: &str) -> Result<(), Thrown> {
        self.js.run(&format!(
            "(function(){{ var r = {{utterance: {utterance}, inputmode: 'dtmf', \
             interpretation: {value}, confidence: 1.0}}; var l = [r]; l.utterance = r.utterance; \
             l.inputmode = r.inputmode; l.interpretation = r.interpretation; l.confidence = 1.0; \
             l.markname = {mark}; __h.a['lastresult$'] = l; }})();",
            mark = self
                .last_mark
                .as_deref()
                .map_or_else(|| "undefined".to_owned(), js_string)
        ))?;
        Ok(())
    }

    /// The interpretation as an ECMAScript expression.
    fn interpretation_literal(
        &mut self,
        interpretation: &Interpretation,
    ) -> Result<String, Thrown> {
        if let Some(script) = &interpretation.script {
            self.js.stash("sisr", script)?;
            return Ok("__h.v.sisr".to_owned());
        }
        Ok(value_literal(&interpretation.value))
    }
}

/// The grammar's source URI, resolved, if it has one.
fn grammar_src(interpreter: &mut Interpreter, node: &Node) -> Result<Option<String>, Thrown> {
    let src = match (node.attr("src"), node.attr("srcexpr")) {
        (Some(src), _) => src.to_owned(),
        (None, Some(expr)) => interpreter.js.eval_string(expr)?,
        (None, None) => return Ok(None),
    };
    if src.starts_with("builtin:") {
        return Ok(Some(src));
    }
    let resolved = interpreter.resolve(&src)?;
    Ok(Some(super::uri::split_fragment(&resolved).0))
}

/// The first complete grammar, in priority order.
fn complete_grammar(collect: &Collect) -> Option<usize> {
    collect
        .grammars
        .iter()
        .position(|a| matches!(a.grammar.state(&collect.keys), MatchState::Complete { .. }))
}

fn judge(collect: &mut Collect, now: Instant) -> Verdict {
    let states: Vec<MatchState> = collect
        .grammars
        .iter()
        .map(|a| a.grammar.state(&collect.keys))
        .collect();
    let first_complete = states
        .iter()
        .position(|s| matches!(s, MatchState::Complete { .. }));
    let extendable = states.iter().any(|s| {
        matches!(
            s,
            MatchState::Incomplete | MatchState::Complete { can_extend: true }
        )
    });
    let (wait, judge_match) = match (first_complete, extendable) {
        (Some(index), false) if collect.term.is_zero() || collect.termchar.is_none() => {
            return Verdict::Match(index);
        }
        (Some(_), false) => (collect.term, true),
        (Some(_), true) => (collect.interdigit, true),
        (None, true) => (collect.interdigit, false),
        (None, false) => return Verdict::NoMatch,
    };
    collect.judge_at = Some(now + wait);
    collect.judge_match = judge_match;
    Verdict::Wait
}

/// A grammar value as an ECMAScript literal.
pub(crate) fn value_literal(value: &Value) -> String {
    match value {
        Value::String(s) => js_string(s),
        Value::Number(n) if n.is_finite() => format!("{n}"),
        Value::Number(_) => "NaN".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", js_string(k), value_literal(v)))
                .collect();
            format!("({{{}}})", fields.join(", "))
        }
    }
}
