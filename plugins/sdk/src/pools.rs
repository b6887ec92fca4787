//! Pool codes (KRA's `WIN`…`TRI`) and the Korean names the sources print.

use crate::Pool;

/// Every pool, in the order the host lists them.
pub const ALL: [Pool; 8] = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri, Pool::Xla];

impl Pool {
    /// The KRA code, e.g. `WIN`; also the name used in the host's database.
    pub fn code(self) -> &'static str {
        match self {
            Pool::Win => "WIN",
            Pool::Plc => "PLC",
            Pool::Qnl => "QNL",
            Pool::Exa => "EXA",
            Pool::Qpl => "QPL",
            Pool::Tla => "TLA",
            Pool::Tri => "TRI",
            Pool::Xla => "XLA",
        }
    }

    /// Reads a code (`TRI`) or any Korean name the sources use: full (`삼쌍승식`), without
    /// the suffix (`삼쌍승`) or short (`삼쌍`, `단식`).
    pub fn parse(text: &str) -> Option<Pool> {
        let t = text.trim();
        if let Some(pool) = ALL.into_iter().find(|p| p.code().eq_ignore_ascii_case(t)) {
            return Some(pool);
        }
        let stem = t.strip_suffix('식').unwrap_or(t);
        Some(match stem {
            "단승" | "단" => Pool::Win,
            "연승" | "연" => Pool::Plc,
            "복승" | "복" => Pool::Qnl,
            "쌍승" | "쌍" => Pool::Exa,
            "복연승" | "복연" => Pool::Qpl,
            "삼복승" | "삼복" => Pool::Tla,
            "삼쌍승" | "삼쌍" => Pool::Tri,
            "쌍복승" | "쌍복" => Pool::Xla,
            _ => return None,
        })
    }

    /// How many runners a selection names.
    pub fn legs(self) -> usize {
        match self {
            Pool::Win | Pool::Plc => 1,
            Pool::Qnl | Pool::Exa | Pool::Qpl => 2,
            Pool::Tla | Pool::Tri | Pool::Xla => 3,
        }
    }

    /// Whether the order of the selection matters (for `xla`, only its first leg's).
    pub fn is_ordered(self) -> bool {
        matches!(self, Pool::Exa | Pool::Tri | Pool::Xla)
    }

    /// `selection` in the pool's canonical order: unordered pools ascending, `xla` with its
    /// last two legs ascending, ordered pools as given.
    pub fn canonical(self, mut selection: Vec<u8>) -> Vec<u8> {
        self.order(&mut selection);
        selection
    }

    /// Puts `selection` in the canonical order where it lies ([`Pool::canonical`] without
    /// a vector: a page of odds has a selection per row).
    pub fn order(self, selection: &mut [u8]) {
        match self {
            Pool::Exa | Pool::Tri => {}
            Pool::Xla if selection.len() > 1 => selection[1..].sort_unstable(),
            _ => selection.sort_unstable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_codes_and_korean_names() {
        assert_eq!(Pool::parse("TRI"), Some(Pool::Tri));
        assert_eq!(Pool::parse("qpl"), Some(Pool::Qpl));
        assert_eq!(Pool::parse("단승식"), Some(Pool::Win));
        assert_eq!(Pool::parse("복연승식"), Some(Pool::Qpl));
        assert_eq!(Pool::parse("삼쌍"), Some(Pool::Tri));
        assert_eq!(Pool::parse("연식"), Some(Pool::Plc));
        assert_eq!(Pool::parse("쌍복승"), Some(Pool::Xla));
        assert_eq!(Pool::parse("경마"), None);
    }

    #[test]
    fn canonical_selections() {
        assert_eq!(Pool::Qnl.canonical(vec![7, 2]), vec![2, 7]);
        assert_eq!(Pool::Exa.canonical(vec![7, 2]), vec![7, 2]);
        assert_eq!(Pool::Xla.canonical(vec![5, 7, 2]), vec![5, 2, 7]);
    }
}
