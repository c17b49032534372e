"""Load generation of sglang_benchmark (module_utils/benchmark_load.py): workloads, payloads, one request, workers."""
import asyncio
import collections

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection

from scripted_server import ScriptedServer, chunk, json_answer, sse, stream_answer, usage_chunk


def cfg(**kw):
    base = dict(model="m", num_conversations=2, turns_per_conversation=3, concurrency=None, max_tokens=8, temperature=0.0,
                seed=1, chat_template_kwargs={"enable_thinking": False}, system_prompt=None, prompt_words=10,
                ignore_eos=False, stream=True, warmup_requests=0, flush_cache=False, structured_output_fraction=0.0,
                structured_output_schema=load.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=30)
    base.update(kw)
    return load.resolve_config(base)


# ------------------------------------------------------------------ the runbook's workload, exactly
def test_runbook_workload_is_nvidias_script():
    """The constants of NVIDIA's benchmark_multiturn.py (dgx-spark-playbooks, station-sglang-inference/assets)."""
    w = load.RUNBOOK_WORKLOAD
    assert w["concurrency"] == 8  # ThreadPoolExecutor(max_workers=8)
    assert (w["num_conversations"], w["turns_per_conversation"]) == (20, 5)
    assert w["max_tokens"] == 128  # chat_completion(..., max_tokens=128)
    assert w["system_prompt"] == "You are a helpful assistant. Keep responses concise."
    assert w["topics"] == (
        "What is photosynthesis?", "How does it relate to the carbon cycle?", "What role do oceans play in that cycle?",
        "How does climate change affect the oceans?", "What can individuals do to reduce their carbon footprint?",
        "How do renewable energy sources compare?", "What are the most promising new energy technologies?",
        "How long until fusion energy is practical?")
    assert (w["warmup_prompt"], w["warmup_max_tokens"]) == ("Hello", 8)
    assert w["structured_max_tokens"] == 512 and w["structured_schema"]["required"] == ["items"]
    assert w["structured_prompt"].startswith("Rate these programming languages for data science: Python, R, Julia.")


def test_runbook_config_takes_the_scripts_workers_tokens_and_prompt_unless_told_otherwise():
    c = load.resolve_config(dict(workload="runbook", num_conversations=20, turns_per_conversation=5))
    assert c["concurrency"] == 8 and c["max_tokens"] == 128
    assert c["system_prompt"] == load.RUNBOOK_WORKLOAD["system_prompt"]
    assert c["structured_output_schema"] == load.RUNBOOK_WORKLOAD["structured_schema"]
    assert c["structured_output_name"] == "ratings"
    assert load.resolve_config(dict(workload="runbook", num_conversations=1))["concurrency"] == 1
    mine = load.resolve_config(dict(workload="runbook", concurrency=20, max_tokens=64, system_prompt="S"))
    assert (mine["concurrency"], mine["max_tokens"], mine["system_prompt"]) == (20, 64, "S")
    seeded = load.resolve_config(dict(num_conversations=5))
    assert seeded["concurrency"] == 5 and seeded["max_tokens"] == 256 and seeded["system_prompt"] is None
    with pytest.raises(ValueError):
        load.resolve_config(dict(workload="other"))


def test_runbook_plan_asks_the_scripts_questions_and_spreads_standalone_structured_requests():
    c = load.resolve_config(dict(workload="runbook", num_conversations=20, turns_per_conversation=5,
                                 structured_output_fraction=0.1))
    plan = load.plan_for(c)
    convs = [item for item in plan if not item["standalone"]]
    extra = [item for item in plan if item["standalone"]]
    assert len(convs) == 20 and len(extra) == 10  # round(0.1 x 100 chat requests)
    topics = load.RUNBOOK_WORKLOAD["topics"]
    assert all(item["users"] == list(topics[:5]) and item["system"] == load.RUNBOOK_WORKLOAD["system_prompt"]
               and not any(item["structured"]) for item in convs)
    assert all(item["users"] == [load.RUNBOOK_WORKLOAD["structured_prompt"]] and item["structured"] == [True]
               and item["max_tokens"] == 512 and item["system"] is None for item in extra)
    positions = [i for i, item in enumerate(plan) if item["standalone"]]
    assert positions[0] > 0 and positions[-1] < len(plan) - 1 and len(set(b - a for a, b in zip(positions, positions[1:]))) <= 2
    # Turn 7 of a longer conversation asks topic 7 % 8; no structured request without a fraction.
    long_plan = load.plan_for(load.resolve_config(dict(workload="runbook", num_conversations=1, turns_per_conversation=10)))
    assert long_plan[0]["users"][8] == topics[0] and len(long_plan) == 1


