//! The 0.1 adapter: a component built for `racelab:source@0.1` runs on this host unchanged.
//! The host asks in its own (0.2) types; they go down to 0.1 here, and the answers come up.
//!
//! What 0.1 cannot say comes up empty: entries without jockey/trainer ids, age or sex, races
//! without a status, pages without drift. Odds come up as boards: consecutive snapshots of
//! one race and pool form one board (a plugin reports a race's quotes pool by pool), so the
//! rest of the host sees one shape. The manifest's `pools` becomes the odds pools when the
//! plugin reads odds and the dividend pools always; its `odds-timing` is the default of the
//! plugin's `odds-timing` config key, which is how 0.1 said it (docs/decisions.md).

use super::hints::ODDS_TIMING;
use super::wit::v0_1::racelab::source::types as old;
use super::wit::{
    ClockTime, ConfigKey, DatasetHint, Date, Dividend, Entry, FinishStatus, HttpRequest, HttpResponse, OddsBoard,
    OddsTiming, Operation, OperationKind, Page, PluginManifest, Pool, Quote, Race, RaceKey, RaceRef, Record, ResultRow,
    Scratch, SourceError,
};

/// The question, in 0.1 terms.
pub fn operation(op: &Operation) -> old::Operation {
    match op {
        Operation::Schedule(day) => {
            old::Operation::Schedule(old::DayRef { track: day.track.clone(), date: date(day.date) })
        }
        Operation::Entries(race) => old::Operation::Entries(race_ref(race)),
        Operation::Odds(query) => old::Operation::Odds(old::OddsQuery {
            race: race_ref(&query.race),
            pools: query.pools.iter().map(|p| pool_down(*p)).collect(),
        }),
        Operation::Results(race) => old::Operation::Results(race_ref(race)),
    }
}

/// A planned request, in 0.1 terms.
pub fn request(request: &HttpRequest) -> old::HttpRequest {
    old::HttpRequest { dataset: request.dataset.clone(), path: request.path.clone(), query: request.query.clone() }
}

/// A response, in 0.1 terms.
pub fn response(response: &HttpResponse) -> old::HttpResponse {
    old::HttpResponse { status: response.status, headers: response.headers.clone(), body: response.body.clone() }
}

/// A 0.1 request in the host's terms.
pub fn request_up(request: old::HttpRequest) -> HttpRequest {
    HttpRequest { dataset: request.dataset, path: request.path, query: request.query }
}

/// A 0.1 page in the host's terms.
pub fn page(page: old::Page) -> Page {
    let mut records: Vec<Record> = Vec::with_capacity(page.records.len());
    for record in page.records {
        match record {
            old::Record::Odds(snapshot) => odds(&mut records, snapshot),
            old::Record::Race(r) => records.push(Record::Race(Race {
                key: race_key(r.key),
                meeting: r.meeting,
                name: r.name,
                distance_m: r.distance_m,
                post_time: r.post_time.map(|t| ClockTime { hour: t.hour, minute: t.minute }),
                grade: r.grade,
                field_size: r.field_size,
                status: None,
            })),
            old::Record::Entry(e) => records.push(Record::Entry(Entry {
                race: race_key(e.race),
                number: e.number,
                runner_id: e.runner_id,
                runner_name: e.runner_name,
                jockey: e.jockey,
                jockey_id: None,
                trainer: e.trainer,
                trainer_id: None,
                weight_kg: e.weight_kg,
                rating: e.rating,
                age: None,
                sex: None,
            })),
            old::Record::Scratch(s) => {
                records.push(Record::Scratch(Scratch { race: race_key(s.race), number: s.number, reason: s.reason }))
            }
            old::Record::Result(r) => records.push(Record::Result(ResultRow {
                race: race_key(r.race),
                number: r.number,
                runner_id: r.runner_id,
                runner_name: r.runner_name,
                position: r.position,
                status: finish_status(r.status),
                time_s: r.time_s,
                margin: r.margin,
                win_odds: r.win_odds,
                place_odds: r.place_odds,
            })),
            old::Record::Dividend(d) => records.push(Record::Dividend(Dividend {
                race: race_key(d.race),
                pool: pool_up(d.pool),
                selection: d.selection,
                payout: d.payout,
            })),
        }
    }
    Page { records, next: page.next.into_iter().map(request_up).collect(), drift: Vec::new() }
}

/// Adds one 0.1 snapshot: to the board just before when it prices the same race and pool,
/// else as a new board.
fn odds(records: &mut Vec<Record>, snapshot: old::OddsSnapshot) {
    let pool = pool_up(snapshot.pool);
    let quote = match snapshot.quote {
        old::Quote::Price(p) => Quote::Price(p),
        old::Quote::Capped => Quote::Capped,
    };
    if let Some(Record::Odds(board)) = records.last_mut()
        && board.pool == pool
        && same_race(&board.race, &snapshot.race)
    {
        board.selections.extend_from_slice(&snapshot.selection);
        board.quotes.push(quote);
        return;
    }
    records.push(Record::Odds(OddsBoard {
        race: race_key(snapshot.race),
        pool,
        selections: snapshot.selection,
        quotes: vec![quote],
    }));
}

