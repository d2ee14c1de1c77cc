//! Events and catch selection (VoiceXML 2.0 section 5.2.4): the catches in scope, innermost
//! first and in document order, those whose event matches and whose cond holds; of those, the
//! ones with the highest count not above the event's count; the first of them wins. When no
//! document catch applies, the platform's default handler does.

use std::sync::Arc;

use super::{After, FrameMode, Interpreter, Thrown};
use crate::document::Node;
use crate::output::{Outcome, Output, PathEvent};
use crate::script::{Level, js_string};

/// Elements that catch events, and the event each implies.
fn implied_event(node: &Node) -> Option<&str> {
    match &*node.name {
        "catch" => Some(node.attr("event").unwrap_or("")),
        "error" => Some("error"),
        "noinput" => Some("noinput"),
        "nomatch" => Some("nomatch"),
        "help" => Some("help"),
        _ => None,
    }
}

/// Whether a catch for `pattern` (a space-separated list of event names or prefixes; empty
/// catches everything) applies to `event`.
fn catches(pattern: &str, event: &str) -> bool {
    let mut names = pattern.split_whitespace().peekable();
    if names.peek().is_none() {
        return true;
    }
    names.any(|name| {
        // "." catches every event; check it before trimming a trailing dot leaves "".
        if name == "." {
            return true;
        }
        let name = name.trim_end_matches('.');
        event == name || event.starts_with(name) && event[name.len()..].starts_with('.')
    })
}

impl Interpreter {
    /// Delivers an event: the selected catch runs, or the default handler acts.
    pub(crate) fn handle_event(&mut self, thrown: Thrown) {
        self.end_input_wait();
        if let Some(super::Wait::Fetch { .. }) = Some(&self.wait) {
            // An event while a fetch is outstanding (a hang-up) waits for the fetch.
        }
        let count = self.count_event(&thrown.name);
        match self.select_catch(&thrown.name, count) {
            Ok(Some(catch)) => self.run_catch(&catch, &thrown),
            Ok(None) => self.default_handler(&thrown),
            Err(error) => {
                // The cond of a catch failed: that is itself an error, handled by default.
                if thrown.name.starts_with("error.") {
                    self.default_handler(&thrown);
                } else {
                    self.pending = Some(error);
                }
            }
        }
    }

    fn count_event(&mut self, name: &str) -> u32 {
        let item = self.ctx.current_item.clone().unwrap_or_default();
        match self.ctx.dialog.as_mut() {
            Some(dialog) => {
                let count = dialog
                    .event_counts
                    .entry((item, name.to_owned()))
                    .or_insert(0);
                *count += 1;
                *count
            }
            None => 1,
        }
    }

    /// The scopes to search, innermost first.
    fn catch_scopes(&self) -> Vec<Arc<Node>> {
        let mut scopes = Vec::new();
        if let Some(dialog) = &self.ctx.dialog {
            if let Some(current) = &self.ctx.current_item
                && let Some(item) = dialog.items.iter().find(|i| &i.name == current)
                && !Arc::ptr_eq(&item.node, &dialog.node)
            {
                scopes.push(item.node.clone());
            }
            scopes.push(dialog.node.clone());
        }
        if let Some(doc) = &self.ctx.doc {
            scopes.push(doc.root.clone());
        }
        if let Some(root) = &self.ctx.root
            && self.ctx.doc.as_ref().is_none_or(|d| !Arc::ptr_eq(d, root))
        {
            scopes.push(root.root.clone());
        }
        scopes
    }

