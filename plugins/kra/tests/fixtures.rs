//! Every fixture parsed into the records a user would see, field by field.

mod common;

use common::*;
use racelab_plugin_sdk::{ClockTime, FinishStatus, Pool, Quote, Race, RaceStatus, Record, Sex, SourceError};

fn clock(hour: u8, minute: u8) -> Option<ClockTime> {
    Some(ClockTime { hour, minute })
}

// ------------------------------------------------------------------------------- schedule

#[test]
fn race_plan_gives_the_days_races_and_skips_other_days() {
    let op = schedule("seoul", seoul_day());
    let page = parse_fixture(&op, &plan(&op)[0], "racePlan_2.json");
    let races = races(&page);
    assert_eq!(races.len(), 3, "the 2026-01-04 row is skipped");
    assert_eq!(
        *races[0],
        Race {
            key: key("seoul", seoul_day(), 1),
            meeting: None,
            name: Some("일반".into()),
            distance_m: Some(1200),
            post_time: clock(10, 35),
            grade: Some("국5등급".into()),
            field_size: None,
            status: Some(RaceStatus::Scheduled),
        }
    );
    assert_eq!((races[1].key.number, races[1].post_time), (2, clock(11, 5)));
    assert_eq!(
        (races[2].name.as_deref(), races[2].distance_m, races[2].grade.as_deref(), races[2].post_time),
        (Some("스포츠서울배"), Some(1800), Some("1등급"), clock(11, 40))
    );
    assert!(page.next.is_empty(), "every race has a post time and one page holds them all");
}

#[test]
fn unset_post_times_fall_back_to_the_entry_sheet() {
    let op = schedule("jeju", seoul_day());
    let page = parse_fixture(&op, &plan(&op)[0], "racePlan_2_jeju_no_post_times.json");
    let planned_races = races(&page);
    assert_eq!(planned_races.len(), 3);
    assert!(planned_races.iter().all(|r| r.post_time.is_none() && r.key.track == "jeju"));
    assert_eq!(page.next.len(), 1);
    let sheet = &page.next[0];
    assert_eq!((sheet.dataset.as_str(), sheet.path.as_str()), ("API26_2", "/B551015/API26_2/entrySheet_2"));
    assert_eq!(sheet.query_value("meet"), Some("2"));
    assert_eq!(sheet.query_value("rc_date"), Some("20260103"));
    assert_eq!(sheet.query_value("rc_no"), None, "the whole day's sheet");

    let page = parse_fixture(&op, sheet, "entrySheet_2_jeju_st_time_spacing.json");
    let sheet_races = races(&page);
    let times: Vec<_> = sheet_races.iter().map(|r| (r.key.number, r.post_time, r.field_size, r.distance_m)).collect();
    assert_eq!(
        times,
        [
            (1, clock(10, 45), Some(2), Some(800)),
            (2, clock(11, 20), Some(2), Some(900)),
            (3, clock(12, 5), Some(2), Some(1000))
        ],
        "\"출발 :10:45\", \"출발 : 11: 20\" and \"출발:12:05\" all read"
    );
    assert_eq!(sheet_races[0].grade.as_deref(), Some("3등급"));
    assert!(page.next.is_empty());
}

// -------------------------------------------------------------------------------- entries

#[test]
fn entry_sheet_gives_the_races_runners() {
    let op = entries("seoul", seoul_day(), 1);
    let page = parse_fixture(&op, &planned(&op, "entrySheet_2", None), "entrySheet_2.json");
    let entries = entries_of(&page);
    assert_eq!(entries.len(), 8, "the row of race 2 is skipped");
    assert_eq!(
        entries.iter().map(|e| e.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8],
        "the scratched no. 5 stays"
    );
    let first = entries[0];
    assert_eq!(first.race, key("seoul", seoul_day(), 1));
    assert_eq!(first.runner_id.as_deref(), Some("0048812"), "leading zeros kept");
    assert_eq!(first.runner_name, "번개질주");
    assert_eq!((first.jockey.as_deref(), first.trainer.as_deref()), (Some("문세영"), Some("박재우")));
    assert_eq!((first.weight_kg, first.rating), (Some(57.0), Some(52.0)));
    assert_eq!(entries[2].weight_kg, Some(54.5));
    assert_eq!(entries[5].rating, None, "rating 0 is unrated");
    // 0.2: the ids analysts join on, with their leading zeros, and age and sex.
    assert_eq!((first.jockey_id.as_deref(), first.trainer_id.as_deref()), (Some("080211"), Some("070151")));
    assert_eq!((first.age, first.sex), (Some(4), Some(Sex::Gelding)));
    assert!(page.next.is_empty());
}

