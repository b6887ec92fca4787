//! Building requests and following data.go.kr paging.
//!
//! There is no last-page flag: keep asking while `pageNo × numOfRows < totalCount` and stop
//! at the first empty page (dossier §1.4).

use crate::HttpRequest;
use crate::envelope::Envelope;

/// Pages longer than this are refused by the sources or silently truncated; the cap also
/// bounds how many follow-ups a hostile `totalCount` can make a plugin ask for.
pub const MAX_PAGES: u64 = 1_000;

impl HttpRequest {
    /// A request for `path`, counted against `dataset`.
    pub fn get(dataset: &str, path: &str) -> Self {
        HttpRequest { dataset: dataset.to_string(), path: path.to_string(), query: Vec::new() }
    }

    /// Adds or replaces a query parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        match self.query.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.query.push((key.to_string(), value)),
        }
        self
    }

    /// The value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// The request for the page after `envelope`, if the source has more rows.
pub fn next_page<R>(request: &HttpRequest, envelope: &Envelope<R>) -> Option<HttpRequest> {
    if envelope.items.is_empty() || envelope.num_of_rows == 0 {
        return None;
    }
    let page =
        request.query_value("pageNo").and_then(|p| p.trim().parse::<u64>().ok()).unwrap_or(envelope.page_no.max(1));
    let more = page.checked_mul(envelope.num_of_rows)? < envelope.total_count;
    (more && page < MAX_PAGES).then(|| request.clone().param("pageNo", (page + 1).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(items: usize, page_no: u64, num_of_rows: u64, total_count: u64) -> Envelope {
        Envelope {
            items: (0..items).map(|i| crate::fields::Row::new(i, Default::default())).collect(),
            page_no,
            num_of_rows,
            total_count,
        }
    }

    #[test]
    fn pages_until_total_count() {
        let req = HttpRequest::get("API214_1", "/x").param("pageNo", "1").param("numOfRows", "10");
        let next = next_page(&req, &env(10, 1, 10, 11)).expect("a second page");
        assert_eq!(next.query_value("pageNo"), Some("2"));
        assert_eq!(next.query.len(), 2, "pageNo replaced, not added");
        assert_eq!(next_page(&next, &env(1, 2, 10, 11)), None);
    }

    #[test]
    fn stops_on_an_empty_page_even_if_total_count_says_more() {
        let req = HttpRequest::get("d", "/x").param("pageNo", "3");
        assert_eq!(next_page(&req, &env(0, 3, 10, 100)), None);
    }

    #[test]
    fn a_hostile_total_count_is_bounded() {
        let req = HttpRequest::get("d", "/x").param("pageNo", MAX_PAGES.to_string());
        assert_eq!(next_page(&req, &env(10, MAX_PAGES, 10, u64::MAX)), None);
    }
}