def test_runbook_warmup_is_the_scripts_hello_plus_one_structured_request():
    c = load.resolve_config(dict(workload="runbook", structured_output_fraction=0.1, warmup_requests=1))
    plan = load.warmup_plan(c)
    assert plan[0] == ([{"role": "user", "content": "Hello"}], False, 8)
    assert plan[1][1] is True and plan[1][2] == 512
    assert load.warmup_plan(load.resolve_config(dict(workload="runbook", warmup_requests=0,
                                                     structured_output_fraction=0.1))) == []


# ------------------------------------------------------------------ the seeded workload
def test_plan_is_seeded_unique_per_conversation_and_marks_structured_turns():
    p1 = load.build_plan(5, 4, seed=3, structured_output_fraction=0.5)
    p2 = load.build_plan(5, 4, seed=3, structured_output_fraction=0.5)
    p3 = load.build_plan(5, 4, seed=4, structured_output_fraction=0.5)
    assert p1 == p2 and p1 != p3
    firsts = [c["users"][0] for c in p1]
    assert len(set(firsts)) == 5
    assert all(c["users"][0].startswith("Conversation %d, turn 1." % c["conversation"]) for c in p1)
    flags = [f for c in p1 for f in c["structured"]]
    assert any(flags) and not all(flags)
    assert not any(f for c in load.build_plan(5, 4, seed=3) for f in c["structured"])
    shared = load.build_plan(2, 1, seed=3, system_prompt="S")
    assert [c["system"] for c in shared] == ["S", "S"]


def test_payload_asks_for_usage_and_schema():
    p = load.make_payload(cfg(), "m", [{"role": "user", "content": "q"}], True)
    assert p["stream"] is True and p["stream_options"] == {"include_usage": True}
    assert p["chat_template_kwargs"] == {"enable_thinking": False}
    assert p["response_format"]["type"] == "json_schema"
    assert p["response_format"]["json_schema"] == {"name": "benchmark_answer", "schema": load.DEFAULT_STRUCTURED_SCHEMA}
    q = load.make_payload(cfg(stream=False, chat_template_kwargs=None), "m", [], False, max_tokens=512)
    assert "stream_options" not in q and "response_format" not in q and "chat_template_kwargs" not in q
    assert q["max_tokens"] == 512


def test_schema_validator_checks_types_not_just_json():
    validate = load.make_schema_validator(load.DEFAULT_STRUCTURED_SCHEMA)
    assert validate('{"topic": "t", "points": ["a"]}')
    assert not validate('{"topic": "t", "points": []}')
    assert not validate('{"topic": 3, "points": ["a"]}')
    assert not validate("not json")


@pytest.mark.parametrize("schema", [{"type": 12}, {"type": "object", "properties": {"a": {"minItems": "x"}}},
                                    {"$ref": "#/$defs/missing"}, ["not", "a", "dict"]])
def test_a_schema_that_does_not_compile_is_refused_before_any_request(schema):
    """Before: {"type": 12} compiled silently and every structured answer raised inside the load (a traceback)."""
    with pytest.raises(load.SchemaError):
        load.make_schema_validator(schema)


