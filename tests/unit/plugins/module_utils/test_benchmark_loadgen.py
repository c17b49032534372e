"""Load generation and statistics of sglang_benchmark (module_utils/benchmark.py)."""
import asyncio
import collections

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark as b
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection

from scripted_server import ScriptedServer, chunk, json_answer, stream_answer, usage_chunk


def cfg(**kw):
    base = dict(model="m", num_conversations=2, turns_per_conversation=3, concurrency=None, max_tokens=8, temperature=0.0,
                seed=1, chat_template_kwargs={"enable_thinking": False}, system_prompt=None, prompt_words=10,
                ignore_eos=False, stream=True, warmup_requests=0, flush_cache=False, structured_output_fraction=0.0,
                structured_output_schema=b.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=30)
    base.update(kw)
    return base


# ------------------------------------------------------------------ statistics
def test_percentile_linear_interpolation_matches_hand_computation():
    data = [1.0, 2.0, 3.0, 4.0]
    # rank = (n-1) * p/100: p50 -> 1.5 -> 2.5; p90 -> 2.7 -> 3.7; p99 -> 2.97 -> 3.97
    assert b.percentile(data, 50) == pytest.approx(2.5)
    assert b.percentile(data, 90) == pytest.approx(3.7)
    assert b.percentile(data, 99) == pytest.approx(3.97)
    assert b.percentile([10, 20, 30, 40, 50], 90) == pytest.approx(46.0)
    assert b.percentile([10, 20, 30, 40, 50], 0) == 10 and b.percentile([10, 20, 30, 40, 50], 100) == 50
    assert b.percentile([7], 99) == 7.0
    assert b.percentile([], 50) is None


def test_describe_scales_skips_nulls_and_handles_empty():
    d = b.describe([0.001, None, 0.003, 0.002, 0.004], 1000.0)
    assert d["n"] == 4 and d["min"] == 1.0 and d["max"] == 4.0 and d["mean"] == 2.5
    assert d["p50"] == 2.5 and d["p90"] == pytest.approx(3.7) and d["p99"] == pytest.approx(3.97)
    empty = b.describe([None])
    assert empty["n"] == 0 and empty["p50"] is None and empty["p99"] is None
    assert b.distribution([]) == []
    dist = b.distribution([1, 2, 3], points=5)
    assert dist == [1.0, 1.5, 2.0, 2.5, 3.0]


# ------------------------------------------------------------------ workload
def test_plan_is_seeded_unique_per_conversation_and_marks_structured_turns():
    p1 = b.build_plan(5, 4, seed=3, structured_output_fraction=0.5)
    p2 = b.build_plan(5, 4, seed=3, structured_output_fraction=0.5)
    p3 = b.build_plan(5, 4, seed=4, structured_output_fraction=0.5)
    assert p1 == p2 and p1 != p3
    firsts = [c["users"][0] for c in p1]
    assert len(set(firsts)) == 5
    assert all(c["users"][0].startswith("Conversation %d, turn 1." % c["conversation"]) for c in p1)
    flags = [f for c in p1 for f in c["structured"]]
    assert any(flags) and not all(flags)
    assert not any(f for c in b.build_plan(5, 4, seed=3) for f in c["structured"])
    shared = b.build_plan(2, 1, seed=3, system_prompt="S")
    assert [c["system"] for c in shared] == ["S", "S"]


def test_payload_asks_for_usage_and_schema():
    p = b.make_payload(cfg(), "m", [{"role": "user", "content": "q"}], True)
    assert p["stream"] is True and p["stream_options"] == {"include_usage": True}
    assert p["chat_template_kwargs"] == {"enable_thinking": False}
    assert p["response_format"]["type"] == "json_schema"
    assert p["response_format"]["json_schema"]["schema"] == b.DEFAULT_STRUCTURED_SCHEMA
    q = b.make_payload(cfg(stream=False, chat_template_kwargs=None), "m", [], False)
    assert "stream_options" not in q and "response_format" not in q and "chat_template_kwargs" not in q


def test_schema_validator_checks_types_not_just_json():
    validate = b.make_schema_validator(b.DEFAULT_STRUCTURED_SCHEMA)
    assert validate('{"topic": "t", "points": ["a"]}')
    assert not validate('{"topic": "t", "points": []}')
    assert not validate('{"topic": 3, "points": ["a"]}')
    assert not validate("not json")


# ------------------------------------------------------------------ one request: TTFT rules and errors
def one(answers, stream=True, structured=False, validator=None):
    async def main():
        async with ScriptedServer(answers) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            rec = b.Record(1, 1, structured)
            content = await b.run_request(conn, {"messages": []}, rec, stream, validator)
            conn.close()
            return rec, content
    return asyncio.run(main())


