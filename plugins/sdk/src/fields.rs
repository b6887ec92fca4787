//! Lenient access to one item of a data.go.kr response.
//!
//! The same field may be a number in one row and a string in the next (`diffUnit`, `rating`,
//! KSPO `week_tcnt`), integral floats lose their `.0`, KSPO pads strings with spaces and
//! numbers with zeros, and `"-"`, `""` and `0` stand for "not applicable" (dossier §7.5, §7.8).
//! [`Row`] reads through all of that; its `require_*` methods name the row and field in the
//! error.

use serde_json::{Map, Value};

use crate::SourceError;

/// One item, with its index in the page for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Position in the page's item list, from 0.
    pub index: usize,
    fields: Map<String, Value>,
}

impl Row {
    /// Wraps an item's fields.
    pub fn new(index: usize, fields: Map<String, Value>) -> Self {
        Row { index, fields }
    }

    /// The raw value of a field.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// A field as trimmed text; `None` when missing, null, empty or `"-"`. Numbers are
    /// rendered as text.
    pub fn text(&self, key: &str) -> Option<String> {
        let text = match self.fields.get(key)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty() && text != "-").then_some(text)
    }

    /// A field as a float, from a JSON number or a numeric string (`"3.92"`, `" 12 "`).
    pub fn float(&self, key: &str) -> Option<f64> {
        match self.fields.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite())
    }

    /// A field as a whole number, from a number (`3`, `3.0`) or a string (`"03"`).
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.fields.get(key)? {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
            }
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
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
        let got = match self.fields.get(key) {
            None => "nothing".to_string(),
            Some(v) => clip(&v.to_string(), 40),
        };
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
