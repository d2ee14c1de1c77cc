//! Executable content (VoiceXML 2.0 section 5.3) and scope initialisation, one element per
//! step.

use std::sync::Arc;

use super::{After, Frame, FrameMode, Interpreter, Purpose, Thrown, uri};
use crate::document::{Child, Namespace, Node};
use crate::output::{Consent, FetchKind, Method, Outcome, Output, PathEvent, RecordingAction};
use crate::script::{Level, Simple, js_string};

/// What an element did to the flow of control.
pub(crate) enum Flow {
    /// Go on with the next element.
    Next,
    /// The frame stack changed (a branch or loop was pushed, or a transition cleared it).
    Jumped,
}

impl Interpreter {
    /// Runs content from `parent`'s children, then continues as `after` says.
    pub(crate) fn start_exec(
        &mut self,
        parent: &Arc<Node>,
        level: Level,
        mode: FrameMode,
        after: After,
    ) {
        self.ctx.after = Some(after);
        self.push_frame(parent, 0, parent.children.len(), level, mode);
    }

    pub(crate) fn push_frame(
        &mut self,
        parent: &Arc<Node>,
        index: usize,
        end: usize,
        level: Level,
        mode: FrameMode,
    ) {
        self.ctx.frames.push(Frame {
            parent: parent.clone(),
            index,
            end,
            level,
            mode,
        });
    }

    /// Executes the next element of the innermost frame.
    pub(crate) fn step(&mut self) -> Result<(), Thrown> {
        let Some(frame) = self.ctx.frames.last_mut() else {
            return Ok(());
        };
        if frame.index >= frame.end {
            return self.frame_done();
        }
        let child = &frame.parent.children[frame.index];
        frame.index += 1;
        let level = frame.level;
        let init = matches!(frame.mode, FrameMode::Init);
        match child {
            Child::Text(text) => {
                if !init && !text.trim().is_empty() {
                    let text = crate::document::collapse_whitespace(text);
                    self.play_bare(prompts_text(text))?;
                }
                Ok(())
            }
            Child::Element(node) => {
                let node = node.clone();
                if init {
                    self.init_element(&node, level)
                } else {
                    self.execute(&node, level).map(|_| ())
                }
            }
        }
    }

    /// The innermost frame is finished: pop it, or loop a `foreach`.
    fn frame_done(&mut self) -> Result<(), Thrown> {
        let Some(frame) = self.ctx.frames.last_mut() else {
            return Ok(());
        };
        if let FrameMode::Foreach {
            key,
            item,
            next,
            len,
        } = &mut frame.mode
            && *next < *len
        {
            let (key, item, index) = (key.clone(), item.clone(), *next);
            *next += 1;
            frame.index = 0;
            return self.foreach_item(&key, &item, index);
        }
        self.ctx.frames.pop();
        Ok(())
    }

    fn foreach_item(&mut self, key: &str, item: &str, index: u32) -> Result<(), Thrown> {
        let value = format!("__h.v[{}][{index}]", js_string(key));
        if self.js.is_declared(item)? {
            self.js.set_literal(item, &value)?;
        } else {
            self.js.declare_literal(Level::Anonymous, item, &value)?;
        }
        Ok(())
    }

