//! `racelab retry ID | --all-open`: queues the job behind an ingestion failure again. The
//! failure stays open until the job succeeds; a running host picks the job up at once.

use std::process::ExitCode;

use clap::Args;

use crate::jobs::retry::{Retried, retry_all_open, retry_failure};
use crate::secret::Secret;
use crate::store;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "all_open"]))]
pub struct RetryArgs {
    /// The failure's id (`ingestion_failures.id`, also in its alert).
    id: Option<i64>,
    /// Every unresolved failure.
    #[arg(long)]
    all_open: bool,
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

pub async fn run(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = args.database_url.map(Secret::new) else {
        anyhow::bail!(
            "DATABASE_URL is not set: export DATABASE_URL=postgres://USER@HOST:5432/DB or pass --database-url"
        );
    };
    let pool = store::connect(url.expose()).await?;
    let clock = crate::clock::Clock::system();
    let done = match args.id {
        Some(id) => vec![retry_failure(&pool, &clock, id).await?],
        None => retry_all_open(&pool, &clock).await?,
    };
    if done.is_empty() {
        println!("no open failures");
    }
    for r in &done {
        match r {
            Retried::Queued { failure, job, task } => {
                println!("failure #{failure}: job {job} queued again (task {task})")
            }
            Retried::AlreadyQueued { failure, job } => {
                println!("failure #{failure}: job {job} is already queued")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
