//! Generating one KSPO race day: 광명 cycle racing (7 riders) or 미사리 boat racing (6 boats).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::calendar::{Meeting, Track};
use crate::outcome::{self, Mishaps};
use crate::people::{self, BOAT_RACERS, CYCLE_BAND, Racer};
use crate::race::{
    BoatRacer, Cyclist, Margin, Placing, RaceDay, RaceDetail, RaceOutcome, Runner, RunnerDetail, SimRace, kst_time,
};
use crate::rng::{self, label};

const CYCLE_FIELD: usize = 7;
const BOAT_FIELD: usize = 6;
/// 광명: 5 laps of the 333 m velodrome plus the run-in.
const CYCLE_DISTANCE: u32 = 1691;
/// 미사리: 3 laps of 200 m.
const BOAT_DISTANCE: u32 = 600;
/// Race classes at 광명, lowest first; the day's card runs from 선발 to 특선.
const CYCLE_CLASSES: [&str; 3] = ["선발", "우수", "특선"];
const CYCLE_GRADES: [[&str; 3]; 3] = [["B1", "B2", "B3"], ["A1", "A2", "A3"], ["S1", "S2", "S3"]];
/// Inside lanes win far more often in boat racing.
const LANE_FACTOR: [f64; BOAT_FIELD] = [1.8, 1.35, 1.1, 0.95, 0.85, 0.75];
const MISHAPS: Mishaps = Mishaps { disqualified: 0.01, did_not_finish: 0.01 };

/// Generates the races of a KSPO track on `date`.
pub(crate) fn day(seed: u64, track: Track, date: NaiveDate, meeting: Option<Meeting>) -> RaceDay {
    let mut rng = rng::stream(&[seed, label::DAY, track as u64, rng::day_key(date)]);
    let races = match track {
        Track::Misari => boat_races(seed, date, &mut rng),
        _ => cycle_races(seed, date, &mut rng),
    };
    RaceDay { track, date, meeting, races, weather: rng::pick(&mut rng, &["맑음", "흐림", "비"]), moisture: 0 }
}

