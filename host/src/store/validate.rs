//! Checking a plugin's output before any of it reaches the database. A plugin is untrusted
//! code: one record that breaks the contract (an unknown track, a runner number 0, a NaN price)
//! means the plugin misread the source, so the whole output is refused as a plugin fault rather
//! than stored in part. A record must also answer the job: be on one of its source's tracks,
//! and be of the kind, day, race and pool the job asked for — a plugin cannot write another
//! source's data, or another race's, through a job of its own.

use chrono::NaiveDate;

use super::JobOutput;
use super::error::{Result, StoreError};
use crate::json;
use crate::plugins::text;
use crate::plugins::wit::{
    ClockTime, Date, Dividend, Entry, FinishStatus, Operation, Pool, Quote, RaceKey, Record, ResultRow, Scratch,
    selection_width,
};
use crate::tracks::Track;

/// Longest text field accepted, in characters. Real names, grades and margins are far shorter;
/// anything longer is a plugin reading the wrong field (a whole XML fragment, say).
pub const MAX_TEXT_CHARS: usize = 200;
/// Race numbers run from 1; no track runs more than ~20 a day.
const RACE_NUMBERS: std::ops::RangeInclusive<u8> = 1..=40;
/// Saddle, back and lane numbers, and finishing positions: fields are at most 16 horses.
const RUNNER_NUMBERS: std::ops::RangeInclusive<u8> = 1..=30;
/// Years a race date may fall in; anything else is a misread date.
const YEARS: std::ops::RangeInclusive<u16> = 2000..=2100;
/// Ages of horses (2–12 in practice) and racers (18–60 or so).
const MAX_AGE: u8 = 99;
/// Decimal odds: at least the stake back, and below any real price (KRA caps at 9999.9).
const MIN_PRICE: f64 = 1.0;
const MAX_PRICE: f64 = 100_000.0;
/// Race distances in metres: boat races run ~600 m, the longest horse race 3,200 m.
const MAX_DISTANCE_M: u32 = 10_000;

/// Checks every record of `output`; the first failure refuses the whole output as
/// [`StoreError::Invalid`], naming the plugin, the record's index and what is wrong.
pub fn validate(output: &JobOutput<'_>) -> Result<()> {
    for (index, record) in output.records.iter().enumerate() {
        let answers = |record| output.asked.map_or(Ok(()), |asked| answers(asked, record));
        check_record(output.tracks, record).and_then(|()| answers(record)).map_err(|reason| StoreError::Invalid {
            plugin: output.plugin.to_string(),
            index,
            reason: format!("{}: {reason}", describe(record)),
        })?;
    }
    Ok(())
}

/// `odds for seoul 2026-11-28 race 3`, to say which record is wrong.
fn describe(record: &Record) -> String {
    let (kind, key) = match record {
        Record::Race(r) => ("race", &r.key),
        Record::Entry(e) => ("entry", &e.race),
        Record::Scratch(s) => ("scratch", &s.race),
        Record::Odds(o) => ("odds", &o.race),
        Record::Result(r) => ("result", &r.race),
        Record::Dividend(d) => ("dividend", &d.race),
    };
    // The track is untrusted; a plugin could have put a whole page, or a line break, in it.
    format!("{kind} for {} {} race {}", text::clean(&key.track, 40), json::date(&key.date), key.number)
}

/// Whether `record` answers `asked`: a schedule's races of its day, the entries and scratches,
/// the odds of the asked pools, or the results and dividends of its race.
fn answers(asked: &Operation, record: &Record) -> Result<(), String> {
    let same_race = |race: &RaceKey, key: &RaceKey| {
        if race == key {
            Ok(())
        } else {
            Err(format!("the job asked about {} {} race {}", key.track, json::date(&key.date), key.number))
        }
    };
    match (asked, record) {
        (Operation::Schedule(day), Record::Race(r)) => {
            if r.key.track == day.track && r.key.date == day.date {
                Ok(())
            } else {
                Err(format!("the job asked for the schedule of {} {}", day.track, json::date(&day.date)))
            }
        }
        (
            Operation::Entries(race),
            Record::Entry(Entry { race: key, .. }) | Record::Scratch(Scratch { race: key, .. }),
        ) => same_race(key, &race.key),
        (
            Operation::Results(race),
            Record::Result(ResultRow { race: key, .. }) | Record::Dividend(Dividend { race: key, .. }),
        ) => same_race(key, &race.key),
        // Any job about one race may say where that race stands.
        (Operation::Entries(race) | Operation::Results(race), Record::Race(r)) => same_race(&r.key, &race.key),
        (Operation::Odds(query), Record::Race(r)) => same_race(&r.key, &query.race.key),
        (Operation::Odds(query), Record::Odds(o)) => {
            same_race(&o.race, &query.race.key)?;
            if query.pools.contains(&o.pool) {
                Ok(())
            } else {
                Err(format!("the job did not ask for the {} pool", json::pool(o.pool)))
            }
        }
        (asked, _) => Err(format!("a {} job cannot return it", operation_name(asked))),
    }
}

