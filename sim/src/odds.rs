//! What a race's pools look like at a given moment, and the dividends they pay.
//!
//! Final pools come from the public's final view of each starter. In live mode the public's
//! view moves from an early opinion towards the final one, most of the movement in the last
//! hour (as money arrives late), with a small wobble every 30 seconds so consecutive
//! snapshots differ. Everything is a pure function of the race and the time.

use chrono::{DateTime, FixedOffset};

use crate::pools::{Market, Pool};
use crate::race::SimRace;
use crate::rng::{self, label};

/// Time constant of the drift: at T−30 min about 37% of the way, at T−5 min 85%.
const DRIFT_SECONDS: f64 = 1800.0;
/// Live snapshots change at this cadence.
const WOBBLE_BUCKET_SECONDS: i64 = 30;
/// Largest live wobble (log scale), shrinking to 0 at post.
const WOBBLE: f64 = 0.12;

/// When odds are visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OddsMode {
    /// Odds from card publication, drifting towards the final odds until post (default).
    #[default]
    Live,
    /// No odds until the race is official, like the real public APIs (§4).
    FinalOnly,
}

/// The final market of a race over its starters.
pub(crate) fn final_market(race: &SimRace) -> Market {
    let entries: Vec<(u8, f64)> = race.starters().map(|r| (r.number, r.public)).collect();
    Market::new(&entries, race.places_paid())
}

/// The market visible at `now`, or `None` when the race shows no odds yet.
pub(crate) fn market_at(race: &SimRace, now: DateTime<FixedOffset>, mode: OddsMode) -> Option<Market> {
    match mode {
        OddsMode::FinalOnly => (now >= race.official_at()).then(|| final_market(race)),
        OddsMode::Live if now < race.published_at() => None,
        OddsMode::Live if now >= race.post_time => Some(final_market(race)),
        OddsMode::Live => Some(live_market(race, now)),
    }
}

fn live_market(race: &SimRace, now: DateTime<FixedOffset>) -> Market {
    let remaining = (race.post_time - now).num_seconds().max(0) as f64;
    let lambda = (-remaining / DRIFT_SECONDS).exp();
    let bucket = now.timestamp().div_euclid(WOBBLE_BUCKET_SECONDS);
    let entries: Vec<(u8, f64)> = race
        .starters_at(now)
        .map(|r| {
            let u = rng::unit(rng::hash(&[label::WOBBLE, r.public.to_bits(), u64::from(r.number), bucket as u64]));
            let wobble = (WOBBLE * (1.0 - lambda) * (2.0 * u - 1.0)).exp();
            let view = r.early.powf(1.0 - lambda) * r.public.powf(lambda);
            (r.number, view * wobble)
        })
        .collect();
    let places = if entries.len() >= 8 { 3 } else { 2 };
    Market::new(&entries, places)
}

/// One winning combination and its dividend (odds in tenths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dividend {
    pub pool: Pool,
    /// Runner numbers; unordered pools ascending, ordered pools in finishing order.
    pub numbers: Vec<u8>,
    pub tenths: u32,
}

/// Winning combinations of `pools` given the finish, priced from the final market.
///
/// Place pays one dividend per placed runner and quinella place one per pair of the first
/// three, so the row counts follow the race (see `expect`). With `ascending`, unordered
/// combinations list their numbers ascending (KRA, matching API301's rows); otherwise every
/// combination is written in finishing order (KSPO's `(2-7-5)`).
pub(crate) fn dividends(race: &SimRace, pools: &[Pool], ascending: bool) -> Vec<Dividend> {
    let top = race.outcome.top(3);
    let [first, second, third] = top[..] else {
        // The outcome always keeps three finishers; a race without them pays nothing.
        return Vec::new();
    };
    let market = final_market(race);
    let unordered = |numbers: &[u8]| {
        let mut v = numbers.to_vec();
        if ascending {
            v.sort_unstable();
        }
        v
    };
    let mut out = Vec::new();
    for &pool in pools {
        let combos: Vec<Vec<u8>> = match pool {
            Pool::Win => vec![vec![first]],
            Pool::Place => top.iter().take(race.places_paid()).map(|n| vec![*n]).collect(),
            Pool::Exacta => vec![vec![first, second]],
            Pool::Quinella => vec![unordered(&[first, second])],
            Pool::QuinellaPlace => {
                vec![unordered(&[first, second]), unordered(&[first, third]), unordered(&[second, third])]
            }
            Pool::Trio => vec![unordered(&top)],
            Pool::Trifecta | Pool::Xla => vec![top.clone()],
        };
        out.extend(combos.into_iter().map(|numbers| Dividend { pool, tenths: market.odds(pool, &numbers), numbers }));
    }
    out
}
