//! Documents, dialogs and the form interpretation algorithm (VoiceXML 2.0 section 2.1.6 and
//! appendix C): select the first unfilled form item, collect (prompts and input, or run it),
//! process what came back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::exec::method_of;
use super::{After, Caller, Dialog, FrameMode, Interpreter, Item, Purpose, Thrown, Wait, uri};
use crate::document::{Document, Node};
use crate::output::{
    FetchKind, Method, Outcome, Output, PathEvent, RecordOutcome, RecordRequest, TransferOutcome,
    TransferRequest,
};
use crate::script::{Level, Simple, js_string};

/// The form item kinds.
const ITEMS: [&str; 7] = [
    "block",
    "field",
    "initial",
    "subdialog",
    "object",
    "record",
    "transfer",
];

impl Interpreter {
    /// A document arrived: initialise its application root if it names a new one, then it.
    pub(crate) fn load_document(
        &mut self,
        doc: Arc<Document>,
        fragment: Option<String>,
        submit: bool,
    ) {
        self.emit(Output::Path(PathEvent::Document {
            uri: doc.uri.clone(),
        }));
        if let Some(root) = self.ctx.root.clone()
            && !submit
            && uri::same_document(&root.uri, &doc.uri)
        {
            // Back to the application root: it is not initialised again, and its variables
            // (the application scope) are its document scope too.
            if let Err(e) = self.js.run("__h.d = __h.a; __h.a.document = __h.a;") {
                self.pending = Some(e.into());
                return;
            }
            self.ctx.doc = Some(root);
            self.ctx.dialog = None;
            self.ctx.after = Some(After::DocumentReady { fragment });
            return;
        }
        let Some(app) = doc.application() else {
            self.ctx.root = None;
            if let Err(e) = self.js.reset(Level::Application) {
                self.pending = Some(e.into());
                return;
            }
            self.init_leaf(doc, fragment);
            return;
        };
        let root_uri = match uri::resolve(&doc.uri, app) {
            Ok(u) => uri::split_fragment(&u).0,
            Err(e) => {
                self.pending = Some(Thrown::badfetch(e));
                return;
            }
        };
        let same_root = self
            .ctx
            .root
            .as_ref()
            .is_some_and(|r| uri::same_document(&r.uri, &root_uri));
        if same_root {
            self.init_leaf(doc, fragment);
        } else {
            self.fetch(
                root_uri,
                FetchKind::Document,
                Method::Get,
                Vec::new(),
                None,
                Purpose::Root {
                    leaf: doc,
                    fragment,
                },
            );
        }
    }

    /// The application root arrived: fresh application scope, its variables and scripts.
    pub(crate) fn init_root(
        &mut self,
        root: Arc<Document>,
        leaf: Arc<Document>,
        fragment: Option<String>,
    ) {
        if let Err(e) = self.js.reset(Level::Application) {
            self.pending = Some(e.into());
            return;
        }
        self.ctx.root = Some(root.clone());
        self.ctx.doc = Some(root.clone());
        self.ctx.dialog = None;
        self.start_exec(
            &root.root,
            Level::Application,
            FrameMode::Init,
            After::RootReady { leaf, fragment },
        );
    }

    /// Initialises a (leaf) document's scope.
    pub(crate) fn init_leaf(&mut self, doc: Arc<Document>, fragment: Option<String>) {
        if let Err(e) = self
            .js
            .remove(Level::Application, "document")
            .and_then(|_| self.js.reset(Level::Document))
        {
            self.pending = Some(e.into());
            return;
        }
        self.ctx.doc = Some(doc.clone());
        self.ctx.dialog = None;
        self.start_exec(
            &doc.root,
            Level::Document,
            FrameMode::Init,
            After::DocumentReady { fragment },
        );
    }

