//! The VoiceXML document parser and schema check (`herald_ivr::Document`).
//!
//! Input layout: the document text (bytes that are not UTF-8 are replaced, as a platform that
//! decodes lossily would).
//!
//! Asserts:
//! * `Document::parse` and `Document::problems` never panic;
//! * a document that parses has no schema problems (parse refuses the first one);
//! * errors name the document and a position (`uri:line:column`, both from 1);
//! * walking the parsed tree (text, dialogs, attributes) never panics.

#![no_main]

use herald_ivr::Document;
use herald_ivr::document::{DocumentError, Node};
use libfuzzer_sys::fuzz_target;

const URI: &str = "file:///fuzz.vxml";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    match Document::parse(URI, text) {
        Ok(document) => {
            let problems = document.problems();
            assert!(
                problems.is_empty(),
                "a parsed document still has problems: {problems:?}"
            );
            assert_eq!(document.uri, URI);
            let _ = document.dialog(None);
            let _ = document.application();
            for dialog in document.root.elements() {
                if !(dialog.is("form") || dialog.is("menu")) {
                    continue;
                }
                if let Some(id) = dialog.attr("id") {
                    assert!(
                        document.dialog(Some(id)).is_some(),
                        "dialog {id:?} is in the document but not found"
                    );
                }
            }
            walk(&document.root, 0);
        }
        Err(error) => check_error(&error),
    }
});

fn check_error(error: &DocumentError) {
    assert_eq!(error.uri, URI);
    assert!(
        error.pos.line >= 1 && error.pos.column >= 1,
        "error without a position: {error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{URI}:{}:", error.pos.line)),
        "error display does not start with uri:line: {shown}"
    );
}

fn walk(node: &Node, depth: usize) {
    assert!(
        node.pos.line >= 1 && node.pos.column >= 1,
        "<{}> without a position",
        node.name
    );
    // text() walks the subtree: only near the top, so deep documents stay linear.
    if depth < 4 {
        let text = node.text();
        assert!(
            !text.starts_with(char::is_whitespace) && !text.ends_with(char::is_whitespace),
            "text() is not trimmed"
        );
    }
    for attr in &node.attrs {
        let _ = node.attr(&attr.name);
        let _ = node.herald_attr(&attr.name);
    }
    for child in node.elements() {
        walk(child, depth + 1);
    }
}
