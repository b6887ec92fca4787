//! The admin token: every request that changes something carries `Authorization: Bearer
//! $RACELAB_ADMIN_TOKEN`; with no token set, changes through the API are off. The token is
//! compared in constant time and never logged.

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::secret::Secret;

/// The name of the security scheme in the OpenAPI document.
pub const SCHEME: &str = "admin_token";

/// `Ok` when `headers` carry the admin token `token`.
pub fn require_admin(token: Option<&Secret>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Err(ApiError::new(
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
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid admin token is required (Authorization: Bearer …)",
        ));
    }
    Ok(())
}

/// Compares two secrets in time that depends on neither: their digests, byte by byte, to the
/// end.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-token", "s3cret-tokem"));
        assert!(!same_secret("", "s3cret-token"));
        assert!(!same_secret("s3cret-token-and-more", "s3cret-token"));
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[test]
    fn changes_need_the_token_and_are_off_without_one() {
        let token = Secret::new("tok-123".to_string());
        assert!(require_admin(Some(&token), &bearer("Bearer tok-123")).is_ok());
        let wrong = require_admin(Some(&token), &bearer("Bearer tok-124")).expect_err("wrong token");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let none = require_admin(Some(&token), &HeaderMap::new()).expect_err("no header");
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        let basic = require_admin(Some(&token), &bearer("Basic tok-123")).expect_err("not bearer");
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        let off = require_admin(None, &bearer("Bearer tok-123")).expect_err("off");
        assert_eq!(off.status(), StatusCode::FORBIDDEN);
    }
}
