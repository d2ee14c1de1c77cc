//! `herald check`: validates the configuration and every prompt under the prompts directory
//! (and, as later issues add them, every dialplan and VoiceXML document). Errors carry
//! file:line:column for configuration, the file path for prompts.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::media::prompts::{PromptLibrary, audio_files, decode_file, prompts_dir};

pub fn run(path: Option<&Path>) -> ExitCode {
    let config = match path {
        None => Ok(Config::default()),
        Some(p) => Config::load(p),
    };
    let config = match config {
        Ok(config) => config,
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errors.len());
            return ExitCode::FAILURE;
        }
    };
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    let origin = path.map_or("embedded defaults".to_owned(), |p| p.display().to_string());
    println!("{origin}: configuration OK");
    let errors = check_prompts(&config);
    if errors > 0 {
        eprintln!("{errors} error(s)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Decodes every audio file under the prompts directory and resolves the greeting; prints
/// each problem and returns how many there were.
fn check_prompts(config: &Config) -> usize {
    let dir = prompts_dir(config);
    let files = match audio_files(&dir) {
        Ok(files) => files,
        Err(error) => {
            eprintln!(
                "{}: cannot read the prompts directory: {error}",
                dir.display()
            );
            return 1;
        }
    };
    let mut errors = 0;
    for file in &files {
        if let Err(error) = decode_file(file) {
            eprintln!("{error}");
            errors += 1;
        }
    }
    if let Err(error) = PromptLibrary::new(&dir).resolve(&config.media.greeting) {
        eprintln!("media.greeting: {error}");
        errors += 1;
    }
    if errors == 0 {
        println!("{}: {} prompt(s) OK", dir.display(), files.len());
    }
    errors
}
