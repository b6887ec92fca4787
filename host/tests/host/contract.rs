//! Contract tests: each real component against the simulator over real HTTP, for two weeks of
//! race days on every track it serves. Every operation must succeed (zero unexpected errors)
//! and yield exactly what the simulator's model says it served.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone};
use racelab::fetch::{Endpoint, Fetcher, Secret};
use racelab::plugins::wit::{
    Date, DayRef, Entry, OddsQuery, OddsTiming, Operation, OperationKind, Pool, Race, RaceKey, RaceRef, Record,
};
use racelab::plugins::{Limits, Plugin, Runtime};
use racelab::runner::{self, Policy};
use racelab_sim::{Calendar, Clock, SimConfig, Track, expect};

const SEED: u64 = 7;
const ALL_KRA_POOLS: [Pool; 7] = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri];

struct Harness {
    _sim: common::Sim,
    rt: tokio::runtime::Runtime,
    endpoint: Endpoint,
    fetcher: Fetcher,
    calendar: Calendar,
}

impl Harness {
    /// The simulator at 23:00 KST on the last day, so every race of the window is official.
    fn new(last_day: NaiveDate) -> Harness {
        let now = racelab_sim::clock::kst()
            .from_local_datetime(&last_day.and_hms_opt(23, 0, 0).expect("valid time"))
            .single()
            .expect("KST has no gaps");
        let mut config = SimConfig { seed: SEED, clock: Clock::fixed(now), ..SimConfig::default() };
        config.limits.per_second = 1_000_000;
        config.limits.daily = 1_000_000;
        let sim = common::Sim::start(config);
        let endpoint = Endpoint::new(&sim.base_url, Some(("serviceKey".into(), Secret::new("contract-test-key"))))
            .expect("base URL");
        Harness {
            _sim: sim,
            rt: common::async_runtime(),
            endpoint,
            fetcher: Fetcher::new(Duration::from_secs(30)).expect("client"),
            calendar: Calendar::new(SEED),
        }
    }

    /// The operation's records; the simulator serves the real services' shapes, so the
    /// plugin must report no drift.
    fn run(&self, plugin: &Plugin, op: Operation) -> Vec<Record> {
        let policy = Policy { retries: 0, ..Policy::default() };
        match self.rt.block_on(runner::run(plugin, &self.endpoint, &self.fetcher, &op, &[], &policy)) {
            Ok(outcome) => {
                assert!(outcome.drift.is_empty(), "{} {op:?}: drift {:?}", plugin.label(), outcome.drift);
                outcome.records
            }
            Err(e) => panic!("{} {op:?}: unexpected error: {e}", plugin.label()),
        }
    }
}

fn wit_date(d: NaiveDate) -> Date {
    Date { year: d.year() as u16, month: d.month() as u8, day: d.day() as u8 }
}

fn load(package: &str) -> Plugin {
    Runtime::new(Limits::default()).expect("runtime").load_file(&common::component(package)).expect("component loads")
}

fn window() -> (NaiveDate, NaiveDate) {
    let last = NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid");
    (last - chrono::Days::new(13), last)
}

/// Runs every operation for every race day of `track` in the window and compares counts.
fn check_track(harness: &Harness, plugin: &Plugin, track: Track) -> usize {
    let (from, to) = window();
    let days = expect::race_days(&harness.calendar, track, from, to);
    assert!(days.len() >= 2, "{}: the window should hold race days, got {days:?}", track.code());
    let mut races_checked = 0;
    for day in days {
        let expected = expect::day(&harness.calendar, track, day);
        let date = wit_date(day);
        let schedule = harness.run(plugin, Operation::Schedule(DayRef { track: track.code().into(), date }));
        let mut meetings = std::collections::HashMap::new();
        let mut numbers = BTreeSet::new();
        for record in &schedule {
            let Record::Race(race) = record else { panic!("schedule yielded {record:?}") };
            assert_eq!((race.key.track.as_str(), race.key.date), (track.code(), date), "a race of another day");
            numbers.insert(race.key.number);
            if race.meeting.is_some() {
                meetings.insert(race.key.number, race.meeting.clone());
            }
        }
        let want: BTreeSet<u8> = expected.iter().map(|r| r.number).collect();
        assert_eq!(numbers, want, "{} {day}: race numbers", track.code());
        for counts in &expected {
            let key = RaceKey { track: track.code().into(), date, number: counts.number };
            let race = RaceRef { key: key.clone(), meeting: meetings.get(&counts.number).cloned().flatten() };
            check_race(harness, plugin, &race, counts);
            races_checked += 1;
        }
    }
    races_checked
}

fn check_race(harness: &Harness, plugin: &Plugin, race: &RaceRef, counts: &expect::RaceCounts) {
    let at = format!("{} {} race {}", race.key.track, common_date(&race.key.date), race.key.number);
    // Rows, not records: an odds board counts a row per price.
    let count = |records: &[Record], f: fn(&Record) -> Option<&RaceKey>| {
        records
            .iter()
            .filter(|r| f(r).inspect(|k| assert_eq!(*k, &race.key, "{at}: record of another race")).is_some())
            .map(Record::rows)
            .sum::<usize>()
    };
    let entries = harness.run(plugin, Operation::Entries(race.clone()));
    assert_eq!(count(&entries, |r| matches!(r, Record::Entry(_)).then(|| key_of(r))), counts.entries, "{at}: entries");
    assert_eq!(
        count(&entries, |r| matches!(r, Record::Scratch(_)).then(|| key_of(r))),
        counts.scratches,
        "{at}: scratches"
    );
    if plugin.manifest().operations.contains(&OperationKind::Odds) {
        let odds =
            harness.run(plugin, Operation::Odds(OddsQuery { race: race.clone(), pools: ALL_KRA_POOLS.to_vec() }));
        assert_eq!(
            count(&odds, |r| matches!(r, Record::Odds(_)).then(|| key_of(r))),
            counts.odds_rows_all_pools,
            "{at}: odds"
        );
    }
    let results = harness.run(plugin, Operation::Results(race.clone()));
    assert_eq!(
        count(&results, |r| matches!(r, Record::Result(_)).then(|| key_of(r))),
        counts.result_rows,
        "{at}: result rows"
    );
    assert_eq!(
        count(&results, |r| matches!(r, Record::Dividend(_)).then(|| key_of(r))),
        counts.dividend_rows,
        "{at}: dividends"
    );
}

