//! Names and the per-track pools of horses, jockeys, trainers, owners and racers.
//!
//! Pool members are functions of (seed, track, index), so a horse keeps its number and name
//! from one race day to the next without any day knowing about another.

use rand::Rng;

use crate::calendar::Track;
use crate::race::{OwnerNo, Person};
use crate::rng::{self, label};

#[rustfmt::skip]
const SURNAMES: &[(&str, &str)] = &[
    ("김", "Kim"), ("이", "Lee"), ("박", "Park"), ("최", "Choi"), ("정", "Jung"),
    ("강", "Kang"), ("조", "Cho"), ("윤", "Yoon"), ("장", "Jang"), ("임", "Lim"),
    ("한", "Han"), ("오", "Oh"), ("서", "Seo"), ("신", "Shin"), ("권", "Kwon"),
    ("황", "Hwang"), ("안", "Ahn"), ("송", "Song"), ("류", "Ryu"), ("홍", "Hong"),
    ("전", "Jeon"), ("고", "Ko"), ("문", "Moon"), ("양", "Yang"), ("손", "Son"),
    ("배", "Bae"), ("백", "Baek"), ("유", "Yoo"), ("노", "Noh"), ("하", "Ha"),
];

#[rustfmt::skip]
const GIVEN: &[(&str, &str)] = &[
    ("민", "min"), ("서", "seo"), ("준", "jun"), ("현", "hyun"), ("우", "woo"),
    ("지", "ji"), ("훈", "hoon"), ("성", "sung"), ("영", "young"), ("수", "soo"),
    ("진", "jin"), ("호", "ho"), ("재", "jae"), ("동", "dong"), ("상", "sang"),
    ("용", "yong"), ("태", "tae"), ("철", "chul"), ("석", "seok"), ("혁", "hyuk"),
    ("규", "kyu"), ("원", "won"), ("희", "hee"), ("경", "kyung"), ("은", "eun"),
    ("연", "yeon"), ("기", "ki"), ("승", "seung"), ("찬", "chan"), ("길", "gil"),
    ("섭", "seop"), ("광", "kwang"), ("범", "beom"), ("도", "do"), ("형", "hyung"),
];

#[rustfmt::skip]
const HORSE_PARTS: &[(&str, &str)] = &[
    ("골드", "Gold"), ("스타", "Star"), ("파워", "Power"), ("킹", "King"), ("퀸", "Queen"),
    ("드림", "Dream"), ("썬더", "Thunder"), ("블레이즈", "Blaze"), ("라이언", "Lion"),
    ("캡틴", "Captain"), ("로켓", "Rocket"), ("스피드", "Speed"), ("해피", "Happy"),
    ("럭키", "Lucky"), ("원", "One"), ("마이", "My"), ("빅", "Big"), ("문", "Moon"),
    ("선", "Sun"), ("레인보우", "Rainbow"), ("카이저", "Kaiser"), ("챔프", "Champ"),
    ("히어로", "Hero"), ("제트", "Jet"), ("다이아", "Diamond"), ("올라운드", "Allround"),
    ("천둥", "Cheondung"), ("바람", "Baram"), ("한라", "Halla"), ("백두", "Baekdu"),
];

/// Size of each track's horse population.
pub(crate) const HORSES: usize = 3000;
/// Jockeys per KRA track; more than the largest field, so a race never lacks one.
pub(crate) const JOCKEYS: usize = 45;
const TRAINERS: u64 = 50;
const OWNERS: u64 = 400;
/// Cyclists at 광명: three grade bands of [`CYCLE_BAND`] each.
pub(crate) const CYCLE_BAND: usize = 180;
/// Boat racers at 미사리.
pub(crate) const BOAT_RACERS: usize = 150;

/// A Korean personal name and its romanisation; about one in twelve has one given syllable.
pub(crate) fn person_name(rng: &mut impl Rng) -> (String, String) {
    // Squaring the draw favours the common surnames at the front of the table.
    let u: f64 = rng.random();
    let (sur, sur_en) = SURNAMES[((u * u) * SURNAMES.len() as f64) as usize % SURNAMES.len()];
    let (g1, g1_en) = rng::pick(rng, GIVEN);
    if rng.random_bool(1.0 / 12.0) {
        return (format!("{sur}{g1}"), format!("{sur_en} {}", capitalise(g1_en)));
    }
    // Repeated syllables (`진진`) are rare in real names; take the next one instead.
    let i = rng.random_range(0..GIVEN.len());
    let (g2, g2_en) = if GIVEN[i].0 == g1 { GIVEN[(i + 1) % GIVEN.len()] } else { GIVEN[i] };
    (format!("{sur}{g1}{g2}"), format!("{sur_en} {}{g2_en}", capitalise(g1_en)))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Two-syllable names are padded in KSPO result text (`"임  섭"`).
pub(crate) fn padded(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [a, b] => format!("{a}  {b}"),
        _ => name.to_owned(),
    }
}

