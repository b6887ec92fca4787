//! The plugin registry over HTTP, for operators without database access (a Railway shell, a
//! deploy pipeline). Reads are open; every change needs `Authorization: Bearer
//! $RACELAB_ADMIN_TOKEN`, and with no token set they are off.
//!
//! | path | does |
//! |---|---|
//! | `GET /api/plugins` | the installed versions, the active one of each plugin marked |
//! | `POST /api/plugins[?activate=true][&force=true]` | installs the component in the body (`application/wasm`) |
//! | `POST /api/plugins/{name}/activate` | `{"version": "…", "force": false}`: makes it active after its checks |
//! | `POST /api/plugins/{name}/rollback` | makes the version active before the current one active again |
//!
//! The token is compared in constant time and never logged. Answers are JSON; a refusal says
//! why (a failed check, an unknown version); a database error is logged and answered with a
//! fixed message.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::plugins::Runtime;
use crate::plugins::registry::{Registry, RegistryError};
use crate::secret::Secret;

/// Largest component an upload may carry.
const MAX_COMPONENT_BYTES: usize = 32 << 20;

/// What the admin handlers need.
#[derive(Clone)]
pub struct AdminState {
    pub registry: Registry,
    pub runtime: Arc<Runtime>,
    /// `RACELAB_ADMIN_TOKEN`; `None` turns the changing endpoints off.
    pub token: Option<Secret>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").field("token_set", &self.token.is_some()).finish_non_exhaustive()
    }
}

/// The routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/plugins", get(list).post(install))
        .route("/api/plugins/{name}/activate", post(activate))
        .route("/api/plugins/{name}/rollback", post(rollback))
        .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The refusal of a request without the admin token; `None` when it carries it.
fn refused(state: &AdminState, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &state.token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "changes through the API are off on this host: set RACELAB_ADMIN_TOKEN to turn them on",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if given.is_empty() || !same_secret(given.trim(), token.expose()) {
        let mut response = error(StatusCode::UNAUTHORIZED, "a valid admin token is required (Authorization: Bearer …)");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return Some(response);
    }
    None
}

/// Compares two secrets in time that depends on neither: their digests, byte by byte, to the
/// end.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn registry_error(e: RegistryError) -> Response {
    let status = match &e {
        RegistryError::UnknownVersion { .. } | RegistryError::UnknownPlugin { .. } => StatusCode::NOT_FOUND,
        RegistryError::VersionTaken { .. } | RegistryError::NothingToRollBack { .. } => StatusCode::CONFLICT,
        _ if e.is_refusal() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => {
            tracing::error!("plugin registry request failed: {e}");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "the plugin registry is unavailable; see the host's log");
        }
    };
    error(status, e.to_string())
}

/// Who did it, for the registry's history.
const BY: &str = "api";

async fn list(State(state): State<AdminState>) -> Response {
    match state.registry.list().await {
        Ok(versions) => Json(json!({ "versions": versions })).into_response(),
        Err(e) => registry_error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct InstallQuery {
    #[serde(default)]
    activate: bool,
    #[serde(default)]
    force: bool,
}

async fn install(
    State(state): State<AdminState>,
    Query(query): Query<InstallQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refused(&state, &headers) {
        return refused;
    }
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the body must be the component (.wasm)");
    }
    let (installed, _) = match state.registry.install(&state.runtime, body.to_vec(), BY).await {
        Ok(done) => done,
        Err(e) => return registry_error(e),
    };
    let activated = if query.activate {
        match state.registry.activate(&state.runtime, &installed.name, &installed.version, BY, query.force).await {
            Ok(a) => Some(a),
            Err(e) => return registry_error(e),
        }
    } else {
        None
    };
    let status = if installed.new { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(json!({ "installed": installed, "activated": activated }))).into_response()
}

#[derive(Debug, Deserialize)]
struct ActivateBody {
    version: String,
    #[serde(default)]
    force: bool,
}

async fn activate(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ActivateBody>, JsonRejection>,
) -> Response {
    if let Some(refused) = refused(&state, &headers) {
        return refused;
    }
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, r#"the body must be JSON: {"version": "…", "force": false}"#);
    };
    match state.registry.activate(&state.runtime, &name, &body.version, BY, body.force).await {
        Ok(a) => Json(json!({ "activated": a })).into_response(),
        Err(e) => registry_error(e),
    }
}

async fn rollback(State(state): State<AdminState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refused) = refused(&state, &headers) {
        return refused;
    }
    match state.registry.rollback(&state.runtime, &name, BY).await {
        Ok(a) => Json(json!({ "activated": a })).into_response(),
        Err(e) => registry_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-token", "s3cret-tokem"));
        assert!(!same_secret("", "s3cret-token"));
        assert!(!same_secret("s3cret-token-and-more", "s3cret-token"));
    }
}
