//! The subject index: which calls concern a phone number, an e-mail address or a name,
//! stored as keyed hashes (HMAC-SHA-256 under a secret key kept beside the database, never in
//! it), so the index alone reveals no identifier and cannot be searched by guessing without
//! the key. Identifiers are normalised first, so `+49 (30) 1234-567`, `004930 1234567` and
//! `tel:+49301234567` are one subject.

use std::path::Path;

use anyhow::Context;
use herald_store::SubjectKind;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The index key. Never printed.
pub struct SubjectKey(Zeroizing<[u8; 32]>);

impl SubjectKey {
    /// Reads the key at `path` (64 hex digits), creating it (0600) when missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng
                    .try_fill_bytes(key.as_mut())
                    .context("the OS random number generator failed")?;
                let text = Zeroizing::new(format!("{}\n", hex::encode(*key)));
                crate::recorder::keys::write_private(path, text.as_bytes())?;
                tracing::info!(path = %path.display(), "created the subject index key");
                Ok(Self(key))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut())
            .map_err(|_| anyhow::anyhow!("not a subject index key (64 hexadecimal digits)"))?;
        Ok(Self(key))
    }

    /// How audit entries name a subject: `subject:` and the first 16 hex digits of its keyed
    /// hash (a compliance officer can match it with a search; a log reader learns nothing).
    pub fn audit_ref(&self, identifier: &Identifier) -> String {
        let hash = self.hash(identifier);
        format!("subject:{}", hash.get(..16).unwrap_or(&hash))
    }

    /// The keyed hash of a normalised identifier, as hex.
    pub fn hash(&self, identifier: &Identifier) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(identifier.kind.as_str().as_bytes());
        mac.update(b":");
        mac.update(identifier.normalized.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A normalised identifier. Its `Debug` leaves the value out.
#[derive(Clone, PartialEq, Eq)]
pub struct Identifier {
    pub kind: SubjectKind,
    normalized: String,
}

impl std::fmt::Debug for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identifier({}, <redacted>)", self.kind.as_str())
    }
}

impl Identifier {
    pub fn new(kind: SubjectKind, text: &str) -> Result<Self, String> {
        let normalized = match kind {
            SubjectKind::Phone => normalize_phone(text)?,
            SubjectKind::Email => normalize_email(text)?,
            SubjectKind::Name => normalize_name(text)?,
        };
        Ok(Self { kind, normalized })
    }

    /// The normalised value (a phone number in E.164 when it has a country code).
    pub fn value(&self) -> &str {
        &self.normalized
    }
}

/// A phone number as E.164 (`+` and 8 to 15 digits) when it carries a country code (`+` or
/// `00`); a number without one (an extension, a national number) is kept as its digits and
/// matches only itself. `tel:`/`sip:` prefixes, a `@host` part, parameters and the usual
/// separators are removed.
pub fn normalize_phone(text: &str) -> Result<String, String> {
    let mut s = text.trim();
    for prefix in ["tel:", "sip:", "sips:"] {
        let has = s
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()));
        if has {
            // The prefix is ASCII, so its end is a character boundary.
            s = s.get(prefix.len()..).unwrap_or("");
        }
    }
    let s = s.split(['@', ';']).next().unwrap_or("");
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push('+'),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => {
                return Err(
                    "a phone number holds digits, an optional leading '+' and separators"
                        .to_owned(),
                );
            }
        }
    }
    if let Some(rest) = out.strip_prefix("00") {
        out = format!("+{rest}");
    }
    let digits = out.trim_start_matches('+').len();
    match (out.starts_with('+'), digits) {
        (true, 8..=15) => Ok(out),
        (true, _) => Err("an E.164 number has 8 to 15 digits after the '+'".to_owned()),
        (false, 1..=15) => Ok(out),
        (false, _) => Err("a phone number has 1 to 15 digits".to_owned()),
    }
}

fn normalize_email(text: &str) -> Result<String, String> {
    let s = text.trim().to_lowercase();
    let valid = s.len() <= 254
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(s)
    } else {
        Err("not an e-mail address such as name@example.org".to_owned())
    }
}