def test_role_chunk_never_sets_ttft():
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(content=""), chunk(content="Hello"),
                                      chunk(content=" there", finish="stop"), usage_chunk(12, 5, 0), "[DONE]",
                                      delays={2: 0.06})])
    assert rec.ok and content == "Hello there"
    assert rec.ttft >= 0.059  # the content arrived 60 ms after the role chunk
    assert rec.ttfb < 0.05  # the head came at once
    assert rec.ttfo == rec.ttft
    assert rec.prompt_tokens == 12 and rec.completion_tokens == 5 and rec.cached_tokens == 0
    assert rec.tpot == pytest.approx((rec.e2e - rec.ttft) / 4)


def test_reasoning_chunk_counts_for_ttft_but_not_for_ttfo_or_history():
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(reasoning="think"), chunk(content="A"),
                                      usage_chunk(), "[DONE]", delays={1: 0.03, 2: 0.05})])
    assert rec.ok and content == "A"
    assert 0.029 <= rec.ttft < rec.ttfo
    assert rec.ttfo >= 0.079


def test_http_error_is_counted_not_raised():
    rec, content = one([json_answer(500, {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500})])
    assert content is None and not rec.ok
    assert rec.error_kind == "server_error" and rec.status == 500
    assert b.error_label(rec) == "http_500"


def test_sse_error_event_with_http_200_is_a_failure():
    err = {"error": {"object": "error", "message": "Simulated stream failure", "type": "BAD_REQUEST", "code": 400}}
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(content="x"), err, "[DONE]")])
    assert content is None and rec.error_kind == "sse_error" and b.error_label(rec) == "sse_error"
    assert "Simulated stream failure" in rec.error


def test_stream_without_done_is_incomplete_and_missing_usage_is_flagged():
    rec, content = one([stream_answer(chunk(content="x"), end=True)])
    assert content is None and rec.error_kind == "incomplete_stream"
    rec, content = one([stream_answer(chunk(content="x"), "[DONE]")])
    assert rec.ok and rec.usage_missing and rec.prompt_tokens is None


def test_non_streaming_has_null_ttft():
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"topic\": \"t\", \"points\": [\"p\"]}"}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}}}
    rec, content = one([json_answer(200, body)], stream=False, structured=True,
                       validator=b.make_schema_validator(b.DEFAULT_STRUCTURED_SCHEMA))
    assert rec.ok and rec.ttft is None and rec.tpot is None and rec.e2e > 0
    assert rec.cached_tokens == 4 and rec.json_valid is True


# ------------------------------------------------------------------ conversations and aggregation
def ok_answer(prompt, cached, text="ok"):
    return stream_answer(chunk(role="assistant", content=""), chunk(content=text), usage_chunk(prompt, 2, cached), "[DONE]")


def test_failed_conversation_stops_and_the_run_continues():
    c = cfg(num_conversations=2, turns_per_conversation=3, concurrency=1)
    # Conversation 1: turn 1 ok, turn 2 fails (HTTP 500); conversation 2 runs its 3 turns.
    answers = [ok_answer(10, 0), json_answer(500, {"message": "x"}), ok_answer(11, 0), ok_answer(20, 8), ok_answer(30, 16)]

    async def main():
        async with ScriptedServer(answers) as srv:
            state = b._State()
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            queue = collections.deque(b.build_plan(2, 3, seed=1))
            await b._worker(conn, queue, c, "m", state, deadline=1e12, t0=b._perf(), validator=None)
            conn.close()
            return state, srv
    state, srv = asyncio.run(main())
    assert [(r.conversation, r.turn, r.ok) for r in state.records] == [
        (1, 1, True), (1, 2, False), (2, 1, True), (2, 2, True), (2, 3, True)]
    assert state.not_sent == 1 and state.conversations_failed == 1 and state.conversations_completed == 1
    # History is resent: conversation 2's turn 3 carries user, assistant, user, assistant, user.
    last = srv.requests[-1]["body"]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert last[1]["content"] == "ok"
    assert len(state.dispatch_lags) == 5


def _rec(conv, turn, ok=True, prompt=100, cached=0, ttft=0.01, e2e=0.1, completion=11, structured=False, valid=None,
         kind=None, status=None):
    r = b.Record(conv, turn, structured)
    r.t_send, r.t_end = 0.0, e2e
    r.ok = ok
    if ok:
        r.prompt_tokens, r.cached_tokens, r.completion_tokens = prompt, cached, completion
        r.ttft, r.e2e = ttft, e2e
        r.tpot = (e2e - ttft) / (completion - 1)
        r.json_valid = valid
    else:
        r.fail(kind or "server_error", "x", status)
    return r


def _state(records, duration=2.0, cpu=0.1, lags=(0.001,), loop_lags=(0.0005,)):
    s = b._State()
    s.records = records
    s.duration, s.cpu, s.t0 = duration, cpu, 0.0
    s.started_at, s.gc_disabled, s.concurrency, s.connects = "t", True, 2, 2
    s.dispatch_lags, s.loop_lags = list(lags), list(loop_lags)
    return s


