//! Secrets: service keys, Slack tokens and webhook URLs (the URL is the credential), the
//! database URL. One type, so that every one of them is kept out of logs and errors alike.

/// A value that must never appear in logs, errors or the database. `Debug` shows
/// `Secret(***)`; there is no `Display`, so it cannot slip into a `format!` by accident.
///
/// The value is kept verbatim (a webhook URL must reach Slack exactly as issued); the fetcher
/// normalises a data.go.kr key itself.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "String")]
pub struct Secret(String);

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl Secret {
    /// Wraps a token or a URL as the operator gave it (surrounding whitespace removed).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        Secret(value.trim().to_string())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_new_keeps_it_verbatim() {
        let s = Secret::new(" https://hooks.slack.com/services/T0/B0/abc%2Fdef \n");
        assert_eq!(s.expose(), "https://hooks.slack.com/services/T0/B0/abc%2Fdef");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
