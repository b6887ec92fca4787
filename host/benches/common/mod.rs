//! What the benchmarks share: a database of their own on the test server.

use std::path::Path;

use sqlx::PgConnection;

/// Drops and creates database `db`.
pub async fn recreate(admin: &mut PgConnection, db: &str) -> anyhow::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut *admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut *admin).await?;
    Ok(())
}

/// `DATABASE_URL` from the environment or the workspace `.env`, else the local test server.
pub fn database_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url;
    }
    let env_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| l.trim().strip_prefix("DATABASE_URL=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub use racelab::store::with_database;