def test_per_turn_and_summary_aggregation():
    records = [
        _rec(1, 1, prompt=100, cached=0, ttft=0.010, e2e=0.100),
        _rec(2, 1, prompt=120, cached=0, ttft=0.020, e2e=0.200),
        _rec(1, 2, prompt=200, cached=100, ttft=0.012, e2e=0.150, structured=True, valid=True),
        _rec(2, 2, ok=False, status=500),
    ]
    summary, per_turn, so, client, dist = b.aggregate(_state(records), cfg(num_conversations=2, turns_per_conversation=2))
    assert summary["requests"] == 4 and summary["succeeded"] == 3 and summary["errors"] == 1
    assert summary["error_rate"] == 0.25 and summary["error_kinds"] == {"http_500": 1}
    assert summary["cache_hit_rate"] == round(100 / 420.0, 4)
    assert summary["requests_per_s"] == 1.5 and summary["output_tokens_per_s"] == 16.5
    assert summary["ttft_ms"]["p50"] == 12.0 and summary["e2e_ms"]["p90"] == pytest.approx(190.0)
    t1, t2 = per_turn
    assert (t1["turn"], t1["n"], t1["errors"]) == (1, 2, 0)
    assert t1["e2e_ms_p50"] == 150.0 and t1["e2e_ms_p90"] == pytest.approx(190.0) and t1["ttft_ms_p50"] == 15.0
    assert t1["prompt_tokens_p50"] == 110.0 and t1["cached_tokens_p50"] == 0.0 and t1["hit_rate"] == 0.0
    assert (t2["n"], t2["errors"], t2["cached_tokens_p50"], t2["hit_rate"]) == (1, 1, 100.0, 0.5)
    assert so["requests"] == 1 and so["valid"] == 1 and so["invalid"] == 0
    assert client["cpu_per_request_ms"] == 25.0 and client["client_bound"] is False
    assert len(dist["ttft_ms"]) == b.DISTRIBUTION_POINTS


def test_cache_hit_rate_is_null_without_cache_report():
    r = _rec(1, 1)
    r.cached_tokens = None
    summary, per_turn, _so, _c, _d = b.aggregate(_state([r]), cfg(num_conversations=1, turns_per_conversation=1))
    assert summary["cache_hit_rate"] is None and per_turn[0]["hit_rate"] is None


def test_client_bound_rule():
    c = cfg(num_conversations=1, turns_per_conversation=1)
    assert b.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.9), c)[0]["client_bound"] is True
    _s, _p, _so, client, _d = b.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.1, lags=[0.05] * 10), c)
    assert client["client_bound"] is True and "dispatch lag" in client["client_bound_reasons"][0]
    _s, _p, _so, client, _d = b.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.1, loop_lags=[0.02] * 10), c)
    assert client["client_bound"] is True and "event-loop lag" in client["client_bound_reasons"][0]
    assert b.aggregate(_state([_rec(1, 1)], duration=1.0, cpu=0.5), c)[0]["client_bound"] is False


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
    totals, series = b.parse_prometheus(BEFORE)
    assert totals["sglang:prompt_tokens_total"] == 150.0
    assert len([k for k in series if k.startswith("sglang:prompt_tokens_total{")]) == 2
    d = b.metric_deltas(BEFORE, AFTER)
    assert d["sglang:prompt_tokens_total"] == 1000.0
    assert d["sglang:generation_tokens_total"] == 200.0
    assert d["sglang:num_requests_total"] == 10.0
    assert d["sglang:cached_tokens_total"] == 700.0  # absent before: counted from 0
    assert d["cached_tokens_by_source"] == {"device": 640.0, "host": 60.0}
    assert d["sglang:num_aborted_requests_total"] is None
    assert b.metric_deltas(None, AFTER) == "unavailable"
    assert b.metric_deltas(AFTER, BEFORE)["sglang:prompt_tokens_total"] is None  # counter reset


def test_server_summary_flags_and_model_presets():
    flat = {"version": "0.5.23", "model_path": "Qwen/Qwen3-8B", "page_size": 1, "enable_cache_report": True,
            "disable_radix_cache": False, "attention_backend": "flashinfer", "context_length": 8192,
            "mem_fraction_static": 0.85, "enable_metrics": False}
    s = b.server_summary(flat, "Qwen/Qwen3-8B")
    assert s["version"] == "0.5.23" and s["attention_backend"] == "flashinfer" and s["prefix_cache_expected"] is True
    nested = {"version": "x", "internal_states": [dict(flat, model_path="Qwen/Qwen3.6-35B-A3B")]}
    n = b.server_summary(nested, None)
    assert n["page_size"] == 1 and n["model_path"] == "Qwen/Qwen3.6-35B-A3B" and n["prefix_cache_expected"] is False
    text = b.detail_text(flat, None, AFTER)
    assert "## GET /server_info" in text and "unavailable" in text and "sglang:cached_tokens_total" in text
