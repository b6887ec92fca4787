//! KSPO quirks: zero padding, the 1000-row ceiling, string counts and text formats.

use chrono::TimeDelta;
use racelab_sim::{Calendar, Meeting, Track};

use crate::support::*;

fn meeting(track: Track, n: usize) -> (chrono::NaiveDate, Meeting) {
    let day = race_day(track, n);
    (day, Calendar::new(SEED).meeting(track, day).expect("a KSPO race day has a meeting"))
}

#[tokio::test]
async fn unpadded_round_race_or_tms_silently_select_nothing() {
    let (day, m) = meeting(Track::Gwangmyeong, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let ok = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", m.round, m.day);
    assert_eq!(total(&sim.json(&kspo(CYCLE_RESULT, &ok)).await), 1);
    for bad in [
        format!("&stnd_yr=2026&week_tcnt={}&day_tcnt={}&race_no=01", m.round, m.day),
        format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=1", m.round, m.day),
        format!("&stnd_yr=2026&week_tcnt=0{:02}&day_tcnt={}&race_no=01", m.round, m.day),
    ] {
        let v = sim.json(&kspo(CYCLE_RESULT, &bad)).await;
        assert_eq!((code(&v), total(&v)), ("00", 0), "{bad}");
    }
    // day_tcnt is not subject to the rule.
    let day_padded = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt=0{}&race_no=01", m.round, m.day);
    assert_eq!(total(&sim.json(&kspo(CYCLE_RESULT, &day_padded)).await), 1);
    let rank = |tms: String| format!("&stnd_year=2026&tms={tms}&day_ord={}&race_no=01", m.day);
    assert_eq!(total(&sim.json(&kspo(CYCLE_RANK, &rank(format!("{:02}", m.round)))).await), 7);
    assert_eq!(total(&sim.json(&kspo(CYCLE_RANK, &rank(m.round.to_string()))).await), 0);
}

#[tokio::test]
async fn more_than_1000_rows_per_page_is_code_336_and_counts_are_strings() {
    let (day, m) = meeting(Track::Gwangmyeong, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let round = format!("&meet_nm={GWANGMYEONG}&stnd_yr=2026&week_tcnt={:02}", m.round);
    let v = sim.json(&kspo(CYCLE_CARD, &format!("{round}&numOfRows=1001"))).await;
    assert_eq!(code(&v), "336");
    let v = sim.json(&kspo(CYCLE_CARD, &format!("{round}&numOfRows=1000"))).await;
    assert_eq!(code(&v), "00");
    let body = &v["response"]["body"];
    assert_eq!((body["numOfRows"].as_str(), body["pageNo"].as_str()), (Some("1000"), Some("1")));
    // A whole round: three days of 14–16 races of 7 riders, numbered through.
    let rows = items(&v);
    let races: usize = Calendar::new(SEED)
        .round_days(Track::Gwangmyeong, 2026, m.round)
        .iter()
        .map(|d| Calendar::new(SEED).day(Track::Gwangmyeong, *d).map_or(0, |d| d.races.len()))
        .sum();
    assert_eq!(rows.len(), races * 7);
    assert_eq!(body["totalCount"].as_str(), Some(rows.len().to_string().as_str()));
    assert!(rows.iter().enumerate().all(|(i, r)| r["row_num"] == i + 1));
    let first = &rows[0];
    assert_eq!(first["meet_nm"], "광명  ");
    assert_eq!(first["week_tcnt"], format!("{:02}", m.round));
    assert_eq!(first["day_tcnt"], "1");
    assert_eq!(first["race_no"], "01");
    assert!(first["race_ymd"].as_str().is_some_and(|s| s.len() == 10 && s.contains('.')));
    assert!(first["dptre_tm"].as_str().is_some_and(|s| s.len() == 5 && &s[2..3] == "\""), "{first}");
    assert!(rows.iter().all(|r| ["선발", "우수", "특선"].contains(&r["racer_grd_cd"].as_str().unwrap_or(""))));
}

#[tokio::test]
async fn cycle_results_use_parentheses_and_boat_results_circled_numbers() {
    let (cday, c) = meeting(Track::Gwangmyeong, 0);
    let (bday, b) = meeting(Track::Misari, 0);
    let sim = start(config(at(cday.max(bday) + TimeDelta::days(1), 9, 0))).await;
    let q = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", c.round, c.day);
    let r = &items(&sim.json(&kspo(CYCLE_RESULT, &q)).await)[0];
    assert_eq!((r["week_tcnt"].as_u64(), r["day_tcnt"].as_u64()), (Some(u64::from(c.round)), Some(u64::from(c.day))));
    assert_eq!(r["race_ymd"], cday.format("%m%d").to_string());
    let rank1 = r["rank1"].as_str().expect("rank1");
    assert!(('①'..='⑦').contains(&rank1.chars().next().unwrap_or(' ')), "{rank1}");
    let pool2 = r["pool2_val"].as_str().expect("pool2");
    assert_eq!(pool2.matches('(').count(), 2, "two place dividends: {pool2}");
    for key in ["pool1_val", "pool4_val", "pool5_val", "pool6_val", "pool7_val", "pool8_val"] {
        let v = r[key].as_str().unwrap_or("");
        assert!(v.starts_with('(') && v.contains(')') && v.contains('.'), "{key}: {v}");
    }
    let q = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", b.round, b.day);
    let r = &items(&sim.json(&kspo(BOAT_RESULT, &q)).await)[0];
    assert!(r["week_tcnt"].is_u64() && r["day_tcnt"].is_string(), "{r}");
    for key in ["pool1_val", "pool2_val", "pool3_val", "pool4_val", "pool5_val", "pool6_val"] {
        let v = r[key].as_str().unwrap_or("");
        assert!(('①'..='⑥').contains(&v.chars().next().unwrap_or(' ')) && !v.contains('('), "{key}: {v}");
    }
    assert!(r.get("pool7_val").is_none(), "boat racing has no trifecta");
    let rank = format!("&stnd_year=2026&tms={:02}&day_ord={}&race_no=01", b.round, b.day);
    let ranks = items(&sim.json(&kspo(BOAT_RANK, &rank)).await);
    assert_eq!(ranks.len(), 6);
    assert!(ranks.iter().all(|r| r["mbr_nm"] == "미사리" && r["tms"].as_str() == Some(b.round.to_string().as_str())));
}

#[tokio::test]
async fn the_boat_race_doc_maps_a_date_to_round_and_day() {
    let (day, m) = meeting(Track::Misari, 1);
    let sim = start(config(at(day, 9, 0))).await;
    let doc =
        sim.json(&kspo(BOAT_DOC, &format!("&stnd_yr=2026&race_ymd={}&numOfRows=100", day.format("%Y%m%d")))).await;
    let rows = items(&doc);
    assert!((12..=17).contains(&rows.len()), "{}", rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["week_tcnt"], m.round.to_string());
        assert_eq!(r["day_tcnt"], m.day.to_string());
        assert_eq!(r["race_no"], format!("{:02}", i + 1));
        assert!(r["dptre_tm"].as_str().is_some_and(|t| t.len() == 5 && &t[2..3] == ":"));
    }
    let card = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", m.round, m.day);
    let boats = items(&sim.json(&kspo(BOAT_CARD, &card)).await);
    let lanes: Vec<&str> = boats.iter().filter_map(|b| b["race_reg_no"].as_str()).collect();
    assert_eq!(lanes, ["1", "2", "3", "4", "5", "6"]);
    assert!(boats.iter().all(|b| b["st_mthd_cd"] == "002   " && b["motor_no"].as_str().is_some_and(|m| m.len() == 3)));
}
