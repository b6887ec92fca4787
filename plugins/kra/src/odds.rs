//! Odds: API301 `Dividend_rate_total`, one request per pool asked, every combination of the
//! starters in each (dossier §2, §2.4).
//!
//! - `odds` 9999.9 is KRA's display cap, also shown for unsold combinations: the price is
//!   unknown, so it becomes [`Quote::Capped`], never a number (§2, §7.10).
//! - `odds` 0 is a placeholder row (a non-starter): skipped (§7.8, §7.10).
//! - `pool` may be the code (`TRI`) or a Korean name (`삼쌍승식`) — docs/sources.md assumes
//!   the code, the dossier does not know (§8).
//! - A request names one pool; should the service ignore the filter and answer every pool,
//!   only the asked pool's rows are kept, so no selection is reported once per request. A
//!   request without a `pool` parameter keeps every pool the operation asks for.
//! - Before the race the real service answers `items: ""`: an empty page, not an error (§4).

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::{Lookup, Row};
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{HttpRequest, OddsQuery, OddsSnapshot, Page, Pool, Quote, Record, SourceError};

use crate::endpoints::ODDS;
use crate::manifest::POOLS;
use crate::scope::Scope;
use crate::{selection, values};

type Result<T> = std::result::Result<T, SourceError>;

/// KRA's display cap. Prices are written with one decimal, so anything within half a
/// decimal step of it is the cap.
const CAP: f64 = 9999.9;
const CAP_TOLERANCE: f64 = 0.05;

/// One request per distinct pool asked; none when no pool is asked.
pub fn requests(query: &OddsQuery, page_size: u32) -> Result<Vec<HttpRequest>> {
    let scope = Scope::race(&query.race)?;
    let mut pools: Vec<Pool> = Vec::with_capacity(query.pools.len());
    for &pool in &query.pools {
        if !POOLS.contains(&pool) {
            return Err(SourceError::Unsupported(format!(
                "kra has no {} pool: KRA sells WIN, PLC, QNL, EXA, QPL, TLA and TRI",
                pool.code()
            )));
        }
        if !pools.contains(&pool) {
            pools.push(pool);
        }
    }
    Ok(pools.into_iter().map(|pool| ODDS.request(&scope, page_size).param("pool", pool.code())).collect())
}

/// A page of `Dividend_rate_total`: one snapshot per combination of a wanted pool.
pub fn parse<S: Lookup>(query: &OddsQuery, request: &HttpRequest, envelope: &Envelope<Row<S>>) -> Result<Page> {
    let scope = Scope::race(&query.race)?;
    let asked = match request.query_value("pool") {
        None => None,
        Some(code) => Some(
            Pool::parse(code)
                .ok_or_else(|| SourceError::BadRequest(format!("the request's pool {code:?} is not a KRA pool")))?,
        ),
    };
    let rows = scope.rows(envelope, "Dividend_rate_total")?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        let pool = match (selection::pool(row)?, asked) {
            (Some(pool), _) | (None, Some(pool)) => pool,
            (None, None) => return Err(row.missing("pool", "a pool code or name")),
        };
        let wanted = match asked {
            Some(asked) => pool == asked,
            None => query.pools.contains(&pool),
        };
        if !wanted {
            continue;
        }
        let Some(quote) = quote(row)? else { continue };
        let selection = selection::read(row, pool)?;
        records.push(Record::Odds(OddsSnapshot { race: query.race.key.clone(), pool, selection, quote }));
    }
    Ok(Page { records, next: next_page(request, envelope).into_iter().collect() })
}

/// The quote a row gives; `None` for a placeholder row (`odds` 0).
fn quote(row: &Row<impl Lookup>) -> Result<Option<Quote>> {
    match values::float(row, "odds")? {
        None => Err(row.missing("odds", "a number")),
        Some(odds) if odds < 0.0 => Err(row.missing("odds", "a number not below zero")),
        Some(odds) if odds > CAP - CAP_TOLERANCE => Ok(Some(Quote::Capped)),
        Some(odds) if odds > 0.0 => Ok(Some(Quote::Price(odds))),
        Some(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn quote_of(odds: Value) -> Result<Option<Quote>> {
        let Value::Object(map) = json!({ "odds": odds }) else { unreachable!("an object") };
        quote(&Row::new(0, map))
    }

    #[test]
    fn the_cap_placeholders_and_prices() {
        assert_eq!(quote_of(json!(9999.9)), Ok(Some(Quote::Capped)));
        assert_eq!(quote_of(json!("9999.9")), Ok(Some(Quote::Capped)), "XML renders it as text");
        assert_eq!(quote_of(json!(12000)), Ok(Some(Quote::Capped)));
        assert_eq!(quote_of(json!(9999.8)), Ok(Some(Quote::Price(9999.8))));
        assert_eq!(quote_of(json!(3)), Ok(Some(Quote::Price(3.0))));
        assert_eq!(quote_of(json!(0)), Ok(None), "a non-starter's placeholder");
        assert!(matches!(quote_of(json!(-1.5)), Err(SourceError::Malformed(m)) if m.contains("not below zero")));
        assert!(
            matches!(quote_of(json!("-")), Err(SourceError::Malformed(m)) if m.contains("`odds` should be a number"))
        );
    }
}
