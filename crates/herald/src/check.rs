//! `herald check`: validates the configuration, every prompt under the prompts directory,
//! every dialplan, every VoiceXML document the dialplans run (and the local files those
//! reference) and every prompt those documents play, in each language of each route.
//!
//! What passes is printed on standard output, one line per part; every problem goes to
//! standard error, one line each, `file:line:column: message` wherever there is a place to
//! point at (the prompts check names the file). The exit status is non-zero on any error.
//! A configuration that does not load stops the check there: the rest depends on it.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::ivr::check_doc::check_documents;
use crate::ivr::dialplans::{self, dialplans_dir};
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
    let (prompt_errors, library) = check_prompts(&config);
    let errors = prompt_errors + check_ivr(&config, library.as_ref());
    if errors > 0 {
        eprintln!("{errors} error(s)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Decodes every audio file under the prompts directory; prints each problem and returns how
/// many there were, and the library when the directory could be read.
fn check_prompts(config: &Config) -> (usize, Option<PromptLibrary>) {
    let dir = prompts_dir(config);
    let files = match audio_files(&dir) {
        Ok(files) => files,
        Err(error) => {
            eprintln!(
                "{}: cannot read the prompts directory: {error}",
                dir.display()
            );
            return (1, None);
        }
    };
    let mut errors = 0;
    for file in &files {
        if let Err(error) = decode_file(file) {
            eprintln!("{error}");
            errors += 1;
        }
    }
    if errors == 0 {
        println!("{}: {} prompt(s) OK", dir.display(), files.len());
    }
    (errors, Some(PromptLibrary::new(&dir)))
}

/// Loads the dialplans and checks the documents they run; prints each problem and returns
/// how many there were.
fn check_ivr(config: &Config, prompts: Option<&PromptLibrary>) -> usize {
    let dir = dialplans_dir(config);
    let plan = match dialplans::load(&dir) {
        Ok(plan) => plan,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            return errors.len();
        }
    };
    println!("{}: {} route(s) OK", dir.display(), plan.routes().len());
    let unknown_classes = check_retention_classes(config, &plan);
    note_missing_agent_groups(config, &plan);
    let report = check_documents(&plan, prompts);
    for note in &report.notes {
        println!("{note}");
    }
    for error in &report.errors {
        eprintln!("{error}");
    }
    report.errors.len() + unknown_classes
}

/// A route's agent group that is not configured is not an error (the shipped dialplans name
/// `support` before anyone has agents), but its transfers can reach nobody: say so.
fn note_missing_agent_groups(config: &Config, plan: &herald_dialplan::Dialplan) {
    let mut missing: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for route in plan.routes() {
        let herald_dialplan::Action::Answer(answer) = &route.action else {
            continue;
        };
        if let Some(group) = &answer.agent_group
            && !config.agent_groups.iter().any(|g| &g.name == group)
        {
            missing.entry(group).or_default().push(&route.name);
        }
    }
    for (group, routes) in missing {
        println!(
            "warning: agent group {group:?} (routes {}) is not configured: transfers to it find no agent until [agent_groups.{group}] names its members",
            routes.join(", ")
        );
    }
}

/// Every retention class a route names must be one of `[retention.classes]`.
fn check_retention_classes(config: &Config, plan: &herald_dialplan::Dialplan) -> usize {
    let mut problems = 0;
    for route in plan.routes() {
        let herald_dialplan::Action::Answer(answer) = &route.action else {
            continue;
        };
        let Some(class) = &answer.retention else {
            continue;
        };
        if !config.retention.classes.contains_key(class) {
            let known: Vec<&str> = config
                .retention
                .classes
                .keys()
                .map(String::as_str)
                .collect();
            eprintln!(
                "{}: route `{}`: no retention class {class:?} in the configuration; the classes are {}",
                route.source,
                route.name,
                known.join(", ")
            );
            problems += 1;
        }
    }
    problems
}
