//! Reading a request's query string: raw and decoded values, and service-level errors.
//!
//! The raw value matters: a double-encoded key is only visible before decoding (`%25`).

/// A service-level error answered inside the normal envelope (`header.resultCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub code: &'static str,
    pub msg: &'static str,
}

pub(crate) const INVALID_PARAMETER: ServiceError = ServiceError { code: "10", msg: "INVALID_REQUEST_PARAMETER_ERROR" };
pub(crate) const NO_SERVICE: ServiceError = ServiceError { code: "12", msg: "NO_OPENAPI_SERVICE_ERROR" };
/// KSPO's answer to `numOfRows` above 1000 (Swagger response 336).
pub(crate) const TOO_MANY_ROWS: ServiceError =
    ServiceError { code: "336", msg: "NUM_OF_ROWS_EXCEEDS_LIMIT_ERROR (numOfRows must be at most 1000)" };

/// The parsed query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// (name, raw value, decoded value) in request order.
    pairs: Vec<(String, String, String)>,
}

impl Query {
    /// Splits and decodes a raw query string (`+` is a space, `%XX` a byte, UTF-8 lossy).
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                (decode(name), value.to_owned(), decode(value))
            })
            .collect();
        Query { pairs }
    }

    /// The decoded value of the first parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|p| p.0 == name).map(|p| p.2.as_str())
    }

    /// The value of `name` as sent, before percent-decoding.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|p| p.0 == name).map(|p| p.1.as_str())
    }

    /// Whether `name` asks for JSON (`_type=json`, `resultType=json`).
    pub fn wants_json(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("json"))
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |k: usize| bytes.get(i + k).and_then(|b| hex(*b));
                match (digit(1), digit(2)) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi * 16 + lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub page_no: u32,
    pub num_of_rows: u32,
}

/// Rows per page when `numOfRows` is absent (KRA documents 10; KSPO is assumed the same).
pub(crate) const DEFAULT_ROWS: u32 = 10;

impl Paging {
    /// `pageNo` and `numOfRows` from the query; `max_rows` is KSPO's 1000-row ceiling.
    pub fn from_query(q: &Query, max_rows: Option<u32>) -> Result<Paging, ServiceError> {
        let number = |name: &str, default: u32| match q.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or(INVALID_PARAMETER),
        };
        let paging = Paging { page_no: number("pageNo", 1)?, num_of_rows: number("numOfRows", DEFAULT_ROWS)? };
        match max_rows {
            Some(max) if paging.num_of_rows > max => Err(TOO_MANY_ROWS),
            _ => Ok(paging),
        }
    }

    /// Index range of this page within `total` rows (empty past the end).
    pub fn range(self, total: usize) -> std::ops::Range<usize> {
        let rows = self.num_of_rows as usize;
        let start = (self.page_no as usize).saturating_sub(1).saturating_mul(rows).min(total);
        start..start.saturating_add(rows).min(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_keeps_the_raw_value() {
        let q = Query::parse(Some("serviceKey=ab%252Bc&meet_nm=%EA%B4%91%EB%AA%85&x=a+b&bad=%zz"));
        assert_eq!(q.raw("serviceKey"), Some("ab%252Bc"));
        assert_eq!(q.get("serviceKey"), Some("ab%2Bc"));
        assert_eq!(q.get("meet_nm"), Some("광명"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.get("bad"), Some("%zz"));
    }

    #[test]
    fn paging_defaults_limits_and_ranges() {
        let p = Paging::from_query(&Query::parse(None), None).expect("defaults");
        assert_eq!((p.page_no, p.num_of_rows), (1, 10));
        assert_eq!(p.range(11), 0..10);
        let q = Query::parse(Some("pageNo=2&numOfRows=10"));
        assert_eq!(Paging::from_query(&q, None).map(|p| p.range(11)), Ok(10..11));
        let q = Query::parse(Some("numOfRows=1001"));
        assert_eq!(Paging::from_query(&q, Some(1000)), Err(TOO_MANY_ROWS));
        let q = Query::parse(Some("pageNo=x"));
        assert_eq!(Paging::from_query(&q, None), Err(INVALID_PARAMETER));
    }
}
