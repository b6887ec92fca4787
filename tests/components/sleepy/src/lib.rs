//! A source plugin that sleeps for an hour in `manifest`, the first thing the host calls when it
//! loads a component (`racelab plugin check`, `serve`'s start). The host's clock pollables are
//! ready at once, so the sleep ends at once and the component loads.

use racelab_plugin_sdk::{
    HttpRequest, HttpResponse, Operation, OperationKind, Page, PluginManifest, Source, SourceError, export_source,
};

/// The sleepy plugin; public so that a native build (clippy, tests) sees it used.
pub struct Sleepy;

impl Source for Sleepy {
    fn manifest() -> PluginManifest {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        PluginManifest {
            name: "sleepy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tracks: vec!["seoul".into()],
            operations: vec![OperationKind::Schedule],
            odds_pools: vec![],
            dividend_pools: vec![],
            odds_timing: racelab_plugin_sdk::OddsTiming::AfterRace,
            credential_param: None,
            config: vec![],
            datasets: vec![],
        }
    }

    fn plan(_op: Operation, _config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        Ok(vec![HttpRequest::get("test", "/ok")])
    }

    fn parse(_op: Operation, _request: HttpRequest, _response: HttpResponse) -> Result<Page, SourceError> {
        Ok(Page::empty())
    }
}

export_source!(Sleepy);
