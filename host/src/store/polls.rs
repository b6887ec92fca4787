//! `odds_polls` (migrations/0005): a poll's selections are a 2-D `smallint[]`, which sqlx
//! neither decodes nor encodes (its `Vec<T>` takes one-dimensional arrays only), so
//! [`Selections`] reads and writes PostgreSQL's binary array format itself, from and to one
//! flat buffer and the pool's width.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// `smallint`'s type OID, in an array's header.
const INT2_OID: i32 = 21;

/// One `odds_polls` row: a race's pool at one capture.
///
/// ```sql
/// SELECT race_number, pool, captured_at, selections, prices FROM odds_polls
/// WHERE track = $1 AND race_date = $2
/// ```
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OddsPoll {
    pub race_number: i16,
    pub pool: String,
    pub captured_at: DateTime<Utc>,
    pub selections: Selections,
    /// `prices[i]` is the price of `selections.get(i)`; `None` is the source's display cap.
    pub prices: Vec<Option<f64>>,
}

/// The selections of one poll row: `len()` selections of `width()` runner numbers each, stored
/// flat in row order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selections {
    width: usize,
    runners: Vec<i16>,
}

impl Selections {
    /// Runner numbers per selection (1–3); 0 when there is no selection.
    pub fn width(&self) -> usize {
        self.width
    }

    /// How many selections.
    pub fn len(&self) -> usize {
        self.runners.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.runners.is_empty()
    }

    /// Selection `i` (from 0), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[i16]> {
        self.runners.get(i * self.width..(i + 1) * self.width).filter(|_| self.width > 0)
    }

    /// The selections in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[i16]> + '_ {
        self.runners.chunks_exact(self.width.max(1))
    }

    /// Every runner number, selection after selection.
    pub fn runners(&self) -> &[i16] {
        &self.runners
    }

    /// No selections yet, each of `width` runners.
    pub(crate) fn with_width(width: usize, capacity: usize) -> Self {
        Selections { width, runners: Vec::with_capacity(capacity * width) }
    }

    /// Appends a selection of [`width()`](Self::width) runners.
    pub(crate) fn push(&mut self, selection: &[u8]) {
        debug_assert_eq!(selection.len(), self.width, "a selection of another width");
        self.runners.extend(selection.iter().map(|n| i16::from(*n)));
    }

    /// Appends a selection as read back from the database (see [`get`](Self::get)).
    pub(crate) fn push_stored(&mut self, selection: &[i16]) {
        debug_assert_eq!(selection.len(), self.width, "a selection of another width");
        self.runners.extend_from_slice(selection);
    }

    /// Parses the binary array format (`array_send`): ndim, has-nulls flag, element type, then
    /// (length, lower bound) per dimension, then each element as a length and its bytes.
    fn from_binary(mut buf: &[u8]) -> Result<Self, BoxDynError> {
        let ndim = take_i32(&mut buf)?;
        let _has_nulls = take_i32(&mut buf)?;
        let _element_oid = take_i32(&mut buf)?;
        let mut dims = [1usize; 2];
        match ndim {
            0 => return Ok(Selections::default()),
            1 | 2 => {}
            n => return Err(format!("selections: {n}-dimensional array, expected 2").into()),
        }
        for dim in dims.iter_mut().take(ndim as usize) {
            let len = take_i32(&mut buf)?;
            let _lower = take_i32(&mut buf)?;
            *dim = usize::try_from(len).map_err(|_| format!("selections: dimension length {len}"))?;
        }
        // A 1-D array is a list of single runners.
        let (rows, width) = if ndim == 1 { (dims[0], 1) } else { (dims[0], dims[1]) };
        let n = rows * width;
        let mut runners = Vec::with_capacity(n);
        for _ in 0..n {
            match take_i32(&mut buf)? {
                2 => {
                    let (v, rest) = buf.split_at_checked(2).ok_or("selections: truncated element")?;
                    runners.push(i16::from_be_bytes([v[0], v[1]]));
                    buf = rest;
                }
                -1 => return Err("selections: NULL runner number".into()),
                len => return Err(format!("selections: element of {len} bytes, expected a smallint").into()),
            }
        }
        Ok(Selections { width, runners })
    }

    /// Parses the text form, e.g. `{{1,2},{1,3}}` (a simple-protocol query returns text).
    fn from_text(s: &str) -> Result<Self, BoxDynError> {
        let inner = s.trim().strip_prefix('{').and_then(|s| s.strip_suffix('}')).ok_or("selections: not an array")?;
        if inner.is_empty() {
            return Ok(Selections::default());
        }
        let rows: Vec<&str> = if inner.starts_with('{') {
            let inner = inner.strip_prefix('{').and_then(|s| s.strip_suffix('}')).ok_or("selections: bad array")?;
            inner.split("},{").collect()
        } else {
            inner.split(',').collect()
        };
        let mut width = 0;
        let mut runners = Vec::new();
        for row in &rows {
            let before = runners.len();
            for n in row.split(',') {
                runners.push(n.trim().parse::<i16>().map_err(|e| format!("selections: {n:?}: {e}"))?);
            }
            let w = runners.len() - before;
            if width != 0 && w != width {
                return Err("selections: sub-arrays of different lengths".into());
            }
            width = w;
        }
        Ok(Selections { width, runners })
    }
}

