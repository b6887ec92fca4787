//! The store against a real PostgreSQL (`DATABASE_URL`, from `.env` at the workspace root):
//! each test gets its own freshly migrated database from `#[sqlx::test]`.

use crate::common;

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use racelab::plugins::wit::{
    ClockTime, Date, DayRef, Dividend, Entry, FinishStatus, HttpRequest, OddsBoard, OddsQuery, Operation,
    OperationKind, Pool, Quote, Race, RaceKey, RaceRef, RaceStatus, Record, ResultRow, Scratch, Sex,
};
use racelab::store::{self, JobOutput, OddsPoll, Store, StoreConfig, StoreError, WriteStats};
use sqlx::{PgPool, Row};

const PLUGIN: &str = "kra";

fn kra_tracks() -> Vec<String> {
    ["seoul", "busan", "jeju"].map(String::from).to_vec()
}

fn key(number: u8) -> RaceKey {
    RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 11, day: 28 }, number }
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, hour, minute, 0).single().expect("a valid instant")
}

fn race(number: u8, name: Option<&str>, post_time: Option<(u8, u8)>) -> Record {
    Record::Race(Race {
        key: key(number),
        meeting: None,
        name: name.map(Into::into),
        distance_m: Some(1200),
        post_time: post_time.map(|(hour, minute)| ClockTime { hour, minute }),
        grade: Some("국6등급".into()),
        field_size: Some(12),
        status: None,
    })
}

fn entry(race: u8, number: u8) -> Record {
    Record::Entry(Entry {
        race: key(race),
        number,
        runner_id: Some(format!("H{race:02}{number:02}")),
        runner_name: format!("말{number}"),
        jockey: Some("기수".into()),
        jockey_id: Some(format!("08{number:04}")),
        trainer: None,
        trainer_id: None,
        weight_kg: Some(54.5),
        rating: None,
        age: Some(4),
        sex: Some(Sex::Female),
    })
}

fn scratch(race: u8, number: u8, reason: Option<&str>) -> Record {
    Record::Scratch(Scratch { race: key(race), number, reason: reason.map(Into::into) })
}

fn odds(race: u8, pool: Pool, selection: &[u8], quote: Quote) -> Record {
    Record::Odds(OddsBoard { race: key(race), pool, selections: selection.to_vec(), quotes: vec![quote] })
}

fn result(race: u8, number: Option<u8>, runner_id: Option<&str>, position: Option<u8>) -> Record {
    Record::Result(ResultRow {
        race: key(race),
        number,
        runner_id: runner_id.map(Into::into),
        runner_name: None,
        position,
        status: FinishStatus::Finished,
        time_s: Some(72.4),
        margin: Some("½".into()),
        win_odds: Some(3.1),
        place_odds: None,
    })
}

fn dividend(race: u8, pool: Pool, selection: &[u8], payout: f64) -> Record {
    Record::Dividend(Dividend { race: key(race), pool, selection: selection.to_vec(), payout })
}

/// A day's worth of every kind of record, for one race.
fn full_output_records() -> Vec<Record> {
    vec![
        race(1, Some("일반"), Some((10, 30))),
        entry(1, 1),
        entry(1, 2),
        entry(1, 3),
        scratch(1, 3, Some("마체이상")),
        odds(1, Pool::Win, &[1], Quote::Price(2.4)),
        odds(1, Pool::Win, &[2], Quote::Capped),
        odds(1, Pool::Qnl, &[1, 2], Quote::Price(5.5)),
        odds(1, Pool::Tri, &[2, 1, 3], Quote::Price(88.0)),
        result(1, Some(1), None, Some(1)),
        result(1, None, Some("R77"), Some(2)),
        dividend(1, Pool::Win, &[1], 2.4),
        dividend(1, Pool::Qnl, &[1, 2], 6.1),
    ]
}

/// As the worker writes a job: in a transaction from `Store::begin` (generic plans).
async fn write(store: &Store, output: &JobOutput<'_>) -> Result<WriteStats, StoreError> {
    let mut tx = store.begin().await.expect("begin");
    let stats = store.write(&mut tx, output).await?;
    tx.commit().await.expect("commit");
    Ok(stats)
}

fn output<'a>(tracks: &'a [String], records: &'a [Record], captured_at: DateTime<Utc>) -> JobOutput<'a> {
    JobOutput { plugin: PLUGIN, tracks, asked: None, records, captured_at, final_odds: false }
}

const TABLES: [&str; 8] =
    ["races", "entries", "odds_polls", "odds_snapshots", "odds_latest", "results", "dividends", "raw_responses"];

async fn row_counts(pool: &PgPool) -> Vec<(&'static str, i64)> {
    let mut counts = vec![];
    for table in TABLES {
        let sql = format!("SELECT count(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.expect("count");
        counts.push((table, n));
    }
    counts
}

async fn updated_ats(pool: &PgPool) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar(
        "SELECT updated_at FROM (
             SELECT updated_at, 1 AS t, track || race_number AS k FROM races
             UNION ALL SELECT updated_at, 2, number::text FROM entries
             UNION ALL SELECT updated_at, 3, runner_key FROM results
             UNION ALL SELECT updated_at, 4, pool || selection::text FROM dividends) u
         ORDER BY t, k",
    )
    .fetch_all(pool)
    .await
    .expect("updated_at")
}

