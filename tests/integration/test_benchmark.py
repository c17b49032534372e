"""sglang_benchmark against the SGLang simulator (tests/sim): cache, radix off, structured outputs, faults, the
runbook's workload, a real Ansible module run and the role/playbook end to end (healthy and broken Stations).
Small N except the runbook preset (NVIDIA's 20 x 5 on 8 workers, fast on the zero-delay simulator)."""
import json
import os
import stat
import subprocess
import sys

import jsonschema

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark as b
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
SCHEMA = os.path.join(REPO, "docs", "schemas", "benchmark-report.schema.json")
VENV_BIN = os.path.dirname(sys.executable)
FAST = {"SGLANG_SIM_PREFILL_TOKENS_PER_S": "1e9", "SGLANG_SIM_DECODE_TOKENS_PER_S": "1e9", "SGLANG_SIM_TICK_MS": "1"}


def cfg(**kw):
    base = dict(model=None, num_conversations=4, turns_per_conversation=4, concurrency=None, max_tokens=16,
                temperature=0.0, seed=11, chat_template_kwargs={"enable_thinking": False}, system_prompt=None,
                prompt_words=48, ignore_eos=False, stream=True, warmup_requests=1, flush_cache=True,
                structured_output_fraction=0.0, structured_output_schema=load.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=30)
    base.update(kw)
    return base


def bench_with_detail(sim, **kw):
    """(module result, detail log text) of one run against sim."""
    c = cfg(**kw)
    validator = load.make_schema_validator(c["structured_output_schema"]) if c["structured_output_fraction"] else None
    return b.run_benchmark(SGLangClient(base_url=sim.base_url, timeout=30), c, validator)


def bench(sim, **kw):
    return bench_with_detail(sim, **kw)[0]


def test_prompt_tokens_rise_and_cached_tokens_follow_from_turn_two(start_sim):
    sim = start_sim("--enable-metrics", env=FAST)
    result, detail = bench_with_detail(sim)
    s, turns = result["summary"], result["per_turn"]
    assert s["errors"] == 0 and s["requests"] == 16 and s["succeeded"] == 16
    prompts = [t["prompt_tokens_p50"] for t in turns]
    cached = [t["cached_tokens_p50"] for t in turns]
    assert prompts == sorted(prompts) and len(set(prompts)) == 4
    # Turn 1 shares only the chat-template start ("<|im_start|>user\nConversation") across conversations.
    assert cached[0] < 0.1 * prompts[0] and all(c > 0.4 * p for c, p in zip(cached[1:], prompts[1:]))
    # Turn r reuses turn r-1's prompt up to its assistant header: Qwen3's template renders the empty think block of
    # enable_thinking=false on the last turn only, so the earlier answer re-renders differently from how it was
    # generated and is prefilled again.
    for prev, cur in zip(turns, turns[1:]):
        assert prev["prompt_tokens_p50"] - 8 <= cur["cached_tokens_p50"] < cur["prompt_tokens_p50"]
    assert 0 < s["cache_hit_rate"] < 1 and s["ttft_ms"]["n"] == 16
    assert result["server"]["enable_cache_report"] is True and result["server"]["attention_backend"] == "flashinfer"
    m = result["metrics"]
    assert m["sglang:num_requests_total"] == 16
    assert m["sglang:prompt_tokens_total"] == s["prompt_tokens"]
    assert m["sglang:cached_tokens_total"] == s["cached_tokens"]
    assert result["token_agreement"]["prompt_tokens"] == 1.0
    assert "## GET /server_info" in detail and "sglang:prompt_tokens_total" in detail


def test_disable_radix_cache_zeroes_cache_and_raises_ttft(start_sim):
    env = dict(FAST, SGLANG_SIM_PREFILL_TOKENS_PER_S="20000")
    on = start_sim(env=env)
    off = start_sim("--disable-radix-cache", env=env)
    kw = dict(num_conversations=3, turns_per_conversation=5, concurrency=1, prompt_words=120, max_tokens=32)
    with_cache = bench(on, **kw)
    without = bench(off, **kw)
    assert without["server"]["disable_radix_cache"] is True
    assert all(t["cached_tokens_p50"] == 0 for t in without["per_turn"])
    assert without["summary"]["cache_hit_rate"] == 0
    assert with_cache["summary"]["cache_hit_rate"] > 0.5
    last_on, last_off = with_cache["per_turn"][-1], without["per_turn"][-1]
    # Turn 5 prefills ~800 tokens without cache (~40 ms at 20k tok/s) but only its new turn with it.
    assert last_off["ttft_ms_p50"] > 2 * last_on["ttft_ms_p50"]
    assert without["summary"]["ttft_ms"]["p50"] > with_cache["summary"]["ttft_ms"]["p50"]


def test_structured_outputs_inside_the_load_are_all_valid(start_sim):
    sim = start_sim(env=FAST)
    result = bench(sim, structured_output_fraction=0.5, num_conversations=4, turns_per_conversation=3, max_tokens=96)
    so = result["structured_output"]
    assert so["requests"] >= 3 and so["valid"] == so["requests"] and so["invalid"] == 0
    assert result["summary"]["errors"] == 0


