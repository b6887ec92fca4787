//! A source changes its format: the simulator's KRA entry sheet (API26_2) gains a field and
//! loses one, its KSPO cycle card (15107830) gains one, from the first answer of the day. The
//! parse does not break; every dataset's change is counted in `source_drift`, once per field
//! however many pages show it; Slack hears of each dataset's change once, not once per page,
//! and not again as the day goes on; a dataset that did not change raises nothing.

use crate::common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, FakeSlack, busiest_day, kst, post_window};
use racelab::alerts::{self, AlertConfig, SlackTarget, SystemClock};
use racelab_sim::{ShapeChange, SimConfig};
use sqlx::PgPool;

const SEED: u64 = 23;

/// source, dataset, kind, field, pages
type DriftRow = (String, String, String, String, i64);

async fn drift_rows(pool: &PgPool) -> Vec<DriftRow> {
    sqlx::query_as("SELECT source, dataset, kind, field, pages FROM source_drift ORDER BY source, dataset, kind, field")
        .fetch_all(pool)
        .await
        .expect("drift")
}

#[sqlx::test(migrations = false)]
async fn a_format_change_is_counted_and_alerted_once_per_dataset(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let slack = FakeSlack::start().await;
    let alert_config = AlertConfig { target: Some(SlackTarget::webhook(slack.url.clone())), ..AlertConfig::default() };
    let (alerter, alert_task) = alerts::spawn(alert_config, SystemClock).expect("alerts start");
    let shape_changes = vec![
        ShapeChange { dataset: "API26_2".into(), add: vec!["hrNameCn".into()], drop: vec!["trNo".into()] },
        ShapeChange { dataset: "15107830".into(), add: vec!["racer_no".into()], drop: vec![] },
    ];
    let options = DayOptions {
        sim: SimConfig { seed: SEED, shape_changes, ..SimConfig::default() },
        daily_quota: Some(100_000),
        alerter: Some(alerter.clone()),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(first_post + TimeDelta::minutes(5), TimeDelta::minutes(5)).await;

    // The entry sheet still parses: every KRA entry stored, with its jockey id and without the
    // trainer id the source no longer sends.
    let (entries, jockeys, trainers): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(jockey_id), count(trainer_id) FROM entries
         WHERE race_date = $1 AND track IN ('seoul', 'busan', 'jeju')",
    )
    .bind(date)
    .fetch_one(&day.pool)
    .await
    .expect("entries");
    assert!(entries > 0 && jockeys == entries && trainers == 0, "{entries} entries, {jockeys} jockey ids, {trainers}");

    // Exactly the changed fields, each once, whatever the number of pages that showed them.
    let rows = drift_rows(&day.pool).await;
    let fields: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(s, d, k, f, _)| (s.as_str(), d.as_str(), k.as_str(), f.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("kra", "API26_2", "missing", "trNo"),
            ("kra", "API26_2", "unmapped", "hrNameCn"),
            ("kspo", "15107830", "unmapped", "racer_no"),
        ],
        "{rows:?}"
    );
    let sheet_pages = rows[0].4;
    assert!(sheet_pages > 1, "many entry sheets reported it: {rows:?}");
    let status = racelab::store::drift_by_dataset(&day.pool).await.expect("drift for /status");
    assert_eq!(status.len(), 2);
    assert_eq!((status[0].unmapped.clone(), status[0].missing.clone()), (vec!["hrNameCn".into()], vec!["trNo".into()]));

    // One message per changed dataset, naming what changed; nothing else went wrong.
    let texts = wait_for(&slack, 2).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    let sheet = texts.iter().find(|t| t.contains("API26_2")).expect("the entry sheet's change");
    assert!(sheet.contains("hrNameCn new") && sheet.contains("trNo gone"), "{sheet}");
    let card = texts.iter().find(|t| t.contains("15107830")).expect("the cycle card's change");
    assert!(card.contains("racer_no new"), "{card}");

    // Later jobs see the same shape: counted, not alerted again.
    day.run_until(first_post + TimeDelta::minutes(40), TimeDelta::minutes(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.texts().len(), 2, "{:?}", slack.texts());
    let later = drift_rows(&day.pool).await;
    assert_eq!(later.len(), 3);
    assert!(later[0].4 >= sheet_pages, "{later:?}");

    drop(alerter);
    alert_task.shutdown(Duration::from_secs(5)).await;
}

async fn wait_for(slack: &FakeSlack, n: usize) -> Vec<String> {
    for _ in 0..50 {
        if slack.texts().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, so that a message too many would show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    slack.texts()
}
