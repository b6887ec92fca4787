//! Lenient access to one item of a data.go.kr response.
//!
//! The same field may be a number in one row and a string in the next (`diffUnit`, `rating`,
//! KSPO `week_tcnt`), integral floats lose their `.0`, KSPO pads strings with spaces and
//! numbers with zeros, and `"-"`, `""` and `0` stand for "not applicable" (dossier §7.5, §7.8).
//! [`Row`] reads through all of that; its `require_*` methods name the row and field in the
//! error. A row's fields are looked up through [`Lookup`]: every field of the item in a map,
//! or only the fields a service reads; the rules are the same either way, written once on
//! [`Field`].

use serde_json::{Map, Number, Value};

use crate::SourceError;

/// One field of an item as the source wrote it, borrowed from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// The item has no such key.
    Missing,
    Null,
    Number(&'a Number),
    Text(&'a str),
    /// A boolean, array or object: never a readable value.
    Other(&'a Value),
}

impl<'a> Field<'a> {
    /// The field as found in a JSON value, or missing.
    pub fn of(value: Option<&'a Value>) -> Self {
        match value {
            None => Field::Missing,
            Some(Value::Null) => Field::Null,
            Some(Value::Number(n)) => Field::Number(n),
            Some(Value::String(s)) => Field::Text(s),
            Some(other) => Field::Other(other),
        }
    }

    /// Trimmed text; `None` when missing, null, empty or `"-"`. Numbers are rendered as text.
    pub fn text(self) -> Option<String> {
        let text = match self {
            Field::Text(s) => s.trim().to_string(),
            Field::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty() && text != "-").then_some(text)
    }

    /// A float, from a JSON number or a numeric string (`"3.92"`, `" 12 "`).
    pub fn float(self) -> Option<f64> {
        match self {
            Field::Number(n) => n.as_f64(),
            Field::Text(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite())
    }

    /// A whole number, from a number (`3`, `3.0`) or a string (`"03"`).
    pub fn int(self) -> Option<i64> {
        match self {
            Field::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
            }
            Field::Text(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
    }

    /// The field as JSON text, for error messages; `nothing` when missing.
    pub fn render(self) -> String {
        match self {
            Field::Missing => "nothing".to_string(),
            Field::Null => "null".to_string(),
            Field::Number(n) => n.to_string(),
            Field::Text(s) => Value::String(s.to_string()).to_string(),
            Field::Other(v) => v.to_string(),
        }
    }
}

/// How a row finds a field by key.
pub trait Lookup {
    /// The field named `key`; [`Field::Missing`] when the item has none.
    fn field(&self, key: &str) -> Field<'_>;
}

impl Lookup for Map<String, Value> {
    fn field(&self, key: &str) -> Field<'_> {
        Field::of(self.get(key))
    }
}

/// One item, with its index in the page for error messages. Its fields are every field of
/// the item in a map unless a service says which it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<S = Map<String, Value>> {
    /// Position in the page's item list, from 0.
    pub index: usize,
    fields: S,
}

impl<S> Row<S> {
    /// Wraps an item's fields.
    pub fn new(index: usize, fields: S) -> Self {
        Row { index, fields }
    }

    /// The item's fields.
    pub fn into_fields(self) -> S {
        self.fields
    }
}

impl<S: Lookup> Row<S> {
    /// A field as the source wrote it.
    pub fn field(&self, key: &str) -> Field<'_> {
        self.fields.field(key)
    }

    /// A field as trimmed text; `None` when missing, null, empty or `"-"`. Numbers are
    /// rendered as text.
    pub fn text(&self, key: &str) -> Option<String> {
        self.field(key).text()
    }

    /// A field as a float, from a JSON number or a numeric string (`"3.92"`, `" 12 "`).
    pub fn float(&self, key: &str) -> Option<f64> {
        self.field(key).float()
    }

    /// A field as a whole number, from a number (`3`, `3.0`) or a string (`"03"`).
    pub fn int(&self, key: &str) -> Option<i64> {
        self.field(key).int()
    }

    /// Text that must be present.
    pub fn require_text(&self, key: &str) -> Result<String, SourceError> {
        self.text(key).ok_or_else(|| self.missing(key, "text"))
    }

    /// A whole number that must be present and fit `T`.
    pub fn require_int<T: TryFrom<i64>>(&self, key: &str) -> Result<T, SourceError> {
        self.int(key).and_then(|n| T::try_from(n).ok()).ok_or_else(|| self.missing(key, "a whole number in range"))
    }

    /// A float that must be present.
    pub fn require_float(&self, key: &str) -> Result<f64, SourceError> {
        self.float(key).ok_or_else(|| self.missing(key, "a number"))
    }

    /// The error for a field that is missing or of the wrong kind.
    pub fn missing(&self, key: &str, wanted: &str) -> SourceError {
        let got = clip(&self.field(key).render(), 40);
        SourceError::Malformed(format!("item {}: field `{key}` should be {wanted}, got {got}", self.index))
    }
}

/// `text` cut to at most `max` characters, for error messages.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Row {
        match v {
            Value::Object(map) => Row::new(3, map),
            _ => unreachable!("test rows are objects"),
        }
    }

    #[test]
    fn numbers_as_numbers_or_padded_strings() {
        let r = row(json!({"a": 3, "b": "03", "c": " 12 ", "d": 3.0, "e": "3.92", "f": "x", "g": 1.5}));
        assert_eq!(r.int("a"), Some(3));
        assert_eq!(r.int("b"), Some(3));
        assert_eq!(r.int("c"), Some(12));
        assert_eq!(r.int("d"), Some(3));
        assert_eq!(r.int("g"), None);
        assert_eq!(r.float("e"), Some(3.92));
        assert_eq!(r.int("f"), None);
        assert_eq!(r.require_int::<u8>("a"), Ok(3));
    }

    #[test]
    fn placeholders_are_absent() {
        let r = row(json!({"a": "-", "b": "  ", "c": "광명  ", "d": null, "e": 7}));
        assert_eq!(r.text("a"), None);
        assert_eq!(r.text("b"), None);
        assert_eq!(r.text("c").as_deref(), Some("광명"));
        assert_eq!(r.text("d"), None);
        assert_eq!(r.text("e").as_deref(), Some("7"));
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let r = row(json!({"chulNo": "abc", "big": 300}));
        let SourceError::Malformed(m) = r.require_int::<u8>("chulNo").expect_err("not a number") else {
            panic!("wrong kind")
        };
        assert_eq!(m, "item 3: field `chulNo` should be a whole number in range, got \"abc\"");
        assert!(r.require_int::<u8>("big").is_err(), "300 does not fit a u8");
        assert!(matches!(r.require_text("none"), Err(SourceError::Malformed(m)) if m.contains("got nothing")));
    }
}
