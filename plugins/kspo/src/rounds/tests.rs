use super::*;
use serde_json::json;

fn d(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn rows(dates: &[Date], race_nos: &[u8]) -> Vec<Row> {
    let mut out = Vec::new();
    for date in dates {
        for race in race_nos {
            let fields = json!({"race_ymd": format!("{:04}.{:02}.{:02}", date.year, date.month, date.day), "race_no": format!("{race:02}")});
            if let serde_json::Value::Object(map) = fields {
                out.push(Row::new(out.len(), map));
            }
        }
    }
    out
}

fn card<'a>(week: u8, page: u64, rows: &'a [Row], next_page: Option<HttpRequest>) -> Card<'a> {
    let rows = rows.iter().map(|r| (crate::rows::date(r, "race_ymd").expect("test rows have dates"), r)).collect();
    Card { year: 2026, week, page, rows, next_page }
}

fn asked(outcome: Result<Outcome<'_>, SourceError>) -> (u8, bool) {
    match outcome {
        Ok(Outcome::Ask(r)) => {
            (r.query_value("week_tcnt").and_then(|w| w.parse().ok()).unwrap_or(0), crate::api::is_probe(&r))
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Round 1 of 2026 is Fri 2 – Sun 4 January; round 24 is 12–14 June (rank sample, dossier §3.1).
#[test]
fn guesses_count_fridays_from_new_year() {
    assert_eq!(guess(&d(2026, 1, 2)), 1);
    assert_eq!(guess(&d(2026, 1, 4)), 1);
    assert_eq!(guess(&d(2026, 1, 1)), 1, "before the first Friday");
    assert_eq!(guess(&d(2026, 1, 8)), 1, "Mon–Thu count with the weekend before");
    assert_eq!(guess(&d(2026, 1, 9)), 2);
    assert_eq!(guess(&d(2026, 6, 13)), 24);
    assert_eq!(guess(&d(2026, 12, 31)), 52);
    assert_eq!(guess(&d(2022, 1, 1)), 1, "a Saturday 1 January: its Friday is last year's");
    assert_eq!(guess(&d(2022, 1, 7)), 1);
}

#[test]
fn the_date_on_the_card_is_found_with_the_next_page() {
    let r = rows(&[d(2026, 1, 2), d(2026, 1, 3)], &[1, 2]);
    let next = crate::api::cycle_card(2026, 1).param("pageNo", "2");
    match search(card(1, 1, &r, Some(next.clone())), &d(2026, 1, 3), |_| Ok(true)) {
        Ok(Outcome::Found(hits, Some(n))) => {
            assert_eq!(hits.len(), 2);
            assert_eq!(n, next);
        }
        other => panic!("{other:?}"),
    }
    let want_2 = |row: &Row| Ok(crate::rows::number(row, "race_no")? == 2);
    assert!(
        matches!(search(card(1, 1, &r, None), &d(2026, 1, 3), want_2), Ok(Outcome::Found(h, None)) if h.len() == 1)
    );
    let want_9 = |row: &Row| Ok(crate::rows::number(row, "race_no")? == 9);
    assert_eq!(
        search(card(1, 1, &r, None), &d(2026, 1, 3), want_9),
        Ok(Outcome::NoRaces),
        "the day is known and has no race 9"
    );
}

#[test]
fn a_card_later_than_the_date_steps_down_from_the_guess() {
    // Two rounds were cancelled: the guess for 2026-03-07 (10) holds 21–22 March.
    let r = rows(&[d(2026, 3, 20), d(2026, 3, 21)], &[1]);
    assert_eq!(asked(search(card(10, 1, &r, None), &d(2026, 3, 7), |_| Ok(true))), (9, false));
    assert_eq!(asked(search(card(9, 1, &r, None), &d(2026, 3, 7), |_| Ok(true))), (8, false));
}

#[test]
fn a_card_earlier_than_the_date_steps_up_from_the_guess() {
    let r = rows(&[d(2026, 1, 2), d(2026, 1, 3), d(2026, 1, 4)], &[1]);
    assert_eq!(
        asked(search(card(1, 1, &r, None), &d(2026, 1, 5), |_| Ok(true))),
        (2, false),
        "Monday: maybe a holiday round"
    );
    assert_eq!(asked(search(card(5, 1, &r, None), &d(2026, 1, 30), |_| Ok(true))), (6, false), "above the guess too");
}

#[test]
fn turning_back_is_never_needed() {
    // Going up (above the guess) a later card proves the date falls between rounds.
    let later = rows(&[d(2026, 1, 9), d(2026, 1, 10)], &[1]);
    assert_eq!(search(card(2, 1, &later, None), &d(2026, 1, 6), |_| Ok(true)), Ok(Outcome::NoRaces));
    // Going down, an earlier card asks a probe of the round above it.
    let earlier = rows(&[d(2026, 3, 6), d(2026, 3, 7)], &[1]);
    assert_eq!(asked(search(card(8, 1, &earlier, None), &d(2026, 3, 10), |_| Ok(true))), (9, true));
    // A date inside a round's span with no races of its own.
    let split = rows(&[d(2026, 1, 2), d(2026, 1, 4)], &[1]);
    assert_eq!(search(card(1, 1, &split, None), &d(2026, 1, 3), |_| Ok(true)), Ok(Outcome::NoRaces));
}

#[test]
fn probes_tell_published_from_not_yet() {
    let published = rows(&[d(2026, 3, 13)], &[1]);
    assert_eq!(probe(card(9, 1, &published, None), &d(2026, 3, 10)), Ok(Outcome::NoRaces));
    assert!(
        matches!(probe(card(9, 1, &[], None), &d(2026, 3, 10)), Err(SourceError::NoData(m)) if m.contains("round 9") && m.contains("2026-03-10"))
    );
    let just_now = rows(&[d(2026, 3, 10)], &[1]);
    assert_eq!(asked(probe(card(9, 1, &just_now, None), &d(2026, 3, 10))), (9, false));
}

#[test]
fn empty_cards_and_bounds() {
    // An empty card at the guess: the guess may be past the year's last round.
    assert_eq!(asked(search(card(52, 1, &[], None), &d(2026, 12, 27), |_| Ok(true))), (51, false));
    // Above the guess: the round is not published yet.
    assert!(
        matches!(search(card(3, 1, &[], None), &d(2026, 1, 12), |_| Ok(true)), Err(SourceError::NoData(m)) if m.contains("no card yet"))
    );
    // Round 1 is the floor; MAX_STEPS rounds from the guess is the reach.
    let later = rows(&[d(2026, 1, 2)], &[1]);
    assert!(
        matches!(search(card(1, 1, &later, None), &d(2026, 1, 1), |_| Ok(true)), Err(SourceError::NoData(m)) if m.contains("2026-01-01"))
    );
    let far = 52 - MAX_STEPS;
    let r = rows(&[d(2026, 12, 30)], &[1]);
    assert!(
        matches!(search(card(far, 1, &r, None), &d(2026, 12, 27), |_| Ok(true)), Err(SourceError::NoData(m)) if m.contains(&format!("rounds {far}–52")))
    );
}

#[test]
fn later_pages_never_step() {
    let earlier_only = rows(&[d(2026, 1, 2)], &[1]);
    let next = crate::api::cycle_card(2026, 1).param("pageNo", "3");
    assert_eq!(
        search(card(1, 2, &earlier_only, Some(next.clone())), &d(2026, 1, 4), |_| Ok(true)),
        Ok(Outcome::Ask(next)),
        "the date may be further on"
    );
    let later_only = rows(&[d(2026, 1, 4)], &[1]);
    assert_eq!(search(card(1, 2, &later_only, None), &d(2026, 1, 3), |_| Ok(true)), Ok(Outcome::NoRaces));
    assert_eq!(search(card(1, 2, &[], None), &d(2026, 1, 3), |_| Ok(true)), Ok(Outcome::NoRaces));
}
