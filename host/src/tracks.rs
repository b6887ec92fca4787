//! The five tracks RaceLab follows. The code is the track's name everywhere: in the WIT, the
//! database, the CLI and the HTTP API.

/// A track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    Seoul,
    Busan,
    Jeju,
    Gwangmyeong,
    Misari,
}

/// Every track, in display order.
pub const ALL: [Track; 5] = [Track::Seoul, Track::Busan, Track::Jeju, Track::Gwangmyeong, Track::Misari];

impl Track {
    /// The track code, e.g. `seoul`.
    pub fn code(self) -> &'static str {
        match self {
            Track::Seoul => "seoul",
            Track::Busan => "busan",
            Track::Jeju => "jeju",
            Track::Gwangmyeong => "gwangmyeong",
            Track::Misari => "misari",
        }
    }

    /// The Korean name, as the sources print it.
    pub fn korean(self) -> &'static str {
        match self {
            Track::Seoul => "서울",
            Track::Busan => "부산경남",
            Track::Jeju => "제주",
            Track::Gwangmyeong => "광명",
            Track::Misari => "미사리",
        }
    }

    /// The source that runs the track: `kra` for horse racing, `kspo` for cycle and boat
    /// racing. What a source serves by default (`sources.<src>.tracks` overrides it).
    pub fn default_source(self) -> &'static str {
        match self {
            Track::Seoul | Track::Busan | Track::Jeju => "kra",
            Track::Gwangmyeong | Track::Misari => "kspo",
        }
    }

    /// The weekdays the track usually races, and about how many races a race day has: what
    /// `racelab backfill --dry-run` estimates a range's requests from before its schedule is
    /// known. Meetings are cancelled and moved, so the figures are typical, not exact.
    pub fn typical_calendar(self) -> (&'static [chrono::Weekday], u32) {
        use chrono::Weekday::{Fri, Sat, Sun, Thu, Wed};
        match self {
            Track::Seoul => (&[Sat, Sun], 11),
            Track::Busan => (&[Fri, Sun], 9),
            Track::Jeju => (&[Sat], 9),
            Track::Gwangmyeong => (&[Fri, Sat, Sun], 15),
            Track::Misari => (&[Wed, Thu], 16),
        }
    }

    /// Reads a track code.
    pub fn parse(code: &str) -> Option<Track> {
        ALL.into_iter().find(|t| t.code() == code)
    }
}

/// The codes of the tracks `source` runs by default.
pub fn of_source(source: &str) -> Vec<String> {
    ALL.iter().filter(|t| t.default_source() == source).map(|t| t.code().to_string()).collect()
}

/// The known codes, comma-separated, for error messages.
pub fn codes() -> String {
    ALL.map(Track::code).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_track_has_a_typical_calendar_of_race_days() {
        for track in ALL {
            let (days, races) = track.typical_calendar();
            assert!(!days.is_empty() && (8..=20).contains(&races), "{}", track.code());
        }
        assert_eq!(Track::parse("misari").map(|t| t.typical_calendar().0.len()), Some(2));
        assert_eq!(of_source("kspo"), ["gwangmyeong", "misari"]);
    }
}
