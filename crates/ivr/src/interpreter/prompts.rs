//! Prompts: selection by count and cond (VoiceXML 2.0 section 4.1.6), and their content
//! (text, `<audio>` with fallback, `<value>`, `<break>`, `<enumerate>`, `<mark>`,
//! `<foreach>`, SSML containers).

use std::sync::Arc;
use std::time::Duration;

use super::{Interpreter, Thrown};
use crate::document::{Child, Namespace, Node, collapse_whitespace};
use crate::output::{Output, Prompt, PromptItem};
use crate::script::js_string;

/// Parses a CSS2 time designation (`5s`, `250ms`, `1.5s`).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        return None;
    };
    let value: f64 = number.trim().parse().ok()?;
    (0.0..86_400.0)
        .contains(&value)
        .then(|| Duration::from_secs_f64(value * scale))
}

impl Interpreter {
    /// Queues the prompts of a form item (or menu) for its `count`-th visit.
    pub(crate) fn queue_prompts_of(&mut self, node: &Arc<Node>, count: u32) -> Result<(), Thrown> {
        let mut candidates: Vec<(Arc<Node>, u32)> = Vec::new();
        for prompt in node.children_named("prompt") {
            if let Some(cond) = prompt.attr("cond")
                && !self.js.eval_bool(cond)?
            {
                continue;
            }
            let wanted = prompt
                .attr("count")
                .and_then(|c| c.trim().parse::<u32>().ok())
                .unwrap_or(1);
            candidates.push((prompt.clone(), wanted));
        }
        let correct = candidates
            .iter()
            .map(|(_, c)| *c)
            .filter(|c| *c <= count)
            .max();
        for (prompt, wanted) in candidates {
            if Some(wanted) == correct {
                self.queue_prompt(&prompt)?;
            }
        }
        // Bare text and audio directly in a field or menu are prompts too.
        let bare: Vec<Child> = node
            .children
            .iter()
            .filter(|c| match c {
                Child::Text(t) => !t.trim().is_empty(),
                Child::Element(e) => e.is("audio") || e.is("value") || e.is("enumerate"),
            })
            .map(clone_child)
            .collect();
        if !bare.is_empty() {
            let items = self.prompt_items_in(&bare, node)?;
            self.play_bare(items)?;
        }
        Ok(())
    }

    /// Queues a `<prompt>` (executed, or selected for a form item).
    pub(crate) fn queue_prompt(&mut self, prompt: &Arc<Node>) -> Result<(), Thrown> {
        if let Some(cond) = prompt.attr("cond")
            && !self.js.eval_bool(cond)?
        {
            return Ok(());
        }
        let items = self.prompt_items_in(&prompt.children, prompt)?;
        let bargein = match prompt.attr("bargein") {
            Some(v) => v != "false",
            None => self.property("bargein").is_none_or(|v| v != "false"),
        };
        if let Some(timeout) = prompt.attr("timeout").and_then(parse_duration) {
            self.prompt_timeout = Some(timeout);
        }
        let language = prompt
            .attrs
            .iter()
            .find(|a| &*a.name == "lang" && a.ns != Namespace::Herald)
            .map(|a| a.value.to_string())
            .or_else(|| self.language.clone());
        let evidence = prompt.herald_attr("evidence").map(str::to_owned);
        self.play(Prompt {
            items,
            bargein,
            language,
            evidence,
        });
        Ok(())
    }

    /// Queues prompt content found outside `<prompt>`.
    pub(crate) fn play_bare(&mut self, items: Vec<PromptItem>) -> Result<(), Thrown> {
        if items.is_empty() {
            return Ok(());
        }
        let bargein = self.property("bargein").is_none_or(|v| v != "false");
        let language = self.language.clone();
        self.play(Prompt {
            items,
            bargein,
            language,
            evidence: None,
        });
        Ok(())
    }

    fn play(&mut self, prompt: Prompt) {
        if self.hung_up {
            return;
        }
        if !self.playing {
            self.playing_bargein = true;
        }
        self.playing = true;
        self.playing_bargein &= prompt.bargein;
        for item in &prompt.items {
            if let PromptItem::Mark(name) = item {
                self.last_mark = Some(name.clone());
            }
        }
        self.emit(Output::Play(prompt));
    }

    /// Prompt items of some elements, for `<audio>`/`<value>` outside prompts.
    pub(crate) fn prompt_items_of(
        &mut self,
        nodes: &[Arc<Node>],
    ) -> Result<Vec<PromptItem>, Thrown> {
        let children: Vec<Child> = nodes.iter().map(|n| Child::Element(n.clone())).collect();
        let parent = nodes.first().cloned();
        match parent {
            Some(parent) => self.prompt_items_in(&children, &parent),
            None => Ok(Vec::new()),
        }
    }

    fn prompt_items_in(
        &mut self,
        children: &[Child],
        context: &Node,
    ) -> Result<Vec<PromptItem>, Thrown> {
        let mut items = Vec::new();
        for child in children {
            match child {
                Child::Text(text) => push_text(&mut items, text),
                Child::Element(node) => self.prompt_element(node, context, &mut items)?,
            }
        }
        Ok(items)
    }