#[test]
fn rating_dash_is_unrated() {
    let op = entries("seoul", seoul_day(), 2);
    let page = parse_fixture(&op, &planned(&op, "entrySheet_2", None), "entrySheet_2_rating_dash.json");
    let ratings: Vec<_> = entries_of(&page).iter().map(|e| (e.number, e.rating)).collect();
    assert_eq!(ratings, [(1, None), (2, Some(31.0)), (3, None)]);
}

#[test]
fn xml_envelope_reads_like_json() {
    let op = entries("seoul", seoul_day(), 1);
    let request = planned(&op, "entrySheet_2", None);
    let xml = parse_fixture(&op, &request, "entrySheet_2.xml");
    let json = parse_fixture(&op, &request, "entrySheet_2.json");
    assert_eq!(xml.records.len(), 3);
    assert_eq!(xml.records[..], json.records[..3]);
    assert!(xml.next.is_empty(), "totalCount 3 at 10 a page");
}

#[test]
fn scratches_are_filtered_to_the_race() {
    let op = entries("seoul", seoul_day(), 1);
    let page = parse_fixture(&op, &planned(&op, "raceHorseCancelInfo_1", None), "raceHorseCancelInfo_1.json");
    let scratches = scratches(&page);
    assert_eq!(scratches.len(), 1, "races 4 and 7 are skipped");
    assert_eq!(scratches[0].race, key("seoul", seoul_day(), 1));
    assert_eq!((scratches[0].number, scratches[0].reason.as_deref()), (5, Some("마체이상")));
    assert!(entries_of(&page).is_empty());
}

// ----------------------------------------------------------------------------------- odds

#[test]
fn win_odds_one_per_starter() {
    let op = odds("seoul", seoul_day(), 1, &[Pool::Win, Pool::Plc]);
    let page =
        parse_fixture(&op, &planned(&op, "Dividend_rate_total", Some(Pool::Win)), "Dividend_rate_total_WIN.json");
    let got: Vec<_> = snapshots(&page).iter().map(|s| (s.pool, s.selection.clone(), s.quote)).collect();
    let price = |n: u8, p: f64| (Pool::Win, vec![n], Quote::Price(p));
    assert_eq!(
        got,
        [price(1, 3.7), price(2, 2.5), price(3, 10.6), price(4, 5.9), price(6, 78.4), price(7, 4.3), price(8, 15.3)]
    );
    assert!(snapshots(&page).iter().all(|s| s.race == key("seoul", seoul_day(), 1)));
}

#[test]
fn the_display_cap_is_capped_not_a_price() {
    let op = odds("seoul", seoul_day(), 1, &ALL_POOLS);
    let page = parse_fixture(
        &op,
        &planned(&op, "Dividend_rate_total", Some(Pool::Tri)),
        "Dividend_rate_total_TRI_capped.json",
    );
    let snaps = snapshots(&page);
    assert_eq!(snaps.len(), 7 * 6 * 5, "every ordered triple of 7 starters");
    let capped: Vec<Vec<u8>> = snaps.iter().filter(|s| s.quote == Quote::Capped).map(|s| s.selection.clone()).collect();
    assert_eq!(capped, [vec![3, 6, 8], vec![3, 8, 6], vec![6, 3, 8], vec![6, 8, 3], vec![8, 3, 6], vec![8, 6, 3]]);
    assert_eq!(
        (snaps[0].selection.clone(), snaps[0].quote),
        (vec![1, 2, 3], Quote::Price(50.0)),
        "odds 50 has no decimals"
    );
    assert!(snaps.iter().all(|s| s.pool == Pool::Tri && !s.selection.contains(&5)));
    assert!(snaps.iter().all(|s| !matches!(s.quote, Quote::Price(p) if p > 9999.0)));
}

