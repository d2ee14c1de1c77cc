//! The prompt library: prompt files under the prompts directory, decoded once, encoded once per
//! codec and packet time, and shared by every call.
//!
//! A prompt is named by its path relative to the prompts directory, with or without its
//! extension (`welcome`, `en/welcome.wav`); without one, the first of `wav`, `flac`, `ogg`,
//! `mp3` that exists is taken. A missing or undecodable prompt is an error value: `herald
//! check` prints it, and at call time the call logs it and goes on without the prompt.
//!
//! Localized prompts live in language directories named by lowercase BCP 47 tags
//! (`prompts/de/welcome.flac`, `prompts/de-at/welcome.flac`). A lookup for a language tries
//! the tag from most to least specific, then the root: `de-AT` tries `de-AT/`, `de-at/` (and
//! any other spelling of it: directory names match case-insensitively), `de/`, then the
//! prompt at the top. No language means the top only.
//!
//! Caching: the resolved file of a (name, language) is remembered, decoded audio is kept per
//! file and encoded packets per file, codec and packet time. Two languages never share an
//! entry unless they resolve to the same file (`de-AT` falling back to `de/`), and then they
//! share both. Once a prompt has been played, asking for it again touches no file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use herald_media::codec::CodecKind;
use herald_media::prompt::{EncodedPrompt, PromptAudio, PromptError};

/// The largest audio file a prompt may be.
pub const MAX_PROMPT_BYTES: u64 = 64 << 20;

/// Extensions tried, in order, for a prompt named without one.
pub const EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

/// The longest language tag accepted (the longest well-formed BCP 47 tags in use are far
/// shorter; this bounds what a caller can make us look for).
pub const MAX_LANGUAGE_TAG: usize = 35;

/// The prompts of the shipped recording-disclosure IVR application, present in every shipped
/// language directory (see `prompts/README.md`).
#[allow(
    dead_code,
    reason = "used by the tests; the IVR application names its prompts itself"
)]
pub const DISCLOSURE_PROMPTS: [&str; 9] = [
    "welcome",
    "disclosure",
    "recording-notice",
    "optout-confirmed",
    "recording-continues",
    "connecting",
    "no-agents",
    "invalid-choice",
    "goodbye",
];

/// Why a prompt cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PromptLoadError {
    #[error("prompt {name:?}: no such file under {dir} (tried {tried})")]
    Missing {
        name: String,
        dir: String,
        tried: String,
    },
    #[error("prompt {name:?} escapes the prompts directory")]
    Escapes { name: String },
    #[error(
        "language {lang:?} is not a language tag (letters, digits and single '-' between \
         subtags, at most {MAX_LANGUAGE_TAG} characters)"
    )]
    InvalidLanguage { lang: String },
    #[error("{path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: {error}")]
    Decode { path: String, error: PromptError },
    #[error("{path}: cannot encode for {codec:?}: {error}")]
    Encode {
        path: String,
        codec: CodecKind,
        error: String,
    },
}

/// Decoded prompts by file, encoded ones by file, codec and packet time, and the file each
/// (name, language) asked for resolved to: once a prompt is encoded, a call asking for it
/// again touches no file.
pub struct PromptLibrary {
    root: PathBuf,
    /// (name, language tag as asked) → the file it resolved to.
    resolved: HashMap<(String, Option<String>), PathBuf>,
    decoded: HashMap<PathBuf, Arc<PromptAudio>>,
    encoded: HashMap<(PathBuf, CodecKind, Duration), Arc<EncodedPrompt>>,
    silence: HashMap<(CodecKind, Duration), Arc<EncodedPrompt>>,
}

