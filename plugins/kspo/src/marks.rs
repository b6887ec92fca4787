//! Runner numbers as KSPO prints them, and the dividend strings built from them.
//!
//! - result places: `②이길섭` (circled back number, then the name), also `(2)이길섭` / `⑵이길섭`;
//! - cycle dividends: `(2)2.5`, `(2)1.2 (7)2.1`, `(2-7)9.4`, `(2-7-5)20.5`;
//! - boat dividends: `①1.1`, `①-②1.9`, `①-②-⑥3.4` (circled, no parentheses).
//!
//! A dividend field is one or more groups of a selection then an amount; the numbers are in
//! finishing order, the amount is the payout for 1 won (stake included).

use std::iter::Peekable;
use std::str::Chars;

/// Most groups one field may hold: 연승 has two, dead heats add a few.
const MAX_GROUPS: usize = 16;
/// Most runners one selection names (삼쌍승).
const MAX_LEGS: usize = 3;
/// Longest amount read, in characters.
const MAX_AMOUNT_LEN: usize = 24;

/// The number of a circled (`①`–`⑳`) or parenthesised (`⑴`–`⒇`) digit character.
pub fn circled(c: char) -> Option<u8> {
    let n = match c {
        '\u{2460}'..='\u{2473}' => u32::from(c) - 0x245F,
        '\u{2474}'..='\u{2487}' => u32::from(c) - 0x2473,
        _ => return None,
    };
    u8::try_from(n).ok()
}

/// Splits a result place into the runner's number and the rest (the name):
/// `②이길섭`, `⑵이길섭` and `(2)이길섭` all give `(2, "이길섭")`.
pub fn runner_mark(text: &str) -> Option<(u8, &str)> {
    let text = text.trim_start();
    let first = text.chars().next()?;
    if let Some(n) = circled(first) {
        return Some((n, text.get(first.len_utf8()..)?));
    }
    let inner = text.strip_prefix('(')?;
    let (number, rest) = inner.split_once(')')?;
    let n = number.trim().parse::<u8>().ok().filter(|n| *n >= 1)?;
    Some((n, rest))
}

/// One winning selection and what it paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Payout {
    /// Runner numbers in finishing order.
    pub selection: Vec<u8>,
    /// Payout for 1 won staked.
    pub amount: f64,
}

/// Reads a dividend field into its groups. The error says what was found where.
pub fn payouts(text: &str) -> Result<Vec<Payout>, String> {
    let mut chars = text.chars().peekable();
    let mut out = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',' || *c == '/').is_some() {}
        let Some(&c) = chars.peek() else { break };
        let selection = if c == '(' {
            chars.next();
            parenthesised(&mut chars)?
        } else if circled(c).is_some() {
            circled_run(&mut chars)?
        } else {
            return Err(format!("expected a selection like `(2-7)` or `①-②`, found {c:?}"));
        };
        let amount = amount(&mut chars)?;
        if out.len() >= MAX_GROUPS {
            return Err(format!("more than {MAX_GROUPS} selections"));
        }
        out.push(Payout { selection, amount });
    }
    Ok(out)
}

/// Whether a field is a bare amount with no selection (`"2.5"`, `"0"`), as KSPO's payoff
/// services write it.
pub fn is_bare_amount(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// `2-7-5)` after the opening parenthesis. Legs may also be circled: `(②-⑦)`.
fn parenthesised(chars: &mut Peekable<Chars<'_>>) -> Result<Vec<u8>, String> {
    let mut inner = String::new();
    loop {
        match chars.next() {
            Some(')') => break,
            Some(c) if inner.chars().count() < 16 => inner.push(c),
            Some(_) => return Err("a selection in parentheses is too long".to_string()),
            None => return Err("`(` without `)`".to_string()),
        }
    }
    let legs = inner.split('-').map(leg).collect::<Result<Vec<u8>, String>>()?;
    if legs.len() > MAX_LEGS {
        return Err(format!("({inner}) names more than {MAX_LEGS} runners"));
    }
    Ok(legs)
}

fn leg(text: &str) -> Result<u8, String> {
    let text = text.trim();
    let mut chars = text.chars();
    let number = match (chars.next(), chars.next()) {
        (Some(c), None) if circled(c).is_some() => circled(c),
        _ => text.parse::<u8>().ok(),
    };
    number.filter(|n| *n >= 1).ok_or_else(|| format!("{text:?} is not a runner number"))
}

/// `①-②-⑥` (dashes optional).
fn circled_run(chars: &mut Peekable<Chars<'_>>) -> Result<Vec<u8>, String> {
    let mut legs = Vec::new();
    let mut dash = false;
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        match chars.peek().copied().and_then(circled) {
            Some(n) if legs.len() < MAX_LEGS => {
                chars.next();
                legs.push(n);
            }
            Some(_) => return Err(format!("a selection names more than {MAX_LEGS} runners")),
            None if dash => return Err("`-` not followed by a circled number".to_string()),
            None => return Ok(legs),
        }
        while chars.next_if_eq(&' ').is_some() {}
        dash = chars.next_if_eq(&'-').is_some();
    }
}

