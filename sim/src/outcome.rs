//! Drawing a finishing order from the runners' hidden strengths.
//!
//! The order is a Plackett–Luce draw (the winner with probability proportional to strength,
//! then the second among the rest, …) — the same model the odds are priced with, so results
//! are consistent with the odds on average without being equal to the favourite's order.

use rand::Rng;

use crate::race::Finish;

/// Finishers the simulator always keeps, so every exotic pool has a winning combination.
const MIN_FINISHERS: usize = 3;

/// Rates at which a starter fails to be placed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mishaps {
    pub disqualified: f64,
    pub did_not_finish: f64,
}

/// Draws the result: every starter once, finishers first (in order), then disqualified
/// starters, then those that did not finish. `starters` are (number, strength).
pub(crate) fn draw(starters: &[(u8, f64)], mishaps: Mishaps, rng: &mut impl Rng) -> Vec<(u8, Finish)> {
    let order = plackett_luce(starters, rng);
    let mut finishers = Vec::with_capacity(order.len());
    let (mut disqualified, mut dnf) = (Vec::new(), Vec::new());
    for (i, number) in order.iter().copied().enumerate() {
        let remaining = order.len() - i - 1;
        // Never drop below MIN_FINISHERS: a mishap is skipped when it would.
        let spare = finishers.len() + remaining >= MIN_FINISHERS;
        let u: f64 = rng.random();
        if spare && u < mishaps.disqualified {
            disqualified.push(number);
        } else if spare && u < mishaps.disqualified + mishaps.did_not_finish {
            dnf.push(number);
        } else {
            finishers.push(number);
        }
    }
    let placed =
        finishers.into_iter().enumerate().map(|(i, n)| (n, Finish::Place(u8::try_from(i + 1).unwrap_or(u8::MAX))));
    placed
        .chain(disqualified.into_iter().map(|n| (n, Finish::Disqualified)))
        .chain(dnf.into_iter().map(|n| (n, Finish::DidNotFinish)))
        .collect()
}

/// A full order drawn by repeated strength-proportional choice.
fn plackett_luce(starters: &[(u8, f64)], rng: &mut impl Rng) -> Vec<u8> {
    let mut left: Vec<(u8, f64)> = starters.to_vec();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: f64 = left.iter().map(|(_, s)| s).sum();
        let mut x = rng.random::<f64>() * total;
        let mut chosen = left.len() - 1;
        for (i, (_, s)) in left.iter().enumerate() {
            if x < *s {
                chosen = i;
                break;
            }
            x -= s;
        }
        order.push(left.remove(chosen).0);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn every_starter_appears_once_and_three_always_finish() {
        let starters: Vec<(u8, f64)> = (1..=5).map(|n| (n, 1.0)).collect();
        let mishaps = Mishaps { disqualified: 0.5, did_not_finish: 0.5 };
        for seed in 0..50 {
            let result = draw(&starters, mishaps, &mut rng::stream(&[seed]));
            let mut numbers: Vec<u8> = result.iter().map(|(n, _)| *n).collect();
            numbers.sort_unstable();
            assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
            let placed = result.iter().filter(|(_, f)| matches!(f, Finish::Place(_))).count();
            assert!(placed >= MIN_FINISHERS);
        }
    }

    #[test]
    fn the_strong_win_more_often() {
        let starters = [(1, 8.0), (2, 1.0), (3, 1.0)];
        let none = Mishaps { disqualified: 0.0, did_not_finish: 0.0 };
        let wins = (0..1000).filter(|s| draw(&starters, none, &mut rng::stream(&[*s]))[0].0 == 1).count();
        // Expected 800 of 1000.
        assert!((740..860).contains(&wins), "{wins}");
    }
}
