//! The VoiceXML part of `herald check`: every document the dialplans run, every local file
//! those documents reference, and every prompt they play in every language a route offers.
//!
//! For each route answering with a file application, the document is read and parsed
//! (`Document::parse`: well-formed XML and the VoiceXML schema, errors at `file:line:column`).
//! Then the static, local references of each document are followed, each file once:
//!
//! - documents (`vxml@application`, `goto@next`, `submit@next`, `subdialog@src`,
//!   `choice@next`, `link@next`) must exist and parse, and a `#fragment` must name a form or
//!   menu of the target document (of the same document for a fragment alone);
//! - other resources (`script@src`, `grammar@src`, `audio@src`, `data@src`) must exist;
//! - `<audio src="prompt:NAME">` must resolve in the prompt library for every language of
//!   every route that reaches the document (`PromptLibrary::resolve_localized`, with its
//!   fallback from `de-DE` to `de` to the top of the prompts directory).
//!
//! References given by expressions (`expr`, `srcexpr`, ...), `http(s):` URIs and `builtin:`
//! grammars are left to call time. Applications behind URLs are fetched at call time and
//! reported as not checked.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use herald_dialplan::{Action, Answer, Application, Dialplan, Language, Route};
use herald_ivr::Document;
use herald_ivr::document::{Node, Pos};

use super::fetch::MAX_BYTES;
use crate::media::prompts::{PromptLibrary, PromptLoadError};

/// What the check found: lines for standard output, and one line per error.
#[derive(Debug, Default)]
pub struct DocumentReport {
    /// Documents that passed, applications left to call time.
    pub notes: Vec<String>,
    /// Problems, `file:line:column: message` wherever there is a place to point at.
    pub errors: Vec<String>,
}

/// Checks the documents of every route of `plan`. Without a prompt library (the prompts
/// directory could not be read, which is reported on its own) prompts are not resolved.
pub fn check_documents(plan: &Dialplan, prompts: Option<&PromptLibrary>) -> DocumentReport {
    let mut checker = Checker::scanned(plan);
    if let Some(prompts) = prompts {
        checker.check_prompts(prompts);
    }
    checker.finish()
}

/// Every `prompt:NAME` of the dialplans' local documents and those they reach, with each
/// language it plays in: what the server encodes before the first call.
pub fn prompts_in_use(plan: &Dialplan) -> BTreeSet<(String, String)> {
    let checker = Checker::scanned(plan);
    let mut wanted = BTreeSet::new();
    for found in &checker.found {
        for (name, _) in &found.prompts {
            for language in &found.languages {
                wanted.insert((name.clone(), language.clone()));
            }
        }
    }
    wanted
}

impl Checker {
    /// Every route's local application and what it reaches, read, parsed and given the
    /// languages of the routes that reach it.
    fn scanned(plan: &Dialplan) -> Checker {
        let mut checker = Checker::default();
        let mut roots: Vec<(usize, BTreeSet<String>)> = Vec::new();
        for route in plan.routes() {
            let Action::Answer(answer) = &route.action else {
                continue;
            };
            match &answer.application {
                Application::File(path) => {
                    if let Some(root) = checker.application(route, path) {
                        roots.push((root, route_languages(answer)));
                    }
                }
                Application::Url(url) => checker.notes.push(format!(
                    "{}: route {:?}: application {url} not checked (fetched at call time)",
                    route.source, route.name
                )),
            }
        }
        checker.scan_all();
        for (root, languages) in roots {
            checker.add_languages(root, &languages);
        }
        checker
    }
}

/// The languages a route's prompts must exist in: its `languages`, and the one it starts in.
fn route_languages(answer: &Answer) -> BTreeSet<String> {
    let mut languages: BTreeSet<String> = answer
        .languages
        .iter()
        .map(|tag| tag.as_str().to_owned())
        .collect();
    if let Language::Tag(tag) = &answer.language {
        languages.insert(tag.as_str().to_owned());
    }
    languages
}

