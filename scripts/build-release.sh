#!/usr/bin/env bash
# The release build, the one both the Dockerfile and CI run:
#
#   scripts/build-release.sh [OUT]        (OUT defaults to dist/; a relative OUT is taken
#                                          from the workspace root, not the caller's directory)
#
# leaves in OUT
#   bin/racelab                          the host (`cargo build --release -p racelab`)
#   plugins/racelab_plugin_kra.wasm      the source components (wasm32-wasip2, release)
#   plugins/racelab_plugin_kspo.wasm
#   cache/<sha256>-<engine>.cwasm        the host's compile cache, filled for those components
#
# The container image is OUT as /app: RACELAB_PLUGIN_DIR=/app/plugins seeds the plugin
# registry, RACELAB_CACHE_DIR=/app/cache lets the first start skip compiling the components.
# CARGO_TARGET_DIR is honoured. Needs rustup and a C compiler (ring and zstd-sys build C).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [[ $out == "$root" ]]; then
  echo "error: OUT must not be the workspace itself (it holds plugins/, the plugin crates)" >&2
  exit 2
fi
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$root/$target

echo "== toolchain"
# rust-toolchain.toml pins the compiler. Install it only when missing (as .ci/run does), so that
# a machine that has it never needs the toolchain server; `target add` is a no-op when present.
channel=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$channel" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$channel" --profile minimal
fi
rustup target add wasm32-wasip2
rustc --version

echo "== host (release)"
cargo build --release --locked -p racelab

echo "== components (wasm32-wasip2, release)"
cargo build --release --locked --target wasm32-wasip2 -p racelab-plugin-kra -p racelab-plugin-kspo

echo "== copy into $out"
install -d "$out/bin" "$out/plugins"
# Every .wasm in the plugin directory seeds the registry, and every artifact in the cache is
# shipped in the image: nothing of an earlier build may stay behind.
rm -f "$out"/plugins/*.wasm
rm -rf "$out/cache"
install -m 0755 "$target/release/racelab" "$out/bin/racelab"
for plugin in kra kspo; do
  install -m 0644 "$target/wasm32-wasip2/release/racelab_plugin_$plugin.wasm" "$out/plugins/"
done

echo "== compile cache $out/cache"
# `racelab plugin check` loads a component through the same Runtime as `serve` (pooled, default
# limits), and that runtime keeps what it compiles in the compile cache named by
# RACELAB_CACHE_DIR (host/src/cli/plugin.rs, host/src/plugins/cache.rs). No database is needed.
# The cache creates its directory 0700 and keeps only files its own user wrote: the image copies
# it with --chown to the user the host runs as. If the cache could not be used, `check` still
# succeeds (compiling in memory, with a warning), so the artifact is looked for by name below.
for wasm in "$out"/plugins/*.wasm; do
  RACELAB_CACHE_DIR="$out/cache" "$out/bin/racelab" plugin check "$wasm" >/dev/null
  sha=$(sha256sum "$wasm" | cut -d' ' -f1)
  if ! compgen -G "$out/cache/$sha-*.cwasm" >/dev/null; then
    echo "error: no compiled artifact for $(basename "$wasm") (sha256 $sha) in $out/cache" >&2
    exit 1
  fi
  echo "cached $(basename "$wasm") as $(basename "$(compgen -G "$out/cache/$sha-*.cwasm" | head -n 1)")"
done

echo "== done"
ls -l "$out/bin" "$out/plugins" "$out/cache"
