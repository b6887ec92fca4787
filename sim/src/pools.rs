//! Bet pools and pari-mutuel pricing under the Plackett–Luce model.
//!
//! Given the public's win probabilities `p`, the chance of any ordered finish is
//! `p[a] · p[b]/(1−p[a]) · p[c]/(1−p[a]−p[b])`. A pool's odds for a combination are the
//! payout rate divided by the combination's probability — exactly what a pool whose money is
//! spread in proportion to those probabilities would pay, so dividends and odds agree.

/// Share of a pool returned to winners: WIN and PLC (dossier §2.4: ≈ 0.80).
const PAYOUT_SIMPLE: f64 = 0.80;
/// Share returned by the exotic pools (≈ 0.73).
const PAYOUT_EXOTIC: f64 = 0.73;
/// The display cap (`9999.9`) in tenths.
pub(crate) const CAP_TENTHS: u32 = 99_999;
/// Guards the `1 − p` denominators against a runner holding (nearly) all the money.
const EPS: f64 = 1e-12;

/// A bet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    /// 단승식: the winner.
    Win,
    /// 연승식: a placed runner (top 3, or top 2 with seven or fewer starters).
    Place,
    /// 복승식: the first two, any order.
    Quinella,
    /// 쌍승식: the first two, in order.
    Exacta,
    /// 복연승식: two of the first three, any order.
    QuinellaPlace,
    /// 삼복승식: the first three, any order.
    Trio,
    /// 삼쌍승식: the first three, in order.
    Trifecta,
    /// 쌍복승식 (KSPO only): the winner, then the next two in any order.
    Xla,
}

impl Pool {
    /// KRA's pools in the order the simulator serves them.
    pub const KRA: [Pool; 7] =
        [Pool::Win, Pool::Place, Pool::Quinella, Pool::Exacta, Pool::QuinellaPlace, Pool::Trio, Pool::Trifecta];

    /// The code in API301's `pool` parameter and field (`WIN`, `PLC`, … `TRI`; `XLA`).
    pub fn code(self) -> &'static str {
        match self {
            Pool::Win => "WIN",
            Pool::Place => "PLC",
            Pool::Quinella => "QNL",
            Pool::Exacta => "EXA",
            Pool::QuinellaPlace => "QPL",
            Pool::Trio => "TLA",
            Pool::Trifecta => "TRI",
            Pool::Xla => "XLA",
        }
    }

    /// The pool for a code, case-insensitively.
    pub fn parse(code: &str) -> Option<Pool> {
        Pool::KRA.into_iter().chain([Pool::Xla]).find(|p| p.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The Korean name KRA's integratedInfo_1 uses (`단승식`, …).
    pub fn korean(self) -> &'static str {
        match self {
            Pool::Win => "단승식",
            Pool::Place => "연승식",
            Pool::Quinella => "복승식",
            Pool::Exacta => "쌍승식",
            Pool::QuinellaPlace => "복연승식",
            Pool::Trio => "삼복승식",
            Pool::Trifecta => "삼쌍승식",
            Pool::Xla => "쌍복승식",
        }
    }

    /// Runners named by one combination.
    pub fn legs(self) -> usize {
        match self {
            Pool::Win | Pool::Place => 1,
            Pool::Quinella | Pool::Exacta | Pool::QuinellaPlace => 2,
            Pool::Trio | Pool::Trifecta | Pool::Xla => 3,
        }
    }

    /// Number of combinations with `n` starters (one odds row each).
    pub fn combinations(self, n: usize) -> usize {
        let pairs = n * n.saturating_sub(1);
        let triples = pairs * n.saturating_sub(2);
        match self {
            Pool::Win | Pool::Place => n,
            Pool::Quinella | Pool::QuinellaPlace => pairs / 2,
            Pool::Exacta => pairs,
            Pool::Trio => triples / 6,
            Pool::Trifecta => triples,
            Pool::Xla => triples / 2,
        }
    }

    fn payout(self) -> f64 {
        match self {
            Pool::Win | Pool::Place => PAYOUT_SIMPLE,
            _ => PAYOUT_EXOTIC,
        }
    }
}

/// The public's win probabilities over a set of starters, and the place terms.
#[derive(Debug, Clone)]
pub(crate) struct Market {
    numbers: Vec<u8>,
    p: Vec<f64>,
    places: usize,
}

impl Market {
    /// From (number, weight) pairs; weights are normalised. `places` is 2 or 3.
    pub fn new(entries: &[(u8, f64)], places: usize) -> Market {
        let mut entries = entries.to_vec();
        entries.sort_by_key(|e| e.0);
        let total: f64 = entries.iter().map(|e| e.1).sum::<f64>().max(EPS);
        Market {
            numbers: entries.iter().map(|e| e.0).collect(),
            p: entries.iter().map(|e| e.1 / total).collect(),
            places,
        }
    }

    /// Number of starters priced.
    pub fn starters(&self) -> usize {
        self.numbers.len()
    }

    /// Odds in tenths for the combination `numbers` (runner numbers, in finishing order for
    /// ordered pools); the cap when a number is not a starter.
    pub fn odds(&self, pool: Pool, numbers: &[u8]) -> u32 {
        let idx: Option<Vec<usize>> = numbers.iter().map(|n| self.numbers.iter().position(|m| m == n)).collect();
        match idx {
            Some(legs) if legs.len() == pool.legs() => tenths(pool.payout() / self.prob(pool, &legs)),
            _ => CAP_TENTHS,
        }
    }