/// A VoiceXML document found on the way.
struct Found {
    /// The path as shown in messages.
    shown: String,
    /// Absolute and without `.`/`..`: the base of its relative references.
    path: PathBuf,
    /// `None` when it cannot be read or parsed (already reported).
    document: Option<Arc<Document>>,
    /// Documents it references.
    links: Vec<usize>,
    /// `prompt:NAME` audio: the name and where.
    prompts: Vec<(String, Pos)>,
    /// Languages of the routes that reach it.
    languages: BTreeSet<String>,
    /// Errors attributed to it.
    errors: usize,
}

#[derive(Default)]
struct Checker {
    found: Vec<Found>,
    by_path: HashMap<PathBuf, usize>,
    /// Other files already checked.
    resources: HashSet<PathBuf>,
    notes: Vec<String>,
    errors: Vec<String>,
}

/// A static URI attribute in a document.
struct Reference {
    element: &'static str,
    attribute: &'static str,
    value: String,
    pos: Pos,
    document: bool,
}

/// The attributes that hold a URI known before the call, and whether it names a document.
const REFERENCES: [(&str, &str, bool); 10] = [
    ("vxml", "application", true),
    ("goto", "next", true),
    ("submit", "next", true),
    ("subdialog", "src", true),
    ("choice", "next", true),
    ("link", "next", true),
    ("script", "src", false),
    ("grammar", "src", false),
    ("audio", "src", false),
    ("data", "src", false),
];

impl Checker {
    /// Loads a route's application; `None` when the file cannot be read (reported).
    fn application(&mut self, route: &Route, path: &Path) -> Option<usize> {
        let absolute = absolute(path);
        if let Some(&index) = self.by_path.get(&absolute) {
            return Some(index);
        }
        match read_document(&absolute) {
            Ok(text) => Some(self.add_document(absolute, &text)),
            Err(error) => {
                self.errors.push(format!(
                    "{}: route {:?}: cannot read application {}: {error}",
                    route.source,
                    route.name,
                    shown(&absolute)
                ));
                None
            }
        }
    }

    /// Parses a document and remembers it (its references are scanned later).
    fn add_document(&mut self, path: PathBuf, text: &str) -> usize {
        let shown = shown(&path);
        let mut errors = 0;
        let document = match Document::parse_unvalidated(&shown, text) {
            Ok(document) => {
                for problem in document.problems() {
                    self.errors.push(problem.to_string());
                    errors += 1;
                }
                Some(Arc::new(document))
            }
            Err(error) => {
                self.errors.push(error.to_string());
                errors += 1;
                None
            }
        };
        let index = self.found.len();
        self.by_path.insert(path.clone(), index);
        self.found.push(Found {
            shown,
            path,
            document,
            links: Vec::new(),
            prompts: Vec::new(),
            languages: BTreeSet::new(),
            errors,
        });
        index
    }

    /// Follows the references of every document found, including those found on the way.
    fn scan_all(&mut self) {
        let mut next = 0;
        while next < self.found.len() {
            self.scan(next);
            next += 1;
        }
    }

    fn scan(&mut self, index: usize) {
        let Some(document) = self.found[index].document.clone() else {
            return;
        };
        let mut references = Vec::new();
        collect_references(&document.root, &mut references);
        for reference in references {
            self.reference(index, &document, &reference);
        }
    }