#[sqlx::test(migrations = "../migrations")]
async fn writing_the_same_output_twice_changes_nothing(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let records = full_output_records();
    let job = output(&tracks, &records, at(1, 0));

    let first = write(&store, &job).await.expect("first write");
    assert_eq!(
        first,
        WriteStats {
            races: 1,
            entries: 3,
            scratches: 1,
            odds_inserted: 4,
            odds_skipped_unchanged: 0,
            results: 2,
            dividends: 2
        }
    );
    let counts = row_counts(&pool).await;
    let stamps = updated_ats(&pool).await;

    let second = write(&store, &job).await.expect("second write");
    assert_eq!(second, WriteStats::default(), "nothing changed the second time");
    assert_eq!(row_counts(&pool).await, counts, "no row duplicated");
    assert_eq!(updated_ats(&pool).await, stamps, "updated_at only moves on a change");

    // The same output polled again later: the odds are unchanged, so nothing is stored either.
    let later = output(&tracks, &records, at(1, 5));
    let third = write(&store, &later).await.expect("third write");
    assert_eq!(third, WriteStats { odds_skipped_unchanged: 4, ..WriteStats::default() });
    assert_eq!(row_counts(&pool).await, counts);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_transaction_plans_generically_and_the_setting_ends_with_it(pool: PgPool) {
    // One connection, so the read after the commit is in the same session.
    let options = (*pool.connect_options()).clone();
    let one = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options).await.expect("connect");
    let setting = "SELECT current_setting('plan_cache_mode')";
    let before: String = sqlx::query_scalar(setting).fetch_one(&one).await.expect("read");
    let store = Store::new(one.clone(), StoreConfig { skip_unchanged_odds: true });
    let mut tx = store.begin().await.expect("begin");
    let inside: String = sqlx::query_scalar(setting).fetch_one(&mut *tx).await.expect("read");
    tx.commit().await.expect("commit");
    let after: String = sqlx::query_scalar(setting).fetch_one(&one).await.expect("read");
    assert_eq!((before.as_str(), inside.as_str(), after.as_str()), ("auto", "force_generic_plan", "auto"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_value_moves_updated_at(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    write(&store, &output(&tracks, &[race(1, Some("일반"), None)], at(1, 0))).await.expect("write");
    let before: DateTime<Utc> =
        sqlx::query_scalar("SELECT updated_at FROM races").fetch_one(&pool).await.expect("updated_at");
    let stats = write(&store, &output(&tracks, &[race(1, Some("특별"), None)], at(1, 5))).await.expect("write");
    assert_eq!(stats.races, 1);
    let (name, after): (String, DateTime<Utc>) =
        sqlx::query_as("SELECT name, updated_at FROM races").fetch_one(&pool).await.expect("row");
    assert_eq!(name, "특별");
    assert!(after > before, "updated_at moved on a change");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_record_anywhere_refuses_the_whole_output(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let mut records = full_output_records();
    records.push(odds(1, Pool::Qnl, &[4, 4], Quote::Price(3.0)));
    let bad = records.len() - 1;

    let mut tx = pool.begin().await.expect("begin");
    let err = store.write(&mut tx, &output(&tracks, &records, at(1, 0))).await.expect_err("refused");
    // Even a caller that commits anyway finds nothing written.
    tx.commit().await.expect("commit");

    let StoreError::Invalid { plugin, index, reason } = &err else { panic!("not a plugin fault: {err}") };
    assert_eq!((plugin.as_str(), *index), (PLUGIN, bad));
    assert!(reason.contains("repeats runner 4"), "{reason}");
    let message = err.to_string();
    assert!(message.contains("plugin kra") && message.contains(&format!("#{bad}")), "{message}");
    assert!(row_counts(&pool).await.iter().all(|(_, n)| *n == 0), "nothing was written");
}

#[test]
fn validation_names_what_is_wrong() {
    let tracks = kra_tracks();
    let mut on_jeju = key(1);
    on_jeju.track = "gwangmyeong".into();
    let with_key = |k: RaceKey| Record::Scratch(Scratch { race: k, number: 1, reason: None });
    let mut long = key(1);
    long.number = 41;
    let mut feb30 = key(1);
    feb30.date = Date { year: 2026, month: 2, day: 30 };
    let mut old = key(1);
    old.date.year = 1999;
    let mut unknown = key(1);
    unknown.track = "tokyo".into();
    let mut nameless = result(1, None, None, Some(1));
    if let Record::Result(r) = &mut nameless {
        r.runner_name = Some(" ".into());
    }
    let cases: Vec<(Record, &str)> = vec![
        (with_key(unknown), "unknown track"),
        (with_key(on_jeju), "not among the tracks of this job's source"),
        (with_key(long), "race number 41"),
        (with_key(feb30), "2026-02-30 does not exist"),
        (with_key(old), "outside the years"),
        (scratch(1, 0, None), "runner number 0"),
        (scratch(1, 31, None), "runner number 31"),
        (scratch(1, 2, Some("a\0b")), "NUL"),
        (scratch(1, 2, Some(&"가".repeat(201))), "201 characters"),
        (odds(1, Pool::Tri, &[1, 2], Quote::Price(3.0)), "2 runner numbers are not 1 selections of 3"),
        (odds(1, Pool::Win, &[1], Quote::Price(f64::NAN)), "not a price"),
        (odds(1, Pool::Win, &[1], Quote::Price(0.9)), "not a price"),
        (odds(1, Pool::Win, &[1], Quote::Price(100_000.0)), "not a price"),
        (dividend(1, Pool::Win, &[1], 0.0), "not a positive amount"),
        (dividend(1, Pool::Exa, &[2, 2], 5.0), "repeats runner 2"),
        (result(1, Some(1), None, Some(0)), "position 0"),
        (nameless, "names no runner"),
        (race(1, None, Some((24, 0))), "not a time of day"),
    ];
    for (record, want) in cases {
        let records = [race(1, None, None), record];
        let job = output(&tracks, &records, at(1, 0));
        match store::validate(&job) {
            Err(StoreError::Invalid { index: 1, reason, .. }) => assert!(reason.contains(want), "{want:?}: {reason}"),
            other => panic!("{want:?}: expected a refusal of record 1, got {other:?}"),
        }
    }
    assert!(store::validate(&output(&tracks, &full_output_records(), at(1, 0))).is_ok());
}

/// A plugin cannot write through its job what the job did not ask for: another source's track,
/// another race, another day, another kind of record or an odds pool not asked.
#[sqlx::test(migrations = "../migrations")]
async fn a_record_that_does_not_answer_the_job_refuses_the_output(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let race_ref = |number: u8| RaceRef { key: key(number), meeting: None };
    let results_3 = Operation::Results(race_ref(3));
    let schedule = Operation::Schedule(DayRef { track: "seoul".into(), date: key(1).date });
    let odds_3 = Operation::Odds(OddsQuery { race: race_ref(3), pools: vec![Pool::Win, Pool::Plc] });
    let mut at_gwangmyeong = result(3, Some(1), None, Some(1));
    if let Record::Result(r) = &mut at_gwangmyeong {
        r.race.track = "gwangmyeong".into();
    }
    let mut next_day = race(1, None, None);
    if let Record::Race(r) = &mut next_day {
        r.key.date.day += 1;
    }
    let cases: Vec<(&Operation, Record, &str)> = vec![
        (&results_3, at_gwangmyeong, "track gwangmyeong is not among the tracks of this job's source"),
        (&results_3, result(4, Some(1), None, Some(1)), "the job asked about seoul 2026-11-28 race 3"),
        (&results_3, dividend(2, Pool::Win, &[1], 2.5), "the job asked about seoul 2026-11-28 race 3"),
        (&results_3, entry(3, 1), "a results job cannot return it"),
        (&results_3, race(4, None, None), "the job asked about seoul 2026-11-28 race 3"),
        (&schedule, entry(1, 1), "a schedule job cannot return it"),
        (&schedule, next_day, "the job asked for the schedule of seoul 2026-11-28"),
        (&schedule, result(1, Some(1), None, Some(1)), "a schedule job cannot return it"),
        (&odds_3, odds(3, Pool::Tri, &[1, 2, 3], Quote::Price(30.0)), "the job did not ask for the TRI pool"),
        (&odds_3, odds(2, Pool::Win, &[1], Quote::Price(3.0)), "the job asked about seoul 2026-11-28 race 3"),
    ];
    for (asked, record, want) in cases {
        let records = [record];
        let job = JobOutput { asked: Some(asked), ..output(&tracks, &records, at(1, 0)) };
        let mut tx = pool.begin().await.expect("begin");
        match store.write(&mut tx, &job).await {
            Err(StoreError::Invalid { reason, .. }) => assert!(reason.contains(want), "{want:?}: {reason}"),
            other => panic!("{want:?}: expected a refusal, got {other:?}"),
        }
        tx.commit().await.expect("commit");
    }
    assert!(row_counts(&pool).await.iter().all(|(_, n)| *n == 0), "nothing was written");
    // What each job asked for is accepted.
    let fine = [
        (&results_3, vec![result(3, Some(1), None, Some(1)), dividend(3, Pool::Win, &[1], 2.5)]),
        (&schedule, vec![race(1, None, None), race(2, None, None)]),
        (&odds_3, vec![odds(3, Pool::Win, &[1], Quote::Price(3.0)), odds(3, Pool::Plc, &[1], Quote::Capped)]),
    ];
    for (asked, records) in &fine {
        let job = JobOutput { asked: Some(*asked), ..output(&tracks, records, at(1, 0)) };
        write(&store, &job).await.unwrap_or_else(|e| panic!("{asked:?}: {e}"));
    }
}

async fn stored_odds(pool: &PgPool, selection: &[i16]) -> Vec<(DateTime<Utc>, Option<f64>, bool)> {
    sqlx::query_as(
        "SELECT captured_at, price, capped FROM odds_snapshots WHERE pool = 'WIN' AND selection = $1
         ORDER BY captured_at",
    )
    .bind(selection)
    .fetch_all(pool)
    .await
    .expect("odds")
}

/// Three polls of WIN: runner 1 never changes, runner 2 drifts, runner 3 goes from a price to
/// the display cap and stays there. The last poll is the post-race one.
async fn three_polls(store: &Store) -> Vec<WriteStats> {
    let tracks = kra_tracks();
    let polls = [
        (at(0, 30), false, [Quote::Price(3.0), Quote::Price(5.0), Quote::Price(9000.0)]),
        (at(0, 35), false, [Quote::Price(3.0), Quote::Price(4.2), Quote::Capped]),
        (at(0, 40), false, [Quote::Price(3.0), Quote::Price(4.2), Quote::Capped]),
        (at(2, 0), true, [Quote::Price(3.0), Quote::Price(4.2), Quote::Capped]),
    ];
    let mut stats = vec![];
    for (captured_at, final_odds, quotes) in polls {
        let records: Vec<Record> = quotes.iter().zip(1u8..).map(|(q, n)| odds(1, Pool::Win, &[n], *q)).collect();
        let job = JobOutput { final_odds, ..output(&tracks, &records, captured_at) };
        stats.push(write(store, &job).await.expect("write"));
    }
    stats
}

#[sqlx::test(migrations = "../migrations")]
async fn unchanged_odds_are_skipped_but_the_first_and_final_are_kept(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let stats = three_polls(&store).await;
    let per_poll: Vec<(u64, u64)> = stats.iter().map(|s| (s.odds_inserted, s.odds_skipped_unchanged)).collect();
    assert_eq!(per_poll, [(3, 0), (2, 1), (0, 3), (3, 0)]);

    let times = |rows: Vec<(DateTime<Utc>, Option<f64>, bool)>| rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(times(stored_odds(&pool, &[1]).await), [at(0, 30), at(2, 0)]);
    assert_eq!(times(stored_odds(&pool, &[2]).await), [at(0, 30), at(0, 35), at(2, 0)]);
    let capped = stored_odds(&pool, &[3]).await;
    assert_eq!(capped, [(at(0, 30), Some(9000.0), false), (at(0, 35), None, true), (at(2, 0), None, true)]);

    let latest: (Option<f64>, DateTime<Utc>) =
        sqlx::query_as("SELECT price, captured_at FROM odds_latest WHERE selection = '{2}'")
            .fetch_one(&pool)
            .await
            .expect("latest");
    assert_eq!(latest, (Some(4.2), at(2, 0)), "odds_latest follows the newest stored snapshot");
}

#[sqlx::test(migrations = "../migrations")]
async fn with_the_switch_off_every_snapshot_is_kept(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: false });
    let stats = three_polls(&store).await;
    assert!(stats.iter().all(|s| s.odds_inserted == 3 && s.odds_skipped_unchanged == 0), "{stats:?}");
    for runner in 1..=3 {
        assert_eq!(stored_odds(&pool, &[runner]).await.len(), 4);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_replay_with_the_switch_off_duplicates_nothing(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: false });
    let tracks = kra_tracks();
    let records = full_output_records();
    write(&store, &output(&tracks, &records, at(1, 0))).await.expect("first");
    let counts = row_counts(&pool).await;
    let again = write(&store, &output(&tracks, &records, at(1, 0))).await.expect("again");
    assert_eq!(again, WriteStats::default());
    assert_eq!(row_counts(&pool).await, counts);
}

#[sqlx::test(migrations = "../migrations")]
async fn turning_the_switch_off_and_on_again_never_skips_a_change(pool: PgPool) {
    let on = Store::new(pool.clone(), StoreConfig::default());
    let off = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: false });
    let tracks = kra_tracks();
    let quote = |p| [odds(1, Pool::Win, &[1], Quote::Price(p))];
    let inserted = async |store: &Store, price, minute| {
        write(store, &output(&tracks, &quote(price), at(0, minute))).await.expect("write").odds_inserted
    };
    assert_eq!(inserted(&on, 3.0, 30).await, 1);
    // Off: every quote is stored and odds_latest is left as it was (3.0).
    assert_eq!(inserted(&off, 5.0, 35).await, 1);
    // On again: 3.0 equals the stale latest but not the last stored snapshot (5.0).
    assert_eq!(inserted(&on, 3.0, 40).await, 1, "compared with a stale latest");
    assert_eq!(inserted(&on, 3.0, 45).await, 0, "the latest is trusted again");
    assert_eq!(stored_odds(&pool, &[1]).await.len(), 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_late_job_is_stored_and_does_not_move_the_latest_back(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let quote = |p| [odds(1, Pool::Win, &[1], Quote::Price(p))];
    write(&store, &output(&tracks, &quote(3.0), at(0, 40))).await.expect("newer");
    let late = write(&store, &output(&tracks, &quote(3.0), at(0, 35))).await.expect("older, written late");
    assert_eq!(late.odds_inserted, 1, "compared with a newer value, equality says nothing");
    let latest: DateTime<Utc> =
        sqlx::query_scalar("SELECT captured_at FROM odds_latest").fetch_one(&pool).await.expect("latest");
    assert_eq!(latest, at(0, 40));
}

async fn partitions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'odds_polls'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("partitions")
}

#[sqlx::test(migrations = "../migrations")]
async fn partitions_are_created_ahead_and_far_months_land_in_the_default(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let around = NaiveDate::from_ymd_opt(2031, 3, 15).expect("date");
    assert_eq!(store.ensure_partitions(around, 2).await.expect("ensure"), 3);
    assert_eq!(store.ensure_partitions(around, 2).await.expect("again"), 0, "idempotent");
    let names = partitions(&pool).await;
    for month in ["2031_03", "2031_04", "2031_05"] {
        assert!(names.contains(&format!("odds_polls_{month}")), "{month} in {names:?}");
    }
    assert!(!names.contains(&"odds_polls_2031_06".to_string()));

    // Nothing covers 2040: the row goes to the default partition instead of failing.
    let tracks = kra_tracks();
    let far = Utc.with_ymd_and_hms(2040, 1, 6, 3, 0, 0).single().expect("instant");
    let records = [odds(1, Pool::Win, &[1], Quote::Price(2.0))];
    write(&store, &output(&tracks, &records, far)).await.expect("a far month still writes");
    let home = || async {
        sqlx::query_scalar::<_, String>("SELECT tableoid::regclass::text FROM odds_polls")
            .fetch_one(&pool)
            .await
            .expect("row")
    };
    assert_eq!(home().await, "odds_polls_default");

    // Creating that month later moves its rows out of the default partition.
    store.ensure_partitions(far.date_naive(), 0).await.expect("ensure 2040-01");
    assert_eq!(home().await, "odds_polls_2040_01");
}

/// (selection, price, capped, captured_at) as `racelab_board_at` / `racelab_final_odds` give.
type BoardRow = (Vec<i16>, Option<f64>, bool, DateTime<Utc>);

async fn board_at(pool: &PgPool, at: DateTime<Utc>) -> Vec<BoardRow> {
    sqlx::query_as("SELECT * FROM racelab_board_at('seoul', '2026-11-28', 1::smallint, 'WIN', $1) ORDER BY 1")
        .bind(at)
        .fetch_all(pool)
        .await
        .expect("board")
}

async fn final_odds(pool: &PgPool) -> Vec<BoardRow> {
    sqlx::query_as("SELECT * FROM racelab_final_odds('seoul', '2026-11-28', 1::smallint, 'WIN') ORDER BY 1")
        .fetch_all(pool)
        .await
        .expect("final odds")
}

/// The board as of a time reads through the unchanged-skip: a selection that did not change
/// in the latest poll keeps its earlier price. Final odds come from captures after post only.
#[sqlx::test(migrations = "../migrations")]
async fn the_board_as_of_a_time_and_the_final_odds_read_through_the_unchanged_skip(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    // Post 10:00 KST = 01:00 UTC: three polls before it, one after.
    write(&store, &output(&tracks, &[race(1, None, Some((10, 0)))], at(0, 0))).await.expect("race");
    // Runner 4 is offered before the race only (scratched before the final board).
    let early = [odds(1, Pool::Win, &[4], Quote::Price(30.0))];
    write(&store, &output(&tracks, &early, at(0, 20))).await.expect("runner 4");
    three_polls(&store).await;

    assert_eq!(board_at(&pool, at(0, 19)).await, [], "nothing stored yet");
    let board = board_at(&pool, at(0, 36)).await;
    assert_eq!(
        board,
        [
            (vec![1], Some(3.0), false, at(0, 30)),
            (vec![2], Some(4.2), false, at(0, 35)),
            (vec![3], None, true, at(0, 35)),
            (vec![4], Some(30.0), false, at(0, 20)),
        ],
        "runner 1 unchanged at 00:35 keeps its 00:30 price; the cap reads as no price"
    );
    assert_eq!(board_at(&pool, at(0, 30)).await[1], (vec![2], Some(5.0), false, at(0, 30)));
    let final_board = final_odds(&pool).await;
    assert_eq!(
        final_board,
        [(vec![1], Some(3.0), false, at(2, 0)), (vec![2], Some(4.2), false, at(2, 0)), (vec![3], None, true, at(2, 0)),],
        "the final board has no pre-race-only selection"
    );
    assert_eq!(board_at(&pool, at(23, 0)).await.len(), 4, "as of later, runner 4's last price is still there");
}

#[sqlx::test(migrations = "../migrations")]
async fn no_final_odds_before_a_capture_after_post(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    write(&store, &output(&tracks, &[race(1, None, Some((10, 0)))], at(0, 0))).await.expect("race");
    write(&store, &output(&tracks, &[odds(1, Pool::Win, &[1], Quote::Price(2.5))], at(0, 50))).await.expect("odds");
    assert_eq!(final_odds(&pool).await, []);
    assert_eq!(board_at(&pool, at(0, 50)).await.len(), 1);
}

/// History written before its months had partitions sits in the default partition; the
/// documented `racelab_move_default_odds()` moves it into monthly partitions, whole.
#[sqlx::test(migrations = "../migrations")]
async fn rows_in_the_default_partition_move_into_monthly_partitions(pool: PgPool) {
    // Every capture stored, so both months hold rows.
    let store = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: false });
    let tracks = kra_tracks();
    for (year, month) in [(2019, 3), (2019, 4)] {
        let when = Utc.with_ymd_and_hms(year, month, 9, 3, 0, 0).single().expect("instant");
        let records = [odds(1, Pool::Win, &[1], Quote::Price(2.0)), odds(1, Pool::Win, &[2], Quote::Capped)];
        write(&store, &output(&tracks, &records, when)).await.expect("history without a partition");
    }
    let homes = || async {
        sqlx::query_scalar::<_, String>("SELECT tableoid::regclass::text FROM odds_polls ORDER BY captured_at")
            .fetch_all(&pool)
            .await
            .expect("rows")
    };
    assert_eq!(homes().await, ["odds_polls_default", "odds_polls_default"]);
    let created: i32 = sqlx::query_scalar("SELECT racelab_move_default_odds()").fetch_one(&pool).await.expect("move");
    assert_eq!(created, 2);
    assert_eq!(homes().await, ["odds_polls_2019_03", "odds_polls_2019_04"]);
    let quotes: i64 = sqlx::query_scalar("SELECT count(*) FROM odds_snapshots").fetch_one(&pool).await.expect("n");
    assert_eq!(quotes, 4, "every quote moved");
    let again: i32 = sqlx::query_scalar("SELECT racelab_move_default_odds()").fetch_one(&pool).await.expect("again");
    assert_eq!(again, 0, "nothing left to move");
}

