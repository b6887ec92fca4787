//! Shared test setup: real components, built once per test process.
#![allow(dead_code)]

pub mod api;
pub mod day;
pub mod host;
pub mod proxy;
pub mod turns;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The components the tests load, by package name.
const PACKAGES: [&str; 6] = [
    "racelab-plugin-kra",
    "racelab-plugin-kspo",
    "racelab-test-misbehaving",
    "racelab-test-hostile",
    "racelab-test-sleepy",
    "racelab-test-wrong-signature",
];

/// The compile cache the tests' hosts share, under `target/` (not the user's cache).
pub fn plugin_cache() -> PathBuf {
    workspace().join("target").join("plugin-cache")
}

/// Builds every test component for wasm32-wasip2 (once per process; cargo makes repeats
/// no-ops) and returns the path of `package`'s `.wasm`. A separate target dir keeps this
/// inner cargo off the lock of the `cargo test` that runs us.
pub fn component(package: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target = workspace().join("target").join("components");
        build_components(&target, &PACKAGES, &[]);
        target.join("wasm32-wasip2").join("release")
    });
    assert!(PACKAGES.contains(&package), "unknown test component {package}");
    dir.join(format!("{}.wasm", package.replace('-', "_")))
}

/// The KRA component's version (its manifest's), as the registry knows it.
pub fn kra_version() -> String {
    <racelab_plugin_kra::Kra as racelab_plugin_sdk::Source>::manifest().version
}

/// The KRA component as built for `racelab:source@0.1.0` before 0.2 (tests/components/v0.1/):
/// a component nobody rebuilds, which the host must keep running through its adapter.
pub fn kra_v0_1() -> PathBuf {
    workspace().join("tests/components/v0.1/kra.wasm")
}

/// Builds `packages` for wasm32-wasip2 in release into `target`, with `env` set. The components
/// are Wasm built in release, whatever the host is built with: no coverage instrumentation
/// (cargo llvm-cov) or other flags meant for the host.
fn build_components(target: &Path, packages: &[&str], env: &[(&str, &str)]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace())
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", target)
        .envs(env.iter().copied())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building {packages:?} with {env:?} failed");
}

/// The KRA component built to report `version` in its manifest (`RACELAB_PLUGIN_VERSION`):
/// another version of the same plugin, for the registry's tests. Built once per version and
/// process, in a target dir of its own (cargo rebuilds only the plugin crate when the version
/// changes), and copied out under the version's name.
pub fn kra_variant(version: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let target = workspace().join("target").join("components-variants");
    let out = target.join(format!("kra-{version}.wasm"));
    if built.iter().any(|v| v == version) {
        return out;
    }
    build_components(&target, &["racelab-plugin-kra"], &[("RACELAB_PLUGIN_VERSION", version)]);
    std::fs::copy(target.join("wasm32-wasip2").join("release").join("racelab_plugin_kra.wasm"), &out)
        .expect("copy the variant");
    built.push(version.to_string());
    out
}

/// The altered KRA component (tests/components/kra-variant: its parse differs on purpose),
/// built once per process. On its own and into a target dir of its own: it reuses the KRA
/// crate without the KRA export, which a build together with the KRA component would turn on
/// (cargo unifies features), and the KRA component built here would lack its export.
pub fn kra_altered() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = workspace().join("target").join("components-variant");
            build_components(&target, &["racelab-test-kra-variant"], &[]);
            target.join("wasm32-wasip2").join("release").join("racelab_test_kra_variant.wasm")
        })
        .clone()
}

/// A component's bytes with every `racelab:source/…@0.2.0` name rewritten to `@0.9.0`: what
/// a plugin built against a future, incompatible SDK looks like to this host.
pub fn with_api_version_0_9(wasm: &[u8]) -> Vec<u8> {
    let (from, to) = (b"racelab:source/plugin@0.2.0".as_slice(), b"racelab:source/plugin@0.9.0".as_slice());
    let mut out = wasm.to_vec();
    let mut i = 0;
    let mut replaced = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            replaced += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "the component names its plugin export");
    out
}

/// A simulator serving on a free loopback port until dropped.
pub struct Sim {
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// Starts `racelab_sim` with `config` on its own runtime thread.
    pub fn start(config: racelab_sim::SimConfig) -> Sim {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("addr")).expect("send addr");
                racelab_sim::serve(listener, config, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("sim serves");
            });
        });
        let addr = addr_rx.recv().expect("sim started");
        Sim { base_url: format!("http://{addr}"), stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A multi-threaded runtime for driving the host's async code from a plain `#[test]`.
pub fn async_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// LEB128 of an unsigned number, as the Wasm binary format writes sizes and indices.
pub fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A section: its id, its size, its contents.
pub fn section(id: u8, contents: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(contents.len() as u64, out);
    out.extend_from_slice(contents);
}

/// A core module that only defines linear memories of `memory_pages` (64 KiB pages) each and
/// function tables of `table_elements` each.
pub fn core_module(memory_pages: &[u32], table_elements: &[u32]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    if !table_elements.is_empty() {
        let mut tables = Vec::new();
        leb(table_elements.len() as u64, &mut tables);
        for &n in table_elements {
            tables.extend([0x70, 0x00]); // funcref, no maximum
            leb(n.into(), &mut tables);
        }
        section(4, &tables, &mut module);
    }
    if !memory_pages.is_empty() {
        let mut memories = Vec::new();
        leb(memory_pages.len() as u64, &mut memories);
        for &pages in memory_pages {
            memories.push(0x00); // no maximum
            leb(pages.into(), &mut memories);
        }
        section(5, &memories, &mut module);
    }
    module
}

/// `component` with `module` appended and instantiated `instances` times when the component is:
/// what a component with extra memories, tables or instances looks like to the host. The
/// original's plugin export is untouched, so it still loads as a plugin — up to its limits.
pub fn with_extra_core_instances(component: &[u8], module: &[u8], instances: u32) -> Vec<u8> {
    // Count the core modules the component defines at its top level: the appended one's index.
    let mut modules = 0u64;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (mut size, mut shift, mut i) = (0u64, 0, at + 1);
        loop {
            let byte = component[i];
            size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if id == 1 {
            modules += 1;
        }
        at = i + size as usize;
    }
    let mut out = component.to_vec();
    section(1, module, &mut out);
    let mut defs = Vec::new();
    leb(instances.into(), &mut defs);
    for _ in 0..instances {
        defs.push(0x00); // instantiate a module…
        leb(modules, &mut defs); // …this one…
        defs.push(0x00); // …with no arguments
    }
    section(2, &defs, &mut out);
    out
}