    /// Enters a dialog of the current document (the first one for `None`).
    pub(crate) fn enter_dialog(&mut self, id: Option<&str>) {
        let Some(doc) = self.ctx.doc.clone() else {
            self.finish(Outcome::Error {
                event: "error.badfetch".into(),
                message: "no document".into(),
            });
            return;
        };
        let Some(node) = doc.dialog(id).cloned() else {
            let message = match id {
                Some(id) => format!("{}: no dialog with id {id:?}", doc.uri),
                None => format!("{}: the document has no form or menu", doc.uri),
            };
            self.pending = Some(Thrown::badfetch(message));
            return;
        };
        if let Err(e) = self
            .js
            .reset(Level::Dialog)
            .and_then(|_| self.js.reset(Level::Anonymous))
        {
            self.pending = Some(e.into());
            return;
        }
        let items = form_items(&node);
        self.emit(Output::Path(PathEvent::Dialog {
            id: node.attr("id").unwrap_or("(anonymous)").to_owned(),
        }));
        self.ctx.current_item = None;
        self.ctx.dialog = Some(Dialog {
            node: node.clone(),
            items,
            prompt_counts: HashMap::new(),
            event_counts: HashMap::new(),
            next_item: None,
            suppress_prompts: false,
            just_filled: Vec::new(),
        });
        if node.is("menu") {
            self.ctx.after = Some(After::Select);
            return;
        }
        self.start_exec(&node, Level::Dialog, FrameMode::Init, After::Select);
        // Parameters of a subdialog are consumed by this initialisation (see `select`).
    }

    /// The select phase: the next form item to visit, or the end of the dialog.
    pub(crate) fn select(&mut self) {
        let Some(dialog) = self.ctx.dialog.as_mut() else {
            self.finish(self.end_of_document());
            return;
        };
        if let Err(e) = self.js.forget_params() {
            self.pending = Some(e.into());
            return;
        }
        // Prompts are skipped after a catch, unless it ran <reprompt> (VoiceXML 2.0
        // appendix C).
        let reprompt = std::mem::take(&mut self.catch_reprompt);
        let suppress = std::mem::take(&mut dialog.suppress_prompts) && !reprompt;
        let chosen = match dialog.next_item.take() {
            Some(name) => dialog.items.iter().find(|i| i.name == name).cloned(),
            None => {
                let items = dialog.items.clone();
                let mut found = None;
                for item in items {
                    match self.guard_open(&item) {
                        Ok(true) => {
                            found = Some(item);
                            break;
                        }
                        Ok(false) => {}
                        Err(thrown) => {
                            self.pending = Some(thrown);
                            return;
                        }
                    }
                }
                found
            }
        };
        let Some(item) = chosen else {
            // No form item left: the dialog (and, with no transition, the session) is done.
            if self.callers.is_empty() {
                self.finish(self.end_of_document());
            } else {
                self.pending = Some(Thrown::new(
                    "error.semantic",
                    Some("a subdialog ended without <return>".to_owned()),
                ));
            }
            return;
        };
        self.ctx.current_item = Some(item.name.clone());
        if let Err(thrown) = self.visit(&item, suppress) {
            self.pending = Some(thrown);
        }
    }

    /// How a session that runs out of document ends: a hung-up call (the caller's, or
    /// `<disconnect>` whose catch handler ran to its end) is a hang-up, not an exit.
    fn end_of_document(&self) -> Outcome {
        if self.hung_up {
            Outcome::Hangup
        } else {
            Outcome::Exit {
                value: "null".into(),
            }
        }
    }

    /// Whether a form item may be selected: its variable is undefined and its cond holds.
    fn guard_open(&mut self, item: &Item) -> Result<bool, Thrown> {
        if item.node.is("menu") {
            return Ok(true);
        }
        let undefined = self.js.is_undefined(Level::Dialog, &item.name)?;
        if !undefined {
            return Ok(false);
        }
        match item.node.attr("cond") {
            Some(cond) => Ok(self.js.eval_bool(cond)?),
            None => Ok(true),
        }
    }

