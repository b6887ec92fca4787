//! The text of a Slack message. Every piece that comes from the caller is escaped as Slack
//! asks (`&`, `<`, `>`), so an error body cannot turn into a link or a mention, and cut to a
//! length that keeps one message readable.

use std::time::Duration;

use super::Alert;
use super::ledger::Notice;

/// Longest `Alert::message` shown; a plugin's message may quote a whole response body.
const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest context value shown (URLs with many parameters are the long ones).
const MAX_VALUE_CHARS: usize = 300;

/// The message for `notice` about `alert`'s incident.
pub(crate) fn render(notice: Notice, alert: &Alert) -> String {
    let i = &alert.incident;
    let what = format!("*{}* — {} / {}", escape(&i.kind), escape(&i.source), escape(&i.dataset));
    let mut text = match notice {
        Notice::Opened => format!(":rotating_light: {what}"),
        Notice::Reminder { open_for, suppressed } => format!(
            ":rotating_light: still failing after {}: {what} ({} since the last message)",
            human(open_for),
            repeats(suppressed)
        ),
        Notice::Resolved { open_for, suppressed } => {
            return format!(":white_check_mark: resolved after {}: {what} ({})", human(open_for), repeats(suppressed));
        }
    };
    if !alert.message.is_empty() {
        text.push('\n');
        text.push_str(&escape(&cut(&alert.message, MAX_MESSAGE_CHARS)));
    }
    if !alert.context.is_empty() {
        let pairs: Vec<String> =
            alert.context.iter().map(|(k, v)| format!("{}: {}", escape(k), escape(&cut(v, MAX_VALUE_CHARS)))).collect();
        text.push('\n');
        text.push_str(&pairs.join(" · "));
    }
    text
}

fn repeats(n: u64) -> String {
    match n {
        1 => "1 repeat suppressed".to_string(),
        n => format!("{n} repeats suppressed"),
    }
}

/// Slack's three control characters in message text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// `42s`, `35m`, `1h 12m`, `2d 3h`: precise enough for an incident's age.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Incident;

    fn alert() -> Alert {
        Alert::new(Incident::new("kra", "15056743", "malformed"), "unexpected <tag> & more")
            .with("track", "seoul")
            .with("race", "3")
    }

    #[test]
    fn opened_names_the_incident_and_escapes_caller_text() {
        assert_eq!(
            render(Notice::Opened, &alert()),
            ":rotating_light: *malformed* — kra / 15056743\nunexpected &lt;tag&gt; &amp; more\ntrack: seoul · race: 3"
        );
    }

    #[test]
    fn reminder_and_resolved_say_how_long_and_how_many() {
        let reminder = Notice::Reminder { open_for: Duration::from_secs(35 * 60), suppressed: 12 };
        assert!(render(reminder, &alert()).starts_with(
            ":rotating_light: still failing after 35m: *malformed* — kra / 15056743 (12 repeats suppressed since the last message)\n"
        ));
        let resolved = Notice::Resolved { open_for: Duration::from_secs(4_320), suppressed: 1 };
        assert_eq!(
            render(resolved, &alert()),
            ":white_check_mark: resolved after 1h 12m: *malformed* — kra / 15056743 (1 repeat suppressed)"
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let long = Alert::new(Incident::new("kra", "d", "malformed"), "경".repeat(5_000));
        let text = render(Notice::Opened, &long);
        assert!(text.ends_with('…'));
        assert_eq!(text.lines().nth(1).map(|l| l.chars().count()), Some(MAX_MESSAGE_CHARS + 1));
    }

    #[test]
    fn durations() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(3_600)), "1h 0m");
        assert_eq!(human(Duration::from_secs(2 * 86_400 + 3 * 3_600 + 59)), "2d 3h");
    }
}