    fn reference(&mut self, from: usize, document: &Document, reference: &Reference) {
        let value = reference.value.trim();
        let at = format!(
            "{}:{}: <{} {}=\"{}\">",
            self.found[from].shown,
            reference.pos,
            reference.element,
            reference.attribute,
            reference.value
        );
        let error = |message: String| format!("{at}: {message}");
        if let Some(name) = value.strip_prefix("prompt:") {
            if reference.element == "audio" {
                self.found[from]
                    .prompts
                    .push((name.to_owned(), reference.pos));
            }
            return;
        }
        if value.is_empty() || value.starts_with("builtin:") {
            return;
        }
        if let Some(fragment) = value.strip_prefix('#') {
            if reference.document && reference.element != "vxml" {
                self.check_dialog(from, document, fragment, &error);
            }
            return;
        }
        let target = match local_target(&self.found[from].path, value) {
            Ok(Some(target)) => target,
            Ok(None) => return,
            Err(message) => return self.fail(from, error(message)),
        };
        if reference.document {
            self.document_reference(from, target, &error);
        } else if self.resources.insert(target.0.clone())
            && let Err(message) = check_resource(&target.0)
        {
            self.fail(from, error(message));
        }
    }

    /// A referenced document: loaded once, linked, and its `#fragment` checked.
    fn document_reference(
        &mut self,
        from: usize,
        (path, fragment): (PathBuf, Option<String>),
        error: &dyn Fn(String) -> String,
    ) {
        let target = match self.by_path.get(&path) {
            Some(&index) => index,
            None => match read_document(&path) {
                Ok(text) => self.add_document(path, &text),
                Err(message) => {
                    let message = format!("{}: {message}", shown(&path));
                    return self.fail(from, error(message));
                }
            },
        };
        self.found[from].links.push(target);
        if let (Some(fragment), Some(document)) = (fragment, self.found[target].document.clone()) {
            self.check_dialog(from, &document, &fragment, error);
        }
    }

    fn check_dialog(
        &mut self,
        from: usize,
        target: &Document,
        id: &str,
        error: &dyn Fn(String) -> String,
    ) {
        if target.dialog(Some(id)).is_none() {
            let message = format!("no <form> or <menu> with id {id:?} in {}", target.uri);
            self.fail(from, error(message));
        }
    }

    fn fail(&mut self, index: usize, message: String) {
        self.errors.push(message);
        self.found[index].errors += 1;
    }

    /// Adds `languages` to `root` and every document it reaches.
    fn add_languages(&mut self, root: usize, languages: &BTreeSet<String>) {
        let mut pending = vec![root];
        let mut seen = HashSet::new();
        while let Some(index) = pending.pop() {
            if !seen.insert(index) {
                continue;
            }
            let found = &mut self.found[index];
            found.languages.extend(languages.iter().cloned());
            pending.extend(found.links.iter().copied());
        }
    }

    fn check_prompts(&mut self, library: &PromptLibrary) {
        for index in 0..self.found.len() {
            let found = &self.found[index];
            let mut errors = Vec::new();
            for (name, pos) in &found.prompts {
                for language in &found.languages {
                    if let Err(error) = library.resolve_localized(name, Some(language)) {
                        errors.push(prompt_error(&found.shown, *pos, name, language, &error));
                    }
                }
            }
            for error in errors {
                self.fail(index, error);
            }
        }
    }

    fn finish(mut self) -> DocumentReport {
        for found in &self.found {
            if found.errors > 0 || found.document.is_none() {
                continue;
            }
            let names: BTreeSet<&str> = found.prompts.iter().map(|(n, _)| n.as_str()).collect();
            self.notes.push(format!(
                "{}: VoiceXML OK ({} prompt(s) in {} language(s))",
                found.shown,
                names.len(),
                found.languages.len()
            ));
        }
        DocumentReport {
            notes: self.notes,
            errors: self.errors,
        }
    }
}

fn prompt_error(
    shown: &str,
    pos: Pos,
    name: &str,
    language: &str,
    error: &PromptLoadError,
) -> String {
    match error {
        PromptLoadError::Missing { tried, .. } => format!(
            "{shown}:{pos}: prompt {name:?} missing for language {language} (tried {tried})"
        ),
        other => format!("{shown}:{pos}: prompt {name:?} for language {language}: {other}"),
    }
}

