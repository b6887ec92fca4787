//! Reading KSPO rows: numbers, dates, and the checks that keep rows of other races out.

use racelab_plugin_sdk::calendar::parse_date;
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::{Date, SourceError};

/// A number from 1 that must be present: `race_no`, `back_no`, `race_reg_no` (`"01"`, `1`).
pub fn number(row: &Row, key: &str) -> Result<u8, SourceError> {
    row.int(key)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| row.missing(key, "a number from 1 to 255"))
}

/// Whether a row's field agrees with the value asked for. A field that is missing or
/// unreadable does not disagree: the services filter by it already, and the types vary
/// (`week_tcnt` is `1` in one service and `"01"` in another).
pub fn agrees(row: &Row, key: &str, expected: Option<i64>) -> bool {
    match (row.int(key), expected) {
        (Some(found), Some(expected)) => found == expected,
        _ => true,
    }
}

/// A date field that must be present: `2026.01.02`, `20260128`.
pub fn date(row: &Row, key: &str) -> Result<Date, SourceError> {
    row.text(key).and_then(|t| parse_date(&t)).ok_or_else(|| row.missing(key, "a date like 2026.01.02"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> Row {
        match v {
            serde_json::Value::Object(m) => Row::new(2, m),
            _ => Row::new(2, Default::default()),
        }
    }

    #[test]
    fn numbers_dates_and_agreement() {
        let r = row(
            json!({"race_no": "01", "back_no": 0, "week_tcnt": 1, "day_tcnt": "x", "race_ymd": "2026.01.02", "bad": "0102"}),
        );
        assert_eq!(number(&r, "race_no"), Ok(1));
        assert!(
            matches!(number(&r, "back_no"), Err(SourceError::Malformed(m)) if m.contains("item 2") && m.contains("back_no"))
        );
        assert!(agrees(&r, "week_tcnt", Some(1)) && !agrees(&r, "week_tcnt", Some(2)));
        assert!(agrees(&r, "day_tcnt", Some(3)) && agrees(&r, "missing", Some(3)) && agrees(&r, "week_tcnt", None));
        assert_eq!(date(&r, "race_ymd"), Ok(Date { year: 2026, month: 1, day: 2 }));
        assert!(date(&r, "bad").is_err());
    }
}