#[test]
fn korean_pool_names_and_canonical_selections() {
    let op = odds("seoul", seoul_day(), 1, &ALL_POOLS);
    let page = parse_fixture(
        &op,
        &planned(&op, "Dividend_rate_total", Some(Pool::Qpl)),
        "Dividend_rate_total_QPL_korean_names.json",
    );
    let snaps = snapshots(&page);
    assert_eq!(snaps.len(), 21);
    assert!(snaps.iter().all(|s| s.pool == Pool::Qpl), "복연승식 is QPL");
    assert_eq!((snaps[0].selection.clone(), snaps[0].quote), (vec![1, 2], Quote::Price(1.6)), "written 2-1");
    assert!(snaps.iter().all(|s| s.selection.len() == 2 && s.selection[0] < s.selection[1]));
}

#[test]
fn no_odds_yet_is_an_empty_page() {
    let op = odds("seoul", seoul_day(), 1, &[Pool::Win]);
    let page =
        parse_fixture(&op, &planned(&op, "Dividend_rate_total", Some(Pool::Win)), "Dividend_rate_total_empty.json");
    assert!(page.records.is_empty() && page.next.is_empty());
}

#[test]
fn an_all_pool_page_gives_every_combination() {
    let race = key("busan", busan_day(), 1);
    let op = odds("busan", busan_day(), 1, &ALL_POOLS);
    let page = parse_fixture(&op, &unfiltered_odds_request(&race), "Dividend_rate_total_all_pools.json");
    let snaps = snapshots(&page);
    let count = |pool| snaps.iter().filter(|s| s.pool == pool).count();
    assert_eq!(ALL_POOLS.map(count), [11, 11, 55, 110, 55, 165, 990]);
    assert_eq!(snaps.iter().filter(|s| s.quote == Quote::Capped).count(), 619);
    assert_eq!(
        snaps.iter().find(|s| s.pool == Pool::Win && s.selection == [10]).map(|s| s.quote),
        Some(Quote::Price(3.0)),
        "the real final win odds of no. 10"
    );
    assert!(snaps.iter().all(|s| s.race == race));

    // A request that names a pool keeps only that pool's rows, even from an all-pool answer.
    let tri = unfiltered_odds_request(&race).param("pool", "TRI");
    let page = parse_fixture(&op, &tri, "Dividend_rate_total_all_pools.json");
    assert_eq!(page.rows(), 990);
    // An operation that asks for fewer pools keeps only those.
    let win_plc = odds("busan", busan_day(), 1, &[Pool::Win, Pool::Plc]);
    assert_eq!(
        parse_fixture(&win_plc, &unfiltered_odds_request(&race), "Dividend_rate_total_all_pools.json").rows(),
        22
    );
}

// -------------------------------------------------------------------------------- results

