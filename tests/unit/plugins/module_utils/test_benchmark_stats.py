"""Statistics, server-side figures and files of sglang_benchmark (benchmark_stats, benchmark_metrics, benchmark_detail)."""
import json

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_detail as detail
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_metrics as metrics
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_stats as stats
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import ChatExchange
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import parse_prometheus


def cfg(**kw):
    base = dict(num_conversations=2, turns_per_conversation=2, structured_output_fraction=0.0)
    base.update(kw)
    return load.resolve_config(base)


# ------------------------------------------------------------------ statistics
def test_percentile_linear_interpolation_matches_hand_computation():
    data = [1.0, 2.0, 3.0, 4.0]
    # rank = (n-1) * p/100: p50 -> 1.5 -> 2.5; p90 -> 2.7 -> 3.7; p99 -> 2.97 -> 3.97
    assert stats.percentile(data, 50) == pytest.approx(2.5)
    assert stats.percentile(data, 90) == pytest.approx(3.7)
    assert stats.percentile(data, 99) == pytest.approx(3.97)
    assert stats.percentile([10, 20, 30, 40, 50], 90) == pytest.approx(46.0)
    assert stats.percentile([10, 20, 30, 40, 50], 0) == 10 and stats.percentile([10, 20, 30, 40, 50], 100) == 50
    assert stats.percentile([7], 99) == 7.0
    assert stats.percentile([], 50) is None


def test_describe_scales_skips_nulls_handles_empty_and_has_p95():
    d = stats.describe([0.001, None, 0.003, 0.002, 0.004], 1000.0)
    assert d["n"] == 4 and d["min"] == 1.0 and d["max"] == 4.0 and d["mean"] == 2.5
    assert d["p50"] == 2.5 and d["p90"] == pytest.approx(3.7) and d["p95"] == pytest.approx(3.85)
    assert d["p99"] == pytest.approx(3.97)
    empty = stats.describe([None])
    assert empty["n"] == 0 and empty["p50"] is None and empty["p95"] is None and empty["p99"] is None
    assert stats.distribution([]) == []
    assert stats.distribution([1, 2, 3], points=5) == [1.0, 1.5, 2.0, 2.5, 3.0]


@pytest.mark.parametrize("n, marked", [(0, ["p90", "p95", "p99"]), (9, ["p90", "p95", "p99"]), (10, ["p95", "p99"]),
                                       (19, ["p95", "p99"]), (20, ["p99"]), (99, ["p99"]), (100, []), (500, [])])
def test_describe_marks_the_percentiles_a_small_sample_cannot_support(n, marked):
    assert stats.describe([0.001] * n)["low_sample"] == marked