impl PromptLibrary {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            resolved: HashMap::new(),
            decoded: HashMap::new(),
            encoded: HashMap::new(),
            silence: HashMap::new(),
        }
    }

    /// The file a prompt name stands for, at the top of the prompts directory (no language).
    #[cfg(test)]
    pub fn resolve(&self, name: &str) -> Result<PathBuf, PromptLoadError> {
        self.resolve_localized(name, None)
    }

    /// The file a prompt name stands for in a language: the most specific language directory
    /// holding it (`de-AT/`, `de-at/`, `de/`), else the top of the prompts directory. `None`
    /// looks at the top only.
    ///
    /// # Errors
    ///
    /// [`PromptLoadError::Escapes`] for a name leaving the prompts directory,
    /// [`PromptLoadError::InvalidLanguage`] for a tag that is not `[A-Za-z0-9]` subtags joined
    /// by single `-` (at most [`MAX_LANGUAGE_TAG`] characters), [`PromptLoadError::Missing`]
    /// (listing every file tried, relative to the prompts directory) when no file exists.
    pub fn resolve_localized(
        &self,
        name: &str,
        lang: Option<&str>,
    ) -> Result<PathBuf, PromptLoadError> {
        let relative = Path::new(name);
        if relative.is_absolute()
            || relative.components().any(|c| {
                matches!(
                    c,
                    std::path::Component::ParentDir
                        | std::path::Component::RootDir
                        | std::path::Component::Prefix(_)
                )
            })
        {
            return Err(PromptLoadError::Escapes { name: name.into() });
        }
        let mut tried = Vec::new();
        if let Some(lang) = lang {
            for tag in language_fallbacks(lang)? {
                for dir in self.language_dirs(&tag) {
                    if let Some(found) = self.find_in(&dir, name, &mut tried) {
                        return Ok(found);
                    }
                }
            }
        }
        if let Some(found) = self.find_in(Path::new(""), name, &mut tried) {
            return Ok(found);
        }
        Err(PromptLoadError::Missing {
            name: name.into(),
            dir: self.root.display().to_string(),
            tried: tried.join(", "),
        })
    }

    /// Whether a prompt exists for a language (or its fallbacks, or the top): a few `stat`
    /// calls, nothing read or decoded. An invalid name or tag has no prompt.
    #[allow(dead_code, reason = "for `herald check` and `herald ivr run --lang`")]
    pub fn has_prompt(&self, name: &str, lang: Option<&str>) -> bool {
        let key = (name.to_owned(), lang.map(str::to_owned));
        self.resolved.contains_key(&key) || self.resolve_localized(name, lang).is_ok()
    }

    /// The language directories under the prompts directory, as lowercase tags, sorted and
    /// without duplicates: the subdirectories whose name is a language tag with a primary
    /// subtag of 2 or 3 letters (`de`, `de-at`, `zh-hant-tw`; not `music` or `holidays`).
    /// Empty when the directory cannot be read.
    #[allow(dead_code, reason = "for `herald check` and `herald ivr run --lang`")]
    pub fn languages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut found: Vec<String> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let name = entry.file_name().into_string().ok()?;
                let primary = name.split('-').next()?;
                let is_language = valid_language_tag(&name)
                    && (2..=3).contains(&primary.len())
                    && primary.bytes().all(|b| b.is_ascii_alphabetic());
                (is_language && entry.path().is_dir()).then(|| name.to_ascii_lowercase())
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The decoded audio of a prompt at the top of the prompts directory, read and decoded on
    /// first use.
    #[allow(dead_code, reason = "kept for callers without a language")]
    pub fn audio(&mut self, name: &str) -> Result<Arc<PromptAudio>, PromptLoadError> {
        self.audio_localized(name, None)
    }

    /// The decoded audio of a prompt in a language (see [`Self::resolve_localized`]), read
    /// and decoded on first use; shared with every other language resolving to the same file.
    pub fn audio_localized(
        &mut self,
        name: &str,
        lang: Option<&str>,
    ) -> Result<Arc<PromptAudio>, PromptLoadError> {
        let path = self.resolve_cached(name, lang)?;
        self.audio_at(path)
    }

    /// A prompt's packets for one codec and packet time, from the top of the prompts
    /// directory, encoded on first use.
    #[cfg(test)]
    pub fn encoded(
        &mut self,
        name: &str,
        codec: CodecKind,
        ptime: Duration,
    ) -> Result<Arc<EncodedPrompt>, PromptLoadError> {
        self.encoded_localized(name, None, codec, ptime)
    }

    /// A prompt's packets in a language (see [`Self::resolve_localized`]) for one codec and
    /// packet time, encoded on first use; shared with every other language resolving to the
    /// same file.
    pub fn encoded_localized(
        &mut self,
        name: &str,
        lang: Option<&str>,
        codec: CodecKind,
        ptime: Duration,
    ) -> Result<Arc<EncodedPrompt>, PromptLoadError> {
        let path = self.resolve_cached(name, lang)?;
        self.encoded_file(path, codec, ptime)
    }

    /// An audio file anywhere (a VoiceXML document's own `<audio src>` beside it), decoded
    /// and encoded on first use, cached like the library's prompts.
    pub fn encoded_file(
        &mut self,
        path: PathBuf,
        codec: CodecKind,
        ptime: Duration,
    ) -> Result<Arc<EncodedPrompt>, PromptLoadError> {
        let key = (path, codec, ptime);
        if let Some(prompt) = self.encoded.get(&key) {
            return Ok(prompt.clone());
        }
        // Only regular files of a sane size (not /dev/zero, a FIFO, a 2 GB file).
        let regular = std::fs::metadata(&key.0)
            .map(|m| m.is_file() && m.len() <= MAX_PROMPT_BYTES)
            .unwrap_or(false);
        if !regular {
            return Err(PromptLoadError::Missing {
                name: key.0.display().to_string(),
                dir: "(a regular file under 64 MiB)".into(),
                tried: key.0.display().to_string(),
            });
        }
        let audio = self.audio_at(key.0.clone())?;
        let prompt = EncodedPrompt::encode(&audio, codec, ptime).map_err(|error| {
            PromptLoadError::Encode {
                path: key.0.display().to_string(),
                codec,
                error: error.to_string(),
            }
        })?;
        let prompt = Arc::new(prompt);
        self.encoded.insert(key, prompt.clone());
        Ok(prompt)
    }

    /// Silence of about `duration` (`<break>`), shared by every stream.
    pub fn pause(
        &mut self,
        codec: CodecKind,
        ptime: Duration,
        duration: Duration,
    ) -> Option<Arc<EncodedPrompt>> {
        let frames = (duration.as_millis() / ptime.as_millis().max(1)).clamp(1, 500) as usize;
        let key = (PathBuf::from(format!("#pause-{frames}")), codec, ptime);
        if let Some(prompt) = self.encoded.get(&key) {
            return Some(prompt.clone());
        }
        let one = self.silence(codec, ptime)?;
        let mut pause = EncodedPrompt::new(one.timestamp_step(), ptime);
        let frame = one.frame(0)?.to_vec();
        for _ in 0..frames {
            pause.push(&frame);
        }
        let pause = Arc::new(pause);
        self.encoded.insert(key, pause.clone());
        Some(pause)
    }

    /// One packet of silence for a codec and packet time, shared by every stream; `None` for
    /// a packet time the codec cannot produce.
    pub fn silence(&mut self, codec: CodecKind, ptime: Duration) -> Option<Arc<EncodedPrompt>> {
        if let Some(silence) = self.silence.get(&(codec, ptime)) {
            return Some(silence.clone());
        }
        let silence = Arc::new(EncodedPrompt::silence(codec, ptime).ok()?);
        self.silence.insert((codec, ptime), silence.clone());
        Some(silence)
    }

    /// Ten seconds of European ringback (425 Hz, 1 s on, 4 s off), looped by the caller while
    /// a transfer rings; shared by every stream with this codec and packet time.
    pub fn ringback(&mut self, codec: CodecKind, ptime: Duration) -> Option<Arc<EncodedPrompt>> {
        let key = (PathBuf::from("#ringback"), codec, ptime);
        if let Some(prompt) = self.encoded.get(&key) {
            return Some(prompt.clone());
        }
        let spec = herald_media::tone::ToneSpec::ringback_europe();
        let audio =
            herald_media::prompt::PromptAudio::tone(spec, Duration::from_secs(10), 8_000).ok()?;
        let prompt = Arc::new(EncodedPrompt::encode(&audio, codec, ptime).ok()?);
        self.encoded.insert(key, prompt.clone());
        Some(prompt)
    }

    /// Bytes held by encoded prompts (shared by every call).
    pub fn memory(&self) -> usize {
        self.encoded.values().map(|p| p.memory()).sum::<usize>()
            + self
                .decoded
                .values()
                .map(|a| a.samples().len() * 2)
                .sum::<usize>()
    }

    /// [`Self::resolve_localized`], remembered per (name, tag).
    fn resolve_cached(
        &mut self,
        name: &str,
        lang: Option<&str>,
    ) -> Result<PathBuf, PromptLoadError> {
        let key = (name.to_owned(), lang.map(str::to_owned));
        if let Some(path) = self.resolved.get(&key) {
            return Ok(path.clone());
        }
        let path = self.resolve_localized(name, lang)?;
        self.resolved.insert(key, path.clone());
        Ok(path)
    }

    /// The decoded audio of one file, decoded on first use.
    fn audio_at(&mut self, path: PathBuf) -> Result<Arc<PromptAudio>, PromptLoadError> {
        if let Some(audio) = self.decoded.get(&path) {
            return Ok(audio.clone());
        }
        let audio = Arc::new(decode_file(&path)?);
        self.decoded.insert(path, audio.clone());
        Ok(audio)
    }

    /// The directories (relative to the root) standing for one fallback level of a tag, in
    /// order: the tag as given, its lowercase spelling, then any other directory whose name
    /// matches it case-insensitively. A level with no directory yields its lowercase spelling,
    /// so that the error lists it as tried.
    fn language_dirs(&self, tag: &str) -> Vec<PathBuf> {
        let lower = tag.to_ascii_lowercase();
        let mut dirs: Vec<String> = vec![tag.to_owned()];
        if lower != tag {
            dirs.push(lower.clone());
        }
        dirs.retain(|d| self.root.join(d).is_dir());
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            let mut others: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|d| d.eq_ignore_ascii_case(tag) && !dirs.contains(d))
                .filter(|d| self.root.join(d).is_dir())
                .collect();
            others.sort();
            dirs.extend(others);
        }
        if dirs.is_empty() {
            dirs.push(lower);
        }
        dirs.into_iter().map(PathBuf::from).collect()
    }

    /// The file for `name` in `dir` (relative to the root; empty for the root itself), noting
    /// each candidate in `tried`.
    fn find_in(&self, dir: &Path, name: &str, tried: &mut Vec<String>) -> Option<PathBuf> {
        let relative = dir.join(name);
        let base = self.root.join(&relative);
        if Path::new(name).extension().is_some() {
            tried.push(relative.display().to_string());
            if base.is_file() {
                return Some(base);
            }
        }
        for ext in EXTENSIONS {
            tried.push(format!("{}.{ext}", relative.display()));
            let candidate = self.root.join(format!("{}.{ext}", relative.display()));
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        None
    }
}