#[test]
fn real_result_page_with_busan_label_mixed_margins_and_a_second_page() {
    let op = results("busan", busan_day(), 1);
    let request = busan_results_request();
    let page = parse_fixture(&op, &request, "RaceDetailResult_1_busan_page1.json");
    let rows = result_rows(&page);
    assert_eq!(rows.len(), 10, "meet \"부경\" is Busan");
    let winner = rows[0];
    assert_eq!(winner.race, key("busan", busan_day(), 1));
    assert_eq!(
        (winner.number, winner.runner_id.as_deref(), winner.runner_name.as_deref()),
        (Some(10), Some("0051228"), Some("올라운드원"))
    );
    assert_eq!((winner.position, winner.status.clone()), (Some(1), FinishStatus::Finished));
    assert_eq!((winner.time_s, winner.win_odds, winner.place_odds), (Some(75.4), Some(3.0), Some(1.2)));
    let margins: Vec<Option<&str>> = rows.iter().map(|r| r.margin.as_deref()).collect();
    assert_eq!(
        margins,
        [None, Some("½"), Some("7"), Some("½"), Some("½"), Some("1½"), Some("1"), Some("½"), Some("¾"), Some("4")]
    );
    assert_eq!(rows.iter().map(|r| r.position).collect::<Vec<_>>(), (1..=10).map(Some).collect::<Vec<_>>());
    // A result page says the race was run.
    let statuses: Vec<_> = races(&page).iter().map(|r| (r.key.number, r.status)).collect();
    assert_eq!(statuses, [(1, Some(RaceStatus::Run))]);

    assert_eq!(page.next.len(), 1, "totalCount 11 at 10 a page");
    let next = &page.next[0];
    assert_eq!((next.query_value("pageNo"), next.query_value("numOfRows")), (Some("2"), Some("10")));
    assert_eq!(next.query.len(), request.query.len(), "pageNo replaced, not added");

    let page = parse_fixture(&op, next, "RaceDetailResult_1_busan_page2.json");
    let rows = result_rows(&page);
    assert_eq!(rows.len(), 1, "one item, written as an object");
    assert_eq!((rows[0].number, rows[0].position, rows[0].margin.as_deref()), (Some(3), Some(11), Some("머리")));
    assert!(page.next.is_empty());
}

#[test]
fn status_codes_91_to_99() {
    let op = results("seoul", date(2026, 1, 4), 5);
    let page = parse_fixture(&op, &planned(&op, "RaceDetailResult_1", None), "RaceDetailResult_1_status_codes.json");
    let rows = result_rows(&page);
    let got: Vec<_> = rows.iter().map(|r| (r.number.unwrap_or(0), r.position, r.status.clone(), r.time_s)).collect();
    use FinishStatus::*;
    assert_eq!(
        got,
        [
            (4, Some(1), Finished, Some(86.9)),
            (9, Some(2), Finished, Some(87.0)),
            (1, Some(3), Finished, Some(87.1)),
            (12, Some(4), Finished, Some(87.3)),
            (6, Some(5), Finished, Some(87.8)),
            (3, None, Disqualified, Some(88.2)),
            (7, None, DidNotFinish, None),
            (2, None, ExcludedAtStart, None),
            (11, None, Excluded, None),
            (5, None, Withdrawn, None),
            (8, None, Other("ord 96".into()), None),
            (10, None, NoContest, None),
            (13, None, Cancelled, None),
        ]
    );
    assert_eq!(
        rows.iter().map(|r| r.margin.as_deref()).take(5).collect::<Vec<_>>(),
        [None, Some("코"), Some("머리"), Some("목"), Some("2")]
    );
    assert_eq!((rows[6].win_odds, rows[6].place_odds), (Some(24.8), Some(5.9)), "a runner that started keeps its odds");
    assert_eq!((rows[7].win_odds, rows[7].place_odds), (None, None), "odds 0 is none");
}

#[test]
fn dividends_of_the_winning_combinations() {
    let op = results("busan", busan_day(), 1);
    let page = parse_fixture(&op, &planned(&op, "integratedInfo_1", None), "integratedInfo_1.json");
    let got: Vec<(Pool, Vec<u8>, f64)> =
        dividends(&page).iter().map(|d| (d.pool, d.selection.clone(), d.payout)).collect();
    assert_eq!(
        got,
        [
            (Pool::Win, vec![10], 3.0),
            (Pool::Plc, vec![10], 1.2),
            (Pool::Plc, vec![2], 1.1),
            (Pool::Plc, vec![11], 2.2),
            (Pool::Qnl, vec![2, 10], 1.8),
            (Pool::Exa, vec![10, 2], 4.3),
            (Pool::Qpl, vec![2, 10], 1.0),
            (Pool::Qpl, vec![10, 11], 3.6),
            (Pool::Qpl, vec![2, 11], 2.9),
            (Pool::Tla, vec![2, 10, 11], 4.0),
            (Pool::Tri, vec![10, 2, 11], 17.0),
        ]
    );
    assert!(dividends(&page).iter().all(|d| d.race == key("busan", busan_day(), 1)));

    // The dividends are the winning combinations' final odds.
    let odds_op = odds("busan", busan_day(), 1, &ALL_POOLS);
    let odds_page = parse_fixture(
        &odds_op,
        &unfiltered_odds_request(&key("busan", busan_day(), 1)),
        "Dividend_rate_total_all_pools.json",
    );
    for d in dividends(&page) {
        let quote =
            snapshots(&odds_page).iter().find(|s| s.pool == d.pool && s.selection == d.selection).map(|s| s.quote);
        assert_eq!(quote, Some(Quote::Price(d.payout)), "{:?} {:?}", d.pool, d.selection);
    }
}