    /// Document and dialog initialisation: variables, scripts and form item variables.
    fn init_element(&mut self, node: &Arc<Node>, level: Level) -> Result<(), Thrown> {
        if node.ns != Namespace::Vxml {
            return Ok(());
        }
        match &*node.name {
            "var" => self.declare_var(node, level),
            "script" => self.script(node, level),
            "field" | "block" | "initial" | "subdialog" | "object" | "record" | "transfer" => {
                // Anonymous items have generated names (see `form_items`).
                let generated = self.ctx.dialog.as_ref().and_then(|d| {
                    d.items
                        .iter()
                        .find(|i| Arc::ptr_eq(&i.node, node))
                        .map(|i| i.name.clone())
                });
                let Some(name) = generated else {
                    return Ok(());
                };
                if node.attr("name").is_some() {
                    self.check_name(node, &name)?;
                }
                match node.attr("expr") {
                    Some(expr) => self.js.declare(Level::Dialog, &name, Some(expr))?,
                    None => self
                        .js
                        .set_simple(Level::Dialog, &name, Simple::Undefined)?,
                }
                if &*node.name != "block" {
                    self.js
                        .set_simple(Level::Dialog, &format!("{name}$"), Simple::EmptyObject)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_name(&self, node: &Node, name: &str) -> Result<(), Thrown> {
        let valid = !name.is_empty()
            && !name.contains('.')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if valid {
            Ok(())
        } else {
            Err(Thrown::new(
                "error.semantic",
                Some(format!("{}: invalid variable name {name:?}", node.pos)),
            ))
        }
    }

    fn declare_var(&mut self, node: &Node, level: Level) -> Result<(), Thrown> {
        let name = node.attr("name").unwrap_or_default();
        self.check_name(node, name)?;
        if level == Level::Dialog && self.param_pending(name)? {
            return self
                .js
                .declare_literal(level, name, &format!("__h.v.params[{}]", js_string(name)))
                .map_err(Thrown::from);
        }
        self.js
            .declare(level, name, node.attr("expr"))
            .map_err(Thrown::from)
    }

    /// Whether a subdialog parameter named `name` waits to initialise a dialog variable.
    fn param_pending(&mut self, name: &str) -> Result<bool, Thrown> {
        Ok(self.js.program_string(&format!(
            "(__h.v && __h.v.params && ({} in __h.v.params)) ? 'y' : 'n'",
            js_string(name)
        ))? == "y")
    }

    fn script(&mut self, node: &Node, level: Level) -> Result<(), Thrown> {
        let src = match (node.attr("src"), node.attr("srcexpr")) {
            (Some(src), _) => Some(src.to_owned()),
            (None, Some(expr)) => Some(self.js.eval_string(expr)?),
            (None, None) => None,
        };
        match src {
            None => self
                .js
                .run_script(level, &node.text_raw())
                .map_err(Thrown::from),
            Some(src) => {
                let uri = self.resolve(&src)?;
                let timeout = self.fetch_timeout(node);
                self.fetch(
                    uri,
                    FetchKind::Script,
                    Method::Get,
                    Vec::new(),
                    timeout,
                    Purpose::Script { level },
                );
                Ok(())
            }
        }
    }

    /// Executes one element of executable content.
    pub(crate) fn execute(&mut self, node: &Arc<Node>, level: Level) -> Result<Flow, Thrown> {
        if node.ns == Namespace::Herald {
            self.herald_element(node)?;
            return Ok(Flow::Next);
        }
        if node.ns != Namespace::Vxml {
            return Ok(Flow::Next);
        }
        match &*node.name {
            "var" => self.declare_var(node, level)?,
            "assign" => self.js.assign(
                node.attr("name").unwrap_or_default(),
                node.attr("expr").unwrap_or("undefined"),
            )?,
            "script" => self.script(node, level)?,
            "clear" => self.clear(node)?,
            "if" => return self.branch(node, level),
            "foreach" => return self.foreach(node, level),
            "log" => self.log(node)?,
            "prompt" => self.queue_prompt(node)?,
            "audio" | "value" | "enumerate" | "break" | "mark" => {
                let items = self.prompt_items_of(std::slice::from_ref(node))?;
                self.play_bare(items)?;
            }
            "reprompt" => self.catch_reprompt = true,
            "throw" => return Err(self.thrown_by(node)?),
            "goto" => return self.goto(node),
            "submit" => return self.submit(node),
            "exit" => {
                // The exit value goes to call records: secure input never does.
                let value = self.exit_value(node)?;
                let value = self.redact(&value);
                self.finish(Outcome::Exit { value });
                return Ok(Flow::Jumped);
            }
            "return" => return self.subdialog_return(node),
            "disconnect" => {
                self.emit(Output::Disconnect);
                self.hung_up = true;
                return Err(Thrown::new("connection.disconnect.hangup", None));
            }
            "data" => self.data(node)?,
            _ => {}
        }
        Ok(Flow::Next)
    }

    fn branch(&mut self, node: &Arc<Node>, level: Level) -> Result<Flow, Thrown> {
        // Branches: the if's own cond, then each elseif/else marker among its children.
        let mut start = 0;
        let mut cond = node.attr("cond").map(str::to_owned);
        for (index, child) in node.children.iter().enumerate() {
            if let Child::Element(marker) = child
                && (marker.is("elseif") || marker.is("else"))
            {
                if self.branch_taken(cond.as_deref())? {
                    self.push_frame(node, start, index, level, FrameMode::Exec);
                    return Ok(Flow::Jumped);
                }
                start = index + 1;
                cond = if marker.is("else") {
                    None
                } else {
                    Some(marker.attr("cond").unwrap_or("false").to_owned())
                };
            }
        }
        if self.branch_taken(cond.as_deref())? {
            self.push_frame(node, start, node.children.len(), level, FrameMode::Exec);
            return Ok(Flow::Jumped);
        }
        Ok(Flow::Next)
    }

    fn branch_taken(&mut self, cond: Option<&str>) -> Result<bool, Thrown> {
        match cond {
            None => Ok(true),
            Some(expr) => self.js.eval_bool(expr).map_err(Thrown::from),
        }
    }

    fn foreach(&mut self, node: &Arc<Node>, level: Level) -> Result<Flow, Thrown> {
        let key = format!("foreach{}", self.ctx.frames.len());
        let array = node.attr("array").unwrap_or("[]");
        self.js.stash(&key, array)?;
        let len = self.js.program_string(&format!(
            "var a = __h.v[{k}]; (a && typeof a.length === 'number') ? String(a.length) : 'x'",
            k = js_string(&key)
        ))?;
        let Ok(len) = len.parse::<u32>() else {
            return Err(Thrown::new(
                "error.semantic",
                Some(format!("{}: foreach array is not an array", node.pos)),
            ));
        };
        let item = node.attr("item").unwrap_or_default().to_owned();
        self.check_name(node, &item)?;
        if len == 0 {
            return Ok(Flow::Next);
        }
        self.push_frame(
            node,
            0,
            node.children.len(),
            level,
            FrameMode::Foreach {
                key: key.clone(),
                item: item.clone(),
                next: 1,
                len,
            },
        );
        self.foreach_item(&key, &item, 0)?;
        Ok(Flow::Jumped)
    }

    fn log(&mut self, node: &Node) -> Result<(), Thrown> {
        let mut text = String::new();
        if let Some(expr) = node.attr("expr") {
            text.push_str(&self.js.eval_string(expr)?);
        }
        for child in &node.children {
            match child {
                Child::Text(t) => text.push_str(t),
                Child::Element(e) if e.is("value") => {
                    text.push_str(&self.js.eval_string(e.attr("expr").unwrap_or("''"))?)
                }
                Child::Element(_) => {}
            }
        }
        let text = self.redact(&crate::document::collapse_whitespace(&text));
        self.emit(Output::Log {
            label: node.attr("label").map(str::to_owned),
            text,
        });
        Ok(())
    }

    /// The event a `<throw>` (or `<return event>`) names.
    pub(crate) fn thrown_by(&mut self, node: &Node) -> Result<Thrown, Thrown> {
        let name = match (node.attr("event"), node.attr("eventexpr")) {
            (Some(event), _) => event.to_owned(),
            (None, Some(expr)) => self.js.eval_string(expr)?,
            (None, None) => String::new(),
        };
        let message = match (node.attr("message"), node.attr("messageexpr")) {
            (Some(message), _) => Some(message.to_owned()),
            (None, Some(expr)) => Some(self.js.eval_string(expr)?),
            (None, None) => None,
        };
        Ok(Thrown::new(name, message))
    }

    fn exit_value(&mut self, node: &Node) -> Result<String, Thrown> {
        if let Some(expr) = node.attr("expr") {
            return self.js.eval_json(expr).map_err(Thrown::from);
        }
        match node.attr("namelist") {
            Some(names) => self
                .js
                .eval_json(&namelist_object(names))
                .map_err(Thrown::from),
            None => Ok("null".to_owned()),
        }
    }

    fn clear(&mut self, node: &Node) -> Result<(), Thrown> {
        let names: Vec<String> = match node.attr("namelist") {
            Some(list) => list.split_whitespace().map(str::to_owned).collect(),
            None => self
                .ctx
                .dialog
                .as_ref()
                .map(|d| d.items.iter().map(|i| i.name.clone()).collect())
                .unwrap_or_default(),
        };
        for name in names {
            if !self.js.is_declared(&name)? {
                return Err(Thrown::new(
                    "error.semantic",
                    Some(format!("{}: clear of undeclared {name}", node.pos)),
                ));
            }
            self.js.set_literal(&name, "undefined")?;
            if let Some(dialog) = &mut self.ctx.dialog {
                dialog.prompt_counts.remove(&name);
                dialog.event_counts.retain(|(item, _), _| item != &name);
                dialog.just_filled.retain(|n| n != &name);
            }
        }
        Ok(())
    }

    fn goto(&mut self, node: &Node) -> Result<Flow, Thrown> {
        let item = match (node.attr("nextitem"), node.attr("expritem")) {
            (Some(item), _) => Some(item.to_owned()),
            (None, Some(expr)) => Some(self.js.eval_string(expr)?),
            _ => None,
        };
        if let Some(item) = item {
            let known = self
                .ctx
                .dialog
                .as_ref()
                .is_some_and(|d| d.items.iter().any(|i| i.name == item));
            if !known {
                return Err(Thrown::badfetch(format!(
                    "{}: goto nextitem {item:?}: no such form item",
                    node.pos
                )));
            }
            self.ctx.frames.clear();
            if let Some(dialog) = &mut self.ctx.dialog {
                dialog.next_item = Some(item);
            }
            self.ctx.after = Some(After::Select);
            return Ok(Flow::Jumped);
        }
        let target = self.attr_or_expr(node, "next", "expr")?;
        self.transition(node, &target, Method::Get, Vec::new(), false)
    }

    fn submit(&mut self, node: &Node) -> Result<Flow, Thrown> {
        let target = self.attr_or_expr(node, "next", "expr")?;
        let method = method_of(node);
        let params = match node.attr("namelist") {
            Some(names) => self.namelist_values(names)?,
            None => Vec::new(),
        };
        self.transition(node, &target, method, params, true)
    }

    /// An attribute given literally (`attr`) or as an expression (`expr_attr`, evaluated to
    /// a string); empty when neither is present.
    pub(crate) fn attr_or_expr(
        &mut self,
        node: &Node,
        attr: &str,
        expr_attr: &str,
    ) -> Result<String, Thrown> {
        match (node.attr(attr), node.attr(expr_attr)) {
            (Some(value), _) => Ok(value.to_owned()),
            (None, Some(expr)) => self.js.eval_string(expr).map_err(Thrown::from),
            (None, None) => Ok(String::new()),
        }
    }

    /// The string values of the variables in a namelist.
    pub(crate) fn namelist_values(&mut self, names: &str) -> Result<Vec<(String, String)>, Thrown> {
        names
            .split_whitespace()
            .map(|name| Ok((name.to_owned(), self.js.eval_string(name)?)))
            .collect()
    }

    /// Goes to another dialog or document.
    fn transition(
        &mut self,
        node: &Node,
        target: &str,
        method: Method,
        params: Vec<(String, String)>,
        submit: bool,
    ) -> Result<Flow, Thrown> {
        self.ctx.frames.clear();
        if let Some(id) = target.strip_prefix('#')
            && !submit
        {
            self.enter_dialog(Some(id));
            return Ok(Flow::Jumped);
        }
        let uri = self.resolve(target)?;
        let (base, fragment) = uri::split_fragment(&uri);
        let timeout = self.fetch_timeout(node);
        self.fetch(
            base,
            FetchKind::Document,
            method,
            params,
            timeout,
            Purpose::Document { fragment, submit },
        );
        Ok(Flow::Jumped)
    }

    /// Resolves a reference against the current document.
    pub(crate) fn resolve(&self, reference: &str) -> Result<String, Thrown> {
        let base = self.ctx.doc.as_ref().map_or("", |d| d.uri.as_str());
        uri::resolve(base, reference).map_err(Thrown::badfetch)
    }

    pub(crate) fn fetch_timeout(&self, node: &Node) -> Option<std::time::Duration> {
        node.attr("fetchtimeout")
            .and_then(super::prompts::parse_duration)
            .or_else(|| {
                self.property("fetchtimeout")
                    .and_then(|v| super::prompts::parse_duration(&v))
            })
    }

    fn herald_element(&mut self, node: &Node) -> Result<(), Thrown> {
        match &*node.name {
            "recording" => {
                let action = match node.attr("action").unwrap_or_default() {
                    "start" => RecordingAction::Start,
                    "pause" => RecordingAction::Pause,
                    "resume" => RecordingAction::Resume,
                    "stop" => RecordingAction::Stop,
                    other => {
                        return Err(Thrown::new(
                            "error.semantic",
                            Some(format!("{}: unknown recording action {other:?}", node.pos)),
                        ));
                    }
                };
                let reason = node.attr("reason").unwrap_or("document").to_owned();
                self.emit(Output::Recording { action, reason });
            }
            "consent" => {
                let decision = self.attr_or_expr(node, "decision", "expr")?;
                let consent = match decision.as_str() {
                    "accepted" | "accept" | "true" => Consent::Accepted,
                    "opted-out" | "optout" | "opt-out" | "false" => Consent::OptedOut,
                    other => {
                        return Err(Thrown::new(
                            "error.semantic",
                            Some(format!("{}: unknown consent decision {other:?}", node.pos)),
                        ));
                    }
                };
                let value = if consent == Consent::Accepted {
                    "accepted"
                } else {
                    "opted-out"
                };
                self.js.run(&format!("__h.s.herald.consent = '{value}';"))?;
                self.emit(Output::Path(PathEvent::Consent(consent)));
            }
            "language" => {
                let lang = self.attr_or_expr(node, "value", "expr")?;
                if lang.is_empty()
                    || lang.len() > 35
                    || !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err(Thrown::new(
                        "error.semantic",
                        Some(format!("{}: invalid language tag {lang:?}", node.pos)),
                    ));
                }
                self.js
                    .run(&format!("__h.s.herald.language = {};", js_string(&lang)))?;
                self.language = Some(lang.clone());
                self.emit(Output::Path(PathEvent::Language(lang)));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The HTTP method a `submit`, `subdialog` or `data` asks for (GET unless `post`).
pub(crate) fn method_of(node: &Node) -> Method {
    match node.attr("method").map(str::to_ascii_lowercase).as_deref() {
        Some("post") => Method::Post,
        _ => Method::Get,
    }
}

/// An ECMAScript object literal of the variables in a namelist.
pub(crate) fn namelist_object(names: &str) -> String {
    let fields: Vec<String> = names
        .split_whitespace()
        .map(|n| format!("{}: {n}", js_string(n)))
        .collect();
    format!("({{{}}})", fields.join(", "))
}

fn prompts_text(text: String) -> Vec<crate::output::PromptItem> {
    vec![crate::output::PromptItem::Text(text)]
}

impl Node {
    /// Text content without whitespace collapsing (script bodies).
    pub fn text_raw(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            if let Child::Text(t) = child {
                out.push_str(t);
            }
        }
        out
    }
}
