//! Which raises and resolves become messages: one per incident when it opens, a reminder when
//! it is raised again after the repeat window, one notice when it is resolved. Pure: the time
//! is an argument.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Incident;

/// What to tell Slack about an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    Opened,
    /// Raised again after the window; `suppressed` repeats since the last message.
    Reminder {
        open_for: Duration,
        suppressed: u64,
    },
    /// `suppressed` repeats over the incident's whole life.
    Resolved {
        open_for: Duration,
        suppressed: u64,
    },
}

/// An open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Open {
    opened: Instant,
    last_sent: Instant,
    suppressed_since_sent: u64,
    suppressed_total: u64,
}

/// The open incidents. Their number is bounded by sources × datasets × error kinds.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    open: HashMap<Incident, Open>,
}

impl Ledger {
    /// Records a raise; `None` means suppressed (a repeat within `window` of the last message).
    pub fn raise(&mut self, incident: &Incident, now: Instant, window: Duration) -> Option<Notice> {
        let Some(open) = self.open.get_mut(incident) else {
            let open = Open { opened: now, last_sent: now, suppressed_since_sent: 0, suppressed_total: 0 };
            self.open.insert(incident.clone(), open);
            return Some(Notice::Opened);
        };
        if now.saturating_duration_since(open.last_sent) < window {
            open.suppressed_since_sent += 1;
            open.suppressed_total += 1;
            return None;
        }
        let notice = Notice::Reminder {
            open_for: now.saturating_duration_since(open.opened),
            suppressed: open.suppressed_since_sent,
        };
        open.last_sent = now;
        open.suppressed_since_sent = 0;
        Some(notice)
    }

    /// Closes an open incident; `None` if it was not open.
    pub fn resolve(&mut self, incident: &Incident, now: Instant) -> Option<Notice> {
        let open = self.open.remove(incident)?;
        Some(Notice::Resolved {
            open_for: now.saturating_duration_since(open.opened),
            suppressed: open.suppressed_total,
        })
    }

    /// The incident's state, to [`restore`](Self::restore) when its message cannot be queued.
    pub fn get(&self, incident: &Incident) -> Option<Open> {
        self.open.get(incident).copied()
    }

    /// Puts back the state from before a change whose message was dropped, so that the next
    /// raise or resolve tries again instead of being suppressed or ignored.
    pub fn restore(&mut self, incident: &Incident, previous: Option<Open>) {
        match previous {
            Some(open) => self.open.insert(incident.clone(), open),
            None => self.open.remove(incident),
        };
    }

    /// Takes `incident` as open since `now` with its message sent then, unless already open:
    /// an incident another process (or this one before a restart) opened.
    pub fn adopt(&mut self, incident: &Incident, now: Instant) {
        self.open.entry(incident.clone()).or_insert(Open {
            opened: now,
            last_sent: now,
            suppressed_since_sent: 0,
            suppressed_total: 0,
        });
    }

    /// The open incidents of one source's dataset, whatever their kind.
    pub fn open_for(&self, source: &str, dataset: &str) -> Vec<Incident> {
        self.open.keys().filter(|i| i.source == source && i.dataset == dataset).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(30 * 60);

    fn quota() -> Incident {
        Incident::new("kra", "15056743", "quota_exhausted")
    }

    #[test]
    fn repeats_within_the_window_are_suppressed_and_counted_in_the_reminder() {
        let (mut ledger, t0) = (Ledger::default(), Instant::now());
        assert_eq!(ledger.raise(&quota(), t0, WINDOW), Some(Notice::Opened));
        for s in 1..=3 {
            assert_eq!(ledger.raise(&quota(), t0 + Duration::from_secs(s), WINDOW), None);
        }
        // Just inside the window: still suppressed; at the window: a reminder.
        assert_eq!(ledger.raise(&quota(), t0 + WINDOW - Duration::from_millis(1), WINDOW), None);
        assert_eq!(
            ledger.raise(&quota(), t0 + WINDOW, WINDOW),
            Some(Notice::Reminder { open_for: WINDOW, suppressed: 4 })
        );
        // The window restarts at the reminder, and its count too.
        assert_eq!(ledger.raise(&quota(), t0 + WINDOW + Duration::from_secs(1), WINDOW), None);
        assert_eq!(
            ledger.raise(&quota(), t0 + 2 * WINDOW, WINDOW),
            Some(Notice::Reminder { open_for: 2 * WINDOW, suppressed: 1 })
        );
        assert_eq!(
            ledger.resolve(&quota(), t0 + 2 * WINDOW + Duration::from_secs(60)),
            Some(Notice::Resolved { open_for: 2 * WINDOW + Duration::from_secs(60), suppressed: 5 })
        );
    }

    #[test]
    fn resolve_closes_once_and_the_next_raise_opens_a_new_incident() {
        let (mut ledger, t0) = (Ledger::default(), Instant::now());
        assert_eq!(ledger.resolve(&quota(), t0), None);
        ledger.raise(&quota(), t0, WINDOW);
        assert!(matches!(ledger.resolve(&quota(), t0), Some(Notice::Resolved { .. })));
        assert_eq!(ledger.resolve(&quota(), t0), None);
        assert_eq!(ledger.raise(&quota(), t0 + Duration::from_secs(1), WINDOW), Some(Notice::Opened));
    }

    #[test]
    fn incidents_differ_by_source_dataset_and_kind() {
        let (mut ledger, t0) = (Ledger::default(), Instant::now());
        for i in [quota(), Incident::new("kspo", "15056743", "quota_exhausted"), Incident::new("kra", "x", "auth")] {
            assert_eq!(ledger.raise(&i, t0, WINDOW), Some(Notice::Opened));
        }
        assert_eq!(ledger.raise(&Incident::new("kra", "15056743", "auth"), t0, WINDOW), Some(Notice::Opened));
        let mut open = ledger.open_for("kra", "15056743");
        open.sort_by(|a, b| a.kind.cmp(&b.kind));
        assert_eq!(open, vec![Incident::new("kra", "15056743", "auth"), quota()]);
    }

    #[test]
    fn an_adopted_incident_is_open_and_not_announced_again() {
        let (mut ledger, t0) = (Ledger::default(), Instant::now());
        ledger.adopt(&quota(), t0);
        assert_eq!(ledger.raise(&quota(), t0 + Duration::from_secs(1), WINDOW), None);
        assert!(matches!(ledger.resolve(&quota(), t0 + Duration::from_secs(2)), Some(Notice::Resolved { .. })));
    }

    #[test]
    fn restore_undoes_a_change() {
        let (mut ledger, t0) = (Ledger::default(), Instant::now());
        let before = ledger.get(&quota());
        ledger.raise(&quota(), t0, WINDOW);
        ledger.restore(&quota(), before);
        assert_eq!(ledger.raise(&quota(), t0, WINDOW), Some(Notice::Opened));
        let before = ledger.get(&quota());
        ledger.resolve(&quota(), t0);
        ledger.restore(&quota(), before);
        assert_eq!(ledger.get(&quota()), before);
    }
}
