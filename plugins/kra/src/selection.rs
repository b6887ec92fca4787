//! The runners an odds or dividend row names: `chulNo`, `chulNo2`, `chulNo3`, unused legs `0`
//! (dossier §2.4), put in the pool's canonical order.

use racelab_plugin_sdk::fields::{Lookup, Row};
use racelab_plugin_sdk::{Pool, SourceError};

use crate::values;

const LEGS: [&str; 3] = ["chulNo", "chulNo2", "chulNo3"];

/// The pool a row names in `pool`, as a code (`TRI`) or a Korean name (`삼쌍승식`, `삼쌍`).
pub fn pool(row: &Row<impl Lookup>) -> Result<Option<Pool>, SourceError> {
    match values::label(row, "pool")? {
        None => Ok(None),
        Some(name) => Pool::parse(&name).map(Some).ok_or_else(|| row.missing("pool", "a pool code or name")),
    }
}

/// The runners of one selection, held in place (a page of odds reads one per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legs {
    runners: [u8; 3],
    len: usize,
}

impl std::ops::Deref for Legs {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.runners[..self.len]
    }
}

/// The selection of `pool` a row names: exactly `pool.legs()` distinct runners, unused legs
/// empty or `0`; unordered pools ascending, ordered ones as written.
pub fn read(row: &Row<impl Lookup>, pool: Pool) -> Result<Legs, SourceError> {
    let wanted = pool.legs();
    let names = || format!("{} names {wanted} runner{}", pool.code(), if wanted == 1 { "" } else { "s" });
    let mut legs = Legs { runners: [0; 3], len: 0 };
    for (i, key) in LEGS.iter().enumerate() {
        let leg = values::positive::<u8>(row, key)?;
        match (i < wanted, leg) {
            (true, Some(n)) if legs.contains(&n) => {
                return Err(row.missing(key, &format!("a runner not already in the {} selection", pool.code())));
            }
            (true, Some(n)) => {
                legs.runners[legs.len] = n;
                legs.len += 1;
            }
            (true, None) => return Err(row.missing(key, &format!("a saddle number ({})", names()))),
            (false, Some(_)) => return Err(row.missing(key, &format!("0 ({})", names()))),
            (false, None) => {}
        }
    }
    pool.order(&mut legs.runners[..legs.len]);
    Ok(legs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn row(v: Value) -> Row {
        match v {
            Value::Object(map) => Row::new(2, map),
            _ => unreachable!("test rows are objects"),
        }
    }

    fn malformed(r: Result<Legs, SourceError>) -> String {
        match r {
            Err(SourceError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn legs_per_pool_in_canonical_order() {
        let r = row(json!({"chulNo": 7, "chulNo2": 2, "chulNo3": 5}));
        assert_eq!(read(&r, Pool::Tri).map(|l| l.to_vec()), Ok(vec![7, 2, 5]));
        assert_eq!(read(&r, Pool::Tla).map(|l| l.to_vec()), Ok(vec![2, 5, 7]));
        let two = row(json!({"chulNo": 7, "chulNo2": 2, "chulNo3": 0}));
        assert_eq!(read(&two, Pool::Exa).map(|l| l.to_vec()), Ok(vec![7, 2]));
        assert_eq!(read(&two, Pool::Qnl).map(|l| l.to_vec()), Ok(vec![2, 7]));
        assert_eq!(read(&two, Pool::Qpl).map(|l| l.to_vec()), Ok(vec![2, 7]));
        let one = row(json!({"chulNo": "11", "chulNo2": 0, "chulNo3": "0"}));
        assert_eq!(read(&one, Pool::Win).map(|l| l.to_vec()), Ok(vec![11]));
        assert_eq!(
            read(&row(json!({"chulNo": 3})), Pool::Plc).map(|l| l.to_vec()),
            Ok(vec![3]),
            "unused legs may be absent"
        );
    }

    #[test]
    fn legs_that_do_not_fit_the_pool() {
        assert!(
            malformed(read(&row(json!({"chulNo": 7, "chulNo2": 0})), Pool::Qnl))
                .contains("`chulNo2` should be a saddle number (QNL names 2 runners)")
        );
        assert!(
            malformed(read(&row(json!({"chulNo": 7, "chulNo2": 2})), Pool::Win))
                .contains("`chulNo2` should be 0 (WIN names 1 runner)")
        );
        assert!(
            malformed(read(&row(json!({"chulNo": 4, "chulNo2": 4})), Pool::Exa))
                .contains("not already in the EXA selection")
        );
        assert!(malformed(read(&row(json!({"chulNo": -1})), Pool::Win)).contains("`chulNo`"));
    }

    #[test]
    fn pools_by_code_or_korean_name() {
        assert_eq!(pool(&row(json!({"pool": "TRI"}))), Ok(Some(Pool::Tri)));
        assert_eq!(pool(&row(json!({"pool": "복연승식"}))), Ok(Some(Pool::Qpl)));
        assert_eq!(pool(&row(json!({}))), Ok(None));
        assert!(matches!(pool(&row(json!({"pool": "경마"}))), Err(SourceError::Malformed(m)) if m.contains("`pool`")));
    }
}
