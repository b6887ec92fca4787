//! The seven KSPO services the plugin uses: paths, datasets and the requests it sends.
//!
//! Every request asks `resultType=json` (without it KSPO answers XML), pages of 1,000 rows
//! (the most KSPO serves, code 336 above), and sends round and race numbers as two digits
//! (`"01"`; `"1"` silently matches nothing, dossier §3). Day numbers go unpadded, as KSPO
//! writes them (`day_tcnt:"1"`, `day_ord:"1"`).

use racelab_plugin_sdk::calendar::yyyymmdd;
use racelab_plugin_sdk::drift::Shape;
use racelab_plugin_sdk::{Date, HttpRequest, SourceError};

use crate::meeting::Meeting;
use crate::tracks::Track;

/// Rows per page: KSPO refuses more (code 336).
pub const ROWS_PER_PAGE: &str = "1000";
/// `numOfRows` of a probe: one row is enough to tell whether a round has a card.
pub const PROBE_ROWS: &str = "1";

/// A KSPO service the plugin calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// 경륜 출주표: a whole round's card.
    CycleCard,
    /// 경륜 경주결과: the top three and the winning combinations.
    CycleResult,
    /// 경륜 경주순위: every racer's finish.
    CycleRank,
    /// 경정 출주표 (with dates): which round and day a date is.
    BoatDoc,
    /// 경정 출주표: one race's lanes.
    BoatCard,
    /// 경정 경주결과: the top three and the winning combinations.
    BoatResult,
    /// 경정 경주순위: every racer's finish.
    BoatRank,
}

impl Service {
    /// Every service, in manifest order.
    pub const ALL: [Service; 7] = [
        Service::CycleCard,
        Service::CycleResult,
        Service::CycleRank,
        Service::BoatDoc,
        Service::BoatCard,
        Service::BoatResult,
        Service::BoatRank,
    ];

