//! Lenient access to one item of a data.go.kr response.
//!
//! The same field may be a number in one row and a string in the next (`diffUnit`, `rating`,
//! KSPO `week_tcnt`), integral floats lose their `.0`, KSPO pads strings with spaces and
//! numbers with zeros, and `"-"`, `""` and `0` stand for "not applicable" (dossier §7.5, §7.8).
//! [`Row`] reads through all of that; its `require_*` methods name the row and field in the
//! error. A row's fields are looked up through [`Lookup`]: every field of the item in a map,
//! or only the fields a service reads; the rules are the same either way, written once on
//! [`Field`].

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::SourceError;

/// One field of an item as the source wrote it, borrowed from the row.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// The item has no such key.
    Missing,
    Null,
    Number(&'a Number),
    Text(&'a str),
    /// A boolean, array or object: never a readable value.
    Other(&'a Value),
}

/// Text compared in line (plugins compare a row's fields with the row before's to reuse
/// what they made of them).
impl PartialEq for Field<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Field::Missing, Field::Missing) | (Field::Null, Field::Null) => true,
            (Field::Number(a), Field::Number(b)) => a == b,
            (Field::Text(a), Field::Text(b)) => same(a, b),
            (Field::Other(a), Field::Other(b)) => a == b,
            _ => false,
        }
    }
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
        self.trimmed().map(Cow::into_owned)
    }

    /// [`Field::text`], borrowed when the field is text.
    pub fn trimmed(self) -> Option<Cow<'a, str>> {
        let text = match self {
            Field::Text(s) => Cow::Borrowed(s.trim()),
            Field::Number(n) => Cow::Owned(n.to_string()),
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

    /// Calls `f` with the name of every field the item has (for [`crate::drift`]).
    fn for_each_key(&self, f: &mut dyn FnMut(&str));
}

impl Lookup for Map<String, Value> {
    fn field(&self, key: &str) -> Field<'_> {
        Field::of(self.get(key))
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&str)) {
        self.keys().for_each(|k| f(k));
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

    /// The item's fields, to fill in where they lie.
    pub(crate) fn fields_mut(&mut self) -> &mut S {
        &mut self.fields
    }
}

impl<S: Lookup> Row<S> {
    /// A field as the source wrote it.
    pub fn field(&self, key: &str) -> Field<'_> {
        self.fields.field(key)
    }

    /// Calls `f` with the name of every field the item has.
    pub fn for_each_key(&self, f: &mut dyn FnMut(&str)) {
        self.fields.for_each_key(f);
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
        self.int_of(key, self.field(key))
    }

    /// [`Row::require_int`] of `field`, this row's `key` already looked up.
    pub fn int_of<T: TryFrom<i64>>(&self, key: &str, field: Field<'_>) -> Result<T, SourceError> {
        field.int().and_then(|n| T::try_from(n).ok()).ok_or_else(|| self.missing(key, "a whole number in range"))
    }

    /// A float that must be present.
    pub fn require_float(&self, key: &str) -> Result<f64, SourceError> {
        self.float_of(key, self.field(key))
    }

    /// [`Row::require_float`] of `field`, this row's `key` already looked up.
    pub fn float_of(&self, key: &str, field: Field<'_>) -> Result<f64, SourceError> {
        field.float().ok_or_else(|| self.missing(key, "a number"))
    }

    /// The error for a field that is missing or of the wrong kind.
    pub fn missing(&self, key: &str, wanted: &str) -> SourceError {
        let got = clip(&self.field(key).render(), 40);
        SourceError::Malformed(format!("item {}: field `{key}` should be {wanted}, got {got}", self.index))
    }
}

/// The seed that reads an item into only the fields named in `.0`, for
/// [`crate::envelope::read_with`]: a service that reads a few fields of many rows keeps
/// those, as the body wrote them, and skips the rest.
#[derive(Debug, Clone, Copy)]
pub struct Only<const N: usize>(pub &'static [&'static str; N]);

impl<const N: usize> Only<N> {
    /// `key`'s position among the keys wanted.
    pub(crate) fn position(self, key: &str) -> Option<usize> {
        position(self.0, key)
    }
}

/// `key`'s position in `keys`, compared byte by byte in line: a page of odds looks up
/// several keys in each of thousands of rows, and for keys this short a call to `memcmp`
/// per candidate cost more than the comparison itself.
fn position(keys: &[&str], key: &str) -> Option<usize> {
    keys.iter().position(|k| same(k, key))
}

