//! Optional fields read strictly: a field may be absent or a placeholder (`"-"`, `""`, null,
//! and for some fields `0`, dossier §7.8), but a value that is there must be readable. The
//! SDK's [`Row`] accessors fold "absent" and "unreadable" into one `None`; these tell them
//! apart so garbage becomes a `Malformed` error that names the item and field.

use std::borrow::Cow;

use racelab_plugin_sdk::fields::{Field, Lookup, Row};
use racelab_plugin_sdk::{ClockTime, Date, SourceError, calendar};

type Result<T> = std::result::Result<T, SourceError>;

/// The field unless it is absent or a placeholder; a boolean, array or object is an error.
fn present<'a>(row: &'a Row<impl Lookup>, key: &str) -> Result<Option<Field<'a>>> {
    match row.field(key) {
        Field::Missing | Field::Null => Ok(None),
        Field::Text(s) if matches!(s.trim(), "" | "-") => Ok(None),
        field @ (Field::Text(_) | Field::Number(_)) => Ok(Some(field)),
        Field::Other(_) => Err(row.missing(key, "a number or text")),
    }
}

/// A whole number that fits `T`, or `None` when absent.
pub fn int<T: TryFrom<i64>>(row: &Row<impl Lookup>, key: &str) -> Result<Option<T>> {
    match present(row, key)? {
        None => Ok(None),
        Some(field) => row.int_of(key, field).map(Some),
    }
}

/// A whole number above zero that fits `T`; `0` reads as "not applicable".
pub fn positive<T: TryFrom<i64>>(row: &Row<impl Lookup>, key: &str) -> Result<Option<T>> {
    match int::<i64>(row, key)? {
        None | Some(0) => Ok(None),
        Some(n) => T::try_from(n).map(Some).map_err(|_| row.missing(key, "a positive whole number in range")),
    }
}

/// A finite number, or `None` when absent.
pub fn float(row: &Row<impl Lookup>, key: &str) -> Result<Option<f64>> {
    match present(row, key)? {
        None => Ok(None),
        Some(field) => row.float_of(key, field).map(Some),
    }
}

/// A number above zero; `0` reads as "not applicable", a negative number is an error.
pub fn positive_float(row: &Row<impl Lookup>, key: &str) -> Result<Option<f64>> {
    match float(row, key)? {
        Some(f) if f < 0.0 => Err(row.missing(key, "a number not below zero")),
        Some(f) if f > 0.0 => Ok(Some(f)),
        _ => Ok(None),
    }
}

/// A date written `20250523` (number or string) or `2025-05-23`, with an ISO time allowed
/// after it; `None` when absent.
pub fn date(row: &Row<impl Lookup>, key: &str) -> Result<Option<Date>> {
    let date = match present(row, key)? {
        None => return Ok(None),
        Some(field @ Field::Number(_)) => field.int().and_then(date_of_number),
        Some(field) => {
            let text = field.trimmed().unwrap_or_default();
            calendar::parse_date(text.split('T').next().unwrap_or_default())
        }
    };
    date.map(Some).ok_or_else(|| row.missing(key, "a date YYYYMMDD"))
}

/// A date written as the number `20250523`: its eight digits read as `calendar::parse_date`
/// reads them, without writing them out first (odds pages have one per row).
fn date_of_number(n: i64) -> Option<Date> {
    if !(10_000_000..=99_999_999).contains(&n) {
        return None;
    }
    Date::new(u16::try_from(n / 10_000).ok()?, u8::try_from(n / 100 % 100).ok()?, u8::try_from(n % 100).ok()?)
}

/// A post time in any KRA form (`1035`, `"출발 :10:45"`, `"출발 : 10: 45"`, ISO
/// `2025-05-03T10:35:00+09:00`); `None` when absent or not yet set (`0`, `"출발 :"`).
pub fn clock(row: &Row<impl Lookup>, key: &str) -> Result<Option<ClockTime>> {
    if present(row, key)?.is_none() {
        return Ok(None);
    }
    let text = row.text(key).unwrap_or_default();
    let time = match text.split_once('T') {
        // ISO: the time part, without seconds or offset.
        Some((_, rest)) => rest.get(..5).unwrap_or(rest),
        None => text.as_str(),
    };
    if time.chars().filter(char::is_ascii_digit).all(|c| c == '0') {
        return Ok(None);
    }
    calendar::parse_clock(time).map(Some).ok_or_else(|| row.missing(key, "a post time"))
}