fn operation_name(op: &Operation) -> &'static str {
    match op {
        Operation::Schedule(_) => "schedule",
        Operation::Entries(_) => "entries",
        Operation::Odds(_) => "odds",
        Operation::Results(_) => "results",
    }
}

fn check_record(served: &[String], record: &Record) -> Result<(), String> {
    match record {
        Record::Race(r) => {
            race_key(served, &r.key)?;
            text("meeting", r.meeting.as_deref())?;
            text("name", r.name.as_deref())?;
            text("grade", r.grade.as_deref())?;
            if let Some(d) = r.distance_m.filter(|d| !(1..=MAX_DISTANCE_M).contains(d)) {
                return Err(format!("race distance {d} m is outside 1–{MAX_DISTANCE_M}"));
            }
            if let Some(n) = r.field_size.filter(|n| !RUNNER_NUMBERS.contains(n)) {
                return Err(format!("field size {n} is outside 1–30"));
            }
            r.post_time.as_ref().map_or(Ok(()), clock_time)
        }
        Record::Entry(e) => {
            race_key(served, &e.race)?;
            runner_number(e.number)?;
            text("runner_id", e.runner_id.as_deref())?;
            text("runner_name", Some(&e.runner_name))?;
            text("jockey", e.jockey.as_deref())?;
            text("jockey_id", e.jockey_id.as_deref())?;
            text("trainer", e.trainer.as_deref())?;
            text("trainer_id", e.trainer_id.as_deref())?;
            if let Some(age) = e.age.filter(|a| !(1..=MAX_AGE).contains(a)) {
                return Err(format!("runner {}: age {age} is outside 1–{MAX_AGE}", e.number));
            }
            if let Some(w) = e.weight_kg.filter(|w| !(w.is_finite() && *w > 0.0 && *w < 1000.0)) {
                return Err(format!("runner {}: weight {w} kg is not a weight", e.number));
            }
            if let Some(r) = e.rating.filter(|r| !r.is_finite()) {
                return Err(format!("runner {}: rating {r} is not a number", e.number));
            }
            Ok(())
        }
        Record::Scratch(s) => {
            race_key(served, &s.race)?;
            runner_number(s.number)?;
            text("scratch reason", s.reason.as_deref())
        }
        Record::Odds(o) => {
            race_key(served, &o.race)?;
            let width = selection_width(o.pool);
            if o.selections.len() % width != 0 || o.selections.len() / width != o.quotes.len() {
                return Err(format!(
                    "{} board: {} runner numbers are not {} selections of {width}",
                    json::pool(o.pool),
                    o.selections.len(),
                    o.quotes.len()
                ));
            }
            for (sel, quote) in o.prices() {
                selection(o.pool, sel)?;
                if let Quote::Price(p) = quote {
                    price("price", p)?;
                }
            }
            Ok(())
        }
        Record::Result(r) => {
            race_key(served, &r.race)?;
            result_row(r)
        }
        Record::Dividend(d) => {
            race_key(served, &d.race)?;
            selection(d.pool, &d.selection)?;
            if !(d.payout.is_finite() && d.payout > 0.0) {
                return Err(format!(
                    "{} {:?}: payout {} is not a positive amount",
                    json::pool(d.pool),
                    d.selection,
                    d.payout
                ));
            }
            Ok(())
        }
    }
}

fn result_row(r: &crate::plugins::wit::ResultRow) -> Result<(), String> {
    if let Some(n) = r.number {
        runner_number(n)?;
    }
    text("runner_id", r.runner_id.as_deref())?;
    text("runner_name", r.runner_name.as_deref())?;
    text("margin", r.margin.as_deref())?;
    if let FinishStatus::Other(s) = &r.status {
        text("status", Some(s))?;
    }
    let named = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    if r.number.is_none() && !named(&r.runner_id) && !named(&r.runner_name) {
        return Err("result row names no runner (no number, id or name)".into());
    }
    if let Some(p) = r.position.filter(|p| !RUNNER_NUMBERS.contains(p)) {
        return Err(format!("finishing position {p} is outside 1–30"));
    }
    if let Some(t) = r.time_s.filter(|t| !(t.is_finite() && *t > 0.0 && *t < 3600.0)) {
        return Err(format!("race time {t} s is not a race time"));
    }
    r.win_odds.map_or(Ok(()), |p| price("win_odds", p))?;
    r.place_odds.map_or(Ok(()), |p| price("place_odds", p))
}