/// Whether `tag` is a language tag as far as the prompt library cares: ASCII letters and
/// digits in non-empty subtags joined by single `-`, at most [`MAX_LANGUAGE_TAG`] characters.
/// Nothing else can name a directory, so a tag cannot lead out of the prompts directory.
pub fn valid_language_tag(tag: &str) -> bool {
    (1..=MAX_LANGUAGE_TAG).contains(&tag.len())
        && tag
            .split('-')
            .all(|sub| !sub.is_empty() && sub.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The fallback chain of a language tag, most specific first, as given (case kept):
/// `zh-Hant-TW` → `zh-Hant-TW`, `zh-Hant`, `zh`.
///
/// # Errors
///
/// [`PromptLoadError::InvalidLanguage`] for anything [`valid_language_tag`] refuses.
pub fn language_fallbacks(tag: &str) -> Result<Vec<String>, PromptLoadError> {
    if !valid_language_tag(tag) {
        return Err(PromptLoadError::InvalidLanguage { lang: tag.into() });
    }
    let mut chain = vec![tag.to_owned()];
    let mut rest = tag;
    while let Some((shorter, _)) = rest.rsplit_once('-') {
        chain.push(shorter.to_owned());
        rest = shorter;
    }
    Ok(chain)
}

/// The prompts directory: as configured, else `./prompts`, else the `prompts` directory of
/// the source tree the binary was built in (`target/<profile>/herald` → `../../prompts`),
/// else `/usr/share/herald/prompts`.
pub fn prompts_dir(config: &crate::config::Config) -> PathBuf {
    prompts_dir_or(config.media.prompts.as_deref())
}

/// The prompts directory: `configured`, else the search [`prompts_dir`] describes.
pub fn prompts_dir_or(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    let beside_build = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("prompts")));
    [Some(PathBuf::from("prompts")), beside_build]
        .into_iter()
        .flatten()
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from("/usr/share/herald/prompts"))
}

