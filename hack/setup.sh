#!/usr/bin/env bash
# One-time (and idempotent) set-up shared by `make test` and `make demo`:
#   venv    .venv with requirements.txt, the collection linked where Ansible finds it,
#           the collections of requirements.yml, and a separate venv for ansible-test
#   docker  a Docker engine that answers (installed and started only when none does)
#   images  the simulated Station and SGLang simulator images (cached by recipe hash)
# On a machine that already has all of this it only checks and reuses.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
# The community package on PyPI that carries the collections of requirements.yml
# (Galaxy is not reachable from the project's machines).
ANSIBLE_PACKAGE="ansible==12.3.0"

say() { printf '[setup] %s\n' "$*"; }

ensure_python_venv() {
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "python3-venv missing: installing it"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
}

setup_venv() {
  ensure_python_venv
  local stamp=".venv/.requirements-$(sha256sum requirements.txt | cut -c1-12)"
  if [ -f "$stamp" ]; then
    say "venv .venv is up to date, reusing it"
  else
    say "creating .venv from requirements.txt"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip >/dev/null
    .venv/bin/pip install -q -r requirements.txt
    rm -f .venv/.requirements-* && touch "$stamp"
  fi
  # ansible-test installs its own pinned tools per test; keep them out of .venv.
  local core_spec
  core_spec="$(grep -E '^ansible-core' requirements.txt | sed 's/[[:space:]]*#.*//')"
  local sanity_stamp=".build/sanity-venv/.core-$(printf '%s' "$core_spec" | sha256sum | cut -c1-12)"
  if [ ! -f "$sanity_stamp" ]; then
    say "creating .build/sanity-venv for ansible-test"
    python3 -m venv .build/sanity-venv
    .build/sanity-venv/bin/pip install -q "$core_spec"
    touch "$sanity_stamp"
  fi
  mkdir -p .build/collections/ansible_collections/dgx_station
  ln -sfn ../../../.. .build/collections/ansible_collections/dgx_station/inference
  .venv/bin/python hack/install_collections.py requirements.yml .build/collections "$ANSIBLE_PACKAGE"
}

case "$what" in
  venv) setup_venv ;;
  docker) hack/ensure_docker.sh ;;
  images) hack/ensure_docker.sh && tests/images/build.sh ;;
  all) setup_venv && hack/ensure_docker.sh && tests/images/build.sh ;;
  *) echo "usage: $0 venv|docker|images|all" >&2; exit 2 ;;
esac
