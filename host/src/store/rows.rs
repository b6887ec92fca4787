//! A job's records as the rows the store writes: merged by natural key and laid out column by
//! column, ready to bind as arrays for `UNNEST`.
//!
//! Merging happens here, before SQL, because one `INSERT … ON CONFLICT DO UPDATE` may not touch
//! the same row twice. For races and entries a later non-null field wins and a later null keeps
//! the earlier value (KRA repeats a race on its entry sheet with only the post time); for
//! scratches, odds, results and dividends the later record wins whole. Keys come out sorted,
//! so concurrent jobs lock rows in the same order.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::validate;
use crate::json;
use crate::plugins::wit::{ClockTime, Entry, FinishStatus, Quote, Race, RaceKey, Record, ResultRow};

/// A race by its natural key, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RaceId<'a> {
    pub track: &'a str,
    pub date: NaiveDate,
    pub number: i16,
}

impl<'a> RaceId<'a> {
    /// Only for validated keys: an impossible date falls back to 2000-01-01 rather than panic.
    fn of(key: &'a RaceKey) -> Self {
        let date = validate::date(&key.date).unwrap_or_default();
        RaceId { track: &key.track, date, number: key.number.into() }
    }
}

/// A race's descriptive fields; `None` leaves the stored value alone.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RaceFields<'a> {
    pub meeting: Option<&'a str>,
    pub name: Option<&'a str>,
    pub distance_m: Option<i32>,
    pub post_time: Option<DateTime<Utc>>,
    pub grade: Option<&'a str>,
    pub field_size: Option<i16>,
    pub status: Option<&'static str>,
}

impl<'a> RaceFields<'a> {
    fn of(race: &'a Race, date: NaiveDate) -> Self {
        RaceFields {
            meeting: race.meeting.as_deref(),
            name: race.name.as_deref(),
            distance_m: race.distance_m.and_then(|d| i32::try_from(d).ok()),
            post_time: race.post_time.as_ref().map(|t| kst_instant(date, t)),
            grade: race.grade.as_deref(),
            field_size: race.field_size.map(i16::from),
            status: race.status.map(json::race_status),
        }
    }

    fn merge(&mut self, later: Self) {
        self.meeting = later.meeting.or(self.meeting);
        self.name = later.name.or(self.name);
        self.distance_m = later.distance_m.or(self.distance_m);
        self.post_time = later.post_time.or(self.post_time);
        self.grade = later.grade.or(self.grade);
        self.field_size = later.field_size.or(self.field_size);
        self.status = later_status(self.status, later.status);
    }
}

/// An entry's fields; `None` leaves the stored value alone.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct EntryFields<'a> {
    pub runner_id: Option<&'a str>,
    pub runner_name: Option<&'a str>,
    pub jockey: Option<&'a str>,
    pub jockey_id: Option<&'a str>,
    pub trainer: Option<&'a str>,
    pub trainer_id: Option<&'a str>,
    pub weight_kg: Option<f64>,
    pub rating: Option<f64>,
    pub age: Option<i16>,
    pub sex: Option<&'static str>,
}

impl<'a> EntryFields<'a> {
    fn of(e: &'a Entry) -> Self {
        EntryFields {
            runner_id: e.runner_id.as_deref(),
            runner_name: Some(&e.runner_name),
            jockey: e.jockey.as_deref(),
            jockey_id: e.jockey_id.as_deref(),
            trainer: e.trainer.as_deref(),
            trainer_id: e.trainer_id.as_deref(),
            weight_kg: e.weight_kg,
            rating: e.rating,
            age: e.age.map(i16::from),
            sex: e.sex.map(json::sex),
        }
    }

    fn merge(&mut self, later: Self) {
        self.runner_id = later.runner_id.or(self.runner_id);
        self.runner_name = later.runner_name.or(self.runner_name);
        self.jockey = later.jockey.or(self.jockey);
        self.jockey_id = later.jockey_id.or(self.jockey_id);
        self.trainer = later.trainer.or(self.trainer);
        self.trainer_id = later.trainer_id.or(self.trainer_id);
        self.weight_kg = later.weight_kg.or(self.weight_kg);
        self.rating = later.rating.or(self.rating);
        self.age = later.age.or(self.age);
        self.sex = later.sex.or(self.sex);
    }
}

/// Race statuses in the order they may follow each other: a card read again after the result
/// does not make a run race scheduled; a cancellation stands. The SQL upsert keeps the same
/// order (`write.rs`).
pub(crate) const RACE_STATUS_ORDER: [&str; 3] = ["scheduled", "run", "cancelled"];

