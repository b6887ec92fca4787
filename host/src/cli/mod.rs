//! The `racelab` command line: argument definitions and what each subcommand does. `main.rs`
//! only parses and calls [`run`].

mod backfill;
mod demo;
mod migrate;
mod plugin;
mod registry;
mod replay;
mod retry;
mod serve;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The RaceLab ingestion host.
#[derive(Debug, Parser)]
#[command(name = "racelab", version, about)]
pub struct Cli {
    /// Log lines as JSON (for log shippers) instead of text.
    #[arg(
        long,
        global = true,
        env = "RACELAB_LOG_JSON",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with source plugins (WebAssembly components).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the data.go.kr simulator (KRA and KSPO endpoints) on a local port.
    Sim(sim::SimArgs),
    /// Bring the database schema up to date and create the coming months' odds partitions.
    Migrate(migrate::MigrateArgs),
    /// Run the daemon: plan, fetch and store, with health endpoints (configured by RACELAB_*).
    Serve(serve::ServeArgs),
    /// A whole race day in two minutes: own database, in-process simulator, fast clock.
    Demo(demo::DemoArgs),
    /// Load past days (schedule, entries, final odds, results) within the quotas; resumable.
    Backfill(backfill::BackfillArgs),
    /// Queue the job behind an ingestion failure again.
    Retry(retry::RetryArgs),
    /// Parse archived responses again with a plugin and write the records (idempotent).
    Replay(replay::ReplayArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    // The demo draws a progress line: only warnings and errors interleave with it.
    let quiet = matches!(cli.command, Command::Demo(_));
    init_logging(cli.log_json, if quiet { "warn" } else { "warn,racelab=info" });
    let result = match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Sim(args) => block_on(sim::run(args)),
        Command::Migrate(args) => block_on(migrate::run(args)),
        Command::Serve(args) => block_on(serve::run(args)),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Backfill(args) => block_on(backfill::run(args)),
        Command::Retry(args) => block_on(retry::run(args)),
        Command::Replay(args) => replay::replay(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `task` on a fresh [`async_runtime`]. The runtime is then shut down without waiting
/// for plugin calls a watchdog gave up on: a call stuck in host code must not keep the
/// process from exiting.
pub(crate) fn block_on<T>(task: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = async_runtime()?;
    let result = runtime.block_on(task);
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    result
}

/// A multi-threaded tokio runtime. Plugin calls never run on its worker threads: they go
/// through `spawn_blocking` (they are CPU-bound, and WASI's synchronous bindings block).
pub(crate) fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

fn init_logging(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RACELAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