/// Whether two texts are equal; those up to 16 bytes (every field name of the sources, most
/// values) compared in line: from 4 bytes on, their first and last 4 or 8 bytes as numbers,
/// which overlap to cover them.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same`] on bytes.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let len = a.len();
    match len {
        0 => true,
        // The first, middle and last bytes are every byte.
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=8 => ends::<4>(a) == ends::<4>(b),
        9..=16 => ends::<8>(a) == ends::<8>(b),
        _ => a == b,
    }
}

/// The first and the last `W` bytes of `s` (at least `W` long).
#[inline(always)]
fn ends<const W: usize>(s: &[u8]) -> ([u8; W], [u8; W]) {
    let mut head = [0; W];
    let mut tail = [0; W];
    head.copy_from_slice(&s[..W]);
    tail.copy_from_slice(&s[s.len() - W..]);
    (head, tail)
}

/// An item's fields among the keys of an [`Only`]; text is borrowed from the body unless it
/// had escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked<'a, const N: usize> {
    keys: &'static [&'static str; N],
    pub(crate) slots: [Slot<'a>; N],
    /// Values the slots point to that the body does not hold as they are (usually none).
    kept: Vec<Kept>,
    /// The names of the item's other fields, kept for drift (usually none: no allocation).
    pub(crate) others: Vec<Cow<'a, str>>,
}

impl<const N: usize> Picked<'_, N> {
    /// An item with none of `keys`, to be filled in some other way than through serde
    /// (`envelope/flat.rs`).
    pub(crate) fn empty(keys: &'static [&'static str; N]) -> Self {
        Picked { keys, slots: [const { Slot::Missing }; N], kept: Vec::new(), others: Vec::new() }
    }
}

impl<const N: usize> Lookup for Picked<'_, N> {
    fn field(&self, key: &str) -> Field<'_> {
        // A plugin names a field with the same literal it listed in its `Only`, which is
        // mostly the same bytes in memory: an address is compared before any text.
        let same_literal =
            self.keys.iter().position(|k| std::ptr::eq(k.as_ptr(), key.as_ptr()) && k.len() == key.len());
        match same_literal.or_else(|| position(self.keys, key)) {
            Some(at) => self.slots[at].field(&self.kept),
            None => {
                debug_assert!(false, "`{key}` is not among the fields read, {:?}", self.keys);
                Field::Missing
            }
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&str)) {
        for (key, slot) in self.keys.iter().zip(&self.slots) {
            if !matches!(slot, Slot::Missing) {
                f(key);
            }
        }
        self.others.iter().for_each(|k| f(k));
    }
}

/// One field as read: [`Field`] with the value held, or, for the rare value the body does
/// not hold as it is, where its item keeps it. A slot owns nothing, so thousands of rows are
/// filled and dropped without a call per field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Slot<'a> {
    Missing,
    Null,
    Bool(bool),
    Number(Number),
    /// Text without escapes, borrowed from the body.
    Text(&'a str),
    /// The position of the value in its item's [`Kept`] list.
    Kept(usize),
}

/// A field's value as its item keeps it: text that had escapes, an array or an object.
#[derive(Debug, Clone, PartialEq)]
enum Kept {
    Text(String),
    Other(Value),
}

/// The booleans a [`Field::Other`] points to.
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);

impl Slot<'_> {
    fn field<'s>(&'s self, kept: &'s [Kept]) -> Field<'s> {
        match self {
            Slot::Missing => Field::Missing,
            Slot::Null => Field::Null,
            Slot::Bool(b) => Field::Other(if *b { &TRUE } else { &FALSE }),
            Slot::Number(n) => Field::Number(n),
            Slot::Text(s) => Field::Text(s),
            Slot::Kept(at) => match &kept[*at] {
                Kept::Text(s) => Field::Text(s),
                Kept::Other(v) => Field::Other(v),
            },
        }
    }
}

/// A value as serde reads it for a slot: held in the slot, or to be kept by the item.
enum Read<'a> {
    Slot(Slot<'a>),
    Kept(Kept),
}

impl<'de, const N: usize> DeserializeSeed<'de> for Only<N> {
    type Value = Picked<'de, N>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Only<N> {
    type Value = Picked<'de, N>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an item object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots = [const { Slot::Missing }; N];
        let mut kept = Vec::new();
        let mut others = Vec::new();
        // A repeated key overwrites what an earlier one gave, as in a map.
        while let Some(at) = map.next_key_seed(KeyAt(self.0))? {
            match at {
                Ok(at) => {
                    slots[at] = match map.next_value::<Read>()? {
                        Read::Slot(slot) => slot,
                        Read::Kept(value) => {
                            kept.push(value);
                            Slot::Kept(kept.len() - 1)
                        }
                    }
                }
                Err(other) => {
                    map.next_value::<IgnoredAny>()?;
                    others.push(other);
                }
            }
        }
        Ok(Picked { keys: self.0, slots, kept, others })
    }
}

