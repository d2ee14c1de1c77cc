//! The semantic result of a match.

use std::fmt;

/// A JSON-like value the interpreter converts to an ECMAScript value.
///
/// `Debug` shows only the variant: values are derived from what the caller typed.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// An ECMAScript string.
    String(String),
    /// An ECMAScript number.
    Number(f64),
    /// An ECMAScript boolean.
    Bool(bool),
    /// An ECMAScript object with its properties in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The variant's name: `"string"`, `"number"`, `"boolean"` or `"object"`
    /// (the ECMAScript `typeof` of the converted value).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Object(_) => "object",
        }
    }

    /// `Value::String(s.into())`.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value::{}(<redacted>)", self.kind())
    }
}

/// What a complete match means.
///
/// `Debug` shows only the value's kind and whether a script is attached, never
/// the keys or the value.
#[derive(Clone, PartialEq)]
pub struct Interpretation {
    /// The keys pressed, space-free, e.g. `"123#"` (VoiceXML `utterance`,
    /// `application.lastresult$.utterance`).
    pub utterance: String,
    /// The semantic value (VoiceXML `interpretation`). For a grammar with
    /// `tag-format="semantics/1.0"` script tags this is a fallback (see
    /// [`Interpretation::script`]).
    pub value: Value,
    /// For SRGS grammars whose matched path carries SISR script tags: a
    /// self-contained ECMAScript expression whose value is the SISR result
    /// of the match. When present, the interpreter evaluates it (in a fresh
    /// scope) and uses its value instead of [`Interpretation::value`].
    pub script: Option<String>,
}

impl fmt::Debug for Interpretation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interpretation")
            .field("kind", &self.value.kind())
            .field("script", &self.script.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_digits() {
        let i = Interpretation {
            utterance: "4111111111111111".into(),
            value: Value::String("4111111111111111".into()),
            script: None,
        };
        let shown = format!("{i:?} {:?}", i.value);
        assert!(!shown.contains('4') && !shown.contains('1'), "{shown}");
        assert!(shown.contains("string"));
    }
}
