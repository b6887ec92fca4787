//! `/api/races`: the race days as stored — cards, entries, results, dividends and odds.
//!
//! A race's id is its natural key in one path segment: `track-YYYYMMDD-number`, e.g.
//! `seoul-20261205-3`.

use std::fmt;
use std::str::FromStr;

use axum::extract::{Path, Query, State};
use axum::response::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::error::{ApiError, ErrorBody};

/// A race's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceId {
    pub track: String,
    pub date: NaiveDate,
    pub number: i16,
}

impl fmt::Display for RaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.track, self.date.format("%Y%m%d"), self.number)
    }
}

impl FromStr for RaceId {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("a race id is track-YYYYMMDD-number, e.g. seoul-20261205-3");
        let mut parts = s.rsplitn(3, '-');
        let (Some(number), Some(date), Some(track)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let number: i16 = number.parse().map_err(|_| bad())?;
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
        if track.is_empty()
            || track.contains('\0')
            || !(1..=40).contains(&number)
            || date.format("%Y%m%d").to_string().len() != 8
        {
            return Err(bad());
        }
        Ok(RaceId { track: track.to_string(), date, number })
    }
}

/// The race days asked for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RacesQuery {
    /// The race date (KST), `YYYY-MM-DD`; today on the host's clock by default.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<String>,
    /// One track (`seoul`, `busan`, `jeju`, `gwangmyeong`, `misari`); all by default.
    pub track: Option<String>,
}

/// A race as listed.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct RaceSummary {
    /// `track-YYYYMMDD-number`.
    #[sqlx(skip)]
    pub id: String,
    pub track: String,
    pub race_date: NaiveDate,
    pub race_number: i16,
    pub name: Option<String>,
    pub post_time: Option<DateTime<Utc>>,
    pub distance_m: Option<i32>,
    pub grade: Option<String>,
    pub field_size: Option<i16>,
    /// Entries not scratched.
    pub runners: i64,
    pub scratched: i64,
    /// Results and dividends are in.
    pub results_final: bool,
    /// Odds captured after post are in.
    pub final_odds: bool,
    /// The newest odds capture stored.
    pub last_odds_at: Option<DateTime<Utc>>,
    /// The next queued job for the race (`odds`, `odds_final`, `results`, …) and when it is due.
    pub next_job: Option<String>,
    pub next_job_at: Option<DateTime<Utc>>,
}

const SUMMARY: &str = "
    SELECT r.track, r.race_date, r.race_number, r.name, r.post_time, r.distance_m, r.grade, r.field_size,
           (SELECT count(*) FROM entries e WHERE (e.track, e.race_date, e.race_number) = (r.track, r.race_date, r.race_number)
                                              AND NOT e.scratched) AS runners,
           (SELECT count(*) FROM entries e WHERE (e.track, e.race_date, e.race_number) = (r.track, r.race_date, r.race_number)
                                              AND e.scratched) AS scratched,
           p.complete AS results_final, p.final_odds, r.odds_captured_at AS last_odds_at,
           n.op AS next_job, n.due AS next_job_at
    FROM races r
    JOIN race_progress p USING (track, race_date, race_number)
    LEFT JOIN LATERAL (
        SELECT j.op, GREATEST(j.slot, COALESCE(j.not_before, j.slot)) AS due FROM planned_jobs j
        WHERE j.state = 'queued' AND j.race_date = r.race_date AND j.track = r.track
          AND j.race_number IN (0, r.race_number)
        ORDER BY due LIMIT 1) n ON true";

fn with_id(mut race: RaceSummary) -> RaceSummary {
    race.id = RaceId { track: race.track.clone(), date: race.race_date, number: race.race_number }.to_string();
    race
}

#[utoipa::path(
    get,
    path = "/api/races",
    tag = "races",
    summary = "The races of a day",
    params(RacesQuery),
    responses(
        (status = 200, description = "The races, by track and number", body = Vec<RaceSummary>),
        (status = 400, description = "A date that is not YYYY-MM-DD", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    query: Result<Query<RacesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<RaceSummary>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("the query is not valid: {}", e.body_text())))?;
    let date = match q.date.as_deref() {
        None | Some("") => state.clock.today(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request("date is YYYY-MM-DD, e.g. 2026-12-05"))?,
    };
    let races: Vec<RaceSummary> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUMMARY} WHERE r.race_date = $1 AND ($2::text IS NULL OR r.track = $2) ORDER BY r.track, r.race_number"
    )))
    .bind(date)
    .bind(q.track.as_deref().filter(|t| !t.is_empty()).map(|t| super::error::text("track", t)).transpose()?)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("listing races", e))?;
    Ok(Json(races.into_iter().map(with_id).collect()))
}

