//! KRA (`/B551015`): which races a query selects, and the pre-race services — racePlan_2,
//! entrySheet_2 and raceHorseCancelInfo_1.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};

use crate::calendar::Track;
use crate::endpoint::Ctx;
use crate::race::{HorseEntry, HorseRace, OwnerNo, RaceDay, RaceDetail, RunnerDetail, SimRace};
use crate::rows::Rows;
use crate::wire::{Item, V, n, s, tenths};

const KRA_TRACKS: [Track; 3] = [Track::Seoul, Track::Jeju, Track::Busan];
const WEEKDAYS: [&str; 7] = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"];

/// The race days a KRA query selects: `meet` (all three when absent), then `rc_date`,
/// `rc_month` or `rc_year` (the current month of the simulated clock when none is given).
/// A value that does not parse selects nothing, like a real query that matches no data.
pub(crate) fn days(ctx: &Ctx<'_>) -> Vec<Arc<RaceDay>> {
    let tracks: Vec<Track> = match ctx.query.get("meet").map(str::trim) {
        None | Some("") => KRA_TRACKS.to_vec(),
        Some(m) => KRA_TRACKS.into_iter().filter(|t| t.kra_meet().is_some_and(|k| m.parse::<u8>() == Ok(k))).collect(),
    };
    let dates = dates(ctx);
    dates.iter().flat_map(|d| tracks.iter().filter_map(|t| ctx.calendar.day(*t, *d))).collect()
}

fn dates(ctx: &Ctx<'_>) -> Vec<NaiveDate> {
    let param = |name: &str| ctx.query.get(name).map(str::trim).filter(|v| !v.is_empty());
    let (from, to) = if let Some(d) = param("rc_date") {
        let day = NaiveDate::parse_from_str(d, "%Y%m%d").ok().filter(|_| d.len() == 8);
        (day, day)
    } else if let Some(m) = param("rc_month") {
        let first = NaiveDate::parse_from_str(&format!("{m}01"), "%Y%m%d").ok().filter(|_| m.len() == 6);
        (first, first.and_then(last_of_month))
    } else if let Some(y) = param("rc_year") {
        let year = y.parse::<i32>().ok().filter(|_| y.len() == 4);
        (year.and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1)), year.and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31)))
    } else {
        let first = ctx.now.date_naive().with_day(1);
        (first, first.and_then(last_of_month))
    };
    match (from, to) {
        (Some(from), Some(to)) => from.iter_days().take_while(|d| *d <= to).collect(),
        _ => Vec::new(),
    }
}

fn last_of_month(first: NaiveDate) -> Option<NaiveDate> {
    first.checked_add_months(chrono::Months::new(1))?.pred_opt()
}

/// The races of `days` matching `rc_no` (all when absent, none when it does not parse).
pub(crate) fn races<'d>(ctx: &Ctx<'_>, days: &'d [Arc<RaceDay>]) -> Vec<(&'d Arc<RaceDay>, &'d SimRace)> {
    let wanted = ctx.query.get("rc_no").map(str::trim).filter(|v| !v.is_empty());
    let wanted = wanted.map(|v| v.parse::<u8>().ok());
    days.iter()
        .flat_map(|d| d.races.iter().map(move |r| (d, r)))
        .filter(|(_, r)| wanted.is_none_or(|w| w == Some(r.number)))
        .collect()
}

/// Sorts a row's keys: KRA serves them alphabetically (byte order).
pub(crate) fn item(mut fields: Item) -> Item {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
}

/// `20260103` as a number.
pub(crate) fn date_number(d: NaiveDate) -> V {
    n(i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day()))
}

pub(crate) fn horse_race(race: &SimRace) -> Option<&HorseRace> {
    match &race.detail {
        RaceDetail::Horse(h) => Some(h),
        RaceDetail::Kspo => None,
    }
}

pub(crate) fn horse(detail: &RunnerDetail) -> Option<&HorseEntry> {
    match detail {
        RunnerDetail::Horse(h) => Some(h),
        _ => None,
    }
}

