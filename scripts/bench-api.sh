#!/usr/bin/env bash
# The admin API under load while a simulated race day ingests (BENCHMARKS.md, "The admin API
# under load"):
#
#   scripts/bench-api.sh [RACELAB] [RATE] [SECONDS]
#
# RACELAB is a release host (default target/release/racelab), RATE the requests per second oha
# sends to each endpoint in turn (default 200), SECONDS each window (default 20). It runs
# `racelab demo --listen` (its own database, the simulator in-process, a day in 300 s) and, once
# odds are coming in, asks /api/status, /api/races/{id}/odds and /metrics at RATE for SECONDS
# each, printing oha's p50/p99 and the ingestion's job rate over the same window (from
# racelab_jobs_total on /metrics), and the job rate over a window without load to compare.
# Needs oha on PATH (`cargo install oha`) and the PostgreSQL of DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."

racelab=${1:-target/release/racelab}
rate=${2:-200}
window=${3:-20}
port=18090
base="http://127.0.0.1:$port"
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v oha >/dev/null || { echo "oha is not on PATH: cargo install oha" >&2; exit 2; }
[[ -x $racelab ]] || { echo "no host at $racelab: cargo build --release -p racelab" >&2; exit 2; }

log=$(mktemp)
"$racelab" demo --seconds 300 --listen "127.0.0.1:$port" --database racelab_bench_api \
  --plugins target/wasm32-wasip2/release >"$log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null || true; wait $demo 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 120); do curl -fsS "$base/api/status" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/api/status" >/dev/null

# A race with odds stored, once the day has some.
race=""
for _ in $(seq 120); do
  race=$(curl -fsS "$base/api/races" | python3 -c '
import json, sys
races = [r for r in json.load(sys.stdin) if r["last_odds_at"]]
print(races[0]["id"] if races else "")')
  [[ -n $race ]] && break
  sleep 0.5
done
[[ -n $race ]] || { echo "no race had odds after 60 s" >&2; exit 1; }

jobs_total() {
  curl -fsS "$base/metrics" | awk '/^racelab_jobs_total\{/ { n += $NF } END { printf "%d\n", n }'
}

echo "host: $racelab · demo day ingesting (racelab demo --seconds 300) · $rate requests/s for ${window} s each"
printf '%-32s %9s %9s %9s %9s %10s %12s\n' endpoint sent ok p50_ms p99_ms "req/s" "jobs/s"
measure() {
  local name=$1 url=$2 before after out
  before=$(jobs_total)
  out=$(oha --no-tui --output-format json -q "$rate" -z "${window}s" -c 16 "$url")
  after=$(jobs_total)
  python3 - "$name" "$window" "$before" "$after" "$out" <<'PY'
import json, sys
name, window, before, after, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.loads(out)
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2"))
sent = sum(codes.values())
print(f"{name:<32} {sent:>9} {ok:>9} {p['p50']*1000:>9.1f} {p['p99']*1000:>9.1f} {s['requestsPerSec']:>10.1f} {(after-before)/window:>12.1f}")
PY
}
idle_before=$(jobs_total); sleep "$window"; idle_after=$(jobs_total)
printf '%-32s %9s %9s %9s %9s %10s %12.1f\n' "(no load)" - - - - - "$(echo "($idle_after - $idle_before) / $window" | bc -l)"
measure "/api/status" "$base/api/status"
measure "/api/races/{id}/odds ($race)" "$base/api/races/$race/odds?pool=WIN"
measure "/metrics" "$base/metrics"
