#!/usr/bin/env bash
# make demo: site.yml (provision -> deploy -> validate -> gateway -> benchmark -> fleet report) on
# the built-in simulated fleet (three Stations and a gateway host), then print what it reported and
# one answer fetched through the gateway. `--clean` removes the fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections"
export ANSIBLE_ROLES_PATH="$PWD/roles"
set -a; . .build/images.env; set +a

fleet=tests/simulated_fleet/inventory.yml
# One container per inventory host on one Docker network (the gateway reaches the Stations by
# name): Stations from the DGX OS-like image, the gateway host from the plain Station image. Each
# publishes its port on 127.0.0.1 so you can curl it from this machine afterwards.
platforms="$(python3 - "$fleet" "$STATION_DGXOS_IMAGE" "$STATION_IMAGE" <<'PY'
import json, sys, yaml
inventory = yaml.safe_load(open(sys.argv[1]))
platforms = []
for group, image, port in (("stations", sys.argv[2], 30000), ("gateway", sys.argv[3], 30080)):
    for name, hostvars in inventory[group]["hosts"].items():
        platforms.append({"name": name, "image": image, "networks": [{"name": "dgx-station-demo"}],
                          "published_ports": ["%d:%d" % (hostvars["demo_published_port"], port)]})
print(json.dumps({"station_platforms": platforms}))
PY
)"

say() { printf '\n[demo] %s\n' "$*"; }

say "removing any previous demo fleet"
ansible-playbook -i localhost, molecule/shared/destroy.yml -e "$platforms" >/dev/null
[ "${1:-}" = "--clean" ] && { say "demo fleet removed"; exit 0; }

start=$(date +%s)
say "starting three simulated DGX Stations ($STATION_DGXOS_IMAGE) and a gateway host ($STATION_IMAGE)"
ansible-playbook -i localhost, molecule/shared/create.yml -e "$platforms" >/dev/null

say "shipping the SGLang simulator image as an archive (the air-gapped image source)"
tests/simulated_fleet/sim-image-archives.sh "$PWD/.build/archives" "$SGLANG_SIM_IMAGE"
ansible-playbook -i "$fleet" tests/simulated_fleet/prepare.yml >/dev/null

say "ansible-playbook site.yml -i $fleet -e sglang_benchmark_enabled=true"
ansible-playbook site.yml -i "$fleet" -e sglang_benchmark_enabled=true

say "done in $(( $(date +%s) - start )) s. What the fleet reported:"
python3 hack/demo_summary.py reports
python3 - reports/fleet/fleet-report.json <<'PY'
import json, sys, urllib.request
report = json.load(open(sys.argv[1]))
url = report["gateway"]["url"]
print("\n[demo] fleet %s: %s -> %s" % (report["fleet"]["verdict"], ", ".join(
    "%s %s" % (name, station["verdict"]) for name, station in sorted(report["stations"].items())), sys.argv[1]))
body = json.dumps({"model": "Qwen/Qwen3-8B", "max_tokens": 32,
                   "messages": [{"role": "user", "content": "Say hello to the fleet."}]}).encode()
request = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=60) as answer:
    text = json.load(answer)["choices"][0]["message"]["content"]
    print("[demo] one answer through the gateway %s (served by %s):\n  %s" % (
        url, answer.headers.get("x-smg-routed-worker-id"), text.strip()[:200]))
PY
gateway_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"]["url"])' reports/fleet/fleet-report.json)"
cat <<MSG

[demo] Fleet report: reports/fleet/fleet-report.json (.md, .html); Prometheus targets: reports/fleet/prometheus-targets.json
[demo] The fleet keeps running: try
  curl -s $gateway_url/v1/models
  curl -s http://127.0.0.1:31001/v1/models
  docker exec demo-station-01 docker logs sglang-server 2>&1 | grep cached-token
[demo] Remove it with: make demo-clean
MSG
