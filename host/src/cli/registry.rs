//! `racelab plugin install | list | activate | rollback`: the plugin registry in the database
//! (see `plugins::registry`). Every running host follows what these do within a second.
//! Output follows `plugin.rs`'s contract: one JSON document on stdout, the reason on stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::plugins::Runtime;
use crate::plugins::registry::{self, Registry};
use crate::secret::Secret;
use crate::store;

/// Where the registry is.
#[derive(Debug, Args)]
pub struct Db {
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The component (.wasm).
    wasm: PathBuf,
    /// Make it the active version at once (after its checks).
    #[arg(long)]
    activate: bool,
    /// With --activate: activate even if a check fails (recorded with the activation).
    #[arg(long, requires = "activate")]
    force: bool,
    #[command(flatten)]
    db: Db,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The version, as NAME@VERSION (see `racelab plugin list`).
    spec: String,
    /// Activate even if a check fails (recorded with the activation).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    db: Db,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The plugin's name.
    name: String,
    #[command(flatten)]
    db: Db,
}

/// Who did it, for the registry's history: the user and the machine.
fn operator() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME").ok().or_else(|| std::fs::read_to_string("/etc/hostname").ok());
    format!("cli:{user}@{}", host.as_deref().map(str::trim).unwrap_or("unknown"))
}

async fn connect(db: &Db) -> anyhow::Result<Registry> {
    let Some(url) = db.database_url.clone().map(Secret::new) else {
        anyhow::bail!(
            "DATABASE_URL is not set: export DATABASE_URL=postgres://USER@HOST:5432/DB or pass --database-url"
        );
    };
    let pool = store::connect(url.expose()).await?;
    store::migrate(&pool).await?;
    Ok(Registry::new(pool))
}

fn print(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub async fn install(runtime: Arc<Runtime>, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.wasm).with_context(|| format!("cannot read {}", args.wasm.display()))?;
    let registry = connect(&args.db).await?;
    let by = operator();
    let (installed, _) = registry.install(&runtime, bytes, &by).await?;
    let activated = if args.activate {
        Some(registry.activate(&runtime, &installed.name, &installed.version, &by, args.force).await?)
    } else {
        None
    };
    print(&json!({"installed": installed, "activated": activated}));
    Ok(ExitCode::SUCCESS)
}

pub async fn list(db: Db) -> anyhow::Result<ExitCode> {
    let registry = connect(&db).await?;
    print(&json!({"versions": registry.list().await?}));
    Ok(ExitCode::SUCCESS)
}

pub async fn activate(runtime: Arc<Runtime>, args: ActivateArgs) -> anyhow::Result<ExitCode> {
    let (name, version) = registry::parse_spec(&args.spec)?;
    let registry = connect(&args.db).await?;
    let activated = registry.activate(&runtime, &name, &version, &operator(), args.force).await?;
    print(&json!({"activated": activated}));
    Ok(ExitCode::SUCCESS)
}

pub async fn rollback(runtime: Arc<Runtime>, args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let registry = connect(&args.db).await?;
    let activated = registry.rollback(&runtime, &args.name, &operator()).await?;
    print(&json!({"activated": activated}));
    Ok(ExitCode::SUCCESS)
}
