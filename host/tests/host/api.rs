//! The admin API over HTTP against a simulated race day: a morning whose syncs fail for good
//! (the source answered 5xx to everything), the failures listed and retried through the API,
//! then the first races run; every endpoint is asked and checked against the database, and
//! `/metrics` against what the day did.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::common;
use crate::common::day::{busiest_day, post_window};

const SEED: u64 = 11;
const TOKEN: &str = "admin-token-of-the-api-test";

/// GET `path` as JSON, with its status.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> (StatusCode, Value) {
    let r = client.get(format!("{base}{path}")).send().await.expect("answers");
    let status = r.status();
    (status, serde_json::from_str(&r.text().await.expect("body")).unwrap_or(Value::Null))
}

/// An error answer: JSON with a message and the request id of its `x-request-id` header.
async fn assert_error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_string();
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("a JSON error");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    let message = body["error"].as_str().expect("a message").to_string();
    assert!(!message.is_empty());
    message
}

#[sqlx::test(migrations = false)]
async fn the_admin_api_shows_a_race_day_and_retries_its_failures(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    // Counting starts when the recorder is in, as `racelab serve` installs it at start.
    racelab::telemetry::handle().expect("the metrics recorder");
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);

    // 05:59 KST: the start-up sync meets a source that answers 5xx to everything; its jobs
    // fail for good. Then the same host against a source that answers.
    let (day, failed) = common::api::day_after_a_broken_morning(&pool, SEED, date).await;
    let (base, server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), Some(TOKEN))).await;
    let (open_base, open_server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), None)).await;
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("client");

    // The failures, paged and filtered.
    let (status, page) = get(&client, &base, "/api/failures?per_page=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], failed, "{page}");
    assert_eq!(page["failures"].as_array().map(Vec::len), Some(2.min(failed as usize)), "{page}");
    let first = &page["failures"][0];
    assert_eq!((first["operation"].as_str(), first["retryable"].as_bool()), (Some("schedule"), Some(true)), "{first}");
    // Filters: by source they add up; by kind each answer is of the kind, and as many as there are.
    let (_, all) = get(&client, &base, "/api/failures?per_page=500").await;
    let all = all["failures"].as_array().expect("failures").clone();
    assert_eq!(all.len() as i64, failed);
    let (_, kra) = get(&client, &base, "/api/failures?source=kra&per_page=500").await;
    let (_, kspo) = get(&client, &base, "/api/failures?source=kspo&per_page=500").await;
    assert_eq!(kra["total"].as_i64().unwrap_or(0) + kspo["total"].as_i64().unwrap_or(0), failed);
    assert!(kra["failures"].as_array().expect("kra").iter().all(|f| f["source"] == "kra"));
    let (_, transient) = get(&client, &base, "/api/failures?kind=transient&per_page=500").await;
    let want = all.iter().filter(|f| f["kind"] == "transient").count();
    assert!(want > 0, "5xx answers are transient failures");
    assert_eq!(transient["total"].as_i64(), Some(want as i64), "{transient}");
    assert!(transient["failures"].as_array().expect("transient").iter().all(|f| f["kind"] == "transient"));
    let (_, resolved) = get(&client, &base, "/api/failures?state=resolved").await;
    assert_eq!(resolved["total"], 0);
    let r = client.get(format!("{base}/api/failures?kind=boom")).send().await.expect("answers");
    assert!(assert_error(r, StatusCode::BAD_REQUEST).await.contains("plugin_fault"));
    let r = client.get(format!("{base}/api/failures?page=0")).send().await.expect("answers");
    assert_error(r, StatusCode::BAD_REQUEST).await;

    // Retrying needs the token, and is off on a host without one.
    let one = first["id"].as_i64().expect("id");
    let r = client.post(format!("{base}/api/failures/{one}/retry")).send().await.expect("answers");
    assert_error(r, StatusCode::UNAUTHORIZED).await;
    let r = client.post(format!("{base}/api/failures/{one}/retry")).bearer_auth("wrong").send().await.expect("answers");
    assert_error(r, StatusCode::UNAUTHORIZED).await;
    let r = client.post(format!("{open_base}/api/failures/retry")).bearer_auth(TOKEN).send().await.expect("answers");
    assert!(assert_error(r, StatusCode::FORBIDDEN).await.contains("RACELAB_ADMIN_TOKEN"));
    open_server.abort();
    let r = client.post(format!("{base}/api/failures/999999/retry")).bearer_auth(TOKEN).send().await.expect("answers");
    assert_error(r, StatusCode::NOT_FOUND).await;
    // One by id, then the rest in bulk: the one is queued already.
    let r = client.post(format!("{base}/api/failures/{one}/retry")).bearer_auth(TOKEN).send().await.expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    let retried: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(
        (retried["failure"].as_i64(), retried["already_queued"].as_bool()),
        (Some(one), Some(false)),
        "{retried}"
    );
    let r = client.post(format!("{base}/api/failures/retry")).bearer_auth(TOKEN).send().await.expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    let bulk: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    let all = bulk["retried"].as_array().expect("retried");
    assert_eq!(all.len() as i64, failed, "{bulk}");
    assert_eq!(all.iter().filter(|r| r["already_queued"] == true).count(), 1, "{bulk}");
    assert_eq!(bulk["refused"].as_array().map(Vec::len), Some(0), "{bulk}");

    // The retried jobs wait in the queue, due now.
    let (_, s) = get(&client, &base, "/api/status").await;
    let sources = s["sources"].as_array().expect("sources");
    let queued: i64 = sources.iter().map(|s| s["queue"]["live"].as_i64().unwrap_or(0)).sum();
    assert_eq!(queued, failed, "{s}");
    for source in sources {
        assert_eq!(source["open_failures"].as_i64(), source["queue"]["live"].as_i64(), "{source}");
        assert_eq!(source["next_due"]["op"], "schedule", "{source}");
        assert!(source["next_due"]["due"].is_string(), "{source}");
        assert_eq!(source["retrying"], 0, "a retry starts afresh: {source}");
    }

    // The morning runs the retried jobs: every failure resolves.
    day.morning(first_post).await;
    let (_, open) = get(&client, &base, "/api/failures").await;
    assert_eq!(open["total"], 0, "{open}");
    let (_, resolved) = get(&client, &base, "/api/failures?state=resolved").await;
    assert_eq!(resolved["total"], failed, "{resolved}");
    assert!(resolved["failures"].as_array().expect("failures").iter().all(|f| f["retryable"] == false));

    // The first races run.
    day.run_until(first_post + TimeDelta::minutes(45), TimeDelta::seconds(60)).await;

    // /api/status: both sources, their datasets' quota use, today's tracks.
    let (status, s) = get(&client, &base, "/api/status").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["kst_date"], date.to_string());
    let sources = s["sources"].as_array().expect("sources");
    assert_eq!(sources.iter().map(|s| s["source"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["kra", "kspo"]);
    for source in sources {
        assert!(source["plugin"].as_str().is_some_and(|p| p.starts_with(source["source"].as_str().unwrap_or("?"))));
        assert_eq!(source["health"], "ok", "{source}");
        assert!(source["last_success"].is_string(), "{source}");
        assert!(source["last_failure"].is_string(), "the broken morning: {source}");
        assert_eq!(source["open_failures"], 0, "{source}");
        let datasets = source["datasets"].as_array().expect("datasets");
        assert!(!datasets.is_empty(), "{source}");
        let used: i64 = datasets.iter().map(|d| d["used_today"].as_i64().unwrap_or(0)).sum();
        let counted: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(used), 0)::int8 FROM quota_usage WHERE source = $1 AND kst_day = $2",
        )
        .bind(source["source"].as_str())
        .bind(date)
        .fetch_one(&pool)
        .await
        .expect("quota");
        assert_eq!(used, counted, "{source}");
        for d in datasets {
            if let (Some(quota), Some(left)) = (d["daily_quota"].as_i64(), d["left_today"].as_i64()) {
                assert_eq!(left, (quota - d["used_today"].as_i64().unwrap_or(0)).max(0), "{d}");
            }
        }
        // The harness plans nothing ahead and drains the queue at every step.
        assert_eq!((source["queue"]["live"].as_i64(), source["queue"]["backfill"].as_i64()), (Some(0), Some(0)));
        assert!(source["next_due"].is_null(), "{source}");
    }
    let tracks_today = s["tracks_today"].as_array().expect("tracks");
    assert_eq!(tracks_today.len(), tracks.len(), "{s}");
    assert!(tracks_today.iter().any(|t| t["results_final"].as_i64().unwrap_or(0) > 0), "{s}");

    // /api/races: the day's card, each race by its id.
    let (status, races) = get(&client, &base, &format!("/api/races?date={date}")).await;
    assert_eq!(status, StatusCode::OK, "{races}");
    let races = races.as_array().expect("races").clone();
    let stored: i64 = day.count("SELECT count(*) FROM races WHERE race_date = $1", date).await;
    assert_eq!(races.len() as i64, stored);
    let (_, seoul) = get(&client, &base, &format!("/api/races?date={date}&track=seoul")).await;
    assert!(seoul.as_array().expect("races").iter().all(|r| r["track"] == "seoul"));
    let (_, today) = get(&client, &base, "/api/races").await;
    assert_eq!(today.as_array().map(Vec::len), Some(races.len()), "today by default");
    let done = races
        .iter()
        .find(|r| r["results_final"] == true && r["final_odds"] == true)
        .expect("a KRA race with results and final odds")
        .clone();
    let id = done["id"].as_str().expect("id");
    // The harness drains the queue at every step: no race has a job waiting.
    assert!(races.iter().all(|r| r["next_job"].is_null() && r["next_job_at"].is_null()), "{races:?}");

    let (status, race) = get(&client, &base, &format!("/api/races/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{race}");
    let key = |table: &str| {
        format!(
            "SELECT count(*) FROM {table} WHERE track = $1 AND race_date = $2 AND race_number = {}",
            done["race_number"]
        )
    };
    for (field, table) in [("entries", "entries"), ("results", "results"), ("dividends", "dividends")] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(key(table)))
            .bind(done["track"].as_str())
            .bind(date)
            .fetch_one(&pool)
            .await
            .expect("count");
        assert!(n > 0, "{table}");
        assert_eq!(race[field].as_array().map(Vec::len), Some(n as usize), "{field}");
    }
    assert_eq!(race["results"][0]["position"], 1, "{race}");

    // Its odds: a series per selection, and the board as of a time.
    let (status, odds) = get(&client, &base, &format!("/api/races/{id}/odds?pool=WIN")).await;
    assert_eq!(status, StatusCode::OK, "{odds}");
    let series = odds["series"].as_array().expect("series");
    assert!(!series.is_empty(), "{odds}");
    assert!(series.iter().any(|s| s["points"].as_array().map_or(0, Vec::len) > 1), "a drift over time: {odds}");
    let board = odds["board"].as_array().expect("board");
    assert_eq!(board.len(), series.len(), "every selection on the newest board");
    let post: DateTime<Utc> = odds["post_time"].as_str().expect("post").parse().expect("time");
    let before = post - TimeDelta::minutes(5);
    let at = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, early) = get(&client, &base, &format!("/api/races/{id}/odds?pool=WIN&at={at}")).await;
    assert_eq!(status, StatusCode::OK, "{early}");
    let want: Vec<(Vec<i16>, Option<f64>)> =
        sqlx::query_as("SELECT selection, price FROM racelab_board_at($1, $2, $3, 'WIN', $4) ORDER BY selection")
            .bind(done["track"].as_str())
            .bind(date)
            .bind(done["race_number"].as_i64().map(|n| n as i16))
            .bind(before)
            .fetch_all(&pool)
            .await
            .expect("board");
    let got: Vec<(Vec<i16>, Option<f64>)> = early["board"]
        .as_array()
        .expect("board")
        .iter()
        .map(|q| {
            let selection =
                q["selection"].as_array().expect("selection").iter().map(|n| n.as_i64().unwrap_or(0) as i16);
            (selection.collect(), q["price"].as_f64())
        })
        .collect();
    assert!(!got.is_empty(), "pre-race odds were polled: {early}");
    assert_eq!(got, want);
    let (_, qnl) = get(&client, &base, &format!("/api/races/{id}/odds?pool=QNL")).await;
    assert!(
        qnl["series"].as_array().is_some_and(|s| s.iter().all(|s| s["selection"].as_array().map(Vec::len) == Some(2)))
    );

    // Refusals: JSON, a fixed message, the request id.
    for (path, status) in [
        ("/api/races/nope", StatusCode::BAD_REQUEST),
        ("/api/races/seoul-20000101-1", StatusCode::NOT_FOUND),
        ("/api/races/seoul-20000101-1/odds", StatusCode::NOT_FOUND),
        (&format!("/api/races/{id}/odds?pool=ZZZ"), StatusCode::BAD_REQUEST),
        ("/api/races?date=yesterday", StatusCode::BAD_REQUEST),
        // Text PostgreSQL cannot hold is refused before it reaches a query (schemathesis found
        // it answered 503).
        ("/api/races?track=se%00oul", StatusCode::BAD_REQUEST),
        ("/api/races/se%00oul-20261205-3", StatusCode::BAD_REQUEST),
        ("/api/failures?source=k%00ra", StatusCode::BAD_REQUEST),
        ("/api/nothing-here", StatusCode::NOT_FOUND),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.expect("answers");
        assert_error(r, status).await;
    }
    let r = client
        .post(format!("{base}/api/plugins/kra/activate"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"version": "0.2\u0000"}"#)
        .send()
        .await
        .expect("answers");
    assert!(assert_error(r, StatusCode::BAD_REQUEST).await.contains("NUL"));
    let r =
        client.post(format!("{base}/api/plugins/k%00ra/rollback")).bearer_auth(TOKEN).send().await.expect("answers");
    assert!(assert_error(r, StatusCode::BAD_REQUEST).await.contains("NUL"));
    let r = client
        .post(format!("{base}/api/failures/retry?source=k%00ra"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answers");
    assert_error(r, StatusCode::BAD_REQUEST).await;
    let r = client.delete(format!("{base}/api/status")).send().await.expect("answers");
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED).await;

    // The document lists every route.
    let (status, doc) = get(&client, &base, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    for path in [
        "/api/status",
        "/api/failures",
        "/api/failures/{id}/retry",
        "/api/failures/retry",
        "/api/races",
        "/api/races/{id}",
        "/api/races/{id}/odds",
        "/api/backfill",
        "/api/plugins",
        "/api/plugins/{name}/activate",
        "/api/plugins/{name}/rollback",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not in the document");
    }
    assert_eq!(doc["paths"]["/api/failures/retry"]["post"]["security"][0]["admin_token"], serde_json::json!([]));

    // /metrics: what the day did, in Prometheus text.
    let r = client.get(format!("{base}/metrics")).send().await.expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/plain")));
    let page = r.text().await.expect("text");
    for needle in [
        r#"racelab_jobs_total{op="results",lane="live",result="done"}"#,
        r#"racelab_jobs_total{op="schedule",lane="live",result="failed"}"#,
        r#"racelab_failures_total{kind="transient"}"#,
        r#"racelab_fetch_responses_total{source="kra""#,
        r#"status="500"}"#,
        r#"racelab_fetch_duration_seconds_bucket{source="kspo""#,
        r#"racelab_rows_written_total{table="odds_snapshots"}"#,
        r#"racelab_rows_written_total{table="dividends"}"#,
        r#"racelab_quota_used_requests{source="kra""#,
        r#"racelab_queue_depth_jobs{source="kspo",lane="live"}"#,
        r#"racelab_plugin_info{source="kra",plugin="kra""#,
        "process_resident_memory_bytes ",
    ] {
        assert!(page.contains(needle), "{needle} is not on the page:\n{page}");
    }

    // Without its database: 503, a fixed text, nothing of the cause.
    day.pool.close().await;
    pool.close().await;
    for path in ["/api/status", "/api/failures", &format!("/api/races/{id}"), "/status"] {
        let r = client.get(format!("{base}{path}")).send().await.expect("answers");
        let message = assert_error(r, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(
            !message.contains("pool") && !message.contains("closed") && !message.contains("SELECT"),
            "{path}: {message}"
        );
    }
    let r = client.get(format!("{base}/readyz")).send().await.expect("answers");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!r.text().await.expect("text").contains("closed"));
    server.abort();
}

/// As the real sources behave — odds only after a race — and under several faults at once
/// (5xx, dropped connections, malformed answers): every read answers, and a race's odds on the
/// API are its final odds as the database's own function reads them.
#[sqlx::test(migrations = false)]
async fn in_final_only_mode_under_faults_a_races_odds_are_its_final_odds(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let faults =
        racelab_sim::Faults { server_error: 0.1, drop: 0.02, malformed: 0.01, ..racelab_sim::Faults::default() };
    let sim =
        racelab_sim::SimConfig { seed: SEED, odds: racelab_sim::OddsMode::FinalOnly, faults, ..Default::default() };
    let options = common::day::DayOptions { sim, ..Default::default() };
    let day = common::day::Day::new(pool.clone(), common::day::kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(first_post + TimeDelta::minutes(45), TimeDelta::seconds(60)).await;
    let (base, server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), None)).await;
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("client");
    for path in ["/api/status", "/api/failures?state=all", "/api/backfill", "/metrics"] {
        let r = client.get(format!("{base}{path}")).send().await.expect("answers");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let (_, races) = get(&client, &base, "/api/races").await;
    let done: Vec<Value> = races
        .as_array()
        .expect("races")
        .iter()
        .filter(|r| r["final_odds"] == true && r["results_final"] == true)
        .cloned()
        .collect();
    assert!(!done.is_empty(), "KRA races with their final odds: {races}");
    for race in &done {
        let id = race["id"].as_str().expect("id");
        let (status, odds) = get(&client, &base, &format!("/api/races/{id}/odds?pool=WIN")).await;
        assert_eq!(status, StatusCode::OK, "{odds}");
        let want: Vec<(Vec<i16>, Option<f64>)> =
            sqlx::query_as("SELECT selection, price FROM racelab_final_odds($1, $2, $3, 'WIN') ORDER BY selection")
                .bind(race["track"].as_str())
                .bind(date)
                .bind(race["race_number"].as_i64().map(|n| n as i16))
                .fetch_all(&pool)
                .await
                .expect("final odds");
        let got: Vec<(Vec<i16>, Option<f64>)> = odds["board"]
            .as_array()
            .expect("board")
            .iter()
            .map(|q| {
                let selection =
                    q["selection"].as_array().expect("selection").iter().map(|n| n.as_i64().unwrap_or(0) as i16);
                (selection.collect(), q["price"].as_f64())
            })
            .collect();
        assert!(!want.is_empty(), "{id}");
        assert_eq!(got, want, "{id}");
        // Final-only: nothing was captured before post.
        let post: DateTime<Utc> = odds["post_time"].as_str().expect("post").parse().expect("time");
        for s in odds["series"].as_array().expect("series") {
            for p in s["points"].as_array().expect("points") {
                let at: DateTime<Utc> = p["captured_at"].as_str().expect("at").parse().expect("time");
                assert!(at > post, "{id}: a capture before post in final-only mode");
            }
        }
    }
    server.abort();
}
