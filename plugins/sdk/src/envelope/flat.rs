//! A quicker reader for the JSON page almost every answer is: `response` holding `header` and
//! `body`, the body's `items.item` an array of flat objects (or one), every value a plain
//! string, number, boolean or null. It reads such a page byte by byte into the same levels
//! as `json.rs` (whose checks then run unchanged), with keys and text borrowed from the body.
//! It checks that the text it reads is UTF-8, so the body as a whole is not checked first.
//!
//! Anything outside that shape — an escape in a string, a nested value in an item, another
//! key at an envelope level, a negative number or one with an exponent or many digits,
//! anything that is not JSON — makes it give up, and the page is read by `json.rs`, which
//! says what is wrong where. So it never decides a page differently: it only reads the
//! common case faster (tests.rs compares the two on every fixture and many variations).
//!
//! Numbers come out as serde_json makes them: whole numbers as `u64`, decimals as the digits
//! divided by a power of ten in `f64` (serde_json's rule without its `float_roundtrip`
//! feature), which for up to 15 digits is the correctly rounded value.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::json::{Body, Items, Response, Root};
use crate::fields::{Only, Picked, Row, Slot, same_bytes};

/// Digits a number may have here; longer ones are left to serde_json.
const MAX_DIGITS: usize = 15;

/// The bytes a string without escapes cannot hold before its closing quote (the quote
/// itself, a backslash, control characters), as a table: one load per byte.
static ENDS_PLAIN_TEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Places in an item whose key and value are remembered from the item before.
const GUESSED_KEYS: usize = 32;

/// Rows reserved at once from the guess of how many a page has.
const MAX_RESERVED_ROWS: usize = 4096;

/// Powers of ten up to the longest fraction [`MAX_DIGITS`] allows, all exact in `f64`.
const POW10: [f64; MAX_DIGITS + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// Reads `body` into the envelope's levels with `only` reading each item; `None` when the
/// body is not of the common shape (the caller then reads it with serde_json).
pub(super) fn read<'de, const N: usize>(body: &'de [u8], only: Only<N>) -> Option<Root<Picked<'de, N>>> {
    let mut cursor =
        Cursor { bytes: body, at: 0, keys_before: [None; GUESSED_KEYS], values_before: [const { None }; GUESSED_KEYS] };
    let mut response = None;
    cursor.object(|c, key| match key {
        "response" => {
            response = Some(c.response(only)?);
            Some(())
        }
        _ => None,
    })?;
    cursor.skip_whitespace();
    (cursor.at == body.len()).then_some(Root::Object { gateway: None, response })
}

/// A plain value.
#[derive(Clone)]
enum Scalar<'de> {
    Null,
    Bool(bool),
    Number(Number),
    Text(&'de str),
}

impl<'de> Scalar<'de> {
    fn into_value(self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Number(n) => Value::Number(n),
            Scalar::Text(s) => Value::String(s.to_string()),
        }
    }

    /// As [`crate::fields`] holds an item's field read through serde.
    #[inline(always)]
    fn into_slot(self) -> Slot<'de> {
        match self {
            Scalar::Null => Slot::Null,
            Scalar::Bool(b) => Slot::Bool(b),
            Scalar::Number(n) => Slot::Number(n),
            Scalar::Text(s) => Slot::Text(s),
        }
    }
}