fn same_race(key: &RaceKey, old: &old::RaceKey) -> bool {
    key.track == old.track
        && key.number == old.number
        && (key.date.year, key.date.month, key.date.day) == (old.date.year, old.date.month, old.date.day)
}

/// A 0.1 manifest in the host's terms.
pub fn manifest(m: old::PluginManifest) -> PluginManifest {
    let pools: Vec<Pool> = m.pools.into_iter().map(pool_up).collect();
    let reads_odds = m.operations.contains(&old::OperationKind::Odds);
    let odds_timing = m.config.iter().find(|k| k.name == ODDS_TIMING).and_then(|k| k.default_value.as_deref()).map_or(
        OddsTiming::BeforeRace,
        |v| {
            if v.trim() == "after-race" { OddsTiming::AfterRace } else { OddsTiming::BeforeRace }
        },
    );
    PluginManifest {
        name: m.name,
        version: m.version,
        tracks: m.tracks,
        operations: m
            .operations
            .into_iter()
            .map(|k| match k {
                old::OperationKind::Schedule => OperationKind::Schedule,
                old::OperationKind::Entries => OperationKind::Entries,
                old::OperationKind::Odds => OperationKind::Odds,
                old::OperationKind::Results => OperationKind::Results,
            })
            .collect(),
        odds_pools: if reads_odds { pools.clone() } else { Vec::new() },
        dividend_pools: pools,
        odds_timing,
        credential_param: m.credential_param,
        config: m
            .config
            .into_iter()
            .map(|k| ConfigKey { name: k.name, description: k.description, default_value: k.default_value })
            .collect(),
        datasets: m
            .datasets
            .into_iter()
            .map(|d| DatasetHint { dataset: d.dataset, daily_quota: d.daily_quota, per_second: d.per_second })
            .collect(),
    }
}

/// A 0.1 error in the host's terms.
pub fn error(e: old::SourceError) -> SourceError {
    match e {
        old::SourceError::Auth(m) => SourceError::Auth(m),
        old::SourceError::QuotaExhausted(m) => SourceError::QuotaExhausted(m),
        old::SourceError::RateLimited(after) => SourceError::RateLimited(after),
        old::SourceError::BadRequest(m) => SourceError::BadRequest(m),
        old::SourceError::NoData(m) => SourceError::NoData(m),
        old::SourceError::Transient(m) => SourceError::Transient(m),
        old::SourceError::Malformed(m) => SourceError::Malformed(m),
        old::SourceError::Unsupported(m) => SourceError::Unsupported(m),
    }
}

fn date(d: Date) -> old::Date {
    old::Date { year: d.year, month: d.month, day: d.day }
}

fn race_ref(race: &RaceRef) -> old::RaceRef {
    old::RaceRef {
        key: old::RaceKey { track: race.key.track.clone(), date: date(race.key.date), number: race.key.number },
        meeting: race.meeting.clone(),
    }
}

fn race_key(key: old::RaceKey) -> RaceKey {
    RaceKey {
        track: key.track,
        date: Date { year: key.date.year, month: key.date.month, day: key.date.day },
        number: key.number,
    }
}

fn finish_status(s: old::FinishStatus) -> FinishStatus {
    match s {
        old::FinishStatus::Finished => FinishStatus::Finished,
        old::FinishStatus::Disqualified => FinishStatus::Disqualified,
        old::FinishStatus::DidNotFinish => FinishStatus::DidNotFinish,
        old::FinishStatus::ExcludedAtStart => FinishStatus::ExcludedAtStart,
        old::FinishStatus::Excluded => FinishStatus::Excluded,
        old::FinishStatus::Withdrawn => FinishStatus::Withdrawn,
        old::FinishStatus::NoContest => FinishStatus::NoContest,
        old::FinishStatus::Cancelled => FinishStatus::Cancelled,
        old::FinishStatus::Other(text) => FinishStatus::Other(text),
    }
}

fn pool_up(p: old::Pool) -> Pool {
    match p {
        old::Pool::Win => Pool::Win,
        old::Pool::Plc => Pool::Plc,
        old::Pool::Qnl => Pool::Qnl,
        old::Pool::Exa => Pool::Exa,
        old::Pool::Qpl => Pool::Qpl,
        old::Pool::Tla => Pool::Tla,
        old::Pool::Tri => Pool::Tri,
        old::Pool::Xla => Pool::Xla,
    }
}