# ------------------------------------------------------------------ aggregation over ChatExchange records
def _rec(conv, turn, ok=True, prompt=100, cached=0, ttft=0.01, e2e=0.1, completion=11, structured=False, valid=None,
         kind=None, status=None, gaps=(0.02, 0.03)):
    """A record whose ChatExchange read a stream: first content at ttft, more chunks gaps apart, [DONE] at e2e."""
    rec = load.Record(conv, turn, structured)
    ex = rec.exchange = ChatExchange(True, t_send=0.0)
    ex.head(200 if ok else (status or 200), 0.001)
    if ok:
        now = ttft
        ex.add_event(now, {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "a"}}]})
        for gap in gaps:
            now += gap
            ex.add_event(now, {"choices": [{"index": 0, "delta": {"content": "b"}}]})
        ex.add_event(now, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        details = {"cached_tokens": cached} if cached is not None else None
        ex.add_event(now, {"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                    "prompt_tokens_details": details}})
        ex.add_payload(e2e, "[DONE]")
        rec.json_valid = valid
    else:
        ex.fail(kind or "server_error", "x", status)
    ex.finish(e2e)
    return rec


def _state(records, duration=2.0, cpu=0.1, lags=(0.001,), loop_lags=(0.0005,), planned=2):
    s = load._State()
    s.records = records
    s.duration, s.cpu, s.t0 = duration, cpu, 0.0
    s.started_at, s.gc_disabled, s.concurrency, s.connects = "t", True, 2, 2
    s.dispatch_lags, s.loop_lags = list(lags), list(loop_lags)
    s.conversations_planned = planned
    return s


def test_per_turn_and_summary_aggregation():
    records = [
        _rec(1, 1, prompt=100, cached=0, ttft=0.010, e2e=0.100),
        _rec(2, 1, prompt=120, cached=0, ttft=0.020, e2e=0.200),
        _rec(1, 2, prompt=200, cached=100, ttft=0.012, e2e=0.150),
        _rec(2, 2, ok=False, status=500),
    ]
    summary, per_turn, so, client, dist = stats.aggregate(_state(records), cfg())
    assert summary["requests"] == 4 and summary["succeeded"] == 3 and summary["errors"] == 1
    assert summary["error_rate"] == 0.25 and summary["error_kinds"] == {"http_500": 1}
    assert summary["cache_hit_rate"] == round(100 / 420.0, 4)
    assert summary["requests_per_s"] == 1.5 and summary["output_tokens_per_s"] == 16.5
    assert summary["total_tokens_per_s"] == (420 + 33) / 2.0
    assert summary["ttft_ms"]["p50"] == 12.0 and summary["e2e_ms"]["p90"] == pytest.approx(190.0)
    assert summary["ttft_ms"]["low_sample"] == ["p90", "p95", "p99"]
    # ITL: every gap between content chunks of every chat request (2 per request here).
    assert summary["itl_ms"]["n"] == 6 and summary["itl_ms"]["min"] == 20.0 and summary["itl_ms"]["max"] == 30.0
    assert summary["ttfo_ms"]["p50"] == 12.0 and summary["tpot_ms"]["n"] == 3
    t1, t2 = per_turn
    assert (t1["turn"], t1["n"], t1["errors"]) == (1, 2, 0)
    assert t1["e2e_ms_p50"] == 150.0 and t1["e2e_ms_p90"] == pytest.approx(190.0) and t1["ttft_ms_p50"] == 15.0
    assert t1["prompt_tokens_p50"] == 110.0 and t1["cached_tokens_p50"] == 0.0 and t1["hit_rate"] == 0.0
    assert (t2["n"], t2["errors"], t2["cached_tokens_p50"], t2["hit_rate"]) == (1, 1, 100.0, 0.5)
    assert client["cpu_per_request_ms"] == 25.0 and client["client_bound"] is False
    assert len(dist["ttft_ms"]) == stats.DISTRIBUTION_POINTS


def test_structured_requests_are_reported_apart_from_chat_latency():
    """Before: summary TTFT/E2E mixed the (slower) structured requests into the chat figures."""
    records = [_rec(1, 1, ttft=0.010, e2e=0.100), _rec(2, 1, ttft=0.010, e2e=0.100),
               _rec(3, 1, ttft=0.500, e2e=2.000, structured=True, valid=True),
               _rec(4, 1, ttft=0.400, e2e=1.000, structured=True, valid=False),
               _rec(5, 1, ok=False, structured=True, kind="sse_error")]
    summary, per_turn, so, _client, dist = stats.aggregate(_state(records), cfg(turns_per_conversation=1))
    assert summary["e2e_ms"]["max"] == 100.0 and summary["ttft_ms"]["n"] == 2 and summary["latency_scope"] == "unstructured"
    assert summary["requests"] == 5 and summary["errors"] == 1 and summary["chat_requests"] == 2
    assert per_turn[0]["n"] == 2 and per_turn[0]["errors"] == 0 and per_turn[0]["e2e_ms_p90"] == 100.0
    assert max(dist["e2e_ms"]) == 100.0
    assert (so["requests"], so["valid"], so["invalid"], so["failed"], so["sent"]) == (2, 1, 1, 1, 3)
    assert so["error_kinds"] == {"sse_error": 1} and so["valid_rate"] == 0.5
    assert so["e2e_ms"]["max"] == 2000.0 and so["e2e_ms_p50"] == 1500.0 and so["unstructured_e2e_ms_p50"] == 100.0
    assert so["ttft_ms"]["n"] == 2 and so["itl_ms"]["n"] == 4 and "tpot_ms" in so


def test_cache_hit_rate_is_null_without_cache_report():
    summary, per_turn, _so, _c, _d = stats.aggregate(_state([_rec(1, 1, cached=None)]), cfg(turns_per_conversation=1))
    assert summary["cache_hit_rate"] is None and per_turn[0]["hit_rate"] is None and summary["cached_tokens"] is None


def test_client_bound_rule():
    c = cfg(num_conversations=1, turns_per_conversation=1)
    assert stats.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.9), c)[0]["client_bound"] is True
    client = stats.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.1, lags=[0.05] * 10), c)[3]
    assert client["client_bound"] is True and "dispatch lag" in client["client_bound_reasons"][0]
    client = stats.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.1, loop_lags=[0.02] * 10), c)[3]
    assert client["client_bound"] is True and "event-loop lag" in client["client_bound_reasons"][0]
    assert stats.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.5), c)[0]["client_bound"] is False


