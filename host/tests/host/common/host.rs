//! `racelab serve` as a child process against an in-process simulator, both on one simulated
//! clock (`RACELAB_SIM_CLOCK`), for the crash and scale-out tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset};
use racelab_sim::{Clock, SimConfig};
use sqlx::PgPool;

use super::{Sim, component};

/// The simulated clock's spec and the simulator running on it.
pub struct SimWorld {
    pub spec: String,
    pub clock: Clock,
    pub sim: Sim,
}

impl SimWorld {
    /// A simulator whose clock reads `start` now and runs `speed` times real time.
    pub fn start(start: DateTime<FixedOffset>, speed: f64, config: SimConfig) -> SimWorld {
        // The first call in a process builds every test component (a minute on two cores, two
        // simulated hours at 120×): before the clock starts, whichever test comes first.
        component("racelab-plugin-kra");
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
        let spec = format!("{},{speed},{epoch_ms}", start.to_rfc3339());
        let clock = Clock::from_spec(&spec).expect("clock spec");
        let sim = Sim::start(SimConfig { clock: clock.clone(), ..config });
        SimWorld { spec, clock, sim }
    }

    /// Sleeps until the simulated clock reads `t`.
    pub async fn wait_until(&self, t: DateTime<FixedOffset>) {
        while self.clock.now() < t {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The URL of the test's own database (the one `#[sqlx::test]` made for `pool`).
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = pool.connect_options().get_database().expect("the test pool names its database").to_string();
    racelab::store::with_database(&base, &name)
}

/// Writes the TOML configuration the hosts share and returns its path.
pub fn write_config(dir: &Path, toml: &str) -> PathBuf {
    let path = dir.join("racelab.toml");
    std::fs::write(&path, toml).expect("write config");
    path
}

/// Starts `racelab serve`; its log goes to `log`.
pub fn serve(database_url: &str, world: &SimWorld, config: &Path, log: &Path) -> Child {
    serve_with(database_url, world, config, log, &[])
}

/// [`serve`] with more environment variables, which win over the defaults (another plugin, a
/// Slack webhook, a fixed listen address).
pub fn serve_with(database_url: &str, world: &SimWorld, config: &Path, log: &Path, env: &[(&str, String)]) -> Child {
    serve_command(database_url, world, config, log, env).spawn().expect("racelab serve starts")
}

/// The command [`serve_with`] runs, for more arguments.
pub fn serve_command(
    database_url: &str,
    world: &SimWorld,
    config: &Path,
    log: &Path,
    env: &[(&str, String)],
) -> Command {
    racelab_command(&["serve"], database_url, world, config, log, env)
}

/// `racelab` with `args`, configured as [`serve_command`] configures `serve`.
pub fn racelab_command(
    args: &[&str],
    database_url: &str,
    world: &SimWorld,
    config: &Path,
    log: &Path,
    env: &[(&str, String)],
) -> Command {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_racelab"));
    for (k, _) in std::env::vars() {
        if k.starts_with("RACELAB_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("RACELAB_CONFIG", config)
        .env("RACELAB_LISTEN", "127.0.0.1:0")
        .env("RACELAB_SIM_CLOCK", &world.spec)
        .env("RACELAB_LOG", "warn,racelab=info")
        .env("RACELAB_CACHE_DIR", super::plugin_cache())
        .env("RACELAB_KRA_PLUGIN", component("racelab-plugin-kra"))
        .env("RACELAB_KRA_BASE_URL", &world.sim.base_url)
        .env("RACELAB_KRA_SERVICE_KEY", "test-key")
        .env("RACELAB_KSPO_PLUGIN", component("racelab-plugin-kspo"))
        .env("RACELAB_KSPO_BASE_URL", &world.sim.base_url)
        .env("RACELAB_KSPO_SERVICE_KEY", "test-key")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

/// Sends SIGTERM and waits for the exit; returns how long it took and whether it succeeded.
pub fn terminate(child: &mut Child) -> (Duration, bool) {
    let started = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return (started.elapsed(), status.success());
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            return (started.elapsed(), false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that every race of `track` on `date` that `keep` picks has the entries the
/// simulator's model says it has.
pub async fn assert_entries_complete(
    pool: &PgPool,
    calendar: &racelab_sim::Calendar,
    track: racelab_sim::Track,
    date: chrono::NaiveDate,
    keep: impl Fn(u8) -> bool,
) {
    for race in racelab_sim::expect::day(calendar, track, date).iter().filter(|r| keep(r.number)) {
        let entries: i64 =
            sqlx::query_scalar("SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3")
                .bind(track.code())
                .bind(date)
                .bind(i16::from(race.number))
                .fetch_one(pool)
                .await
                .expect("entries");
        assert_eq!(entries, race.entries as i64, "{} race {} entries", track.code(), race.number);
    }
}
