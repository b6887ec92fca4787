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

use racelab_plugin_sdk::boards::Boards;
use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::{Field, Lookup, Only, Row};
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{HttpRequest, OddsQuery, Page, Pool, Quote, SourceError};

use crate::endpoints::ODDS;
use crate::manifest::POOLS;
use crate::scope::Scope;
use crate::{selection, values};

type Result<T> = std::result::Result<T, SourceError>;

/// KRA's display cap. Prices are written with one decimal, so anything within half a
/// decimal step of it is the cap.
const CAP: f64 = 9999.9;
const CAP_TOLERANCE: f64 = 0.05;

/// The fields an odds row is read for: the scope's, the pool, the legs and the price. Only
/// these are kept of each of a page's up to thousands of rows.
pub const FIELDS: Only<8> = Only(&["meet", "rcDate", "rcNo", "pool", "odds", "chulNo", "chulNo2", "chulNo3"]);

/// Items of an odds page whose fields are compared with the known shape (drift): the rows of
/// one page are alike, and judging all of a 1,400-row page would cost a tenth of its parse.
pub const DRIFT_SAMPLE: usize = 64;

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
    let mut boards = Boards::default();
    // Rows come in runs of one pool: a row that writes `pool` as the row before did names
    // the same pool.
    let mut last_pool: Option<(Field, Option<Pool>)> = None;
    for row in rows {
        let said = row.field("pool");
        let named = match last_pool {
            Some((before, pool)) if before == said => pool,
            _ => {
                let pool = selection::pool(row)?;
                last_pool = Some((said, pool));
                pool
            }
        };
        let pool = match (named, asked) {
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
        boards.push(&query.race.key, pool, &selection, quote);
    }
    Ok(Page::new(boards.into_records().collect(), next_page(request, envelope).into_iter().collect()))
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
    use crate::tracks::Track;
    use racelab_plugin_sdk::envelope;
    use racelab_plugin_sdk::{Date, HttpResponse, RaceKey, RaceRef};
    use serde_json::{Value, json};

    const FIXTURES: [&str; 5] = [
        "Dividend_rate_total_WIN.json",
        "Dividend_rate_total_TRI_capped.json",
        "Dividend_rate_total_QPL_korean_names.json",
        "Dividend_rate_total_empty.json",
        "Dividend_rate_total_all_pools.json",
    ];

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kra").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// All pools of the race the page's first row is about (any race for an empty page).
    fn query_for(page: &Value) -> OddsQuery {
        let first = &page["response"]["body"]["items"]["item"][0];
        let track = first["meet"].as_str().and_then(Track::from_meet).unwrap_or(Track::Seoul);
        let day = first["rcDate"].as_u64().unwrap_or(20260103);
        let date = Date { year: (day / 10_000) as u16, month: (day / 100 % 100) as u8, day: (day % 100) as u8 };
        let key = RaceKey { track: track.code().to_string(), date, number: first["rcNo"].as_u64().unwrap_or(1) as u8 };
        OddsQuery { race: RaceRef { key, meeting: None }, pools: crate::manifest::POOLS.to_vec() }
    }

    /// The page read into maps of every field and read into [`FIELDS`] (by serde_json, and by
    /// the SDK's quick reader where it can) gives the same answer.
    fn same_answer(query: &OddsQuery, request: &HttpRequest, page: &Value) {
        let response = HttpResponse { status: 200, headers: vec![], body: page.to_string().into_bytes() };
        let every_field = envelope::read(&response).and_then(|e| parse(query, request, &e));
        let odds_fields = envelope::read_with(&response, FIELDS).and_then(|e| parse(query, request, &e));
        let quick = envelope::read_only(&response, FIELDS).and_then(|e| parse(query, request, &e));
        assert_eq!(every_field, odds_fields, "{}", racelab_plugin_sdk::fields::clip(&page.to_string(), 300));
        assert_eq!(every_field, quick, "{}", racelab_plugin_sdk::fields::clip(&page.to_string(), 300));
    }

    #[test]
    fn reading_only_the_odds_fields_gives_the_same_answers() {
        let unfiltered = HttpRequest::get("API301", "/B551015/API301/Dividend_rate_total");
        let swaps = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(3),
            json!(256),
            json!(1e308),
            json!(0.5),
            json!(""),
            json!("-"),
            json!(" 3 "),
            json!("03"),
            json!("9999.9"),
            json!("TRI"),
            json!("삼쌍승식"),
            json!("경마"),
            json!("제주"),
            json!(20250524),
            json!("a\"b"),
            json!([1]),
            json!({"a": 1}),
        ];
        for name in FIXTURES {
            let page = fixture(name);
            let query = query_for(&page);
            same_answer(&query, &unfiltered, &page);
            for pool in crate::manifest::POOLS {
                same_answer(&query, &unfiltered.clone().param("pool", pool.code()), &page);
            }
            if name.ends_with("all_pools.json") {
                continue;
            }
            // One field of one of the first rows replaced, or removed.
            for row in 0..3 {
                for key in FIELDS.0 {
                    let mut changed = page.clone();
                    let Some(Value::Object(item)) = changed.pointer_mut(&format!("/response/body/items/item/{row}"))
                    else {
                        continue;
                    };
                    item.remove(*key);
                    same_answer(&query, &unfiltered, &changed);
                    for swap in &swaps {
                        if let Some(Value::Object(item)) =
                            changed.pointer_mut(&format!("/response/body/items/item/{row}"))
                        {
                            item.insert(key.to_string(), swap.clone());
                        }
                        same_answer(&query, &unfiltered, &changed);
                    }
                }
            }
        }
    }

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
