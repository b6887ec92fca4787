//! The admin API under fire: schemathesis (PyPI) generates requests from `/api/openapi.json`
//! — valid and invalid — against a host that ran the first races of a simulated day after a
//! broken morning, with the admin token. No answer may be a 5xx, and every answer must match
//! the document: its status, content type, headers and body schema. Requests without the token
//! must be refused where the document says the token is needed.

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use sqlx::PgPool;

use crate::common;
use crate::common::day::{busiest_day, post_window};

const SEED: u64 = 5;
const TOKEN: &str = "admin-token-of-the-fuzz-test";

#[sqlx::test(migrations = false)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let probe = std::process::Command::new("schemathesis").arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "schemathesis is missing: `python3 -m pip install schemathesis` (.ci/run installs it)"
    );
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let (day, _) = common::api::day_after_a_broken_morning(&pool, SEED, date).await;
    day.morning(first_post).await;
    day.run_until(first_post + TimeDelta::minutes(30), TimeDelta::seconds(90)).await;
    let (base, server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), Some(TOKEN))).await;

    let report = common::workspace().join("target/schemathesis");
    std::fs::create_dir_all(&report).expect("report dir");
    let run = tokio::process::Command::new("schemathesis")
        .args(["run", &format!("{base}/api/openapi.json")])
        .args(["--url", &base])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "60", "--seed", "7", "--workers", "2", "--request-timeout", "10"])
        .args(["--suppress-health-check", "all", "--report", "junit", "--report-dir"])
        .arg(&report)
        .env("NO_COLOR", "1")
        // Its own cache directory goes there too, not into the source tree.
        .current_dir(&report)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run).await.expect("within 10 minutes").expect("runs");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis found problems:\n{stdout}\n{stderr}");
    // It ran, and ran every operation.
    assert!(stdout.contains("passed"), "{stdout}");
    let operations = racelab::api::openapi()
        .paths
        .paths
        .values()
        .map(|p| [&p.get, &p.post].iter().filter(|o| o.is_some()).count())
        .sum::<usize>();
    assert!(
        stdout.contains(&format!("{operations} selected")) || stdout.contains(&format!("{operations} total")),
        "every operation tested:\n{stdout}"
    );
}