fn key_of(record: &Record) -> &RaceKey {
    match record {
        Record::Race(r) => &r.key,
        Record::Entry(r) => &r.race,
        Record::Scratch(r) => &r.race,
        Record::Odds(r) => &r.race,
        Record::Result(r) => &r.race,
        Record::Dividend(r) => &r.race,
    }
}

fn common_date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

#[test]
fn kra_component_two_weeks_on_seoul_busan_and_jeju() {
    let harness = Harness::new(window().1);
    let plugin = load("racelab-plugin-kra");
    let races: usize =
        [Track::Seoul, Track::Busan, Track::Jeju].into_iter().map(|t| check_track(&harness, &plugin, t)).sum();
    assert!(races > 50, "checked only {races} races");
}

/// The KRA component built for 0.1 (tests/components/v0.1/kra.wasm, never rebuilt) runs on
/// this 0.2 host through the adapter: the same two weeks, the same counts.
#[test]
fn kra_0_1_component_runs_unchanged_on_the_0_2_host() {
    let harness = Harness::new(window().1);
    let plugin = Runtime::new(Limits::default()).expect("runtime").load_file(&common::kra_v0_1()).expect("0.1 loads");
    assert_eq!(plugin.api_version(), "0.1.0");
    assert_eq!(plugin.manifest().odds_timing, OddsTiming::AfterRace, "from its odds-timing config key");
    let races: usize =
        [Track::Seoul, Track::Busan, Track::Jeju].into_iter().map(|t| check_track(&harness, &plugin, t)).sum();
    assert!(races > 50, "checked only {races} races");
}

/// What a 0.1 build reads is what the 0.2 build reads, less what 0.2 added: the adapter loses
/// and invents nothing.
#[test]
fn the_0_1_and_0_2_kra_builds_read_a_day_alike() {
    let harness = Harness::new(window().1);
    let old = Runtime::new(Limits::default()).expect("runtime").load_file(&common::kra_v0_1()).expect("0.1 loads");
    let new = load("racelab-plugin-kra");
    assert_eq!(new.api_version(), "0.2.0");
    let (from, to) = window();
    let day = *expect::race_days(&harness.calendar, Track::Busan, from, to).last().expect("a race day");
    let date = wit_date(day);
    let schedule = Operation::Schedule(DayRef { track: "busan".into(), date });
    assert_eq!(harness.run(&old, schedule.clone()), without_0_2(harness.run(&new, schedule.clone())));
    let mut entries_with_ids = 0;
    for number in 1..=3 {
        let race = RaceRef { key: RaceKey { track: "busan".into(), date, number }, meeting: None };
        let odds = Operation::Odds(OddsQuery { race: race.clone(), pools: ALL_KRA_POOLS.to_vec() });
        for op in [Operation::Entries(race.clone()), odds, Operation::Results(race)] {
            let new_records = harness.run(&new, op.clone());
            entries_with_ids += new_records
                .iter()
                .filter(
                    |r| matches!(r, Record::Entry(e) if e.jockey_id.is_some() && e.age.is_some() && e.sex.is_some()),
                )
                .count();
            assert_eq!(harness.run(&old, op.clone()), without_0_2(new_records), "{op:?}");
        }
    }
    assert!(entries_with_ids > 10, "0.2 reads jockey ids, ages and sexes: {entries_with_ids}");
}

/// 0.2's records as 0.1 could say them: no ids, ages, sexes or statuses; a race record that
/// said only a status is gone.
fn without_0_2(records: Vec<Record>) -> Vec<Record> {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Race(race) if race.name.is_none() && race.post_time.is_none() && race.distance_m.is_none() => None,
            Record::Race(race) => Some(Record::Race(Race { status: None, ..race })),
            Record::Entry(e) => {
                Some(Record::Entry(Entry { jockey_id: None, trainer_id: None, age: None, sex: None, ..e }))
            }
            other => Some(other),
        })
        .collect()
}

#[test]
fn kspo_component_two_weeks_on_gwangmyeong_and_misari() {
    let harness = Harness::new(window().1);
    let plugin = load("racelab-plugin-kspo");
    let races: usize = [Track::Gwangmyeong, Track::Misari].into_iter().map(|t| check_track(&harness, &plugin, t)).sum();
    assert!(races > 50, "checked only {races} races");
}

#[test]
fn kspo_finds_races_without_a_meeting_tag() {
    let harness = Harness::new(window().1);
    let plugin = load("racelab-plugin-kspo");
    for track in [Track::Gwangmyeong, Track::Misari] {
        let (from, to) = window();
        let day = *expect::race_days(&harness.calendar, track, from, to).last().expect("a race day");
        let counts = expect::day(&harness.calendar, track, day);
        let first = counts.first().expect("a race");
        let race = RaceRef {
            key: RaceKey { track: track.code().into(), date: wit_date(day), number: first.number },
            meeting: None,
        };
        check_race(&harness, &plugin, &race, first);
    }
}
