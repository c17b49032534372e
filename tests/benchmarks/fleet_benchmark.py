# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet benchmark: site.yml converge time for 1, 3 and 6 simulated Stations, and a rollout under traffic.

Prints figures; it is not a test and asserts nothing (run by `make benchmarks`).

  python tests/benchmarks/fleet_benchmark.py [--stations 1,3,6] [--skip-rollout] [--keep]

For each fleet size it builds a simulated fleet of its own (containers bench-fleet-station-NN and
bench-fleet-gateway on the Docker network bench-fleet, ports published on 127.0.0.1: Stations
31201-31299, the gateway 31290; never the demo's or Molecule's names or ports), writes an inventory
like tests/simulated_fleet/inventory.yml that reuses its group_vars, and times:

1. `ansible-playbook site.yml` on the fresh fleet (provision, deploy, validate, gateway, report), then
   the idempotent re-run (its changed count is printed: it should be 0). Target: the 6-Station re-run
   within 1.5x the 1-Station re-run.
2. On the 3-Station fleet (--rollout-stations), when playbooks/rollout.yml exists: steady traffic
   through the gateway (tests/fleet/steady_traffic.py, 10 requests/s, half streamed) for a quiet
   stretch, then `ansible-playbook playbooks/rollout.yml -e '{"sglang_server_release": "bench-2"}'`
   under that traffic, then a quiet stretch again. It prints the rollout's time per Station by phase
   (stations.<name>.rollout of the fleet report) and the availability: requests sent and failed,
   broken streams, the worst gap between two answers, TTFT p50/p99 before, during and after.

Reports go to .build/fleet-benchmark/fleet-N/reports (never reports/ of `make demo`); the raw
figures to .build/fleet-benchmark/results.json. Containers of a previous aborted run are removed at
the start, and this run's at the end (unless --keep). Every step is bounded by a timeout.
"""

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(REPO, ".build", "fleet-benchmark")
GROUP_VARS = os.path.join(REPO, "tests", "simulated_fleet", "group_vars")
CLIENT = os.path.join(REPO, "tests", "fleet", "steady_traffic.py")
ROLLOUT = os.path.join(REPO, "playbooks", "rollout.yml")

PREFIX = "bench-fleet"
NETWORK = "bench-fleet"
LABEL = "dgx_station.inference/test-station"
LABEL_VALUE = "fleet-benchmark"
STATION_PORT_BASE = 31200        # Station NN publishes its SGLang port on 127.0.0.1:(31200 + NN)
GATEWAY_PORT = 31290
MAX_STATIONS = 89                # keeps Station ports below the gateway's
# Phases of stations.<name>.rollout.phases_s in the order a rollout passes them (columns are printed for
# those the report has; unknown ones follow in alphabetical order).
PHASES = ("drain", "idle", "replace", "stop", "boot", "warm-up", "validate", "admit", "commit", "rollback")
RERUN_TARGET = 1.5

TIMEOUTS = dict(create=600, archives=300, prepare=600, first=2400, rerun=1200, rollout=2400)

_spec = importlib.util.spec_from_file_location("steady_traffic", CLIENT)
steady = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(steady)


def say(text):
    print("[fleet-benchmark] %s" % text, flush=True)


def station_name(index):
    return "%s-station-%02d" % (PREFIX, index)


def gateway_name():
    return "%s-gateway" % PREFIX


# --------------------------------------------------------------------------- environment
def load_env():
    env = dict(os.environ)
    env["PATH"] = os.path.join(REPO, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".build", "collections")
    env["ANSIBLE_ROLES_PATH"] = os.path.join(REPO, "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    # An archive directory of its own: sim-image-archives.sh prunes archives of other images in its directory.
    env["SGLANG_SIM_ARCHIVE_DIR"] = os.path.join(WORK, "archives")
    images = os.path.join(REPO, ".build", "images.env")
    if os.path.isfile(images):
        with open(images, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep and key and not key.startswith("#"):
                    env.setdefault(key, value)
    missing = [k for k in ("STATION_IMAGE", "STATION_DGXOS_IMAGE", "SGLANG_SIM_IMAGE") if not env.get(k)]
    if missing:
        raise SystemExit("fleet benchmark: %s unknown: run `make images` first" % ", ".join(missing))
    return env


def run(cmd, env, log_path, timeout, extra_env=None):
    """Run cmd (its own process group), output to log_path; (rc, seconds). rc None: timed out and killed."""
    full_env = dict(env, **(extra_env or {}))
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ %s\n" % " ".join(cmd))
        log.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(15)
            rc = None
    return rc, time.monotonic() - start


def tail(path, lines=40):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def recap(log_path):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP of an ansible-playbook log."""
    hosts = {}
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if "PLAY RECAP" not in text:
        return hosts
    for line in text.rsplit("PLAY RECAP", 1)[1].splitlines()[1:]:
        if " : " not in line:
            continue
        host, _sep, counts = line.partition(" : ")
        values = {}
        for item in counts.split():
            key, sep, value = item.partition("=")
            if sep and value.isdigit():
                values[key] = int(value)
        if values:
            hosts[host.strip()] = values
    return hosts


