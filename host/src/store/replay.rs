//! Writing a replayed job (host/src/replay/): the output of an archived run, stamped with the
//! run's original capture time, written so that the database ends as the live run left it and a
//! second replay writes nothing.
//!
//! Every upsert already writes only what changed. The odds need more: the unchanged-skip
//! (`odds.rs`) compares a quote with the newest stored snapshot of its selection, which at
//! replay time may be newer than the replayed capture, and equality with a later capture says
//! nothing about this one — so the skip keeps the quote, and a quote the live run skipped would
//! become a new row. A replay decides instead as the live run did at its capture: a quote equal
//! to the newest snapshot stored *before* the capture is skipped, the rest are written with the
//! skip off, and a quote already stored at that capture is not stored again (`odds.rs` merges by
//! capture). Final odds (captured after post, as in `race_progress`, migrations/0009) are kept
//! whole and stored once per race, as the worker does: a final capture of a race that already
//! has another is left out.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use super::error::{Result, db};
use super::{JobOutput, Store, WriteStats, validate};
use crate::json;
use crate::plugins::wit::{OddsBoard, Quote, RaceKey, Record};

impl Store {
    /// [`Store::write`] for a replayed run captured at `output.captured_at` (the archive's
    /// `captured_at`); `output.final_odds` is ignored, the race's post time decides.
    pub async fn write_replayed(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        output: &JobOutput<'_>,
    ) -> Result<WriteStats> {
        validate(output)?;
        let at = output.captured_at;
        let mut kept: Vec<Record> = Vec::with_capacity(output.records.len());
        let mut by_race: Vec<(&RaceKey, Vec<&OddsBoard>)> = Vec::new();
        for record in output.records {
            match record {
                Record::Odds(o) => match by_race.iter_mut().find(|(k, _)| **k == o.race) {
                    Some((_, quotes)) => quotes.push(o),
                    None => by_race.push((&o.race, vec![o])),
                },
                other => kept.push(other.clone()),
            }
        }
        let mut skipped = 0;
        for (race, quotes) in by_race {
            let (date, number) = (validate::date(&race.date).unwrap_or_default(), i16::from(race.number));
            let context = || format!("reading the odds of {} {date} race {number} before {at}", race.track);
            let conn: &mut PgConnection = tx;
            let (is_final, other_final) =
                final_capture(conn, &race.track, date, number, at).await.map_err(db(context()))?;
            if is_final {
                if !other_final {
                    kept.extend(quotes.into_iter().map(|o| Record::Odds(o.clone())));
                }
                continue;
            }
            let before = if self.config.skip_unchanged_odds {
                latest_before(conn, &race.track, date, number, at).await.map_err(db(context()))?
            } else {
                HashMap::new()
            };
            for board in quotes {
                let mut changed = OddsBoard {
                    race: board.race.clone(),
                    pool: board.pool,
                    selections: Vec::new(),
                    quotes: Vec::new(),
                };
                for (selection, quote) in board.prices() {
                    let price = match quote {
                        Quote::Price(p) => Some(p),
                        Quote::Capped => None,
                    };
                    let key: Vec<i16> = selection.iter().map(|n| i16::from(*n)).collect();
                    if before.get(&(json::pool(board.pool), key)) == Some(&price) {
                        skipped += 1;
                    } else {
                        changed.selections.extend_from_slice(selection);
                        changed.quotes.push(quote);
                    }
                }
                if !changed.quotes.is_empty() {
                    kept.push(Record::Odds(changed));
                }
            }
        }
        // Every odds quote left is to be stored whatever the latest says: the decision is made.
        let replayed = JobOutput { records: &kept, final_odds: true, ..*output };
        let mut stats = self.write(tx, &replayed).await?;
        stats.odds_skipped_unchanged += skipped;
        Ok(stats)
    }
}

/// Whether `at` is after the race's post time, and whether the race has odds captured after
/// post at another capture (the final odds are in already). A race not stored, or without a
/// post time, has neither.
async fn final_capture(
    conn: &mut PgConnection,
    track: &str,
    date: NaiveDate,
    number: i16,
    at: DateTime<Utc>,
) -> sqlx::Result<(bool, bool)> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "SELECT COALESCE(r.post_time < $4, false),
                EXISTS (SELECT 1 FROM odds_polls p
                        WHERE p.track = r.track AND p.race_date = r.race_date AND p.race_number = r.race_number
                          AND p.captured_at > r.post_time AND p.captured_at <> $4)
         FROM races r WHERE r.track = $1 AND r.race_date = $2 AND r.race_number = $3",
    )
    .bind(track)
    .bind(date)
    .bind(number)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or((false, false)))
}

/// The newest stored price (`None`: the display cap) of each of the race's selections captured
/// before `at`, by pool code and selection.
async fn latest_before(
    conn: &mut PgConnection,
    track: &str,
    date: NaiveDate,
    number: i16,
    at: DateTime<Utc>,
) -> sqlx::Result<HashMap<(&'static str, Vec<i16>), Option<f64>>> {
    let rows: Vec<(String, Vec<i16>, Option<f64>)> = sqlx::query_as(
        "SELECT DISTINCT ON (pool, selection) pool::text, selection, price
         FROM odds_snapshots
         WHERE track = $1 AND race_date = $2 AND race_number = $3 AND captured_at < $4
         ORDER BY pool, selection, captured_at DESC",
    )
    .bind(track)
    .bind(date)
    .bind(number)
    .bind(at)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(pool, selection, price)| {
            let code = json::POOL_CODES.into_iter().find(|c| *c == pool)?;
            Some(((code, selection), price))
        })
        .collect())
}
