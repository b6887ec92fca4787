//! Slack alerting against a fake Slack on a loopback port: both targets' wire format,
//! deduplication under a hand-driven clock, Slack's failure answers, a full queue, shutdown,
//! and secrets kept out of logs and errors.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use racelab::alerts::{
    self, Alert, AlertConfig, AlertMetrics, Drain, Incident, ManualClock, Secret, SlackRetry, SlackTarget, SystemClock,
};
use serde_json::{Value, json};
use tokio::sync::watch;

const WEBHOOK_KEY: &str = "xWebhookKey0123456789SECRET";
const TOKEN: &str = "xoxb-1111-2222-BOTTOKENSECRET";
const CHANNEL: &str = "#racelab-alerts";

/// How the fake answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// `ok` for a webhook, `{"ok":true}` for the Web API.
    Ok,
    /// HTTP 200 `{"ok":false,"error":code}`.
    OkFalse(&'static str),
    Status(u16),
    /// HTTP 429 with `Retry-After: secs`.
    TooMany(u64),
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

struct Fake {
    requests: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    otherwise: Reply,
    count: watch::Sender<usize>,
}

/// A fake Slack: answers from `script` in order, then `otherwise`. Serves until dropped.
struct FakeSlack {
    addr: std::net::SocketAddr,
    fake: Arc<Fake>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    async fn start(script: &[Reply], otherwise: Reply) -> FakeSlack {
        let fake = Arc::new(Fake {
            requests: Mutex::default(),
            script: Mutex::new(script.iter().copied().collect()),
            otherwise,
            count: watch::Sender::new(0),
        });
        let app = Router::new().fallback(answer).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Slack serves");
        });
        FakeSlack { addr, fake, server }
    }

    fn webhook(&self) -> SlackTarget {
        SlackTarget::webhook(format!("http://{}/services/T000TEAM1/B000HOOK1/{WEBHOOK_KEY}", self.addr))
    }

    fn bot(&self) -> SlackTarget {
        SlackTarget::Bot {
            token: Secret::new(TOKEN),
            channel: CHANNEL.into(),
            api_base: format!("http://{}/api", self.addr),
        }
    }

    fn requests(&self) -> Vec<Seen> {
        self.fake.requests.lock().expect("not poisoned").clone()
    }

    fn texts(&self) -> Vec<String> {
        self.requests().iter().map(|r| r.body["text"].as_str().unwrap_or_default().to_string()).collect()
    }

    async fn wait_for_requests(&self, n: usize) {
        let mut count = self.fake.count.subscribe();
        tokio::time::timeout(Duration::from_secs(5), count.wait_for(|c| *c >= n))
            .await
            .expect("the fake Slack sees the requests in time")
            .expect("the fake is alive");
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(State(fake): State<Arc<Fake>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let seen = Seen {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let web_api = seen.path.ends_with("/chat.postMessage");
    fake.requests.lock().expect("not poisoned").push(seen);
    fake.count.send_modify(|c| *c += 1);
    let reply = fake.script.lock().expect("not poisoned").pop_front().unwrap_or(fake.otherwise);
    match reply {
        Reply::Ok if web_api => axum::Json(json!({"ok": true, "channel": "C0123", "ts": "1.2"})).into_response(),
        Reply::Ok => "ok".into_response(),
        Reply::OkFalse(code) => axum::Json(json!({"ok": false, "error": code})).into_response(),
        Reply::Status(s) => (StatusCode::from_u16(s).expect("a status"), "rollup_error").into_response(),
        Reply::TooMany(secs) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())]).into_response(),
        Reply::Hang => std::future::pending().await,
    }
}

/// Alerting against `target`, with retries fast enough for tests.
fn config(target: SlackTarget) -> AlertConfig {
    AlertConfig {
        target: Some(target),
        timeout: Duration::from_secs(5),
        retry: SlackRetry { retries: 2, backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20) },
        ..AlertConfig::default()
    }
}

