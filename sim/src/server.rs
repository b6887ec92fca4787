//! The request pipeline: route → key → per-second limit → faults → quota → data.
//!
//! The order mirrors a gateway in front of a data service: the gateway knows the path and the
//! key before anything else, injected faults stand for the gateway or network failing (so they
//! consume no quota), and only requests the data service answers count against the quota.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::SimConfig;
use crate::calendar::Calendar;
use crate::endpoint::{self, Ctx, Endpoint, Org};
use crate::faults::{self, Fault, Malformed};
use crate::limits::{Limiter, QuotaStyle};
use crate::query::{NO_SERVICE, Paging, Query};
use crate::wire::{self, Format, Page};

const GATEWAY_XML: &str = "text/xml;charset=UTF-8";

/// Shared by every request.
struct AppState {
    config: SimConfig,
    calendar: Calendar,
    limiter: Limiter,
    sequence: AtomicU64,
    /// `config.shape_changes` with the added names as the items' `'static` keys, made once.
    shapes: Vec<(String, Vec<&'static str>, Vec<String>)>,
}

/// The router serving every endpoint plus `/healthz`.
pub(crate) fn router(config: SimConfig) -> Router {
    // Leaked once per router: a handful of field names for the life of the simulator.
    let shapes = config
        .shape_changes
        .iter()
        .map(|c| {
            let add = c.add.iter().map(|f| &*Box::leak(f.clone().into_boxed_str())).collect();
            (c.dataset.clone(), add, c.drop.clone())
        })
        .collect();
    let state = Arc::new(AppState {
        calendar: Calendar::new(config.seed),
        limiter: Limiter::new(config.limits.clone()),
        sequence: AtomicU64::new(0),
        shapes,
        config,
    });
    Router::new().route("/healthz", get(|| async { "ok" })).fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    let path = uri.path();
    let query = Query::parse(uri.query());
    let endpoint = endpoint::find(path);
    let wants_json = match endpoint.map(|e| e.org).or_else(|| Org::of_path(path)) {
        Some(org) => query.wants_json(org.format_param()),
        None => query.wants_json("_type") || query.wants_json("resultType"),
    };
    let format = if wants_json { Format::Json } else { Format::Xml };
    let Some(endpoint) = endpoint else {
        let body = wire::render_error(format, NO_SERVICE.code, NO_SERVICE.msg);
        return (StatusCode::OK, [(header::CONTENT_TYPE, format.content_type())], body).into_response();
    };
    let key = match admit(&state, endpoint, &query) {
        Ok(key) => key,
        Err(refusal) => return refusal.into_response(),
    };
    let sequence = state.sequence.fetch_add(1, Ordering::Relaxed);
    let decision = faults::decide(&state.config.faults, state.config.seed, sequence);
    if decision.slow {
        tokio::time::sleep(Duration::from_millis(state.config.faults.slow_ms)).await;
    }
    if let Some(fault) = decision.fault {
        tracing::debug!(path, sequence, ?fault, slow = decision.slow, "injecting a fault");
    }
    match decision.fault {
        Some(Fault::Drop) => return dropped(),
        Some(Fault::ServerError(code)) => return server_error(code),
        Some(Fault::Gateway(code, msg)) => return gateway(StatusCode::OK, code, msg),
        Some(Fault::Malformed(_)) | None => {}
    }
    if !take_quota(&state, endpoint, &key) {
        return Refusal::QuotaExhausted(state.limiter.quota_style()).into_response();
    }
    let body = answer(&state, endpoint, &query, format);
    match decision.fault {
        Some(Fault::Malformed(kind)) => malformed(kind, body, format),
        _ => (StatusCode::OK, [(header::CONTENT_TYPE, format.content_type())], body).into_response(),
    }
}

/// Why the gateway refuses a request without serving it.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Missing, unregistered or double-encoded key: code 30.
    Key,
    /// Over the per-second limit: HTTP 429 with `Retry-After: 1`.
    RateLimited,
    /// The day's quota of the dataset is used up: code 22 (HTTP 200 or 429).
    QuotaExhausted(QuotaStyle),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Key => gateway(StatusCode::OK, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
            Refusal::RateLimited => {
                let headers = [(header::RETRY_AFTER, "1"), (header::CONTENT_TYPE, "text/plain;charset=UTF-8")];
                (StatusCode::TOO_MANY_REQUESTS, headers, "API rate limit exceeded").into_response()
            }
            Refusal::QuotaExhausted(style) => {
                let status = match style {
                    QuotaStyle::Code22 => StatusCode::OK,
                    QuotaStyle::Http429 => StatusCode::TOO_MANY_REQUESTS,
                };
                gateway(status, "22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR")
            }
        }
    }
}

