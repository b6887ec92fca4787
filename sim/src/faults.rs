//! Injected failures: what can go wrong, at which rates, and what the client then sees.
//!
//! Each request gets a sequence number; every fault kind draws independently from a hash of
//! (seed, sequence number, kind). Rates of 0 and 1 are therefore exact, and a given request
//! order always fails the same way.

use std::str::FromStr;

use crate::rng::{self, label};

/// Default delay of a slow answer.
const DEFAULT_SLOW_MS: u64 = 3000;
const VALID_NAMES: &str = "5xx, timeout, drop, malformed, gateway, slow_ms (aliases: server_error, slow)";

/// Fault rates, each from 0 to 1, and the delay of slow answers.
///
/// When several kinds fire for one request, the first of drop, 5xx, gateway, malformed
/// applies; a slow draw delays whatever is answered, so slow + drop looks like a timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// HTTP 500, 502 or 503 with an HTML body (`5xx`).
    pub server_error: f64,
    /// The answer is delayed by `slow_ms` (`timeout`).
    pub slow: f64,
    /// The connection is closed without a response (`drop`).
    pub drop: f64,
    /// HTTP 200 with a truncated body or an HTML maintenance page (`malformed`).
    pub malformed: f64,
    /// A gateway error XML with code 01, 04, 05 or 99 and HTTP 200 (`gateway`).
    pub gateway: f64,
    /// Delay of a slow answer in milliseconds.
    pub slow_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { server_error: 0.0, slow: 0.0, drop: 0.0, malformed: 0.0, gateway: 0.0, slow_ms: DEFAULT_SLOW_MS }
    }
}

/// Why a fault spec was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    /// A name that is not a fault kind.
    #[error("unknown fault `{name}`: valid names are {VALID_NAMES}")]
    UnknownName {
        /// The name as given.
        name: String,
    },
    /// `name` without `=value`.
    #[error("fault `{name}` needs a value, like `{name}=0.1`")]
    MissingValue {
        /// The name as given.
        name: String,
    },
    /// A rate that is not a number from 0 to 1.
    #[error("fault rate `{name}={value}` must be a number from 0 to 1")]
    BadRate {
        /// The fault name.
        name: String,
        /// The value as given.
        value: String,
    },
    /// A `slow_ms` that is not a whole number.
    #[error("`slow_ms={value}` must be a whole number of milliseconds")]
    BadMillis {
        /// The value as given.
        value: String,
    },
}

impl Faults {
    /// Parses `"5xx=0.1,timeout=0.02,drop=0.01,malformed=0.01,gateway=0.01,slow_ms=3000"`.
    /// Any subset in any order; an empty spec means no faults. Unknown names are refused
    /// with the list of valid ones.
    pub fn parse(spec: &str) -> Result<Faults, FaultSpecError> {
        let mut faults = Faults::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim(), v.trim()),
                None => (part, ""),
            };
            let slot = match name {
                "5xx" | "server_error" => &mut faults.server_error,
                "timeout" | "slow" => &mut faults.slow,
                "drop" => &mut faults.drop,
                "malformed" => &mut faults.malformed,
                "gateway" => &mut faults.gateway,
                "slow_ms" => {
                    faults.slow_ms =
                        value.parse().map_err(|_| FaultSpecError::BadMillis { value: value.to_owned() })?;
                    continue;
                }
                _ => return Err(FaultSpecError::UnknownName { name: name.to_owned() }),
            };
            if value.is_empty() {
                return Err(FaultSpecError::MissingValue { name: name.to_owned() });
            }
            *slot = value
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| FaultSpecError::BadRate { name: name.to_owned(), value: value.to_owned() })?;
        }
        Ok(faults)
    }
}

impl FromStr for Faults {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Faults::parse(s)
    }
}

/// How a malformed answer is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The real body cut in the middle.
    Truncated,
    /// An HTML maintenance page instead of data.
    Html,
}

/// A fault to answer with instead of (or instead of the body of) the normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Drop,
    ServerError(u16),
    Gateway(&'static str, &'static str),
    Malformed(Malformed),
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub fault: Option<Fault>,
    pub slow: bool,
}

const GATEWAY_CODES: [(&str, &str); 4] =
    [("01", "APPLICATION_ERROR"), ("04", "HTTP_ERROR"), ("05", "SERVICETIME_OUT"), ("99", "UNKNOWN_ERROR")];

/// The fate of request number `sequence`.
pub(crate) fn decide(faults: &Faults, seed: u64, sequence: u64) -> Decision {
    let draw = |kind: u64| rng::hash(&[seed, label::FAULT, sequence, kind]);
    let hit = |kind: u64, rate: f64| rate > 0.0 && rng::unit(draw(kind)) < rate;
    // A second hash picks the variant, independent of whether the fault fired.
    let variant = |kind: u64, n: usize| (draw(kind + 100) % n as u64) as usize;
    let fault = if hit(1, faults.drop) {
        Some(Fault::Drop)
    } else if hit(2, faults.server_error) {
        Some(Fault::ServerError([500, 502, 503][variant(2, 3)]))
    } else if hit(3, faults.gateway) {
        let (code, msg) = GATEWAY_CODES[variant(3, GATEWAY_CODES.len())];
        Some(Fault::Gateway(code, msg))
    } else if hit(4, faults.malformed) {
        Some(Fault::Malformed([Malformed::Truncated, Malformed::Html][variant(4, 2)]))
    } else {
        None
    };
    Decision { fault, slow: hit(5, faults.slow) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_spec_and_aliases() {
        let f = Faults::parse("5xx=0.1, timeout=0.02,drop=0.01,malformed=0.01,gateway=0.01,slow_ms=250")
            .expect("valid spec");
        assert_eq!(
            (f.server_error, f.slow, f.drop, f.malformed, f.gateway, f.slow_ms),
            (0.1, 0.02, 0.01, 0.01, 0.01, 250)
        );
        assert_eq!(Faults::parse("slow=1,server_error=0.5").map(|f| (f.slow, f.server_error)), Ok((1.0, 0.5)));
        assert_eq!(Faults::parse(""), Ok(Faults::default()));
    }

    #[test]
    fn refuses_unknown_names_listing_the_valid_ones() {
        let err = Faults::parse("5xx=0.1,boom=0.2").expect_err("unknown name");
        assert_eq!(err, FaultSpecError::UnknownName { name: "boom".into() });
        assert!(err.to_string().contains("5xx, timeout, drop, malformed, gateway, slow_ms"));
        assert!(matches!(Faults::parse("drop=2"), Err(FaultSpecError::BadRate { .. })));
        assert!(matches!(Faults::parse("drop"), Err(FaultSpecError::MissingValue { .. })));
        assert!(matches!(Faults::parse("slow_ms=fast"), Err(FaultSpecError::BadMillis { .. })));
    }

    #[test]
    fn rates_are_honoured() {
        let f = Faults { server_error: 0.25, ..Faults::default() };
        let hits = (0..4000).filter(|i| decide(&f, 9, *i).fault.is_some()).count();
        assert!((850..1150).contains(&hits), "{hits}");
        let none = Faults::default();
        assert!((0..1000).all(|i| decide(&none, 9, i) == Decision { fault: None, slow: false }));
    }
}