/// Known to the host, served by this plugin, a real date in a plausible year, a sane number.
fn race_key(served: &[String], key: &RaceKey) -> Result<(), String> {
    if Track::parse(&key.track).is_none() {
        return Err(format!("unknown track (known: {})", crate::tracks::codes()));
    }
    if !served.contains(&key.track) {
        return Err(format!(
            "track {} is not among the tracks of this job's source ({})",
            key.track,
            served.join(", ")
        ));
    }
    date(&key.date)?;
    if !RACE_NUMBERS.contains(&key.number) {
        return Err(format!("race number {} is outside 1–40", key.number));
    }
    Ok(())
}

/// The WIT date as a calendar date, if it is one in [`YEARS`].
pub(crate) fn date(d: &Date) -> Result<NaiveDate, String> {
    if !YEARS.contains(&d.year) {
        return Err(format!("date {} is outside the years 2000–2100", json::date(d)));
    }
    NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
        .ok_or_else(|| format!("date {} does not exist", json::date(d)))
}

fn clock_time(t: &ClockTime) -> Result<(), String> {
    if t.hour > 23 || t.minute > 59 {
        return Err(format!("post time {:02}:{:02} is not a time of day", t.hour, t.minute));
    }
    Ok(())
}

fn runner_number(n: u8) -> Result<(), String> {
    if !RUNNER_NUMBERS.contains(&n) {
        return Err(format!("runner number {n} is outside 1–30"));
    }
    Ok(())
}

/// How many runners a selection of `pool` names.
fn selection(pool: Pool, selection: &[u8]) -> Result<(), String> {
    let code = json::pool(pool);
    if selection.len() != selection_width(pool) {
        return Err(format!(
            "{code} selection {selection:?} names {} runners, not {}",
            selection.len(),
            selection_width(pool)
        ));
    }
    for (i, n) in selection.iter().enumerate() {
        runner_number(*n)?;
        if selection[..i].contains(n) {
            return Err(format!("{code} selection {selection:?} repeats runner {n}"));
        }
    }
    Ok(())
}

fn price(field: &str, p: f64) -> Result<(), String> {
    if !(p.is_finite() && (MIN_PRICE..MAX_PRICE).contains(&p)) {
        return Err(format!("{field} {p} is not a price (at least {MIN_PRICE}, below {MAX_PRICE})"));
    }
    Ok(())
}

