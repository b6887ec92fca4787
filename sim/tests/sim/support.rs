//! Starting a simulator on a free port and asking it things.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use racelab_sim::{Calendar, Clock, Limits, SimConfig, Track, clock::kst};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The seed every test uses unless it is testing seeds.
pub const SEED: u64 = 20260103;

/// A running simulator; stops when dropped.
pub struct Sim {
    pub base: String,
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A config with no limits, no faults, and a clock frozen at `now`.
pub fn config(now: DateTime<FixedOffset>) -> SimConfig {
    SimConfig { seed: SEED, limits: Limits::unlimited(), clock: Clock::fixed(now), ..SimConfig::default() }
}

pub async fn start(config: SimConfig) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let clock = config.clock.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(racelab_sim::serve(listener, config, async {
        let _ = stopped.await;
    }));
    Sim { base: format!("http://{addr}"), clock, stop: Some(stop), task: Some(task) }
}

/// A plain client: no retries, no pooling surprises.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

impl Sim {
    /// GET `path?query` and return (status, body).
    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let resp = client().get(format!("{}{path_and_query}", self.base)).send().await.expect("response");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// GET and parse JSON.
    pub async fn json(&self, path_and_query: &str) -> serde_json::Value {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// The `n`th race day of `track` in 2026 for the test seed.
pub fn race_day(track: Track, n: usize) -> NaiveDate {
    let cal = Calendar::new(SEED);
    let from = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");
    cal.race_days(track, from, to)[n]
}

/// `date` at `h:m` KST.
pub fn at(date: NaiveDate, h: u32, m: u32) -> DateTime<FixedOffset> {
    let t = NaiveTime::from_hms_opt(h, m, 0).expect("time");
    date.and_time(t).and_local_timezone(kst()).single().expect("KST is unambiguous")
}

/// `items.item` as a list, whatever its shape (`""`, object, array).
pub fn items(v: &serde_json::Value) -> Vec<serde_json::Value> {
    match &v["response"]["body"]["items"] {
        serde_json::Value::String(s) if s.is_empty() => Vec::new(),
        serde_json::Value::Object(o) => match o.get("item") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
            other => panic!("unexpected item: {other:?}"),
        },
        other => panic!("unexpected items: {other:?}"),
    }
}

pub const KEY: &str = "test-key";

pub const PLAN: &str = "/B551015/API72_2/racePlan_2";
pub const ENTRIES: &str = "/B551015/API26_2/entrySheet_2";
pub const CANCELS: &str = "/B551015/API9_1/raceHorseCancelInfo_1";
pub const ODDS: &str = "/B551015/API301/Dividend_rate_total";
pub const RESULTS: &str = "/B551015/API214_1/RaceDetailResult_1";
pub const DIVIDENDS: &str = "/B551015/API160_1/integratedInfo_1";
pub const CYCLE_CARD: &str = "/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I";
pub const CYCLE_RESULT: &str = "/B551014/SRVC_TODZ_CRA_RACE_RESULT/TODZ_API_CRA_RACE_RESULT";
pub const CYCLE_RANK: &str = "/B551014/SRVC_CRA_RACE_RANK/TODZ_CRA_RACE_RANK";
pub const CYCLE_PAYOFF: &str = "/B551014/SRVC_OD_API_CRA_PAYOFF/TODZ_API_CRA_PAYOFF_I";
pub const BOAT_DOC: &str = "/B551014/SRVC_OD_API_VWEB_MBR_RACE_DOC/TODZ_API_VWEB_MBR_RACE_DOC_I";
pub const BOAT_CARD: &str = "/B551014/SRVC_OD_API_VWEB_MBR_RACE_INFO/TODZ_API_VWEB_MBR_RACE_I";
pub const BOAT_RESULT: &str = "/B551014/SRVC_OD_API_MBR_RACE_RESULT/TODZ_API_MBR_RACE_RESULT_I";
pub const BOAT_RANK: &str = "/B551014/SRVC_MRA_RACE_RANK/TODZ_MRA_RACE_RANK";
pub const BOAT_PAYOFF: &str = "/B551014/SRVC_OD_API_MBR_PAYOFF/TODZ_API_MBR_PAYOFF_I";

/// `광명`, percent-encoded.
pub const GWANGMYEONG: &str = "%EA%B4%91%EB%AA%85";

/// A KRA query for one race day of `meet`, as JSON.
pub fn kra(path: &str, meet: u8, date: NaiveDate, extra: &str) -> String {
    format!("{path}?serviceKey={KEY}&_type=json&meet={meet}&rc_date={}{extra}", date.format("%Y%m%d"))
}

/// A KSPO query as JSON.
pub fn kspo(path: &str, extra: &str) -> String {
    format!("{path}?serviceKey={KEY}&resultType=json{extra}")
}

/// The header's result code.
pub fn code(v: &serde_json::Value) -> &str {
    v["response"]["header"]["resultCode"].as_str().unwrap_or("")
}

/// `totalCount` (a number at KRA, a string at KSPO).
pub fn total(v: &serde_json::Value) -> usize {
    let t = &v["response"]["body"]["totalCount"];
    t.as_u64().or_else(|| t.as_str().and_then(|s| s.parse().ok())).expect("totalCount") as usize
}
