//! The statements that write a job's rows: one `UNNEST` statement per kind of row, all in the
//! caller's transaction. Every upsert updates only when a value changes (`IS DISTINCT FROM`),
//! so writing the same output again changes nothing, `updated_at` included, and the returned
//! counts say what actually changed.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::error::{Result, db};
use super::rows::{self, EntryFields, RaceFields, RaceId, Rows};

/// Races and bare race keys. A `None` field keeps what is stored (a later non-null wins).
///
/// `ON CONFLICT DO UPDATE` locks every conflicting row, changed or not, until commit: the odds
/// path relies on holding its race's row (see `odds.rs`).
pub(crate) async fn races(conn: &mut PgConnection, rows: &Rows<'_>) -> Result<u64> {
    if rows.races.is_empty() {
        return Ok(0);
    }
    let mut c = KeyColumns::with_capacity(rows.races.len());
    let (mut meeting, mut name, mut distance, mut post, mut grade, mut field, mut status) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (id, f) in &rows.races {
        let RaceFields { meeting: m, name: n, distance_m, post_time, grade: g, field_size, status: s } = f;
        c.push(id);
        meeting.push(*m);
        name.push(*n);
        distance.push(*distance_m);
        post.push(*post_time);
        grade.push(*g);
        field.push(*field_size);
        status.push(*s);
    }
    // language=PostgreSQL
    let sql = "
        WITH changed AS (
            INSERT INTO races AS r (track, race_date, race_number, meeting, name, distance_m, post_time, grade,
                                    field_size, status)
            SELECT * FROM UNNEST($1::text[], $2::date[], $3::int2[], $4::text[], $5::text[], $6::int4[],
                                 $7::timestamptz[], $8::text[], $9::int2[], $10::text[])
            ON CONFLICT (track, race_date, race_number) DO UPDATE SET
                meeting = COALESCE(EXCLUDED.meeting, r.meeting),
                name = COALESCE(EXCLUDED.name, r.name),
                distance_m = COALESCE(EXCLUDED.distance_m, r.distance_m),
                post_time = COALESCE(EXCLUDED.post_time, r.post_time),
                grade = COALESCE(EXCLUDED.grade, r.grade),
                field_size = COALESCE(EXCLUDED.field_size, r.field_size),
                status = CASE WHEN array_position($11::text[], EXCLUDED.status)
                                   > COALESCE(array_position($11::text[], r.status), 0)
                              THEN EXCLUDED.status ELSE r.status END,
                updated_at = now()
            WHERE (COALESCE(EXCLUDED.meeting, r.meeting), COALESCE(EXCLUDED.name, r.name),
                   COALESCE(EXCLUDED.distance_m, r.distance_m), COALESCE(EXCLUDED.post_time, r.post_time),
                   COALESCE(EXCLUDED.grade, r.grade), COALESCE(EXCLUDED.field_size, r.field_size),
                   CASE WHEN array_position($11::text[], EXCLUDED.status)
                             > COALESCE(array_position($11::text[], r.status), 0)
                        THEN EXCLUDED.status ELSE r.status END)
                IS DISTINCT FROM (r.meeting, r.name, r.distance_m, r.post_time, r.grade, r.field_size, r.status)
            RETURNING 1
        )
        SELECT count(*) FROM changed";
    let count: i64 = sqlx::query_scalar(sql)
        .bind(&c.track)
        .bind(&c.date)
        .bind(&c.race)
        .bind(&meeting)
        .bind(&name)
        .bind(&distance)
        .bind(&post)
        .bind(&grade)
        .bind(&field)
        .bind(&status)
        .bind(&rows::RACE_STATUS_ORDER[..])
        .fetch_one(conn)
        .await
        .map_err(db("writing races"))?;
    Ok(count as u64)
}

