#!/usr/bin/env bash
# Run test stages in order and print a timing summary. Every stage runs even when an
# earlier one failed, so one run shows every failure; the exit code is non-zero if any did.
# Stages: lint sanity build unit integration molecule
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections"
export ANSIBLE_ROLES_PATH="$PWD/roles"
if [ -f .build/images.env ]; then set -a; . .build/images.env; set +a; fi
mkdir -p .build/logs

stage_lint() { ansible-lint --offline; }

stage_sanity() { PATH="$PWD/.build/sanity-venv/bin:$PATH" hack/sanity.sh; }

stage_build() {
  # The collection tarball must build and install; build_ignore keeps tests out of it.
  rm -rf .build/dist .build/install-check
  ansible-galaxy collection build --output-path .build/dist >/dev/null || return 1
  local tarball
  tarball="$(ls .build/dist/dgx_station-inference-*.tar.gz)"
  echo "built $tarball ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) entries)"
  if tar -tzf "$tarball" | grep -E '^(tests/(sim|unit|integration)|molecule|\.build|\.venv)/' ; then
    echo "the tarball ships test or build files (see above): fix build_ignore in galaxy.yml"; return 1
  fi
  # Galaxy is unreachable here: install the tarball alone (its dependencies are in .build/collections).
  ANSIBLE_COLLECTIONS_PATH="$PWD/.build/install-check" \
    ansible-galaxy collection install --offline --no-deps -p .build/install-check "$tarball" || return 1
  test -f .build/install-check/ansible_collections/dgx_station/inference/MANIFEST.json || return 1
  ANSIBLE_COLLECTIONS_PATH="$PWD/.build/install-check:$PWD/.build/collections" \
    ansible-doc -t module dgx_station.inference.gpu_info >/dev/null || return 1
  echo "installed and loaded from .build/install-check"
}

stage_unit() { python -m pytest -q -p no:cacheprovider tests/unit; }

stage_integration() { python -m pytest -q -p no:cacheprovider tests/integration; }

stage_molecule() {
  local rc=0 scenario start
  for scenario in $(ls -d molecule/*/ | xargs -n1 basename | grep -v '^shared$'); do
    start=$(date +%s)
    if molecule test -s "$scenario" > ".build/logs/molecule-$scenario.log" 2>&1; then
      echo "molecule $scenario: passed in $(( $(date +%s) - start )) s"
    else
      echo "molecule $scenario: FAILED in $(( $(date +%s) - start )) s; last lines of .build/logs/molecule-$scenario.log:"
      tail -60 ".build/logs/molecule-$scenario.log"
      rc=1
    fi
  done
  return $rc
}

summary=()
overall=0
for stage in "$@"; do
  printf '\n===== %s =====\n' "$stage"
  start=$(date +%s)
  if "stage_$stage"; then result=passed; else result=FAILED; overall=1; fi
  summary+=("$(printf '%-12s %-7s %5d s' "$stage" "$result" "$(( $(date +%s) - start ))")")
done
printf '\n===== timing summary =====\n'
printf '%s\n' "${summary[@]}"
exit $overall
