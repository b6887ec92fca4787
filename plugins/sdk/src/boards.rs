//! Collecting prices into odds boards: a plugin reads one price per row and reports one
//! [`OddsBoard`] per race and pool, its selections and quotes as flat lists, so that a page of
//! thousands of prices crosses into the host in a few copies.
//!
//! ```
//! use racelab_plugin_sdk::boards::Boards;
//! use racelab_plugin_sdk::{Date, Pool, Quote, RaceKey, Record};
//!
//! let race = RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 1, day: 3 }, number: 1 };
//! let mut boards = Boards::default();
//! boards.push(&race, Pool::Qnl, &[1, 2], Quote::Price(4.5));
//! boards.push(&race, Pool::Win, &[1], Quote::Price(2.1));
//! boards.push(&race, Pool::Qnl, &[1, 3], Quote::Capped);
//! let records: Vec<Record> = boards.into_records().collect();
//! assert_eq!(records.len(), 2);
//! let Record::Odds(qnl) = &records[0] else { unreachable!() };
//! assert_eq!(qnl.selections, [1, 2, 1, 3]);
//! ```

use crate::{OddsBoard, Pool, Quote, RaceKey, Record};

/// Boards in the order their race and pool first showed.
#[derive(Debug, Default)]
pub struct Boards {
    boards: Vec<OddsBoard>,
}

impl Boards {
    /// Adds one price. `selection` must name as many runners as the pool does
    /// ([`Pool::legs`]); the host refuses a board whose lists do not line up.
    pub fn push(&mut self, race: &RaceKey, pool: Pool, selection: &[u8], quote: Quote) {
        // A page names one race and a few pools: the last board is almost always the one.
        let at = match self.boards.iter().rposition(|b| b.pool == pool && b.race == *race) {
            Some(at) => at,
            None => {
                self.boards.push(OddsBoard { race: race.clone(), pool, selections: Vec::new(), quotes: Vec::new() });
                self.boards.len() - 1
            }
        };
        let board = &mut self.boards[at];
        board.selections.extend_from_slice(selection);
        board.quotes.push(quote);
    }

    /// Prices added so far.
    pub fn len(&self) -> usize {
        self.boards.iter().map(|b| b.quotes.len()).sum()
    }

    /// Whether no price was added.
    pub fn is_empty(&self) -> bool {
        self.boards.is_empty()
    }

    /// The boards as records.
    pub fn into_records(self) -> impl Iterator<Item = Record> {
        self.boards.into_iter().map(Record::Odds)
    }
}

/// The prices of a board, selection by selection.
pub fn prices(board: &OddsBoard) -> impl Iterator<Item = (&[u8], Quote)> + '_ {
    board.selections.chunks_exact(board.pool.legs()).zip(board.quotes.iter().copied())
}