#[sqlx::test(migrations = "../migrations")]
async fn odds_reads_by_race_and_by_track_day_use_an_index(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("conn");
    // The tables are empty; forbid sequential scans so the plan shows what an index can serve.
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.expect("set");
    for read in [
        "SELECT * FROM odds_polls WHERE track = 'seoul' AND race_date = '2026-11-28' AND race_number = 3",
        "SELECT * FROM odds_polls WHERE track = 'seoul' AND race_date = '2026-11-28'",
        // The per-selection view reaches the same key.
        "SELECT * FROM odds_snapshots WHERE track = 'seoul' AND race_date = '2026-11-28' AND race_number = 3",
        "SELECT * FROM odds_snapshots WHERE track = 'seoul' AND race_date = '2026-11-28'",
    ] {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {read}")))
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{read}:\n{plan}");
    }
}

/// number, runner_name, scratched, scratch_reason, scratched_at
type EntryState = (i16, Option<String>, bool, Option<String>, Option<DateTime<Utc>>);

#[sqlx::test(migrations = "../migrations")]
async fn scratches_mark_the_entry_and_create_a_missing_one(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    write(&store, &output(&tracks, &[entry(2, 5), entry(2, 6)], at(0, 0))).await.expect("entries");
    let stats = write(&store, &output(&tracks, &[scratch(2, 5, Some("발병")), scratch(2, 9, None)], at(0, 20)))
        .await
        .expect("scratches");
    assert_eq!(stats.scratches, 2);

    let rows: Vec<EntryState> = sqlx::query_as(
        "SELECT number, runner_name, scratched, scratch_reason, scratched_at FROM entries ORDER BY number",
    )
    .fetch_all(&pool)
    .await
    .expect("entries");
    assert_eq!(
        rows,
        [
            (5, Some("말5".into()), true, Some("발병".into()), Some(at(0, 20))),
            (6, Some("말6".into()), false, None, None),
            (9, None, true, None, Some(at(0, 20))),
        ]
    );

    // Seen again later: still the first sighting, and an entry refresh does not un-scratch.
    write(&store, &output(&tracks, &[entry(2, 5), scratch(2, 5, None)], at(0, 40))).await.expect("again");
    let (scratched, reason, seen): (bool, Option<String>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT scratched, scratch_reason, scratched_at FROM entries WHERE number = 5")
            .fetch_one(&pool)
            .await
            .expect("entry 5");
    assert_eq!((scratched, reason.as_deref(), seen), (true, Some("발병"), Some(at(0, 20))));
}

/// 0.2's fields reach their columns; a race's status only moves forward (a card read again
/// after the result does not make a run race scheduled), and a cancellation stands.
#[sqlx::test(migrations = "../migrations")]
async fn contract_0_2_fields_are_stored_and_a_status_only_moves_forward(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let with_status = |status| {
        let Record::Race(r) = race(1, Some("일반"), Some((10, 30))) else { unreachable!("a race") };
        Record::Race(Race { status: Some(status), ..r })
    };
    let stored = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT status FROM races WHERE race_number = 1")
            .fetch_one(&pool)
            .await
            .expect("the race")
    };
    write(&store, &output(&tracks, &[with_status(RaceStatus::Scheduled), entry(1, 3)], at(0, 0))).await.expect("card");
    assert_eq!(stored().await.as_deref(), Some("scheduled"));
    write(&store, &output(&tracks, &[with_status(RaceStatus::Run)], at(1, 0))).await.expect("result");
    assert_eq!(stored().await.as_deref(), Some("run"));
    let again = write(&store, &output(&tracks, &[with_status(RaceStatus::Scheduled)], at(2, 0))).await.expect("card");
    assert_eq!((stored().await.as_deref(), again.races), (Some("run"), 0), "a card read again changes nothing");
    write(&store, &output(&tracks, &[with_status(RaceStatus::Cancelled)], at(3, 0))).await.expect("called off");
    write(&store, &output(&tracks, &[with_status(RaceStatus::Run)], at(4, 0))).await.expect("late result");
    assert_eq!(stored().await.as_deref(), Some("cancelled"));

    let row: (Option<String>, Option<String>, Option<i16>, Option<String>) =
        sqlx::query_as("SELECT jockey_id, trainer_id, age, sex FROM entries WHERE race_number = 1 AND number = 3")
            .fetch_one(&pool)
            .await
            .expect("the entry");
    assert_eq!(row, (Some("080003".into()), None, Some(4), Some("female".into())));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_later_race_record_fills_in_the_post_time_in_kst(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    // Odds first: the race exists as a bare key.
    write(&store, &output(&tracks, &[odds(3, Pool::Win, &[1], Quote::Price(2.0))], at(0, 0))).await.expect("odds");
    write(&store, &output(&tracks, &[race(3, Some("일반"), None)], at(0, 5))).await.expect("schedule");
    // KRA's entry sheet repeats the race with only its post time.
    let sheet = Record::Race(Race {
        key: key(3),
        meeting: None,
        name: None,
        distance_m: None,
        post_time: Some(ClockTime { hour: 10, minute: 30 }),
        grade: None,
        field_size: None,
        status: None,
    });
    write(&store, &output(&tracks, &[sheet], at(0, 10))).await.expect("entry sheet");

    let (name, distance, post): (Option<String>, Option<i32>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT name, distance_m, post_time FROM races WHERE race_number = 3")
            .fetch_one(&pool)
            .await
            .expect("race");
    assert_eq!(name.as_deref(), Some("일반"), "a later null keeps the earlier value");
    assert_eq!(distance, Some(1200));
    assert_eq!(post, Some(at(1, 30)), "10:30 KST is 01:30 UTC");
    let as_kst: String = sqlx::query_scalar(
        "SELECT to_char(post_time AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD HH24:MI') FROM races WHERE race_number = 3",
    )
    .fetch_one(&pool)
    .await
    .expect("kst");
    assert_eq!(as_kst, "2026-11-28 10:30");
}

#[sqlx::test(migrations = "../migrations")]
async fn results_key_runners_without_a_number_and_a_later_row_replaces(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let first = [result(1, Some(4), None, Some(1)), result(1, None, Some("R77"), Some(5))];
    write(&store, &output(&tracks, &first, at(3, 0))).await.expect("results");
    // An inquiry disqualifies the winner: the position goes away.
    let mut dq = result(1, Some(4), None, None);
    if let Record::Result(r) = &mut dq {
        r.status = FinishStatus::Disqualified;
    }
    write(&store, &output(&tracks, &[dq], at(3, 30))).await.expect("correction");
    let rows: Vec<(String, Option<i16>, Option<i16>, String)> =
        sqlx::query_as("SELECT runner_key, number, position, status FROM results ORDER BY runner_key")
            .fetch_all(&pool)
            .await
            .expect("results");
    assert_eq!(
        rows,
        [("4".into(), Some(4), None, "disqualified".into()), ("id:R77".into(), None, Some(5), "finished".into())]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn archive_round_trips_and_prune_keeps_what_failures_need(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let body = "<response><items>".to_string() + &"<item>서울</item>".repeat(500) + "</items></response>";
    let url = "http://127.0.0.1:8080/B551015/API26_2/entrySheet_2?serviceKey=***&rc_date=20261128";
    let request = HttpRequest {
        dataset: "API26_2".into(),
        path: "/B551015/API26_2/entrySheet_2".into(),
        query: vec![("rc_date".into(), "20261128".into())],
    };
    let op = Operation::Entries(RaceRef { key: key(3), meeting: None });
    let captured_at = at(9, 30);
    let first = store::Archived {
        source: "kra",
        operation: Some(&op),
        request: &request,
        url,
        status: 200,
        body: body.as_bytes(),
        captured_at,
    };
    let mut tx = pool.begin().await.expect("begin");
    let id = store.archive(&mut *tx, &first).await.expect("archive");
    tx.commit().await.expect("commit");

    let row = sqlx::query(
        "SELECT url, status, body_gz, body_bytes, dataset, captured_at, operation, request FROM raw_responses
         WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("row");
    let body_gz: Vec<u8> = row.get("body_gz");
    assert!(body_gz.len() * 10 < body.len(), "compressed: {} of {} bytes", body_gz.len(), body.len());
    assert_eq!(store::gunzip(&body_gz).expect("gunzip"), body.as_bytes());
    assert_eq!(row.get::<i32, _>("body_bytes") as usize, body.len());
    assert_eq!((row.get::<String, _>("url"), row.get::<i32, _>("status")), (url.to_string(), 200));
    assert_eq!(row.get::<String, _>("dataset"), "API26_2");
    // What a re-parse needs reads back as it was.
    assert_eq!(row.get::<DateTime<Utc>, _>("captured_at"), captured_at);
    let archived_op: serde_json::Value = row.get("operation");
    assert_eq!(racelab::json::operation_from(&archived_op), Ok(op.clone()));
    let archived_request: serde_json::Value = row.get("request");
    assert_eq!(racelab::json::http_request_from(&archived_request), Ok(request.clone()));

    // A query value with U+0000, which jsonb cannot hold: the body is kept all the same, without
    // what a re-parse needs (a replay counts it as unrecorded).
    let nul = HttpRequest { query: vec![("rc_date".into(), "2026\u{0}1128".into())], ..request.clone() };
    let odd = store.archive(&pool, &store::Archived { request: &nul, ..first }).await.expect("archive a NUL");
    let kept: (Option<serde_json::Value>, Option<serde_json::Value>, Vec<u8>) =
        sqlx::query_as("SELECT operation, request, body_gz FROM raw_responses WHERE id = $1")
            .bind(odd)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!((kept.0, kept.1), (None, None));
    assert_eq!(store::gunzip(&kept.2).expect("gunzip"), body.as_bytes());
    sqlx::query("DELETE FROM raw_responses WHERE id = $1").bind(odd).execute(&pool).await.expect("delete");

    // Three more, then age all but the newest past the retention.
    let mut ids = vec![id];
    for _ in 0..3 {
        let recent = store::Archived { body: b"{}", ..first };
        ids.push(store.archive(&pool, &recent).await.expect("archive"));
    }
    sqlx::query("UPDATE raw_responses SET fetched_at = now() - interval '40 days' WHERE id <> $1")
        .bind(ids[3])
        .execute(&pool)
        .await
        .expect("age");
    // An open failure keeps its response; a resolved one does not.
    sqlx::query(
        "INSERT INTO ingestion_failures (source, operation, error_kind, message, raw_response_id, resolved_at)
         VALUES ('kra', 'entries', 'malformed', 'open', $1, NULL), ('kra', 'entries', 'malformed', 'done', $2, now())",
    )
    .bind(ids[0])
    .bind(ids[1])
    .execute(&pool)
    .await
    .expect("failures");

    assert_eq!(store.prune_raw(Duration::from_secs(30 * 86_400)).await.expect("prune"), 2);
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM raw_responses ORDER BY id").fetch_all(&pool).await.expect("ids");
    assert_eq!(left, [ids[0], ids[3]]);
    let kept: Option<i64> = sqlx::query_scalar("SELECT raw_response_id FROM ingestion_failures WHERE message = 'done'")
        .fetch_one(&pool)
        .await
        .expect("resolved failure");
    assert_eq!(kept, None, "a resolved failure survives its pruned response");
}

#[sqlx::test(migrations = false)]
async fn migrating_twice_is_harmless_and_seeds_the_tracks(pool: PgPool) {
    store::migrate(&pool).await.expect("first");
    store::migrate(&pool).await.expect("second");
    let tracks: Vec<(String, String, String)> =
        sqlx::query_as("SELECT code, source, discipline FROM tracks ORDER BY code")
            .fetch_all(&pool)
            .await
            .expect("tracks");
    let codes: Vec<&str> = tracks.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(codes, ["busan", "gwangmyeong", "jeju", "misari", "seoul"]);
    assert!(tracks.contains(&("misari".into(), "kspo".into(), "boat".into())));
}

#[tokio::test]
async fn a_connection_error_never_shows_the_password() {
    // The test server refuses an unknown role at once (an unreachable one would be retried).
    let err = store::connect("postgres://racelab_no_such_role:hunter2@127.0.0.1:5432/racelab?sslmode=disable")
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("postgres://racelab_no_such_role:***@127.0.0.1:5432/racelab:"), "{message}");
    assert!(message.contains("racelab_no_such_role"), "says who was refused: {message}");
    let bad = store::connect("postgres://racelab:hunter2@127.0.0.1:5432/racelab?port=x").await.expect_err("bad URL");
    assert!(!bad.to_string().contains("hunter2"), "{bad}");
}

/// Everything the real components read from the simulator for one race day on every track is
/// accepted and stored: validation is strict, but not stricter than the sources.
#[sqlx::test(migrations = "../migrations")]
async fn real_plugin_output_for_a_race_day_is_accepted(pool: PgPool) {
    use racelab::fetch::{Endpoint, Fetcher, Secret};
    use racelab::plugins::{Limits, Plugin, Runtime};
    use racelab::runner::{self, Policy};
    use racelab_sim::{Calendar, Clock, SimConfig, Track, expect};

    const SEED: u64 = 11;
    let last = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
    let now = racelab_sim::clock::kst()
        .from_local_datetime(&last.and_hms_opt(23, 0, 0).expect("time"))
        .single()
        .expect("instant");
    let mut config = SimConfig { seed: SEED, clock: Clock::fixed(now), ..SimConfig::default() };
    config.limits.per_second = 1_000_000;
    config.limits.daily = 1_000_000;
    let sim = common::Sim::start(config);
    let endpoint =
        Endpoint::new(&sim.base_url, Some(("serviceKey".into(), Secret::new("store-test-key")))).expect("base URL");
    let fetcher = Fetcher::new(Duration::from_secs(30)).expect("client");
    let calendar = Calendar::new(SEED);
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let store = Store::new(pool.clone(), StoreConfig::default());
    let policy = Policy { retries: 0, ..Policy::default() };

    let run = async |plugin: &Plugin, op: Operation, final_odds: bool| -> WriteStats {
        let records = match runner::run(plugin, &endpoint, &fetcher, &op, &[], &policy).await {
            Ok(outcome) => outcome.records,
            Err(e) => panic!("{} {op:?}: {e}", plugin.label()),
        };
        let job = JobOutput {
            plugin: &plugin.manifest().name,
            tracks: &plugin.manifest().tracks,
            asked: Some(&op),
            records: &records,
            captured_at: Utc::now(),
            final_odds,
        };
        write(&store, &job).await.unwrap_or_else(|e| panic!("{op:?}: {e}"))
    };

    let mut odds_rows = 0;
    for (package, tracks) in [
        ("racelab-plugin-kra", &[Track::Seoul, Track::Busan, Track::Jeju][..]),
        ("racelab-plugin-kspo", &[Track::Gwangmyeong, Track::Misari][..]),
    ] {
        let plugin = runtime.load_file(&common::component(package)).expect("component loads");
        let pools = plugin.manifest().odds_pools.clone();
        for track in tracks {
            let day = *expect::race_days(&calendar, *track, last - chrono::Days::new(13), last)
                .last()
                .expect("a race day in two weeks");
            let date = Date { year: day.year() as u16, month: day.month() as u8, day: day.day() as u8 };
            run(&plugin, Operation::Schedule(DayRef { track: track.code().into(), date }), false).await;
            let races: Vec<(i16, Option<String>)> = sqlx::query_as(
                "SELECT race_number, meeting FROM races WHERE track = $1 AND race_date = $2 ORDER BY race_number",
            )
            .bind(track.code())
            .bind(day)
            .fetch_all(&pool)
            .await
            .expect("races");
            assert_eq!(races.len(), expect::day(&calendar, *track, day).len(), "{} {day}", track.code());
            for (number, meeting) in races {
                let race = RaceRef { key: RaceKey { track: track.code().into(), date, number: number as u8 }, meeting };
                run(&plugin, Operation::Entries(race.clone()), false).await;
                if plugin.manifest().operations.contains(&OperationKind::Odds) {
                    let query = OddsQuery { race: race.clone(), pools: pools.clone() };
                    odds_rows += run(&plugin, Operation::Odds(query), true).await.odds_inserted;
                }
                run(&plugin, Operation::Results(race), false).await;
            }
        }
    }
    assert!(odds_rows > 1000, "odds stored: {odds_rows}");
    let counts = row_counts(&pool).await;
    assert!(counts.iter().filter(|(t, _)| *t != "raw_responses").all(|(_, n)| *n > 0), "{counts:?}");
}

/// The poll rows of race 1, pool by pool.
async fn polls(pool: &PgPool) -> Vec<OddsPoll> {
    sqlx::query_as(
        "SELECT race_number, pool, captured_at, selections, prices FROM odds_polls
         WHERE track = 'seoul' AND race_date = '2026-11-28' ORDER BY captured_at, pool",
    )
    .fetch_all(pool)
    .await
    .expect("odds_polls")
}

/// pool, width, selections, prices
type PollShape<'a> = (&'a str, usize, Vec<&'a [i16]>, &'a [Option<f64>]);

/// pool, selection, captured_at, price, capped
type ViewRow = (String, Vec<i16>, DateTime<Utc>, Option<f64>, bool);

async fn view_rows(pool: &PgPool) -> Vec<ViewRow> {
    sqlx::query_as(
        "SELECT pool, selection, captured_at, price, capped FROM odds_snapshots ORDER BY captured_at, pool, selection",
    )
    .fetch_all(pool)
    .await
    .expect("odds_snapshots")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_poll_is_one_row_per_pool_and_the_view_gives_every_selection_back(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let first = [
        odds(1, Pool::Win, &[2], Quote::Price(4.5)),
        odds(1, Pool::Win, &[1], Quote::Capped),
        odds(1, Pool::Qnl, &[1, 3], Quote::Price(12.5)),
        odds(1, Pool::Qnl, &[1, 2], Quote::Capped),
        odds(1, Pool::Tri, &[3, 1, 2], Quote::Price(88.0)),
        odds(1, Pool::Tri, &[2, 1, 3], Quote::Capped),
    ];
    let stats = write(&store, &output(&tracks, &first, at(0, 30))).await.expect("write");
    assert_eq!(stats.odds_inserted, 6);

    let rows = polls(&pool).await;
    let shape: Vec<PollShape> = rows
        .iter()
        .map(|p| (p.pool.as_str(), p.selections.width(), p.selections.iter().collect(), &p.prices[..]))
        .collect();
    assert_eq!(
        shape,
        [
            ("QNL", 2, vec![&[1, 2][..], &[1, 3]], &[None, Some(12.5)][..]),
            ("TRI", 3, vec![&[2, 1, 3][..], &[3, 1, 2]], &[None, Some(88.0)][..]),
            ("WIN", 1, vec![&[1][..], &[2]], &[None, Some(4.5)][..]),
        ],
        "one row per pool, selections sorted, each price beside its selection"
    );
    assert!(rows.iter().all(|p| p.race_number == 1 && p.captured_at == at(0, 30)));

    let t = at(0, 30);
    let view = |pool: &str, selection: &[i16], price: Option<f64>| -> ViewRow {
        (pool.into(), selection.to_vec(), t, price, price.is_none())
    };
    assert_eq!(
        view_rows(&pool).await,
        [
            view("QNL", &[1, 2], None),
            view("QNL", &[1, 3], Some(12.5)),
            view("TRI", &[2, 1, 3], None),
            view("TRI", &[3, 1, 2], Some(88.0)),
            view("WIN", &[1], None),
            view("WIN", &[2], Some(4.5)),
        ]
    );

    // Later, only WIN 2 moves: one row, for WIN, holding that selection alone.
    let mut second = first.clone();
    second[0] = odds(1, Pool::Win, &[2], Quote::Price(3.9));
    let stats = write(&store, &output(&tracks, &second, at(0, 35))).await.expect("second poll");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (1, 5));
    let rows = polls(&pool).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[3].pool.as_str(), rows[3].selections.runners(), &rows[3].prices[..]),
        ("WIN", &[2][..], &[Some(3.9)][..])
    );

    // Nothing moves: no row at all.
    let stats = write(&store, &output(&tracks, &second, at(0, 40))).await.expect("third poll");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (0, 6));
    assert_eq!(polls(&pool).await.len(), 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rewrite_of_a_capture_adds_only_the_selections_it_lacks(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: false });
    let tracks = kra_tracks();
    let first = [odds(1, Pool::Win, &[1], Quote::Price(2.0)), odds(1, Pool::Win, &[3], Quote::Price(6.0))];
    write(&store, &output(&tracks, &first, at(0, 30))).await.expect("first");
    // The same capture again with a new selection, another pool and a different price for a
    // stored one: as with one row per selection, the stored snapshot stays and the rest is added.
    let again = [
        odds(1, Pool::Win, &[1], Quote::Price(9.0)),
        odds(1, Pool::Win, &[2], Quote::Capped),
        odds(1, Pool::Win, &[3], Quote::Price(6.0)),
        odds(1, Pool::Exa, &[2, 1], Quote::Price(30.0)),
    ];
    let stats = write(&store, &output(&tracks, &again, at(0, 30))).await.expect("again");
    assert_eq!(stats.odds_inserted, 2);
    let t = at(0, 30);
    assert_eq!(
        view_rows(&pool).await,
        [
            ("EXA".into(), vec![2, 1], t, Some(30.0), false),
            ("WIN".into(), vec![1], t, Some(2.0), false),
            ("WIN".into(), vec![2], t, None, true),
            ("WIN".into(), vec![3], t, Some(6.0), false),
        ]
    );
    assert_eq!(polls(&pool).await.len(), 2, "still one row per pool and capture");
    let stats = write(&store, &output(&tracks, &again, at(0, 30))).await.expect("a third time");
    assert_eq!(stats.odds_inserted, 0);
}