fn normalize_name(text: &str) -> Result<String, String> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let name = words.join(" ");
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        Err("a name has 1 to 200 characters and no control characters".to_owned())
    } else {
        Ok(name)
    }
}

/// The display name of a From header value (`"Jane Doe" <sip:...>` or `Jane <sip:...>`).
pub fn display_name(from: &str) -> Option<String> {
    let from = from.trim();
    let name = if let Some(rest) = from.strip_prefix('"') {
        rest.split('"').next().unwrap_or("")
    } else {
        from.split('<')
            .next()
            .filter(|_| from.contains('<'))
            .unwrap_or("")
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise_to_e164() {
        for text in [
            "+49 (30) 1234-567",
            "004930 1234567",
            "tel:+49301234567",
            "sip:+49301234567@trunk.example;user=phone",
        ] {
            assert_eq!(
                normalize_phone(text).as_deref(),
                Ok("+49301234567"),
                "{text}"
            );
        }
        assert_eq!(normalize_phone("0301234567").as_deref(), Ok("0301234567"));
        assert!(normalize_phone("+1234").is_err());
        assert!(normalize_phone("+1234567890123456").is_err());
        assert!(normalize_phone("12ab").is_err());
        assert!(normalize_phone("").is_err());
        assert!(normalize_phone("1+2").is_err());
    }

    proptest::proptest! {
        /// Any text (a SIP From user, a query parameter) gives a number or an error, never a
        /// panic; a number that comes out normalises to itself.
        #[test]
        fn any_text_normalises_or_is_refused(text in ".{0,24}") {
            if let Ok(number) = normalize_phone(&text) {
                proptest::prop_assert_eq!(normalize_phone(&number), Ok(number.clone()));
            }
            let _ = normalize_email(&text);
            let _ = normalize_name(&text);
            let _ = display_name(&text);
        }
    }

    #[test]
    fn multibyte_text_after_a_prefix_is_refused_not_a_panic() {
        for text in [
            "\u{65e5}\u{672c}",
            "tel\u{65e5}",
            "sip:\u{65e5}\u{672c}",
            "ti\u{e9}l:1",
            "s\u{e9}",
        ] {
            assert!(normalize_phone(text).is_err(), "{text}");
        }
    }

    #[test]
    fn emails_and_names_normalise_and_bad_ones_are_refused() {
        assert_eq!(
            normalize_email(" Jane.Doe@Example.ORG ").as_deref(),
            Ok("jane.doe@example.org")
        );
        assert!(normalize_email("jane").is_err());
        assert!(normalize_email("a b@example.org").is_err());
        assert_eq!(normalize_name("  Jane   DOE ").as_deref(), Ok("jane doe"));
        assert!(normalize_name(" ").is_err());
        assert_eq!(
            display_name("\"Jane Doe\" <sip:1@x>").as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(display_name("Jane <sip:1@x>").as_deref(), Some("Jane"));
        assert_eq!(display_name("<sip:1@x>"), None);
        assert_eq!(display_name("sip:1@x"), None);
    }

    #[test]
    fn hashes_are_keyed_and_separate_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SubjectKey::load_or_create(&path).unwrap();
        let again = SubjectKey::load_or_create(&path).unwrap();
        let other = SubjectKey::load_or_create(&dir.path().join("k2")).unwrap();
        let phone = Identifier::new(SubjectKind::Phone, "+49 30 1234567").unwrap();
        let same = Identifier::new(SubjectKind::Phone, "0049301234567").unwrap();
        assert_eq!(key.hash(&phone), again.hash(&same));
        assert_ne!(key.hash(&phone), other.hash(&phone));
        let name = Identifier::new(SubjectKind::Name, "+49301234567").unwrap();
        assert_ne!(key.hash(&phone), key.hash(&name));
        assert!(!key.hash(&phone).contains("49301234567"));
        assert!(!format!("{phone:?}").contains("4930"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