    fn select_catch(&mut self, event: &str, count: u32) -> Result<Option<Arc<Node>>, Thrown> {
        let mut candidates: Vec<(Arc<Node>, u32)> = Vec::new();
        for scope in self.catch_scopes() {
            for node in scope.elements() {
                let Some(pattern) =
                    implied_event(node).filter(|_| node.ns == crate::document::Namespace::Vxml)
                else {
                    continue;
                };
                if !catches(pattern, event) {
                    continue;
                }
                if let Some(cond) = node.attr("cond")
                    && !self.js.eval_bool(cond)?
                {
                    continue;
                }
                let wanted = node
                    .attr("count")
                    .and_then(|c| c.trim().parse::<u32>().ok())
                    .unwrap_or(1);
                candidates.push((node.clone(), wanted));
            }
        }
        let correct = candidates
            .iter()
            .map(|(_, c)| *c)
            .filter(|c| *c <= count)
            .max();
        Ok(correct.and_then(|correct| {
            candidates
                .into_iter()
                .find(|(_, c)| *c == correct)
                .map(|(node, _)| node)
        }))
    }

    fn run_catch(&mut self, catch: &Arc<Node>, thrown: &Thrown) {
        let message = thrown
            .message
            .as_deref()
            .map_or_else(|| "undefined".to_owned(), js_string);
        let setup = self.js.reset(Level::Anonymous).and_then(|_| {
            self.js.run(&format!(
                "__h.n._event = {}; __h.n._message = {message};",
                js_string(&thrown.name)
            ))
        });
        if let Err(error) = setup {
            self.pending = Some(error.into());
            return;
        }
        self.catch_reprompt = false;
        self.in_catch = true;
        if let Some(dialog) = &mut self.ctx.dialog {
            dialog.suppress_prompts = false;
        }
        self.note_reprompt_event(&thrown.name);
        self.start_exec(catch, Level::Anonymous, FrameMode::Exec, After::Select);
        // The FIA reads `catch_reprompt` when the catch completes; see `select`.
        if let Some(dialog) = &mut self.ctx.dialog {
            dialog.suppress_prompts = true;
        }
    }

    fn note_reprompt_event(&mut self, event: &str) {
        if matches!(event, "noinput" | "nomatch" | "help")
            && let Some(item) = self.ctx.current_item.clone()
        {
            self.emit(Output::Path(PathEvent::Reprompt {
                item,
                event: event.to_owned(),
            }));
        }
    }

    /// The platform's default catch handlers (VoiceXML 2.0 section 5.2.5).
    fn default_handler(&mut self, thrown: &Thrown) {
        let name = thrown.name.as_str();
        if matches!(name, "noinput" | "nomatch" | "help" | "maxspeechtimeout") {
            self.note_reprompt_event(name);
            // Reprompt: the FIA visits the item again with its prompts.
            self.ctx.after = Some(After::Select);
            return;
        }
        if name == "cancel" {
            if let Some(dialog) = &mut self.ctx.dialog {
                dialog.suppress_prompts = true;
            }
            self.ctx.after = Some(After::Select);
            return;
        }
        if name == "connection.disconnect.transfer" {
            self.finish(Outcome::Transferred);
            return;
        }
        if name.starts_with("connection.disconnect") || name.starts_with("telephone.disconnect") {
            self.finish(Outcome::Hangup);
            return;
        }
        if name == "exit" {
            self.finish(Outcome::Exit {
                value: "null".into(),
            });
            return;
        }
        let message = thrown
            .message
            .clone()
            .unwrap_or_else(|| "uncaught event".to_owned());
        let message = self.redact(&message);
        self.emit(Output::Log {
            label: Some("error".into()),
            text: format!("{name}: {message} ({})", self.where_now()),
        });
        self.finish(Outcome::Error {
            event: name.to_owned(),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::catches;

    #[test]
    fn catch_patterns_match_whole_name_prefixes() {
        assert!(catches("error", "error.badfetch.http.404"));
        assert!(catches("error.badfetch", "error.badfetch"));
        assert!(!catches("error.bad", "error.badfetch"));
        assert!(catches("nomatch noinput", "noinput"));
        assert!(catches("", "anything"));
        assert!(catches(".", "anything"));
        assert!(!catches("noinput", "nomatch"));
    }
}
