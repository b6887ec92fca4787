//! The two KSPO venues, the host's track codes for them and the labels KSPO writes.

use racelab_plugin_sdk::SourceError;
use racelab_plugin_sdk::fields::{Row, clip};

/// A KSPO venue. Cycle racing also runs at 창원 and 부산, but the public services carry
/// races only for 광명 (dossier §3.1), so those are not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// 광명 스피돔, cycle racing.
    Gwangmyeong,
    /// 미사리 경정장, boat racing (the only boat venue).
    Misari,
}

impl Track {
    /// Every track served, in manifest order.
    pub const ALL: [Track; 2] = [Track::Gwangmyeong, Track::Misari];

    /// The host's track code.
    pub fn code(self) -> &'static str {
        match self {
            Track::Gwangmyeong => "gwangmyeong",
            Track::Misari => "misari",
        }
    }

    /// The venue as KSPO writes it in `meet_nm` / `mbr_nm` (padding aside).
    pub fn label(self) -> &'static str {
        match self {
            Track::Gwangmyeong => "광명",
            Track::Misari => "미사리",
        }
    }

    /// The track for a host track code, or a `BadRequest` naming the valid ones.
    pub fn from_code(code: &str) -> Result<Track, SourceError> {
        Track::ALL.into_iter().find(|t| t.code() == code).ok_or_else(|| {
            SourceError::BadRequest(format!(
                "unknown track {:?}: the kspo plugin serves `gwangmyeong` (cycle, 광명) and `misari` (boat, 미사리)",
                clip(code, 40)
            ))
        })
    }

    /// Whether a row belongs to this venue: its `meet_nm` / `mbr_nm`, when it has one, names
    /// it (KSPO pads the label: `"광명  "`). Services without a venue field serve one venue.
    pub fn holds(self, row: &Row) -> bool {
        ["meet_nm", "mbr_nm"].iter().all(|key| row.text(key).is_none_or(|v| v == self.label()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> Row {
        match v {
            serde_json::Value::Object(map) => Row::new(0, map),
            _ => Row::new(0, Default::default()),
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_name_the_valid_ones() {
        for t in Track::ALL {
            assert_eq!(Track::from_code(t.code()), Ok(t));
        }
        let Err(SourceError::BadRequest(m)) = Track::from_code("seoul") else { panic!("seoul is KRA's") };
        assert!(m.contains("\"seoul\"") && m.contains("gwangmyeong") && m.contains("misari"), "{m}");
    }

    #[test]
    fn venue_labels_are_read_through_padding() {
        assert!(Track::Gwangmyeong.holds(&row(json!({"meet_nm": "광명  "}))));
        assert!(!Track::Gwangmyeong.holds(&row(json!({"meet_nm": "창원"}))));
        assert!(Track::Misari.holds(&row(json!({"mbr_nm": "미사리"}))));
        assert!(Track::Misari.holds(&row(json!({"race_no": "01"}))), "no venue field: the service serves one venue");
    }
}