/// The gateway's checks before anything is served: the key, then the per-second limit.
fn admit(state: &AppState, endpoint: &Endpoint, query: &Query) -> Result<String, Refusal> {
    let Some(key) = registered_key(query, endpoint.org, &state.config.unregistered_keys) else {
        tracing::debug!(path = endpoint.path, "missing, unregistered or double-encoded key: code 30");
        return Err(Refusal::Key);
    };
    if !state.limiter.per_second(&key, Instant::now()) {
        return Err(Refusal::RateLimited);
    }
    Ok(key)
}

/// Counts the request against the key's daily quota of the dataset (KST day of the clock);
/// `false` when it is used up.
fn take_quota(state: &AppState, endpoint: &Endpoint, key: &str) -> bool {
    let today = state.config.clock.now().date_naive();
    let granted = state.limiter.quota(key, endpoint.dataset, today);
    if !granted {
        tracing::debug!(path = endpoint.path, dataset = endpoint.dataset, "daily quota exhausted");
    }
    granted
}

/// The decoded key if it is present, sent encoded once, and registered.
fn registered_key(query: &Query, org: Org, unregistered: &[String]) -> Option<String> {
    let name = org.key_params().iter().find(|n| query.raw(n).is_some())?;
    let raw = query.raw(name)?;
    // `%25` is an encoded `%`: the key was percent-encoded twice.
    if raw.is_empty() || raw.to_ascii_uppercase().contains("%25") {
        return None;
    }
    let key = query.get(name)?.to_owned();
    (!unregistered.contains(&key)).then_some(key)
}

fn answer(state: &AppState, endpoint: &Endpoint, query: &Query, format: Format) -> String {
    let paging = match Paging::from_query(query, endpoint.org.max_rows()) {
        Ok(p) => p,
        Err(e) => return wire::render_error(format, e.code, e.msg),
    };
    let ctx = Ctx { calendar: &state.calendar, now: state.config.clock.now(), odds: state.config.odds, query };
    let rows = endpoint::rows(endpoint.op, &ctx);
    let total = rows.total();
    let mut items = rows.page(paging);
    for (_, add, drop) in state.shapes.iter().filter(|(dataset, _, _)| dataset == endpoint.dataset) {
        for item in &mut items {
            item.retain(|(name, _)| !drop.iter().any(|d| d == name));
            item.extend(add.iter().map(|name| (*name, wire::s("new"))));
        }
    }
    let page = Page {
        items,
        num_of_rows: paging.num_of_rows,
        page_no: paging.page_no,
        total,
        counts_as_strings: endpoint.org == Org::Kspo,
    };
    wire::render(format, &page)
}

fn gateway(status: StatusCode, code: &str, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, GATEWAY_XML)], wire::gateway_xml(code, msg)).into_response()
}

fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!("<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>");
    (status, [(header::CONTENT_TYPE, "text/html;charset=UTF-8")], body).into_response()
}

fn malformed(kind: Malformed, body: String, format: Format) -> Response {
    match kind {
        Malformed::Truncated => {
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            let body = body[..cut].to_owned();
            (StatusCode::OK, [(header::CONTENT_TYPE, format.content_type())], body).into_response()
        }
        Malformed::Html => {
            let page = "<!DOCTYPE html><html><head><title>서비스 점검 안내</title></head>\
                        <body><h1>시스템 점검 중입니다.</h1><p>잠시 후 다시 이용해 주십시오.</p></body></html>";
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html;charset=UTF-8")], page).into_response()
        }
    }
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// without writing even the status line, so the client sees the connection closed before
/// any response (reqwest: an error from `send()`), like a gateway dropping the socket.
fn dropped() -> Response {
    Response::new(Body::new(DroppedBody))
}

struct DroppedBody;

impl http_body::Body for DroppedBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let error = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "simulated dropped connection");
        std::task::Poll::Ready(Some(Err(error)))
    }
}
