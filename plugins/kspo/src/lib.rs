//! The KSPO source plugin: cycle racing (경륜) at 광명, track `gwangmyeong`, and boat racing
//! (경정) at 미사리, track `misari`, from the data.go.kr services of KSPO's racing HQ
//! (`/B551014`). Wire formats: `docs/sources.md` (KSPO); facts: the API dossier §3.
//!
//! | module | owns |
//! |---|---|
//! | (root) | the manifest; `plan` and `parse` dispatch by track, operation and service |
//! | [`tracks`] | the two venues: track codes, the venue labels KSPO writes |
//! | [`api`] | the seven services: paths, datasets, the requests sent |
//! | [`meeting`] | the `YYYY/WW/D` meeting tag (year, 회차, 일차) on race records |
//! | [`rounds`] | finding the cycle round that holds a date: guess, then step |
//! | [`cycle`] | the cycle card: races, entries, the round and day of a race |
//! | [`boat`] | the boat race doc and card: races, entries, the round and day of a race |
//! | [`results`] | result and rank services of both sports: finishing order, dividends |
//! | [`marks`] | circled numbers and dividend strings (`(2-7-5)3.4`, `①-②1.9`) |
//! | [`names`] | racer names through KSPO's padding |
//! | [`rows`] | reading numbers and dates of one row, and keeping other races out |
//!
//! Requests per operation (the host fetches every `next` and calls `parse` again):
//!
//! | op | `gwangmyeong` | `misari` |
//! |---|---|---|
//! | schedule | card of the guessed round, then neighbouring rounds | race doc of the date |
//! | entries | card of the tagged round (untagged: as schedule) | card of the race (untagged: race doc first) |
//! | results | result + rank (untagged: card search first) | result + rank (untagged: race doc first) |
//! | odds | unsupported: KSPO publishes no odds (dossier §4) | same |

pub mod api;
pub mod boat;
pub mod cycle;
pub mod marks;
pub mod meeting;
pub mod names;
pub mod results;
pub mod rounds;
pub mod rows;
pub mod tracks;

use racelab_plugin_sdk::envelope;
use racelab_plugin_sdk::{
    ConfigKey, DatasetHint, Date, HttpRequest, HttpResponse, OddsTiming, Operation, OperationKind, Page,
    PluginManifest, Pool, RaceRef, Source, SourceError,
};

use crate::api::Service;
use crate::tracks::Track;

/// The daily quota of a development key, per dataset (dossier §1.4; the host's config can
/// override it).
const DAILY_QUOTA: u32 = 10_000;
/// Requests per second: KSPO documents no limit; clients that run for months pace at about
/// 0.12–0.15 s (dossier §1.4), so stay below that.
const PER_SECOND: u32 = 5;

/// The plugin.
pub struct Kspo;

