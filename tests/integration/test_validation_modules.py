"""The validation modules run as real Ansible modules (ad-hoc `ansible localhost -m ...`) against the simulator."""
import json
import os
import shlex
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO_ROOT, ".build", "collections")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
HYBRID = "Qwen/Qwen3.6-35B-A3B"


def run_module(module, args, tmp_path, check=False):
    """(failed, result) of one module run through the ansible CLI on localhost."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_DEPRECATION_WARNINGS="False")
    text = " ".join("%s=%s" % (k, shlex.quote(json.dumps(v) if isinstance(v, (dict, list)) else str(v)))
                    for k, v in args.items())
    cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
           "-m", "dgx_station.inference." + module, "-a", text, "-o"]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=120, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("localhost | ") and "=>" in line:
            status, _sep, payload = line.partition(" => ")
            return "SUCCESS" not in status, json.loads(payload)
    raise AssertionError("no module result in ansible output (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))


def test_smoke_passes(start_sim, tmp_path):
    sim = start_sim()
    failed, result = run_module("sglang_smoke_test", {"base_url": sim.base_url, "stream": True}, tmp_path)
    assert not failed, result.get("msg")
    assert result["passed"] is True and result["changed"] is False and result["failures"] == []
    assert result["served_model"] == "Qwen/Qwen3-8B"
    assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
    assert result["prompt_tokens"] + result["completion_tokens"] == result["total_tokens"]
    assert result["content"] and result["finish_reason"] in ("stop", "length")
    assert 0 <= result["stream_ttft_s"] <= result["stream_latency_s"]


def test_cache_check_hits_with_log_line(start_sim, tmp_path):
    sim = start_sim()
    failed, result = run_module("sglang_cache_check", {"base_url": sim.base_url, "flush_cache": True,
                                                       "log_file": sim.log_path}, tmp_path)
    assert not failed, result.get("msg")
    assert result["applicable"] is True and result["cache_hit"] is True and result["flushed"] is True
    turn1, turn2 = result["turns"]
    assert turn1["prompt_tokens"] > max(result["page_size"], 64)
    assert turn2["cached_tokens"] >= turn2["lower_bound"] > 0
    assert turn2["log_match"] == "exact" and turn2["log_cached_tokens"] == turn2["cached_tokens"]
    assert "#cached-token: %d" % turn2["cached_tokens"] in sim.logs()


def test_cache_check_more_turns_and_page_size(start_sim, tmp_path):
    sim = start_sim("--page-size", "64")
    failed, result = run_module("sglang_cache_check", {"base_url": sim.base_url, "turns": 4, "flush_cache": True}, tmp_path)
    assert not failed, result.get("msg")
    assert result["page_size"] == 64
    assert [t["hit"] for t in result["turns"]] == [None, True, True, True]
    assert all(t["cached_tokens"] % 64 == 0 for t in result["turns"])


@pytest.mark.parametrize("extra,model,needle", [
    (("--disable-radix-cache",), "Qwen/Qwen3-8B", "--disable-radix-cache"),
    ((), HYBRID, "hybrid mamba/SSM"),
])
def test_cache_check_not_applicable(start_sim, tmp_path, extra, model, needle):
    sim = start_sim(*extra, model=model)
    failed, result = run_module("sglang_cache_check", {"base_url": sim.base_url, "log_file": sim.log_path}, tmp_path)
    assert not failed, result.get("msg")
    assert result["applicable"] is False and result["cache_hit"] is None
    assert needle in result["reason"]
    assert [t["cached_tokens"] for t in result["turns"]] == [0, 0]


def test_cache_check_without_cache_report_names_the_flag(start_sim, tmp_path):
    sim = start_sim("--context-length", "8192", "--attention-backend", "flashinfer", runbook_flags=False)
    failed, result = run_module("sglang_cache_check", {"base_url": sim.base_url}, tmp_path)
    assert failed
    assert "--enable-cache-report" in result["msg"] and "Add --enable-cache-report" in result["msg"]


def test_structured_output_validates_every_sample(start_sim, tmp_path):
    sim = start_sim()
    failed, result = run_module("sglang_structured_output_check", {"base_url": sim.base_url, "samples": 3}, tmp_path)
    assert not failed, result.get("msg")
    assert result["valid"] is True and result["valid_fraction"] == 1.0 and result["errors"] == []
    assert len(result["samples"]) == 3 and all(s["valid"] for s in result["samples"])
    assert isinstance(result["parsed"]["languages"], list)


def test_structured_output_invalid_json_lists_violations(start_sim, tmp_path):
    sim = start_sim(env={"SGLANG_SIM_INVALID_JSON": "1"})
    failed, result = run_module("sglang_structured_output_check", {"base_url": sim.base_url, "samples": 2}, tmp_path)
    assert failed and result["valid"] is False
    assert result["errors"] and all(e["path"].startswith("$") for e in result["errors"])
    assert "Violations:" in result["msg"] and result["errors"][0]["path"] in result["msg"]


def test_booting_server_is_still_loading(start_sim, tmp_path):
    sim = start_sim(boot_seconds=60, wait_ready=False)
    failed, result = run_module("sglang_smoke_test", {"base_url": sim.base_url, "timeout": 5}, tmp_path)
    assert failed
    assert "still loading" in result["msg"]
    assert result["error_kind"] in ("connection_refused", "not_ready")


def test_unauthorized_names_api_key(start_sim, tmp_path):
    sim = start_sim("--api-key", "sk-station")
    failed, result = run_module("sglang_smoke_test", {"base_url": sim.base_url}, tmp_path)
    assert failed and result["status"] == 401 and "api_key" in result["msg"]
    failed, result = run_module("sglang_smoke_test", {"base_url": sim.base_url, "api_key": "sk-station"}, tmp_path)
    assert not failed, result.get("msg")
    assert "sk-station" not in json.dumps(result.get("invocation", {}))


def test_server_errors_are_reported(start_sim, tmp_path):
    sim = start_sim(env={"SGLANG_SIM_ERROR_RATE": "1.0"})
    failed, result = run_module("sglang_smoke_test", {"base_url": sim.base_url}, tmp_path)
    assert failed and result["error_kind"] == "server_error"
    assert result["status"] >= 500 and ("HTTP %d" % result["status"]) in result["msg"]


def test_check_mode(start_sim, tmp_path):
    sim = start_sim()
    failed, result = run_module("sglang_cache_check", {"base_url": sim.base_url, "flush_cache": True}, tmp_path, check=True)
    assert not failed, result.get("msg")
    assert result["flushed"] is False and result["changed"] is False


def run_validate_playbook(tmp_path, sims, check=False):
    """Run playbooks/validate.yml over one local 'Station' per simulator; returns (rc, output, reports)."""
    report_dir = tmp_path / "reports"
    lines = ["[stations]"]
    for name, sim in sims.items():
        lines.append("%s ansible_connection=local sglang_validate_base_url=%s sglang_validate_log_file=%s"
                     % (name, sim.base_url, sim.log_path))
    lines += ["[stations:vars]", "dgx_station_venv_python=%s" % sys.executable, "ansible_python_interpreter=%s" % sys.executable,
              "sglang_validate_report_dir=%s" % report_dir, "sglang_validate_structured_samples=2"]
    inventory = tmp_path / "stations.ini"
    inventory.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_ROLES_PATH=os.path.join(REPO_ROOT, "roles"))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
           os.path.join(REPO_ROOT, "playbooks", "validate.yml")]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300, check=False)
    reports = {}
    if report_dir.is_dir():
        for path in report_dir.iterdir():
            reports[path.stem] = json.loads(path.read_text())
    return proc.returncode, proc.stdout + proc.stderr, reports


def test_validate_playbook_reports_every_station_and_fails_the_bad_one(start_sim, tmp_path):
    good = start_sim()
    bad = start_sim(env={"SGLANG_SIM_INVALID_JSON": "1"})
    rc, output, reports = run_validate_playbook(tmp_path, {"station-good": good, "station-bad": bad})
    assert rc != 0, output
    assert set(reports) == {"station-good", "station-bad"}, output
    ok = reports["station-good"]
    assert ok["passed"] is True and ok["failures"] == [] and ok["model"] == "Qwen/Qwen3-8B"
    assert ok["timestamp"].endswith("Z") and ok["check_mode"] is False
    assert all(ok["checks"][name]["passed"] is True for name in ("smoke", "cache", "structured"))
    assert ok["checks"]["cache"]["result"]["cache_hit"] is True
    assert ok["checks"]["cache"]["result"]["turns"][1]["log_match"] == "exact"
    assert "invocation" not in ok["checks"]["smoke"]["result"]
    ko = reports["station-bad"]
    assert ko["passed"] is False
    assert ko["checks"]["structured"]["passed"] is False and ko["checks"]["smoke"]["passed"] is True
    assert ko["failures"][0].startswith("structured: Structured output check failed")
    assert "SGLang validation failed on station-bad" in output
    assert "station-good               : ok=" in output and "failed=0" in output.split("station-good")[-1].splitlines()[0]


def test_validate_playbook_check_mode_writes_no_report(start_sim, tmp_path):
    sim = start_sim()
    rc, output, reports = run_validate_playbook(tmp_path, {"station-a": sim}, check=True)
    assert rc == 0, output
    assert reports == {}
    assert "Cache flushed successfully!" not in sim.logs()