/// A race with everything stored of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RaceDetail {
    pub race: RaceSummary,
    /// Every entry, scratched ones included (marked).
    pub entries: Vec<Entry>,
    /// Finishing order; empty until results are in.
    pub results: Vec<Finish>,
    pub dividends: Vec<Dividend>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Entry {
    pub number: i16,
    pub runner_id: Option<String>,
    pub runner_name: Option<String>,
    pub jockey: Option<String>,
    pub trainer: Option<String>,
    pub weight_kg: Option<f64>,
    pub rating: Option<f64>,
    pub scratched: bool,
    pub scratch_reason: Option<String>,
    /// When the host first saw the scratch.
    pub scratched_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Finish {
    pub position: Option<i16>,
    pub number: Option<i16>,
    pub runner_id: Option<String>,
    pub runner_name: Option<String>,
    /// `finished`, `disqualified`, … or `other:<source text>`.
    pub status: String,
    pub time_s: Option<f64>,
    pub margin: Option<String>,
    pub win_odds: Option<f64>,
    pub place_odds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Dividend {
    pub pool: String,
    pub selection: Vec<i16>,
    pub payout: f64,
}

/// The race `id` names, or a 404.
async fn summary(state: &ApiState, id: &RaceId) -> Result<RaceSummary, ApiError> {
    let race: Option<RaceSummary> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUMMARY} WHERE (r.track, r.race_date, r.race_number) = ($1, $2, $3)"
    )))
    .bind(&id.track)
    .bind(id.date)
    .bind(id.number)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("reading a race", e))?;
    race.map(with_id).ok_or_else(|| ApiError::not_found(format!("there is no race {id}")))
}

#[utoipa::path(
    get,
    path = "/api/races/{id}",
    tag = "races",
    summary = "A race: card, entries and scratches, results, dividends",
    params(("id" = String, Path, description = "`track-YYYYMMDD-number`", example = "seoul-20261205-3")),
    responses(
        (status = 200, description = "The race", body = RaceDetail),
        (status = 400, description = "Not a race id", body = ErrorBody),
        (status = 404, description = "No such race stored", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn detail(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Json<RaceDetail>, ApiError> {
    let id: RaceId = id.parse()?;
    let race = summary(&state, &id).await?;
    let entries: Vec<Entry> = race_rows(
        &state,
        &id,
        "SELECT number, runner_id, runner_name, jockey, trainer, weight_kg, rating, scratched, scratch_reason,
                scratched_at FROM entries WHERE (track, race_date, race_number) = ($1, $2, $3) ORDER BY number",
        "reading a race's entries",
    )
    .await?;
    let results: Vec<Finish> = race_rows(
        &state,
        &id,
        "SELECT position, number, runner_id, runner_name, status, time_s, margin, win_odds, place_odds
         FROM results WHERE (track, race_date, race_number) = ($1, $2, $3)
         ORDER BY position NULLS LAST, number NULLS LAST, runner_key",
        "reading a race's results",
    )
    .await?;
    let dividends: Vec<Dividend> = race_rows(
        &state,
        &id,
        "SELECT pool::text AS pool, selection, payout FROM dividends
         WHERE (track, race_date, race_number) = ($1, $2, $3) ORDER BY pool, selection",
        "reading a race's dividends",
    )
    .await?;
    Ok(Json(RaceDetail { race, entries, results, dividends }))
}

/// The rows of `sql`, a query with the race key as $1, $2, $3; `what` names it in the log.
async fn race_rows<T>(state: &ApiState, id: &RaceId, sql: &'static str, what: &str) -> Result<Vec<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(&id.track)
        .bind(id.date)
        .bind(id.number)
        .fetch_all(&state.pool)
        .await
        .map_err(|e| ApiError::unavailable(what, e))
}

/// A betting pool, by its KRA code (declared in the order of [`crate::json::POOLS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Pool {
    /// Win.
    #[default]
    Win,
    /// Place.
    Plc,
    /// Quinella.
    Qnl,
    /// Exacta.
    Exa,
    /// Quinella place.
    Qpl,
    /// Trio (unordered).
    Tla,
    /// Trifecta.
    Tri,
    /// Exacta-style trio (KRA 삼복승식 variants).
    Xla,
}

impl Pool {
    /// The code the store keeps: the variants are declared in the contract's order, the
    /// order of [`crate::json::POOL_CODES`].
    fn code(self) -> &'static str {
        crate::json::POOL_CODES[self as usize]
    }
}

/// Which odds of a race.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OddsQuery {
    /// The pool (WIN by default).
    #[serde(default)]
    #[param(inline)]
    pub pool: Pool,
    /// The board as of this instant (RFC 3339); the newest by default.
    pub at: Option<DateTime<Utc>>,
}