/// A position in the body. Every method returns `None` where the body leaves the common
/// shape; `at` is then of no further use.
struct Cursor<'de> {
    bytes: &'de [u8],
    at: usize,
    /// The key the previous item had at each place, and its slot (see
    /// [`Cursor::same_key_as_before`]).
    keys_before: [Option<(&'de str, Option<usize>)>; GUESSED_KEYS],
    /// The value the previous item had at each place, as written and as read (see
    /// [`Cursor::same_value_as_before`]).
    values_before: [Option<(&'de [u8], Scalar<'de>)>; GUESSED_KEYS],
}

impl<'de> Cursor<'de> {
    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes or control characters, borrowed, once its bytes are found to
    /// be UTF-8. Every byte outside strings is a character of the JSON grammar and every
    /// string read is checked, or equal to one that was, so a body read to the end is UTF-8.
    #[inline(always)]
    fn string(&mut self) -> Option<&'de str> {
        self.eat(b'"')?;
        let start = self.at;
        let len = self.bytes[start..].iter().position(|&b| ENDS_PLAIN_TEXT[usize::from(b)])?;
        if self.bytes[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        std::str::from_utf8(&self.bytes[start..start + len]).ok()
    }

    /// An object whose keys `entry` reads the values of, one by one.
    #[inline(always)]
    fn object(&mut self, mut entry: impl FnMut(&mut Self, &'de str) -> Option<()>) -> Option<()> {
        if self.opens(b'{', b'}')? {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            entry(self, key)?;
            if self.closes(b'}')? {
                return Some(());
            }
        }
    }

    /// Consumes `open`; whether `close` follows at once (an empty object or array).
    #[inline(always)]
    fn opens(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// After a member: consumes `,` (`false`: another follows) or `close` (`true`: the end).
    #[inline(always)]
    fn closes(&mut self, close: u8) -> Option<bool> {
        let byte = self.peek()?;
        (byte == b',' || byte == close).then(|| {
            self.at += 1;
            byte == close
        })
    }

    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'de>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Text),
            b'0'..=b'9' => self.number().map(Scalar::Number),
            b'n' => self.word("null", Scalar::Null),
            b't' => self.word("true", Scalar::Bool(true)),
            b'f' => self.word("false", Scalar::Bool(false)),
            _ => None,
        }
    }

    #[inline(always)]
    fn word(&mut self, word: &str, scalar: Scalar<'de>) -> Option<Scalar<'de>> {
        self.bytes[self.at..].starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            scalar
        })
    }

    /// `0`, `12`, `66.4`: no sign, no exponent, at most [`MAX_DIGITS`] digits, no leading zero.
    #[inline(always)]
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        let int_end = self.digits_end(start);
        let (frac_start, end) = match self.bytes.get(int_end) {
            Some(b'.') => (int_end + 1, self.digits_end(int_end + 1)),
            _ => (int_end, int_end),
        };
        let decimal = frac_start != int_end;
        let places = end - frac_start;
        let leading_zero = int_end - start > 1 && self.bytes[start] == b'0';
        let too_long = int_end - start + places > MAX_DIGITS;
        if leading_zero
            || too_long
            || (decimal && places == 0)
            || matches!(self.bytes.get(end), Some(b'e' | b'E' | b'.'))
        {
            return None;
        }
        let digits =
            |from: usize, to: usize, n: u64| self.bytes[from..to].iter().fold(n, |n, b| n * 10 + u64::from(b - b'0'));
        let significand = digits(frac_start, end, digits(start, int_end, 0));
        self.at = end;
        if decimal { Number::from_f64(significand as f64 / POW10[places]) } else { Some(Number::from(significand)) }
    }

    /// Where the run of digits from `from` ends.
    #[inline(always)]
    fn digits_end(&self, from: usize) -> usize {
        let rest = &self.bytes[from..];
        from + rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len())
    }

    /// An object of plain values, for `header`.
    fn flat_value(&mut self) -> Option<Value> {
        let mut map = Map::new();
        self.object(|c, key| {
            map.insert(key.to_string(), c.scalar()?.into_value());
            Some(())
        })?;
        Some(Value::Object(map))
    }

    fn response<const N: usize>(&mut self, only: Only<N>) -> Option<Response<Picked<'de, N>>> {
        let mut response = Response::default();
        self.object(|c, key| {
            match key {
                "header" => response.header = Some(c.flat_value()?),
                "body" => response.body = Some(c.body(only)?),
                _ => return None,
            }
            Some(())
        })?;
        Some(response)
    }

    fn body<const N: usize>(&mut self, only: Only<N>) -> Option<Body<Picked<'de, N>>> {
        let mut body = Body { items: Items::None, total_count: None, page_no: None, num_of_rows: None };
        self.object(|c, key| {
            match key {
                "items" => body.items = c.items(only)?,
                "totalCount" => body.total_count = Some(c.scalar()?.into_value()),
                "pageNo" => body.page_no = Some(c.scalar()?.into_value()),
                "numOfRows" => body.num_of_rows = Some(c.scalar()?.into_value()),
                _ => return None,
            }
            Some(())
        })?;
        Some(body)
    }

    /// `items`: an object whose `item` is an array of item objects or one item object.
    fn items<const N: usize>(&mut self, only: Only<N>) -> Option<Items<Picked<'de, N>>> {
        let mut items = Items::None;
        self.object(|c, key| {
            if key != "item" {
                return None;
            }
            items = match c.peek()? {
                b'{' => {
                    let mut row = Row::new(0, Picked::empty(only.0));
                    c.item(only, row.fields_mut())?;
                    Items::Rows(vec![row])
                }
                b'[' => Items::Rows(c.item_array(only)?),
                _ => return None,
            };
            Some(())
        })?;
        Some(items)
    }

    fn item_array<const N: usize>(&mut self, only: Only<N>) -> Option<Vec<Row<Picked<'de, N>>>> {
        let mut rows = Vec::new();
        if self.opens(b'[', b']')? {
            return Some(rows);
        }
        loop {
            let start = self.at;
            rows.push(Row::new(rows.len(), Picked::empty(only.0)));
            let last = rows.len() - 1;
            self.item(only, rows[last].fields_mut())?;
            if last == 0 {
                // Items of one page are alike: the body's length over the first item's is
                // about how many there are (bounded: tiny items after a long one must not
                // make the guess the size of the body).
                rows.reserve(((self.bytes.len() - start) / (self.at - start)).min(MAX_RESERVED_ROWS));
            }
            if self.closes(b']')? {
                return Some(rows);
            }
        }
    }

    /// One item, read into `picked` where it lies (an item is a few hundred bytes: moving it
    /// from here to the page was a tenth of the read): the wanted fields in their slots, the
    /// names of the others kept for drift.
    fn item<const N: usize>(&mut self, only: Only<N>, picked: &mut Picked<'de, N>) -> Option<()> {
        if self.opens(b'{', b'}')? {
            return Some(());
        }
        let mut ordinal = 0;
        loop {
            let (key, at) = match self.same_key_as_before(ordinal) {
                Some(known) => known,
                None => {
                    let key = self.string()?;
                    let at = only.position(key);
                    if let Some(remembered) = self.keys_before.get_mut(ordinal) {
                        *remembered = Some((key, at));
                    }
                    (key, at)
                }
            };
            self.eat(b':')?;
            let value = match self.same_value_as_before(ordinal) {
                Some(value) => value,
                None => {
                    self.skip_whitespace();
                    let start = self.at;
                    let value = self.scalar()?;
                    if let Some(remembered) = self.values_before.get_mut(ordinal) {
                        *remembered = Some((&self.bytes[start..self.at], value.clone()));
                    }
                    value
                }
            };
            match at {
                Some(at) => picked.slots[at] = value.into_slot(),
                None => picked.others.push(Cow::Borrowed(key)),
            }
            ordinal += 1;
            if self.closes(b'}')? {
                return Some(());
            }
        }
    }

    /// The value at the cursor when it is written as the item before wrote its value at
    /// this place (an odds page repeats its track, day, race and pool in every row): the
    /// bytes are compared instead of read again; `1` is not taken for the start of `12`.
    #[inline(always)]
    fn same_value_as_before(&mut self, ordinal: usize) -> Option<Scalar<'de>> {
        self.skip_whitespace();
        let (raw, value) = self.values_before.get(ordinal)?.as_ref()?;
        let end = self.at + raw.len();
        // A number or word ends where a value may end; a string ends at its own quote.
        let whole = raw.last() == Some(&b'"')
            || matches!(self.bytes.get(end), Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
        if whole && self.bytes.get(self.at..end).is_some_and(|here| same_bytes(here, raw)) {
            let value = value.clone();
            self.at = end;
            return Some(value);
        }
        None
    }

    /// The key at the cursor and its slot when it is the key the item before had at this
    /// place, which it nearly always is: the items of a page write their keys in one order.
    /// The bytes between the quotes are compared with that key (a plain string, so these
    /// are one too), instead of being scanned and looked up again.
    #[inline(always)]
    fn same_key_as_before(&mut self, ordinal: usize) -> Option<(&'de str, Option<usize>)> {
        let (key, at) = (*self.keys_before.get(ordinal)?)?;
        self.peek()?;
        let (open, close) = (self.at, self.at + 1 + key.len());
        let quoted = self.bytes.get(open) == Some(&b'"') && self.bytes.get(close) == Some(&b'"');
        if quoted && same_bytes(&self.bytes[open + 1..close], key.as_bytes()) {
            self.at = close + 1;
            return Some((key, at));
        }
        None
    }
}
