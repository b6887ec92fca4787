use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const KRA: [(&str, &str); 4] = [
    ("DATABASE_URL", "postgres://u:hunter2@db/racelab"),
    ("RACELAB_KRA_PLUGIN", "kra.wasm"),
    ("RACELAB_KRA_BASE_URL", "http://127.0.0.1:8080"),
    ("RACELAB_KRA_SERVICE_KEY", "k3y"),
];

#[test]
fn the_environment_alone_is_enough() {
    let config = Config::load(&env(&KRA)).expect("valid");
    assert_eq!(config.listen, "0.0.0.0:8080".parse().expect("addr"));
    assert_eq!(config.sources.keys().collect::<Vec<_>>(), ["kra"]);
    assert_eq!(config.sources["kra"].service_key.as_ref().map(Secret::expose), Some("k3y"));
    assert_eq!(config.cadence, Cadence::default());
    assert!(config.store.skip_unchanged_odds);
}

#[test]
fn secrets_never_show_in_debug() {
    let text = format!("{:?}", Config::load(&env(&KRA)).expect("valid"));
    assert!(!text.contains("hunter2") && !text.contains("k3y"), "{text}");
}

#[test]
fn railway_port_is_honoured() {
    let mut vars = env(&KRA);
    vars.push(("PORT".into(), "9999".into()));
    assert_eq!(Config::load(&vars).expect("valid").listen.port(), 9999);
}

#[test]
fn a_typo_in_a_variable_is_refused_with_the_known_names() {
    let mut vars = env(&KRA);
    vars.push(("RACELAB_KRA_SERVICEKEY".into(), "x".into()));
    let err = Config::load(&vars).expect_err("unknown").to_string();
    assert!(err.contains("RACELAB_KRA_SERVICEKEY") && err.contains("RACELAB_KRA_SERVICE_KEY"), "{err}");
}

#[test]
fn missing_values_say_what_to_set() {
    let err = Config::load(&env(&KRA[1..])).expect_err("no database").to_string();
    assert!(err.starts_with("DATABASE_URL is not set: export DATABASE_URL="), "{err}");
    let err = Config::load(&env(&KRA[..3])).expect_err("no key").to_string();
    assert!(err.starts_with("RACELAB_KRA_SERVICE_KEY is not set"), "{err}");
    let err = Config::load(&env(&KRA[..1])).expect_err("no source").to_string();
    assert!(err.contains("RACELAB_KRA_PLUGIN"), "{err}");
    let mut vars = env(&KRA);
    vars.push(("RACELAB_SLACK_BOT_TOKEN".into(), "xoxb".into()));
    let err = Config::load(&vars).expect_err("no channel").to_string();
    assert!(err.starts_with("RACELAB_SLACK_CHANNEL is not set"), "{err}");
}

#[test]
fn the_file_fills_in_and_the_environment_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("racelab.toml");
    std::fs::write(
        &path,
        r#"
listen = "127.0.0.1:7000"
[sources.kspo]
plugin = "kspo.wasm"
base_url = "http://file"
service_key = "from-file"
[cadence]
odds_phases = [[30, 120], [10, 20]]
[store]
skip_unchanged_odds = false
"#,
    )
    .expect("write");
    let mut vars = env(&KRA);
    vars.push(("RACELAB_CONFIG".into(), path.display().to_string()));
    vars.push(("RACELAB_KSPO_BASE_URL".into(), "http://env".into()));
    let config = Config::load(&vars).expect("valid");
    assert_eq!(config.listen.port(), 7000);
    assert_eq!(config.sources["kspo"].base_url.as_deref(), Some("http://env"));
    assert_eq!(config.sources["kspo"].service_key.as_ref().map(Secret::expose), Some("from-file"));
    assert_eq!(config.cadence.odds_phases, vec![(30, 120), (10, 20)]);
    assert!(!config.store.skip_unchanged_odds);
}