/// Entries. A `None` field keeps what is stored; scratch columns are not touched.
pub(crate) async fn entries(conn: &mut PgConnection, rows: &Rows<'_>) -> Result<u64> {
    if rows.entries.is_empty() {
        return Ok(0);
    }
    let mut c = KeyColumns::with_capacity(rows.entries.len());
    let mut cols = EntryColumns::default();
    for ((race, n), f) in &rows.entries {
        c.push(race);
        cols.push(*n, f);
    }
    // language=PostgreSQL
    let sql = "
        WITH changed AS (
            INSERT INTO entries AS e (track, race_date, race_number, number, runner_id, runner_name, jockey, trainer,
                                      weight_kg, rating, jockey_id, trainer_id, age, sex)
            SELECT * FROM UNNEST($1::text[], $2::date[], $3::int2[], $4::int2[], $5::text[], $6::text[], $7::text[],
                                 $8::text[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::int2[],
                                 $14::text[])
            ON CONFLICT (track, race_date, race_number, number) DO UPDATE SET
                runner_id = COALESCE(EXCLUDED.runner_id, e.runner_id),
                runner_name = COALESCE(EXCLUDED.runner_name, e.runner_name),
                jockey = COALESCE(EXCLUDED.jockey, e.jockey),
                trainer = COALESCE(EXCLUDED.trainer, e.trainer),
                weight_kg = COALESCE(EXCLUDED.weight_kg, e.weight_kg),
                rating = COALESCE(EXCLUDED.rating, e.rating),
                jockey_id = COALESCE(EXCLUDED.jockey_id, e.jockey_id),
                trainer_id = COALESCE(EXCLUDED.trainer_id, e.trainer_id),
                age = COALESCE(EXCLUDED.age, e.age),
                sex = COALESCE(EXCLUDED.sex, e.sex),
                updated_at = now()
            WHERE (COALESCE(EXCLUDED.runner_id, e.runner_id), COALESCE(EXCLUDED.runner_name, e.runner_name),
                   COALESCE(EXCLUDED.jockey, e.jockey), COALESCE(EXCLUDED.trainer, e.trainer),
                   COALESCE(EXCLUDED.weight_kg, e.weight_kg), COALESCE(EXCLUDED.rating, e.rating),
                   COALESCE(EXCLUDED.jockey_id, e.jockey_id), COALESCE(EXCLUDED.trainer_id, e.trainer_id),
                   COALESCE(EXCLUDED.age, e.age), COALESCE(EXCLUDED.sex, e.sex))
                IS DISTINCT FROM (e.runner_id, e.runner_name, e.jockey, e.trainer, e.weight_kg, e.rating,
                                  e.jockey_id, e.trainer_id, e.age, e.sex)
            RETURNING 1
        )
        SELECT count(*) FROM changed";
    let count: i64 = sqlx::query_scalar(sql)
        .bind(&c.track)
        .bind(&c.date)
        .bind(&c.race)
        .bind(&cols.number)
        .bind(&cols.id)
        .bind(&cols.name)
        .bind(&cols.jockey)
        .bind(&cols.trainer)
        .bind(&cols.weight)
        .bind(&cols.rating)
        .bind(&cols.jockey_id)
        .bind(&cols.trainer_id)
        .bind(&cols.age)
        .bind(&cols.sex)
        .fetch_one(conn)
        .await
        .map_err(db("writing entries"))?;
    Ok(count as u64)
}

/// Entry fields laid out column by column, for `UNNEST`.
#[derive(Default)]
struct EntryColumns<'a> {
    number: Vec<i16>,
    id: Vec<Option<&'a str>>,
    name: Vec<Option<&'a str>>,
    jockey: Vec<Option<&'a str>>,
    trainer: Vec<Option<&'a str>>,
    weight: Vec<Option<f64>>,
    rating: Vec<Option<f64>>,
    jockey_id: Vec<Option<&'a str>>,
    trainer_id: Vec<Option<&'a str>>,
    age: Vec<Option<i16>>,
    sex: Vec<Option<&'static str>>,
}

impl<'a> EntryColumns<'a> {
    fn push(&mut self, number: i16, f: &EntryFields<'a>) {
        let EntryFields { runner_id, runner_name, jockey, jockey_id, trainer, trainer_id, weight_kg, rating, age, sex } =
            f;
        self.number.push(number);
        self.id.push(*runner_id);
        self.name.push(*runner_name);
        self.jockey.push(*jockey);
        self.trainer.push(*trainer);
        self.weight.push(*weight_kg);
        self.rating.push(*rating);
        self.jockey_id.push(*jockey_id);
        self.trainer_id.push(*trainer_id);
        self.age.push(*age);
        self.sex.push(*sex);
    }
}