/// Every static URI attribute under `node`, in document order.
fn collect_references(node: &Node, out: &mut Vec<Reference>) {
    for (element, attribute, document) in REFERENCES {
        if node.is(element)
            && let Some(value) = node.attr(attribute)
        {
            out.push(Reference {
                element,
                attribute,
                value: value.to_owned(),
                pos: node.pos,
                document,
            });
        }
    }
    for child in node.elements() {
        collect_references(child, out);
    }
}

/// The local file a reference names, with its fragment; `None` for what is fetched at call
/// time (`http:`, `https:`).
fn local_target(base: &Path, reference: &str) -> Result<Option<(PathBuf, Option<String>)>, String> {
    let scheme = uri_scheme(reference).map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        Some("http" | "https") => return Ok(None),
        None | Some("file") => {}
        Some(other) => {
            return Err(format!(
                "unsupported URI scheme {other:?} (documents and files are fetched from file:, http: and https:)"
            ));
        }
    }
    let base = url::Url::from_file_path(base)
        .map_err(|()| format!("cannot make a file: URI of {}", base.display()))?;
    let url = base.join(reference).map_err(|e| format!("bad URI: {e}"))?;
    let fragment = url.fragment().filter(|f| !f.is_empty()).map(str::to_owned);
    let path = url
        .to_file_path()
        .map_err(|()| format!("{url} is not a local file"))?;
    Ok(Some((path, fragment)))
}

/// The scheme of an absolute URI (`http` in `http://x`), `None` for a relative reference.
fn uri_scheme(reference: &str) -> Option<&str> {
    let (scheme, _) = reference.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (first_ok && rest_ok && !scheme.contains('/')).then_some(scheme)
}

