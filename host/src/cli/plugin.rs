//! `racelab plugin …`: check, parse and run a component, for plugin authors and scripts.
//!
//! Output contract (scripts rely on it): one JSON document on stdout; exit 0 on success, 1 on
//! a source error (printed as `{"error":{"kind","message"}}`) or any other failure (reason on
//! stderr).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::fetch::{Endpoint, Fetcher, Secret};
use crate::json;
use crate::plugins::wit::{Date, DayRef, HttpRequest, HttpResponse, OddsQuery, Operation, Pool, RaceKey, RaceRef};
use crate::plugins::{CallError, CompileCache, Limits, LoadError, Plugin, Runtime};
use crate::runner::{self, Policy, RunError};
use crate::tracks::{self, Track};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate a component (API version, manifest) and print its manifest.
    Check {
        /// The component (.wasm).
        wasm: PathBuf,
        #[command(flatten)]
        trust: Trust,
    },
    /// Run `parse` on a saved response body, as the answer to one request.
    Parse(ParseArgs),
    /// Plan, fetch and parse an operation against a live server (e.g. `racelab sim`).
    Run(RunArgs),
    /// Compare what two versions read from the archived responses of a source.
    Diff(super::replay::DiffArgs),
    /// Compile a component ahead of time for this host (a `.cwasm` that loads without compiling).
    Compile {
        wasm: PathBuf,
        /// Where to write the compiled artifact.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Store a component in the plugin registry (the database), optionally making it active.
    Install(super::registry::InstallArgs),
    /// List the registry's versions, marking the active one of each plugin.
    List(super::registry::Db),
    /// Make an installed version active on every host (after its checks).
    Activate(super::registry::ActivateArgs),
    /// Make the version active before the current one active again.
    Rollback(super::registry::RollbackArgs),
}

