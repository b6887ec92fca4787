//! What can go wrong in the store, split the way callers branch: the plugin's output was
//! refused (a plugin fault: record it, alert, do not retry the same output), the database failed
//! (usually passing: retry the job), or the schema could not be brought up to date (fatal at
//! start).

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record of a job's output broke the contract; nothing of the output was written.
    #[error("plugin {plugin} returned an invalid record #{index}: {reason}; the whole output was refused")]
    Invalid {
        /// The plugin that produced the output.
        plugin: String,
        /// The offending record's position in the output, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A database call failed. `context` says what the store was doing; it never holds the
    /// database password.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing, e.g. `writing odds`.
        context: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Applying the migrations failed.
    #[error("cannot migrate the database: {0}; the schema is left as it was before the failing migration")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A `Result` with a [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Wraps a driver error with what the store was doing: `.map_err(db("writing odds"))`.
pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Database { context, source }
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "<database URL>".to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            // The query may carry one too (`?password=`); drop the whole query rather than parse it.
            let path = tail.split_once('?').map_or(tail, |(path, _)| path);
            format!("{scheme}://{user}@{host}{path}")
        }
        None => {
            let path = tail.split_once('?').map_or(tail, |(path, _)| path);
            format!("{scheme}://{authority}{path}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_url("postgres://app:s3cr%40t@db:5432/racelab"), "postgres://app:***@db:5432/racelab");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
        assert_eq!(redact_url("postgres://h/x?password=s3cret&sslmode=require"), "postgres://h/x");
        assert_eq!(redact_url("postgres://a:p@ss@h/x"), "postgres://a:***@h/x");
        assert_eq!(redact_url("not a url s3cret"), "<database URL>");
    }
}