/// Reads a document as a session would: at most [`MAX_BYTES`], UTF-8.
fn read_document(path: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if metadata.is_dir() {
        return Err("is a directory".into());
    }
    if metadata.len() > MAX_BYTES as u64 {
        return Err(format!(
            "{} bytes, more than the {MAX_BYTES} a session may fetch",
            metadata.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// A script, grammar, audio file or data file: it must be a readable file.
fn check_resource(path: &Path) -> Result<(), String> {
    let shown = shown(path);
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(format!("{shown}: is a directory")),
        Ok(_) => Ok(()),
        Err(error) => Err(format!("{shown}: {error}")),
    }
}

/// `path` made absolute against the working directory, without `.` and `..` components.
fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How a path appears in messages: relative to the working directory when it is under it.
fn shown(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary tree: `dialplans/` with documents, `prompts/` with tiny WAV files.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("dialplans")).unwrap();
            std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
            Tree { dir }
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.dir.path().join(relative)
        }

        fn shown(&self, relative: &str) -> String {
            shown(&self.path(relative))
        }

        fn file(&self, relative: &str, text: &str) -> &Self {
            let path = self.path(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        /// A 10 ms, 8 kHz WAV prompt.
        fn prompt(&self, relative: &str) -> &Self {
            let path = self.path(&format!("prompts/{relative}.wav"));
            herald_testkit::wav::write_wav(&path, 8000, (0..80_i16).map(|i| i * 100));
            self
        }

        fn check(&self) -> DocumentReport {
            let plan = super::super::dialplans::load(&self.path("dialplans"))
                .unwrap_or_else(|e| panic!("{}", e.join("\n")));
            let prompts = PromptLibrary::new(self.path("prompts"));
            check_documents(&plan, Some(&prompts))
        }

        fn errors(&self) -> Vec<String> {
            self.check().errors
        }
    }

    fn route(name: &str, application: &str, languages: &str) -> String {
        format!(
            "[[route]]\nname = {name:?}\napplication = {application:?}\nlanguage = \"menu\"\nlanguages = {languages}\n"
        )
    }

    fn vxml(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\">\n{body}</vxml>\n"
        )
    }

    fn assert_starts(errors: &[String], expected: &str) {
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "no error starts with {expected:?}; got:\n{}",
            errors.join("\n")
        );
    }

    #[test]
    fn a_good_application_with_its_references_passes() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            &format!(
                "{}{}{}",
                route("main", "main.vxml", "[\"en\", \"de\"]"),
                "[[route]]\nname = \"remote\"\napplication = \"https://ivr.example/start.vxml\"\nlanguage = \"en\"\n",
                "[[route]]\nname = \"closed\"\nreject = 480\n",
            ),
        )
        .file(
            "dialplans/main.vxml",
            &vxml(
                "<script src=\"lib/util.js\"/>\n<form id=\"a\"><block>\n<audio src=\"prompt:hello\"/>\n<audio src=\"beep.wav\"/>\n<goto next=\"#b\"/>\n</block></form>\n<form id=\"b\"><block><goto next=\"sub/next.vxml#c\"/></block></form>\n",
            ),
        )
        .file(
            "dialplans/sub/next.vxml",
            &vxml(
                "<form id=\"c\"><field name=\"f\"><grammar src=\"digits.grxml#main\"/><grammar src=\"builtin:dtmf/digits\"/>\n<prompt><audio src=\"prompt:bye\"/></prompt></field>\n<block><goto next=\"../main.vxml\"/><submit next=\"http://example.com/x\"/></block></form>\n",
            ),
        )
        .file("dialplans/lib/util.js", "var x = 1;")
        .file("dialplans/beep.wav", "")
        .file("dialplans/sub/digits.grxml", "<grammar/>")
        .prompt("en/hello")
        .prompt("de/hello")
        .prompt("bye");
        let report = tree.check();
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        // What the server warms: every prompt of every reached document, in each language.
        let plan = super::super::dialplans::load(&tree.path("dialplans")).unwrap();
        let in_use: Vec<(String, String)> = prompts_in_use(&plan).into_iter().collect();
        let pairs = |name: &str| {
            [
                (name.to_owned(), "de".to_owned()),
                (name.to_owned(), "en".to_owned()),
            ]
        };
        let mut want: Vec<(String, String)> =
            pairs("bye").into_iter().chain(pairs("hello")).collect();
        want.sort();
        assert_eq!(in_use, want);
        let main = tree.shown("dialplans/main.vxml");
        let next = tree.shown("dialplans/sub/next.vxml");
        assert!(
            report.notes.contains(&format!(
                "{main}: VoiceXML OK (1 prompt(s) in 2 language(s))"
            )),
            "{:#?}",
            report.notes
        );
        assert!(
            report.notes.contains(&format!(
                "{next}: VoiceXML OK (1 prompt(s) in 2 language(s))"
            )),
            "{:#?}",
            report.notes
        );
        assert!(
            report.notes.iter().any(|n| n.contains("route \"remote\"")
                && n.ends_with(
                    "https://ivr.example/start.vxml not checked (fetched at call time)"
                )),
            "{:#?}",
            report.notes
        );
    }

    #[test]
    fn malformed_xml_is_reported_at_its_position() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            &route("main", "main.vxml", "[\"en\"]"),
        )
        .file("dialplans/main.vxml", &vxml("<form>\n  <block>\n</form>\n"));
        let errors = tree.errors();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        let main = tree.shown("dialplans/main.vxml");
        assert_starts(
            &errors,
            &format!("{main}:5:1: not well-formed XML: expected 'block' tag"),
        );
    }

    #[test]
    fn an_unknown_element_is_reported_at_its_position() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            &route("main", "main.vxml", "[\"en\"]"),
        )
        .file("dialplans/main.vxml", &vxml("<form>\n  <blok/>\n</form>\n"));
        let errors = tree.errors();
        let main = tree.shown("dialplans/main.vxml");
        assert_eq!(
            errors,
            [format!("{main}:4:3: unknown VoiceXML element <blok>")]
        );
    }

    #[test]
    fn missing_references_are_reported_where_they_are_made() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            &format!(
                "{}{}",
                route("main", "main.vxml", "[\"en\"]"),
                route("gone", "gone.vxml", "[\"en\"]")
            ),
        )
        .file(
            "dialplans/main.vxml",
            &vxml(
                "<form id=\"a\"><block>\n<goto next=\"nope.vxml\"/>\n<goto next=\"#nosuch\"/>\n<goto next=\"bad.vxml\"/>\n<script src=\"missing.js\"/>\n<audio src=\"ftp://host/x.wav\"/>\n</block></form>\n",
            ),
        )
        .file("dialplans/bad.vxml", &vxml("<form><bogus/></form>\n"));
        let errors = tree.errors();
        let main = tree.shown("dialplans/main.vxml");
        let nope = tree.shown("dialplans/nope.vxml");
        let bad = tree.shown("dialplans/bad.vxml");
        let plan = tree.shown("dialplans/plan.toml");
        assert_starts(
            &errors,
            &format!("{plan}:6:1: route \"gone\": cannot read application "),
        );
        assert_starts(
            &errors,
            &format!("{main}:4:1: <goto next=\"nope.vxml\">: {nope}: No such file"),
        );
        assert_starts(
            &errors,
            &format!(
                "{main}:5:1: <goto next=\"#nosuch\">: no <form> or <menu> with id \"nosuch\" in {main}"
            ),
        );
        assert_starts(
            &errors,
            &format!("{bad}:3:7: unknown VoiceXML element <bogus>"),
        );
        assert_starts(
            &errors,
            &format!("{main}:7:1: <script src=\"missing.js\">: "),
        );
        assert_starts(
            &errors,
            &format!(
                "{main}:8:1: <audio src=\"ftp://host/x.wav\">: unsupported URI scheme \"ftp\""
            ),
        );
        assert_eq!(errors.len(), 6, "{errors:#?}");
    }

    #[test]
    fn a_prompt_missing_in_one_language_is_reported_for_that_language_only() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            "[[route]]\nname = \"de\"\napplication = \"main.vxml\"\nlanguage = \"de-DE\"\n\
             [[route]]\nname = \"menu\"\napplication = \"main.vxml\"\nlanguage = \"menu\"\nlanguages = [\"en\"]\n",
        )
        .file(
            "dialplans/main.vxml",
            &vxml("<form><block>\n<goto next=\"other.vxml\"/>\n</block></form>\n"),
        )
        .file(
            "dialplans/other.vxml",
            &vxml("<form><block>\n  <audio src=\"prompt:hello\"/>\n</block></form>\n"),
        )
        .prompt("en/hello");
        let errors = tree.errors();
        let other = tree.shown("dialplans/other.vxml");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_starts(
            &errors,
            &format!(
                "{other}:4:3: prompt \"hello\" missing for language de-DE (tried de-de/hello.wav, "
            ),
        );
        assert!(errors[0].contains("de/hello.wav"), "{}", errors[0]);
        // A prompt at the top of the prompts directory serves every language.
        tree.prompt("hello");
        assert!(tree.errors().is_empty(), "{:#?}", tree.errors());
    }

    #[test]
    fn documents_referencing_each_other_are_read_once() {
        let tree = Tree::new();
        tree.file(
            "dialplans/plan.toml",
            &format!(
                "{}{}",
                route("a", "a.vxml", "[\"en\"]"),
                route("b", "./b.vxml", "[\"fr\"]")
            ),
        )
        .file(
            "dialplans/a.vxml",
            &vxml("<form id=\"x\"><block><goto next=\"b.vxml#y\"/></block></form>\n"),
        )
        .file(
            "dialplans/b.vxml",
            &vxml("<form id=\"y\"><block><goto next=\"file:a.vxml#x\"/></block></form>\n"),
        );
        let report = tree.check();
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        let ok: Vec<&String> = report.notes.iter().filter(|n| n.contains("OK")).collect();
        assert_eq!(ok.len(), 2, "{ok:#?}");
        assert!(
            ok.iter().all(|n| n.ends_with("in 2 language(s))")),
            "{ok:#?}"
        );
    }
}