/// Whether precompiled native code may be loaded.
#[derive(Debug, Args)]
pub struct Trust {
    /// Load a precompiled `.cwasm` (from `racelab plugin compile`) instead of refusing it.
    /// Precompiled code is native code that runs unchecked in this process: pass this only
    /// for a file you compiled yourself and nobody else could have changed.
    #[arg(long)]
    trust_precompiled: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OpKind {
    Schedule,
    Entries,
    Odds,
    Results,
}

/// What to ask about: the operation and its race or day.
#[derive(Debug, Args)]
pub struct OpArgs {
    /// The operation.
    #[arg(long, value_enum)]
    op: OpKind,
    /// Track code: seoul, busan, jeju, gwangmyeong or misari.
    #[arg(long)]
    track: Option<String>,
    /// Race day, YYYY-MM-DD (KST).
    #[arg(long)]
    date: Option<String>,
    /// Race number (entries, odds, results).
    #[arg(long)]
    race: Option<u8>,
    /// The meeting tag the plugin put on the race (e.g. KSPO `2026/05/1`), if known.
    #[arg(long)]
    meeting: Option<String>,
    /// Pools for `--op odds`, comma-separated codes (default: every pool the plugin lists).
    #[arg(long, value_delimiter = ',')]
    pools: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    wasm: PathBuf,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    op: OpArgs,
    /// The saved response body (JSON or XML).
    #[arg(long)]
    input: PathBuf,
    /// The request the body answered. Track, date and race default to its query
    /// (`meet`/`meet_nm`, `rc_date`/`race_ymd`/`race_day`, `rc_no`/`race_no`).
    #[arg(long)]
    request_url: Option<String>,
    /// The HTTP status of the answer.
    #[arg(long, default_value_t = 200)]
    status: u16,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    wasm: PathBuf,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    op: OpArgs,
    /// The source's base URL, e.g. http://127.0.0.1:8080 (the simulator) or https://apis.data.go.kr.
    #[arg(long)]
    base_url: String,
    /// The data.go.kr service key (the "Decoding" or the "Encoding" one).
    #[arg(long, env = "RACELAB_SERVICE_KEY", hide_env_values = true)]
    service_key: Option<String>,
    /// Plugin config, KEY=VALUE (repeatable); see `plugin check` for the keys.
    #[arg(long = "config", value_parser = parse_key_value)]
    config: Vec<(String, String)>,
    /// Retries per request after a transient fault or a rate limit.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(Limits::default())?.with_cache_dir(&CompileCache::default_dir());
    match cmd {
        PluginCommand::Check { wasm, trust } => {
            let plugin = load(&runtime, &wasm, &trust)?;
            print(&json::manifest(plugin.manifest(), plugin.api_version()));
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Parse(args) => parse(&runtime, args),
        PluginCommand::Run(args) => {
            let plugin = load(&runtime, &args.wasm, &args.trust)?;
            super::block_on(run_live(plugin, args))
        }
        PluginCommand::Diff(args) => super::replay::diff(&runtime, args),
        PluginCommand::Compile { wasm, output } => {
            let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            runtime.load(&bytes, &wasm.display().to_string())?;
            let artifact = runtime.precompile(&bytes)?;
            std::fs::write(&output, artifact).with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("compiled {} → {}", wasm.display(), output.display());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Install(args) => super::block_on(super::registry::install(runtime.into(), args)),
        PluginCommand::List(db) => super::block_on(super::registry::list(db)),
        PluginCommand::Activate(args) => super::block_on(super::registry::activate(runtime.into(), args)),
        PluginCommand::Rollback(args) => super::block_on(super::registry::rollback(runtime.into(), args)),
    }
}

/// A component, or with `--trust-precompiled` a precompiled one.
fn load(runtime: &Runtime, wasm: &std::path::Path, trust: &Trust) -> anyhow::Result<Plugin> {
    let bytes = std::fs::read(wasm).map_err(|e| LoadError::Read { path: wasm.to_path_buf(), reason: e.to_string() })?;
    let origin = wasm.display().to_string();
    Ok(if trust.trust_precompiled && wasmtime::Engine::detect_precompiled(&bytes).is_some() {
        runtime.load_trusted_precompiled(&bytes, &origin)?
    } else {
        runtime.load(&bytes, &origin)?
    })
}

fn parse(runtime: &Runtime, args: ParseArgs) -> anyhow::Result<ExitCode> {
    let plugin = load(runtime, &args.wasm, &args.trust)?;
    let body = std::fs::read(&args.input).with_context(|| format!("cannot read --input {}", args.input.display()))?;
    let request = match &args.request_url {
        Some(url) => request_from_url(url)?,
        None => HttpRequest { dataset: String::new(), path: "/".to_string(), query: Vec::new() },
    };
    let op = operation(&plugin, &args.op, Some(&request))?;
    let request = match &args.request_url {
        Some(_) => request,
        None => first_planned(&plugin, &op)?,
    };
    let content_type = if body.trim_ascii_start().starts_with(b"<") { "text/xml" } else { "application/json" };
    let response =
        HttpResponse { status: args.status, headers: vec![("content-type".into(), content_type.into())], body };
    // Follow-up requests show against the server the body came from, or the real API.
    let base = args
        .request_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map_or_else(|| "https://apis.data.go.kr".to_string(), |u| u.origin().ascii_serialization());
    let endpoint = Endpoint::new(&base, None).context("--request-url")?;
    match plugin.parse(&op, &request, &response) {
        Ok(page) => {
            let next: Vec<Value> = page.next.iter().map(|r| json::request(r, &endpoint.display_url(r))).collect();
            print(&json!({"records": json::records(&page.records), "drift": json::drift(&page.drift), "next": next}));
            Ok(ExitCode::SUCCESS)
        }
        Err(CallError::Source(e)) => {
            print(&json::source_error(&e));
            Ok(ExitCode::FAILURE)
        }
        Err(CallError::Fault(f)) => Err(f.into()),
    }
}

fn first_planned(plugin: &Plugin, op: &Operation) -> anyhow::Result<HttpRequest> {
    match plugin.plan(op, &defaults(plugin, &[])) {
        Ok(mut requests) if !requests.is_empty() => Ok(requests.remove(0)),
        Ok(_) => bail!("the plugin plans no request for this operation; give --request-url"),
        Err(e) => bail!("the plugin cannot plan this operation ({e}); give --request-url"),
    }
}

async fn run_live(plugin: Plugin, args: RunArgs) -> anyhow::Result<ExitCode> {
    let op = operation(&plugin, &args.op, None)?;
    let credential = match (&plugin.manifest().credential_param, &args.service_key) {
        (Some(param), Some(key)) => Some((param.clone(), Secret::new(key))),
        _ => None,
    };
    let endpoint = Endpoint::new(&args.base_url, credential).context("--base-url")?;
    let fetcher = Fetcher::new(Duration::from_secs(args.timeout_s))?;
    let policy = Policy { retries: args.retries, ..Policy::default() };
    let config = defaults(&plugin, &args.config);
    match runner::run(&plugin, &endpoint, &fetcher, &op, &config, &policy).await {
        Ok(outcome) => {
            let records = json::records(&outcome.records);
            eprintln!("{} records from {} requests", records.len(), outcome.requests);
            print(&json!({"records": records, "next": []}));
            Ok(ExitCode::SUCCESS)
        }
        Err(RunError::Source { url, error }) => {
            eprintln!("{url}: {}", crate::plugins::error_message(&error));
            print(&json::source_error(&error));
            Ok(ExitCode::FAILURE)
        }
        Err(other) => {
            print(&json!({"error": {"kind": other.kind().as_str(), "message": other.to_string()}}));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The manifest's config defaults, overridden by the operator's values.
fn defaults(plugin: &Plugin, given: &[(String, String)]) -> Vec<(String, String)> {
    let mut config: Vec<(String, String)> = plugin
        .manifest()
        .config
        .iter()
        .filter_map(|k| k.default_value.clone().map(|v| (k.name.clone(), v)))
        .filter(|(k, _)| !given.iter().any(|(g, _)| g == k))
        .collect();
    config.extend(given.iter().cloned());
    config
}

fn print(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// Splits a URL into the path and decoded query a plugin planned.
fn request_from_url(url: &str) -> anyhow::Result<HttpRequest> {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = without_scheme.find('/').map_or("/", |i| &without_scheme[i..]);
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .filter(|(k, _)| !k.eq_ignore_ascii_case("servicekey"))
        .collect();
    let dataset = path.split('/').filter(|s| !s.is_empty()).nth(1).unwrap_or_default().to_string();
    Ok(HttpRequest { dataset, path: path.to_string(), query })
}

/// Builds the WIT operation from the flags, filling gaps from the request's query.
fn operation(plugin: &Plugin, args: &OpArgs, request: Option<&HttpRequest>) -> anyhow::Result<Operation> {
    let hint = |keys: &[&str]| {
        request
            .and_then(|r| r.query.iter().find(|(k, _)| keys.contains(&k.as_str())).map(|(_, v)| v.trim().to_string()))
    };
    let track = match (&args.track, request) {
        (Some(t), _) => t.clone(),
        (None, Some(r)) => infer_track(plugin, r, hint(&["meet", "meet_nm"]))
            .context("give --track (it cannot be read from --request-url)")?,
        (None, None) => bail!("give --track"),
    };
    if Track::parse(&track).is_none() {
        bail!("unknown track {track:?}; known tracks: {}", tracks::codes());
    }
    let date_text = match args.date.clone().or_else(|| hint(&["rc_date", "race_ymd", "race_day"])) {
        Some(d) => d,
        None => bail!("give --date YYYY-MM-DD"),
    };
    let date = parse_date(&date_text)?;
    let race = || -> anyhow::Result<RaceRef> {
        let number = match (args.race, hint(&["rc_no", "race_no"]).and_then(|n| n.parse().ok())) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => bail!("give --race N for --op {:?}", args.op),
        };
        Ok(RaceRef { key: RaceKey { track: track.clone(), date, number }, meeting: args.meeting.clone() })
    };
    Ok(match args.op {
        OpKind::Schedule => Operation::Schedule(DayRef { track: track.clone(), date }),
        OpKind::Entries => Operation::Entries(race()?),
        OpKind::Results => Operation::Results(race()?),
        OpKind::Odds => {
            let pools = if args.pools.is_empty() {
                plugin.manifest().odds_pools.clone()
            } else {
                args.pools.iter().map(|p| parse_pool(p)).collect::<anyhow::Result<_>>()?
            };
            Operation::Odds(OddsQuery { race: race()?, pools })
        }
    })
}

fn infer_track(plugin: &Plugin, request: &HttpRequest, meet: Option<String>) -> Option<String> {
    let tracks = &plugin.manifest().tracks;
    if tracks.len() == 1 {
        return tracks.first().cloned();
    }
    let by_meet = match meet.as_deref().map(str::trim) {
        Some("1") | Some("서울") => Some("seoul"),
        Some("2") | Some("제주") => Some("jeju"),
        Some("3") | Some("부산경남") | Some("부경") => Some("busan"),
        Some("광명") => Some("gwangmyeong"),
        _ => None,
    };
    let by_path = if request.path.contains("_CRA_") {
        Some("gwangmyeong")
    } else if request.path.contains("_MBR_") || request.path.contains("_MRA_") {
        Some("misari")
    } else {
        None
    };
    by_meet.or(by_path).map(str::to_string).filter(|t| tracks.contains(t))
}

fn parse_date(text: &str) -> anyhow::Result<Date> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let parsed = (digits.len() == 8)
        .then(|| chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").ok())
        .flatten()
        .with_context(|| format!("{text:?} is not a date; use YYYY-MM-DD"))?;
    use chrono::Datelike;
    Ok(Date {
        year: u16::try_from(parsed.year()).context("year out of range")?,
        month: u8::try_from(parsed.month()).context("month out of range")?,
        day: u8::try_from(parsed.day()).context("day out of range")?,
    })
}

fn parse_pool(code: &str) -> anyhow::Result<Pool> {
    json::pool_from_code(code)
        .with_context(|| format!("unknown pool {code:?}; pools: WIN, PLC, QNL, EXA, QPL, TLA, TRI, XLA"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_split_into_path_and_decoded_query_without_the_key() {
        let r = request_from_url(
            "http://127.0.0.1:8080/B551014/SRVC_X/TODZ_Y?meet_nm=%EA%B4%91%EB%AA%85&serviceKey=abc&race_no=01",
        )
        .expect("valid");
        assert_eq!(r.path, "/B551014/SRVC_X/TODZ_Y");
        assert_eq!(r.dataset, "SRVC_X");
        assert_eq!(
            r.query,
            vec![("meet_nm".to_string(), "광명".to_string()), ("race_no".to_string(), "01".to_string())]
        );
    }

    #[test]
    fn dates_are_checked() {
        assert!(parse_date("2026-02-29").is_err());
        assert_eq!(parse_date("20260103").expect("valid").day, 3);
    }
}