/// 0005 moves the rows of the per-selection table into poll rows, partitions included.
#[sqlx::test(migrations = false)]
async fn the_migration_to_poll_rows_keeps_every_snapshot(pool: PgPool) {
    sqlx::migrate!("../migrations").run_to(4, &pool).await.expect("0001–0004");
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::raw_sql(
        "SELECT racelab_ensure_odds_partitions('2026-11-01', 1);
         INSERT INTO odds_snapshots (track, race_date, race_number, pool, selection, captured_at, price, capped) VALUES
         ('seoul', '2026-11-28', 1, 'WIN', '{2}',     '2026-11-28 00:30+00', 4.5,  false),
         ('seoul', '2026-11-28', 1, 'WIN', '{1}',     '2026-11-28 00:30+00', NULL, true),
         ('seoul', '2026-11-28', 1, 'QNL', '{1,3}',   '2026-11-28 00:30+00', 12.5, false),
         ('seoul', '2026-11-28', 1, 'QNL', '{1,2}',   '2026-11-28 00:30+00', NULL, true),
         ('seoul', '2026-11-28', 1, 'TRI', '{3,1,2}', '2026-11-28 00:30+00', 88,   false),
         ('seoul', '2026-11-28', 1, 'TRI', '{2,1,3}', '2026-11-28 00:30+00', NULL, true),
         ('seoul', '2026-11-28', 1, 'WIN', '{2}',     '2026-11-28 00:35+00', 3.9,  false),
         ('seoul', '2040-01-06', 1, 'WIN', '{1}',     '2040-01-06 03:00+00', 2.0,  false);",
    )
    .execute(&mut *conn)
    .await
    .expect("old rows");
    let before: Vec<ViewRow> = sqlx::query_as(
        "SELECT pool::text, selection, captured_at, price, capped FROM odds_snapshots ORDER BY captured_at, pool, selection",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("before");
    drop(conn);

    // The rest (0005 onwards) as the host applies it.
    store::migrate(&pool).await.expect("migrate");
    assert_eq!(view_rows(&pool).await, before, "every snapshot, through the view");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM odds_polls").fetch_one(&pool).await.expect("count");
    assert_eq!(n, 5, "WIN, QNL and TRI at 00:30, WIN at 00:35, WIN in 2040");
    assert!(partitions(&pool).await.contains(&"odds_polls_2026_11".to_string()), "the old months are there");
    let far: String =
        sqlx::query_scalar("SELECT tableoid::regclass::text FROM odds_polls WHERE race_date = '2040-01-06'")
            .fetch_one(&pool)
            .await
            .expect("far row");
    assert_eq!(far, "odds_polls_2040_01", "0013 moves what the default partition caught into its month");
    let kind: String = sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = 'odds_snapshots'")
        .fetch_one(&pool)
        .await
        .expect("relkind");
    assert_eq!(kind, "v", "odds_snapshots is a view now");
}

/// pool, selection, price, captured_at: a row of the `odds_latest` view.
type LatestViewRow = (String, Vec<i16>, Option<f64>, DateTime<Utc>);

async fn latest_rows(pool: &PgPool) -> Vec<LatestViewRow> {
    sqlx::query_as("SELECT pool::text, selection, price, captured_at FROM odds_latest ORDER BY pool, selection")
        .fetch_all(pool)
        .await
        .expect("odds_latest")
}

/// The per-pool rows behind `odds_latest`: pool and its selections, in stored order.
async fn latest_polls(pool: &PgPool) -> Vec<(String, Vec<Vec<i16>>)> {
    let rows: Vec<(String, store::Selections)> =
        sqlx::query_as("SELECT pool::text, selections FROM odds_latest_polls ORDER BY pool")
            .fetch_all(pool)
            .await
            .expect("odds_latest_polls");
    rows.into_iter().map(|(p, s)| (p, s.iter().map(<[i16]>::to_vec).collect())).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn new_selections_join_a_pools_latest_and_the_ones_not_quoted_stay(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let first = [odds(1, Pool::Win, &[2], Quote::Price(4.0)), odds(1, Pool::Win, &[4], Quote::Price(8.0))];
    write(&store, &output(&tracks, &first, at(0, 30))).await.expect("first");
    // Runner 2 unchanged, runner 4 not quoted, runners 1, 3 and 5 new around them.
    let second = [
        odds(1, Pool::Win, &[1], Quote::Price(3.0)),
        odds(1, Pool::Win, &[2], Quote::Price(4.0)),
        odds(1, Pool::Win, &[3], Quote::Capped),
        odds(1, Pool::Win, &[5], Quote::Price(20.0)),
    ];
    let stats = write(&store, &output(&tracks, &second, at(0, 35))).await.expect("second");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (3, 1));
    let row = |s: i16, price, t| -> LatestViewRow { ("WIN".into(), vec![s], price, t) };
    assert_eq!(
        latest_rows(&pool).await,
        [
            row(1, Some(3.0), at(0, 35)),
            row(2, Some(4.0), at(0, 30)),
            row(3, None, at(0, 35)),
            row(4, Some(8.0), at(0, 30)),
            row(5, Some(20.0), at(0, 35)),
        ],
        "each selection with the capture its price was stored from"
    );
    assert_eq!(latest_polls(&pool).await, [("WIN".into(), vec![vec![1], vec![2], vec![3], vec![4], vec![5]])]);

    // The merged row compares like the old one: runner 4 back at its old price, the rest the same.
    let third = [&second[..], &[odds(1, Pool::Win, &[4], Quote::Price(8.0))]].concat();
    let stats = write(&store, &output(&tracks, &third, at(0, 40))).await.expect("third");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (0, 5));
}