/// Scratches mark the entry, creating it when the scratch comes first. `scratched_at` keeps
/// the first sighting.
pub(crate) async fn scratches(conn: &mut PgConnection, rows: &Rows<'_>, seen_at: DateTime<Utc>) -> Result<u64> {
    if rows.scratches.is_empty() {
        return Ok(0);
    }
    let mut c = KeyColumns::with_capacity(rows.scratches.len());
    let (mut number, mut reason) = (vec![], vec![]);
    for ((race, n), r) in &rows.scratches {
        c.push(race);
        number.push(*n);
        reason.push(*r);
    }
    // language=PostgreSQL
    let sql = "
        WITH changed AS (
            INSERT INTO entries AS e (track, race_date, race_number, number, scratched, scratch_reason, scratched_at)
            SELECT track, race_date, race_number, number, true, reason, $6
            FROM UNNEST($1::text[], $2::date[], $3::int2[], $4::int2[], $5::text[])
                AS u(track, race_date, race_number, number, reason)
            ON CONFLICT (track, race_date, race_number, number) DO UPDATE SET
                scratched = true,
                scratch_reason = COALESCE(EXCLUDED.scratch_reason, e.scratch_reason),
                scratched_at = COALESCE(e.scratched_at, EXCLUDED.scratched_at),
                updated_at = now()
            WHERE NOT e.scratched
               OR COALESCE(EXCLUDED.scratch_reason, e.scratch_reason) IS DISTINCT FROM e.scratch_reason
            RETURNING 1
        )
        SELECT count(*) FROM changed";
    let count: i64 = sqlx::query_scalar(sql)
        .bind(&c.track)
        .bind(&c.date)
        .bind(&c.race)
        .bind(&number)
        .bind(&reason)
        .bind(seen_at)
        .fetch_one(conn)
        .await
        .map_err(db("writing scratches"))?;
    Ok(count as u64)
}

/// Results: the later record wins whole (a disqualification clears the position).
pub(crate) async fn results(conn: &mut PgConnection, rows: &Rows<'_>) -> Result<u64> {
    if rows.results.is_empty() {
        return Ok(0);
    }
    let mut c = KeyColumns::with_capacity(rows.results.len());
    let mut runner_key = vec![];
    let (mut number, mut id, mut name, mut position, mut status) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut time, mut margin, mut win, mut place) = (vec![], vec![], vec![], vec![]);
    for ((race, key), r) in &rows.results {
        c.push(race);
        runner_key.push(key.as_str());
        number.push(r.number.map(i16::from));
        id.push(r.runner_id.as_deref());
        name.push(r.runner_name.as_deref());
        position.push(r.position.map(i16::from));
        status.push(rows::status(&r.status));
        time.push(r.time_s);
        margin.push(r.margin.as_deref());
        win.push(r.win_odds);
        place.push(r.place_odds);
    }
    // language=PostgreSQL
    let sql = "
        WITH changed AS (
            INSERT INTO results AS r (track, race_date, race_number, runner_key, number, runner_id, runner_name,
                                      position, status, time_s, margin, win_odds, place_odds)
            SELECT * FROM UNNEST($1::text[], $2::date[], $3::int2[], $4::text[], $5::int2[], $6::text[], $7::text[],
                                 $8::int2[], $9::text[], $10::float8[], $11::text[], $12::float8[], $13::float8[])
            ON CONFLICT (track, race_date, race_number, runner_key) DO UPDATE SET
                number = EXCLUDED.number, runner_id = EXCLUDED.runner_id, runner_name = EXCLUDED.runner_name,
                position = EXCLUDED.position, status = EXCLUDED.status, time_s = EXCLUDED.time_s,
                margin = EXCLUDED.margin, win_odds = EXCLUDED.win_odds, place_odds = EXCLUDED.place_odds,
                updated_at = now()
            WHERE (EXCLUDED.number, EXCLUDED.runner_id, EXCLUDED.runner_name, EXCLUDED.position, EXCLUDED.status,
                   EXCLUDED.time_s, EXCLUDED.margin, EXCLUDED.win_odds, EXCLUDED.place_odds)
                IS DISTINCT FROM (r.number, r.runner_id, r.runner_name, r.position, r.status,
                                  r.time_s, r.margin, r.win_odds, r.place_odds)
            RETURNING 1
        )
        SELECT count(*) FROM changed";
    let count: i64 = sqlx::query_scalar(sql)
        .bind(&c.track)
        .bind(&c.date)
        .bind(&c.race)
        .bind(&runner_key)
        .bind(&number)
        .bind(&id)
        .bind(&name)
        .bind(&position)
        .bind(&status)
        .bind(&time)
        .bind(&margin)
        .bind(&win)
        .bind(&place)
        .fetch_one(conn)
        .await
        .map_err(db("writing results"))?;
    Ok(count as u64)
}