def test_invalid_structured_output_is_counted_not_fatal(start_sim):
    sim = start_sim(env=dict(FAST, SGLANG_SIM_INVALID_JSON="1"))
    result = bench(sim, structured_output_fraction=1.0, num_conversations=2, turns_per_conversation=2, max_tokens=96)
    so = result["structured_output"]
    assert so["requests"] == 4 and so["valid"] < so["requests"]
    assert result["summary"]["succeeded"] == 4


def test_injected_http_errors_are_counted_and_the_run_completes(start_sim):
    sim = start_sim(env=dict(FAST, SGLANG_SIM_ERROR_RATE="0.2", SGLANG_SIM_SEED="3"))
    result = bench(sim, num_conversations=12, turns_per_conversation=4, warmup_requests=0)
    s = result["summary"]
    assert s["errors"] > 0 and s["error_kinds"].get("http_500") == s["errors"]
    assert s["conversations"]["failed"] == s["errors"]  # every error stops its conversation
    assert s["requests"] + s["not_sent"] == 48
    assert s["succeeded"] == s["requests"] - s["errors"] and not s["truncated"]
    assert sum(t["errors"] for t in result["per_turn"]) == s["errors"]
    # The module fails such a run (max_error_rate 0.0 by default), naming the cause.
    kind, msg = b.failure(result, dict(max_error_rate=0.0))
    assert kind == "error_rate" and "http_500" in msg and b.failure(result, dict(max_error_rate=1.0)) == (None, None)


def test_sse_error_events_are_counted(start_sim):
    sim = start_sim(env=dict(FAST, SGLANG_SIM_STREAM_ERROR_AFTER_CHUNKS="1"))
    result = bench(sim, num_conversations=3, turns_per_conversation=3, warmup_requests=0)
    s = result["summary"]
    assert s["error_kinds"] == {"sse_error": 3} and s["requests"] == 3 and s["not_sent"] == 6
    assert s["conversations"]["failed"] == 3
    assert b.failure(result, {})[0] == "no_success"


def test_runbook_workload_sends_nvidias_conversations_and_structured_requests_apart(start_sim):
    sim = start_sim("--enable-metrics", env=FAST)
    c = load.resolve_config(dict(model=None, workload="runbook", num_conversations=3, turns_per_conversation=3,
                                 structured_output_fraction=0.2, chat_template_kwargs={"enable_thinking": False},
                                 seed=11, max_duration_s=30))
    run = b.measure(SGLangClient(base_url=sim.base_url, timeout=30), c, load.make_schema_validator(c["structured_output_schema"]))
    result = run.result
    s, so = result["summary"], result["structured_output"]
    assert run.msg is None and result["failure_kind"] is None and s["errors"] == 0
    assert s["chat_requests"] == 9 and s["requests"] == 11 and so["sent"] == 2 and so["valid"] == 2
    assert s["concurrency"]["target"] == 5 and s["ttft_ms"]["n"] == 9 and s["itl_ms"]["n"] > 0
    assert s["total_tokens_per_s"] > s["output_tokens_per_s"] > 0
    # Every conversation asks the same questions: the prompt grows the same way in each, and from the second
    # conversation on turn 1 is (mostly) cached across conversations, as in the runbook script.
    assert [t["n"] for t in result["per_turn"]] == [3, 3, 3]
    lines = [json.loads(line) for line in run.requests_jsonl.splitlines()]
    assert len(lines) == 2 + 11 and sum(1 for line in lines if line["warmup"]) == 2
    assert all(line["ok"] for line in lines) and sum(1 for line in lines if line["structured"] and not line["warmup"]) == 2
    assert result["server_changed"] == {} and result["provenance"]["sglang_version"] == result["server"]["version"]
    assert result["metrics"]["sglang:num_requests_total"] == 11


def test_max_duration_bounds_the_run(start_sim):
    sim = start_sim(env=dict(FAST, SGLANG_SIM_TTFT_MS="100"))
    result = bench(sim, num_conversations=2, turns_per_conversation=20, max_duration_s=0.5, warmup_requests=0)
    s = result["summary"]
    assert s["truncated"] and s["duration_s"] < 2.0
    assert s["not_sent"] + s["requests"] + s["aborted"] == 40 and s["aborted"] <= 2


def _ansible_env():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    return env


def test_real_ansible_module_run_non_streaming_without_metrics(start_sim, tmp_path):
    sim = start_sim(env=FAST)
    detail = tmp_path / "detail.log"
    args = json.dumps(dict(base_url=sim.base_url, num_conversations=3, turns_per_conversation=2, stream=False,
                           structured_output_fraction=0.0, detail_file=str(detail)))
    out = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "dgx_station.inference.sglang_benchmark",
                          "-a", args, "-e", "ansible_python_interpreter=%s" % sys.executable],
                         capture_output=True, text=True, env=_ansible_env(), cwd=str(tmp_path), timeout=60, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    res = json.loads(out.stdout.split("=>", 1)[1])
    assert res["changed"] is False and res["summary"]["requests"] == 6 and res["summary"]["errors"] == 0
    assert res["summary"]["ttft_ms"]["p50"] is None and res["summary"]["e2e_ms"]["p50"] > 0
    assert res["metrics"] == "unavailable"
    assert [t["turn"] for t in res["per_turn"]] == [1, 2]
    assert "unavailable" in detail.read_text()