#[sqlx::test(migrations = "../migrations")]
async fn each_pool_has_one_latest_row_and_only_a_changed_one_is_written(pool: PgPool) {
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let poll = |win: f64, tri: Quote| {
        [
            odds(1, Pool::Win, &[1], Quote::Price(win)),
            odds(1, Pool::Win, &[2], Quote::Price(6.0)),
            odds(1, Pool::Tri, &[1, 2, 3], tri),
            odds(1, Pool::Tri, &[3, 2, 1], Quote::Price(300.0)),
        ]
    };
    write(&store, &output(&tracks, &poll(2.0, Quote::Price(50.0)), at(0, 30))).await.expect("first");
    assert_eq!(
        latest_polls(&pool).await,
        [("TRI".into(), vec![vec![1, 2, 3], vec![3, 2, 1]]), ("WIN".into(), vec![vec![1], vec![2]])]
    );
    let row_version = async || -> Vec<(String, String)> {
        sqlx::query_as("SELECT pool::text, xmin::text FROM odds_latest_polls ORDER BY pool")
            .fetch_all(&pool)
            .await
            .expect("xmin")
    };
    let before = row_version().await;

    // Only TRI 1-2-3 moves, to the display cap: the WIN row is not written at all.
    let stats = write(&store, &output(&tracks, &poll(2.0, Quote::Capped), at(0, 35))).await.expect("second");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (1, 3));
    let after = row_version().await;
    assert_ne!(after[0], before[0], "TRI rewritten");
    assert_eq!(after[1], before[1], "WIN untouched");
    let tri = |s: &[i16], price, t| -> LatestViewRow { ("TRI".into(), s.to_vec(), price, t) };
    let win = |s: i16, price| -> LatestViewRow { ("WIN".into(), vec![s], price, at(0, 30)) };
    let expected = [
        tri(&[1, 2, 3], None, at(0, 35)),
        tri(&[3, 2, 1], Some(300.0), at(0, 30)),
        win(1, Some(2.0)),
        win(2, Some(6.0)),
    ];
    assert_eq!(latest_rows(&pool).await, expected);

    // Capped again is unchanged; the WIN move rewrites that row alone.
    let stats = write(&store, &output(&tracks, &poll(2.5, Quote::Capped), at(0, 40))).await.expect("third");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (1, 3));
    assert_eq!(row_version().await[0], after[0], "TRI untouched");
    assert_eq!(latest_rows(&pool).await[2], ("WIN".into(), vec![1], Some(2.5), at(0, 40)));
}