// --------------------------------------------------------------------------------- errors

#[test]
fn gateway_errors_with_http_200() {
    let op = odds("seoul", seoul_day(), 1, &[Pool::Win]);
    let request = planned(&op, "Dividend_rate_total", Some(Pool::Win));
    assert!(
        matches!(parse(&op, &request, fixture("gateway_error_30.xml")), Err(SourceError::Auth(m)) if m.contains("SERVICE_KEY_IS_NOT_REGISTERED"))
    );
    assert!(
        matches!(parse(&op, &request, fixture("gateway_error_22.xml")), Err(SourceError::QuotaExhausted(m)) if m.contains("code 22"))
    );
}

#[test]
fn a_malformed_item_names_service_page_item_and_field() {
    let op = entries("seoul", seoul_day(), 1);
    let request = planned(&op, "entrySheet_2", None);
    let body = String::from_utf8(fixture("entrySheet_2.json")).expect("utf-8").replacen(
        "\"chulNo\": 3",
        "\"chulNo\": \"셋\"",
        1,
    );
    let Err(SourceError::Malformed(m)) = parse(&op, &request, body.into_bytes()) else { panic!("accepted") };
    assert_eq!(m, "entrySheet_2 page 1: item 2: field `chulNo` should be a whole number in range, got \"셋\"");

    let odds_op = odds("seoul", seoul_day(), 1, &[Pool::Tri]);
    let tri = planned(&odds_op, "Dividend_rate_total", Some(Pool::Tri));
    let body = String::from_utf8(fixture("Dividend_rate_total_TRI_capped.json")).expect("utf-8").replacen(
        "\"chulNo3\": 3",
        "\"chulNo3\": 0",
        1,
    );
    let Err(SourceError::Malformed(m)) = parse(&odds_op, &tri, body.into_bytes()) else { panic!("accepted") };
    assert!(
        m.starts_with(
            "Dividend_rate_total TRI page 1: item 0: field `chulNo3` should be a saddle number (TRI names 3 runners)"
        ),
        "{m}"
    );
}

#[test]
fn a_request_the_plugin_did_not_plan_is_unsupported() {
    let op = results("seoul", seoul_day(), 1);
    let request = planned(&entries("seoul", seoul_day(), 1), "raceHorseCancelInfo_1", None);
    let Err(SourceError::Unsupported(m)) = parse(&op, &request, fixture("raceHorseCancelInfo_1.json")) else {
        panic!("accepted")
    };
    assert_eq!(m, "kra does not read /B551015/API9_1/raceHorseCancelInfo_1 for a results operation");
}

#[test]
fn every_fixture_parses_to_what_its_case_expects() {
    for case in cases() {
        let result = parse(&case.op, &case.request, fixture(case.fixture));
        match case.fixture {
            f if f.starts_with("gateway_error") => assert!(result.is_err(), "{f}"),
            f => {
                let page = result.unwrap_or_else(|e| panic!("{f}: {e:?}"));
                let empty = f.ends_with("_empty.json");
                assert_eq!(page.records.is_empty(), empty, "{f}");
                assert!(page.records.iter().all(|r| !matches!(r, Record::Odds(b) if b.quotes.is_empty())), "{f}");
                // The fixtures are the real services' shapes: the plugin knows every field.
                assert_eq!(page.drift, [], "{f}");
            }
        }
    }
}
