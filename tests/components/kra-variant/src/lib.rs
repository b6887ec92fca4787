//! The KRA plugin with deliberate differences, for the replay tests' diff
//! (host/tests/host/replay.rs). It plans as KRA does and reads what KRA reads, then:
//!
//! | records | difference |
//! |---|---|
//! | races | every name changed (`… (variant)`); status-only records left alone |
//! | scratches | dropped |
//! | dividends | each TRI dividend also paid as XLA, same selection and payout |
//! | results of race 1 | not read: `malformed` |
//!
//! Entries and odds are read as KRA reads them.
//!
//! Built on its own (common/mod.rs): it uses the KRA crate without its export, which a build
//! together with the KRA component would turn back on.

use racelab_plugin_kra::Kra;
use racelab_plugin_sdk::{
    Dividend, HttpRequest, HttpResponse, Operation, Page, PluginManifest, Pool, Record, Source, SourceError,
    export_source,
};

/// The variant; public so that a native build (clippy, tests) sees it used.
pub struct Variant;

impl Source for Variant {
    fn manifest() -> PluginManifest {
        let mut manifest = <Kra as Source>::manifest();
        manifest.version = format!("{}-variant", manifest.version);
        manifest
    }

    fn plan(op: Operation, config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        <Kra as Source>::plan(op, config)
    }

    fn parse(op: Operation, request: HttpRequest, response: HttpResponse) -> Result<Page, SourceError> {
        if let Operation::Results(race) = &op
            && race.key.number == 1
        {
            return Err(SourceError::Malformed("the variant does not read the results of race 1".into()));
        }
        let mut page = <Kra as Source>::parse(op, request, response)?;
        let mut extra = Vec::new();
        page.records.retain_mut(|record| match record {
            Record::Scratch(_) => false,
            Record::Race(race) => {
                if let Some(name) = &race.name {
                    race.name = Some(format!("{name} (variant)"));
                }
                true
            }
            Record::Dividend(d) => {
                if d.pool == Pool::Tri {
                    extra.push(Record::Dividend(Dividend { pool: Pool::Xla, ..d.clone() }));
                }
                true
            }
            _ => true,
        });
        page.records.extend(extra);
        Ok(page)
    }
}

export_source!(Variant);