fn take_i32(buf: &mut &[u8]) -> Result<i32, BoxDynError> {
    let (v, rest) = buf.split_first_chunk::<4>().ok_or("selections: truncated array")?;
    *buf = rest;
    Ok(i32::from_be_bytes(*v))
}

impl Type<Postgres> for Selections {
    fn type_info() -> PgTypeInfo {
        <Vec<i16> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Vec<i16> as Type<Postgres>>::compatible(ty)
    }
}

/// As a 2-D array in the binary format [`from_binary`](Selections::from_binary) reads (the
/// server's `array_recv`): bound this way, the selections cost the server no text parsing.
impl Encode<'_, Postgres> for Selections {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let too_long = |n: usize| format!("selections: {n} is too long for a PostgreSQL array");
        let rows = i32::try_from(self.len()).map_err(|_| too_long(self.len()))?;
        let width = i32::try_from(self.width).map_err(|_| too_long(self.width))?;
        let header: &[i32] = if self.is_empty() { &[0, 0, INT2_OID] } else { &[2, 0, INT2_OID, rows, 1, width, 1] };
        buf.reserve(header.len() * 4 + self.runners.len() * 6);
        for v in header {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        for n in &self.runners {
            buf.extend_from_slice(&2i32.to_be_bytes());
            buf.extend_from_slice(&n.to_be_bytes());
        }
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Postgres> for Selections {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => Selections::from_binary(value.as_bytes()?),
            PgValueFormat::Text => Selections::from_text(value.as_str()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Selections;

    #[test]
    fn text_forms() {
        let s = Selections::from_text("{{1,2},{1,3}}").expect("2-D");
        assert_eq!((s.width(), s.len()), (2, 2));
        assert_eq!(s.iter().collect::<Vec<_>>(), [&[1, 2][..], &[1, 3][..]]);
        assert_eq!(s.get(1), Some(&[1, 3][..]));
        assert_eq!(s.get(2), None);
        let s = Selections::from_text("{{4},{5},{6}}").expect("width 1");
        assert_eq!((s.width(), s.len(), s.runners()), (1, 3, &[4, 5, 6][..]));
        assert!(Selections::from_text("{}").expect("empty").is_empty());
        assert!(Selections::from_text("{{1,2},{3}}").is_err());
    }

    #[test]
    fn binary_form() {
        // {{1,2},{3,4}}: ndim 2, no nulls, int2 (oid 21), dims (2,1) (2,1), four elements.
        let mut buf = vec![];
        for v in [2, 0, 21, 2, 1, 2, 1] {
            buf.extend_from_slice(&i32::to_be_bytes(v));
        }
        for n in [1i16, 2, 3, 4] {
            buf.extend_from_slice(&2i32.to_be_bytes());
            buf.extend_from_slice(&n.to_be_bytes());
        }
        let s = Selections::from_binary(&buf).expect("decodes");
        assert_eq!((s.width(), s.len(), s.runners()), (2, 2, &[1, 2, 3, 4][..]));
        assert!(Selections::from_binary(&buf[..buf.len() - 1]).is_err(), "truncated");
    }

    #[test]
    fn encodes_what_it_decodes() {
        use sqlx::Encode;
        use sqlx::postgres::PgArgumentBuffer;
        for (width, selections) in [(1, vec![&[3u8][..], &[7]]), (3, vec![&[1, 2, 3], &[3, 2, 1]]), (2, vec![])] {
            let mut s = Selections::with_width(width, selections.len());
            for sel in &selections {
                s.push(sel);
            }
            let mut buf = PgArgumentBuffer::default();
            let _ = Encode::<sqlx::Postgres>::encode_by_ref(&s, &mut buf).expect("encodes");
            let back = Selections::from_binary(&buf).expect("decodes");
            let expected: Vec<Vec<i16>> =
                selections.iter().map(|s| s.iter().map(|n| i16::from(*n)).collect()).collect();
            assert_eq!(back.iter().map(<[i16]>::to_vec).collect::<Vec<_>>(), expected, "width {width}");
            if !selections.is_empty() {
                assert_eq!(back, s);
            }
        }
    }
}