def docker(*args, check=False, timeout=120):
    return subprocess.run(("docker",) + args, capture_output=True, text=True, timeout=timeout, check=check)


def cleanup():
    """Remove every container and the network of this benchmark (by label and by name prefix)."""
    names = set()
    for filt in ("label=%s=%s" % (LABEL, LABEL_VALUE), "name=^%s-" % PREFIX):
        out = docker("ps", "-a", "--filter", filt, "--format", "{{.Names}}")
        names.update(n for n in out.stdout.split() if n.startswith(PREFIX + "-"))
    if names:
        docker("rm", "-f", "-v", *sorted(names), timeout=300)
    if docker("network", "inspect", NETWORK).returncode == 0:
        docker("network", "rm", NETWORK)
    return sorted(names)


# --------------------------------------------------------------------------- fleets
class Fleet:
    def __init__(self, size, env):
        self.size = size
        self.env = env
        self.dir = os.path.join(WORK, "fleet-%d" % size)
        self.inventory = os.path.join(self.dir, "inventory.yml")
        self.reports = os.path.join(self.dir, "reports")
        self.logs = os.path.join(self.dir, "logs")
        self.stations = [station_name(i) for i in range(1, size + 1)]
        self.gateway = gateway_name()
        self.gateway_url = "http://127.0.0.1:%d" % GATEWAY_PORT

    def platforms(self):
        platforms = [dict(name=name, image=self.env["STATION_DGXOS_IMAGE"], networks=[dict(name=NETWORK)],
                          published_ports=["%d:30000" % (STATION_PORT_BASE + i)])
                     for i, name in enumerate(self.stations, start=1)]
        platforms.append(dict(name=self.gateway, image=self.env["STATION_IMAGE"], networks=[dict(name=NETWORK)],
                              published_ports=["%d:30080" % GATEWAY_PORT]))
        return platforms

    def write_inventory(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.logs)
        os.makedirs(self.reports, mode=0o700)
        os.symlink(os.path.relpath(GROUP_VARS, self.dir), os.path.join(self.dir, "group_vars"))
        lines = [
            "---",
            "# Written by tests/benchmarks/fleet_benchmark.py: %d simulated Stations and a gateway host," % self.size,
            "# the shape of tests/simulated_fleet/inventory.yml, with its group_vars (linked next to this file).",
            "all:",
            "  vars:",
            "    # This benchmark's reports stay next to this inventory, away from reports/ of `make demo`.",
            "    sglang_fleet_report_dir: %s" % json.dumps(os.path.join(self.reports, "fleet")),
            "    sglang_validate_report_dir: %s" % json.dumps(os.path.join(self.reports, "validate")),
            "    sglang_benchmark_report_dir: %s" % json.dumps(os.path.join(self.reports, "benchmark")),
            "stations:",
            "  hosts:",
        ]
        for i, name in enumerate(self.stations, start=1):
            lines += ["    %s:" % name, "      demo_published_port: %d" % (STATION_PORT_BASE + i)]
        lines += ["  vars:", "    ansible_connection: community.docker.docker",
                  "gateway:", "  hosts:", "    %s:" % self.gateway, "      demo_published_port: %d" % GATEWAY_PORT,
                  "  vars:", "    ansible_connection: community.docker.docker", ""]
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))

    def playbook(self, name, playbook, timeout, extra_vars=None, extra_env=None, inventory=None):
        cmd = ["ansible-playbook", "-i", inventory or self.inventory, playbook]
        if extra_vars is not None:
            cmd += ["-e", json.dumps(extra_vars)]
        log = os.path.join(self.logs, name + ".log")
        rc, seconds = run(cmd, self.env, log, timeout, extra_env)
        return dict(rc=rc, seconds=round(seconds, 1), log=os.path.relpath(log, REPO), recap=recap(log))

    def create(self):
        self.write_inventory()
        platforms = dict(station_platforms=self.platforms())
        result = self.playbook("create", "molecule/shared/create.yml", TIMEOUTS["create"], platforms,
                               dict(MOLECULE_SCENARIO_NAME=LABEL_VALUE), inventory="localhost,")
        if result["rc"] != 0:
            return result
        log = os.path.join(self.logs, "archives.log")
        rc, _seconds = run([os.path.join(REPO, "tests", "simulated_fleet", "sim-image-archives.sh"),
                            self.env["SGLANG_SIM_ARCHIVE_DIR"], self.env["SGLANG_SIM_IMAGE"]], self.env, log,
                           TIMEOUTS["archives"])
        if rc != 0:
            return dict(rc=rc, seconds=0, log=os.path.relpath(log, REPO), recap={})
        prepared = self.playbook("prepare", "tests/simulated_fleet/prepare.yml", TIMEOUTS["prepare"])
        prepared["seconds"] = round(prepared["seconds"] + result["seconds"], 1)
        return prepared

    def report(self):
        path = os.path.join(self.reports, "fleet", "fleet-report.json")
        if not os.path.isfile(path):
            return None, path
        with open(path, encoding="utf-8") as handle:
            return json.load(handle), path


