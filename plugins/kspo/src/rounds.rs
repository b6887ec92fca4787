//! Finding the cycle round (회차) that holds a date.
//!
//! The cycle card is served a round at a time and no service maps a date to its round (the
//! annual schedule is always empty, dossier §3.1). Rounds run Fri–Sun, one a week, numbered
//! from the start of the year, so the plugin guesses the round from the count of Fridays
//! since 1 January, reads that card, and steps to the neighbouring round while the card's
//! dates say it is off.
//!
//! Each step is decided from the request and its response alone:
//! - A cancelled round (holidays) lowers every later number, so a guess is right or high;
//!   from the guess the walk goes down while cards are later than the date or empty, and up
//!   while they are earlier. Away from the guess it never turns back, so it cannot loop.
//! - Going up, a card later than the date proves the date falls between two rounds: no races.
//! - Going down, a card earlier than the date leaves one question: was the round above it
//!   later than the date (no races that day) or not yet published (ask again later)? A
//!   one-row *probe* of that round answers it.
//! - The walk stops [`MAX_STEPS`] rounds from the guess, at round 1 and at round 99, with
//!   `NoData`.

use racelab_plugin_sdk::calendar::{to_days, weekday};
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::{Date, HttpRequest, SourceError};

use crate::api::{cycle_card, cycle_probe};
use crate::meeting::MAX_WEEK;

/// How many rounds from the guess the walk may go: each costs a request, and a year sees
/// a few cancelled rounds at most (2026: 33 rounds in the 35 weeks to August).
pub const MAX_STEPS: u8 = 8;

/// The round a date most likely belongs to: the count of Fridays from 1 January up to the
/// Friday on or before the date (Mon–Thu count with the weekend before them).
pub fn guess(date: &Date) -> u8 {
    const FRIDAY: i64 = 4;
    let jan1 = Date { year: date.year, month: 1, day: 1 };
    let first_friday = to_days(&jan1) + (FRIDAY - i64::from(weekday(&jan1))).rem_euclid(7);
    let friday = to_days(date) - (i64::from(weekday(date)) - FRIDAY).rem_euclid(7);
    let count = (friday - first_friday).div_euclid(7) + 1;
    u8::try_from(count.clamp(1, i64::from(MAX_WEEK))).unwrap_or(1)
}

/// One page of a round's card.
#[derive(Debug)]
pub struct Card<'a> {
    /// `stnd_yr` asked for.
    pub year: u16,
    /// `week_tcnt` asked for.
    pub week: u8,
    /// Page number, from 1.
    pub page: u64,
    /// The round's rows on this page, with their dates.
    pub rows: Vec<(Date, &'a Row)>,
    /// The request for the next page, when the card has one.
    pub next_page: Option<HttpRequest>,
}

/// What a card page says about the date.
#[derive(Debug, PartialEq)]
pub enum Outcome<'a> {
    /// The wanted rows on the date, and the next page of the same card if any.
    Found(Vec<&'a Row>, Option<HttpRequest>),
    /// Not decided yet: ask this (the next page, another round, or a probe).
    Ask(HttpRequest),
    /// Settled: nothing wanted runs on the date.
    NoRaces,
}

/// Reads one page of a full card (not a probe) for `date`, keeping the rows `wanted`.
pub fn search<'a>(
    card: Card<'a>,
    date: &Date,
    wanted: impl Fn(&Row) -> Result<bool, SourceError>,
) -> Result<Outcome<'a>, SourceError> {
    let on_date: Vec<&Row> = card.rows.iter().filter(|(d, _)| d == date).map(|(_, r)| *r).collect();
    let mut hits = Vec::new();
    for row in &on_date {
        if wanted(row)? {
            hits.push(*row);
        }
    }
    if !hits.is_empty() {
        return Ok(Outcome::Found(hits, card.next_page));
    }
    if !on_date.is_empty() {
        return Ok(card.next_page.map_or(Outcome::NoRaces, Outcome::Ask));
    }
    let earlier = card.rows.iter().any(|(d, _)| d < date);
    let later = card.rows.iter().any(|(d, _)| d > date);
    if let Some(next) = card.next_page.as_ref().filter(|_| !later) {
        return Ok(Outcome::Ask(next.clone()));
    }
    if card.page > 1 && (later || !earlier) {
        return Ok(Outcome::NoRaces);
    }
    let guess = guess(date);
    match (earlier, later) {
        (true, true) => Ok(Outcome::NoRaces),
        (false, false) if card.week > guess => Err(SourceError::NoData(format!(
            "광명 round {} of {} has no card yet, and {date} falls after round {}: ask again later",
            card.week,
            card.year,
            card.week.saturating_sub(1)
        ))),
        (false, _) if card.week > guess => Ok(Outcome::NoRaces),
        (false, _) => step(&card, date, guess, card.week.checked_sub(1)),
        (true, false) if card.week >= guess => step(&card, date, guess, card.week.checked_add(1)),
        (true, false) => match card.week.checked_add(1) {
            Some(above) => Ok(Outcome::Ask(cycle_probe(card.year, above))),
            None => Err(exhausted(&card, date, guess)),
        },
    }
}

/// Reads the one-row probe of the round above a card earlier than `date` (see the module
/// notes): a published round settles it, an empty one means "not yet".
pub fn probe<'a>(card: Card<'a>, date: &Date) -> Result<Outcome<'a>, SourceError> {
    if card.rows.iter().any(|(d, _)| d == date) {
        // Published between two requests: read it in full.
        return Ok(Outcome::Ask(cycle_card(card.year, card.week)));
    }
    if card.rows.is_empty() {
        return Err(SourceError::NoData(format!(
            "{date} falls after 광명 round {} of {} and round {} has no card yet: ask again later",
            card.week.saturating_sub(1),
            card.year,
            card.week
        )));
    }
    Ok(Outcome::NoRaces)
}

fn step<'a>(card: &Card<'_>, date: &Date, guess: u8, to: Option<u8>) -> Result<Outcome<'a>, SourceError> {
    match to.filter(|w| (1..=MAX_WEEK).contains(w) && w.abs_diff(guess) <= MAX_STEPS) {
        Some(week) => Ok(Outcome::Ask(cycle_card(card.year, week))),
        None => Err(exhausted(card, date, guess)),
    }
}

fn exhausted(card: &Card<'_>, date: &Date, guess: u8) -> SourceError {
    let (low, high) = (card.week.min(guess), card.week.max(guess));
    SourceError::NoData(format!(
        "no 광명 round of {} holds {date}: rounds {low}–{high} were read (the date's guess is round {guess}, \
         at most {MAX_STEPS} rounds either side are tried); the card may not be published yet",
        card.year
    ))
}

#[cfg(test)]
mod tests;
