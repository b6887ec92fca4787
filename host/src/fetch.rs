//! Sending a plugin's requests: the base URL and the credential are added here, every query
//! value is percent-encoded exactly once, and the credential never leaves this module in a
//! URL, a log line or an error.
//!
//! Rate limits, quotas and the raw archive wrap this in the daemon (issue 2/4); the plugin
//! CLI uses it directly.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub use crate::secret::Secret;

use crate::plugins::wit::{HttpRequest, HttpResponse};

/// RFC 3986 unreserved characters stay as they are; everything else is encoded, including
/// `+`, `/` and `=` from base64 keys and every byte of UTF-8 Korean values.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A response body larger than this is refused: the largest real page is well under 1 MiB.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Where a source lives and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    base_url: String,
    credential: Option<(String, Secret)>,
}

impl Endpoint {
    /// `base_url` like `https://apis.data.go.kr` or `http://127.0.0.1:8080`; `credential` is the
    /// manifest's `credential-param` with the key to put in it: the portal's "Decoding" key
    /// (`+/=`) or its "Encoding" key (`%2B%2F%3D`), which is decoded here so that it is encoded
    /// exactly once on the wire.
    pub fn new(base_url: &str, credential: Option<(String, Secret)>) -> Self {
        let credential = credential.map(|(param, key)| (param, decode_key(&key)));
        Endpoint { base_url: base_url.trim_end_matches('/').to_string(), credential }
    }

    /// The URL to send, with the credential.
    fn url(&self, request: &HttpRequest) -> String {
        let mut url = self.display_url(request);
        if let Some((param, key)) = &self.credential {
            url.push(if request.query.is_empty() { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(param), encode(key.expose())));
        }
        url
    }

    /// The URL as logs, errors and the archive show it: without the credential.
    pub fn display_url(&self, request: &HttpRequest) -> String {
        let mut url = format!("{}{}", self.base_url, request.path);
        for (i, (k, v)) in request.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(k), encode(v)));
        }
        url
    }
}

fn decode_key(key: &Secret) -> Secret {
    let raw = key.expose();
    if raw.contains('%') { Secret::new(percent_decode_str(raw).decode_utf8_lossy().into_owned()) } else { key.clone() }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Sending failed before a complete HTTP response arrived. URLs here carry no credential.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no answer from {url} within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the answer from {url} broke off: {reason}")]
    Body { url: String, reason: String },
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// An HTTP client with a per-request timeout.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
}

impl Fetcher {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("racelab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        Ok(Fetcher { client, timeout })
    }

    /// Sends one request and reads the whole answer.
    pub async fn fetch(&self, endpoint: &Endpoint, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        let shown = endpoint.display_url(request);
        let classify = |e: reqwest::Error, during_body: bool| {
            let timed_out = e.is_timeout();
            let reason = root_cause(&e.without_url());
            if timed_out {
                FetchError::Timeout { url: shown.clone(), timeout: self.timeout }
            } else if during_body {
                FetchError::Body { url: shown.clone(), reason }
            } else {
                FetchError::Connect { url: shown.clone(), reason }
            }
        };
        let mut response = self.client.get(endpoint.url(request)).send().await.map_err(|e| classify(e, false))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, true))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge { url: shown, limit: MAX_BODY_BYTES });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> HttpRequest {
        HttpRequest {
            dataset: "15107830".into(),
            path: "/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I".into(),
            query: vec![("meet_nm".into(), "광명".into()), ("week_tcnt".into(), "01".into())],
        }
    }

    #[test]
    fn korean_values_and_the_key_are_encoded_exactly_once() {
        let endpoint = Endpoint::new("http://sim/", Some(("serviceKey".into(), Secret::new("ab+c/d=="))));
        assert_eq!(
            endpoint.url(&req()),
            "http://sim/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I?meet_nm=%EA%B4%91%EB%AA%85&week_tcnt=01&serviceKey=ab%2Bc%2Fd%3D%3D"
        );
    }

    #[test]
    fn the_portals_encoding_key_is_not_encoded_twice() {
        let decoded = Endpoint::new("http://sim", Some(("serviceKey".into(), Secret::new("ab+c/d=="))));
        let encoded = Endpoint::new("http://sim", Some(("serviceKey".into(), Secret::new("ab%2Bc%2Fd%3D%3D"))));
        assert_eq!(decoded.url(&req()), encoded.url(&req()));
        assert!(!encoded.url(&req()).contains("%25"));
    }

    #[test]
    fn the_key_never_shows() {
        let endpoint = Endpoint::new("http://sim", Some(("serviceKey".into(), Secret::new("TOPSECRET"))));
        assert!(!endpoint.display_url(&req()).contains("TOPSECRET"));
        assert!(!format!("{endpoint:?}").contains("TOPSECRET"));
    }
}
