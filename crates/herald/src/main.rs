//! `herald`: the SIP/RTP media server, VoiceXML IVR and encrypted call recorder.
//!
//! This binary is the I/O shell around the sans-IO crates: it owns the tokio runtime, the
//! sockets, the clock, the database and the command line. See `docs/` for the architecture.

mod api;
mod app;
mod calls_cmd;
mod check;
mod compliance;
mod config;
mod ivr;
mod media;
mod metrics;
mod recorder;
mod router;
mod serve;
mod sip_io;
mod store_writer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "herald",
    version,
    about = "SIP/RTP media server, VoiceXML IVR and encrypted call recorder"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (SIP, media, IVR). Without --config, the embedded defaults are used.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate the configuration; errors carry file:line:column and exit non-zero.
    Check {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run and test IVR documents.
    Ivr {
        #[command(subcommand)]
        command: IvrCommand,
    },
    /// Inspect call records.
    Calls {
        #[command(subcommand)]
        command: calls_cmd::CallsCommand,
    },
    /// Recorder keys: the public keys recordings are encrypted to.
    Keys {
        #[command(subcommand)]
        command: recorder::keys_cmd::KeysCommand,
    },
    /// Encrypted recordings: list, inspect, verify, export, erase, legal holds.
    Recordings {
        #[command(subcommand)]
        command: recorder::recordings_cmd::RecordingsCommand,
    },
    /// Retention: erase what has expired.
    Retention {
        #[command(subcommand)]
        command: recorder::retention_cmd::RetentionCommand,
    },
    /// Data-subject requests: find a subject's data, export, rectify or delete it.
    Dsr {
        #[command(subcommand)]
        command: compliance::dsr_cmd::DsrCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: compliance::audit_cmd::AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum IvrCommand {
    /// Run a VoiceXML document without telephony and print what the caller would hear and do.
    Run(ivr::run_cmd::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => {
            load_config(config.as_deref()).and_then(|c| serve::run(c, config.as_deref()))
        }
        Command::Check { config } => return check::run(config.as_deref()),
        Command::Calls { command } => calls_cmd::run(command),
        Command::Keys { command } => recorder::keys_cmd::run(command),
        Command::Recordings { command } => recorder::recordings_cmd::run(command),
        Command::Retention { command } => recorder::retention_cmd::run(command),
        Command::Dsr { command } => compliance::dsr_cmd::run_dsr(command),
        Command::Audit { command } => compliance::audit_cmd::run_audit(command),
        Command::Ivr {
            command: IvrCommand::Run(args),
        } => return ivr::run_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration file, or the embedded defaults when none is given.
pub(crate) fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<config::Config> {
    match path {
        None => Ok(config::Config::default()),
        Some(p) => config::Config::load(p).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("invalid configuration:\n{}", lines.join("\n"))
        }),
    }
}
