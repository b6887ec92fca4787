//! Sending a plugin's requests. The host builds every URL itself, with a URL library, from the
//! configured base: the planned path is checked and appended segment by segment, the query is
//! encoded pair by pair, and the result must still point at the base's scheme, host and port
//! before the credential is added — so no path a plugin plans can send the key anywhere else.
//! The credential never leaves this module in a URL, a log line or an error.
//!
//! Rate limits, quotas and the raw archive wrap this in the daemon; the plugin CLI uses it
//! directly.

use std::time::Duration;

use percent_encoding::percent_decode_str;
use url::Url;

pub use crate::secret::Secret;

use crate::plugins::wit::{HttpRequest, HttpResponse};

/// A response body larger than this is refused: the largest real page is well under 1 MiB.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Longest path or query a plugin may plan. Real ones are under 200 characters.
const MAX_REQUEST_CHARS: usize = 2_000;

/// A base URL the host cannot send to.
#[derive(Debug, thiserror::Error)]
#[error("the base URL {shown:?} is not usable: {reason}")]
pub struct BaseUrlError {
    shown: String,
    reason: String,
}

/// A planned request the host refuses to send. The plugin asked for it, so the caller records
/// it as a plugin fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the path must start with a single '/'")]
    NotAbsolute,
    #[error("the path contains {0}, which a path to the source never does")]
    Forbidden(&'static str),
    #[error("the path has an empty, '.' or '..' segment")]
    BadSegment,
    #[error("the {0} is longer than {MAX_REQUEST_CHARS} characters")]
    TooLong(&'static str),
    #[error("the plugin sets the credential parameter {0:?} itself; only the host adds the credential")]
    Credential(String),
    #[error("the dataset {0:?} is not a dataset name (letters, digits, '_', '-', '.')")]
    Dataset(String),
    #[error("the URL would go to {found} instead of {expected}")]
    ElsewhereThanBase { found: String, expected: String },
}

/// Where a source lives and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    base: Url,
    credential: Option<(String, Secret)>,
}

/// A request as sent: the URL with the credential, and as shown everywhere else.
#[derive(Debug, Clone)]
pub struct Target {
    url: Url,
    shown: String,
}

impl Target {
    /// The URL without the credential: for logs, errors, the archive and deduplication.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl Endpoint {
    /// `base_url` like `https://apis.data.go.kr` or `http://127.0.0.1:8080` (a path prefix is
    /// kept); `credential` is the manifest's `credential-param` with the key to put in it: the
    /// portal's "Decoding" key (`+/=`) or its "Encoding" key (`%2B%2F%3D`), which is decoded here
    /// so that it is encoded exactly once on the wire.
    pub fn new(base_url: &str, credential: Option<(String, Secret)>) -> Result<Self, BaseUrlError> {
        let shown = redact_base_url(base_url);
        let error = |reason: &str| BaseUrlError { shown: shown.clone(), reason: reason.to_string() };
        let base = Url::parse(base_url.trim()).map_err(|e| error(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none_or(str::is_empty) {
            return Err(error("it must be http:// or https:// and a host"));
        }
        if !base.username().is_empty()
            || base.password().is_some()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(error("it must not carry a user, a password, a query or a fragment"));
        }
        let credential = credential.map(|(param, key)| (param, decode_key(&key)));
        Ok(Endpoint { base, credential })
    }

    /// Builds the URL of `request`, or says why the host will not send it.
    pub fn target(&self, request: &HttpRequest) -> Result<Target, RequestError> {
        check_dataset(&request.dataset)?;
        let segments = path_segments(&request.path)?;
        if let Some((param, _)) = &self.credential
            && let Some((name, _)) = request.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(param))
        {
            return Err(RequestError::Credential(name.clone()));
        }
        let query_chars: usize = request.query.iter().map(|(k, v)| k.chars().count() + v.chars().count() + 2).sum();
        if query_chars > MAX_REQUEST_CHARS {
            return Err(RequestError::TooLong("query"));
        }
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|()| RequestError::NotAbsolute)?.pop_if_empty().extend(segments);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        self.same_origin(&url)?;
        let shown = url.to_string();
        if let Some((param, key)) = &self.credential {
            url.query_pairs_mut().append_pair(param, key.expose());
        }
        Ok(Target { url, shown })
    }

    /// The URL as logs, errors and the archive show it, for a request already known to be
    /// sendable; a refused one shows as the base and its path, escaped.
    pub fn display_url(&self, request: &HttpRequest) -> String {
        match self.target(request) {
            Ok(target) => target.shown,
            Err(_) => format!("{}{}", self.base, crate::plugins::text::clean(&request.path, 200)),
        }
    }

    fn same_origin(&self, url: &Url) -> Result<(), RequestError> {
        let origin = |u: &Url| {
            format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or(""), u.port_or_known_default().unwrap_or(0))
        };
        let same = url.scheme() == self.base.scheme()
            && url.host() == self.base.host()
            && url.port_or_known_default() == self.base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none();
        if same {
            Ok(())
        } else {
            Err(RequestError::ElsewhereThanBase { found: origin(url), expected: origin(&self.base) })
        }
    }
}

