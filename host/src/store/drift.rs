//! The known shapes of each source's datasets (`source_drift`): the fields plugins reported as
//! unmapped or missing. [`record_drift`] adds what a job saw and says which fields are new to
//! the table, i.e. which shape changes happened; [`drift_by_dataset`] is `/status`' view.

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::PgPool;

use super::error::{Result, db};

/// One field of one dataset's drift: `(dataset, kind, field)`, kind `unmapped` or `missing`.
pub type DriftField = (String, &'static str, String);

/// Counts `seen` (a job's drift, each field once) against `source`'s known shapes and returns
/// the fields no job had reported before, which the caller alerts on. `plugin` (`name
/// version`) is kept with a field's first sighting. Two hosts seeing a new field at once
/// insert it once: only one of them gets it back.
pub async fn record_drift(
    pool: &PgPool,
    source: &str,
    plugin: &str,
    seen: &BTreeSet<DriftField>,
) -> Result<Vec<DriftField>> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let (mut datasets, mut kinds, mut fields) = (Vec::new(), Vec::new(), Vec::new());
    for (dataset, kind, field) in seen {
        datasets.push(dataset.as_str());
        kinds.push(*kind);
        fields.push(field.as_str());
    }
    // language=PostgreSQL
    let sql = "
        INSERT INTO source_drift AS d (source, dataset, kind, field, first_plugin)
        SELECT $1, dataset, kind, field, $2 FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(dataset, kind, field)
        ORDER BY dataset, kind, field
        ON CONFLICT (source, dataset, kind, field) DO UPDATE SET last_seen_at = now(), pages = d.pages + 1
        RETURNING dataset, kind, field, (xmax = 0) AS inserted";
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(sql)
        .bind(source)
        .bind(plugin)
        .bind(&datasets)
        .bind(&kinds)
        .bind(&fields)
        .fetch_all(pool)
        .await
        .map_err(db(format!("recording the drift of source {source}")))?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, inserted)| *inserted)
        .map(|(dataset, kind, field, _)| (dataset, if kind == "missing" { "missing" } else { "unmapped" }, field))
        .collect())
}

/// One dataset's known drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetDrift {
    pub source: String,
    pub dataset: String,
    /// Fields the responses have that the plugin does not map.
    pub unmapped: Vec<String>,
    /// Fields the plugin expects that the responses lack.
    pub missing: Vec<String>,
    /// Pages that reported drift, summed over the fields.
    pub pages: i64,
    /// When a field last showed (RFC 3339).
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

/// Every dataset with drift, by source and dataset.
pub async fn drift_by_dataset(pool: &PgPool) -> Result<Vec<DatasetDrift>> {
    // language=PostgreSQL
    let sql = "
        SELECT source, dataset,
               COALESCE(array_agg(field ORDER BY field) FILTER (WHERE kind = 'unmapped'), '{}') AS unmapped,
               COALESCE(array_agg(field ORDER BY field) FILTER (WHERE kind = 'missing'), '{}') AS missing,
               sum(pages)::int8 AS pages, max(last_seen_at) AS last_seen_at
        FROM source_drift GROUP BY source, dataset ORDER BY source, dataset";
    type Row = (String, String, Vec<String>, Vec<String>, i64, chrono::DateTime<chrono::Utc>);
    let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(pool).await.map_err(db("reading the datasets' drift"))?;
    Ok(rows
        .into_iter()
        .map(|(source, dataset, unmapped, missing, pages, last_seen_at)| DatasetDrift {
            source,
            dataset,
            unmapped,
            missing,
            pages,
            last_seen_at,
        })
        .collect())
}