# ------------------------------------------------------------------ one request: every answer is counted, none raises
def one(answers, stream=True, structured=False, validator=None):
    async def main():
        async with ScriptedServer(answers) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url, timeout=5))
            rec = load.Record(1, 1, structured)
            content = await load.run_request(conn, {"messages": []}, rec, stream, validator)
            conn.close()
            return rec, content
    return asyncio.run(main())


def test_role_chunk_never_sets_ttft():
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(content=""), chunk(content="Hello"),
                                      chunk(content=" there", finish="stop"), usage_chunk(12, 5, 0), "[DONE]",
                                      delays={2: 0.06})])
    ex = rec.exchange
    assert rec.ok and content == "Hello there"
    assert ex.ttft >= 0.059  # the content arrived 60 ms after the role chunk
    assert ex.ttfb < 0.05  # the head came at once
    assert ex.ttfo == ex.ttft
    assert ex.prompt_tokens == 12 and ex.completion_tokens == 5 and ex.cached_tokens == 0
    assert ex.tpot == pytest.approx((ex.e2e - ex.ttft) / 4)
    assert len(ex.itl) == 1 and rec.ttft == ex.ttft  # the record reads the exchange's figures


def test_reasoning_chunk_counts_for_ttft_but_not_for_ttfo_or_history():
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(reasoning="think"),
                                      chunk(content="A", finish="stop"), usage_chunk(), "[DONE]", delays={1: 0.03, 2: 0.05})])
    assert rec.ok and content == "A"
    assert 0.029 <= rec.exchange.ttft < rec.exchange.ttfo
    assert rec.exchange.ttfo >= 0.079


def test_http_error_is_counted_not_raised():
    rec, content = one([json_answer(500, {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500})])
    assert content is None and not rec.ok
    assert rec.exchange.error_kind == "server_error" and rec.exchange.status == 500


def test_sse_error_event_with_http_200_is_a_failure():
    err = {"error": {"object": "error", "message": "Simulated stream failure", "type": "BAD_REQUEST", "code": 400}}
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(content="x"), err, "[DONE]")])
    assert content is None and rec.exchange.error_kind == "sse_error"
    assert "Simulated stream failure" in rec.exchange.error


def test_abort_and_missing_finish_reasons_are_errors():
    """Before: a stream that ended with finish_reason "abort" (the server dropped it) counted as a success."""
    rec, content = one([stream_answer(chunk(role="assistant", content=""), chunk(content="x", finish="abort"),
                                      usage_chunk(), "[DONE]")])
    assert content is None and not rec.ok and rec.exchange.error_kind == "finish_abort"
    rec, content = one([stream_answer(chunk(content="x"), usage_chunk(), "[DONE]")])
    assert content is None and rec.exchange.error_kind == "finish_missing"


def test_stream_without_done_is_incomplete_and_missing_usage_is_flagged():
    rec, content = one([stream_answer(chunk(content="x", finish="stop"), end=True)])
    assert content is None and rec.exchange.error_kind == "incomplete_stream"
    rec, content = one([stream_answer(chunk(content="x", finish="stop"), "[DONE]")])
    assert rec.ok and rec.exchange.usage is None and rec.exchange.prompt_tokens is None


@pytest.mark.parametrize("event", ["[1, 2]", "\"text\"", "17", "null", "{\"choices\": \"x\"}", "{\"choices\": [3]}"])
def test_events_that_are_not_chat_chunks_are_counted_never_raised(event):
    """Before: `data: [1, 2]` or `data: {"choices": "x"}` raised AttributeError out of the load (a traceback)."""
    rec, content = one([stream_answer(chunk(role="assistant", content=""), event, chunk(content="x", finish="stop"),
                                      usage_chunk(), "[DONE]")])
    if event.startswith("{"):
        # An object without a usable choice is read as carrying nothing; the answer still completes.
        assert rec.ok and content == "x"
    else:
        assert content is None and rec.exchange.error_kind == "invalid_event"


def test_an_event_that_is_not_json_is_an_error_of_that_request():
    rec, content = one([stream_answer(chunk(content="x", finish="stop"), "not json", "[DONE]")])
    assert content is None and rec.exchange.error_kind == "invalid_event"