fn quota() -> Incident {
    Incident::new("kra", "15056743", "quota_exhausted")
}

fn quota_alert() -> Alert {
    Alert::new(quota(), "daily quota used up (10000 requests)")
        .with("track", "seoul")
        .with("race", "3")
        .with("url", "http://127.0.0.1:8080/B551015/API26_2/entrySheet_2?rc_date=20261128")
}

async fn finish(task: alerts::AlertTask) {
    assert_eq!(task.shutdown(Duration::from_secs(5)).await, Drain::Complete);
}

#[tokio::test]
async fn a_webhook_gets_one_json_text_message_per_incident() {
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.webhook()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;

    let requests = slack.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, format!("/services/T000TEAM1/B000HOOK1/{WEBHOOK_KEY}"));
    assert_eq!(r.authorization, None);
    assert!(r.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")), "{:?}", r.content_type);
    let body = r.body.as_object().expect("a JSON object");
    assert_eq!(body.keys().collect::<Vec<_>>(), ["text"]);
    let text = body["text"].as_str().expect("text");
    assert!(text.contains("*quota_exhausted* — kra / 15056743"), "{text}");
    assert!(text.contains("daily quota used up (10000 requests)"), "{text}");
    assert!(text.contains("track: seoul · race: 3 · url: http://127.0.0.1:8080/B551015/"), "{text}");
    assert_eq!(alerter.metrics(), AlertMetrics { sent: 1, ..AlertMetrics::default() });
}

#[tokio::test]
async fn a_bot_posts_to_chat_post_message_with_its_token_and_channel() {
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.bot()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;

    let requests = slack.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/api/chat.postMessage");
    assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    assert!(r.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(r.body["channel"], CHANNEL);
    assert!(r.body["text"].as_str().is_some_and(|t| t.contains("quota_exhausted")), "{:?}", r.body);
    assert_eq!(alerter.metrics().sent, 1);
}

#[tokio::test]
async fn repeats_are_suppressed_for_the_window_then_reminded_then_resolved_once() {
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let clock = ManualClock::new();
    let (alerter, task) = alerts::spawn(config(slack.webhook()), clock.clone()).expect("valid config");

    alerter.raise(quota_alert());
    for _ in 0..3 {
        clock.advance(Duration::from_secs(60));
        alerter.raise(quota_alert());
    }
    clock.advance(Duration::from_secs(26 * 60)); // 29 min after the first message: still inside
    alerter.raise(quota_alert());
    assert_eq!(alerter.metrics().suppressed, 4);
    clock.advance(Duration::from_secs(2 * 60)); // 31 min: a reminder
    alerter.raise(quota_alert());
    alerter.raise(quota_alert()); // the window restarted at the reminder
    clock.advance(Duration::from_secs(10 * 60));
    alerter.resolve(&quota());
    alerter.resolve(&quota()); // already closed
    finish(task).await;

    let texts = slack.texts();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(texts[0].starts_with(":rotating_light: *quota_exhausted* — kra / 15056743\n"), "{}", texts[0]);
    assert!(
        texts[1].starts_with(
            ":rotating_light: still failing after 31m: *quota_exhausted* — kra / 15056743 (4 repeats suppressed since the last message)"
        ),
        "{}",
        texts[1]
    );
    assert_eq!(
        texts[2],
        ":white_check_mark: resolved after 41m: *quota_exhausted* — kra / 15056743 (5 repeats suppressed)"
    );
    assert_eq!(alerter.metrics(), AlertMetrics { sent: 3, suppressed: 5, ..AlertMetrics::default() });
}

#[tokio::test]
async fn resolving_what_is_not_open_sends_nothing_and_kinds_are_separate_incidents() {
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.webhook()), ManualClock::new()).expect("valid config");
    alerter.resolve(&quota());
    alerter.resolve_dataset("kra", "15056743");
    alerter.raise(quota_alert());
    alerter.raise(Alert::new(Incident::new("kra", "15056743", "malformed"), "unexpected XML"));
    alerter.raise(Alert::new(Incident::new("kspo", "15056743", "quota_exhausted"), "quota"));
    alerter.resolve_dataset("kra", "15056743"); // both kra kinds, not kspo
    alerter.resolve(&Incident::new("kra", "15056743", "auth")); // never raised
    finish(task).await;

    let texts = slack.texts();
    assert_eq!(texts.len(), 5, "{texts:#?}");
    let resolved: Vec<_> = texts.iter().filter(|t| t.starts_with(":white_check_mark:")).collect();
    assert_eq!(resolved.len(), 2, "{texts:#?}");
    assert!(resolved.iter().all(|t| t.contains("— kra / 15056743")));
}

