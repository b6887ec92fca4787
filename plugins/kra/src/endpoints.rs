//! The six KRA services the plugin calls, their quota buckets, and how a request to one is
//! built (docs/sources.md "KRA").

use racelab_plugin_sdk::HttpRequest;
use racelab_plugin_sdk::calendar::yyyymmdd;
use racelab_plugin_sdk::drift::Shape;

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
    /// The fields of an item this plugin knows, and those it expects (page drift).
    pub shape: Shape,
}

/// 경주계획표: the races of a day (API72_2).
pub const RACE_PLAN: Endpoint = Endpoint {
    dataset: "API72_2",
    path: "/B551015/API72_2/racePlan_2",
    daily_quota: 10_000,
    shape: Shape {
        known: &[
            "meet",
            "rcDate",
            "rcNo",
            "rcDay",
            "rcName",
            "rcDist",
            "rank",
            "budam",
            "ageCond",
            "sexCond",
            "prizeCond",
            "schStTime",
            "ilsu",
            "spRating",
            "stRating",
            "buga*",
            "chaksun*",
        ],
        expected: &["rcDate", "rcNo", "rcDist", "schStTime"],
    },
};

/// 출전표: the runners of a race, or of a day without `rc_no` (API26_2).
pub const ENTRY_SHEET: Endpoint = Endpoint {
    dataset: "API26_2",
    path: "/B551015/API26_2/entrySheet_2",
    daily_quota: 10_000,
    shape: Shape {
        known: &[
            "meet",
            "rcDate",
            "rcNo",
            "rcDay",
            "rcName",
            "rcDist",
            "chulNo",
            "hrNo",
            "hrName",
            "hrNameEn",
            "prd",
            "sex",
            "age",
            "wgBudam",
            "rating",
            "rank",
            "prizeCond",
            "ageCond",
            "sexCond",
            "budam",
            "jkNo",
            "jkName",
            "jkNameEn",
            "trNo",
            "trName",
            "trNameEn",
            "owNo",
            "owName",
            "owNameEn",
            "stTime",
            "dusu",
            "ilsu",
            "chaksun*",
            "ord1Cnt*",
            "ord2Cnt*",
            "ord3Cnt*",
            "rcCnt*",
        ],
        expected: &["rcNo", "chulNo", "hrNo", "hrName", "jkNo", "jkName", "trNo", "trName", "wgBudam", "age", "sex"],
    },
};

/// 출전취소: the day's scratches (API9_1).
pub const CANCELLATIONS: Endpoint = Endpoint {
    dataset: "API9_1",
    path: "/B551015/API9_1/raceHorseCancelInfo_1",
    daily_quota: 10_000,
    shape: Shape {
        known: &["meet", "rcDate", "rcNo", "rcDay", "chulNo", "hrNo", "hrName", "reason", "cancelReason"],
        expected: &["rcNo", "chulNo"],
    },
};

/// 확정배당율 종합: every combination's odds for one pool (API301).
pub const ODDS: Endpoint = Endpoint {
    dataset: "API301",
    path: "/B551015/API301/Dividend_rate_total",
    daily_quota: 1_000,
    shape: Shape {
        known: &["meet", "rcDate", "rcNo", "pool", "chulNo", "chulNo2", "chulNo3", "odds"],
        expected: &["rcNo", "pool", "chulNo", "chulNo2", "chulNo3", "odds"],
    },
};

/// 경주성적: the finishing order with final win and place odds (API214_1).
pub const RESULTS: Endpoint = Endpoint {
    dataset: "API214_1",
    path: "/B551015/API214_1/RaceDetailResult_1",
    daily_quota: 10_000,
    shape: Shape {
        known: &[
            "meet",
            "rcDate",
            "rcNo",
            "rcDay",
            "rcName",
            "rcDist",
            "chulNo",
            "ord",
            "hrNo",
            "hrName",
            "jkNo",
            "jkName",
            "trNo",
            "trName",
            "owNo",
            "owName",
            "age",
            "sex",
            "name",
            "birthday",
            "rank",
            "prizeCond",
            "budam",
            "ageCond",
            "rating",
            "rankRise",
            "ilsu",
            "wgJk",
            "wgBudam",
            "rcTime",
            "wgHr",
            "wgBudamBigo",
            "winOdds",
            "plcOdds",
            "diffUnit",
            "ordBigo",
            "hrTool",
            "track",
            "weather",
            "chaksun*",
            "buga*",
            "buG*",
            "buS*",
            "bu_*",
            "seG*",
            "seS*",
            "se_*",
            "sjG*",
            "sjS*",
            "sj_*",
            "jeG*",
            "jeS*",
            "je_*",
        ],
        expected: &["rcNo", "chulNo", "ord", "hrName", "rcTime", "winOdds", "plcOdds"],
    },
};

/// 확정배당율 통합: the winning combinations' dividends (API160_1).
pub const DIVIDENDS: Endpoint = Endpoint {
    dataset: "API160_1",
    path: "/B551015/API160_1/integratedInfo_1",
    daily_quota: 10_000,
    shape: Shape {
        known: &["meet", "rcDate", "rcNo", "pool", "chulNo", "chulNo2", "chulNo3", "odds"],
        expected: &["rcNo", "pool", "chulNo", "chulNo2", "chulNo3", "odds"],
    },
};

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