fn later_status(stored: Option<&'static str>, later: Option<&'static str>) -> Option<&'static str> {
    let rank = |s: Option<&str>| s.and_then(|s| RACE_STATUS_ORDER.iter().position(|x| *x == s));
    if rank(later) > rank(stored) { later } else { stored }
}

/// A pool code and runner numbers: one priced or paid selection of a race.
pub(crate) type SelectionKey<'a> = (RaceId<'a>, &'static str, &'a [u8]);

/// A job's records, merged by natural key.
#[derive(Debug, Default)]
pub(crate) struct Rows<'a> {
    /// Every race the output mentions; a race seen only through its entries, odds or results
    /// gets a row with no fields, so that its key exists for them to reference.
    pub races: BTreeMap<RaceId<'a>, RaceFields<'a>>,
    pub entries: BTreeMap<(RaceId<'a>, i16), EntryFields<'a>>,
    pub scratches: BTreeMap<(RaceId<'a>, i16), Option<&'a str>>,
    /// Sorted by key, one quote per key. A list sorted once rather than a map: an odds job is
    /// ~1,400 quotes of one race, and a map's per-insert comparisons were a fifth of the
    /// store's CPU.
    pub odds: Vec<(SelectionKey<'a>, Quote)>,
    pub results: BTreeMap<(RaceId<'a>, String), &'a ResultRow>,
    pub dividends: BTreeMap<SelectionKey<'a>, f64>,
}

impl<'a> Rows<'a> {
    /// Merges validated records, in order.
    pub fn of(records: &'a [Record]) -> Self {
        let mut rows = Rows::default();
        for record in records {
            rows.add(record);
        }
        // Stable: among quotes of one key the later record stays later, and is kept. Plugins
        // report a race's quotes in order, so this is mostly a check that runs are sorted.
        rows.odds.sort_by(|a, b| a.0.cmp(&b.0));
        rows.odds.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });
        rows
    }

    fn add(&mut self, record: &'a Record) {
        match record {
            Record::Race(r) => {
                let id = RaceId::of(&r.key);
                self.races.entry(id).or_default().merge(RaceFields::of(r, id.date));
            }
            Record::Entry(e) => {
                let id = self.race(&e.race);
                self.entries.entry((id, e.number.into())).or_default().merge(EntryFields::of(e));
            }
            Record::Scratch(s) => {
                let id = self.race(&s.race);
                let reason = self.scratches.entry((id, s.number.into())).or_default();
                *reason = s.reason.as_deref().or(*reason);
            }
            Record::Odds(board) => {
                let (id, pool) = (self.race(&board.race), json::pool(board.pool));
                self.odds.extend(board.prices().map(|(selection, quote)| ((id, pool, selection), quote)));
            }
            Record::Result(r) => {
                let id = self.race(&r.race);
                self.results.insert((id, runner_key(r)), r);
            }
            Record::Dividend(d) => {
                let id = self.race(&d.race);
                self.dividends.insert((id, json::pool(d.pool), &d.selection), d.payout);
            }
        }
    }

    fn race(&mut self, key: &'a RaceKey) -> RaceId<'a> {
        let id = RaceId::of(key);
        self.races.entry(id).or_default();
        id
    }
}

/// Identifies a runner within a race's results: the number as text when known, else the
/// source's id (`id:…`) or name (`name:…`). Validation guarantees one of them.
pub(crate) fn runner_key(r: &ResultRow) -> String {
    match (r.number, r.runner_id.as_deref(), r.runner_name.as_deref()) {
        (Some(n), _, _) => n.to_string(),
        (None, Some(id), _) if !id.trim().is_empty() => format!("id:{}", id.trim()),
        (None, _, name) => format!("name:{}", name.unwrap_or_default().trim()),
    }
}

/// `finished`, `did_not_finish`, … or `other:<text>`.
pub(crate) fn status(s: &FinishStatus) -> String {
    match s {
        FinishStatus::Finished => "finished".into(),
        FinishStatus::Disqualified => "disqualified".into(),
        FinishStatus::DidNotFinish => "did_not_finish".into(),
        FinishStatus::ExcludedAtStart => "excluded_at_start".into(),
        FinishStatus::Excluded => "excluded".into(),
        FinishStatus::Withdrawn => "withdrawn".into(),
        FinishStatus::NoContest => "no_contest".into(),
        FinishStatus::Cancelled => "cancelled".into(),
        FinishStatus::Other(text) => format!("other:{text}"),
    }
}

/// A KST wall-clock time on a KST date as an instant. Korea keeps UTC+9 all year.
pub(crate) fn kst_instant(date: NaiveDate, t: &ClockTime) -> DateTime<Utc> {
    let local = date.and_hms_opt(t.hour.into(), t.minute.into(), 0).unwrap_or_default();
    crate::clock::kst_instant(local.date(), local.time())
}

/// A selection as the three nullable columns bound for `UNNEST` (which flattens nested
/// arrays, so a `smallint[]` per row cannot be passed as one array of arrays).
pub(crate) fn legs(selection: &[u8]) -> (i16, Option<i16>, Option<i16>) {
    let leg = |i: usize| selection.get(i).map(|n| i16::from(*n));
    (leg(0).unwrap_or_default(), leg(1), leg(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{Date, Pool, Scratch};

    fn key(number: u8) -> RaceKey {
        RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 11, day: 28 }, number }
    }

    fn race(number: u8, name: Option<&str>, post_time: Option<ClockTime>) -> Record {
        Record::Race(Race {
            key: key(number),
            meeting: None,
            name: name.map(Into::into),
            distance_m: Some(1200),
            post_time,
            grade: None,
            field_size: None,
            status: None,
        })
    }

    #[test]
    fn a_later_race_record_fills_in_without_erasing() {
        let records = [race(1, Some("국6등급"), None), race(1, None, Some(ClockTime { hour: 10, minute: 30 }))];
        let rows = Rows::of(&records);
        let fields = rows.races.values().next().expect("one race");
        assert_eq!(rows.races.len(), 1);
        assert_eq!(fields.name, Some("국6등급"));
        assert_eq!(fields.post_time.map(|t| t.to_rfc3339()), Some("2026-11-28T01:30:00+00:00".into()));
    }

    #[test]
    fn every_mentioned_race_gets_a_row() {
        let records = [Record::Scratch(Scratch { race: key(4), number: 2, reason: None })];
        let rows = Rows::of(&records);
        assert_eq!(rows.races.keys().map(|r| r.number).collect::<Vec<_>>(), [4]);
        assert_eq!(rows.races.values().next(), Some(&RaceFields::default()));
    }

    #[test]
    fn the_last_quote_of_a_selection_wins() {
        let odds = |p| {
            Record::Odds(crate::plugins::wit::OddsBoard {
                race: key(1),
                pool: Pool::Qnl,
                selections: vec![1, 2],
                quotes: vec![Quote::Price(p)],
            })
        };
        let records = [odds(3.0), odds(4.5), odds(2.0), odds(5.0)];
        let rows = Rows::of(&records);
        assert_eq!(rows.odds.iter().map(|o| o.1).collect::<Vec<_>>(), [Quote::Price(5.0)]);
    }

    #[test]
    fn quotes_come_out_sorted_by_race_pool_and_selection_once_each() {
        let odds = |number, pool, selection: &[u8], p| {
            Record::Odds(crate::plugins::wit::OddsBoard {
                race: key(number),
                pool,
                selections: selection.to_vec(),
                quotes: vec![Quote::Price(p)],
            })
        };
        let records = [
            odds(2, Pool::Win, &[3], 1.5),
            odds(1, Pool::Win, &[2], 2.5),
            odds(1, Pool::Qnl, &[1, 2], 9.0),
            odds(1, Pool::Win, &[1], 3.5),
            odds(2, Pool::Win, &[3], 4.5),
            odds(1, Pool::Win, &[2], 5.5),
        ];
        let rows = Rows::of(&records);
        let got: Vec<_> =
            rows.odds.iter().map(|((race, pool, sel), q)| (race.number, *pool, sel.to_vec(), *q)).collect();
        assert_eq!(
            got,
            [
                (1, "QNL", vec![1, 2], Quote::Price(9.0)),
                (1, "WIN", vec![1], Quote::Price(3.5)),
                (1, "WIN", vec![2], Quote::Price(5.5)),
                (2, "WIN", vec![3], Quote::Price(4.5)),
            ]
        );
        assert_eq!(rows.races.keys().map(|r| r.number).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn runner_keys() {
        let mut r = ResultRow {
            race: key(1),
            number: Some(7),
            runner_id: Some("R1".into()),
            runner_name: Some("번개".into()),
            position: Some(1),
            status: FinishStatus::Finished,
            time_s: None,
            margin: None,
            win_odds: None,
            place_odds: None,
        };
        assert_eq!(runner_key(&r), "7");
        r.number = None;
        assert_eq!(runner_key(&r), "id:R1");
        r.runner_id = None;
        assert_eq!(runner_key(&r), "name:번개");
        assert_eq!(status(&FinishStatus::Other("재경주".into())), "other:재경주");
    }
}
