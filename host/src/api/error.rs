//! Errors as the API answers them, and the request id that ties an answer to the log.
//!
//! Every request gets an id (a ULID), sent back in `x-request-id` and in every error body, and
//! carried by the request's tracing span, so a line in the log and an answer a user holds can
//! be matched. An error's body is `{"error": "<fixed text>", "request_id": "…"}`: the text says
//! what went wrong in terms of the request; what the host ran into inside (an SQL error, a
//! path) goes to the log under the same id and never into the answer.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The header an answer carries its request id in.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives the request an id, runs it inside a span that carries it, and answers with it.
pub async fn with_request_id(request: Request, next: Next) -> Response {
    let id = ulid::Ulid::generate().to_string();
    let span = tracing::info_span!("http", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request).instrument(span)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The id of the request being answered (empty outside one).
pub fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in terms of the request.
    #[schema(example = "there is no race seoul-2026-12-05-3")]
    pub error: String,
    /// The request's id; the host's log has the details under it.
    #[schema(example = "01JEXAMPLE0000000000000000")]
    pub request_id: String,
}

/// An answer other than success.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The host could not answer for a reason of its own (the database is down, say): logged in
    /// full under the request id, answered with a fixed text.
    pub fn unavailable(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %request_id(), "{what}: {error}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the host cannot answer this now (its database or a part it needs is unavailable); the host's log has the details under this request id",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.message.into_owned(), request_id: request_id() };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `value` of the request's `what` (a filter, a name) if PostgreSQL can hold it: text with a
/// NUL character cannot be bound to a query at all, so it is refused before it gets there.
pub fn text<'a>(what: &str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.contains('\0') {
        return Err(ApiError::bad_request(format!("{what} may not contain a NUL character")));
    }
    Ok(value)
}

/// A path no route has.
pub async fn no_route() -> ApiError {
    ApiError::not_found("there is no such path; /api/openapi.json lists the API")
}

/// A method the path does not take.
pub async fn wrong_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "the path does not take this method; /api/openapi.json lists the API")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_carries_the_request_id_it_was_made_under() {
        let response = REQUEST_ID.scope("01TESTID".into(), async { ApiError::not_found("gone").into_response() }).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body, serde_json::json!({"error": "gone", "request_id": "01TESTID"}));
    }

    #[test]
    fn text_with_a_nul_is_refused_before_it_reaches_a_query() {
        assert_eq!(text("source", "kra").expect("plain"), "kra");
        assert_eq!(text("source", "k\0ra").expect_err("NUL").status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn an_internal_error_answers_a_fixed_text_without_the_cause() {
        let response =
            ApiError::unavailable("reading races", "relation \"races\" does not exist at /var/lib").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(!text.contains("relation") && !text.contains("/var/lib"), "{text}");
        assert!(text.contains("request id"), "{text}");
    }
}