    fn prompt_element(
        &mut self,
        node: &Arc<Node>,
        context: &Node,
        items: &mut Vec<PromptItem>,
    ) -> Result<(), Thrown> {
        match &*node.name {
            "audio" => {
                let computed = node.attr("src").is_none();
                let src = match (node.attr("src"), node.attr("expr")) {
                    (Some(src), _) => Some(src.to_owned()),
                    (None, Some(expr)) => {
                        let value = self.js.eval_json(expr)?;
                        // An expression that yields undefined or null plays nothing, not
                        // even its fallback (VoiceXML 2.0 section 4.1.3).
                        if value == "null" {
                            return Ok(());
                        }
                        Some(self.js.eval_string(expr)?)
                    }
                    (None, None) => None,
                };
                let fallback = self.prompt_items_in(&node.children, context)?;
                let fallback_text = fallback
                    .iter()
                    .filter_map(|i| match i {
                        PromptItem::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                match src.map(|s| self.resolve(&s)) {
                    Some(Ok(src)) => items.push(PromptItem::Audio {
                        src,
                        fallback: fallback_text,
                        computed,
                    }),
                    _ => items.extend(fallback),
                }
            }
            "value" => {
                let text = self.js.eval_string(node.attr("expr").unwrap_or("''"))?;
                push_text(items, &text);
            }
            "break" => {
                let duration = node.attr("time").and_then(parse_duration).unwrap_or(
                    match node.attr("strength") {
                        Some("none") => Duration::ZERO,
                        Some("x-weak") | Some("weak") => Duration::from_millis(250),
                        Some("strong") => Duration::from_millis(1000),
                        Some("x-strong") => Duration::from_millis(1500),
                        _ => Duration::from_millis(500),
                    },
                );
                items.push(PromptItem::Break(duration));
            }
            "mark" => {
                let name = self.attr_or_expr(node, "name", "nameexpr")?;
                items.push(PromptItem::Mark(name));
            }
            "enumerate" => self.enumerate(node, items)?,
            "foreach" => self.prompt_foreach(node, context, items)?,
            // SSML and unknown containers: their content.
            _ => {
                let inner = self.prompt_items_in(&node.children, context)?;
                items.extend(inner);
            }
        }
        Ok(())
    }

    fn prompt_foreach(
        &mut self,
        node: &Arc<Node>,
        context: &Node,
        items: &mut Vec<PromptItem>,
    ) -> Result<(), Thrown> {
        let key = "prompt_foreach";
        self.js.stash(key, node.attr("array").unwrap_or("[]"))?;
        let len: u32 = self
            .js
            .program_string(
                "var a = __h.v.prompt_foreach; (a && a.length >= 0) ? String(a.length) : 'x'",
            )?
            .parse()
            .map_err(|_| {
                Thrown::new(
                    "error.semantic",
                    Some(format!("{}: foreach array is not an array", node.pos)),
                )
            })?;
        let item = node.attr("item").unwrap_or_default();
        let array = format!("__h.v[{}]", js_string(&format!("pf{}", node.pos.line)));
        self.js.run(&format!("{array} = __h.v.prompt_foreach;"))?;
        for index in 0..len {
            let value = format!("{array}[{index}]");
            if self.js.is_declared(item)? {
                self.js.set_literal(item, &value)?;
            } else {
                self.js
                    .declare_literal(crate::script::Level::Anonymous, item, &value)?;
            }
            let inner = self.prompt_items_in(&node.children, context)?;
            items.extend(inner);
        }
        Ok(())
    }

    /// `<enumerate>`: each choice of the menu (or option of the field) through the template,
    /// or its text.
    fn enumerate(&mut self, node: &Arc<Node>, items: &mut Vec<PromptItem>) -> Result<(), Thrown> {
        let Some(owner) = self.enumeration_owner() else {
            return Ok(());
        };
        let auto = owner.attr("dtmf") == Some("true");
        let mut next_auto = 1;
        let choices: Vec<Arc<Node>> = owner
            .elements()
            .filter(|e| e.is("choice") || e.is("option"))
            .cloned()
            .collect();
        for choice in choices {
            let dtmf = match choice.attr("dtmf") {
                Some(d) => d.to_owned(),
                None if auto => {
                    let d = next_auto.to_string();
                    next_auto += 1;
                    d
                }
                None => String::new(),
            };
            let text = choice.text();
            if node.children.is_empty() {
                push_text(items, &text);
                continue;
            }
            self.js.run(&format!(
                "__h.n._prompt = {}; __h.n._dtmf = {};",
                js_string(&text),
                js_string(&dtmf)
            ))?;
            let inner = self.prompt_items_in(&node.children, &owner)?;
            items.extend(inner);
        }
        Ok(())
    }

    fn enumeration_owner(&self) -> Option<Arc<Node>> {
        let dialog = self.ctx.dialog.as_ref()?;
        if dialog.node.is("menu") {
            return Some(dialog.node.clone());
        }
        let current = self.ctx.current_item.as_ref()?;
        dialog
            .items
            .iter()
            .find(|i| &i.name == current)
            .map(|i| i.node.clone())
    }
}

fn push_text(items: &mut Vec<PromptItem>, text: &str) {
    let text = collapse_whitespace(text);
    if text.is_empty() {
        return;
    }
    if let Some(PromptItem::Text(previous)) = items.last_mut() {
        previous.push(' ');
        previous.push_str(&text);
    } else {
        items.push(PromptItem::Text(text));
    }
}

fn clone_child(child: &Child) -> Child {
    match child {
        Child::Text(t) => Child::Text(t.clone()),
        Child::Element(e) => Child::Element(e.clone()),
    }
}
