//! Generating one KRA race day: race conditions, fields, scratches, results and times.

use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::calendar::Track;
use crate::outcome::{self, Mishaps};
use crate::people::{self, HORSES, JOCKEYS};
use crate::race::{
    Finish, HorseEntry, HorseRace, Margin, Placing, RaceDay, RaceDetail, RaceOutcome, Runner, RunnerDetail, Scratch,
    SimRace, kst_time, published_at,
};
use crate::rng::{self, label};

/// Weights of field sizes 7..=16; the mean is about 10.6 (dossier §5: mean ≈ 10.5).
const FIELD_WEIGHTS: [u32; 10] = [11, 12, 14, 15, 14, 11, 9, 7, 5, 2];
/// Scratch rate per declared runner.
const SCRATCH_RATE: f64 = 0.03;
/// Scratches stop once a race is down to this many starters.
const MIN_STARTERS: usize = 5;
const MISHAPS: Mishaps = Mishaps { disqualified: 0.006, did_not_finish: 0.004 };
/// Seconds per length behind the winner.
const SECONDS_PER_LENGTH: f64 = 0.15;

/// Class name and first prize.
const CLASSES: [(&str, u32); 10] = [
    ("국6등급", 16_500_000),
    ("국5등급", 20_000_000),
    ("국4등급", 24_000_000),
    ("국3등급", 28_000_000),
    ("국2등급", 34_000_000),
    ("국1등급", 42_000_000),
    ("혼4등급", 26_000_000),
    ("혼3등급", 30_000_000),
    ("혼2등급", 36_000_000),
    ("혼1등급", 45_000_000),
];
const CLASS_WEIGHTS: [u32; 10] = [18, 16, 14, 12, 8, 5, 10, 8, 6, 3];
const STAKES: [&str; 5] = ["SBS스포츠배", "KNN배", "부산광역시장배", "농림축산식품부장관배", "헤럴드경제배"];
const SCRATCH_REASONS: [&str; 4] = ["마체이상", "기수변경불가", "질병", "부상"];

/// Margins as KRA writes them, their size in lengths, and how common they are.
const MARGINS: [(Margin, f64, u32); 18] = [
    (Margin::Text("코"), 0.05, 6),
    (Margin::Text("머리"), 0.1, 8),
    (Margin::Text("목"), 0.25, 10),
    (Margin::Text("½"), 0.5, 14),
    (Margin::Text("¾"), 0.75, 12),
    (Margin::Lengths(1), 1.0, 12),
    (Margin::Text("1¼"), 1.25, 6),
    (Margin::Text("1½"), 1.5, 8),
    (Margin::Text("1¾"), 1.75, 4),
    (Margin::Lengths(2), 2.0, 6),
    (Margin::Text("2½"), 2.5, 4),
    (Margin::Lengths(3), 3.0, 4),
    (Margin::Text("3½"), 3.5, 2),
    (Margin::Lengths(4), 4.0, 2),
    (Margin::Lengths(5), 5.0, 2),
    (Margin::Lengths(6), 6.0, 1),
    (Margin::Lengths(7), 7.0, 1),
    (Margin::Text("대"), 12.0, 1),
];

struct Profile {
    races: (u8, u8),
    distances: &'static [u32],
}

fn profile(track: Track) -> Profile {
    match track {
        Track::Jeju => Profile { races: (7, 7), distances: &[800, 900, 1000, 1100, 1200, 1400, 1700] },
        Track::Busan => Profile { races: (6, 8), distances: &[1000, 1200, 1300, 1400, 1600, 1800, 2000] },
        _ => Profile { races: (10, 12), distances: &[1000, 1200, 1300, 1400, 1600, 1700, 1800, 1900, 2000, 2300] },
    }
}

/// Everything a race needs from its day.
struct DayCtx {
    seed: u64,
    track: Track,
    date: NaiveDate,
    ordinal: u32,
    moisture: u8,
}