/// Reads a key into its position among the keys wanted.
struct KeyAt<const N: usize>(&'static [&'static str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for KeyAt<N> {
    /// The key's position among the keys wanted, or its name.
    type Value = Result<usize, Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeyAt<N> {
    type Value = Result<usize, Cow<'de, str>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(position(self.0, key).ok_or_else(|| Cow::Owned(key.to_string())))
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(position(self.0, key).ok_or(Cow::Borrowed(key)))
    }
}

impl<'de> Deserialize<'de> for Read<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SlotVisitor)
    }
}

struct SlotVisitor;

impl<'de> Visitor<'de> for SlotVisitor {
    type Value = Read<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Read<'de>, E> {
        // As a JSON map holds it: a float that is not finite is null.
        Ok(Read::Slot(Number::from_f64(v).map_or(Slot::Null, Slot::Number)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Text(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Read<'de>, E> {
        Ok(Read::Kept(Kept::Text(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Read<'de>, E> {
        Ok(Read::Kept(Kept::Text(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Read<'de>, E> {
        Ok(Read::Slot(Slot::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read<'de>, D::Error> {
        Read::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Read<'de>, A::Error> {
        Ok(Read::Kept(Kept::Other(Value::deserialize(SeqAccessDeserializer::new(seq))?)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read<'de>, A::Error> {
        Ok(Read::Kept(Kept::Other(Value::deserialize(MapAccessDeserializer::new(map))?)))
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

    /// The same object read into a map and into [`Picked`].
    fn both<'a>(json: &'a str, keys: &'static [&'static str; 12]) -> (Row, Row<Picked<'a, 12>>) {
        let map: Map<String, Value> = serde_json::from_str(json).expect("an object");
        let mut de = serde_json::Deserializer::from_str(json);
        let picked = Only(keys).deserialize(&mut de).expect("an object");
        (Row::new(5, map), Row::new(5, picked))
    }

    #[test]
    fn picked_fields_read_like_a_map() {
        const KEYS: [&str; 12] =
            ["int", "neg", "float", "huge", "exp", "escaped", "dash", "blank", "null", "flag", "nested", "dup"];
        let json = r#"{"int": 7, "neg": -3, "float": 9999.9, "huge": 99999999999999999999, "exp": 1e2,
            "escaped": "\u0031\u0032 ", "dash": "-", "blank": "  ", "null": null, "flag": true,
            "nest\u0065d": {"a": [1, "x"]}, "dup": 1, "skipped": {"deep": [[[]]]}, "dup": " 03 "}"#;
        let (map, picked) = both(json, &KEYS);
        for key in KEYS.iter().chain(&["missing"]).copied() {
            if key == "missing" {
                assert_eq!(map.field(key), Field::Missing);
                continue;
            }
            assert_eq!(map.field(key), picked.field(key), "{key}");
            assert_eq!(map.text(key), picked.text(key), "{key}");
            assert_eq!(map.float(key), picked.float(key), "{key}");
            assert_eq!(map.int(key), picked.int(key), "{key}");
            assert_eq!(map.missing(key, "x"), picked.missing(key, "x"), "{key}");
        }
        assert_eq!(picked.int("dup"), Some(3), "a repeated key keeps the last value");
        assert_eq!(picked.text("escaped").as_deref(), Some("12"));
        assert!(matches!(picked.field("nested"), Field::Other(v) if v["a"][1] == "x"));
        assert_eq!(picked.float("float"), Some(9999.9));
        assert_eq!(picked.text("huge"), map.text("huge"));
        assert!(matches!(picked.missing("flag", "a number"), SourceError::Malformed(m) if m.ends_with("got true")));
    }

    #[test]
    fn picked_text_borrows_from_the_body_unless_escaped() {
        const KEYS: [&str; 2] = ["plain", "escaped"];
        let json = r#"{"plain": "부산경남", "escaped": "a\"b"}"#;
        let mut de = serde_json::Deserializer::from_str(json);
        let picked = Only(&KEYS).deserialize(&mut de).expect("an object");
        assert!(matches!(picked.slots[0], Slot::Text("부산경남")));
        assert!(matches!(picked.slots[1], Slot::Kept(0)));
        assert_eq!(picked.field("escaped"), Field::Text("a\"b"));
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
