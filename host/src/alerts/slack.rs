//! Posting one message to Slack, with bounded retries. The token and the webhook URL are used
//! here and nowhere else; every error string is built without them and scrubbed again before
//! it leaves (a transport library's message may quote the URL).

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde_json::json;

use super::{AlertError, SlackRetry, SlackTarget};

/// Slack's answers are a few bytes; anything beyond this is not read.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// `ok:false` codes that mean "Slack had a problem, try again" rather than "fix your setup".
const TRANSIENT_CODES: [&str; 5] =
    ["internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"];

/// Why a message did not reach Slack. No variant carries the token or the webhook URL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SlackError {
    #[error("Slack refused the message: {code} (HTTP {status}){}", hint(code))]
    Refused { status: u16, code: String },
    #[error("Slack is rate limiting (HTTP 429, asked to wait {0:?})")]
    RateLimited(Duration),
    #[error("Slack answered HTTP {0}")]
    Server(u16),
    #[error("no answer from Slack within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach Slack: {0}")]
    Transport(String),
    #[error("unexpected answer from Slack (HTTP {status}, {bytes} bytes, no \"ok\" field)")]
    Unexpected { status: u16, bytes: usize },
}

/// What the operator should do about a refusal.
fn hint(code: &str) -> &'static str {
    match code {
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" | "invalid_token" => {
            ": the Slack token is wrong or revoked; set a valid bot token"
        }
        "missing_scope" => ": the bot token lacks the chat:write scope",
        "channel_not_found" | "not_in_channel" => ": check the channel name and invite the bot to it",
        "is_archived" | "channel_is_archived" => ": the channel is archived; choose another",
        "no_service" | "no_active_hooks" | "action_prohibited" => {
            ": the incoming webhook is disabled or revoked; create a new one"
        }
        _ => "",
    }
}

enum Next {
    Backoff,
    After(Duration),
    GiveUp,
}

impl SlackError {
    fn next(&self) -> Next {
        match self {
            SlackError::RateLimited(wait) => Next::After(*wait),
            SlackError::Server(_) | SlackError::Timeout(_) | SlackError::Transport(_) => Next::Backoff,
            SlackError::Refused { code, .. } if TRANSIENT_CODES.contains(&code.as_str()) => Next::Backoff,
            SlackError::Refused { .. } | SlackError::Unexpected { .. } => Next::GiveUp,
        }
    }
}

/// Where and how to post. Deliberately not `Debug`: it holds the secrets in usable form.
enum Destination {
    Webhook { url: String },
    Bot { endpoint: String, bearer: HeaderValue, channel: String },
}

/// A Slack client for one target.
pub(crate) struct Slack {
    client: reqwest::Client,
    destination: Destination,
    retry: SlackRetry,
    timeout: Duration,
    /// Strings that must not appear in an error: the token, the webhook URL and its path.
    secrets: Vec<String>,
}

impl Slack {
    /// Checks the target and builds the client. Errors name what is wrong, never the value.
    pub fn new(target: &SlackTarget, timeout: Duration, retry: SlackRetry) -> Result<Self, AlertError> {
        let (destination, secrets) = match target {
            SlackTarget::Webhook { url } => {
                let url = url.expose();
                let parsed = reqwest::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
                let Some(parsed) = parsed else {
                    return Err(AlertError::InvalidTarget(
                        "the Slack webhook URL is not an http(s) URL (value not shown): copy it again from the \
                         Slack app's Incoming Webhooks page"
                            .into(),
                    ));
                };
                let mut secrets = vec![url.to_string(), parsed.path().to_string()];
                secrets.extend(parsed.path_segments().into_iter().flatten().filter(|s| s.len() > 8).map(String::from));
                (Destination::Webhook { url: url.to_string() }, secrets)
            }
            SlackTarget::Bot { token, channel, api_base } => {
                let token = token.expose();
                if token.is_empty() || channel.trim().is_empty() {
                    return Err(AlertError::InvalidTarget(
                        "a Slack bot needs both a token (xoxb-…) and a channel (#name or an id)".into(),
                    ));
                }
                let mut bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    AlertError::InvalidTarget("the Slack bot token has characters a header cannot carry".into())
                })?;
                bearer.set_sensitive(true);
                let endpoint = format!("{}/chat.postMessage", api_base.trim_end_matches('/'));
                if reqwest::Url::parse(&endpoint).is_err() {
                    return Err(AlertError::InvalidTarget(format!("the Slack API base {api_base:?} is not a URL")));
                }
                (Destination::Bot { endpoint, bearer, channel: channel.trim().to_string() }, vec![token.to_string()])
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // Slack never redirects a post; following one could carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("racelab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Client(e.without_url().to_string()))?;
        let secrets = secrets.into_iter().filter(|s| s.len() > 1).collect();
        Ok(Slack { client, destination, retry, timeout, secrets })
    }

    /// Posts `text`: 5xx, transport errors and transient refusals are retried with backoff up
    /// to `retry.retries` times; a 429 is waited out once (at most `retry.max_wait`).
    pub async fn post(&self, text: &str) -> Result<(), SlackError> {
        let (mut retries, mut waited) = (0, false);
        loop {
            let error = match self.post_once(text).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let pause = match error.next() {
                Next::After(wait) if !waited => {
                    waited = true;
                    wait.min(self.retry.max_wait)
                }
                Next::Backoff if retries < self.retry.retries => {
                    retries += 1;
                    self.retry.backoff.saturating_mul(1 << (retries - 1).min(16))
                }
                _ => return Err(error),
            };
            tracing::debug!(error = %error, ?pause, "Slack post failed; retrying");
            tokio::time::sleep(pause).await;
        }
    }