    /// The URL path, service and operation names exactly as KSPO spells them.
    pub fn path(self) -> &'static str {
        match self {
            Service::CycleCard => "/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I",
            Service::CycleResult => "/B551014/SRVC_TODZ_CRA_RACE_RESULT/TODZ_API_CRA_RACE_RESULT",
            Service::CycleRank => "/B551014/SRVC_CRA_RACE_RANK/TODZ_CRA_RACE_RANK",
            Service::BoatDoc => "/B551014/SRVC_OD_API_VWEB_MBR_RACE_DOC/TODZ_API_VWEB_MBR_RACE_DOC_I",
            Service::BoatCard => "/B551014/SRVC_OD_API_VWEB_MBR_RACE_INFO/TODZ_API_VWEB_MBR_RACE_I",
            Service::BoatResult => "/B551014/SRVC_OD_API_MBR_RACE_RESULT/TODZ_API_MBR_RACE_RESULT_I",
            Service::BoatRank => "/B551014/SRVC_MRA_RACE_RANK/TODZ_MRA_RACE_RANK",
        }
    }

    /// The data.go.kr dataset, the unit of quota.
    pub fn dataset(self) -> &'static str {
        match self {
            Service::CycleCard => "15107830",
            Service::CycleResult => "15107816",
            Service::CycleRank => "15143989",
            Service::BoatDoc => "15107797",
            Service::BoatCard => "15107808",
            Service::BoatResult => "15107847",
            Service::BoatRank => "15143984",
        }
    }

    /// The fields of an item this plugin knows (maps or knowingly skips), and those it expects
    /// in every answer with rows: what `page.drift` is measured against. The cards' lists are
    /// the probed payloads' (docs/sources.md); `bf*`, `mm_6_*` and `tms_6_*` are families of
    /// form figures the plugin does not read.
    pub fn shape(self) -> Shape {
        match self {
            Service::CycleCard => Shape {
                known: &[
                    "row_num",
                    "meet_nm",
                    "stnd_yr",
                    "week_tcnt",
                    "day_tcnt",
                    "race_no",
                    "race_ymd",
                    "back_no",
                    "racer_nm",
                    "racer_age",
                    "racer_grd_cd",
                    "racer_grd_cur_cd",
                    "racer_grd_bef_cd",
                    "gear_rate",
                    "rec_200m_scr",
                    "dptre_tm",
                    "race_len",
                    "round_cnt",
                    "tot_tms_avg_scr",
                    "area_tms3_avg_scr",
                    "win_rate",
                    "high_rate",
                    "high_3_rate",
                    "win_tot_tcnt",
                    "brk_win_cnt",
                    "mrk_win_cnt",
                    "pas_win_cnt",
                    "pre_win_cnt",
                    "period_no",
                    "run_day_tcnt",
                    "trng_plc_nm",
                    "color_nm",
                    "bf*",
                ],
                expected: &["race_no", "back_no", "racer_nm", "race_ymd", "dptre_tm"],
            },
            Service::CycleResult => Shape {
                known: &[
                    "row_num",
                    "meet_nm",
                    "stnd_yr",
                    "week_tcnt",
                    "day_tcnt",
                    "race_no",
                    "race_ymd",
                    "rank1",
                    "rank2",
                    "rank3",
                    "pool*",
                ],
                expected: &["race_no", "rank1"],
            },
            Service::CycleRank => Shape {
                known: &[
                    "row_num",
                    "meet_nm",
                    "stnd_year",
                    "tms",
                    "day_ord",
                    "race_no",
                    "race_day",
                    "race_rank",
                    "racer_no",
                    "racer_nm",
                ],
                expected: &["race_no", "race_rank"],
            },
            Service::BoatDoc => Shape {
                // Some days it answers a row per racer, with the racer's lane and name.
                known: &[
                    "row_num",
                    "stnd_yr",
                    "week_tcnt",
                    "day_tcnt",
                    "race_no",
                    "race_ymd",
                    "dptre_tm",
                    "race_reg_no",
                    "racer_nm",
                ],
                expected: &["week_tcnt", "day_tcnt", "race_no", "race_ymd"],
            },
            Service::BoatCard => Shape {
                known: &[
                    "row_num",
                    "stnd_yr",
                    "week_tcnt",
                    "day_tcnt",
                    "race_no",
                    "dptre_tm",
                    "race_reg_no",
                    "racer_nm",
                    "racer_grd_cd",
                    "sex_cd",
                    "racer_age",
                    "wght",
                    "color_nm",
                    "motor_no",
                    "boat_no",
                    "fl_tcnt",
                    "st_mthd_cd",
                    "rmk2_rank",
                    "thdd_race_no",
                    "avg_acdnt_scr",
                    "avg_rank",
                    "high_rate",
                    "boat_avg_rank_scr",
                    "boat_high_rank_ratio",
                    "mot_*",
                    "mm_6_*",
                    "tms_6_*",
                    "tms_8_rank_ord_no",
                ],
                expected: &["race_no", "race_reg_no", "racer_nm"],
            },
            Service::BoatResult => Shape {
                known: &[
                    "row_num",
                    "stnd_yr",
                    "week_tcnt",
                    "day_tcnt",
                    "race_no",
                    "race_ymd",
                    "rank1",
                    "rank2",
                    "rank3",
                    "pool*",
                ],
                expected: &["race_no", "rank1"],
            },
            Service::BoatRank => Shape {
                known: &[
                    "row_num",
                    "mbr_nm",
                    "stnd_year",
                    "tms",
                    "day_ord",
                    "race_no",
                    "race_day",
                    "race_rank",
                    "racer_no",
                    "racer_nm",
                ],
                expected: &["race_no", "race_rank"],
            },
        }
    }

    /// The venue whose races the service carries.
    pub fn track(self) -> Track {
        match self {
            Service::CycleCard | Service::CycleResult | Service::CycleRank => Track::Gwangmyeong,
            _ => Track::Misari,
        }
    }

    /// The service a request was sent to, from its path.
    pub fn of(request: &HttpRequest) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.path() == request.path)
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        self.path().rsplit('/').next().unwrap_or(self.path())
    }

    fn request(self) -> HttpRequest {
        HttpRequest::get(self.dataset(), self.path())
    }
}

fn paged(request: HttpRequest, rows: &str) -> HttpRequest {
    request.param("pageNo", "1").param("numOfRows", rows).param("resultType", "json")
}

fn two_digits(n: u8) -> String {
    format!("{n:02}")
}

/// The cycle card of a whole round.
pub fn cycle_card(year: u16, week: u8) -> HttpRequest {
    let request = Service::CycleCard
        .request()
        .param("meet_nm", Track::Gwangmyeong.label())
        .param("stnd_yr", year.to_string())
        .param("week_tcnt", two_digits(week));
    paged(request, ROWS_PER_PAGE)
}

/// One row of a round's cycle card: enough to tell whether the round has been published.
pub fn cycle_probe(year: u16, week: u8) -> HttpRequest {
    cycle_card(year, week).param("numOfRows", PROBE_ROWS)
}

/// Whether a cycle card request is a probe.
pub fn is_probe(request: &HttpRequest) -> bool {
    request.query_value("numOfRows") == Some(PROBE_ROWS)
}