# ------------------------------------------------------------------ server side
BEFORE = """# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{engine_type="unified",is_streaming="true",model_name="Qwen/Qwen3-8B"} 100.0
sglang:prompt_tokens_total{engine_type="unified",is_streaming="false",model_name="Qwen/Qwen3-8B"} 50.0
sglang:generation_tokens_total{is_streaming="true",model_name="Qwen/Qwen3-8B"} 10.0
sglang:num_requests_total{is_streaming="true",model_name="Qwen/Qwen3-8B"} 3.0
sglang:cache_hit_rate{model_name="Qwen/Qwen3-8B"} 0.5
"""
AFTER = """sglang:prompt_tokens_total{engine_type="unified",is_streaming="true",model_name="Qwen/Qwen3-8B"} 1100.0
sglang:prompt_tokens_total{engine_type="unified",is_streaming="false",model_name="Qwen/Qwen3-8B"} 50.0
sglang:generation_tokens_total{is_streaming="true",model_name="Qwen/Qwen3-8B"} 210.0
sglang:num_requests_total{is_streaming="true",model_name="Qwen/Qwen3-8B"} 13.0 1700000000000
sglang:cached_tokens_total{cache_source="device",model_name="Qwen/Qwen3-8B"} 640.0
sglang:cached_tokens_total{cache_source="host",model_name="Qwen/Qwen3-8B"} 60.0
sglang:cache_hit_rate{model_name="Qwen/Qwen3-8B"} 0.9
"""


def test_prometheus_parsing_and_counter_deltas():
    totals, series = parse_prometheus(BEFORE)
    assert totals["sglang:prompt_tokens_total"] == 150.0
    assert len([k for k in series if k.startswith("sglang:prompt_tokens_total{")]) == 2
    d = metrics.metric_deltas(BEFORE, AFTER)
    assert d["sglang:prompt_tokens_total"] == 1000.0
    assert d["sglang:generation_tokens_total"] == 200.0
    assert d["sglang:num_requests_total"] == 10.0
    assert d["sglang:cached_tokens_total"] == 700.0  # absent before: counted from 0
    assert d["cached_tokens_by_source"] == {"device": 640.0, "host": 60.0}
    assert d["sglang:num_aborted_requests_total"] is None
    assert metrics.metric_deltas(None, AFTER) == "unavailable"
    assert metrics.metric_deltas(AFTER, BEFORE)["sglang:prompt_tokens_total"] is None  # counter reset
    agreement = metrics.token_agreement(dict(prompt_tokens=1000, completion_tokens=100, cached_tokens=None), d)
    assert agreement == dict(prompt_tokens=1.0, completion_tokens=0.5, cached_tokens=0.0)
    assert metrics.token_agreement({}, "unavailable") is None


