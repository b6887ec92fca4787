//! The gateway in front of the data: keys, daily quotas and the per-second limit.

use chrono::TimeDelta;
use racelab_sim::{Limits, QuotaStyle, Track};

use crate::support::*;

fn reason_code(body: &str) -> Option<&str> {
    let start = body.find("<returnReasonCode>")? + "<returnReasonCode>".len();
    let end = body[start..].find('<')? + start;
    Some(&body[start..end])
}

#[tokio::test]
async fn bad_keys_get_code_30_as_xml_with_http_200() {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day, 9, 0));
    config.unregistered_keys = vec!["revoked".into()];
    let sim = start(config).await;
    let date = day.format("%Y%m%d");
    let bad = [
        format!("{PLAN}?_type=json&meet=1&rc_date={date}"),
        format!("{PLAN}?serviceKey=&_type=json&meet=1&rc_date={date}"),
        format!("{PLAN}?serviceKey=revoked&_type=json&meet=1&rc_date={date}"),
        // The portal's encoded key (`%2B`) encoded once more.
        format!("{PLAN}?serviceKey=abc%252Bdef%253D%253D&_type=json&meet=1&rc_date={date}"),
        // KSPO knows only `serviceKey`.
        format!("{CYCLE_RANK}?ServiceKey={KEY}&resultType=json&stnd_year=2026"),
    ];
    for q in bad {
        let (status, body) = sim.get(&q).await;
        assert_eq!(status, 200, "{q}");
        assert!(body.starts_with("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"), "{body}");
        assert!(body.contains("<returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg>"));
        assert_eq!(reason_code(&body), Some("30"), "{q}");
    }
    let good = [
        format!("{PLAN}?serviceKey=abc%2Bdef%3D%3D&_type=json&meet=1&rc_date={date}"),
        format!("{PLAN}?ServiceKey={KEY}&_type=json&meet=1&rc_date={date}"),
    ];
    for q in good {
        assert_eq!(code(&sim.json(&q).await), "00", "{q}");
    }
}

#[tokio::test]
async fn an_exhausted_quota_answers_code_22_until_the_next_kst_day() {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day, 23, 59));
    config.limits = Limits { daily: 2, per_second: 0, ..Limits::default() };
    config.limits.per_dataset.insert("API301".into(), 1);
    let sim = start(config).await;
    let plan = kra(PLAN, 1, day, "");
    assert_eq!(code(&sim.json(&plan).await), "00");
    assert_eq!(code(&sim.json(&plan).await), "00");
    let (status, body) = sim.get(&plan).await;
    assert_eq!((status, reason_code(&body)), (200, Some("22")), "{body}");
    assert!(body.contains("LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"));
    // Per dataset: the schedule being exhausted leaves the entry sheet alone; API301 has 1.
    assert_eq!(code(&sim.json(&kra(ENTRIES, 1, day, "")).await), "00");
    let odds = kra(ODDS, 1, day, "&rc_no=1&pool=WIN");
    assert_eq!(code(&sim.json(&odds).await), "00");
    assert_eq!(reason_code(&sim.get(&odds).await.1), Some("22"));
    // Per key.
    let other = plan.replace(KEY, "another-key");
    assert_eq!(code(&sim.json(&other).await), "00");
    // KST midnight resets it.
    sim.clock.advance(TimeDelta::minutes(2));
    assert_eq!(code(&sim.json(&plan).await), "00");
}

#[tokio::test]
async fn quota_can_be_answered_with_http_429() {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day, 9, 0));
    config.limits = Limits { daily: 1, per_second: 0, quota_style: QuotaStyle::Http429, ..Limits::default() };
    let sim = start(config).await;
    let q = kra(RESULTS, 1, day, "");
    assert_eq!(sim.get(&q).await.0, 200);
    let resp = client().get(format!("{}{q}", sim.base)).send().await.expect("response");
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_none(), "a quota is not retried within seconds");
    assert_eq!(reason_code(&resp.text().await.expect("body")), Some("22"));
}

#[tokio::test]
async fn a_burst_over_the_per_second_limit_gets_429_with_retry_after() {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day, 9, 0));
    config.limits = Limits { daily: 0, per_second: 3, ..Limits::default() };
    let sim = start(config).await;
    let q = format!("{}{}", sim.base, kra(PLAN, 1, day, ""));
    let client = client();
    let mut limited = None;
    for _ in 0..10 {
        let resp = client.get(&q).send().await.expect("response");
        if resp.status().as_u16() == 429 {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("10 requests in a burst exceed 3 per second");
    assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    // Another key has its own bucket.
    let other = q.replace(KEY, "another-key");
    assert_eq!(client.get(&other).send().await.expect("response").status().as_u16(), 200);
}