def test_role_and_playbook_write_valid_station_and_fleet_reports(start_sim, tmp_path):
    sim = start_sim("--enable-metrics", env=FAST)
    inv = tmp_path / "inventory.ini"
    inv.write_text("[stations]\nst-a ansible_connection=local\nst-b ansible_connection=local\n"
                   "[stations:vars]\nansible_python_interpreter=%s\ndgx_station_venv_python=%s\n"
                   % (sys.executable, sys.executable))
    reports = tmp_path / "reports"
    extra = dict(sglang_benchmark_enabled=True, sglang_benchmark_preset="custom", sglang_benchmark_num_conversations=3,
                 sglang_benchmark_turns_per_conversation=3, sglang_benchmark_max_tokens=16,
                 sglang_benchmark_base_url=sim.base_url, sglang_benchmark_report_dir=str(reports),
                 sglang_benchmark_detail_dir=str(tmp_path), sglang_benchmark_slo={"max_error_rate": 0.0},
                 sglang_benchmark_fail_on_slo=True)
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inv),
                          os.path.join(REPO, "playbooks", "benchmark.yml"), "-e", json.dumps(extra)],
                         capture_output=True, text=True, env=_ansible_env(), cwd=REPO, timeout=90, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    with open(SCHEMA) as f:
        schema = json.load(f)
    for d in ("st-a", "st-b", "fleet"):
        doc = json.loads((reports / "custom" / d / "report.json").read_text())
        jsonschema.validate(doc, schema)
        assert doc["verdict"]["status"] == "pass"
        html = (reports / "custom" / d / "report.html").read_text()
        assert "<svg" in html and "http://" not in html and "https://" not in html
    assert (reports / "custom" / "st-a" / "detail.log").is_file()
    jsonl = reports / "custom" / "st-a" / "requests.jsonl"
    assert stat.S_IMODE(os.stat(str(jsonl)).st_mode) == 0o600
    assert len([json.loads(line) for line in jsonl.read_text().splitlines()]) >= 9
    fleet = json.loads((reports / "custom" / "fleet" / "report.json").read_text())
    assert [s["host"] for s in fleet["stations"]] == ["st-a", "st-b"]


def _runbook_play(sim, tmp_path, name):
    inv = tmp_path / ("%s.ini" % name)
    inv.write_text("[stations]\n%s ansible_connection=local\n[stations:vars]\nansible_python_interpreter=%s\n"
                   "dgx_station_venv_python=%s\n" % (name, sys.executable, sys.executable))
    reports = tmp_path / ("reports-%s" % name)
    # The role's defaults: the runbook preset (NVIDIA's workload, 20 x 5 on 8 workers) and its default SLOs.
    extra = dict(sglang_benchmark_enabled=True, sglang_benchmark_base_url=sim.base_url,
                 sglang_benchmark_report_dir=str(reports), sglang_benchmark_detail_dir=str(tmp_path))
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inv),
                          os.path.join(REPO, "playbooks", "benchmark.yml"), "-e", json.dumps(extra)],
                         capture_output=True, text=True, env=_ansible_env(), cwd=REPO, timeout=180, check=False)
    return out, reports / "runbook"


def test_runbook_preset_defaults_pass_a_healthy_station_and_fail_a_broken_one(start_sim, tmp_path):
    healthy = start_sim(env=FAST)
    out, reports = _runbook_play(healthy, tmp_path, "st-ok")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    doc = json.loads((reports / "st-ok" / "report.json").read_text())
    assert doc["verdict"]["status"] == "pass", doc["verdict"]
    assert doc["summary"]["requests"] == 110 and doc["summary"]["concurrency"]["target"] == 8
    assert doc["config"]["workload"] == "runbook" and doc["config"]["max_tokens"] == 128
    assert json.loads((reports / "fleet" / "report.json").read_text())["verdict"]["status"] == "pass"
    assert (reports / "st-ok" / "requests.jsonl").is_file()

    broken = start_sim(env=dict(FAST, SGLANG_SIM_ERROR_RATE="0.2", SGLANG_SIM_SEED="5"))
    out, reports = _runbook_play(broken, tmp_path, "st-bad")
    assert out.returncode != 0 and "The benchmark failed on st-bad" in out.stdout, out.stdout[-3000:]
    doc = json.loads((reports / "st-bad" / "report.json").read_text())
    assert doc["verdict"]["status"] == "fail"
    assert json.loads((reports / "fleet" / "report.json").read_text())["verdict"]["status"] == "fail"