def test_a_body_cut_short_and_a_reset_are_counted():
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    rec, content = one([[(0.0, head)] + sse(chunk(content="x")) + [(0.0, b"40\r\ndata: {\"cho"), (0.0, None)]])
    assert content is None and rec.exchange.error_kind == "connection_error"
    rec, content = one([[(0.0, None)]])
    assert content is None and rec.exchange.error_kind in ("connection_error", "invalid_response")
    whole = [(0.0, b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"choices\""), (0.0, None)]
    rec, content = one([whole], stream=False)
    assert content is None and rec.exchange.error_kind == "connection_error"


def test_non_streaming_has_null_ttft_and_is_read_by_chat_exchange():
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"topic\": \"t\", \"points\": [\"p\"]}"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}}}
    rec, content = one([json_answer(200, body)], stream=False, structured=True,
                       validator=load.make_schema_validator(load.DEFAULT_STRUCTURED_SCHEMA))
    ex = rec.exchange
    assert rec.ok and ex.ttft is None and ex.tpot is None and ex.e2e > 0 and ex.itl == []
    assert ex.cached_tokens == 4 and rec.json_valid is True
    rec, content = one([json_answer(200, b"not json")], stream=False)
    assert content is None and rec.exchange.error_kind == "invalid_response"


# ------------------------------------------------------------------ conversations
def ok_answer(prompt, cached, text="ok"):
    return stream_answer(chunk(role="assistant", content=""), chunk(content=text, finish="stop"),
                         usage_chunk(prompt, 2, cached), "[DONE]")


def test_failed_conversation_stops_and_the_run_continues():
    c = cfg(num_conversations=2, turns_per_conversation=3, concurrency=1)
    # Conversation 1: turn 1 ok, turn 2 fails (HTTP 500); conversation 2 runs its 3 turns.
    answers = [ok_answer(10, 0), json_answer(500, {"message": "x"}), ok_answer(11, 0), ok_answer(20, 8), ok_answer(30, 16)]

    async def main():
        async with ScriptedServer(answers) as srv:
            state = load._State()
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            queue = collections.deque(load.build_plan(2, 3, seed=1))
            await load._worker(conn, queue, c, "m", state, deadline=1e12, t0=load._perf(), validator=None)
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


def test_a_failed_warmup_stops_the_run_before_anything_is_measured():
    c = cfg(num_conversations=1, turns_per_conversation=1, warmup_requests=1)

    async def main():
        async with ScriptedServer([json_answer(500, {"message": "boom"}), ok_answer(10, 0)]) as srv:
            state = load._State()
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            with pytest.raises(load.WarmupFailed) as info:
                await load._warmup(conn, c, "m", state)
            conn.close()
            return info.value, len(srv.requests)
    failed, sent = asyncio.run(main())
    assert sent == 1 and "server_error" in str(failed) and failed.records[0].warmup is True


def test_runbook_conversations_send_the_scripts_messages():
    c = load.resolve_config(dict(model="m", workload="runbook", num_conversations=1, turns_per_conversation=2,
                                 warmup_requests=0, flush_cache=False))
    answers = [ok_answer(10, 0, "A1"), ok_answer(20, 9, "A2")]

    async def main():
        async with ScriptedServer(answers) as srv:
            state = load._State()
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            await load._worker(conn, collections.deque(load.plan_for(c)), c, "m", state, 1e12, load._perf(), None)
            conn.close()
            return srv.requests
    requests = asyncio.run(main())
    body = requests[1]["body"]
    assert body["max_tokens"] == 128
    assert body["messages"] == [{"role": "system", "content": "You are a helpful assistant. Keep responses concise."},
                                {"role": "user", "content": "What is photosynthesis?"},
                                {"role": "assistant", "content": "A1"},
                                {"role": "user", "content": "How does it relate to the carbon cycle?"}]
    assert requests[0]["body"]["messages"] == body["messages"][:2]