/// A base URL as messages show it: without a password or a query, either of which could hold
/// a secret.
pub fn redact_base_url(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.set_query(None);
            url.to_string()
        }
        Err(_) if base_url.contains('@') => "(a URL with a user or password, not shown)".to_string(),
        Err(_) => base_url.to_string(),
    }
}

/// The segments of a planned path: `/` then segments of anything but `\`, `?`, `#`, `@`,
/// control characters, and `.`/`..`/empty segments.
fn path_segments(path: &str) -> Result<Vec<&str>, RequestError> {
    if path.chars().count() > MAX_REQUEST_CHARS {
        return Err(RequestError::TooLong("path"));
    }
    let Some(rest) = path.strip_prefix('/').filter(|rest| !rest.starts_with('/')) else {
        return Err(RequestError::NotAbsolute);
    };
    let forbidden = [('\\', "a backslash"), ('?', "a '?'"), ('#', "a '#'"), ('@', "an '@'")];
    if let Some((_, what)) = forbidden.iter().find(|(c, _)| path.contains(*c)) {
        return Err(RequestError::Forbidden(what));
    }
    if path.chars().any(char::is_control) {
        return Err(RequestError::Forbidden("a control character"));
    }
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(RequestError::BadSegment);
    }
    Ok(segments)
}

fn check_dataset(dataset: &str) -> Result<(), RequestError> {
    if dataset.is_empty() || dataset.len() > 64 || !dataset.chars().all(crate::plugins::dataset_char) {
        return Err(RequestError::Dataset(crate::plugins::text::clean(dataset, 80)));
    }
    Ok(())
}