#[tokio::test]
async fn a_refusal_fails_at_once_and_a_transient_one_is_retried() {
    let slack = FakeSlack::start(&[Reply::OkFalse("invalid_auth")], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.bot()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;
    assert_eq!(slack.requests().len(), 1, "a configuration error is not retried");
    assert_eq!(alerter.metrics(), AlertMetrics { failed: 1, ..AlertMetrics::default() });
    let failure = alerter.last_failure().expect("a failure is recorded");
    assert!(failure.contains("invalid_auth") && failure.contains("token"), "{failure}");

    let slack = FakeSlack::start(&[Reply::OkFalse("internal_error")], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.bot()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;
    assert_eq!(slack.requests().len(), 2);
    assert_eq!(alerter.metrics(), AlertMetrics { sent: 1, ..AlertMetrics::default() });
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times_then_counted_as_failed() {
    let slack = FakeSlack::start(&[Reply::Status(503), Reply::Status(500), Reply::Status(502)], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.webhook()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    slack.wait_for_requests(3).await;
    // The task survives the failure: the next incident goes through.
    alerter.raise(Alert::new(Incident::new("kra", "15056743", "malformed"), "bad XML"));
    finish(task).await;

    assert_eq!(slack.requests().len(), 4, "1 try + 2 retries, then the next message");
    assert_eq!(alerter.metrics(), AlertMetrics { sent: 1, failed: 1, ..AlertMetrics::default() });
    assert_eq!(alerter.last_failure().as_deref(), Some("Slack answered HTTP 502"));
}

#[tokio::test]
async fn a_429_is_waited_out_once_and_the_wait_is_capped() {
    let _turn = crate::common::turns::turn_async(crate::common::turns::TIMED).await;
    // Retry-After: 1 hour, capped at max_wait (20 ms here).
    let slack = FakeSlack::start(&[Reply::TooMany(3_600)], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.bot()), SystemClock).expect("valid config");
    let started = Instant::now();
    alerter.raise(quota_alert());
    finish(task).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(slack.requests().len(), 2);
    assert_eq!(alerter.metrics().sent, 1);

    let slack = FakeSlack::start(&[], Reply::TooMany(0)).await;
    let (alerter, task) = alerts::spawn(config(slack.bot()), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;
    assert_eq!(slack.requests().len(), 2, "one wait, then give up");
    assert_eq!(alerter.metrics(), AlertMetrics { failed: 1, ..AlertMetrics::default() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_at_once_when_slack_hangs_and_shutdown_keeps_its_deadline() {
    let _turn = crate::common::turns::turn_async(crate::common::turns::TIMED).await;
    let slack = FakeSlack::start(&[], Reply::Hang).await;
    let config = AlertConfig { queue: 2, timeout: Duration::from_secs(30), ..config(slack.webhook()) };
    let (alerter, task) = alerts::spawn(config, SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    slack.wait_for_requests(1).await; // the task is now stuck on a post that never returns

    let started = Instant::now();
    for n in 0..50 {
        alerter.raise(Alert::new(Incident::new("kra", format!("dataset-{n}"), "transient"), "timeout"));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100), "50 raises took {took:?}");
    assert_eq!(alerter.metrics().dropped_queue_full, 48);
    assert_eq!(alerter.metrics().queued, 3, "one in flight, two queued");

    let started = Instant::now();
    assert_eq!(task.shutdown(Duration::from_millis(50)).await, Drain::Abandoned { messages: 3 });
    assert!(started.elapsed() < Duration::from_secs(1), "shutdown took {:?}", started.elapsed());
    // After shutdown the handle still works: it drops, it does not block or panic.
    alerter.raise(Alert::new(Incident::new("kra", "late", "transient"), "late"));
}

#[tokio::test]
async fn shutdown_delivers_everything_queued() {
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let (alerter, task) = alerts::spawn(config(slack.webhook()), SystemClock).expect("valid config");
    // Nothing runs between these raises (one thread, no await): all ten are still queued.
    for n in 0..10 {
        alerter.raise(Alert::new(Incident::new("kspo", format!("d{n}"), "transient"), "timeout"));
    }
    assert_eq!(alerter.metrics().queued, 10);
    finish(task).await;
    assert_eq!(slack.requests().len(), 10);
    assert_eq!(alerter.metrics(), AlertMetrics { sent: 10, ..AlertMetrics::default() });
}

/// Log lines written while the guard lives, on this thread (the tests below run the task and
/// the HTTP client on a single-threaded runtime, so that covers them).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter("trace,axum=off") // everything but the fake server
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

#[tokio::test]
async fn the_token_and_the_webhook_url_never_appear_in_logs_or_errors() {
    let (logs, _guard) = Logs::capture();
    let mut shown = Vec::new(); // error strings and debug output

    // Every way a post can fail, for both targets.
    for (script, otherwise) in [
        (vec![], Reply::Status(500)),
        (vec![], Reply::OkFalse("invalid_auth")),
        (vec![Reply::TooMany(0)], Reply::TooMany(0)),
        (vec![], Reply::Status(404)),
    ] {
        let slack = FakeSlack::start(&script, otherwise).await;
        for target in [slack.webhook(), slack.bot()] {
            let config = config(target);
            shown.push(format!("{config:?}"));
            let (alerter, task) = alerts::spawn(config, SystemClock).expect("valid config");
            alerter.raise(quota_alert());
            finish(task).await;
            assert_eq!(alerter.metrics().failed, 1);
            shown.extend(alerter.last_failure());
            shown.push(format!("{alerter:?}"));
        }
    }
    // Nobody listening at the webhook's address.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("bound");
    let target = SlackTarget::webhook(format!("http://{closed}/services/T000TEAM1/B000HOOK1/{WEBHOOK_KEY}"));
    let (alerter, task) = alerts::spawn(config(target), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    finish(task).await;
    let failure = alerter.last_failure().expect("a failure");
    assert!(failure.starts_with("cannot reach Slack"), "{failure}");
    shown.push(failure);
    // Targets refused at start.
    for bad in [SlackTarget::webhook(format!("hooks.slack.com/services/{WEBHOOK_KEY}")), SlackTarget::bot(TOKEN, "")] {
        shown.push(alerts::spawn(config(bad), SystemClock).err().map(|e| e.to_string()).expect("refused"));
    }

    let logs = logs.text();
    assert_eq!(logs.matches("alert not delivered to Slack").count(), 9, "{logs}");
    for text in shown.iter().chain([&logs]) {
        for secret in [WEBHOOK_KEY, "B000HOOK1", TOKEN, "BOTTOKENSECRET"] {
            assert!(!text.contains(secret), "{secret} shows in:\n{text}");
        }
    }
}

#[tokio::test]
async fn without_a_target_alerts_are_logged_and_dropped() {
    let (logs, _guard) = Logs::capture();
    let (alerter, task) = alerts::spawn(AlertConfig::default(), SystemClock).expect("valid config");
    alerter.raise(quota_alert());
    alerter.raise(quota_alert());
    alerter.resolve(&quota());
    finish(task).await;

    let logs = logs.text();
    assert!(logs.contains("WARN") && logs.contains("daily quota used up (10000 requests)"), "{logs}");
    assert!(logs.contains("INFO") && logs.contains("resolved after 0s"), "{logs}");
    assert_eq!(alerter.metrics(), AlertMetrics { suppressed: 1, ..AlertMetrics::default() });
}

/// Several host processes — two at once, then one restarted — share the incident book in
/// PostgreSQL: an incident is announced once, and resolved once, by whichever process sees it
/// resolved, even one that never raised it.
#[sqlx::test(migrations = false)]
async fn incidents_shared_in_postgres_are_opened_once_and_always_resolved(pool: sqlx::PgPool) {
    racelab::store::migrate(&pool).await.expect("migrate");
    let slack = FakeSlack::start(&[], Reply::Ok).await;
    let shared = || AlertConfig { incidents: Some(pool.clone()), ..config(slack.webhook()) };
    let (first, first_task) = alerts::spawn(shared(), SystemClock).expect("valid config");
    let (second, second_task) = alerts::spawn(shared(), SystemClock).expect("valid config");
    first.raise(quota_alert());
    second.raise(quota_alert());
    finish(first_task).await;
    finish(second_task).await;
    let opened = |slack: &FakeSlack, mark: &str| {
        slack.requests().iter().filter(|r| r.body["text"].as_str().is_some_and(|t| t.starts_with(mark))).count()
    };
    assert_eq!(opened(&slack, ":rotating_light:"), 1, "two hosts, one incident, one message");
    assert_eq!(second.metrics().suppressed + first.metrics().suppressed, 1);

    // A restarted host knows the open incident: a repeat is suppressed, and it resolves it.
    let (restarted, task) = alerts::spawn(shared(), SystemClock).expect("valid config");
    assert_eq!(restarted.load_open().await.expect("book"), 1);
    assert!(restarted.is_open(&quota()));
    restarted.raise(quota_alert());
    restarted.resolve(&quota());
    finish(task).await;
    assert_eq!(opened(&slack, ":rotating_light:"), 1);
    assert_eq!(opened(&slack, ":white_check_mark:"), 1);

    // A host that never heard of an incident still sends its one resolved message; a second
    // resolve finds it closed.
    let other = Incident::new("kspo", "15107830", "malformed");
    let (a, a_task) = alerts::spawn(shared(), SystemClock).expect("valid config");
    a.raise(Alert::new(other.clone(), "truncated body"));
    finish(a_task).await;
    let (b, b_task) = alerts::spawn(shared(), SystemClock).expect("valid config");
    b.resolve(&other);
    b.resolve(&other);
    finish(b_task).await;
    assert_eq!(opened(&slack, ":white_check_mark:"), 2);
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_incidents WHERE resolved_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("book");
    assert_eq!(open, 0);

    // And a process whose ledger still holds an incident another one resolved opens it anew
    // when it comes back after the window.
    let short = || AlertConfig { repeat_window: Duration::ZERO, ..shared() };
    let (c, c_task) = alerts::spawn(short(), SystemClock).expect("valid config");
    let (d, d_task) = alerts::spawn(short(), SystemClock).expect("valid config");
    c.raise(Alert::new(other.clone(), "again"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.load_open().await.expect("book"), 1);
    c.resolve(&other);
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.raise(Alert::new(other.clone(), "and again"));
    finish(c_task).await;
    finish(d_task).await;
    let texts: Vec<Value> = slack.requests().iter().map(|r| r.body["text"].clone()).collect();
    assert_eq!(opened(&slack, ":rotating_light:"), 4, "{texts:?}");
    assert_eq!(opened(&slack, ":white_check_mark:"), 3, "{texts:?}");
}