def changed_total(result):
    return sum(h.get("changed", 0) for h in result["recap"].values())


def failed_hosts(result):
    return sorted(h for h, c in result["recap"].items() if c.get("failed") or c.get("unreachable"))


def describe_run(result):
    if result["rc"] is None:
        return "TIMED OUT after %.0f s (log %s)" % (result["seconds"], result["log"])
    state = "ok" if result["rc"] == 0 else "FAILED rc=%s on %s" % (result["rc"], ", ".join(failed_hosts(result)) or "?")
    return "%7.1f s  changed=%-4d %s" % (result["seconds"], changed_total(result), state)


# --------------------------------------------------------------------------- rollout under traffic
def wait_gateway(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    return False


def window(records, start, end):
    """Figures of the requests that started in [start, end)."""
    chosen = [r for r in records if r["start"] is not None and start <= r["start"] < end]
    ok = [r for r in chosen if r["ok"]]
    gap = steady.worst_gap(r["end"] for r in ok)[0]
    ttft = [r["ttft_s"] for r in ok if r["streamed"] and r["ttft_s"] is not None]
    workers = {}
    for r in ok:
        workers[r["worker"] or steady.NO_WORKER] = workers.get(r["worker"] or steady.NO_WORKER, 0) + 1
    return dict(sent=len(chosen), ok=len(ok), failed=len(chosen) - len(ok),
                broken_streams=len([r for r in chosen if (r["error_kind"] or "").startswith("broken_stream")]),
                worst_gap_s=None if gap is None else round(gap, 3),
                ttft_p50_ms=None if not ttft else round(steady.percentile(ttft, 50) * 1000, 1),
                ttft_p99_ms=None if not ttft else round(steady.percentile(ttft, 99) * 1000, 1),
                latency_p99_ms=None if not ok else round(steady.percentile([r["latency_s"] for r in ok], 99) * 1000, 1),
                per_worker=dict(sorted(workers.items())))


def rollout_under_traffic(fleet, args):
    out = dict(skipped=None)
    playbook = os.path.abspath(args.rollout_playbook)
    if not os.path.isfile(playbook):
        out["skipped"] = "%s not present, skipped" % os.path.basename(playbook)
        return out
    if not wait_gateway(fleet.gateway_url):
        out["skipped"] = "the gateway %s does not answer, rollout skipped" % fleet.gateway_url
        return out
    summary_path = os.path.join(fleet.dir, "steady.json")
    requests_path = os.path.join(fleet.dir, "steady-requests.jsonl")
    stop_file = os.path.join(fleet.dir, "steady.stop")
    cap = args.quiet_s * 2 + TIMEOUTS["rollout"] + 60
    client_cmd = [sys.executable, CLIENT, "--url", fleet.gateway_url, "--rate", str(args.rate), "--duration-s", str(cap),
                  "--stop-file", stop_file, "--out", summary_path, "--requests-out", requests_path]
    client_log = open(os.path.join(fleet.logs, "steady-traffic.log"), "w", encoding="utf-8")
    client = subprocess.Popen(client_cmd, cwd=REPO, stdout=client_log, stderr=subprocess.STDOUT)
    result, rollout_start, rollout_end = None, time.time(), None
    try:
        say("steady traffic through %s at %g requests/s: %d s before the rollout" % (fleet.gateway_url, args.rate, args.quiet_s))
        time.sleep(args.quiet_s)
        extra = dict(sglang_server_release=args.release)
        extra.update(json.loads(args.rollout_extra_vars or "{}"))
        say("ansible-playbook %s -i %s -e '%s'" % (os.path.relpath(playbook, REPO), os.path.relpath(fleet.inventory, REPO),
                                                   json.dumps(extra)))
        rollout_start = time.time()
        result = fleet.playbook("rollout", playbook, TIMEOUTS["rollout"], extra)
        rollout_end = time.time()
        say("rollout: %s; %d s of traffic after it" % (describe_run(result), args.quiet_s))
        time.sleep(args.quiet_s)
    finally:
        with open(stop_file, "w", encoding="utf-8"):
            pass
        try:
            client.wait(120)
        except subprocess.TimeoutExpired:
            client.send_signal(signal.SIGTERM)
            client.wait(120)
        client_log.close()
    out.update(playbook=os.path.relpath(playbook, REPO), result=result, rollout_start=rollout_start, rollout_end=rollout_end or time.time())
    with open(summary_path, encoding="utf-8") as handle:
        out["traffic"] = json.load(handle)
    with open(requests_path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    out["windows"] = dict(before=window(records, 0, rollout_start), during=window(records, rollout_start, out["rollout_end"]),
                          after=window(records, out["rollout_end"], float("inf")))
    report, path = fleet.report()
    out["report_path"] = os.path.relpath(path, REPO)
    if report is not None and os.path.getmtime(path) >= rollout_start:
        out["stations"] = dict((name, dict(rollout=s.get("rollout"), release=(s.get("server") or {}).get("release"),
                                           verdict=s.get("verdict")))
                               for name, s in sorted(report.get("stations", {}).items()))
    else:
        out["stations"] = None
    return out


def print_rollout(out, fleet_size):
    print("")
    print("rollout on %d simulated Stations under steady traffic" % fleet_size)
    if out.get("skipped"):
        print("  %s" % out["skipped"])
        return
    result = out["result"]
    print("  ansible-playbook %s: %s" % (out["playbook"], describe_run(result)))
    if result["rc"] != 0:
        print("  last lines of %s:\n%s" % (result["log"], tail(os.path.join(REPO, result["log"]), 25)))
    stations = out.get("stations")
    if not stations:
        print("  no fleet report written by the rollout at %s" % out["report_path"])
    else:
        seen = set(p for s in stations.values() if isinstance(s["rollout"], dict) for p in (s["rollout"].get("phases_s") or {}))
        phases = [p for p in PHASES if p in seen] + sorted(seen - set(PHASES))
        print("  time per Station by phase (s), from stations.<name>.rollout of %s:" % out["report_path"])
        print("  %-24s %-10s %-12s" % ("station", "outcome", "release") + "".join("%9s" % p for p in phases) + "%9s" % "total")
        totals = []
        for name, station in stations.items():
            rollout = station["rollout"]
            if not isinstance(rollout, dict):
                print("  %-24s (no rollout entry)  release %s, verdict %s" % (name, station["release"], station["verdict"]))
                continue
            times = rollout.get("phases_s") or {}
            numbers = [times.get(p) for p in phases]
            total = sum(v for v in numbers if isinstance(v, (int, float)))
            print("  %-24s %-10s %-12s" % (name, rollout.get("outcome"), rollout.get("release") or station["release"])
                  + "".join("%9s" % ("-" if v is None else "%.1f" % v) for v in numbers) + "%9.1f" % total)
            totals.append(total)
            others = ", ".join("%s %s" % (k, str(v)[:12] if k.startswith("container_id") else v)
                               for k, v in sorted(rollout.items())
                               if k not in ("outcome", "release", "phases_s") and v not in (None, "", [], {}))
            if others:
                print("  %-24s %s" % ("", others))
        if totals and result["seconds"]:
            print("  sum over the Stations: %.1f s of the %.1f s run; the rest (read, plan, pre-stage, validate the others, "
                  "report): %.1f s" % (sum(totals), result["seconds"], result["seconds"] - sum(totals)))
    traffic = out["traffic"]
    print("  availability (client tests/fleet/steady_traffic.py, %g requests/s, half streamed):" % traffic["rate"])
    print("    whole run: %d sent, %d ok, %d failed, %d broken streams, worst gap between answers %s s, stopped by %s"
          % (traffic["sent"], traffic["ok"], traffic["failed"], traffic["broken_streams"], traffic["worst_gap_s"],
             traffic["stopped_by"]))
    for kind, entry in traffic["errors"].items():
        print("    error %s x%d, e.g. %s" % (kind, entry["count"], entry["examples"][0]["error"]))
    header = ("window", "sent", "ok", "failed", "broken", "worst gap", "TTFT p50", "TTFT p99", "latency p99",
              "answers per worker")
    print("    %-8s %6s %6s %7s %7s %10s %11s %11s %13s  %s" % header)
    for name in ("before", "during", "after"):
        w = out["windows"][name]
        print("    %-8s %6d %6d %7d %7d %9s %10s %11s %13s  %s" % (
            name, w["sent"], w["ok"], w["failed"], w["broken_streams"],
            "-" if w["worst_gap_s"] is None else "%.2fs" % w["worst_gap_s"],
            "-" if w["ttft_p50_ms"] is None else "%.1fms" % w["ttft_p50_ms"],
            "-" if w["ttft_p99_ms"] is None else "%.1fms" % w["ttft_p99_ms"],
            "-" if w["latency_p99_ms"] is None else "%.1fms" % w["latency_p99_ms"],
            ", ".join("%s %d" % (k.replace("http://", ""), v) for k, v in w["per_worker"].items())))
    print("    target 0 failed requests: %s" % ("met" if traffic["failed"] == 0 else "NOT met (%d failed)" % traffic["failed"]))


# --------------------------------------------------------------------------- main
def parse_sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--stations takes sizes like 1,3,6") from None
    if not sizes or any(s < 1 or s > MAX_STATIONS for s in sizes):
        raise argparse.ArgumentTypeError("--stations: sizes between 1 and %d" % MAX_STATIONS)
    return sorted(set(sizes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--stations", type=parse_sizes, default=[1, 3, 6], help="fleet sizes (default 1,3,6)")
    ap.add_argument("--skip-rollout", action="store_true", help="converge timings only")
    ap.add_argument("--rollout-stations", type=int, default=3, help="fleet size of the rollout (default 3)")
    ap.add_argument("--rollout-playbook", default=ROLLOUT, help="the rollout playbook (default playbooks/rollout.yml)")
    ap.add_argument("--release", default="bench-2", help="sglang_server_release of the rollout (default bench-2)")
    ap.add_argument("--rollout-extra-vars", help="more extra vars for rollout.yml, as JSON")
    ap.add_argument("--rate", type=float, default=10.0, help="steady traffic, requests/s (default 10)")
    ap.add_argument("--quiet-s", type=int, default=20, help="traffic before and after the rollout, s (default 20)")
    ap.add_argument("--keep", action="store_true", help="leave the last fleet running")
    args = ap.parse_args()
    if args.rollout_extra_vars:
        try:
            json.loads(args.rollout_extra_vars)
        except ValueError as exc:
            ap.error("--rollout-extra-vars: %s" % exc)

    env = load_env()
    if docker("info").returncode != 0:
        say("no Docker engine answers: run `make setup` first")
        return 1
    os.makedirs(WORK, exist_ok=True)
    removed = cleanup()
    if removed:
        say("removed containers of an earlier run: %s" % ", ".join(removed))
    say("%d CPUs, load average %.2f %.2f %.2f; fleet sizes %s; Station image %s"
        % ((os.cpu_count() or 1,) + os.getloadavg() + (",".join(map(str, args.stations)), env["STATION_DGXOS_IMAGE"])))
    results = dict(converge={}, rollout=None, cpus=os.cpu_count())
    last = None
    try:
        for size in args.stations:
            fleet = Fleet(size, env)
            last = fleet
            cleanup()
            say("fleet of %d: creating %s..%s and %s" % (size, fleet.stations[0], fleet.stations[-1], fleet.gateway))
            created = fleet.create()
            entry = dict(create=created)
            results["converge"][size] = entry
            if created["rc"] != 0:
                say("creating the fleet failed: %s\n%s" % (created["log"], tail(os.path.join(REPO, created["log"]))))
                continue
            say("fleet of %d: containers up and prepared in %.0f s; site.yml (first run)" % (size, created["seconds"]))
            entry["first"] = fleet.playbook("site-first", "site.yml", TIMEOUTS["first"])
            say("fleet of %d: first run %s" % (size, describe_run(entry["first"])))
            if entry["first"]["rc"] != 0:
                print(tail(os.path.join(REPO, entry["first"]["log"])))
                continue
            entry["rerun"] = fleet.playbook("site-rerun", "site.yml", TIMEOUTS["rerun"])
            say("fleet of %d: re-run   %s" % (size, describe_run(entry["rerun"])))
            report, _path = fleet.report()
            if report is not None:
                entry["fleet_verdict"] = report["fleet"]["verdict"]
                entry["releases"] = report["fleet"]["releases"]
            if size == args.rollout_stations and not args.skip_rollout:
                results["rollout"] = rollout_under_traffic(fleet, args)
                print_rollout(results["rollout"], size)
    finally:
        if args.keep and last is not None:
            say("kept the fleet of %d running (inventory %s); remove it with: docker rm -f -v $(docker ps -aq --filter "
                "label=%s=%s)" % (last.size, os.path.relpath(last.inventory, REPO), LABEL, LABEL_VALUE))
        else:
            cleanup()
        with open(os.path.join(WORK, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, sort_keys=True, default=str)

    print("")
    print("site.yml converge time on simulated Stations (%d CPUs; each fleet also has a gateway host)" % (os.cpu_count() or 1))
    print("  %-9s %-40s %-40s %s" % ("Stations", "first run", "idempotent re-run", "fleet report"))
    for size, entry in sorted(results["converge"].items()):
        first = describe_run(entry["first"]) if "first" in entry else "-"
        rerun = describe_run(entry["rerun"]) if "rerun" in entry else "-"
        if entry["create"]["rc"] != 0:
            first = "fleet not created (%s)" % entry["create"]["log"]
        print("  %-9d %-40s %-40s %s" % (size, first, rerun, entry.get("fleet_verdict", "-")))
    reruns = dict((size, e["rerun"]["seconds"]) for size, e in results["converge"].items()
                  if e.get("rerun") and e["rerun"]["rc"] == 0)
    sizes = sorted(reruns)
    if 1 in reruns and max(sizes) > 1:
        big = max(sizes)
        ratio = reruns[big] / reruns[1]
        verdict = "met" if ratio <= RERUN_TARGET else "NOT met"
        label = "6-Station" if big == 6 else "%d-Station (6 not measured)" % big
        print("  target: the %s re-run within %.1fx the 1-Station re-run: %.2fx (%.1f s / %.1f s), %s"
              % (label, RERUN_TARGET, ratio, reruns[big], reruns[1], verdict))
    else:
        print("  target (6-Station re-run within %.1fx the 1-Station re-run): not measured" % RERUN_TARGET)
    bad_reruns = [size for size, e in results["converge"].items() if e.get("rerun") and changed_total(e["rerun"]) != 0]
    if bad_reruns:
        print("  note: the re-run changed something on the fleet of %s (not idempotent)" % ", ".join(map(str, bad_reruns)))
    if args.skip_rollout:
        print("\nrollout: skipped (--skip-rollout)")
    elif results["rollout"] is None:
        print("\nrollout: skipped (it runs on the fleet of %d; --stations %s)" % (
            args.rollout_stations, ",".join(map(str, args.stations))))
    print("raw figures: %s" % os.path.relpath(os.path.join(WORK, "results.json"), REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
