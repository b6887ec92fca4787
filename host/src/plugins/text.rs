//! Text a plugin hands the host — log lines, error messages, panic output — before it reaches
//! a log, the database or an alert. A plugin is untrusted: its text is cut to a fixed size and
//! every character that could forge a log line or restyle a terminal is escaped, so that what
//! a plugin says can never pass for what the host says.

/// The most characters of one plugin message (a source error, a trap's reason, a log line)
/// the host keeps. Real messages are a sentence or a URL and a detail; anything longer is a
/// plugin dumping a page, which the raw archive already holds.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// `text` with control characters (C0, DEL, C1: newlines, carriage returns, ANSI escape
/// sequences) and invisible formatting characters (bidirectional overrides, zero-width
/// characters) escaped as `\n`, `\r`, `\t` or `\u{…}`, and cut to `max_chars` characters of
/// the result, saying how much was cut.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    let mut kept = 0;
    let mut chars = text.chars();
    for c in chars.by_ref() {
        let before = out.len();
        escape_into(&mut out, c);
        kept += out[before..].chars().count();
        if kept > max_chars {
            out.truncate(before);
            let left = 1 + chars.count();
            out.push_str(&format!("… ({left} more characters cut)"));
            return out;
        }
    }
    out
}

/// [`clean`] with [`MAX_MESSAGE_CHARS`].
pub fn message(text: &str) -> String {
    clean(text, MAX_MESSAGE_CHARS)
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || is_invisible_format(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// Characters that change how the text around them is shown without showing themselves:
/// zero-width characters, bidirectional embeddings, overrides and isolates, the byte-order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_terminal_escapes_are_escaped() {
        let forged = "ok\n2026-12-06T00:00:00Z  INFO racelab: all good\r\u{1b}[31mred\u{7f}\u{85}";
        let cleaned = clean(forged, 1_000);
        assert_eq!(cleaned, "ok\\n2026-12-06T00:00:00Z  INFO racelab: all good\\r\\u{1b}[31mred\\u{7f}\\u{85}");
        assert!(!cleaned.chars().any(char::is_control));
    }

    #[test]
    fn bidirectional_overrides_are_escaped_and_korean_is_kept() {
        assert_eq!(clean("서울 \u{202e}lairt", 100), "서울 \\u{202e}lairt");
        assert_eq!(clean("a\u{200b}b\u{feff}", 100), "a\\u{200b}b\\u{feff}");
    }

    #[test]
    fn long_text_is_cut_and_says_how_much() {
        let long = "가".repeat(5_000);
        let cleaned = clean(&long, 2_000);
        assert!(cleaned.starts_with(&"가".repeat(2_000)));
        assert!(cleaned.ends_with("… (3000 more characters cut)"), "{}", &cleaned[cleaned.len() - 40..]);
        assert_eq!(message(&"x".repeat(MAX_MESSAGE_CHARS)), "x".repeat(MAX_MESSAGE_CHARS));
    }

    #[test]
    fn an_escape_counts_at_its_escaped_length() {
        // Ten newlines are twenty characters once escaped: the cut falls inside them.
        let cleaned = clean(&"\n".repeat(10), 5);
        assert_eq!(cleaned, "\\n\\n… (8 more characters cut)");
    }
}