    /// The collect phase for one form item.
    fn visit(&mut self, item: &Item, suppress_prompts: bool) -> Result<(), Thrown> {
        let node = item.node.clone();
        if self.hung_up
            && matches!(
                &*node.name,
                "field" | "initial" | "menu" | "transfer" | "record"
            )
        {
            // After a hang-up the document may clean up, but "the interpreter must exit if
            // the application encounters an input item" in that final processing state
            // (VoiceXML 2.0 section 1.5.4). Throwing the hang-up event again instead would
            // run its catch over and over until the step limit.
            self.finish(Outcome::Hangup);
            return Ok(());
        }
        self.js.reset(Level::Anonymous)?;
        match &*node.name {
            "block" => {
                self.js
                    .set_simple(Level::Dialog, &item.name, Simple::Bool(true))?;
                self.start_exec(&node, Level::Anonymous, FrameMode::Exec, After::Select);
                Ok(())
            }
            "field" | "initial" | "menu" => {
                if !self.grammars_ready(&node)? {
                    // A grammar is being fetched: this item is visited again when it arrives.
                    if let Some(dialog) = &mut self.ctx.dialog {
                        dialog.next_item = Some(item.name.clone());
                    }
                    self.ctx.after = Some(After::Select);
                    return Ok(());
                }
                if !suppress_prompts {
                    self.queue_item_prompts(item)?;
                }
                self.listen(item)
            }
            "subdialog" => self.call_subdialog(item),
            "transfer" => {
                if !suppress_prompts {
                    self.queue_item_prompts(item)?;
                }
                self.transfer(item)
            }
            "record" => {
                if !suppress_prompts {
                    self.queue_item_prompts(item)?;
                }
                self.record(item)
            }
            "object" => Err(Thrown::new(
                format!(
                    "error.unsupported.objectname.{}",
                    node.attr("classid").unwrap_or("unknown")
                ),
                Some(format!("{}: <object> is not supported", node.pos)),
            )),
            _ => Ok(()),
        }
    }

    /// Increments the item's prompt counter and queues its prompts.
    fn queue_item_prompts(&mut self, item: &Item) -> Result<(), Thrown> {
        let count = {
            let Some(dialog) = self.ctx.dialog.as_mut() else {
                return Ok(());
            };
            let count = dialog.prompt_counts.entry(item.name.clone()).or_insert(0);
            *count += 1;
            *count
        };
        self.queue_prompts_of(&item.node, count)
    }

    /// Fills a form item from input and runs the `<filled>` actions.
    pub(crate) fn fill(
        &mut self,
        item: &str,
        value_literal: &str,
        shadow_literal: &str,
    ) -> Result<(), Thrown> {
        self.js
            .set_literal(&format!("__h.g[{}]", js_string(item)), value_literal)?;
        self.js.set_literal(
            &format!("__h.g[{}]", js_string(&format!("{item}$"))),
            shadow_literal,
        )?;
        self.filled(item)
    }

    /// Runs the item's own `<filled>` and the form's `<filled>` elements that apply.
    pub(crate) fn filled(&mut self, item: &str) -> Result<(), Thrown> {
        let Some(dialog) = self.ctx.dialog.as_mut() else {
            return Ok(());
        };
        dialog.just_filled = vec![item.to_owned()];
        let form = dialog.node.clone();
        let item_node = dialog
            .items
            .iter()
            .find(|i| i.name == item)
            .map(|i| i.node.clone());
        let all_items: Vec<String> = dialog
            .items
            .iter()
            .filter(|i| !i.node.is("block"))
            .map(|i| i.name.clone())
            .collect();
        let mut actions: Vec<Arc<Node>> = Vec::new();
        if let Some(node) = item_node {
            actions.extend(node.children_named("filled").cloned());
        }
        for filled in form.children_named("filled") {
            let names: Vec<String> = match filled.attr("namelist") {
                Some(list) => list.split_whitespace().map(str::to_owned).collect(),
                None => all_items.clone(),
            };
            if !names.iter().any(|n| n == item) {
                continue;
            }
            let any = filled.attr("mode") == Some("any");
            let complete = any || self.all_filled(&names)?;
            if complete {
                actions.push(filled.clone());
            }
        }
        self.js.reset(Level::Anonymous)?;
        self.ctx.after = Some(After::Select);
        for action in actions.iter().rev() {
            self.push_frame(
                action,
                0,
                action.children.len(),
                Level::Anonymous,
                FrameMode::Exec,
            );
        }
        Ok(())
    }

