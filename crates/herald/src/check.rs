//! `herald check`: validates the configuration (and, as later issues add them, every
//! dialplan, VoiceXML document and prompt it references). Errors carry file:line:column.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

pub fn run(path: Option<&Path>) -> ExitCode {
    let config = match path {
        None => Ok(Config::default()),
        Some(p) => Config::load(p),
    };
    match config {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            let origin = path.map_or("embedded defaults".to_owned(), |p| p.display().to_string());
            println!("{origin}: configuration OK");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errors.len());
            ExitCode::FAILURE
        }
    }
}