/// Loads the KRA environment plus `more`, with `text` as the config file.
fn load_with_file(text: &str, more: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("racelab.toml");
    std::fs::write(&path, text).expect("write");
    let mut vars = env(&KRA);
    vars.extend(env(more));
    vars.push(("RACELAB_CONFIG".into(), path.display().to_string()));
    Config::load(&vars)
}

#[test]
fn unknown_file_keys_and_bad_values_are_refused() {
    let load = |text: &str| load_with_file(text, &[]).expect_err("refused").to_string();
    assert!(load("[cadence]\nodds_phase = []\n").contains("odds_phase"));
    assert!(load("[sources.pmu]\nplugin = \"x\"\n").contains("sources.pmu"));
    assert!(load("[cadence]\nodds_phases = [[5, 30], [15, 60]]\n").contains("strictly decreasing"));
    assert!(load("[cadence]\nschedule_at = \"25:00\"\n").contains("HH:MM"));
    assert!(load("[cadence]\nodds_pools = [\"WINNER\"]\n").contains("WINNER"));
}

#[test]
fn each_source_serves_its_own_tracks_and_no_track_has_two_sources() {
    let kspo = [
        ("RACELAB_KSPO_PLUGIN", "kspo.wasm"),
        ("RACELAB_KSPO_BASE_URL", "http://127.0.0.1:8080"),
        ("RACELAB_KSPO_SERVICE_KEY", "k"),
    ];
    let load = |text: &str| load_with_file(text, &kspo);
    let config = load("").expect("defaults");
    assert_eq!(config.sources["kra"].tracks, ["seoul", "busan", "jeju"]);
    assert_eq!(config.sources["kspo"].tracks, ["gwangmyeong", "misari"]);
    let config = load("[sources.kra]\ntracks = [\"seoul\"]\n").expect("a narrower set");
    assert_eq!(config.sources["kra"].tracks, ["seoul"]);
    let err = load("[sources.kra]\ntracks = [\"seoul\", \"gwangmyeong\"]\n").expect_err("shared").to_string();
    assert!(err.contains("gwangmyeong is served by") && err.contains("a track belongs to one source"), "{err}");
    let err = load("[sources.kra]\ntracks = [\"tokyo\"]\n").expect_err("unknown").to_string();
    assert!(err.contains("sources.kra.tracks") && err.contains("known tracks"), "{err}");
}

#[test]
fn a_base_url_the_host_cannot_send_to_is_refused_at_start() {
    for bad in ["apis.data.go.kr", "https://user:pw@apis.data.go.kr", "https://apis.data.go.kr/?serviceKey=x"] {
        let mut vars = env(&KRA);
        vars.retain(|(k, _)| k != "RACELAB_KRA_BASE_URL");
        vars.push(("RACELAB_KRA_BASE_URL".into(), bad.into()));
        let err = Config::load(&vars).expect_err(bad).to_string();
        assert!(err.starts_with("RACELAB_KRA_BASE_URL = "), "{err}");
        assert!(!err.contains("pw") && !err.contains("serviceKey=x"), "no secret in the message: {err}");
    }
}

#[test]
fn a_source_may_leave_its_plugin_to_the_registry_and_a_plugin_directory() {
    let mut vars = env(&[KRA[0], KRA[2], KRA[3]]);
    vars.push(("RACELAB_PLUGIN_DIR".into(), "/plugins".into()));
    vars.push(("RACELAB_ADMIN_TOKEN".into(), "t0ken".into()));
    let config = Config::load(&vars).expect("valid without RACELAB_KRA_PLUGIN");
    assert_eq!(config.sources["kra"].plugin, None);
    assert_eq!(config.plugin_dir.as_deref(), Some(Path::new("/plugins")));
    assert_eq!(config.admin_token.as_ref().map(Secret::expose), Some("t0ken"));
    assert!(!format!("{config:?}").contains("t0ken"), "the admin token never shows in debug");
    let blank = Config::load(&env(&[KRA[0], KRA[2], KRA[3], ("RACELAB_ADMIN_TOKEN", " ")])).expect("valid");
    assert!(blank.admin_token.is_none(), "a blank token leaves the admin changes off");
}
