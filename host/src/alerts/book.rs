//! The incident book in PostgreSQL: which messages go out when several host processes — or one
//! restarted — raise and resolve the same incidents.
//!
//! Each process keeps its own [`super::ledger::Ledger`] to suppress repeats without waiting;
//! before a message leaves, the delivery task asks the book, which says whether it is still due
//! across all of them: an incident is opened once (a partial unique index), reminded once per
//! window, and resolved once, by whichever process sees its failures resolved — even one that
//! never raised it. When the database does not answer, the message goes out anyway: a repeat
//! is better than a silent incident.

use std::time::Duration;

use sqlx::PgPool;

use super::Incident;
use super::ledger::Notice;

/// How long the book may take before a message goes out without it.
const BOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared book.
#[derive(Debug, Clone)]
pub struct IncidentBook {
    pool: PgPool,
    window: Duration,
}

impl IncidentBook {
    /// The book in `pool`'s database (migration 0008); `window` is the repeat window.
    pub fn new(pool: PgPool, window: Duration) -> Self {
        IncidentBook { pool, window }
    }

    /// Every incident open in the book.
    pub async fn open_incidents(&self) -> sqlx::Result<Vec<Incident>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT source, dataset, kind FROM alert_incidents WHERE resolved_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(source, dataset, kind)| Incident { source, dataset, kind }).collect())
    }

    /// The notice to send for `notice`, or `None` when another process (or this one before a
    /// restart) has already sent it. A resolve carries how long the incident was open, from
    /// the book.
    pub(super) async fn check(&self, incident: &Incident, notice: Notice) -> Option<Notice> {
        match tokio::time::timeout(BOOK_TIMEOUT, self.decide(incident, notice)).await {
            Ok(Ok(decided)) => decided,
            Ok(Err(e)) => {
                tracing::warn!(%incident, "the incident book could not be read ({e}); sending anyway");
                Some(notice)
            }
            Err(_) => {
                tracing::warn!(%incident, "the incident book did not answer within {BOOK_TIMEOUT:?}; sending anyway");
                Some(notice)
            }
        }
    }

    async fn decide(&self, i: &Incident, notice: Notice) -> sqlx::Result<Option<Notice>> {
        match notice {
            Notice::Opened => {
                let opened: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO alert_incidents (source, dataset, kind) VALUES ($1, $2, $3)
                     ON CONFLICT (source, dataset, kind) WHERE resolved_at IS NULL
                     DO UPDATE SET suppressed = alert_incidents.suppressed + 1
                     RETURNING CASE WHEN xmax = 0 THEN id END",
                )
                .bind(&i.source)
                .bind(&i.dataset)
                .bind(&i.kind)
                .fetch_one(&self.pool)
                .await?;
                Ok(opened.map(|_| Notice::Opened))
            }
            Notice::Reminder { open_for, suppressed } => {
                let due: Option<i64> = sqlx::query_scalar(
                    "UPDATE alert_incidents SET last_sent_at = now(), suppressed = suppressed + $4
                     WHERE (source, dataset, kind) = ($1, $2, $3) AND resolved_at IS NULL
                       AND last_sent_at <= now() - make_interval(secs => $5)
                     RETURNING id",
                )
                .bind(&i.source)
                .bind(&i.dataset)
                .bind(&i.kind)
                .bind(i64::try_from(suppressed).unwrap_or(i64::MAX))
                .bind(self.window.as_secs_f64())
                .fetch_optional(&self.pool)
                .await?;
                if due.is_some() {
                    return Ok(Some(Notice::Reminder { open_for, suppressed }));
                }
                // Not due — or not open at all: resolved meanwhile by another process, whose
                // resolve this one's ledger never saw. Then this raise opens it anew.
                Box::pin(self.decide(i, Notice::Opened)).await
            }
            Notice::Resolved { suppressed, .. } => {
                let closed: Option<(f64, i64)> = sqlx::query_as(
                    "UPDATE alert_incidents SET resolved_at = now()
                     WHERE (source, dataset, kind) = ($1, $2, $3) AND resolved_at IS NULL
                     RETURNING extract(epoch FROM now() - opened_at)::float8, suppressed",
                )
                .bind(&i.source)
                .bind(&i.dataset)
                .bind(&i.kind)
                .fetch_optional(&self.pool)
                .await?;
                Ok(closed.map(|(secs, booked)| Notice::Resolved {
                    open_for: Duration::from_secs_f64(secs.max(0.0)),
                    suppressed: suppressed.max(u64::try_from(booked).unwrap_or(0)),
                }))
            }
        }
    }
}
