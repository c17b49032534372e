#!/usr/bin/env bash
# Print the performance figures (not pass/fail tests): the SGLang simulator's own CPU
# per request under 64 concurrent streams, the benchmark client measured against a
# threads-plus-requests client, and the fleet benchmark (site.yml converge time for 1, 3
# and 6 simulated Stations, a rollout under steady traffic). Bounded in requests and time;
# loopback only. FLEET_BENCHMARK_ARGS passes flags to the fleet benchmark, for example
#   FLEET_BENCHMARK_ARGS="--stations 1,3 --skip-rollout" make benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for script in tests/benchmarks/*.py; do
  printf '\n===== %s =====\n' "$script"
  case "$script" in
    */fleet_benchmark.py) read -r -a args <<< "${FLEET_BENCHMARK_ARGS:-}"; python "$script" "${args[@]}" ;;
    *) python "$script" ;;
  esac
done
