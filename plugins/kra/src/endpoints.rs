//! The six KRA services the plugin calls, their quota buckets, and how a request to one is
//! built (docs/sources.md "KRA").

use racelab_plugin_sdk::HttpRequest;
use racelab_plugin_sdk::calendar::yyyymmdd;

use crate::scope::Scope;

/// One data.go.kr service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The quota bucket (data.go.kr counts per dataset per key per day).
    pub dataset: &'static str,
    pub path: &'static str,
    /// Requests per KST day on a development key (dossier §1.4: 10,000 is the common value;
    /// API301 is the exception at about 1,000).
    pub daily_quota: u32,
}

/// 경주계획표: the races of a day (API72_2).
pub const RACE_PLAN: Endpoint =
    Endpoint { dataset: "API72_2", path: "/B551015/API72_2/racePlan_2", daily_quota: 10_000 };

/// 출전표: the runners of a race, or of a day without `rc_no` (API26_2).
pub const ENTRY_SHEET: Endpoint =
    Endpoint { dataset: "API26_2", path: "/B551015/API26_2/entrySheet_2", daily_quota: 10_000 };

/// 출전취소: the day's scratches (API9_1).
pub const CANCELLATIONS: Endpoint =
    Endpoint { dataset: "API9_1", path: "/B551015/API9_1/raceHorseCancelInfo_1", daily_quota: 10_000 };

/// 확정배당율 종합: every combination's odds for one pool (API301).
pub const ODDS: Endpoint =
    Endpoint { dataset: "API301", path: "/B551015/API301/Dividend_rate_total", daily_quota: 1_000 };

/// 경주성적: the finishing order with final win and place odds (API214_1).
pub const RESULTS: Endpoint =
    Endpoint { dataset: "API214_1", path: "/B551015/API214_1/RaceDetailResult_1", daily_quota: 10_000 };

/// 확정배당율 통합: the winning combinations' dividends (API160_1).
pub const DIVIDENDS: Endpoint =
    Endpoint { dataset: "API160_1", path: "/B551015/API160_1/integratedInfo_1", daily_quota: 10_000 };

/// Every endpoint, for the manifest's dataset hints.
pub const ALL: [Endpoint; 6] = [RACE_PLAN, ENTRY_SHEET, CANCELLATIONS, ODDS, RESULTS, DIVIDENDS];

impl Endpoint {
    /// The first page of this service for `scope`: JSON, `page_size` rows, the track, the day,
    /// and the race when the scope names one.
    pub fn request(&self, scope: &Scope, page_size: u32) -> HttpRequest {
        let request = HttpRequest::get(self.dataset, self.path)
            .param("_type", "json")
            .param("pageNo", "1")
            .param("numOfRows", page_size.to_string())
            .param("meet", scope.track.meet())
            .param("rc_date", yyyymmdd(&scope.date));
        match scope.race {
            Some(number) => request.param("rc_no", number.to_string()),
            None => request,
        }
    }

    /// Whether `request` was made to this service.
    pub fn answers(&self, request: &HttpRequest) -> bool {
        request.path == self.path
    }
}
