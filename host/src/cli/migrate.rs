//! `racelab migrate`: brings a database's schema up to date and creates the odds partitions
//! for the coming months. Safe to run while hosts are running, and from several places at
//! once (sqlx migrates under an advisory lock; partitions are created idempotently).

use std::process::ExitCode;

use clap::Args;

use crate::secret::Secret;
use crate::store::{self, Store, StoreConfig};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Months of odds partitions to create after the current one.
    #[arg(long, default_value_t = 3)]
    months_ahead: u32,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = args.database_url.map(Secret::new) else {
        anyhow::bail!(
            "DATABASE_URL is not set: export DATABASE_URL=postgres://USER@HOST:5432/DB or pass --database-url"
        );
    };
    let pool = store::connect(url.expose()).await?;
    store::migrate(&pool).await?;
    let today = chrono::Utc::now().with_timezone(&crate::clock::kst()).date_naive();
    let created = Store::new(pool, StoreConfig::default()).ensure_partitions(today, args.months_ahead).await?;
    eprintln!("schema up to date; {created} odds partitions created (through {} months ahead)", args.months_ahead);
    Ok(ExitCode::SUCCESS)
}
