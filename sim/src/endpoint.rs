//! The served paths, their datasets (the unit of quota), and dispatch to the handlers.

use chrono::{DateTime, FixedOffset};

use crate::calendar::Calendar;
use crate::odds::OddsMode;
use crate::query::Query;
use crate::rows::Rows;
use crate::{kra, kra_results, kspo_boat, kspo_cycle};

/// Which gateway conventions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Org {
    Kra,
    Kspo,
}

impl Org {
    /// From the path's organisation segment.
    pub fn of_path(path: &str) -> Option<Org> {
        if path.starts_with("/B551015/") {
            Some(Org::Kra)
        } else if path.starts_with("/B551014/") {
            Some(Org::Kspo)
        } else {
            None
        }
    }

    /// The parameter that asks for JSON.
    pub fn format_param(self) -> &'static str {
        match self {
            Org::Kra => "_type",
            Org::Kspo => "resultType",
        }
    }

    /// Accepted spellings of the key parameter, in order of preference.
    pub fn key_params(self) -> &'static [&'static str] {
        match self {
            Org::Kra => &["serviceKey", "ServiceKey"],
            Org::Kspo => &["serviceKey"],
        }
    }

    /// KSPO refuses more than 1000 rows per request (code 336).
    pub fn max_rows(self) -> Option<u32> {
        match self {
            Org::Kra => None,
            Org::Kspo => Some(1000),
        }
    }
}

/// The operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    KraPlan,
    KraEntries,
    KraCancel,
    KraOdds,
    KraResult,
    KraDividends,
    CycleCard,
    CycleResult,
    CycleRank,
    CyclePayoff,
    BoatDoc,
    BoatCard,
    BoatResult,
    BoatRank,
    BoatPayoff,
}

/// A served path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub path: &'static str,
    /// The data.go.kr dataset: quotas are counted per key per dataset.
    pub dataset: &'static str,
    pub op: Op,
    pub org: Org,
}

const fn kra(path: &'static str, dataset: &'static str, op: Op) -> Endpoint {
    Endpoint { path, dataset, op, org: Org::Kra }
}

const fn kspo(path: &'static str, dataset: &'static str, op: Op) -> Endpoint {
    Endpoint { path, dataset, op, org: Org::Kspo }
}

/// Every endpoint of docs/sources.md.
pub(crate) const ENDPOINTS: [Endpoint; 15] = [
    kra("/B551015/API72_2/racePlan_2", "API72_2", Op::KraPlan),
    kra("/B551015/API26_2/entrySheet_2", "API26_2", Op::KraEntries),
    kra("/B551015/API9_1/raceHorseCancelInfo_1", "API9_1", Op::KraCancel),
    kra("/B551015/API301/Dividend_rate_total", "API301", Op::KraOdds),
    kra("/B551015/API214_1/RaceDetailResult_1", "API214_1", Op::KraResult),
    kra("/B551015/API160_1/integratedInfo_1", "API160_1", Op::KraDividends),
    kspo("/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I", "15107830", Op::CycleCard),
    kspo("/B551014/SRVC_TODZ_CRA_RACE_RESULT/TODZ_API_CRA_RACE_RESULT", "15107816", Op::CycleResult),
    kspo("/B551014/SRVC_CRA_RACE_RANK/TODZ_CRA_RACE_RANK", "15143989", Op::CycleRank),
    kspo("/B551014/SRVC_OD_API_CRA_PAYOFF/TODZ_API_CRA_PAYOFF_I", "15107845", Op::CyclePayoff),
    kspo("/B551014/SRVC_OD_API_VWEB_MBR_RACE_DOC/TODZ_API_VWEB_MBR_RACE_DOC_I", "15107797", Op::BoatDoc),
    kspo("/B551014/SRVC_OD_API_VWEB_MBR_RACE_INFO/TODZ_API_VWEB_MBR_RACE_I", "15107808", Op::BoatCard),
    kspo("/B551014/SRVC_OD_API_MBR_RACE_RESULT/TODZ_API_MBR_RACE_RESULT_I", "15107847", Op::BoatResult),
    kspo("/B551014/SRVC_MRA_RACE_RANK/TODZ_MRA_RACE_RANK", "15143984", Op::BoatRank),
    kspo("/B551014/SRVC_OD_API_MBR_PAYOFF/TODZ_API_MBR_PAYOFF_I", "15107811", Op::BoatPayoff),
];

/// The endpoint at exactly this path (operation names are case-sensitive, as on KSPO).
pub(crate) fn find(path: &str) -> Option<&'static Endpoint> {
    ENDPOINTS.iter().find(|e| e.path == path)
}

/// What a handler sees of the request.
pub(crate) struct Ctx<'a> {
    pub calendar: &'a Calendar,
    pub now: DateTime<FixedOffset>,
    pub odds: OddsMode,
    pub query: &'a Query,
}

/// The rows an operation answers, before paging.
pub(crate) fn rows<'a>(op: Op, ctx: &'a Ctx<'a>) -> Rows<'a> {
    match op {
        Op::KraPlan => kra::plan(ctx),
        Op::KraEntries => kra::entries(ctx),
        Op::KraCancel => kra::cancels(ctx),
        Op::KraOdds => kra_results::odds(ctx),
        Op::KraResult => kra_results::results(ctx),
        Op::KraDividends => kra_results::dividends(ctx),
        Op::CycleCard => kspo_cycle::card(ctx),
        Op::CycleResult => kspo_cycle::result(ctx),
        Op::CycleRank => kspo_cycle::rank(ctx),
        Op::CyclePayoff => kspo_cycle::payoff(ctx),
        Op::BoatDoc => kspo_boat::doc(ctx),
        Op::BoatCard => kspo_boat::card(ctx),
        Op::BoatResult => kspo_boat::result(ctx),
        Op::BoatRank => kspo_boat::rank(ctx),
        Op::BoatPayoff => kspo_boat::payoff(ctx),
    }
}