/// At most [`MAX_TEXT_CHARS`] characters and no NUL (PostgreSQL text cannot hold one).
fn text(field: &str, value: Option<&str>) -> Result<(), String> {
    let Some(value) = value else { return Ok(()) };
    if value.contains('\0') {
        return Err(format!("{field} contains a NUL byte"));
    }
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!("{field} is {chars} characters long, over the limit of {MAX_TEXT_CHARS}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::plugins::wit::{DayRef, OddsBoard, OddsQuery, Race, RaceRef, RaceStatus, Sex};

    fn key(number: u8) -> RaceKey {
        RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 12, day: 19 }, number }
    }

    fn race(number: u8) -> Record {
        Record::Race(Race {
            key: key(number),
            meeting: Some("1".into()),
            name: Some("일반".into()),
            distance_m: Some(1200),
            post_time: Some(ClockTime { hour: 10, minute: 35 }),
            grade: Some("국6".into()),
            field_size: Some(12),
            status: Some(RaceStatus::Scheduled),
        })
    }

    fn entry(number: u8) -> Entry {
        Entry {
            race: key(1),
            number,
            runner_id: Some("0041234".into()),
            runner_name: "천둥".into(),
            jockey: Some("문세영".into()),
            jockey_id: Some("080565".into()),
            trainer: None,
            trainer_id: None,
            weight_kg: Some(55.0),
            rating: Some(71.0),
            age: Some(4),
            sex: Some(Sex::Gelding),
        }
    }

    fn result(number: Option<u8>) -> ResultRow {
        ResultRow {
            race: key(1),
            number,
            runner_id: None,
            runner_name: None,
            position: Some(1),
            status: FinishStatus::Finished,
            time_s: Some(72.4),
            margin: Some("1".into()),
            win_odds: Some(3.2),
            place_odds: None,
        }
    }

    fn odds(pool: Pool, selection: Vec<u8>, quote: Quote) -> Record {
        Record::Odds(OddsBoard { race: key(1), pool, selections: selection, quotes: vec![quote] })
    }

    fn dividend(pool: Pool, selection: Vec<u8>, payout: f64) -> Record {
        Record::Dividend(Dividend { race: key(1), pool, selection, payout })
    }

    /// The reason `records` are refused for a job that asked `asked` of the Seoul source.
    fn refused(asked: Option<&Operation>, records: &[Record]) -> Option<String> {
        let tracks = ["seoul".to_string()];
        let output = JobOutput {
            plugin: "kra 0.1.0",
            tracks: &tracks,
            asked,
            records,
            captured_at: DateTime::from_timestamp(1_800_000_000, 0).expect("an instant"),
            final_odds: false,
        };
        match validate(&output) {
            Ok(()) => None,
            Err(StoreError::Invalid { plugin, reason, .. }) => {
                assert_eq!(plugin, "kra 0.1.0");
                Some(reason)
            }
            Err(other) => panic!("not a refusal: {other}"),
        }
    }

    fn why(record: Record) -> String {
        refused(None, &[record]).expect("refused")
    }

    #[test]
    fn sound_records_of_every_kind_pass() {
        let records = [
            race(1),
            Record::Entry(entry(3)),
            Record::Scratch(Scratch { race: key(1), number: 4, reason: Some("마체이상".into()) }),
            odds(Pool::Win, vec![3], Quote::Price(4.5)),
            odds(Pool::Tri, vec![3, 1, 7], Quote::Capped),
            Record::Result(result(Some(3))),
            dividend(Pool::Qnl, vec![1, 3], 12.5),
        ];
        assert_eq!(refused(None, &records), None);
    }

    #[test]
    fn a_race_key_must_be_a_known_served_track_a_real_date_and_a_sane_number() {
        let mut r = key(1);
        r.track = "tokyo".into();
        assert!(why(Record::Scratch(Scratch { race: r, number: 1, reason: None })).contains("unknown track"));
        let mut r = key(1);
        r.track = "busan".into();
        let reason = why(Record::Scratch(Scratch { race: r, number: 1, reason: None }));
        assert!(reason.contains("not among the tracks of this job's source (seoul)"), "{reason}");
        let mut r = key(1);
        r.date = Date { year: 2026, month: 2, day: 30 };
        assert!(why(Record::Scratch(Scratch { race: r, number: 1, reason: None })).contains("does not exist"));
        let mut r = key(1);
        r.date.year = 1999;
        assert!(why(Record::Scratch(Scratch { race: r, number: 1, reason: None })).contains("2000–2100"));
        assert!(why(race(0)).contains("race number 0 is outside 1–40"));
        assert!(why(race(41)).starts_with("race for seoul 2026-12-19 race 41: "));
    }

    #[test]
    fn a_race_needs_a_plausible_distance_field_and_post_time() {
        let with = |f: fn(&mut Race)| {
            let Record::Race(mut r) = race(1) else { unreachable!() };
            f(&mut r);
            why(Record::Race(r))
        };
        assert!(with(|r| r.distance_m = Some(0)).contains("distance 0 m"));
        assert!(with(|r| r.field_size = Some(31)).contains("field size 31"));
        assert!(with(|r| r.post_time = Some(ClockTime { hour: 24, minute: 0 })).contains("24:00 is not a time of day"));
        assert!(with(|r| r.name = Some("x".repeat(MAX_TEXT_CHARS + 1))).contains("over the limit"));
        assert!(with(|r| r.grade = Some("a\0b".into())).contains("NUL"));
    }

    #[test]
    fn an_entry_needs_a_runner_number_and_a_real_weight_and_rating() {
        assert!(why(Record::Entry(entry(0))).contains("runner number 0"));
        let mut e = entry(2);
        e.weight_kg = Some(f64::NAN);
        assert!(why(Record::Entry(e)).contains("is not a weight"));
        let mut e = entry(2);
        e.rating = Some(f64::INFINITY);
        assert!(why(Record::Entry(e)).contains("is not a number"));
    }

    #[test]
    fn a_selection_names_as_many_distinct_runners_as_its_pool_and_a_price_is_a_price() {
        assert!(
            why(odds(Pool::Qnl, vec![1], Quote::Price(3.0))).contains("1 runner numbers are not 1 selections of 2")
        );
        // A board's flat list must line up with its quotes.
        let ragged = Record::Odds(OddsBoard {
            race: key(1),
            pool: Pool::Qnl,
            selections: vec![1, 2, 1, 3],
            quotes: vec![Quote::Price(3.0)],
        });
        assert!(why(ragged).contains("4 runner numbers are not 1 selections of 2"));
        let board = Record::Odds(OddsBoard {
            race: key(1),
            pool: Pool::Qnl,
            selections: vec![1, 2, 1, 3],
            quotes: vec![Quote::Price(3.0), Quote::Capped],
        });
        assert_eq!(refused(None, &[board]), None);
        let mut e = entry(2);
        e.age = Some(0);
        assert!(why(Record::Entry(e)).contains("age 0 is outside 1–99"));
        assert!(why(odds(Pool::Tla, vec![1, 2, 1], Quote::Price(3.0))).contains("repeats runner 1"));
        assert!(why(odds(Pool::Win, vec![31], Quote::Price(3.0))).contains("runner number 31"));
        assert!(why(odds(Pool::Win, vec![1], Quote::Price(0.9))).contains("is not a price"));
        assert!(why(odds(Pool::Win, vec![1], Quote::Price(f64::NAN))).contains("is not a price"));
        assert!(why(dividend(Pool::Win, vec![1], 0.0)).contains("is not a positive amount"));
        assert_eq!(selection_width(Pool::Xla), 3);
    }

    #[test]
    fn a_result_row_names_a_runner_and_has_a_real_place_time_and_odds() {
        assert!(why(Record::Result(result(None))).contains("names no runner"));
        let named = ResultRow { runner_name: Some("천둥".into()), ..result(None) };
        assert_eq!(refused(None, &[Record::Result(named)]), None);
        let blank = ResultRow { runner_id: Some("  ".into()), ..result(None) };
        assert!(why(Record::Result(blank)).contains("names no runner"));
        assert!(why(Record::Result(ResultRow { position: Some(0), ..result(Some(1)) })).contains("position 0"));
        assert!(why(Record::Result(ResultRow { time_s: Some(-1.0), ..result(Some(1)) })).contains("not a race time"));
        assert!(why(Record::Result(ResultRow { place_odds: Some(0.5), ..result(Some(1)) })).contains("place_odds"));
        let other = ResultRow { status: FinishStatus::Other("x".repeat(300)), ..result(Some(1)) };
        assert!(why(Record::Result(other)).contains("status is 300 characters"));
    }

    #[test]
    fn a_record_must_answer_the_job_that_asked() {
        let schedule = Operation::Schedule(DayRef { track: "seoul".into(), date: key(1).date });
        assert_eq!(refused(Some(&schedule), &[race(1), race(2)]), None);
        let other_day =
            Operation::Schedule(DayRef { track: "seoul".into(), date: Date { year: 2026, month: 12, day: 20 } });
        assert!(refused(Some(&other_day), &[race(1)]).expect("refused").contains("the schedule of seoul 2026-12-20"));
        assert!(
            refused(Some(&schedule), &[Record::Entry(entry(1))]).expect("refused").contains("a schedule job cannot")
        );

        let entries = Operation::Entries(RaceRef { key: key(2), meeting: None });
        assert!(
            refused(Some(&entries), &[Record::Entry(entry(1))])
                .expect("refused")
                .contains("asked about seoul 2026-12-19 race 2")
        );
        let results = Operation::Results(RaceRef { key: key(1), meeting: None });
        assert_eq!(
            refused(Some(&results), &[Record::Result(result(Some(1))), dividend(Pool::Win, vec![1], 2.0)]),
            None
        );

        let win = Operation::Odds(OddsQuery { race: RaceRef { key: key(1), meeting: None }, pools: vec![Pool::Win] });
        assert_eq!(refused(Some(&win), &[odds(Pool::Win, vec![1], Quote::Price(2.0))]), None);
        let reason = refused(
            Some(&win),
            &[odds(Pool::Win, vec![1], Quote::Price(2.0)), odds(Pool::Plc, vec![1], Quote::Capped)],
        );
        assert!(reason.expect("refused").contains("did not ask for the PLC pool"));
    }

    #[test]
    fn a_record_is_named_by_its_cleaned_key_in_the_refusal() {
        let mut r = key(3);
        r.track = "seoul\nFORGED".into();
        let reason = why(Record::Scratch(Scratch { race: r, number: 1, reason: None }));
        assert!(!reason.contains('\n'), "{reason}");
        assert!(reason.starts_with("scratch for seoul"), "{reason}");
    }
}