/// `9.4`, `1,234.5`.
fn amount(chars: &mut Peekable<Chars<'_>>) -> Result<f64, String> {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    let mut digits = String::new();
    let mut len = 0;
    while let Some(c) = chars.next_if(|c| c.is_ascii_digit() || *c == '.' || *c == ',') {
        len += 1;
        if len > MAX_AMOUNT_LEN {
            return Err("amount too long".to_string());
        }
        if c != ',' {
            digits.push(c);
        }
    }
    if digits.is_empty() {
        return Err(match chars.peek() {
            Some(c) => format!("expected an amount after the selection, found {c:?}"),
            None => "no amount after the selection".to_string(),
        });
    }
    digits.parse::<f64>().map_err(|_| format!("{digits:?} is not an amount"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(selection: &[u8], amount: f64) -> Payout {
        Payout { selection: selection.to_vec(), amount }
    }

    #[test]
    fn circled_and_parenthesised_digits() {
        assert_eq!(circled('①'), Some(1));
        assert_eq!(circled('⑦'), Some(7));
        assert_eq!(circled('⑳'), Some(20));
        assert_eq!(circled('⑴'), Some(1));
        assert_eq!(circled('⒇'), Some(20));
        assert_eq!(circled('⒈'), None);
        assert_eq!(circled('1'), None);
    }

    #[test]
    fn places_split_into_number_and_name() {
        assert_eq!(runner_mark("②이길섭"), Some((2, "이길섭")));
        assert_eq!(runner_mark("⑦임  섭 "), Some((7, "임  섭 ")));
        assert_eq!(runner_mark(" (2)이길섭"), Some((2, "이길섭")));
        assert_eq!(runner_mark("(12) 김"), Some((12, " 김")));
        assert_eq!(runner_mark("⑵이길섭"), Some((2, "이길섭")));
        assert_eq!(runner_mark("①"), Some((1, "")));
        for bad in ["이길섭", "", "(0)김", "(x)김", "(2김", "2이길섭"] {
            assert_eq!(runner_mark(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cycle_dividend_strings() {
        assert_eq!(payouts("(2)2.5"), Ok(vec![p(&[2], 2.5)]));
        assert_eq!(payouts("(2)1.2 (7)2.1"), Ok(vec![p(&[2], 1.2), p(&[7], 2.1)]));
        assert_eq!(payouts("(2-7)9.4"), Ok(vec![p(&[2, 7], 9.4)]));
        assert_eq!(payouts("(2-7-5)20.5"), Ok(vec![p(&[2, 7, 5], 20.5)]));
        assert_eq!(payouts(" (2)1.2(7)2.1 "), Ok(vec![p(&[2], 1.2), p(&[7], 2.1)]));
        assert_eq!(payouts("(2 - 7)1,234.5"), Ok(vec![p(&[2, 7], 1234.5)]));
        assert_eq!(payouts("(②-⑦)9.4"), Ok(vec![p(&[2, 7], 9.4)]));
    }

    #[test]
    fn boat_dividend_strings() {
        assert_eq!(payouts("①1.1"), Ok(vec![p(&[1], 1.1)]));
        assert_eq!(payouts("①-②1.9"), Ok(vec![p(&[1, 2], 1.9)]));
        assert_eq!(payouts("①-②-⑥3.4"), Ok(vec![p(&[1, 2, 6], 3.4)]));
        assert_eq!(payouts("① - ② 1.9"), Ok(vec![p(&[1, 2], 1.9)]));
        assert_eq!(payouts("①②1.9"), Ok(vec![p(&[1, 2], 1.9)]));
        assert_eq!(payouts("①1.1 ②1.4"), Ok(vec![p(&[1], 1.1), p(&[2], 1.4)]));
        assert_eq!(payouts(""), Ok(vec![]));
    }

    #[test]
    fn broken_strings_say_what_is_wrong() {
        let cases = [
            ("2.5", "found '2'"),
            ("(2", "without `)`"),
            ("(2-7)", "no amount"),
            ("①-", "`-` not followed"),
            ("(0)1.1", "not a runner number"),
            ("(256)1.1", "not a runner number"),
            ("(1-2-3-4)1.1", "more than 3"),
            ("①②③④1.1", "more than 3"),
            ("(2)1.2.3", "not an amount"),
            ("(2)x", "found 'x'"),
            ("(2)99999999999999999999999999", "too long"),
        ];
        for (text, wanted) in cases {
            match payouts(text) {
                Err(e) => assert!(e.contains(wanted), "{text:?} gave {e:?}, wanted {wanted:?}"),
                Ok(v) => panic!("{text:?} read as {v:?}"),
            }
        }
        assert!(is_bare_amount("2.5") && is_bare_amount(" 0 ") && !is_bare_amount("(2)2.5") && !is_bare_amount(""));
    }
}
