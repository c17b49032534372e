"""The server's API keys never reach a module result, a report or a file, and those files are owner-only.

The simulator runs with --api-key and --admin-api-key; like SGLang 0.5.23 its /server_info returns
both in clear and its log prints them in the server_args line. The validate and benchmark plays
find the server through the sglang_server role's settings only (port, key, deployed fact).
"""
import json
import os
import stat
import subprocess
import sys

import yaml

from _sim_http import get_json

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark as b
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
VENV_BIN = os.path.dirname(sys.executable)
FAST = {"SGLANG_SIM_PREFILL_TOKENS_PER_S": "1e9", "SGLANG_SIM_DECODE_TOKENS_PER_S": "1e9", "SGLANG_SIM_TICK_MS": "1"}
KEY = "sk-sim-4a1f9c"
ADMIN = "adm-sim-77b0e2"
SECRETS = (KEY, ADMIN)


def keyed_sim(start_sim):
    sim = start_sim("--api-key", KEY, "--admin-api-key", ADMIN, "--enable-metrics", env=FAST)
    # The premise: the server itself hands its keys out.
    status, info = get_json(sim.base_url, "/server_info", {"Authorization": "Bearer " + KEY})
    assert status == 200 and info["api_key"] == KEY and info["internal_states"][0]["admin_api_key"] == ADMIN
    return sim


def assert_no_secret(text, where):
    for secret in SECRETS:
        assert secret not in text, "%s holds %s" % (where, secret)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def ansible_env():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"))
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    return env


def run_adhoc(module, args, cwd):
    out = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                          "-e", "ansible_python_interpreter=" + sys.executable, "-m", "dgx_station.inference." + module,
                          "-a", json.dumps(args)],
                         capture_output=True, text=True, env=ansible_env(), cwd=str(cwd), timeout=120, check=False)
    return out, json.loads(out.stdout.split("=>", 1)[1])


def run_playbook(name, inventory, extra, cwd):
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory),
                           os.path.join(REPO, "playbooks", name), "-e", json.dumps(extra)],
                          capture_output=True, text=True, env=ansible_env(), cwd=str(cwd), timeout=180, check=False)


def station_inventory(path, hosts):
    """A YAML inventory of local 'Stations' that only know the sglang_server role's settings."""
    path.write_text(yaml.safe_dump({"stations": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "dgx_station_venv_python": sys.executable, "sglang_server_api_key": KEY}}}))
    return path


def test_benchmark_result_and_detail_carry_no_key(start_sim):
    sim = keyed_sim(start_sim)
    cfg = dict(model=None, num_conversations=2, turns_per_conversation=2, concurrency=None, max_tokens=8,
               temperature=0.0, seed=1, chat_template_kwargs=None, system_prompt=None, prompt_words=24,
               ignore_eos=False, stream=True, warmup_requests=1, flush_cache=True, structured_output_fraction=0.0,
               structured_output_schema=benchmark_load.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=30)
    result, detail = b.run_benchmark(SGLangClient(base_url=sim.base_url, api_key=KEY, timeout=30), cfg)
    assert result["summary"]["errors"] == 0 and result["server"]["enable_metrics"] is True
    assert_no_secret(json.dumps(result), "the result")
    assert_no_secret(detail, "the detail log")
    assert '"api_key": "<redacted>"' in detail and '"admin_api_key": "<redacted>"' in detail
    assert '"page_size": 1' in detail and "sglang:prompt_tokens_total" in detail


def test_benchmark_module_writes_its_detail_file_0600(start_sim, tmp_path):
    sim = keyed_sim(start_sim)
    detail = tmp_path / "detail.log"
    out, res = run_adhoc("sglang_benchmark", dict(base_url=sim.base_url, api_key=KEY, num_conversations=2,
                                                  turns_per_conversation=2, max_tokens=8, structured_output_fraction=0.0,
                                                  detail_file=str(detail)), tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert res["summary"]["errors"] == 0
    assert_no_secret(out.stdout + out.stderr, "the module output")
    assert mode(detail) == 0o600
    assert_no_secret(detail.read_text(), "the detail file")


def test_benchmark_play_follows_the_server_settings_and_writes_owner_only_reports(start_sim, tmp_path):
    sim = keyed_sim(start_sim)
    inventory = station_inventory(tmp_path / "stations.yml", {
        # The port of the sglang_server role ...
        "st-a": {"sglang_server_host_port": sim.port},
        # ... and, when the server role ran in this run, the base_url it published wins.
        "st-b": {"sglang_server_host_port": 9, "sglang_server_deployed": {"base_url": sim.base_url}},
    })
    reports = tmp_path / "reports"
    on_station = tmp_path / "station-tmp"
    on_station.mkdir()
    extra = dict(sglang_benchmark_enabled=True, sglang_benchmark_preset="custom", sglang_benchmark_num_conversations=2,
                 sglang_benchmark_turns_per_conversation=2, sglang_benchmark_max_tokens=8,
                 sglang_benchmark_report_dir=str(reports), sglang_benchmark_detail_dir=str(on_station),
                 sglang_benchmark_slo={"max_error_rate": 0.0}, sglang_benchmark_fail_on_slo=True)
    out = run_playbook("benchmark.yml", inventory, extra, REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert_no_secret(out.stdout + out.stderr, "the play output")
    for host in ("st-a", "st-b"):
        doc = json.loads((reports / "custom" / host / "report.json").read_text())
        assert doc["verdict"]["status"] == "pass" and doc["summary"]["succeeded"] == 4
        assert (reports / "custom" / host / "detail.log").is_file()
    written = 0
    for root, dirs, files in os.walk(str(reports)):
        assert mode(root) == 0o700, root
        for name in files:
            path = os.path.join(root, name)
            assert mode(path) == 0o600, path
            with open(path) as handle:
                assert_no_secret(handle.read(), path)
            written += 1
    assert written == 3 * 4 + 2 * 2  # report files of st-a, st-b and fleet; a detail log and requests.jsonl each
    for name in os.listdir(str(on_station)):
        assert mode(on_station / name) == 0o600, name
        assert_no_secret((on_station / name).read_text(), name)


def test_validate_play_follows_the_server_settings_and_writes_an_owner_only_report(start_sim, tmp_path):
    sim = keyed_sim(start_sim)
    inventory = station_inventory(tmp_path / "stations.yml", {
        "st-v": {"sglang_server_host_port": sim.port, "sglang_validate_log_file": sim.log_path}})
    reports = tmp_path / "reports"
    out = run_playbook("validate.yml", inventory, dict(sglang_validate_report_dir=str(reports),
                                                       sglang_validate_structured_samples=1), tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert_no_secret(out.stdout + out.stderr, "the play output")
    report = reports / "st-v.json"
    doc = json.loads(report.read_text())
    assert doc["passed"] is True and doc["base_url"] == sim.base_url
    assert mode(reports) == 0o700 and mode(report) == 0o600
    assert_no_secret(report.read_text(), "the validation report")


def test_sglang_wait_log_tail_carries_no_key(start_sim, tmp_path):
    sim = keyed_sim(start_sim)
    assert "admin_api_key=%r" % ADMIN in sim.logs()
    out, res = run_adhoc("sglang_wait", dict(base_url=sim.base_url, api_key=KEY, log_file=sim.log_path,
                                             log_lines=1000, wait_timeout=10), tmp_path)
    assert out.returncode == 0 and res["ready"] is True, out.stdout[-2000:]
    assert_no_secret(out.stdout + out.stderr, "the sglang_wait result")
    assert any("admin_api_key='<redacted>'" in line for line in res["log_tail"])