/// Reads and decodes one prompt file.
pub fn decode_file(path: &Path) -> Result<PromptAudio, PromptLoadError> {
    let bytes = std::fs::read(path).map_err(|error| PromptLoadError::Read {
        path: path.display().to_string(),
        error,
    })?;
    let ext = path.extension().and_then(|e| e.to_str());
    PromptAudio::decode(bytes, ext).map_err(|error| PromptLoadError::Decode {
        path: path.display().to_string(),
        error,
    })
}

/// Every audio file under `root` (recursively), for `herald check`.
pub fn audio_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 ms WAV at 8 kHz whose every sample is `level`, so files can be told apart.
    fn write_wav(path: &Path, level: i16) {
        herald_testkit::wav::write_wav(path, 8000, std::iter::repeat_n(level, 160));
    }

    /// The path of `found` relative to the library's root, with `/` separators.
    fn rel(root: &Path, found: &Path) -> String {
        found
            .strip_prefix(root)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn a_language_falls_back_from_most_to_least_specific_then_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_wav(&root.join("welcome.wav"), 1);
        write_wav(&root.join("de/welcome.wav"), 2);
        write_wav(&root.join("de-at/welcome.wav"), 3);
        write_wav(&root.join("zh-hant/welcome.wav"), 4);
        let lib = PromptLibrary::new(root);
        let at = |lang| rel(root, &lib.resolve_localized("welcome", lang).unwrap());
        assert_eq!(at(Some("de-AT")), "de-at/welcome.wav");
        assert_eq!(at(Some("de-CH")), "de/welcome.wav");
        assert_eq!(at(Some("de")), "de/welcome.wav");
        assert_eq!(at(Some("fr")), "welcome.wav", "no fr/: the root");
        assert_eq!(at(None), "welcome.wav", "no language: the root only");
        assert_eq!(at(Some("zh-Hant-TW")), "zh-hant/welcome.wav");
        assert_eq!(rel(root, &lib.resolve("welcome").unwrap()), "welcome.wav");
        assert_eq!(
            language_fallbacks("zh-Hant-TW").unwrap(),
            ["zh-Hant-TW", "zh-Hant", "zh"]
        );
        // A prompt only some levels hold is taken from the most specific that has it.
        write_wav(&root.join("de/goodbye.wav"), 5);
        assert_eq!(
            rel(
                root,
                &lib.resolve_localized("goodbye", Some("de-AT")).unwrap()
            ),
            "de/goodbye.wav"
        );
        // A name with an extension falls back the same way.
        assert_eq!(
            rel(
                root,
                &lib.resolve_localized("welcome.wav", Some("de-AT")).unwrap()
            ),
            "de-at/welcome.wav"
        );
    }

    #[test]
    fn language_directories_match_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_wav(&root.join("DE-at/welcome.wav"), 1);
        write_wav(&root.join("Fr/welcome.wav"), 2);
        std::fs::create_dir_all(root.join("music")).unwrap();
        std::fs::write(root.join("nl"), b"a file, not a language directory").unwrap();
        let lib = PromptLibrary::new(root);
        let at = |lang| rel(root, &lib.resolve_localized("welcome", Some(lang)).unwrap());
        assert_eq!(at("de-AT"), "DE-at/welcome.wav");
        assert_eq!(at("de-at"), "DE-at/welcome.wav");
        assert_eq!(at("fr"), "Fr/welcome.wav");
        assert_eq!(at("FR-be"), "Fr/welcome.wav");
        assert_eq!(lib.languages(), ["de-at", "fr"]);
        assert!(
            PromptLibrary::new(root.join("absent"))
                .languages()
                .is_empty()
        );
    }

    #[test]
    fn a_missing_prompt_lists_every_file_tried() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("de")).unwrap();
        let lib = PromptLibrary::new(root);
        let error = lib.resolve_localized("welcome", Some("de-AT")).unwrap_err();
        let PromptLoadError::Missing { name, tried, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(name, "welcome");
        let tried: Vec<&str> = tried.split(", ").collect();
        let expected: Vec<String> = ["de-at/", "de/", ""]
            .iter()
            .flat_map(|d| EXTENSIONS.map(|e| format!("{d}welcome.{e}")))
            .collect();
        assert_eq!(tried, expected);
        assert!(error.to_string().contains("de-at/welcome.flac"), "{error}");
        let error = lib.resolve("welcome").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("tried welcome.wav, welcome.flac, welcome.ogg, welcome.mp3"),
            "{error}"
        );
        assert!(!lib.has_prompt("welcome", Some("de")));
    }

    #[test]
    fn names_and_tags_cannot_leave_the_prompts_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("prompts");
        write_wav(&root.join("de/welcome.wav"), 1);
        write_wav(&dir.path().join("secret.wav"), 2);
        let lib = PromptLibrary::new(&root);
        for name in [
            "../secret",
            "../secret.wav",
            "de/../../secret",
            "/etc/passwd",
        ] {
            assert!(
                matches!(
                    lib.resolve_localized(name, Some("de")),
                    Err(PromptLoadError::Escapes { .. })
                ),
                "{name}"
            );
        }
        let long = "a".repeat(MAX_LANGUAGE_TAG + 1);
        for lang in [
            "..", "../de", "de/at", "de\\at", "", "-", "de-", "-de", "de--at", "de at", "dé",
            "de.at", &long,
        ] {
            assert!(
                matches!(
                    lib.resolve_localized("welcome", Some(lang)),
                    Err(PromptLoadError::InvalidLanguage { .. })
                ),
                "{lang:?}"
            );
            assert!(!lib.has_prompt("welcome", Some(lang)), "{lang:?}");
        }
        assert!(valid_language_tag(&"a".repeat(MAX_LANGUAGE_TAG)));
        assert!(lib.has_prompt("welcome", Some("de-AT")));
    }

    #[test]
    fn languages_resolving_to_the_same_file_share_the_cache_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_wav(&root.join("welcome.wav"), 100);
        write_wav(&root.join("de/welcome.wav"), 200);
        let mut lib = PromptLibrary::new(root);
        let ptime = Duration::from_millis(20);
        let de_at = lib.audio_localized("welcome", Some("de-AT")).unwrap();
        let de = lib.audio_localized("welcome", Some("de")).unwrap();
        let fr = lib.audio_localized("welcome", Some("fr")).unwrap();
        let top = lib.audio("welcome").unwrap();
        assert!(
            Arc::ptr_eq(&de_at, &de),
            "de-AT falls back to de/: one decode"
        );
        assert!(
            Arc::ptr_eq(&fr, &top),
            "fr falls back to the root: one decode"
        );
        assert!(!Arc::ptr_eq(&de, &top));
        // (Decoding goes through floating point: a sample may come back one step off.)
        assert!(de.samples()[0].abs_diff(200) <= 1, "{}", de.samples()[0]);
        assert!(top.samples()[0].abs_diff(100) <= 1, "{}", top.samples()[0]);

        let encoded_de_at = lib
            .encoded_localized("welcome", Some("de-AT"), CodecKind::Pcmu, ptime)
            .unwrap();
        let encoded_de = lib
            .encoded_localized("welcome", Some("de"), CodecKind::Pcmu, ptime)
            .unwrap();
        let encoded_top = lib.encoded("welcome", CodecKind::Pcmu, ptime).unwrap();
        assert!(Arc::ptr_eq(&encoded_de_at, &encoded_de));
        assert!(!Arc::ptr_eq(&encoded_de, &encoded_top));
        assert_ne!(encoded_de.frame(0), encoded_top.frame(0));
        assert_eq!(lib.decoded.len(), 2);
        assert_eq!(lib.encoded.len(), 2);

        // Once played, a prompt is served without touching its file.
        std::fs::remove_dir_all(root.join("de")).unwrap();
        let again = lib
            .encoded_localized("welcome", Some("de-AT"), CodecKind::Pcmu, ptime)
            .unwrap();
        assert!(Arc::ptr_eq(&again, &encoded_de));
        assert!(lib.has_prompt("welcome", Some("de-AT")), "remembered");
    }

    #[test]
    fn every_shipped_language_has_every_disclosure_prompt_and_all_decode() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts"));
        let lib = PromptLibrary::new(root);
        let languages = lib.languages();
        for lang in ["en", "de", "fr", "es", "it", "nl", "pl"] {
            assert!(
                languages.iter().any(|l| l == lang),
                "{lang} in {languages:?}"
            );
        }
        let check = |path: &Path| {
            let audio = decode_file(path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(audio.rate(), 16_000, "{}", path.display());
            let duration = audio.duration();
            assert!(
                duration > Duration::from_millis(500) && duration < Duration::from_secs(30),
                "{}: {duration:?}",
                path.display()
            );
            let peak = audio.samples().iter().map(|s| s.unsigned_abs()).max();
            assert!(peak > Some(8_000), "{} is (nearly) silent", path.display());
        };
        for lang in &languages {
            for name in DISCLOSURE_PROMPTS {
                let path = lib
                    .resolve_localized(name, Some(lang))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    rel(root, path.parent().unwrap()),
                    *lang,
                    "{lang}/{name} is its own, not a fallback"
                );
                check(&path);
            }
        }
        for name in ["language-menu", "welcome"] {
            check(&lib.resolve(name).unwrap_or_else(|e| panic!("{e}")));
        }
    }
}
