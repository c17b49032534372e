"""sglang_benchmark and sglang_benchmark_report run in-process (argument handling, check mode, files)."""
import json
import os
import stat

from ansible_collections.dgx_station.inference.plugins.modules import sglang_benchmark, sglang_benchmark_report


def test_check_mode_sends_nothing(run_module):
    failed, result = run_module(sglang_benchmark.main, {"base_url": "http://127.0.0.1:9", "num_conversations": 3},
                                check_mode=True)
    assert not failed and result["skipped"] is True and result["changed"] is False
    assert "no request" in result["msg"]
    assert result["config"]["concurrency"] == 3


def test_check_mode_shows_the_runbook_workloads_resolved_settings(run_module):
    failed, result = run_module(sglang_benchmark.main, {"base_url": "http://127.0.0.1:9", "workload": "runbook"},
                                check_mode=True)
    cfg = result["config"]
    assert not failed and (cfg["concurrency"], cfg["max_tokens"], cfg["num_conversations"]) == (8, 128, 20)
    assert cfg["system_prompt"] == "You are a helpful assistant. Keep responses concise." and cfg["max_error_rate"] == 0.0


def test_bad_arguments_fail_before_any_request(run_module):
    for args in ({"num_conversations": 0}, {"structured_output_fraction": 1.5}, {"concurrency": 0},
                 {"max_duration_s": 0}, {"max_error_rate": -0.1}, {"max_tokens": 0}, {"workload": "other"}):
        failed, result = run_module(sglang_benchmark.main, dict(args, base_url="http://127.0.0.1:9"))
        assert failed, args


def test_unreachable_server_fails_with_the_error_kind(run_module):
    failed, result = run_module(sglang_benchmark.main, {"base_url": "http://127.0.0.1:9", "model": "m", "timeout": 2})
    assert failed and result["error_kind"] in ("connection_refused", "connection_error")


def _result(ttft_p90):
    stats = dict(n=2, mean=1.0, min=1.0, p50=1.0, p90=ttft_p90, p99=ttft_p90, max=ttft_p90)
    return dict(
        summary=dict(requests=2, succeeded=2, errors=0, error_rate=0.0, duration_s=1.0, requests_per_s=2.0,
                     output_tokens_per_s=10.0, ttft_ms=stats, e2e_ms=stats, tpot_ms=stats, cache_hit_rate=0.5,
                     client_bound=False),
        per_turn=[dict(turn=1, n=2, errors=0, e2e_ms_p50=1.0, e2e_ms_p90=1.0, ttft_ms_p50=1.0, prompt_tokens_p50=10.0,
                       cached_tokens_p50=0.0, hit_rate=0.0)],
        structured_output=dict(requests=0, valid=0),
        server=dict(version="v", model="m", page_size=1, enable_cache_report=True, disable_radix_cache=False,
                    attention_backend="flashinfer", context_length=8192, mem_fraction_static=0.85, enable_metrics=False),
        metrics="unavailable", client=dict(cpu_per_request_ms=0.1, dispatch_lag_ms=stats, client_bound=False),
        distribution=dict(ttft_ms=[1.0, 2.0], e2e_ms=[1.0, 2.0]), config={}, changed=False)


def test_report_module_writes_station_and_fleet_files_and_validates(run_module, tmp_path):
    schema = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "schemas",
                          "benchmark-report.schema.json")
    args = dict(results={"a": _result(5.0), "b": _result(50.0)}, dest=str(tmp_path), run_name="runbook",
                fleet=True, slo={"ttft_p90_ms": 10}, schema_file=os.path.abspath(schema))
    failed, result = run_module(sglang_benchmark_report.main, args)
    assert not failed, result
    assert result["verdicts"] == {"a": "pass", "b": "fail"} and result["failed_stations"] == ["b"]
    assert result["fleet_verdict"] == "fail" and result["changed"] is True
    for d in ("a", "b", "fleet"):
        for name in ("report.json", "per_turn.csv", "summary.md", "report.html"):
            assert (tmp_path / d / name).is_file()
    assert json.loads((tmp_path / "fleet" / "report.json").read_text())["kind"] == "fleet"
    # Check mode writes nothing.
    failed, result = run_module(sglang_benchmark_report.main, dict(args, dest=str(tmp_path / "check")), check_mode=True)
    assert not failed and not (tmp_path / "check").exists() and result["changed"] is True


def test_report_module_refuses_a_skipped_result(run_module, tmp_path):
    failed, result = run_module(sglang_benchmark_report.main,
                                dict(results={"a": {"skipped": True, "msg": "Check mode"}}, dest=str(tmp_path)))
    assert failed and "not a sglang_benchmark result" in result["msg"]


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_report_files_are_owner_only_and_older_loose_ones_are_tightened(run_module, tmp_path):
    args = dict(results={"a": _result(5.0)}, dest=str(tmp_path / "reports"), run_name="runbook", fleet=True)
    failed, result = run_module(sglang_benchmark_report.main, args)
    assert not failed, result
    for d in ("a", "fleet"):
        assert _mode(tmp_path / "reports" / d) == 0o700
        for name in ("report.json", "per_turn.csv", "summary.md", "report.html"):
            assert _mode(tmp_path / "reports" / d / name) == 0o600, (d, name)
    assert not [n for n in os.listdir(str(tmp_path / "reports" / "a")) if n.endswith(".tmp")]
    # A file an older version left 0644, with the same content: changed, and 0600 now.
    loose_csv = tmp_path / "reports" / "a" / "per_turn.csv"
    os.chmod(str(loose_csv), 0o644)
    os.chmod(str(tmp_path / "reports" / "a"), 0o755)
    failed, result = run_module(sglang_benchmark_report.main, dict(args, fleet=False))
    assert not failed and result["changed"] is True
    assert _mode(loose_csv) == 0o600 and _mode(tmp_path / "reports" / "a") == 0o700


def test_report_module_redacts_credentials_in_its_input(run_module, tmp_path):
    res = _result(5.0)
    res["server"]["admin_api_key"] = "adm-live-2"
    res["summary"]["error_samples"] = [{"message": "server said: --api-key sk-live-1"}]
    failed, result = run_module(sglang_benchmark_report.main, dict(results={"a": res}, dest=str(tmp_path)))
    assert not failed, result
    for name in os.listdir(str(tmp_path / "a")):
        text = (tmp_path / "a" / name).read_text()
        assert "adm-live-2" not in text and "sk-live-1" not in text, name
