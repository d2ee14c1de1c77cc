//! The W3C VoiceXML IR test set as found on disk: which `.txml` documents exist, which
//! documents each one pulls in, which are entry points, and which of those can run here.
//!
//! References are found by scanning each document (comments removed) for the name of another
//! test document followed by `.vxml` or `.txml`, wherever it appears: in `next`, `src` or
//! `application` attributes, and in string literals inside `expr` attributes
//! (`<goto expr="'1001Second.vxml'"/>`, `<var name="u" expr="'http://localhost/vxml/526b.vxml'"/>`).
//! The manifest's `referenced_uris` column misses the literals, so it is not used for this.
//! An entry is a document no other document references.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// One `.txml` document: the test documents it references and whether it can pass.
#[derive(Debug)]
pub struct Document {
    /// Names (without extension) of the other test documents it references.
    pub references: BTreeSet<String>,
    /// Whether it contains a `conf:pass`, i.e. an automatic verdict.
    pub has_pass: bool,
    /// The manifest's `caller_input_needed` tokens (`ASR`, `TRANSFER`, ...; `NONE` dropped).
    pub input_needed: Vec<String>,
}

/// Why an entry test is not run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// A document on its path needs speech recognition.
    SpeechRecognition,
    /// A document on its path transfers the call to a second leg.
    SecondCallLeg,
    /// A document on its path records the caller.
    Recording,
    /// The manifest names caller input this harness cannot give (the token).
    OtherInput(String),
    /// No document on its path has a `conf:pass`: a person judges it (by ear, or by the
    /// call not ending), so an exit value cannot.
    ManualVerdict,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::SpeechRecognition => f.write_str("needs speech recognition (ASR)"),
            SkipReason::SecondCallLeg => f.write_str("needs a second call leg (TRANSFER)"),
            SkipReason::Recording => f.write_str("needs recording (RECORD)"),
            SkipReason::OtherInput(token) => {
                write!(f, "needs caller input the manifest calls {token}")
            }
            SkipReason::ManualVerdict => f.write_str("manual verdict (no conf:pass)"),
        }
    }
}

/// Manifest tokens that need nothing of the harness: no input at all, or silence, which
/// `herald ivr run` gives by itself once its (empty) DTMF script is exhausted.
const NO_INPUT_TOKENS: [&str; 2] = ["NONE", "SILENCE"];

/// All test documents, by name without extension.
#[derive(Debug)]
pub struct Suite {
    pub documents: BTreeMap<String, Document>,
}

impl Suite {
    /// Reads `tests/*.txml` and `manifest.tsv` under `ir_dir`.
    pub fn load(ir_dir: &Path) -> Suite {
        let texts = read_documents(&ir_dir.join("tests"));
        let manifest = read_manifest(&ir_dir.join("manifest.tsv"));
        let names: BTreeSet<&str> = texts.keys().map(String::as_str).collect();
        let documents = texts
            .iter()
            .map(|(name, text)| {
                let text = without_comments(text);
                let document = Document {
                    references: references(&text, &names, name),
                    has_pass: text.contains("<conf:pass"),
                    input_needed: manifest.get(name).cloned().unwrap_or_default(),
                };
                (name.clone(), document)
            })
            .collect();
        Suite { documents }
    }

    /// The documents no other document references, in name order.
    pub fn entries(&self) -> Vec<&str> {
        let referenced: BTreeSet<&String> = self
            .documents
            .values()
            .flat_map(|d| &d.references)
            .collect();
        self.documents
            .keys()
            .filter(|name| !referenced.contains(name))
            .map(String::as_str)
            .collect()
    }

    /// `entry` and every document reachable from it through references, in name order.
    pub fn reachable(&self, entry: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![entry];
        while let Some(name) = todo.pop() {
            let Some((name, document)) = self.documents.get_key_value(name) else {
                continue;
            };
            if seen.insert(name.as_str()) {
                todo.extend(document.references.iter().map(String::as_str));
            }
        }
        seen
    }

    /// Why `entry` cannot run here, or `None` when it can.
    pub fn skip_reason(&self, entry: &str) -> Option<SkipReason> {
        let documents: Vec<&Document> = self
            .reachable(entry)
            .into_iter()
            .filter_map(|name| self.documents.get(name))
            .collect();
        let tokens: BTreeSet<&str> = documents
            .iter()
            .flat_map(|d| d.input_needed.iter().map(String::as_str))
            .filter(|token| !NO_INPUT_TOKENS.contains(token))
            .collect();
        let reason = if tokens.contains("ASR") {
            SkipReason::SpeechRecognition
        } else if tokens.contains("TRANSFER") {
            SkipReason::SecondCallLeg
        } else if tokens.contains("RECORD") {
            SkipReason::Recording
        } else if let Some(token) = tokens.first() {
            SkipReason::OtherInput((*token).to_owned())
        } else if !documents.iter().any(|d| d.has_pass) {
            SkipReason::ManualVerdict
        } else {
            return None;
        };
        Some(reason)
    }
}

/// Every `*.txml` file in `dir`, by name without extension.
fn read_documents(dir: &Path) -> BTreeMap<String, String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txml"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a .txml file name")
                .to_string_lossy();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (
                name.into_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect()
}

/// `manifest.tsv`: document name (without `tests/` and `.txml`) to its
/// `caller_input_needed` tokens (`ASR+SILENCE` becomes `["ASR", "SILENCE"]`).
fn read_manifest(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let file = columns
                .next()?
                .strip_prefix("tests/")?
                .strip_suffix(".txml")?;
            let input = columns.next()?;
            let tokens = input.split('+').map(str::to_owned).collect();
            Some((file.to_owned(), tokens))
        })
        .collect()
}

/// `text` with every `<!-- ... -->` removed (an unterminated comment runs to the end).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    out.push_str(rest);
    out
}

/// The names in `names` other than `own` that `text` mentions as `NAME.vxml` or `NAME.txml`.
fn references(text: &str, names: &BTreeSet<&str>, own: &str) -> BTreeSet<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    for extension in [".vxml", ".txml"] {
        for (at, _) in text.match_indices(extension) {
            let start = bytes[..at]
                .iter()
                .rposition(|&b| !is_name_byte(b))
                .map_or(0, |i| i + 1);
            let name = &text[start..at];
            if name != own && names.contains(name) {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_attributes_and_literals_but_not_comments() {
        let names: BTreeSet<&str> = ["a", "b-2", "c", "self"].into_iter().collect();
        let text = without_comments(
            r#"<goto next="a.vxml#x"/><!-- c.vxml --><var expr="'http://localhost/vxml/b-2.txml'"/>
               <goto next="self.vxml"/><goto next="zz.vxml"/>"#,
        );
        let found = references(&text, &names, "self");
        assert_eq!(found, ["a", "b-2"].map(str::to_owned).into_iter().collect());
    }
}
