#!/usr/bin/env bash
# make demo: site.yml (provision -> deploy -> validate -> benchmark) on the built-in
# simulated fleet, then print what each Station reported. `--clean` removes the fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections"
export ANSIBLE_ROLES_PATH="$PWD/roles"
set -a; . .build/images.env; set +a

fleet=tests/simulated_fleet/inventory.yml
# One Station container per inventory host, from the DGX OS-like image; each publishes
# its SGLang port on 127.0.0.1 so you can curl it from this machine afterwards.
platforms="$(python3 - "$fleet" "$STATION_DGXOS_IMAGE" <<'PY'
import json, sys, yaml
hosts = yaml.safe_load(open(sys.argv[1]))["stations"]["hosts"]
print(json.dumps({"station_platforms": [
    {"name": name, "image": sys.argv[2], "published_ports": ["%d:30000" % hostvars["demo_published_port"]]}
    for name, hostvars in hosts.items()]}))
PY
)"

say() { printf '\n[demo] %s\n' "$*"; }

say "removing any previous demo Stations"
ansible-playbook -i localhost, molecule/shared/destroy.yml -e "$platforms" >/dev/null
[ "${1:-}" = "--clean" ] && { say "demo Stations removed"; exit 0; }

start=$(date +%s)
say "starting two simulated DGX Stations from $STATION_DGXOS_IMAGE"
ansible-playbook -i localhost, molecule/shared/create.yml -e "$platforms" >/dev/null

say "shipping the SGLang simulator image as an archive (the air-gapped image source)"
tests/simulated_fleet/sim-image-archives.sh "$PWD/.build/archives" "$SGLANG_SIM_IMAGE"
ansible-playbook -i "$fleet" tests/simulated_fleet/prepare.yml >/dev/null

say "ansible-playbook site.yml -i $fleet -e sglang_benchmark_enabled=true"
ansible-playbook site.yml -i "$fleet" -e sglang_benchmark_enabled=true

say "done in $(( $(date +%s) - start )) s. What the fleet reported:"
python3 hack/demo_summary.py reports
cat <<MSG

[demo] The Stations keep running: try
  curl -s http://127.0.0.1:31001/v1/models
  docker exec demo-station-01 docker logs sglang-server 2>&1 | grep cached-token
[demo] Remove them with: make demo-clean
MSG