FLAT = {"version": "0.5.23", "model_path": "Qwen/Qwen3-8B", "page_size": 1, "enable_cache_report": True,
        "disable_radix_cache": False, "attention_backend": "flashinfer", "context_length": 8192,
        "mem_fraction_static": 0.85, "enable_metrics": False, "weight_version": "default", "startup_time": 1.0}


def test_server_summary_flags_and_prefix_cache_expectation():
    s = metrics.server_summary(FLAT, "Qwen/Qwen3-8B")
    assert s["version"] == "0.5.23" and s["attention_backend"] == "flashinfer" and s["weight_version"] == "default"
    assert s["prefix_cache_expected"] is True and s["prefix_cache_reason"] and s["prefix_cache_source"]
    nested = {"version": "x", "internal_states": [dict(FLAT, model_path="Qwen/Qwen3.6-35B-A3B")]}
    n = metrics.server_summary(nested, None)
    assert n["page_size"] == 1 and n["model_path"] == "Qwen/Qwen3.6-35B-A3B" and n["prefix_cache_expected"] is False
    assert n["version"] == "x"  # the top level wins over internal_states
    off = metrics.server_summary(dict(FLAT, disable_radix_cache=True), "Qwen/Qwen3-8B")
    assert off["prefix_cache_expected"] is False and "disable_radix_cache" in off["prefix_cache_reason"]


def test_server_changes_name_what_differs_before_and_after():
    before = metrics.server_summary(FLAT, "m")
    assert metrics.server_changes(before, metrics.server_summary(dict(FLAT), "m")) == {}
    after = metrics.server_summary(dict(FLAT, version="0.5.24", weight_version="v2", startup_time=9.0), "m")
    assert metrics.server_changes(before, after) == {
        "version": {"before": "0.5.23", "after": "0.5.24"}, "weight_version": {"before": "default", "after": "v2"},
        "startup_time": {"before": 1.0, "after": 9.0}}
    assert metrics.server_changes(before, None) is None


# ------------------------------------------------------------------ files
def test_detail_text_has_both_server_infos_and_both_scrapes():
    text = detail.detail_text(FLAT, None, AFTER, dict(FLAT, version="0.5.24"))
    assert "## GET /server_info" in text and "unavailable" in text and "sglang:cached_tokens_total" in text
    assert "## GET /server_info (after the measured phase)" in text and '"version": "0.5.24"' in text


def test_requests_jsonl_has_one_line_per_request_with_the_exchange_figures():
    warm = _rec(1, 1)
    warm.warmup = True
    records = [warm, _rec(1, 1, ttft=0.010, e2e=0.100), _rec(2, 1, ok=False, status=500),
               _rec(3, 1, structured=True, valid=True)]
    text = detail.requests_jsonl(records, t0=0.0)
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4 and text.endswith("\n")
    assert all(list(line) == list(detail.REQUEST_FIELDS) for line in lines)
    assert lines[0]["warmup"] is True and lines[1]["warmup"] is False
    good = lines[1]
    assert good["ok"] is True and good["ttft_ms"] == 10.0 and good["e2e_ms"] == 100.0 and good["ttfb_ms"] == 1.0
    assert good["itl_count"] == 2 and good["itl_ms_max"] == 30.0 and good["finish_reason"] == "stop"
    assert good["prompt_tokens"] == 100 and good["completion_tokens"] == 11 and good["cached_tokens"] == 0
    assert good["tpot_ms"] == pytest.approx(9.0) and good["start_ms"] == 0.0 and good["status"] == 200
    bad = lines[2]
    assert bad["ok"] is False and bad["error_kind"] == "http_500" and bad["ttft_ms"] is None
    assert lines[3]["structured"] is True and lines[3]["json_valid"] is True
    assert detail.requests_jsonl([]) == ""