    async fn post_once(&self, text: &str) -> Result<(), SlackError> {
        let request = match &self.destination {
            Destination::Webhook { url } => self.client.post(url).body(json!({ "text": text }).to_string()),
            Destination::Bot { endpoint, bearer, channel } => self
                .client
                .post(endpoint)
                .header(AUTHORIZATION, bearer.clone())
                .body(json!({ "channel": channel, "text": text }).to_string()),
        };
        let request = request.header(CONTENT_TYPE, "application/json; charset=utf-8");
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER_BYTES {
            match response.chunk().await.map_err(|e| self.transport(e))? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        self.judge(status, retry_after, &body)
    }

    /// Slack's verdict: webhooks answer `ok` as plain text, the Web API answers
    /// `{"ok":true|false,"error":…}` with HTTP 200 either way.
    fn judge(&self, status: u16, retry_after: Option<Duration>, body: &[u8]) -> Result<(), SlackError> {
        let refused = || SlackError::Refused { status, code: slack_code(body).unwrap_or_else(|| "unknown".into()) };
        match status {
            429 => return Err(SlackError::RateLimited(retry_after.unwrap_or(Duration::from_secs(1)))),
            500.. => return Err(SlackError::Server(status)),
            200..300 => {}
            _ => return Err(refused()),
        }
        let ok = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v.get("ok")?.as_bool());
        match (ok, &self.destination) {
            (Some(true), _) | (None, Destination::Webhook { .. }) => Ok(()),
            (Some(false), _) => Err(refused()),
            (None, Destination::Bot { .. }) => Err(SlackError::Unexpected { status, bytes: body.len() }),
        }
    }

    fn transport(&self, e: reqwest::Error) -> SlackError {
        if e.is_timeout() {
            return SlackError::Timeout(self.timeout);
        }
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            reason = format!("{reason}: {next}");
            cause = next;
        }
        SlackError::Transport(self.scrub(reason))
    }

    /// Removes every secret from `text`: the last line of defence for messages we did not write.
    pub fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// Slack's error code from an answer (`{"error":"invalid_auth"}` or a webhook's plain
/// `no_service`), only if it looks like one: a code is lower-case letters, digits and `_`, so
/// an answer that echoes anything else (a URL, a token) is never quoted.
fn slack_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let code = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v.get("error")?.as_str()?.to_string(),
        Err(_) => text.to_string(),
    };
    let plausible = (1..=64).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plausible.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Secret;

    fn webhook() -> Slack {
        let target = SlackTarget::Webhook { url: Secret::new("https://hooks.slack.com/services/T0/B0/SECRETPATH123") };
        Slack::new(&target, Duration::from_secs(1), SlackRetry::default()).expect("valid")
    }

    #[test]
    fn error_codes_are_quoted_only_when_they_look_like_codes() {
        assert_eq!(slack_code(br#"{"ok":false,"error":"invalid_auth"}"#).as_deref(), Some("invalid_auth"));
        assert_eq!(slack_code(b"no_service\n").as_deref(), Some("no_service"));
        assert_eq!(slack_code(b"Bearer xoxb-1-2"), None);
        assert_eq!(slack_code(b"https://hooks.slack.com/services/T0/B0/X"), None);
        assert_eq!(slack_code(br#"{"ok":false}"#), None);
    }

    #[test]
    fn verdicts() {
        let slack = webhook();
        assert!(slack.judge(200, None, b"ok").is_ok());
        assert!(matches!(slack.judge(200, None, br#"{"ok":false,"error":"x"}"#), Err(SlackError::Refused { .. })));
        assert!(matches!(slack.judge(404, None, b"no_service"), Err(SlackError::Refused { status: 404, .. })));
        assert!(matches!(slack.judge(503, None, b""), Err(SlackError::Server(503))));
        assert!(matches!(
            slack.judge(429, Some(Duration::from_secs(7)), b""),
            Err(SlackError::RateLimited(d)) if d == Duration::from_secs(7)
        ));
    }

    #[test]
    fn the_webhook_path_is_scrubbed_and_refusals_say_what_to_do() {
        let slack = webhook();
        let scrubbed =
            slack.scrub("error sending request for https://hooks.slack.com/services/T0/B0/SECRETPATH123".into());
        assert!(!scrubbed.contains("SECRETPATH123"), "{scrubbed}");
        assert!(!slack.scrub("…/SECRETPATH123…".into()).contains("SECRETPATH123"));
        let refused = SlackError::Refused { status: 200, code: "not_in_channel".into() };
        assert_eq!(
            refused.to_string(),
            "Slack refused the message: not_in_channel (HTTP 200): check the channel name and invite the bot to it"
        );
    }

    #[test]
    fn invalid_targets_are_refused_without_showing_them() {
        let bad = SlackTarget::Webhook { url: Secret::new("hooks.slack.com/services/T0/B0/SECRETPATH123") };
        let err = Slack::new(&bad, Duration::from_secs(1), SlackRetry::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("webhook URL") && !e.contains("SECRETPATH123")), "{err:?}");
        let no_channel = SlackTarget::bot("xoxb-SECRET", " ");
        let err = Slack::new(&no_channel, Duration::from_secs(1), SlackRetry::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("channel") && !e.contains("xoxb-SECRET")), "{err:?}");
    }
}