    fn all_filled(&mut self, names: &[String]) -> Result<bool, Thrown> {
        for name in names {
            if self.js.is_undefined(Level::Dialog, name)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A property's value, looked up from the innermost element outwards.
    pub(crate) fn property(&self, name: &str) -> Option<String> {
        let mut scopes: Vec<&Arc<Node>> = Vec::new();
        if let Some(dialog) = &self.ctx.dialog {
            if let Some(current) = &self.ctx.current_item
                && let Some(item) = dialog.items.iter().find(|i| &i.name == current)
            {
                scopes.push(&item.node);
            }
            scopes.push(&dialog.node);
        }
        if let Some(doc) = &self.ctx.doc {
            scopes.push(&doc.root);
        }
        if let Some(root) = &self.ctx.root {
            scopes.push(&root.root);
        }
        scopes.into_iter().find_map(|node| {
            node.children_named("property")
                .filter(|p| p.attr("name") == Some(name))
                .last()
                .and_then(|p| p.attr("value").map(str::to_owned))
        })
    }

    /// A duration property, or the platform default.
    pub(crate) fn duration_property(&self, name: &str, default: Duration) -> Duration {
        self.property(name)
            .and_then(|v| super::prompts::parse_duration(&v))
            .unwrap_or(default)
    }

    fn call_subdialog(&mut self, item: &Item) -> Result<(), Thrown> {
        let node = item.node.clone();
        let src = self.attr_or_expr(&node, "src", "srcexpr")?;
        let target = self.resolve(&src)?;
        // Parameters are evaluated in the caller's scope and survive the context switch.
        let mut params = String::from("__h.v = __h.v || {}; __h.v.params = {};");
        self.js.run(&params)?;
        for param in node.children_named("param") {
            let name = param.attr("name").unwrap_or_default();
            let expr = match (param.attr("expr"), param.attr("value")) {
                (Some(expr), _) => expr.to_owned(),
                (None, Some(value)) => js_string(value),
                _ => "undefined".to_owned(),
            };
            self.js.stash("param", &expr)?;
            params = format!("__h.v.params[{}] = __h.v.param;", js_string(name));
            self.js.run(&params)?;
        }
        let submitted = match node.attr("namelist") {
            Some(names) => self.namelist_values(names)?,
            None => Vec::new(),
        };
        let caller = Caller {
            context: std::mem::take(&mut self.ctx),
            item: item.name.clone(),
        };
        let doc = caller.context.doc.clone();
        let root = caller.context.root.clone();
        self.callers.push(caller);
        self.js.push_context()?;
        let (base, fragment) = uri::split_fragment(&target);
        let local = doc
            .as_ref()
            .is_some_and(|d| uri::same_document(&d.uri, &base) && src.starts_with('#'));
        match (local, doc) {
            (true, Some(doc)) => match root {
                // The new context's application scope is fresh (`push_context`): initialise
                // the root's variables and scripts in it before the leaf, as a fetched
                // subdialog document gets them through `load_document`.
                Some(root) => self.init_root(root, doc, fragment),
                None => self.init_leaf(doc, fragment),
            },
            _ => {
                let method = method_of(&node);
                let timeout = self.fetch_timeout(&node);
                self.fetch(
                    base,
                    FetchKind::Document,
                    method,
                    submitted,
                    timeout,
                    Purpose::Subdialog { fragment },
                );
            }
        }
        Ok(())
    }

    /// `<return>`: back to the caller with values or an event.
    pub(crate) fn subdialog_return(&mut self, node: &Node) -> Result<super::exec::Flow, Thrown> {
        if self.callers.is_empty() {
            return Err(Thrown::new(
                "error.semantic",
                Some(format!("{}: <return> outside a subdialog", node.pos)),
            ));
        }
        let event = if node.attr("event").is_some() || node.attr("eventexpr").is_some() {
            Some(self.thrown_by(node)?)
        } else {
            None
        };
        let names = node.attr("namelist").unwrap_or("");
        self.js.stash("ret", &super::exec::namelist_object(names))?;
        let Some(caller) = self.callers.pop() else {
            return Ok(super::exec::Flow::Jumped);
        };
        self.js.pop_context()?;
        self.ctx = caller.context;
        self.ctx.frames.clear();
        self.ctx.current_item = Some(caller.item.clone());
        match event {
            Some(thrown) => Err(thrown),
            None => {
                self.fill(&caller.item, "__h.v.ret", "({})")?;
                Ok(super::exec::Flow::Jumped)
            }
        }
    }

    /// A subdialog's document could not be fetched: the error belongs to the caller.
    pub(crate) fn abandon_subdialog(&mut self) {
        if let Some(caller) = self.callers.pop() {
            let _ = self.js.pop_context();
            self.ctx = caller.context;
            self.ctx.current_item = Some(caller.item);
        }
    }

    fn transfer(&mut self, item: &Item) -> Result<(), Thrown> {
        let node = &item.node;
        let dest = self.attr_or_expr(node, "dest", "destexpr")?;
        let bridge = matches!(node.attr("bridge"), Some("true"))
            || node
                .attr("type")
                .is_some_and(|t| t == "bridge" || t == "consultation");
        let connect_timeout = node
            .attr("connecttimeout")
            .and_then(super::prompts::parse_duration)
            .unwrap_or(Duration::from_secs(30));
        let max_time = node
            .attr("maxtime")
            .and_then(super::prompts::parse_duration)
            .filter(|d| !d.is_zero());
        self.emit(Output::Transfer(TransferRequest {
            dest: dest.clone(),
            bridge,
            connect_timeout,
            max_time,
        }));
        self.wait = Wait::Transfer {
            item: item.name.clone(),
            dest,
        };
        Ok(())
    }

    /// A transfer ended.
    pub(crate) fn transferred(
        &mut self,
        item: String,
        dest: String,
        outcome: TransferOutcome,
        duration: Duration,
    ) {
        self.emit(Output::Path(PathEvent::Transfer {
            dest,
            outcome: outcome.as_str().to_owned(),
        }));
        let result = match outcome {
            TransferOutcome::Error(event) => Err(Thrown::new(event, None)),
            TransferOutcome::Unknown if self.blind(&item) => {
                Err(Thrown::new("connection.disconnect.transfer", None))
            }
            outcome => self.fill(
                &item,
                &js_string(outcome.as_str()),
                &format!("({{duration: {}}})", duration.as_secs_f64()),
            ),
        };
        if let Err(thrown) = result {
            self.pending = Some(thrown);
        }
    }

    fn blind(&self, item: &str) -> bool {
        self.ctx
            .dialog
            .as_ref()
            .and_then(|d| d.items.iter().find(|i| i.name == item))
            .is_some_and(|i| {
                i.node.attr("bridge") != Some("true")
                    && !i
                        .node
                        .attr("type")
                        .is_some_and(|t| t == "bridge" || t == "consultation")
            })
    }

    fn record(&mut self, item: &Item) -> Result<(), Thrown> {
        let node = &item.node;
        self.emit(Output::Record(RecordRequest {
            beep: node.attr("beep") == Some("true"),
            max_time: node
                .attr("maxtime")
                .and_then(super::prompts::parse_duration),
            final_silence: node
                .attr("finalsilence")
                .and_then(super::prompts::parse_duration)
                .unwrap_or(Duration::from_secs(3)),
            dtmf_term: node.attr("dtmfterm") != Some("false"),
        }));
        self.wait = Wait::Record {
            item: item.name.clone(),
        };
        Ok(())
    }

    /// A recording ended.
    pub(crate) fn recorded(&mut self, item: String, outcome: RecordOutcome) {
        let result = match outcome {
            RecordOutcome::Silence => Err(Thrown::new("noinput", None)),
            RecordOutcome::Unsupported => Err(Thrown::new(
                "error.unsupported.record",
                Some("this platform does not record callers' messages".to_owned()),
            )),
            RecordOutcome::Recorded {
                duration,
                size,
                termchar,
                max_time,
            } => {
                let ms = duration.as_millis();
                let term =
                    termchar.map_or_else(|| "null".to_owned(), |c| js_string(&c.to_string()));
                self.fill(
                    &item,
                    &format!("({{duration: {ms}, size: {size}, type: 'audio/x-wav'}})"),
                    &format!(
                        "({{duration: {ms}, size: {size}, termchar: {term}, maxtime: {max_time}}})"
                    ),
                )
            }
        };
        if let Err(thrown) = result {
            self.pending = Some(thrown);
        }
    }
}

/// The form items of a dialog, with generated names for anonymous ones.
fn form_items(dialog: &Arc<Node>) -> Vec<Item> {
    if dialog.is("menu") {
        return vec![Item {
            node: dialog.clone(),
            name: dialog
                .attr("id")
                .map_or_else(|| "_menu".to_owned(), |id| format!("_menu_{id}")),
        }];
    }
    dialog
        .elements()
        .filter(|e| ITEMS.iter().any(|k| e.is(k)))
        .enumerate()
        .map(|(index, node)| Item {
            name: node
                .attr("name")
                .map_or_else(|| format!("_item{index}"), str::to_owned),
            node: node.clone(),
        })
        .collect()
}