fn pool_down(p: Pool) -> old::Pool {
    match p {
        Pool::Win => old::Pool::Win,
        Pool::Plc => old::Pool::Plc,
        Pool::Qnl => old::Pool::Qnl,
        Pool::Exa => old::Pool::Exa,
        Pool::Qpl => old::Pool::Qpl,
        Pool::Tla => old::Pool::Tla,
        Pool::Tri => old::Pool::Tri,
        Pool::Xla => old::Pool::Xla,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{DayRef, OddsQuery};

    fn old_key(number: u8) -> old::RaceKey {
        old::RaceKey { track: "seoul".into(), date: old::Date { year: 2026, month: 1, day: 3 }, number }
    }

    fn snapshot(number: u8, pool: old::Pool, selection: &[u8], quote: old::Quote) -> old::Record {
        old::Record::Odds(old::OddsSnapshot { race: old_key(number), pool, selection: selection.to_vec(), quote })
    }

    #[test]
    fn snapshots_of_one_race_and_pool_become_one_board() {
        let page = page(old::Page {
            records: vec![
                snapshot(1, old::Pool::Win, &[1], old::Quote::Price(2.5)),
                snapshot(1, old::Pool::Win, &[2], old::Quote::Capped),
                snapshot(1, old::Pool::Qnl, &[1, 2], old::Quote::Price(7.0)),
                snapshot(2, old::Pool::Qnl, &[1, 3], old::Quote::Price(9.0)),
            ],
            next: vec![old::HttpRequest { dataset: "API301".into(), path: "/x".into(), query: vec![] }],
        });
        let boards: Vec<(u8, Pool, Vec<u8>, Vec<Quote>)> = page
            .records
            .iter()
            .map(|r| match r {
                Record::Odds(b) => (b.race.number, b.pool, b.selections.clone(), b.quotes.clone()),
                other => unreachable!("only odds here: {other:?}"),
            })
            .collect();
        assert_eq!(
            boards,
            [
                (1, Pool::Win, vec![1, 2], vec![Quote::Price(2.5), Quote::Capped]),
                (1, Pool::Qnl, vec![1, 2], vec![Quote::Price(7.0)]),
                (2, Pool::Qnl, vec![1, 3], vec![Quote::Price(9.0)]),
            ]
        );
        assert_eq!(page.next[0].dataset, "API301");
        assert!(page.drift.is_empty());
    }

    #[test]
    fn a_manifest_says_its_pools_and_timing_the_new_way() {
        let m = old::PluginManifest {
            name: "kra".into(),
            version: "0.1.0".into(),
            tracks: vec!["seoul".into()],
            operations: vec![old::OperationKind::Odds, old::OperationKind::Results],
            pools: vec![old::Pool::Win, old::Pool::Tri],
            credential_param: Some("serviceKey".into()),
            config: vec![old::ConfigKey {
                name: ODDS_TIMING.into(),
                description: "when".into(),
                default_value: Some("after-race".into()),
            }],
            datasets: vec![],
        };
        let up = manifest(m.clone());
        assert_eq!(up.odds_pools, [Pool::Win, Pool::Tri]);
        assert_eq!(up.dividend_pools, [Pool::Win, Pool::Tri]);
        assert_eq!(up.odds_timing, OddsTiming::AfterRace);
        let results_only =
            manifest(old::PluginManifest { operations: vec![old::OperationKind::Results], config: vec![], ..m });
        assert!(results_only.odds_pools.is_empty());
        assert_eq!(results_only.odds_timing, OddsTiming::BeforeRace);
    }

    #[test]
    fn questions_go_down_and_errors_come_up() {
        let key = RaceKey { track: "busan".into(), date: Date { year: 2025, month: 5, day: 23 }, number: 4 };
        let op =
            Operation::Odds(OddsQuery { race: RaceRef { key, meeting: Some("m".into()) }, pools: vec![Pool::Xla] });
        let old::Operation::Odds(q) = operation(&op) else { unreachable!("odds stays odds") };
        assert_eq!((q.race.key.number, q.race.meeting.as_deref(), q.pools), (4, Some("m"), vec![old::Pool::Xla]));
        let day = Operation::Schedule(DayRef { track: "jeju".into(), date: Date { year: 2026, month: 2, day: 1 } });
        assert!(matches!(operation(&day), old::Operation::Schedule(d) if d.track == "jeju" && d.date.day == 1));
        assert_eq!(error(old::SourceError::RateLimited(Some(3))), SourceError::RateLimited(Some(3)));
        assert_eq!(error(old::SourceError::Malformed("x".into())), SourceError::Malformed("x".into()));
        let body = HttpResponse { status: 200, headers: vec![("a".into(), "b".into())], body: b"{}".to_vec() };
        assert_eq!(response(&body).body, b"{}");
    }
}
