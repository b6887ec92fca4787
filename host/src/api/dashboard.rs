//! The dashboard at `/`: a page and its scripts, embedded in the binary (no build step, no
//! files to ship), reading the admin API from the same host. Its content security policy lets
//! it load and ask nothing but this host.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The page's assets: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/dashboard/app.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../assets/dashboard/app.css")),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("../../assets/vendor/uplot/uPlot.min.css")),
    ("uPlot.LICENSE.txt", "text/plain; charset=utf-8", include_bytes!("../../assets/vendor/uplot/LICENSE")),
];

const INDEX: &str = include_str!("../../assets/dashboard/index.html");

/// Only this host, for everything; no inline script; not framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /`.
pub async fn index() -> Response {
    secured(
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], INDEX)
            .into_response(),
    )
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => secured(
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response(),
        ),
        None => ApiError::not_found("there is no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_assets_that_exist() {
        for src in INDEX.split("/assets/").skip(1) {
            let name = src.split('"').next().unwrap_or_default();
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name} is not embedded");
        }
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"), "the page names no other host");
        assert!(!INDEX.contains("<script>"), "no inline script: the policy forbids it");
    }
}