/// Generates the races of `track` on `date`; `ordinal` is the race day's number in the year.
pub(crate) fn day(seed: u64, track: Track, date: NaiveDate, ordinal: u32) -> RaceDay {
    let mut rng = rng::stream(&[seed, label::DAY, track as u64, rng::day_key(date)]);
    let profile = profile(track);
    let count = rng.random_range(profile.races.0..=profile.races.1);
    let sizes: Vec<usize> = (0..count).map(|_| 7 + rng::weighted(&mut rng, &FIELD_WEIGHTS)).collect();
    // Distinct across the day: a horse runs at most once per meeting.
    let horses = rng::distinct(&mut rng, HORSES, sizes.iter().sum());
    let winter = matches!(date.month(), 12 | 1 | 2);
    let weather = rng::pick(&mut rng, if winter { &["맑음", "흐림", "눈"] } else { &["맑음", "흐림", "비", "강풍"] });
    let moisture = if weather == "비" { rng.random_range(12..=22) } else { rng.random_range(1..=9) };
    let ctx = DayCtx { seed, track, date, ordinal, moisture };
    let first = NaiveTime::from_hms_opt(10, 30, 0).unwrap_or(NaiveTime::MIN);
    let mut post = kst_time(date, first) + TimeDelta::minutes(5 * rng.random_range(0..=6));
    let mut next = 0;
    let mut races = Vec::with_capacity(sizes.len());
    for (i, size) in sizes.into_iter().enumerate() {
        if i > 0 {
            post += TimeDelta::minutes(rng::pick(&mut rng, &[30, 35, 35, 40]));
        }
        let field = &horses[next..next + size];
        next += size;
        races.push(race(&ctx, i as u8 + 1, post, field, &mut rng, profile.distances));
    }
    RaceDay { track, date, meeting: None, races, weather, moisture }
}

fn race(
    ctx: &DayCtx,
    number: u8,
    post: chrono::DateTime<chrono::FixedOffset>,
    field: &[usize],
    rng: &mut ChaCha8Rng,
    distances: &[u32],
) -> SimRace {
    let class_idx = rng::weighted(rng, &CLASS_WEIGHTS);
    let (class, first_prize) = CLASSES[class_idx];
    let band = class_idx as u32 * 10;
    let distance = rng::pick(rng, distances);
    let jockeys = rng::distinct(rng, JOCKEYS, field.len());
    let mut runners: Vec<Runner> = field
        .iter()
        .zip(jockeys)
        .enumerate()
        .map(|(k, (&horse, jockey))| runner(ctx, k as u8 + 1, horse, jockey, band, rng))
        .collect();
    scratch(&mut runners, published_at(ctx.date), post, rng);
    let outcome = result(&runners, distance, ctx.moisture, rng);
    let share = |pct: u32| first_prize / 100 * pct / 10_000 * 10_000;
    let detail = HorseRace {
        age_cond: ["연령오픈", "3세", "2세", "3세이상"][rng::weighted(rng, &[70, 12, 8, 10])],
        sex_cond: ["성별오픈", "암"][rng::weighted(rng, &[85, 15])],
        budam: ["별정A", "핸디캡", "마령", "별정B"][rng::weighted(rng, &[40, 35, 15, 10])],
        prize_cond: format!("R{}~{}", band, band + 25),
        buga: if rng.random_bool(0.1) { [1_000_000, 500_000, 0] } else { [0; 3] },
        chaksun: [first_prize, share(41), share(26), share(14), share(9)],
        sp_rating: if band == 0 { 0 } else { band + 25 },
        st_rating: band,
        st_time_style: rng::weighted(rng, &[80, 12, 8]) as u8,
        day_ordinal: ctx.ordinal,
    };
    let name = if rng.random_bool(0.08) { rng::pick(rng, &STAKES).to_string() } else { "일반".into() };
    SimRace {
        track: ctx.track,
        date: ctx.date,
        number,
        post_time: post,
        distance,
        class,
        name,
        runners,
        outcome,
        detail: RaceDetail::Horse(detail),
    }
}

