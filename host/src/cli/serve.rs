//! `racelab serve`: the daemon. Configuration from the environment (and the TOML file
//! `RACELAB_CONFIG` names); the schema migrated at start; `/healthz`, `/readyz`, `/status` and
//! the plugin registry's `/api/plugins` on `RACELAB_LISTEN`; `--watch-dir` for plugin authors;
//! SIGTERM or Ctrl-C stops claiming jobs, lets those in flight finish
//! within `jobs.shutdown_grace_s` and exits.

use std::process::ExitCode;

use clap::Args;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::daemon::{Daemon, Options};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Developer mode: install and activate every `.wasm` written into this directory (e.g.
    /// target/wasm32-wasip2/release); a build that fails a check leaves the active version.
    #[arg(long, value_name = "DIR")]
    watch_dir: Option<std::path::PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    // Metrics count from the start.
    crate::telemetry::handle();
    let daemon = Daemon::start(&config, options(&config)?).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (RACELAB_LISTEN): {e}", config.listen))?;
    tracing::info!(listen = %config.listen, worker = daemon.worker.name(), "serving");
    if config.admin_token.is_none() {
        tracing::info!("RACELAB_ADMIN_TOKEN is not set: changes through the admin API are off");
    }
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(
        axum::serve(listener, api::router(ApiState::of(&daemon, config.admin_token.clone())))
            .with_graceful_shutdown(async {
                let _ = http_stopped.await;
            })
            .into_future(),
    );
    let (stop_watch, watch_stopped) = tokio::sync::oneshot::channel::<()>();
    let watching = args.watch_dir.map(|dir| {
        let by = format!("watch:{}", daemon.worker.name());
        tokio::spawn(crate::watch::watch(dir, daemon.registry.clone(), daemon.runtime.clone(), by, async {
            let _ = watch_stopped.await;
        }))
    });
    daemon.run(shutdown_signal()).await?;
    let _ = stop_watch.send(());
    if let Some(watching) = watching {
        let _ = watching.await;
    }
    let _ = stop_http.send(());
    let _ = http.await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The daemon's options for a host configured by `config`: the system clock, or the
/// simulated one `RACELAB_SIM_CLOCK` names.
pub(crate) fn options(config: &Config) -> anyhow::Result<Options> {
    let mut options = Options::serve();
    if let Some(spec) = &config.sim_clock {
        options.clock =
            racelab_sim::Clock::from_spec(spec).map_err(|e| anyhow::anyhow!("RACELAB_SIM_CLOCK: {e}"))?.into();
        // A fast clock needs jobs queued further ahead and the queue polled more often.
        options.poll = std::time::Duration::from_millis(50);
        tracing::warn!(clock = %options.clock.now(), speed = options.clock.speed(), "running on a simulated clock");
    }
    Ok(options)
}

/// SIGTERM (what orchestrators send) or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
