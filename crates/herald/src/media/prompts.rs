//! The prompt library: prompt files under the prompts directory, decoded once, encoded once per
//! codec and packet time, and shared by every call.
//!
//! A prompt is named by its path relative to the prompts directory, with or without its
//! extension (`welcome`, `en/welcome.wav`); without one, the first of `wav`, `flac`, `ogg`,
//! `mp3` that exists is taken. A missing or undecodable prompt is an error value: `herald
//! check` prints it, and at call time the call logs it and goes on without the prompt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use herald_media::codec::CodecKind;
use herald_media::prompt::{EncodedPrompt, PromptAudio, PromptError};

/// Extensions tried, in order, for a prompt named without one.
pub const EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

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

/// Decoded prompts by file, encoded ones by the name they were asked for: once a prompt is
/// encoded, a call asking for it again touches no file.
pub struct PromptLibrary {
    root: PathBuf,
    decoded: HashMap<PathBuf, Arc<PromptAudio>>,
    encoded: HashMap<(String, CodecKind, Duration), Arc<EncodedPrompt>>,
    silence: HashMap<(CodecKind, Duration), Arc<EncodedPrompt>>,
}

impl PromptLibrary {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            decoded: HashMap::new(),
            encoded: HashMap::new(),
            silence: HashMap::new(),
        }
    }

    /// The file a prompt name stands for.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, PromptLoadError> {
        let relative = Path::new(name);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(PromptLoadError::Escapes { name: name.into() });
        }
        let direct = self.root.join(relative);
        if relative.extension().is_some() && direct.is_file() {
            return Ok(direct);
        }
        for ext in EXTENSIONS {
            let candidate = self.root.join(format!("{name}.{ext}"));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        Err(PromptLoadError::Missing {
            name: name.into(),
            dir: self.root.display().to_string(),
            tried: if relative.extension().is_some() {
                name.to_owned()
            } else {
                EXTENSIONS.map(|e| format!("{name}.{e}")).join(", ")
            },
        })
    }

    /// The decoded audio of a prompt, read and decoded on first use.
    pub fn audio(&mut self, name: &str) -> Result<Arc<PromptAudio>, PromptLoadError> {
        let path = self.resolve(name)?;
        if let Some(audio) = self.decoded.get(&path) {
            return Ok(audio.clone());
        }
        let audio = Arc::new(decode_file(&path)?);
        self.decoded.insert(path, audio.clone());
        Ok(audio)
    }

    /// A prompt's packets for one codec and packet time, encoded on first use.
    pub fn encoded(
        &mut self,
        name: &str,
        codec: CodecKind,
        ptime: Duration,
    ) -> Result<Arc<EncodedPrompt>, PromptLoadError> {
        let key = (name.to_owned(), codec, ptime);
        if let Some(prompt) = self.encoded.get(&key) {
            return Ok(prompt.clone());
        }
        let audio = self.audio(name)?;
        let prompt = EncodedPrompt::encode(&audio, codec, ptime).map_err(|error| {
            PromptLoadError::Encode {
                path: name.to_owned(),
                codec,
                error: error.to_string(),
            }
        })?;
        let prompt = Arc::new(prompt);
        self.encoded.insert(key, prompt.clone());
        Ok(prompt)
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

    /// Bytes held by encoded prompts (shared by every call).
    pub fn memory(&self) -> usize {
        self.encoded.values().map(|p| p.memory()).sum::<usize>()
            + self
                .decoded
                .values()
                .map(|a| a.samples().len() * 2)
                .sum::<usize>()
    }
}

/// The prompts directory: as configured, else `./prompts`, else the `prompts` directory of
/// the source tree the binary was built in (`target/<profile>/herald` → `../../prompts`),
/// else `/usr/share/herald/prompts`.
pub fn prompts_dir(config: &crate::config::Config) -> PathBuf {
    if let Some(dir) = &config.media.prompts {
        return dir.clone();
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
