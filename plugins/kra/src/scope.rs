//! What was asked (a track and day, maybe one race) and which rows of an answer belong to it.
//!
//! KRA services are day-level underneath: without `rc_no`, or when a filter is ignored, a page
//! holds other races (and without `rc_date` other days). Rows for anything but what was asked
//! are skipped, never mapped under the wrong key.

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::{Field, Lookup, Row};
use racelab_plugin_sdk::{Date, DayRef, RaceKey, RaceRef, SourceError, log};

use crate::tracks::Track;
use crate::values;

type Result<T> = std::result::Result<T, SourceError>;

/// A track and day, and the race when the operation is about one.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub track: Track,
    pub date: Date,
    pub race: Option<u8>,
}

impl Scope {
    /// A whole race day.
    pub fn day(day: &DayRef) -> Result<Scope> {
        Ok(Scope { track: Track::from_code(&day.track)?, date: day.date, race: None })
    }

    /// One race.
    pub fn race(race: &RaceRef) -> Result<Scope> {
        let key = &race.key;
        if key.number == 0 {
            return Err(SourceError::BadRequest(format!(
                "race number 0 at {} on {}: KRA numbers races from 1",
                key.track, key.date
            )));
        }
        Ok(Scope { track: Track::from_code(&key.track)?, date: key.date, race: Some(key.number) })
    }

    /// The same track and day, every race.
    pub fn whole_day(&self) -> Scope {
        Scope { race: None, ..self.clone() }
    }

    /// The key of race `number` on this scope's day.
    pub fn key(&self, number: u8) -> RaceKey {
        RaceKey { track: self.track.code().to_string(), date: self.date, number }
    }

    /// The key of the asked race.
    pub fn race_key(&self) -> Result<RaceKey> {
        self.race.map(|n| self.key(n)).ok_or_else(|| {
            SourceError::BadRequest(format!("no race number given for {} on {}", self.track.code(), self.date))
        })
    }

    /// Whether `row` is about this scope. A row that does not say (no `meet`, `rcDate` or
    /// `rcNo`) is taken to be; one that says something unreadable is an error. A `meet` label
    /// this plugin does not know is not held against the row: the query already chose the
    /// track.
    pub fn covers(&self, row: &Row<impl Lookup>) -> Result<bool> {
        if let Some(meet) = values::label(row, "meet")?
            && Track::from_meet(&meet).is_some_and(|t| t != self.track)
        {
            return Ok(false);
        }
        if values::date(row, "rcDate")?.is_some_and(|d| d != self.date) {
            return Ok(false);
        }
        match self.race {
            Some(asked) => Ok(values::int::<i64>(row, "rcNo")?.is_none_or(|n| n == i64::from(asked))),
            None => Ok(true),
        }
    }

    /// The rows of a page that belong to this scope. `what` names the service in the debug
    /// line that counts the rest.
    pub fn rows<'a, S: Lookup>(&self, envelope: &'a Envelope<Row<S>>, what: &str) -> Result<Vec<&'a Row<S>>> {
        let mut kept = Vec::with_capacity(envelope.items.len());
        // Rows come in runs about one race, and `covers` depends on these three fields
        // alone: a row that writes them as the row before did gets that row's answer.
        let mut last: Option<([Field<'a>; 3], bool)> = None;
        for row in &envelope.items {
            let said = [row.field("meet"), row.field("rcDate"), row.field("rcNo")];
            let covers = match last {
                Some((before, covers)) if before == said => covers,
                _ => {
                    let covers = self.covers(row)?;
                    last = Some((said, covers));
                    covers
                }
            };
            if covers {
                kept.push(row);
            }
        }
        let skipped = envelope.items.len() - kept.len();
        if skipped > 0 {
            log::debug(&format!("{what}: skipped {skipped} of {} rows for other races or days", envelope.items.len()));
        }
        Ok(kept)
    }
}

/// A row's race number (`rcNo`), which must be there and be 1–255.
pub fn race_number(row: &Row) -> Result<u8> {
    match values::positive::<u8>(row, "rcNo")? {
        Some(n) => Ok(n),
        None => Err(row.missing("rcNo", "a race number from 1")),
    }
}

/// A row's saddle number (`chulNo`), which must be there and be 1–255.
pub fn saddle_number(row: &Row) -> Result<u8> {
    match values::positive::<u8>(row, "chulNo")? {
        Some(n) => Ok(n),
        None => Err(row.missing("chulNo", "a saddle number from 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn row(v: Value) -> Row {
        match v {
            Value::Object(map) => Row::new(0, map),
            _ => unreachable!("test rows are objects"),
        }
    }

    fn race_1() -> Scope {
        Scope { track: Track::Busan, date: Date { year: 2025, month: 5, day: 23 }, race: Some(1) }
    }

    #[test]
    fn keeps_the_asked_race_whatever_the_label() {
        let scope = race_1();
        assert_eq!(scope.covers(&row(json!({"meet": "부경", "rcDate": 20250523, "rcNo": 1}))), Ok(true));
        assert_eq!(scope.covers(&row(json!({"meet": "부산경남", "rcDate": "20250523", "rcNo": "1"}))), Ok(true));
        assert_eq!(scope.covers(&row(json!({}))), Ok(true), "rows that do not say are kept");
        assert_eq!(scope.covers(&row(json!({"meet": "영천", "rcNo": 1}))), Ok(true), "unknown label");
    }

    #[test]
    fn skips_other_races_days_and_tracks() {
        let scope = race_1();
        assert_eq!(scope.covers(&row(json!({"meet": "부경", "rcDate": 20250523, "rcNo": 2}))), Ok(false));
        assert_eq!(scope.covers(&row(json!({"meet": "부경", "rcDate": 20250525, "rcNo": 1}))), Ok(false));
        assert_eq!(scope.covers(&row(json!({"meet": "서울", "rcDate": 20250523, "rcNo": 1}))), Ok(false));
        assert_eq!(scope.whole_day().covers(&row(json!({"rcDate": 20250523, "rcNo": 7}))), Ok(true));
    }

    #[test]
    fn unreadable_scope_fields_are_errors() {
        let scope = race_1();
        assert!(
            matches!(scope.covers(&row(json!({"rcDate": "soon"}))), Err(SourceError::Malformed(m)) if m.contains("rcDate"))
        );
        assert!(
            matches!(scope.covers(&row(json!({"rcNo": "first"}))), Err(SourceError::Malformed(m)) if m.contains("rcNo"))
        );
        assert!(
            matches!(race_number(&row(json!({"rcNo": 0}))), Err(SourceError::Malformed(m)) if m.contains("from 1"))
        );
        assert!(
            matches!(saddle_number(&row(json!({"chulNo": 256}))), Err(SourceError::Malformed(m)) if m.contains("chulNo"))
        );
    }

    #[test]
    fn race_zero_is_a_bad_request() {
        let race = RaceRef { key: race_1().key(0), meeting: None };
        assert!(matches!(Scope::race(&race), Err(SourceError::BadRequest(m)) if m.contains("race number 0")));
    }
}