/// A horse of a track's population.
#[derive(Debug, Clone)]
pub(crate) struct Horse {
    pub no: String,
    pub name: String,
    pub name_en: String,
    pub sex: &'static str,
    pub origin: &'static str,
    /// Log-scale ability; race strength = exp(ability + race-day noise).
    pub ability: f64,
    pub age_phase: u32,
    pub base_weight: u32,
    pub unrated: bool,
}

fn track_base(track: Track) -> u64 {
    match track {
        Track::Seoul => 40_000,
        Track::Busan => 50_000,
        Track::Jeju => 30_000,
        Track::Gwangmyeong => 10_000,
        Track::Misari => 20_000,
    }
}

pub(crate) fn horse(seed: u64, track: Track, idx: usize) -> Horse {
    let mut rng = rng::stream(&[seed, label::HORSE, track as u64, idx as u64]);
    let parts = if rng.random_bool(0.6) { 2 } else { 3 };
    let (mut name, mut name_en) = (String::new(), String::new());
    for _ in 0..parts {
        let (ko, en) = rng::pick(&mut rng, HORSE_PARTS);
        name.push_str(ko);
        name_en.push_str(en);
    }
    Horse {
        no: format!("{:07}", track_base(track) + idx as u64),
        name,
        name_en,
        sex: ["수", "암", "거"][rng::weighted(&mut rng, &[40, 40, 20])],
        origin: ["한국", "미국", "일본", "호주"][rng::weighted(&mut rng, &[80, 12, 5, 3])],
        ability: 0.9 * rng::normal(&mut rng),
        age_phase: rng.random_range(0..7),
        base_weight: rng.random_range(430..=530),
        unrated: rng.random_bool(0.12),
    }
}

fn licensed(seed: u64, what: u64, track: Track, idx: u64, base: u64) -> Person {
    let mut rng = rng::stream(&[seed, what, track as u64, idx]);
    let (name, name_en) = person_name(&mut rng);
    Person { no: format!("{:06}", base + track_base(track) + idx), name, name_en }
}

pub(crate) fn jockey(seed: u64, track: Track, idx: usize) -> Person {
    licensed(seed, label::JOCKEY, track, idx as u64, 30_000)
}

pub(crate) fn trainer(seed: u64, track: Track, rng: &mut impl Rng) -> Person {
    let idx = rng.random_range(0..TRAINERS);
    licensed(seed, label::TRAINER, track, idx, 20_000)
}

/// An owner's name and number; about one owner in ten is numbered with a string.
pub(crate) fn owner(seed: u64, track: Track, rng: &mut impl Rng) -> (String, OwnerNo) {
    let idx = rng.random_range(0..OWNERS);
    let mut own = rng::stream(&[seed, label::OWNER, track as u64, idx]);
    let (name, _) = person_name(&mut own);
    let no = 100_000 + track_base(track) + idx;
    let no = if own.random_bool(0.1) {
        OwnerNo::Text(format!("{no:06}"))
    } else {
        OwnerNo::Number(i64::try_from(no).unwrap_or(0))
    };
    (name, no)
}

/// A KSPO racer: name, `racer_no`, and ability.
#[derive(Debug, Clone)]
pub(crate) struct Racer {
    pub no: String,
    pub name: String,
    pub ability: f64,
    pub rng_seed: u64,
}

pub(crate) fn racer(seed: u64, track: Track, idx: usize) -> Racer {
    let key = rng::hash(&[seed, label::RACER, track as u64, idx as u64]);
    let mut rng = rng::stream(&[key]);
    let (name, _) = person_name(&mut rng);
    let no = match track {
        Track::Misari => format!("{:02}-{:03}", 1 + idx % 17, idx),
        _ => format!("{}{:04}", 2000 + idx % 25, idx),
    };
    Racer { no, name, ability: 0.6 * rng::normal(&mut rng), rng_seed: key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horse_is_the_same_every_time() {
        let a = horse(5, Track::Seoul, 17);
        let b = horse(5, Track::Seoul, 17);
        assert_eq!((a.no.as_str(), &a.name), (b.no.as_str(), &b.name));
        assert_eq!(a.no.len(), 7);
        assert!(a.no.starts_with('0'));
    }

    #[test]
    fn short_names_get_kspo_padding() {
        assert_eq!(padded("임섭"), "임  섭");
        assert_eq!(padded("이길섭"), "이길섭");
    }
}
