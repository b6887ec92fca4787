//! KRA's three tracks: the host's track code, the `meet` number the APIs take, and the labels
//! their payloads print (docs/sources.md "Tracks", dossier §2, §7.6).

use racelab_plugin_sdk::SourceError;

/// A KRA racecourse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Seoul,
    Busan,
    Jeju,
}

/// Every track, in the order the manifest lists them.
pub const ALL: [Track; 3] = [Track::Seoul, Track::Busan, Track::Jeju];

impl Track {
    /// The host's track code.
    pub fn code(self) -> &'static str {
        match self {
            Track::Seoul => "seoul",
            Track::Busan => "busan",
            Track::Jeju => "jeju",
        }
    }

    /// The `meet` query parameter: 1 서울, 2 제주, 3 부산경남.
    pub fn meet(self) -> &'static str {
        match self {
            Track::Seoul => "1",
            Track::Jeju => "2",
            Track::Busan => "3",
        }
    }

    /// The label most payloads print in `meet`.
    pub fn label(self) -> &'static str {
        match self {
            Track::Seoul => "서울",
            Track::Busan => "부산경남",
            Track::Jeju => "제주",
        }
    }

    /// The track for a host track code, or the error that names the valid ones.
    pub fn from_code(code: &str) -> Result<Track, SourceError> {
        ALL.into_iter().find(|t| t.code() == code).ok_or_else(|| {
            let valid: Vec<&str> = ALL.iter().map(|t| t.code()).collect();
            SourceError::BadRequest(format!("unknown track `{code}`: kra serves {}", valid.join(", ")))
        })
    }

    /// The track a payload's `meet` field names: a label (`서울`; Busan is `부산경남` in most
    /// APIs but `부경` in API214_1) or the numeric code some APIs print instead (API179_1).
    pub fn from_meet(text: &str) -> Option<Track> {
        let text = text.trim();
        match text {
            "부경" | "부산" => Some(Track::Busan),
            _ => ALL.into_iter().find(|t| t.label() == text || t.meet() == text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_meets_and_labels_round_trip() {
        for track in ALL {
            assert_eq!(Track::from_code(track.code()), Ok(track));
            assert_eq!(Track::from_meet(track.meet()), Some(track));
            assert_eq!(Track::from_meet(track.label()), Some(track));
        }
        assert_eq!(Track::Jeju.meet(), "2", "meet 2 is Jeju, not Busan");
    }

    #[test]
    fn busan_has_three_labels() {
        for label in ["부산경남", "부경", " 부경 ", "부산"] {
            assert_eq!(Track::from_meet(label), Some(Track::Busan), "{label:?}");
        }
        assert_eq!(Track::from_meet("영천"), None);
    }

    #[test]
    fn an_unknown_track_names_the_valid_ones() {
        let Err(SourceError::BadRequest(message)) = Track::from_code("gwangmyeong") else {
            panic!("gwangmyeong is not a KRA track")
        };
        assert_eq!(message, "unknown track `gwangmyeong`: kra serves seoul, busan, jeju");
        assert!(Track::from_code("Seoul").is_err(), "codes are lower case");
    }
}