/// racePlan_2: one row per race, from publication.
pub(crate) fn plan<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let days = days(ctx);
    let mut items = Vec::new();
    for (day, race) in races(ctx, &days) {
        let Some(h) = horse_race(race).filter(|_| ctx.now >= race.published_at()) else {
            continue;
        };
        // Jeju never fills in the scheduled time: consumers must use the entry sheet.
        let post = race.post_time;
        let hhmm = if day.track == Track::Jeju { 0 } else { post.hour() * 100 + post.minute() };
        let mut fields = vec![
            ("ageCond", s(h.age_cond)),
            ("budam", s(h.budam)),
            ("ilsu", n(h.day_ordinal)),
            ("meet", s(day.track.label())),
            ("rank", s(race.class)),
            ("rcDate", date_number(race.date)),
            ("rcDist", n(race.distance)),
            ("rcName", s(&race.name)),
            ("rcNo", n(race.number)),
            ("schStTime", n(hhmm)),
            ("sexCond", s(h.sex_cond)),
            ("spRating", n(h.sp_rating)),
            ("stRating", n(h.st_rating)),
        ];
        fields.extend(prize_fields(h));
        fields.extend([("buga1", n(h.buga[0])), ("buga2", n(h.buga[1])), ("buga3", n(h.buga[2]))]);
        items.push(item(fields));
    }
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}

fn prize_fields(h: &HorseRace) -> [(&'static str, V); 5] {
    let [a, b, c, d, e] = h.chaksun;
    [("chaksun1", n(a)), ("chaksun2", n(b)), ("chaksun3", n(c)), ("chaksun4", n(d)), ("chaksun5", n(e))]
}

/// entrySheet_2: one row per declared runner (scratched ones stay), from publication.
pub(crate) fn entries<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let days = days(ctx);
    let mut items = Vec::new();
    for (day, race) in races(ctx, &days) {
        let Some(h) = horse_race(race).filter(|_| ctx.now >= race.published_at()) else {
            continue;
        };
        for runner in &race.runners {
            let Some(e) = horse(&runner.detail) else { continue };
            let mut fields = vec![
                ("age", n(e.age)),
                ("ageCond", s(h.age_cond)),
                ("budam", s(h.budam)),
                ("chulNo", n(runner.number)),
                ("dusu", n(race.runners.len() as u32)),
                ("hrName", s(&runner.name)),
                ("hrNameEn", s(&e.name_en)),
                ("hrNo", s(&runner.id)),
                ("ilsu", n(e.days_since_last)),
                ("jkName", s(&e.jockey.name)),
                ("jkNameEn", s(&e.jockey.name_en)),
                ("jkNo", s(&e.jockey.no)),
                ("meet", s(day.track.label())),
                ("owName", s(&e.owner_name)),
                ("owNo", owner_no(&e.owner_no)),
                ("prd", s(e.origin)),
                ("prizeCond", s(&h.prize_cond)),
                ("rank", s(race.class)),
                ("rating", e.rating.map_or_else(|| s("-"), n)),
                ("rcDate", date_number(race.date)),
                ("rcDay", s(WEEKDAYS[race.date.weekday().num_days_from_monday() as usize])),
                ("rcDist", n(race.distance)),
                ("rcName", s(&race.name)),
                ("rcNo", n(race.number)),
                ("sex", s(e.sex)),
                ("sexCond", s(h.sex_cond)),
                ("stTime", s(start_text(race, h.st_time_style))),
                ("trName", s(&e.trainer.name)),
                ("trNo", s(&e.trainer.no)),
                ("wgBudam", tenths(e.weight_carried_tenths)),
            ];
            fields.extend(prize_fields(h));
            items.push(item(fields));
        }
    }
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}

fn owner_no(no: &OwnerNo) -> V {
    match no {
        OwnerNo::Number(v) => n(*v),
        OwnerNo::Text(t) => s(t),
    }
}

/// `"출발 :10:45"` and the spacing variants seen in real sheets.
fn start_text(race: &SimRace, style: u8) -> String {
    let (h, m) = (race.post_time.hour(), race.post_time.minute());
    match style {
        1 => format!("출발 : {h:02}: {m:02}"),
        2 => format!("출발 :{h:02}: {m:02}"),
        _ => format!("출발 :{h:02}:{m:02}"),
    }
}

/// raceHorseCancelInfo_1: one row per scratch, from its announcement.
pub(crate) fn cancels<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let days = days(ctx);
    let mut items = Vec::new();
    for (day, race) in races(ctx, &days) {
        for runner in &race.runners {
            let Some(scratch) = runner.scratch.as_ref().filter(|s| s.announced <= ctx.now) else {
                continue;
            };
            items.push(item(vec![
                ("chulNo", n(runner.number)),
                ("hrName", s(&runner.name)),
                ("hrNo", s(&runner.id)),
                ("meet", s(day.track.label())),
                ("rcDate", date_number(race.date)),
                ("rcNo", n(race.number)),
                ("reason", s(scratch.reason)),
            ]));
        }
    }
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}
