//! What compliance officers rely on, shared by the HTTP API and the command line: the
//! hash-chained audit log ([`audit`]), the keyed-hash subject index ([`subjects`]),
//! data-subject requests ([`dsr`]) and opening recordings with a private key ([`export`]).

pub mod audit;
pub mod audit_cmd;
pub mod dsr;
pub mod dsr_cmd;
pub mod export;
pub mod start;
pub mod subjects;

/// Free text from a client (a reason, a purpose, a case reference), trimmed: 1 to `max`
/// characters, no control characters; else why not, naming `field`.
pub fn free_text(field: &str, text: &str, max: usize) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("`{field}` must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(format!("`{field}` is longer than {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(format!("`{field}` must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}
