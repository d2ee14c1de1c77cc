//! `herald calls list / show`: call records from the store.

/// `println!` that ends the program quietly when the reader has gone (`calls list | head`).
/// The other inspection commands use it too.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::calls_cmd::print_quietly(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use herald_store::{CallRecord, Store};

#[derive(Subcommand, Debug)]
pub enum CallsCommand {
    /// Recent calls, newest first.
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One call with its events (ID or a unique prefix of it).
    Show {
        id: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: CallsCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            CallsCommand::List {
                config,
                limit,
                json,
            } => list(open(config).await?, limit, json).await,
            CallsCommand::Show { id, config, json } => show(open(config).await?, &id, json).await,
        }
    })
}

async fn open(config: Option<PathBuf>) -> anyhow::Result<Store> {
    let config = crate::load_config(config.as_deref())?;
    let url = config.storage.database.as_str();
    // Read-only: inspecting records must never create a database or lock the one a running
    // server writes.
    Store::connect_read_only(url).await.with_context(|| {
        format!(
            "opening the database {} (has `herald serve` run with this configuration?)",
            redact_url(url)
        )
    })
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn list(store: Store, limit: u32, json: bool) -> anyhow::Result<()> {
    let calls = store.recent_calls(limit).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&calls)?);
        return Ok(());
    }
    say!(
        "{:<34} {:<9} {:<20} {:<20} {:<18} {:<6}",
        "ID",
        "STATE",
        "CALLER",
        "CALLEE",
        "CAUSE",
        "STATUS"
    );
    for c in &calls {
        say!("{}", row(c));
    }
    Ok(())
}

fn row(c: &CallRecord) -> String {
    format!(
        "{:<34} {:<9} {:<20} {:<20} {:<18} {:<6}",
        c.id,
        c.state.as_str(),
        clip(&c.caller, 20),
        clip(&c.callee, 20),
        c.hangup_cause.as_deref().unwrap_or("-"),
        c.final_status.map_or("-".to_owned(), |s| s.to_string())
    )
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

async fn show(store: Store, id: &str, json: bool) -> anyhow::Result<()> {
    let Some(call) = store.call_by_prefix(id).await? else {
        anyhow::bail!("no call with id {id:?}");
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&call)?);
        return Ok(());
    }
    let c = &call.call;
    say!("call        {}", c.id);
    say!("sip call-id {}", c.sip_call_id);
    say!("from        {}", c.from_uri);
    say!("to          {}", c.to_uri);
    say!("source      {} ({})", c.source, c.transport);
    say!("route       {}", c.route);
    say!("state       {}", c.state.as_str());
    say!(
        "hang-up     {} {}",
        c.hangup_cause.as_deref().unwrap_or("-"),
        c.final_status.map_or(String::new(), |s| s.to_string())
    );
    say!("events:");
    for e in &call.events {
        say!("  {:>13} {:<16} {}", e.at, e.kind, e.detail);
    }
    Ok(())
}

/// Writes to stdout; a closed pipe ends the program with success, as Unix tools do.
pub fn print_quietly(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error writing to stdout: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://herald:s3cret@db:5432/h"),
            "postgres://herald:***@db:5432/h"
        );
        assert_eq!(
            super::redact_url("sqlite://data/herald.db"),
            "sqlite://data/herald.db"
        );
    }
}
