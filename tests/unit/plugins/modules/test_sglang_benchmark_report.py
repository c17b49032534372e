# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sglang_benchmark_report run in-process: failed benchmark results, the run checks, itl_p90_ms, not_set, schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import jsonschema

from ansible_collections.dgx_station.inference.plugins.modules import sglang_benchmark_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "benchmark-report.schema.json")
RUNBOOK_SLO = dict(max_error_rate=0.0, min_structured_valid_rate=1.0)


def _stats(p50, n=50):
    return dict(n=n, mean=p50, min=p50, p50=p50, p90=p50 * 1.5, p95=p50 * 1.6, p99=p50 * 2, max=p50 * 2,
                low_sample=["p99"] if n < 100 else [])


def _result(errors=0, succeeded=50, warmup_errors=0):
    requests = succeeded + errors
    return dict(
        summary=dict(requests=requests, succeeded=succeeded, errors=errors, error_rate=round(float(errors) / requests, 4),
                     duration_s=2.0, requests_per_s=25.0, output_tokens_per_s=400.0, total_tokens_per_s=2400.0,
                     ttft_ms=_stats(40.0), ttfo_ms=_stats(41.0), e2e_ms=_stats(300.0), tpot_ms=_stats(5.0),
                     itl_ms=_stats(4.0, n=800), ttfb_ms=_stats(2.0), cache_hit_rate=0.7, client_bound=False),
        per_turn=[dict(turn=1, n=succeeded, errors=errors, e2e_ms_p50=300.0, e2e_ms_p90=400.0, ttft_ms_p50=40.0,
                       prompt_tokens_p50=80.0, cached_tokens_p50=0.0, hit_rate=0.0)],
        structured_output=dict(requests=5, valid=5, invalid=0, failed=0, ttft_ms=_stats(60.0, n=5), e2e_ms=_stats(500.0, n=5)),
        server=dict(version="0.5.23", model="Qwen/Qwen3-8B", page_size=1, enable_cache_report=True, disable_radix_cache=False,
                    attention_backend="trtllm_mha", context_length=None, mem_fraction_static=0.85, enable_metrics=True,
                    prefix_cache_expected=True, prefix_cache_reason=None),
        server_after=dict(version="0.5.23"), server_changed=[],
        provenance=dict(collection_version="0.1.0", model="Qwen/Qwen3-8B", sglang_version="0.5.23",
                        image="lmsysorg/sglang:v0.5.23", image_digest="sha256:" + "f" * 64, gpu="NVIDIA GB300", station=None),
        metrics="unavailable", client=dict(cpu_per_request_ms=0.1, dispatch_lag_ms=_stats(0.1), client_bound=False,
                                           warmup_requests=1, warmup_errors=warmup_errors),
        distribution=dict(ttft_ms=[1.0, 2.0], e2e_ms=[1.0, 2.0]), config={}, changed=False)


def _args(tmp_path, results, **kwargs):
    args = dict(results=results, dest=str(tmp_path), run_name="runbook", fleet=True, slo=RUNBOOK_SLO, schema_file=SCHEMA_PATH)
    args.update(kwargs)
    return args


def test_a_failed_benchmark_is_reported_as_fail_with_its_message(run_module, tmp_path):
    failed_result = dict(failed=True, changed=False, msg="no request succeeded: 20 of 20 failed (http_503 20)")
    failed, result = run_module(sglang_benchmark_report.main, _args(tmp_path, {"a": _result(), "b": failed_result}))
    assert not failed, result
    assert result["verdicts"] == {"a": "pass", "b": "fail"} and result["failed_stations"] == ["b"]
    assert result["fleet_verdict"] == "fail"
    assert result["reasons"]["b"][0] == "the benchmark failed: no request succeeded: 20 of 20 failed (http_503 20)"
    with open(SCHEMA_PATH) as handle:
        schema = json.load(handle)
    for d in ("a", "b", "fleet"):
        jsonschema.validate(json.loads((tmp_path / d / "report.json").read_text()), schema)
    assert "The benchmark FAILED: no request succeeded" in (tmp_path / "b" / "summary.md").read_text()
    assert "the benchmark failed: no request succeeded" in (tmp_path / "fleet" / "report.html").read_text()


def test_the_run_checks_apply_without_thresholds(run_module, tmp_path):
    results = {"ok": _result(), "none": _result(errors=20, succeeded=0), "warm": _result(warmup_errors=1)}
    failed, result = run_module(sglang_benchmark_report.main, _args(tmp_path, results, slo={}))
    assert not failed, result
    assert result["verdicts"] == {"ok": "no_slo", "none": "fail", "warm": "fail"}
    assert "no request succeeded (0 of 20)" in result["reasons"]["none"]
    assert result["reasons"]["warm"] == ["warm-up failed: 1 of 1 request(s) failed"]
    assert result["fleet_verdict"] == "fail"
    assert result["not_set"] == ["ttft_p90_ms", "itl_p90_ms", "tpot_p90_ms", "e2e_p90_ms", "min_cache_hit_rate",
                                 "max_error_rate", "min_structured_valid_rate", "fail_on_client_bound"]


def test_the_runbook_slo_passes_a_good_fleet_and_itl_p90_ms_is_an_option(run_module, tmp_path):
    failed, result = run_module(sglang_benchmark_report.main, _args(tmp_path, {"a": _result(), "b": _result()}))
    assert not failed, result
    assert result["fleet_verdict"] == "pass" and result["verdicts"] == {"a": "pass", "b": "pass"}
    failed, result = run_module(sglang_benchmark_report.main, _args(
        tmp_path, {"a": _result()}, fleet=False, slo=dict(RUNBOOK_SLO, itl_p90_ms=5.0)))
    assert not failed, result
    assert result["verdicts"] == {"a": "fail"} and result["reasons"]["a"] == ["ITL p90 (ms) = 6.0, limit 5.0"]
    assert "itl_p90_ms" not in result["not_set"]
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert "| ITL (ms) | 800 |" in summary and "2400 total tok/s" in summary


def test_a_skipped_or_foreign_result_is_still_refused(run_module, tmp_path):
    for bad in ({"skipped": True, "msg": "Check mode"}, {"changed": False}, "text"):
        failed, result = run_module(sglang_benchmark_report.main, dict(results={"a": bad}, dest=str(tmp_path)))
        assert failed and "not a sglang_benchmark result" in result["msg"], bad
