//! `racelab sim`: the data.go.kr stand-in on a local port, until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use racelab_sim::{Faults, OddsMode, SimConfig};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Seed of the synthetic calendar: the same seed serves the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Faults to inject, e.g. `5xx=0.1,timeout=0.02,drop=0.01,malformed=0.01,gateway=0.01,slow_ms=3000`.
    #[arg(long, default_value = "")]
    faults: String,
    /// `live` publishes odds before the race (drifting to post); `final-only` only after it,
    /// as the real APIs do.
    #[arg(long, value_enum, default_value = "live")]
    odds: OddsArg,
    /// Daily quota per key per dataset.
    #[arg(long)]
    quota: Option<u32>,
    /// Requests per second per key.
    #[arg(long)]
    per_second: Option<u32>,
    /// A key the simulator treats as unregistered (code 30); repeatable.
    #[arg(long = "unregistered-key")]
    unregistered_keys: Vec<String>,
}

/// `--odds`: when the simulator shows odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OddsArg {
    Live,
    FinalOnly,
}

impl OddsArg {
    pub(crate) fn mode(self) -> OddsMode {
        match self {
            OddsArg::Live => OddsMode::Live,
            OddsArg::FinalOnly => OddsMode::FinalOnly,
        }
    }

    /// As typed on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            OddsArg::Live => "live",
            OddsArg::FinalOnly => "final-only",
        }
    }
}

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig { seed: args.seed, unregistered_keys: args.unregistered_keys, ..SimConfig::default() };
    config.odds = args.odds.mode();
    if !args.faults.trim().is_empty() {
        config.faults = Faults::parse(&args.faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    }
    if let Some(q) = args.quota {
        config.limits.daily = q;
    }
    if let Some(p) = args.per_second {
        config.limits.per_second = p;
    }
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    eprintln!("racelab sim listening on http://{local} (seed {}); Ctrl-C to stop", args.seed);
    racelab_sim::serve(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
