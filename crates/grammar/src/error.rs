//! Errors raised while loading a grammar.
//!
//! Every error is about the grammar text the application supplied (the VoiceXML
//! document, a `.grxml` file, a builtin URI): the interpreter turns it into
//! `error.badfetch` (VoiceXML 2.0 §5.2.6). Matching keys against a loaded
//! grammar never fails.

use std::fmt;

/// A line and column (both 1-based) in the grammar's XML text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a grammar could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    /// A builtin grammar type that VoiceXML 2.0 Appendix P does not define.
    #[error("unknown builtin grammar type `{0}`")]
    UnknownBuiltin(String),
    /// A builtin grammar parameter that is unknown, malformed or inconsistent.
    #[error("builtin grammar `{kind}`: parameter `{parameter}`: {reason}")]
    BadParameter {
        /// The builtin type, e.g. `digits`.
        kind: String,
        /// The parameter as written, e.g. `minlength=7`.
        parameter: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A menu choice whose DTMF sequence is not made of DTMF keys.
    #[error("choice {index}: `{dtmf}` is not a DTMF key sequence")]
    BadChoice {
        /// The 0-based position of the choice.
        index: usize,
        /// The sequence as written.
        dtmf: String,
    },
    /// The text is not well-formed XML (roxmltree's message carries the position).
    #[error("grammar is not well-formed XML: {0}")]
    Xml(#[from] roxmltree::Error),
    /// The XML is well-formed but is not a supported SRGS grammar.
    #[error("{position}: {reason}")]
    Srgs {
        /// Where in the XML text.
        position: Position,
        /// What is wrong.
        reason: String,
    },
}