fn decode_key(key: &Secret) -> Secret {
    let raw = key.expose();
    if raw.contains('%') { Secret::new(percent_decode_str(raw).decode_utf8_lossy().into_owned()) } else { key.clone() }
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
            .redirect(reqwest::redirect::Policy::custom(same_origin_redirects))
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        Ok(Fetcher { client, timeout })
    }

    /// Sends one request and reads the whole answer.
    pub async fn fetch(&self, target: &Target) -> Result<HttpResponse, FetchError> {
        let shown = target.shown.clone();
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
        let mut response = self.client.get(target.url.clone()).send().await.map_err(|e| classify(e, false))?;
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

/// A redirect is followed (up to five) only to the scheme, host and port first asked: a
/// source's answer cannot move a request, whatever it carries, to another server.
fn same_origin_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let origin = |u: &Url| (u.scheme().to_string(), u.host_str().map(str::to_string), u.port_or_known_default());
    let first = attempt.previous().first().map(origin);
    if attempt.previous().len() > 5 || first != Some(origin(attempt.url())) {
        return attempt.stop();
    }
    attempt.follow()
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

    fn endpoint(base: &str, key: &str) -> Endpoint {
        Endpoint::new(base, Some(("serviceKey".into(), Secret::new(key)))).expect("base")
    }

    fn planned(path: &str) -> HttpRequest {
        HttpRequest { dataset: "API301".into(), path: path.into(), query: vec![("rc_no".into(), "1".into())] }
    }

    #[test]
    fn korean_values_and_the_key_are_encoded_exactly_once() {
        let target = endpoint("http://sim/", "ab+c/d==").target(&req()).expect("sendable");
        assert_eq!(
            target.url.as_str(),
            "http://sim/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I?meet_nm=%EA%B4%91%EB%AA%85&week_tcnt=01&serviceKey=ab%2Bc%2Fd%3D%3D"
        );
        assert_eq!(target.shown(), target.url.as_str().split("&serviceKey").next().expect("query"));
    }

    #[test]
    fn the_portals_encoding_key_is_not_encoded_twice() {
        let decoded = endpoint("http://sim", "ab+c/d==").target(&req()).expect("sendable");
        let encoded = endpoint("http://sim", "ab%2Bc%2Fd%3D%3D").target(&req()).expect("sendable");
        assert_eq!(decoded.url, encoded.url);
        assert!(!encoded.url.as_str().contains("%25"));
    }

    #[test]
    fn the_key_never_shows() {
        let endpoint = endpoint("http://sim", "TOPSECRET");
        assert!(!endpoint.display_url(&req()).contains("TOPSECRET"));
        assert!(!endpoint.target(&req()).expect("sendable").shown().contains("TOPSECRET"));
        assert!(!format!("{endpoint:?}").contains("TOPSECRET"));
    }

    #[test]
    fn a_path_prefix_in_the_base_is_kept() {
        let target =
            endpoint("https://proxy.example/data.go.kr/", "k").target(&planned("/B551015/API301/x")).expect("ok");
        assert_eq!(target.shown(), "https://proxy.example/data.go.kr/B551015/API301/x?rc_no=1");
    }

    /// Every path here once sent the key somewhere else, or could have.
    #[test]
    fn no_planned_path_moves_the_request_off_the_base() {
        let cases = [
            ("http://127.0.0.1:8080", "@127.0.0.1:9999/x", RequestError::NotAbsolute),
            ("http://127.0.0.1:8080", "/@127.0.0.1:9999/x", RequestError::Forbidden("an '@'")),
            ("http://127.0.0.1:999", "9/x", RequestError::NotAbsolute),
            ("https://apis.data.go.kr", ".evil.example/x", RequestError::NotAbsolute),
            ("https://apis.data.go.kr", "//evil.example/x", RequestError::NotAbsolute),
            ("https://apis.data.go.kr", "/\\evil.example/x", RequestError::Forbidden("a backslash")),
            ("https://apis.data.go.kr", "/x?serviceKey=mine", RequestError::Forbidden("a '?'")),
            ("https://apis.data.go.kr", "/x#frag", RequestError::Forbidden("a '#'")),
            ("https://apis.data.go.kr", "/x\r\nHost: evil", RequestError::Forbidden("a control character")),
            ("https://apis.data.go.kr", "/a/../../x", RequestError::BadSegment),
            ("https://apis.data.go.kr", "/a//x", RequestError::BadSegment),
            ("https://apis.data.go.kr", "", RequestError::NotAbsolute),
        ];
        for (base, path, expected) in cases {
            let err = endpoint(base, "SECRET").target(&planned(path)).expect_err(path);
            assert_eq!(err, expected, "{base} + {path:?}");
            assert!(!err.to_string().contains("SECRET"));
        }
    }

    #[test]
    fn odd_but_harmless_characters_stay_inside_the_path() {
        let target = endpoint("https://apis.data.go.kr", "k").target(&planned("/a:9999/서울 %41")).expect("ok");
        assert_eq!(target.url.host_str(), Some("apis.data.go.kr"));
        assert_eq!(target.url.port_or_known_default(), Some(443));
        assert!(
            target.shown().starts_with("https://apis.data.go.kr/a:9999/%EC%84%9C%EC%9A%B8%20%2541?"),
            "{}",
            target.shown()
        );
    }

    #[test]
    fn the_credential_is_the_hosts_alone() {
        let mut request = planned("/B551015/API301/Dividend_rate_total");
        request.query.push(("ServiceKey".into(), "planted".into()));
        let err = endpoint("https://apis.data.go.kr", "k").target(&request).expect_err("refused");
        assert_eq!(err, RequestError::Credential("ServiceKey".into()));
        // Once, at the end, whatever the plugin's query holds.
        let target = endpoint("https://apis.data.go.kr", "k").target(&planned("/x")).expect("ok");
        assert_eq!(target.url.query_pairs().filter(|(k, _)| k == "serviceKey").count(), 1);
    }

    #[test]
    fn a_query_value_cannot_break_out_of_its_pair() {
        let mut request = planned("/x");
        request.query = vec![("meet".into(), "1&serviceKey=planted#x".into())];
        let target = endpoint("https://apis.data.go.kr", "k").target(&request).expect("ok");
        let pairs: Vec<(String, String)> = target.url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(pairs, vec![("meet".into(), "1&serviceKey=planted#x".into()), ("serviceKey".into(), "k".into())]);
    }

    #[test]
    fn datasets_and_lengths_are_bounded() {
        let mut request = planned("/x");
        request.dataset = "API301\nforged".into();
        assert!(matches!(endpoint("http://sim", "k").target(&request), Err(RequestError::Dataset(_))));
        let long = format!("/{}", "a".repeat(3_000));
        assert_eq!(
            endpoint("http://sim", "k").target(&planned(&long)).expect_err("long"),
            RequestError::TooLong("path")
        );
    }

    #[test]
    fn base_urls_are_checked() {
        for bad in [
            "apis.data.go.kr",
            "ftp://apis.data.go.kr",
            "https://user:pw@apis.data.go.kr",
            "https://apis.data.go.kr/?x=1",
            "http://",
        ] {
            assert!(Endpoint::new(bad, None).is_err(), "{bad}");
        }
    }
}
