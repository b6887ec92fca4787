//! The shape of the simulated calendar over a year (no HTTP: the public model API).

use chrono::{Datelike, NaiveDate, TimeDelta, Timelike, Weekday};
use racelab_sim::{Calendar, Track};

use crate::support::SEED;

fn year(cal: &Calendar, track: Track) -> Vec<NaiveDate> {
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    cal.race_days(track, from, to)
}

#[test]
fn race_days_follow_the_weekly_pattern_with_some_meetings_off() {
    let cal = Calendar::new(SEED);
    let regular = |track: Track| match track {
        Track::Seoul => vec![Weekday::Sat, Weekday::Sun],
        Track::Jeju => vec![Weekday::Sat],
        Track::Busan => vec![Weekday::Fri, Weekday::Sun],
        Track::Gwangmyeong => vec![Weekday::Fri, Weekday::Sat, Weekday::Sun],
        Track::Misari => vec![Weekday::Wed, Weekday::Thu],
    };
    for track in Track::ALL {
        let days = year(&cal, track);
        let weekdays = regular(track);
        let possible = 52 * weekdays.len();
        // About one meeting in twenty is off; KRA sometimes races a Monday instead.
        assert!(days.len() < possible && days.len() * 100 > possible * 85, "{track:?}: {}", days.len());
        let odd: Vec<_> = days.iter().filter(|d| !weekdays.contains(&d.weekday())).collect();
        assert!(odd.iter().all(|d| d.weekday() == Weekday::Mon), "{track:?}: {odd:?}");
        assert_eq!(Track::parse(track.code()), Some(track));
    }
    assert_eq!(Track::parse("tokyo"), None);
}

#[test]
fn fields_races_and_post_times_are_realistic() {
    let cal = Calendar::new(SEED);
    let (mut runners, mut races, mut scratched) = (0, 0, 0);
    for track in [Track::Seoul, Track::Busan, Track::Jeju] {
        let (lo, hi) = match track {
            Track::Seoul => (10, 12),
            Track::Busan => (6, 8),
            _ => (7, 7),
        };
        for date in year(&cal, track) {
            let day = cal.day(track, date).expect("a race day");
            assert!((lo..=hi).contains(&day.races.len()), "{track:?} {date}");
            let first = day.races[0].post_time;
            assert!((10..=11).contains(&first.hour()) && first.offset().local_minus_utc() == 9 * 3600);
            for pair in day.races.windows(2) {
                let gap = pair[1].post_time - pair[0].post_time;
                assert!(gap >= TimeDelta::minutes(30) && gap <= TimeDelta::minutes(40));
            }
            for race in &day.races {
                assert!((7..=16).contains(&race.runners.len()));
                assert!(race.starters().count() >= 5);
                assert_eq!(race.outcome.placings.len(), race.starters().count());
                runners += race.runners.len();
                scratched += race.runners.len() - race.starters().count();
                races += 1;
            }
        }
    }
    let mean = runners as f64 / races as f64;
    assert!((10.0..11.0).contains(&mean), "mean field {mean}");
    let rate = scratched as f64 / runners as f64;
    assert!((0.02..0.04).contains(&rate), "scratch rate {rate}");
}

#[test]
fn kspo_days_have_fixed_fields_and_rounds() {
    let cal = Calendar::new(SEED);
    for (track, field, (lo, hi)) in [(Track::Gwangmyeong, 7, (14, 16)), (Track::Misari, 6, (12, 17))] {
        for date in year(&cal, track) {
            let day = cal.day(track, date).expect("a race day");
            let m = day.meeting.expect("KSPO days belong to a round");
            assert_eq!(cal.round_days(track, 2026, m.round)[m.day as usize - 1], date);
            assert!((lo..=hi).contains(&day.races.len()), "{track:?} {date}");
            assert!(day.races.iter().all(|r| r.runners.len() == field && r.outcome.top(3).len() == 3));
            let last = day.races.last().map(|r| r.post_time.time()).unwrap_or_default();
            assert!(last <= chrono::NaiveTime::from_hms_opt(21, 20, 0).unwrap_or_default(), "{date}: {last}");
        }
    }
}

#[test]
fn days_are_generated_lazily_and_identically() {
    let a = Calendar::new(SEED);
    let b = Calendar::new(SEED);
    let date = NaiveDate::from_ymd_opt(2031, 6, 7).expect("a Saturday, far from anything cached");
    // Generating another day first must not change this one.
    let _ = b.day(Track::Seoul, date - TimeDelta::days(1));
    let (x, y) = (a.day(Track::Seoul, date), b.day(Track::Seoul, date));
    assert!(x.is_some(), "{date} is a race day for this seed");
    let names = |d: Option<std::sync::Arc<racelab_sim::RaceDay>>| {
        d.map(|d| d.races.iter().flat_map(|r| r.runners.iter().map(|x| x.name.clone())).collect::<Vec<_>>())
    };
    assert_eq!(names(x), names(y));
}
