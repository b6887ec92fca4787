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
//! Answers are JSON; a refusal says why (a failed check, an unknown version); a database error
//! is logged and answered with a fixed message (`error.rs`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, text};
use crate::plugins::Runtime;
use crate::plugins::registry::{Activated, Installed, Registry, RegistryError, VersionRow};
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

/// The plugin routes, on any state that holds an [`AdminState`].
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    AdminState: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(activate))
        .routes(routes!(rollback))
        .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES))
}

/// The plugin routes alone, served with the API's request ids and JSON errors.
pub fn router(state: AdminState) -> axum::Router {
    let (router, _) = routes().with_state(state).split_for_parts();
    super::finish(router)
}

fn registry_error(e: RegistryError) -> ApiError {
    let status = match &e {
        RegistryError::UnknownVersion { .. } | RegistryError::UnknownPlugin { .. } => StatusCode::NOT_FOUND,
        RegistryError::VersionTaken { .. } | RegistryError::NothingToRollBack { .. } => StatusCode::CONFLICT,
        _ if e.is_refusal() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => return ApiError::unavailable("a plugin registry request", e),
    };
    ApiError::new(status, e.to_string())
}

/// Who did it, for the registry's history.
const BY: &str = "api";

/// The installed versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Versions {
    pub versions: Vec<VersionRow>,
}

#[utoipa::path(
    get,
    path = "/api/plugins",
    tag = "plugins",
    summary = "The installed plugin versions, the active one of each marked",
    responses(
        (status = 200, description = "The versions", body = Versions),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
async fn list(State(state): State<AdminState>) -> Result<Json<Versions>, ApiError> {
    let versions = state.registry.list().await.map_err(registry_error)?;
    Ok(Json(Versions { versions }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InstallQuery {
    /// Make the new version active after its checks.
    #[serde(default)]
    activate: bool,
    /// Activate even if a check fails.
    #[serde(default)]
    force: bool,
}

/// What an install did.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallOutcome {
    pub installed: Installed,
    /// The activation, when asked for.
    pub activated: Option<Activated>,
}

#[utoipa::path(
    post,
    path = "/api/plugins",
    tag = "plugins",
    summary = "Install a component (and activate it)",
    params(InstallQuery),
    request_body(
        description = "The component (.wasm), sent as application/wasm or application/octet-stream",
        content(([u8] = "application/wasm"), ([u8] = "application/octet-stream"))
    ),
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Installed", body = InstallOutcome),
        (status = 200, description = "These exact bytes were installed already", body = InstallOutcome),
        (status = 400, description = "No body, or a bad query", body = ErrorBody),
        (status = 401, description = "No valid admin token", body = ErrorBody),
        (status = 403, description = "Changes through the API are off on this host", body = ErrorBody),
        (status = 409, description = "The version is installed with other bytes", body = ErrorBody),
        (status = 413, description = "Larger than 32 MiB", body = ErrorBody),
        (status = 422, description = "Not a component the host can load, or a failed check", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
async fn install(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<InstallQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(state.token.as_ref(), &headers)?;
    let Query(query) = query.map_err(|_| ApiError::bad_request("activate and force are true or false"))?;
    let body = body.map_err(|e| ApiError::new(e.status(), "the body could not be read (at most 32 MiB)"))?;
    if body.is_empty() {
        return Err(ApiError::bad_request("the body must be the component (.wasm)"));
    }
    let (installed, _) = state.registry.install(&state.runtime, body.to_vec(), BY).await.map_err(registry_error)?;
    let activated = if query.activate {
        Some(
            state
                .registry
                .activate(&state.runtime, &installed.name, &installed.version, BY, query.force)
                .await
                .map_err(registry_error)?,
        )
    } else {
        None
    };
    let status = if installed.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(InstallOutcome { installed, activated })).into_response())
}

/// Which version to make active.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivateBody {
    version: String,
    /// Activate even if a check fails.
    #[serde(default)]
    force: bool,
}

/// An activation or rollback.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivateOutcome {
    pub activated: Activated,
}

#[utoipa::path(
    post,
    path = "/api/plugins/{name}/activate",
    tag = "plugins",
    summary = "Make an installed version active, after its checks",
    params(("name" = String, Path, description = "The plugin's name", example = "kra")),
    request_body = ActivateBody,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Active", body = ActivateOutcome),
        (status = 400, description = "The body is not the JSON asked for", body = ErrorBody),
        (status = 401, description = "No valid admin token", body = ErrorBody),
        (status = 403, description = "Changes through the API are off on this host", body = ErrorBody),
        (status = 404, description = "No such plugin or version", body = ErrorBody),
        (status = 422, description = "A check failed", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
async fn activate(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ActivateBody>, JsonRejection>,
) -> Result<Json<ActivateOutcome>, ApiError> {
    require_admin(state.token.as_ref(), &headers)?;
    let Ok(Json(body)) = body else {
        return Err(ApiError::bad_request(r#"the body must be JSON: {"version": "…", "force": false}"#));
    };
    let (name, version) = (text("the plugin name", &name)?, text("the version", &body.version)?);
    let activated =
        state.registry.activate(&state.runtime, name, version, BY, body.force).await.map_err(registry_error)?;
    Ok(Json(ActivateOutcome { activated }))
}

#[utoipa::path(
    post,
    path = "/api/plugins/{name}/rollback",
    tag = "plugins",
    summary = "Make the version active before the current one active again",
    params(("name" = String, Path, description = "The plugin's name", example = "kra")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Rolled back", body = ActivateOutcome),
        (status = 400, description = "A name PostgreSQL cannot hold (a NUL character)", body = ErrorBody),
        (status = 401, description = "No valid admin token", body = ErrorBody),
        (status = 403, description = "Changes through the API are off on this host", body = ErrorBody),
        (status = 404, description = "No such plugin", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = ErrorBody),
        (status = 422, description = "The earlier version fails a check now", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
async fn rollback(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ActivateOutcome>, ApiError> {
    require_admin(state.token.as_ref(), &headers)?;
    let name = text("the plugin name", &name)?;
    let activated = state.registry.rollback(&state.runtime, name, BY).await.map_err(registry_error)?;
    Ok(Json(ActivateOutcome { activated }))
}