/// The boat races of one day, with their round and day.
pub fn boat_doc(date: &Date) -> HttpRequest {
    let request = Service::BoatDoc.request().param("stnd_yr", date.year.to_string()).param("race_ymd", yyyymmdd(date));
    paged(request, ROWS_PER_PAGE)
}

/// The boat card of one race.
pub fn boat_card(meeting: &Meeting, race: u8) -> HttpRequest {
    let request = Service::BoatCard
        .request()
        .param("stnd_yr", meeting.year.to_string())
        .param("week_tcnt", two_digits(meeting.week))
        .param("day_tcnt", meeting.day.to_string())
        .param("race_no", two_digits(race));
    paged(request, ROWS_PER_PAGE)
}

/// The result service of one race: top three and dividends.
pub fn result(track: Track, meeting: &Meeting, race: u8) -> HttpRequest {
    let request = match track {
        Track::Gwangmyeong => {
            Service::CycleResult.request().param("stnd_yr", meeting.year.to_string()).param("meet_nm", track.label())
        }
        Track::Misari => Service::BoatResult.request().param("stnd_yr", meeting.year.to_string()),
    };
    let request = request
        .param("week_tcnt", two_digits(meeting.week))
        .param("day_tcnt", meeting.day.to_string())
        .param("race_no", two_digits(race));
    paged(request, ROWS_PER_PAGE)
}

/// The rank service of one race: every racer's finish.
pub fn rank(track: Track, meeting: &Meeting, race: u8, date: &Date) -> HttpRequest {
    let service = match track {
        Track::Gwangmyeong => Service::CycleRank,
        Track::Misari => Service::BoatRank,
    };
    let request = service
        .request()
        .param("stnd_year", meeting.year.to_string())
        .param("tms", two_digits(meeting.week))
        .param("day_ord", meeting.day.to_string())
        .param("race_no", two_digits(race))
        .param("race_day", yyyymmdd(date));
    paged(request, ROWS_PER_PAGE)
}

/// Both result requests of one race.
pub fn results(track: Track, meeting: &Meeting, race: u8, date: &Date) -> Vec<HttpRequest> {
    vec![result(track, meeting, race), rank(track, meeting, race, date)]
}

/// A whole-number query parameter of a request this plugin planned.
pub fn query_int<T: TryFrom<i64>>(request: &HttpRequest, key: &str) -> Result<T, SourceError> {
    query_opt(request, key).ok_or_else(|| {
        SourceError::BadRequest(format!(
            "the request to {} has no usable `{key}`: parse was handed a request the kspo plugin did not plan",
            request.path
        ))
    })
}

/// A whole-number query parameter, if present and readable.
pub fn query_opt<T: TryFrom<i64>>(request: &HttpRequest, key: &str) -> Option<T> {
    request.query_value(key).and_then(|v| v.trim().parse::<i64>().ok()).and_then(|n| T::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_pad_rounds_and_races_and_ask_for_json() {
        let m = Meeting { year: 2026, week: 5, day: 1 };
        let card = boat_card(&m, 3);
        assert_eq!(card.dataset, "15107808");
        assert_eq!(card.path, "/B551014/SRVC_OD_API_VWEB_MBR_RACE_INFO/TODZ_API_VWEB_MBR_RACE_I");
        let q = |k: &str| card.query_value(k).map(str::to_string);
        assert_eq!(
            (q("week_tcnt"), q("day_tcnt"), q("race_no")),
            (Some("05".into()), Some("1".into()), Some("03".into()))
        );
        assert_eq!(
            (q("resultType"), q("numOfRows"), q("pageNo")),
            (Some("json".into()), Some("1000".into()), Some("1".into()))
        );
        let rank = rank(
            Track::Gwangmyeong,
            &Meeting { year: 2026, week: 24, day: 2 },
            15,
            &Date { year: 2026, month: 6, day: 13 },
        );
        assert_eq!(rank.query_value("tms"), Some("24"));
        assert_eq!(rank.query_value("race_day"), Some("20260613"));
        assert_eq!(Service::of(&rank), Some(Service::CycleRank));
        assert!(is_probe(&cycle_probe(2026, 3)) && !is_probe(&cycle_card(2026, 3)));
    }

    #[test]
    fn every_service_has_its_own_path_and_dataset() {
        for (i, a) in Service::ALL.iter().enumerate() {
            for b in Service::ALL.iter().skip(i + 1) {
                assert_ne!(a.path(), b.path());
                assert_ne!(a.dataset(), b.dataset());
            }
            assert!(a.path().starts_with("/B551014/SRVC_"), "the service segment is mandatory: {}", a.path());
        }
    }
}