/// 0006 moves the per-selection `odds_latest` rows into one row per race and pool.
#[sqlx::test(migrations = false)]
async fn the_migration_to_latest_rows_per_pool_keeps_every_latest(pool: PgPool) {
    sqlx::migrate!("../migrations").run_to(5, &pool).await.expect("0001–0005");
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::raw_sql(
        "INSERT INTO odds_latest (track, race_date, race_number, pool, selection, price, capped, captured_at) VALUES
         ('seoul', '2026-11-28', 1, 'WIN', '{2}',     4.5,  false, '2026-11-28 00:30+00'),
         ('seoul', '2026-11-28', 1, 'WIN', '{10}',    NULL, true,  '2026-11-28 00:35+00'),
         ('seoul', '2026-11-28', 1, 'WIN', '{1}',     3.9,  false, '2026-11-28 00:35+00'),
         ('seoul', '2026-11-28', 1, 'QNL', '{1,3}',   12.5, false, '2026-11-28 00:30+00'),
         ('seoul', '2026-11-28', 1, 'TRI', '{3,1,2}', 88,   false, '2026-11-28 00:30+00'),
         ('seoul', '2026-11-28', 1, 'TRI', '{2,1,3}', NULL, true,  '2026-11-28 00:35+00'),
         ('seoul', '2026-11-28', 2, 'WIN', '{1}',     2.0,  false, '2026-11-28 01:00+00'),
         ('busan', '2026-11-28', 1, 'WIN', '{1}',     7.0,  false, '2026-11-28 01:00+00');",
    )
    .execute(&mut *conn)
    .await
    .expect("old rows");
    let all = "SELECT track, race_number, pool::text, selection, price, capped, captured_at FROM odds_latest
               ORDER BY track, race_number, pool, selection";
    type Row = (String, i16, String, Vec<i16>, Option<f64>, bool, DateTime<Utc>);
    let before: Vec<Row> = sqlx::query_as(all).fetch_all(&mut *conn).await.expect("before");
    assert_eq!(before.len(), 8);
    drop(conn);

    // The rest (0006 onwards) as the host applies it.
    store::migrate(&pool).await.expect("migrate");
    let after: Vec<Row> = sqlx::query_as(all).fetch_all(&pool).await.expect("after");
    assert_eq!(after, before, "every latest, through the view");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM odds_latest_polls").fetch_one(&pool).await.expect("count");
    assert_eq!(rows, 5, "seoul 1 WIN, QNL and TRI; seoul 2 WIN; busan 1 WIN");
    let kind: String = sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = 'odds_latest'")
        .fetch_one(&pool)
        .await
        .expect("relkind");
    assert_eq!(kind, "v", "odds_latest is a view now");

    // The store goes on from the moved rows: WIN 10 still capped is unchanged, WIN 1 is not.
    let store = Store::new(pool.clone(), StoreConfig::default());
    let tracks = kra_tracks();
    let poll = [
        odds(1, Pool::Win, &[1], Quote::Price(4.1)),
        odds(1, Pool::Win, &[2], Quote::Price(4.5)),
        odds(1, Pool::Win, &[10], Quote::Capped),
    ];
    let stats = write(&store, &output(&tracks, &poll, at(0, 40))).await.expect("write");
    assert_eq!((stats.odds_inserted, stats.odds_skipped_unchanged), (1, 2));
}