fn runner(ctx: &DayCtx, number: u8, horse: usize, jockey: usize, band: u32, rng: &mut ChaCha8Rng) -> Runner {
    let h = people::horse(ctx.seed, ctx.track, horse);
    let strength = (h.ability + 0.45 * rng::normal(rng)).exp();
    let public = strength * (0.3 * rng::normal(rng)).exp();
    let early = public * (0.35 * rng::normal(rng)).exp();
    let (owner_name, owner_no) = people::owner(ctx.seed, ctx.track, rng);
    let year = u32::try_from(ctx.date.year()).unwrap_or(0);
    let entry = HorseEntry {
        name_en: h.name_en,
        sex: h.sex,
        age: 2 + (year + h.age_phase) % 7,
        origin: h.origin,
        rating: (!h.unrated).then(|| band + rng.random_range(0..=15)),
        weight_carried_tenths: 520 + 5 * rng.random_range(0..=12),
        body_weight: h.base_weight + rng.random_range(0..=10),
        body_delta: rng.random_range(-8..=8),
        days_since_last: rng.random_range(14..=90),
        jockey: people::jockey(ctx.seed, ctx.track, jockey),
        trainer: people::trainer(ctx.seed, ctx.track, rng),
        owner_name,
        owner_no,
    };
    Runner {
        number,
        id: h.no,
        name: h.name,
        scratch: None,
        strength,
        public,
        early,
        detail: RunnerDetail::Horse(Box::new(entry)),
    }
}

/// Withdraws about 3% of runners, announced between publication and an hour before post.
fn scratch(
    runners: &mut [Runner],
    published: chrono::DateTime<chrono::FixedOffset>,
    post: chrono::DateTime<chrono::FixedOffset>,
    rng: &mut ChaCha8Rng,
) {
    let window = (post - TimeDelta::hours(1) - published).num_seconds().max(0);
    let mut starters = runners.len();
    for r in runners.iter_mut() {
        let hit = rng.random_bool(SCRATCH_RATE);
        if hit && starters > MIN_STARTERS {
            starters -= 1;
            r.scratch = Some(Scratch {
                reason: rng::pick(rng, &SCRATCH_REASONS),
                announced: published + TimeDelta::seconds(rng.random_range(0..=window)),
            });
        }
    }
}

fn result(runners: &[Runner], distance: u32, moisture: u8, rng: &mut ChaCha8Rng) -> RaceOutcome {
    let starters: Vec<(u8, f64)> =
        runners.iter().filter(|r| r.scratch.is_none()).map(|r| (r.number, r.strength)).collect();
    let drawn = outcome::draw(&starters, MISHAPS, rng);
    // Wetter going is slower; metres per second.
    let speed = 16.8 - 0.03 * f64::from(moisture) + 0.15 * rng::normal(rng);
    let mut seconds = f64::from(distance) / speed;
    let weights: Vec<u32> = MARGINS.iter().map(|m| m.2).collect();
    let placings = drawn
        .into_iter()
        .map(|(number, finish)| match finish {
            Finish::Place(1) => placing(number, finish, seconds, Margin::None),
            Finish::Place(_) => {
                let (margin, lengths, _) = MARGINS[rng::weighted(rng, &weights)];
                seconds += lengths * SECONDS_PER_LENGTH;
                placing(number, finish, seconds, margin)
            }
            Finish::Disqualified | Finish::DidNotFinish => {
                Placing { number, finish, time_tenths: 0, margin: Margin::None }
            }
        })
        .collect();
    RaceOutcome { placings }
}

fn placing(number: u8, finish: Finish, seconds: f64, margin: Margin) -> Placing {
    Placing { number, finish, time_tenths: (seconds * 10.0).round() as u32, margin }
}