impl Source for Kspo {
    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "kspo".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            tracks: Track::ALL.iter().map(|t| t.code().to_string()).collect(),
            operations: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Results],
            // KSPO publishes no odds for any pool; these are the pools it pays dividends on.
            odds_pools: Vec::new(),
            dividend_pools: vec![Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Tla, Pool::Tri, Pool::Xla],
            odds_timing: OddsTiming::AfterRace,
            credential_param: Some("serviceKey".to_string()),
            // The host's `history` key: every operation answers for past days too (cards and
            // results are asked by year and round, not by "today").
            config: vec![ConfigKey {
                name: "history".to_string(),
                description: "Operations the host may ask for past days (backfill).".to_string(),
                default_value: Some("schedule,entries,results".to_string()),
            }],
            datasets: Service::ALL
                .iter()
                .map(|s| DatasetHint {
                    dataset: s.dataset().to_string(),
                    daily_quota: Some(DAILY_QUOTA),
                    per_second: Some(PER_SECOND),
                })
                .collect(),
        }
    }

    fn plan(op: Operation, _config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        match &op {
            Operation::Schedule(day) => {
                let date = valid(&day.date)?;
                Ok(match Track::from_code(&day.track)? {
                    Track::Gwangmyeong => cycle::plan_schedule(&date),
                    Track::Misari => boat::plan_schedule(&date),
                })
            }
            Operation::Entries(race) => match race_track(race)? {
                Track::Gwangmyeong => cycle::plan_entries(race),
                Track::Misari => boat::plan_entries(race),
            },
            Operation::Results(race) => match race_track(race)? {
                Track::Gwangmyeong => cycle::plan_results(race),
                Track::Misari => boat::plan_results(race),
            },
            Operation::Odds(_) => Err(no_odds()),
        }
    }

    fn parse(op: Operation, request: HttpRequest, response: HttpResponse) -> Result<Page, SourceError> {
        let track = match &op {
            Operation::Schedule(day) => valid(&day.date).and(Track::from_code(&day.track))?,
            Operation::Entries(race) | Operation::Results(race) => race_track(race)?,
            Operation::Odds(_) => return Err(no_odds()),
        };
        let service = Service::of(&request).ok_or_else(|| {
            SourceError::BadRequest(format!(
                "parse was handed a response to {:?}, which the kspo plugin never asks",
                request.path
            ))
        })?;
        if service.track() != track {
            return Err(not_for(&op, service));
        }
        let envelope = envelope::read(&response)?;
        let page = match (service, &op) {
            (Service::CycleCard, _) => cycle::parse_card(&op, &request, &envelope),
            (Service::BoatDoc, _) => boat::parse_doc(&op, &request, &envelope),
            (Service::BoatCard, _) => boat::parse_card(&op, &request, &envelope),
            (Service::CycleResult | Service::BoatResult, Operation::Results(race)) => {
                results::parse_result(track, &race.key, &request, &envelope)
            }
            (Service::CycleRank | Service::BoatRank, Operation::Results(race)) => {
                results::parse_rank(track, &race.key, &request, &envelope)
            }
            _ => Err(not_for(&op, service)),
        };
        page.map(|page| page.with_drift(service.shape().drift(&envelope.items))).map_err(|e| match e {
            SourceError::Malformed(detail) => SourceError::Malformed(format!("{}: {detail}", service.name())),
            other => other,
        })
    }
}

racelab_plugin_sdk::export_source!(Kspo);

// Fixtures the registry parses before a version may become active (tests/samples.rs).
racelab_plugin_sdk::bundle_samples!(include_bytes!("../samples.json"));

/// The answer to every odds question.
pub(crate) fn no_odds() -> SourceError {
    SourceError::Unsupported(
        "KSPO publishes no odds, before or after a race (only winning dividends, read by `results`)".to_string(),
    )
}

/// A response handed to `parse` with an operation its service does not answer.
pub(crate) fn not_for(op: &Operation, service: Service) -> SourceError {
    let what = match op {
        Operation::Schedule(day) => format!("schedule of {} on {}", day.track, day.date),
        Operation::Entries(race) => {
            format!("entries of {} race {} on {}", race.key.track, race.key.number, race.key.date)
        }
        Operation::Results(race) => {
            format!("results of {} race {} on {}", race.key.track, race.key.number, race.key.date)
        }
        Operation::Odds(_) => "odds".to_string(),
    };
    SourceError::BadRequest(format!(
        "{} does not answer the {what}: the kspo plugin did not plan this request",
        service.name()
    ))
}

fn race_track(race: &RaceRef) -> Result<Track, SourceError> {
    valid(&race.key.date)?;
    if race.key.number == 0 {
        return Err(SourceError::BadRequest(format!("race number 0 on {}: races are numbered from 1", race.key.date)));
    }
    Track::from_code(&race.key.track)
}

fn valid(date: &Date) -> Result<Date, SourceError> {
    Date::new(date.year, date.month, date.day).ok_or_else(|| {
        SourceError::BadRequest(format!(
            "{}-{}-{} is not a calendar date between 1900 and 2999",
            date.year, date.month, date.day
        ))
    })
}