/// Text as the source wrote it, trimmed; `None` when absent. A number is rendered as text,
/// so `diffUnit` reads the same whether it came as `"½"` or `7`.
pub fn text(row: &Row<impl Lookup>, key: &str) -> Result<Option<String>> {
    Ok(label(row, key)?.map(Cow::into_owned))
}

/// [`text`], borrowed from the row when it was text: for fields that are only compared, like
/// a row's track label or pool name.
pub fn label<'a>(row: &'a Row<impl Lookup>, key: &str) -> Result<Option<Cow<'a, str>>> {
    Ok(present(row, key)?.and_then(Field::trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn row(v: Value) -> Row {
        match v {
            Value::Object(map) => Row::new(4, map),
            _ => unreachable!("test rows are objects"),
        }
    }

    fn malformed(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(SourceError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn absent_placeholders_and_zero() {
        let r = row(json!({"a": "-", "b": "", "c": null, "z": 0, "n": 57, "s": " 12 "}));
        for key in ["a", "b", "c", "missing"] {
            assert_eq!(int::<u8>(&r, key), Ok(None), "{key}");
            assert_eq!(float(&r, key), Ok(None), "{key}");
        }
        assert_eq!(int::<u8>(&r, "z"), Ok(Some(0)));
        assert_eq!(positive::<u8>(&r, "z"), Ok(None));
        assert_eq!(positive_float(&r, "z"), Ok(None));
        assert_eq!(positive_float(&r, "n"), Ok(Some(57.0)));
        assert_eq!(positive::<u32>(&r, "s"), Ok(Some(12)));
    }

    #[test]
    fn unreadable_values_name_item_and_field() {
        let r = row(json!({"a": "abc", "b": true, "c": [1], "big": 300, "neg": -1, "negf": -0.5}));
        assert_eq!(malformed(int::<u8>(&r, "a")), "item 4: field `a` should be a whole number in range, got \"abc\"");
        assert!(malformed(float(&r, "b")).contains("field `b` should be a number or text"));
        assert!(malformed(text(&r, "c")).contains("field `c`"));
        assert!(malformed(int::<u8>(&r, "big")).contains("`big`"));
        assert!(malformed(positive::<u8>(&r, "neg")).contains("positive"));
        assert!(malformed(positive_float(&r, "negf")).contains("not below zero"));
    }

    #[test]
    fn dates_as_numbers_strings_and_iso() {
        let r = row(
            json!({"n": 20250523, "s": "20250523", "iso": "2025-05-03T10:35:00+09:00", "f": 20250523.0, "bad": 20251340, "neg": -20250523}),
        );
        let d = |y, m, day| Ok(Some(Date { year: y, month: m, day }));
        assert_eq!(date(&r, "n"), d(2025, 5, 23));
        assert_eq!(date(&r, "s"), d(2025, 5, 23));
        assert_eq!(date(&r, "f"), d(2025, 5, 23));
        assert_eq!(date(&r, "iso"), d(2025, 5, 3));
        assert_eq!(date(&r, "missing"), Ok(None));
        assert!(malformed(date(&r, "bad")).contains("a date"));
        assert!(malformed(date(&r, "neg")).contains("a date"));
    }

    #[test]
    fn post_times_in_every_form() {
        let r = row(json!({
            "hhmm": 1035, "a": "출발 :10:45", "b": "출발 : 10: 45", "c": "출발:12:30",
            "iso": "2025-05-03T10:35:00+09:00", "zero": 0, "unset": "출발 :", "bad": "출발 :27:75",
        }));
        let t = |hour, minute| Ok(Some(ClockTime { hour, minute }));
        assert_eq!(clock(&r, "hhmm"), t(10, 35));
        assert_eq!(clock(&r, "a"), t(10, 45));
        assert_eq!(clock(&r, "b"), t(10, 45));
        assert_eq!(clock(&r, "c"), t(12, 30));
        assert_eq!(clock(&r, "iso"), t(10, 35));
        assert_eq!(clock(&r, "zero"), Ok(None));
        assert_eq!(clock(&r, "unset"), Ok(None));
        assert!(malformed(clock(&r, "bad")).contains("a post time"));
    }

    #[test]
    fn text_renders_numbers() {
        let r = row(json!({"s": "½", "n": 7, "dash": "-"}));
        assert_eq!(text(&r, "s"), Ok(Some("½".to_string())));
        assert_eq!(text(&r, "n"), Ok(Some("7".to_string())));
        assert_eq!(text(&r, "dash"), Ok(None));
    }
}