/// Dividends: the later payout wins.
pub(crate) async fn dividends(conn: &mut PgConnection, rows: &Rows<'_>) -> Result<u64> {
    if rows.dividends.is_empty() {
        return Ok(0);
    }
    let mut c = SelectionColumns::with_capacity(rows.dividends.len());
    let mut payout = vec![];
    for (key, p) in &rows.dividends {
        c.push(key);
        payout.push(*p);
    }
    // language=PostgreSQL
    let sql = "
        WITH changed AS (
            INSERT INTO dividends AS d (track, race_date, race_number, pool, selection, payout)
            SELECT track, race_date, race_number, pool, array_remove(ARRAY[s1, s2, s3], NULL), payout
            FROM UNNEST($1::text[], $2::date[], $3::int2[], $4::text[], $5::int2[], $6::int2[], $7::int2[],
                        $8::float8[]) AS u(track, race_date, race_number, pool, s1, s2, s3, payout)
            ON CONFLICT (track, race_date, race_number, pool, selection) DO UPDATE SET
                payout = EXCLUDED.payout, updated_at = now()
            WHERE d.payout IS DISTINCT FROM EXCLUDED.payout
            RETURNING 1
        )
        SELECT count(*) FROM changed";
    let count: i64 = sqlx::query_scalar(sql)
        .bind(&c.key.track)
        .bind(&c.key.date)
        .bind(&c.key.race)
        .bind(&c.pool)
        .bind(&c.s1)
        .bind(&c.s2)
        .bind(&c.s3)
        .bind(&payout)
        .fetch_one(conn)
        .await
        .map_err(db("writing dividends"))?;
    Ok(count as u64)
}

/// The race key as three columns.
struct KeyColumns<'a> {
    track: Vec<&'a str>,
    date: Vec<NaiveDate>,
    race: Vec<i16>,
}

impl<'a> KeyColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        KeyColumns { track: Vec::with_capacity(n), date: Vec::with_capacity(n), race: Vec::with_capacity(n) }
    }

    fn push(&mut self, id: &RaceId<'a>) {
        self.track.push(id.track);
        self.date.push(id.date);
        self.race.push(id.number);
    }
}

/// Race key, pool and selection legs as columns.
struct SelectionColumns<'a> {
    key: KeyColumns<'a>,
    pool: Vec<&'static str>,
    s1: Vec<i16>,
    s2: Vec<Option<i16>>,
    s3: Vec<Option<i16>>,
}

impl<'a> SelectionColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        SelectionColumns {
            key: KeyColumns::with_capacity(n),
            pool: Vec::with_capacity(n),
            s1: Vec::with_capacity(n),
            s2: Vec::with_capacity(n),
            s3: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, (race, pool, selection): &rows::SelectionKey<'a>) {
        self.key.push(race);
        self.pool.push(pool);
        let (a, b, c) = rows::legs(selection);
        self.s1.push(a);
        self.s2.push(b);
        self.s3.push(c);
    }
}