fn at(date: NaiveDate, h: u32, m: u32) -> DateTime<FixedOffset> {
    kst_time(date, NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
}

/// 14–16 races between 11:20 and 21:20.
fn cycle_races(seed: u64, date: NaiveDate, rng: &mut ChaCha8Rng) -> Vec<SimRace> {
    let count: usize = rng.random_range(14..=16);
    let spacing = (600 / (count as i64 - 1)) / 5 * 5;
    let classes: Vec<usize> = (0..count).map(|i| i * 3 / count).collect();
    // Riders of each class band, distinct across the day.
    let mut pools: Vec<Vec<usize>> = (0..3)
        .map(|band| {
            let needed = classes.iter().filter(|c| **c == band).count() * CYCLE_FIELD;
            rng::distinct(rng, CYCLE_BAND, needed)
        })
        .collect();
    (0..count)
        .map(|i| {
            let band = classes[i];
            let take = CYCLE_FIELD.min(pools[band].len());
            let picked: Vec<usize> = pools[band].drain(..take).collect();
            let runners =
                picked.iter().enumerate().map(|(k, idx)| cyclist(seed, band, *idx, k as u8 + 1, rng)).collect();
            let post = at(date, 11, 20) + TimeDelta::minutes(spacing * i as i64);
            let head = Head { track: Track::Gwangmyeong, date, index: i, post, class: CYCLE_CLASSES[band] };
            kspo_race(head, CYCLE_DISTANCE, runners, rng)
        })
        .collect()
}

fn cyclist(seed: u64, band: usize, idx: usize, number: u8, rng: &mut ChaCha8Rng) -> Runner {
    let racer = people::racer(seed, Track::Gwangmyeong, band * CYCLE_BAND + idx);
    let detail = Cyclist {
        grade_now: CYCLE_GRADES[band][idx % 3],
        gear_rate_hundredths: rng.random_range(357..=407),
        best_200m_hundredths: (1_150 - (racer.ability * 30.0) as i64 + rng.random_range(0..=40)).clamp(1_050, 1_300)
            as u32,
        avg_score_thousandths: 72_000 + band as u32 * 8_000 + rng.random_range(0..=6_000),
    };
    runner(racer, number, 1.0, RunnerDetail::Cyclist(detail), rng)
}

/// 12–17 races from about 10:30, 25–30 minutes apart.
fn boat_races(seed: u64, date: NaiveDate, rng: &mut ChaCha8Rng) -> Vec<SimRace> {
    let count: usize = rng.random_range(12..=17);
    let spacing = if count > 14 { 25 } else { 30 };
    let first = at(date, 10, 30) + TimeDelta::minutes(5 * rng.random_range(0..=3));
    let racers = rng::distinct(rng, BOAT_RACERS, (count * BOAT_FIELD).min(BOAT_RACERS));
    (0..count)
        .map(|i| {
            // 17 races × 6 boats = 102 fits in the pool of 150: one race per racer per day.
            let motors = rng::distinct(rng, 60, BOAT_FIELD);
            let boats = rng::distinct(rng, 60, BOAT_FIELD);
            let runners = (0..BOAT_FIELD)
                .map(|lane| {
                    let idx = racers[(i * BOAT_FIELD + lane) % racers.len()];
                    boat_racer(seed, idx, lane, motors[lane], boats[lane], rng)
                })
                .collect();
            let post = first + TimeDelta::minutes(spacing * i as i64);
            let head = Head { track: Track::Misari, date, index: i, post, class: "일반" };
            kspo_race(head, BOAT_DISTANCE, runners, rng)
        })
        .collect()
}

fn boat_racer(seed: u64, idx: usize, lane: usize, motor: usize, boat: usize, rng: &mut ChaCha8Rng) -> Runner {
    let racer = people::racer(seed, Track::Misari, idx);
    let mut own = rng::stream(&[racer.rng_seed, 1]);
    let detail = BoatRacer {
        grade: ["A1", "A2", "B1", "B2"][rng::weighted(&mut own, &[20, 25, 35, 20])],
        sex: if own.random_bool(0.15) { "여" } else { "남" },
        age: own.random_range(22..=55),
        weight: own.random_range(47..=62),
        motor_no: 1 + motor as u32,
        boat_no: 1 + boat as u32,
    };
    runner(racer, lane as u8 + 1, LANE_FACTOR[lane], RunnerDetail::Boat(detail), rng)
}

fn runner(racer: Racer, number: u8, factor: f64, detail: RunnerDetail, rng: &mut ChaCha8Rng) -> Runner {
    let strength = factor * (racer.ability + 0.4 * rng::normal(rng)).exp();
    let public = strength * (0.3 * rng::normal(rng)).exp();
    let early = public * (0.35 * rng::normal(rng)).exp();
    Runner { number, id: racer.no, name: racer.name, scratch: None, strength, public, early, detail }
}

/// Where and when a race is.
struct Head {
    track: Track,
    date: NaiveDate,
    index: usize,
    post: DateTime<FixedOffset>,
    class: &'static str,
}

fn kspo_race(head: Head, distance: u32, runners: Vec<Runner>, rng: &mut ChaCha8Rng) -> SimRace {
    let starters: Vec<(u8, f64)> = runners.iter().map(|r| (r.number, r.strength)).collect();
    let placings = outcome::draw(&starters, MISHAPS, rng)
        .into_iter()
        .map(|(number, finish)| Placing { number, finish, time_tenths: 0, margin: Margin::None })
        .collect();
    SimRace {
        track: head.track,
        date: head.date,
        number: head.index as u8 + 1,
        post_time: head.post,
        distance,
        class: head.class,
        name: "일반".into(),
        runners,
        outcome: RaceOutcome { placings },
        detail: RaceDetail::Kspo,
    }
}