/// A race's odds in one pool: each selection's prices over time, and the board at one time.
#[derive(Debug, Serialize, ToSchema)]
pub struct RaceOdds {
    pub race: String,
    pub pool: Pool,
    /// The race's post time: captures after it are final odds.
    pub post_time: Option<DateTime<Utc>>,
    /// The instant `board` is as of; none for the newest.
    pub at: Option<DateTime<Utc>>,
    /// Each selection's stored prices, oldest first. With the unchanged-skip on, a price is
    /// stored only when it changed: a selection's price holds until its next point.
    pub series: Vec<SelectionSeries>,
    /// Every selection's latest price at or before `at`.
    pub board: Vec<BoardQuote>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SelectionSeries {
    /// Runner numbers: in order for ordered pools, ascending otherwise.
    pub selection: Vec<i16>,
    pub points: Vec<OddsPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OddsPoint {
    pub captured_at: DateTime<Utc>,
    /// None exactly when the source showed its display cap (`capped`).
    pub price: Option<f64>,
    pub capped: bool,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct BoardQuote {
    pub selection: Vec<i16>,
    pub price: Option<f64>,
    pub capped: bool,
    pub captured_at: DateTime<Utc>,
}

#[utoipa::path(
    get,
    path = "/api/races/{id}/odds",
    tag = "races",
    summary = "A race's odds in one pool: the series per selection and the board as of a time",
    params(
        ("id" = String, Path, description = "`track-YYYYMMDD-number`", example = "seoul-20261205-3"),
        OddsQuery,
    ),
    responses(
        (status = 200, description = "The odds (empty when none are stored)", body = RaceOdds),
        (status = 400, description = "Not a race id, an unknown pool or a time that is not RFC 3339", body = ErrorBody),
        (status = 404, description = "No such race stored", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn odds(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<OddsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RaceOdds>, ApiError> {
    let id: RaceId = id.parse()?;
    let Query(q) = query.map_err(|_| {
        ApiError::bad_request("pool is one of WIN, PLC, QNL, EXA, QPL, TLA, TRI, XLA; at is an RFC 3339 time")
    })?;
    let post_time: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT post_time FROM races WHERE (track, race_date, race_number) = ($1, $2, $3)")
            .bind(&id.track)
            .bind(id.date)
            .bind(id.number)
            .fetch_optional(&state.pool)
            .await
            .map_err(|e| ApiError::unavailable("reading a race", e))?;
    let Some(post_time) = post_time else {
        return Err(ApiError::not_found(format!("there is no race {id}")));
    };
    type Point = (Vec<i16>, DateTime<Utc>, Option<f64>, bool);
    let points: Vec<Point> = sqlx::query_as(
        "SELECT selection, captured_at, price, capped FROM odds_snapshots
         WHERE (track, race_date, race_number) = ($1, $2, $3) AND pool = $4
         ORDER BY selection, captured_at",
    )
    .bind(&id.track)
    .bind(id.date)
    .bind(id.number)
    .bind(q.pool.code())
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("reading a race's odds", e))?;
    let mut series: Vec<SelectionSeries> = Vec::new();
    for (selection, captured_at, price, capped) in points {
        let point = OddsPoint { captured_at, price, capped };
        match series.last_mut() {
            Some(s) if s.selection == selection => s.points.push(point),
            _ => series.push(SelectionSeries { selection, points: vec![point] }),
        }
    }
    let board: Vec<BoardQuote> = sqlx::query_as(
        "SELECT selection, price, capped, captured_at FROM racelab_board_at($1, $2, $3, $4, $5) ORDER BY selection",
    )
    .bind(&id.track)
    .bind(id.date)
    .bind(id.number)
    .bind(q.pool.code())
    .bind(q.at.unwrap_or_else(far_future))
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("reading a race's board", e))?;
    Ok(Json(RaceOdds { race: id.to_string(), pool: q.pool, post_time, at: q.at, series, board }))
}

/// A time after any capture: the board "as of now" whatever the clock says.
fn far_future() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_reads_as_its_code_and_names_the_stores_code() {
        let all = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri, Pool::Xla];
        for (pool, code) in all.into_iter().zip(crate::json::POOL_CODES) {
            assert_eq!(pool.code(), code);
            assert_eq!(serde_json::to_value(pool).expect("json"), code);
        }
    }

    #[test]
    fn a_race_id_is_track_date_number_and_reads_back() {
        let id: RaceId = "gwangmyeong-20261205-12".parse().expect("id");
        assert_eq!(
            id,
            RaceId {
                track: "gwangmyeong".into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("date"),
                number: 12
            }
        );
        assert_eq!(id.to_string(), "gwangmyeong-20261205-12");
        for bad in [
            "",
            "se\0oul-20261205-3",
            "seoul",
            "seoul-2026-12-05-3",
            "seoul-20261305-3",
            "seoul-20261205-0",
            "seoul-20261205-x",
            "-20261205-3",
            "seoul-20261205-41",
        ] {
            assert!(bad.parse::<RaceId>().is_err(), "{bad}");
        }
    }
}
