//! Racer names as KSPO writes them.
//!
//! Names are padded to a fixed width: trailing spaces on the card, and inside two-syllable
//! names in the result service (`"⑦임  섭"` is 임섭, dossier §3.1). A name written in Hangul
//! alone is therefore read without any whitespace, so that one racer has one name in every
//! service; other names keep single spaces between their words.

/// The racer's name, or `None` when nothing but padding is left.
pub fn racer_name(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let hangul_only = words.iter().all(|w| w.chars().all(is_hangul));
    Some(if hangul_only { words.concat() } else { words.join(" ") })
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_dropped() {
        assert_eq!(racer_name("임  섭").as_deref(), Some("임섭"));
        assert_eq!(racer_name(" 신용수  ").as_deref(), Some("신용수"));
        assert_eq!(racer_name("Kim  Min  ").as_deref(), Some("Kim Min"));
        assert_eq!(racer_name("   "), None);
    }
}