    /// Every combination of the pool with its odds in tenths; unordered combinations list
    /// numbers ascending, ordered ones in finishing order. Unused legs are 0.
    pub fn rows(&self, pool: Pool) -> Vec<([u8; 3], u32)> {
        combos(self.p.len(), pool)
            .into_iter()
            .map(|legs| {
                let mut numbers = [0u8; 3];
                for (slot, &i) in numbers.iter_mut().zip(&legs) {
                    *slot = self.numbers[i];
                }
                (numbers, tenths(pool.payout() / self.prob(pool, &legs)))
            })
            .collect()
    }

    fn prob(&self, pool: Pool, legs: &[usize]) -> f64 {
        match (pool, legs) {
            (Pool::Win, [a]) => self.p[*a],
            (Pool::Place, [a]) => self.in_top(*a, self.places),
            (Pool::Exacta, [a, b]) => self.o2(*a, *b),
            (Pool::Quinella, [a, b]) => self.o2(*a, *b) + self.o2(*b, *a),
            (Pool::QuinellaPlace, [a, b]) => {
                (0..self.p.len()).filter(|c| c != a && c != b).map(|c| self.set3(*a, *b, c)).sum()
            }
            (Pool::Trifecta, [a, b, c]) => self.o3(*a, *b, *c),
            (Pool::Trio, [a, b, c]) => self.set3(*a, *b, *c),
            (Pool::Xla, [a, b, c]) => self.o3(*a, *b, *c) + self.o3(*a, *c, *b),
            _ => 0.0,
        }
    }

    fn o2(&self, a: usize, b: usize) -> f64 {
        self.p[a] * self.p[b] / (1.0 - self.p[a]).max(EPS)
    }

    fn o3(&self, a: usize, b: usize, c: usize) -> f64 {
        self.o2(a, b) * self.p[c] / (1.0 - self.p[a] - self.p[b]).max(EPS)
    }

    fn set3(&self, a: usize, b: usize, c: usize) -> f64 {
        self.o3(a, b, c) + self.o3(a, c, b) + self.o3(b, a, c) + self.o3(b, c, a) + self.o3(c, a, b) + self.o3(c, b, a)
    }

    /// Probability that runner `a` finishes in the first `k` (k ≤ 3).
    fn in_top(&self, a: usize, k: usize) -> f64 {
        let n = self.p.len();
        let others = || (0..n).filter(move |&j| j != a);
        let mut total = self.p[a];
        if k >= 2 {
            total += others().map(|j| self.o2(j, a)).sum::<f64>();
        }
        if k >= 3 {
            for j in others() {
                total += others().filter(|&l| l != j).map(|l| self.o3(j, l, a)).sum::<f64>();
            }
        }
        total
    }
}

/// Odds → tenths, truncated like pari-mutuel breakage, between 1.0 and the cap.
fn tenths(odds: f64) -> u32 {
    if !odds.is_finite() {
        return CAP_TENTHS;
    }
    // The small epsilon keeps 2.5 from becoming 2.4 through floating-point noise.
    ((odds * 10.0 + 1e-9).floor()).clamp(10.0, f64::from(CAP_TENTHS)) as u32
}

/// Index combinations of a pool over `n` starters in serving order.
fn combos(n: usize, pool: Pool) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(pool.combinations(n));
    match pool {
        Pool::Win | Pool::Place => out.extend((0..n).map(|a| vec![a])),
        Pool::Quinella | Pool::QuinellaPlace => {
            out.extend((0..n).flat_map(|a| (a + 1..n).map(move |b| vec![a, b])));
        }
        Pool::Exacta => {
            out.extend((0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| vec![a, b])));
        }
        Pool::Trio => {
            for a in 0..n {
                out.extend((a + 1..n).flat_map(|b| (b + 1..n).map(move |c| vec![a, b, c])));
            }
        }
        Pool::Trifecta => {
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    out.extend((0..n).filter(|&c| c != a && c != b).map(|c| vec![a, b, c]));
                }
            }
        }
        Pool::Xla => {
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    out.extend((b + 1..n).filter(|&c| c != a).map(|c| vec![a, b, c]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(n: u8) -> Market {
        let entries: Vec<(u8, f64)> = (1..=n).map(|i| (i, f64::from(i))).collect();
        Market::new(&entries, 3)
    }

    #[test]
    fn row_counts_match_the_combinatorics() {
        let m = market(10);
        for pool in Pool::KRA.into_iter().chain([Pool::Xla]) {
            assert_eq!(m.rows(pool).len(), pool.combinations(10), "{pool:?}");
        }
        assert_eq!(Pool::Trifecta.combinations(16), 3360);
    }

    #[test]
    fn probabilities_of_each_pool_sum_to_the_places_it_pays() {
        let m = market(9);
        let sum = |pool: Pool, k: f64| {
            let total: f64 = combos(9, pool).iter().map(|l| m.prob(pool, l)).sum();
            assert!((total - k).abs() < 1e-9, "{pool:?}: {total}");
        };
        sum(Pool::Win, 1.0);
        sum(Pool::Place, 3.0);
        sum(Pool::Quinella, 1.0);
        sum(Pool::Exacta, 1.0);
        sum(Pool::QuinellaPlace, 3.0);
        sum(Pool::Trio, 1.0);
        sum(Pool::Trifecta, 1.0);
        sum(Pool::Xla, 1.0);
    }

    #[test]
    fn odds_are_truncated_and_capped() {
        let m = Market::new(&[(1, 0.32), (2, 0.68)], 2);
        assert_eq!(m.odds(Pool::Win, &[1]), 25);
        assert_eq!(m.odds(Pool::Win, &[9]), CAP_TENTHS);
        assert_eq!(tenths(1e9), CAP_TENTHS);
        assert_eq!(tenths(0.5), 10);
    }
}
