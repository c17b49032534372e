#!/usr/bin/env bash
# Print the performance figures (not pass/fail tests): the SGLang simulator's own CPU
# per request under 64 concurrent streams, and the benchmark client measured against
# a threads-plus-requests client. Bounded in requests and time; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for script in tests/benchmarks/*.py; do
  printf '\n===== %s =====\n' "$script"
  python "$script"
done
