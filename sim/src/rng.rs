//! Deterministic randomness.
//!
//! Every draw is derived from the seed plus a label and the thing it describes (track, date,
//! race, runner), never from a shared stream. That is what makes generation lazy: a day can be
//! generated alone, in any order, and still come out byte-identical.

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Labels that keep independent decisions independent even for equal other inputs.
pub(crate) mod label {
    pub const CANCEL: u64 = 1;
    pub const MOVE: u64 = 2;
    pub const DAY: u64 = 3;
    pub const HORSE: u64 = 4;
    pub const JOCKEY: u64 = 5;
    pub const TRAINER: u64 = 6;
    pub const OWNER: u64 = 7;
    pub const RACER: u64 = 8;
    pub const WOBBLE: u64 = 9;
    pub const FAULT: u64 = 10;
}

/// The splitmix64 finaliser: a cheap, well-mixing bijection on `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a sequence of words; order matters.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x0515_17A3_C0DD_BA11, |acc, &p| mix(acc ^ mix(p)))
}

/// A uniform number in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A date as a hash input.
pub(crate) fn day_key(date: NaiveDate) -> u64 {
    // Days from CE are positive for every date the simulator serves.
    u64::try_from(date.num_days_from_ce()).unwrap_or(0)
}

/// A seeded generator for one labelled thing.
pub(crate) fn stream(parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(hash(parts))
}

/// A standard normal draw (Box–Muller); `rand_distr` is not worth a dependency for this.
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Picks an index by integer weights.
pub(crate) fn weighted(rng: &mut impl Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// Picks one element of a non-empty slice.
pub(crate) fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// `k` distinct indices from `0..n`, in draw order (a partial Fisher–Yates on a sparse map,
/// so drawing 16 horses from a pool of thousands does not allocate the pool).
pub(crate) fn distinct(rng: &mut impl Rng, n: usize, k: usize) -> Vec<usize> {
    let mut swapped = std::collections::HashMap::new();
    (0..k.min(n))
        .map(|i| {
            let j = rng.random_range(i..n);
            let at_j = *swapped.get(&j).unwrap_or(&j);
            let at_i = *swapped.get(&i).unwrap_or(&i);
            swapped.insert(j, at_i);
            at_j
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_draws_are_distinct_and_in_range() {
        let mut rng = stream(&[1, 2, 3]);
        let mut drawn = distinct(&mut rng, 50, 50);
        drawn.sort_unstable();
        assert_eq!(drawn, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn hash_depends_on_order() {
        assert_ne!(hash(&[1, 2]), hash(&[2, 1]));
        assert_eq!(hash(&[7, 8]), hash(&[7, 8]));
    }
}
