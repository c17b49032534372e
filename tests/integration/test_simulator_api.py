"""The simulator answers like SGLang 0.5.23: runbook steps 6-8, response shapes, errors, auth, info endpoints."""
import json
import re
import shutil
import subprocess

import jsonschema
import pytest

from _sim_http import chat, get_json, post_json, request, sse

MODEL = "Qwen/Qwen3-8B"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
SYSTEM = ("You are an expert physics tutor who explains concepts clearly and concisely. You use real-world analogies "
          "and everyday examples to make abstract ideas concrete. When answering, first state the key concept in "
          "one sentence, then give a short explanation with an example.")
USER1 = "What is the difference between speed and velocity?"
ASSISTANT1 = ("Speed is a scalar quantity that measures how fast an object moves, while velocity is a vector quantity "
              "that includes both speed and direction. For example, a car driving at 60 km/h has a speed of 60 km/h "
              "regardless of where it is headed. But if that car is driving 60 km/h north, that is its velocity "
              "\u2014 change direction to south and the velocity changes even though the speed stays the same.")
USER2 = "Can you give me another example that shows why the distinction matters in real physics problems?"
STEP8_SCHEMA = {
    "type": "object",
    "properties": {"languages": {"type": "array", "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "primary_use": {"type": "string"},
                       "year_created": {"type": "integer"}},
        "required": ["name", "primary_use", "year_created"]}}},
    "required": ["languages"],
}
STEP8 = {"model": MODEL,
         "messages": [{"role": "user", "content": "List three programming languages with their primary use case "
                                                  "and year created."}],
         "max_tokens": 512,
         "response_format": {"type": "json_schema", "json_schema": {"name": "languages", "schema": STEP8_SCHEMA}}}
USAGE_KEYS = ["prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details", "reasoning_tokens",
              "completion_tokens_details"]


def turn(n):
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER1}]
    if n == 2:
        msgs += [{"role": "assistant", "content": ASSISTANT1}, {"role": "user", "content": USER2}]
    return {"model": MODEL, "messages": msgs, "max_tokens": 256}


def cached_lines(logs):
    return [int(m) for m in re.findall(r"#cached-token: (\d+)", logs)]


def test_runbook_steps_6_7_8_with_curl(start_sim):
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    sim = start_sim()

    def curl(payload):
        out = subprocess.run(["curl", "-s", sim.base_url + "/v1/chat/completions", "-H",
                              "Content-Type: application/json", "-d", json.dumps(payload)],
                             check=True, capture_output=True, timeout=30)
        return json.loads(out.stdout)

    question = "Explain quantum computing in simple terms."
    step6 = curl({"model": MODEL, "messages": [{"role": "user", "content": question}], "max_tokens": 256})
    assert step6["object"] == "chat.completion" and step6["model"] == MODEL
    assert step6["choices"][0]["message"]["role"] == "assistant" and step6["choices"][0]["message"]["content"]
    assert step6["usage"]["completion_tokens"] <= 256

    before = len(cached_lines(sim.logs()))
    t1 = curl(turn(1))
    t2 = curl(turn(2))
    assert t1["usage"]["prompt_tokens_details"]["cached_tokens"] < 4  # only the shared <|im_start|>system marker
    assert t2["usage"]["prompt_tokens_details"]["cached_tokens"] >= t1["usage"]["prompt_tokens"] - 1 - 1
    assert t2["usage"]["prompt_tokens_details"]["cached_tokens"] > 64
    # docker logs | grep cached-token: the second turn's prefill line shows the hit
    lines = cached_lines(sim.logs())[before:]
    assert lines[-1] == t2["usage"]["prompt_tokens_details"]["cached_tokens"] > 0

    step8 = curl(STEP8)
    content = json.loads(step8["choices"][0]["message"]["content"])
    jsonschema.validate(content, STEP8_SCHEMA)
    assert step8["choices"][0]["finish_reason"] == "stop"


def test_non_streaming_shape_and_key_order(start_sim):
    sim = start_sim()
    data = chat(sim.base_url, [{"role": "user", "content": "Hello there"}], model="any-name", max_tokens=8,
                ignore_eos=True)
    assert list(data) == ["id", "object", "created", "model", "choices", "usage", "metadata"]
    assert HEX32.match(data["id"]) and data["object"] == "chat.completion" and isinstance(data["created"], int)
    assert data["model"] == "any-name"
    choice = data["choices"][0]
    assert list(choice) == ["index", "message", "logprobs", "finish_reason", "matched_stop"]
    assert list(choice["message"]) == ["role", "content", "reasoning_content"]
    assert choice["message"]["reasoning_content"] is None and choice["logprobs"] is None
    assert choice["finish_reason"] == "length" and choice["matched_stop"] is None
    assert list(data["usage"]) == USAGE_KEYS
    u = data["usage"]
    assert u["completion_tokens"] == 8 and u["total_tokens"] == u["prompt_tokens"] + 8
    assert u["prompt_tokens_details"] == {"cached_tokens": 0} and u["completion_tokens_details"] is None
    assert data["metadata"] == {"weight_version": "default"}
    # a natural stop ends with the EOS token id
    data = chat(sim.base_url, [{"role": "user", "content": "Hi"}], max_tokens=4000)
    assert data["choices"][0]["finish_reason"] == "stop" and data["choices"][0]["matched_stop"] == 151645
    # stop strings end with the string
    text = data["choices"][0]["message"]["content"]
    word = text.split()[3]
    data = chat(sim.base_url, [{"role": "user", "content": "Hi"}], max_tokens=4000, stop=[" " + word])
    assert data["choices"][0]["matched_stop"] == " " + word and data["choices"][0]["finish_reason"] == "stop"
    assert (" " + word) not in data["choices"][0]["message"]["content"]
    # deterministic
    a = chat(sim.base_url, [{"role": "user", "content": "Same"}], max_tokens=30)
    b = chat(sim.base_url, [{"role": "user", "content": "Same"}], max_tokens=30)
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]


def test_usage_without_cache_report_is_null(start_sim):
    sim = start_sim("--context-length", "8192", "--attention-backend", "flashinfer", runbook_flags=False)
    data = chat(sim.base_url, [{"role": "user", "content": "Hi"}], max_tokens=3)
    assert data["usage"]["prompt_tokens_details"] is None


def test_streaming_chunk_order(start_sim):
    sim = start_sim()
    body = {"model": "m", "messages": [{"role": "user", "content": "Stream please"}], "max_tokens": 20,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    status, hdrs, events = sse(sim.base_url, "/v1/chat/completions", body)
    assert status == 200 and hdrs["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and HEX32.match(ids.pop())
    assert len({c["created"] for c in chunks}) == 1
    first, finish, usage = chunks[0], chunks[-2], chunks[-1]
    assert list(first) == ["id", "object", "created", "model", "choices"]
    assert first["object"] == "chat.completion.chunk" and first["model"] == "m"
    assert first["choices"][0] == {"index": 0, "delta": {"reasoning_content": None, "role": "assistant",
                                                         "content": ""},
                                   "logprobs": None, "finish_reason": None, "matched_stop": None}
    content = chunks[1:-2]
    assert content
    for c in content:
        assert list(c["choices"][0]) == ["index", "delta", "logprobs", "finish_reason", "matched_stop"]
        assert list(c["choices"][0]["delta"]) == ["reasoning_content", "content"]
        assert c["choices"][0]["finish_reason"] is None
    assert finish["choices"][0]["delta"] == {"reasoning_content": None}
    assert finish["choices"][0]["finish_reason"] == "length" and finish["choices"][0]["matched_stop"] is None
    assert usage["choices"] == [] and list(usage) == ["id", "object", "created", "model", "choices", "usage"]
    assert list(usage["usage"]) == USAGE_KEYS and usage["usage"]["completion_tokens"] == 20
    # without include_usage: no usage chunk
    body.pop("stream_options")
    st, hdrs, events = sse(sim.base_url, "/v1/chat/completions", body)
    assert all("usage" not in json.loads(e) for e in events[:-1])
    # the same text streamed and not streamed
    body2 = dict(body, stream=False)
    st, full = post_json(sim.base_url, "/v1/chat/completions", body2)
    streamed = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert streamed == full["choices"][0]["message"]["content"]


def test_stream_usage_default_flag_and_completions(start_sim):
    sim = start_sim("--stream-response-default-include-usage")
    st, hdrs, events = sse(sim.base_url, "/v1/chat/completions",
                           {"messages": [{"role": "user", "content": "x"}], "max_tokens": 3, "stream": True})
    assert json.loads(events[-2])["usage"]["completion_tokens"] == 3
    assert json.loads(events[0])["model"] == "default"
    # /v1/completions
    status, data = post_json(sim.base_url, "/v1/completions", {"model": "m", "prompt": "Once upon a time"})
    assert status == 200 and data["object"] == "text_completion"
    assert list(data["choices"][0]) == ["index", "text", "logprobs", "finish_reason", "matched_stop"]
    assert data["usage"]["completion_tokens"] <= 16
    st, hdrs, events = sse(sim.base_url, "/v1/completions", {"prompt": "Once", "max_tokens": 5, "stream": True,
                                                             "ignore_eos": True})
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["usage"] is None and chunks[0]["object"] == "text_completion"
    last = chunks[-1]
    assert last["choices"] == [] and "prompt_tokens_details" in last["usage"]
    sim2_status, err = post_json(sim.base_url, "/v1/completions", {"prompt": ""})
    assert sim2_status == 400 and err["message"] == "Prompt cannot be empty"


def test_errors_match_sglang(start_sim):
    sim = start_sim()
    url = sim.base_url

    def expect(status, body, etype, message, path="/v1/chat/completions", headers=None):
        st, hdrs, text = request(url, "POST", path, body, headers)
        data = json.loads(text)
        assert st == status, text
        assert list(data) == ["object", "message", "type", "param", "code"]
        assert data["object"] == "error" and data["type"] == etype and data["code"] == status
        assert data["param"] is None
        assert message in data["message"], data["message"]
        return data

    expect(400, {"model": MODEL, "messages": []}, "BadRequestError", "Messages cannot be empty.")
    expect(400, {"model": MODEL}, "Bad Request", "messages")
    expect(400, json.dumps({"messages": [{"role": "user", "content": "x"}]}), "Bad Request",
           "Unsupported Media Type: Only 'application/json' is allowed", headers={"Content-Type": "text/plain"})
    long_text = "word " * 9000
    data = expect(400, {"messages": [{"role": "user", "content": long_text}]}, "BadRequestError",
                  "is longer than the model's context length (8192 tokens).")
    assert re.match(r"^The input \(\d+ tokens\) is longer", data["message"])
    expect(400, {"messages": [{"role": "user", "content": "word " * 4000}], "max_tokens": 8000},
           "BadRequestError", "Requested token count exceeds the model's maximum context length of 8192 tokens.")
    expect(400, {"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 9000},
           "BadRequestError", "max_completion_tokens is too large: 9000.This model supports at most 8192 "
                              "completion tokens.")
    expect(400, dict(STEP8, response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "frobnicate"}}}), "BadRequestError",
        "Failed to compile json_schema grammar: ")
    expect(400, dict(STEP8, response_format={"type": "json_schema", "json_schema": {"name": "x"}}), "BadRequest",
           "schema_ is required for json_schema response format request.")
    expect(400, dict(STEP8, response_format={"type": "json_schema", "json_schema": {"schema": STEP8_SCHEMA}}),
           "Bad Request", "name")
    expect(400, dict(STEP8, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": "str"}}),
           "Bad Request", "dictionary")
    expect(400, {"model": "base:adapter", "messages": [{"role": "user", "content": "x"}]}, "BadRequest",
           "LoRA adapter 'adapter' was requested, but LoRA is not enabled.")
    # a bad grammar while streaming is an SSE error event after a 200
    body = dict(STEP8, stream=True, response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "frobnicate"}}})
    status, hdrs, events = sse(url, "/v1/chat/completions", body)
    assert status == 200 and events[-1] == "[DONE]"
    err = json.loads(events[0])["error"]
    assert err["type"] == "BAD_REQUEST" and err["code"] == 400
    assert "Failed to compile json_schema grammar" in sim.logs()
    # unknown route / method
    st, hdrs, text = request(url, "GET", "/nope")
    assert st == 404 and json.loads(text) == {"detail": "Not Found"}
    st, hdrs, text = request(url, "GET", "/v1/chat/completions")
    assert st == 405 and json.loads(text) == {"detail": "Method Not Allowed"}


def test_structured_output(start_sim):
    sim = start_sim()
    data = chat(sim.base_url, STEP8["messages"], max_tokens=512, response_format=STEP8["response_format"])
    jsonschema.validate(json.loads(data["choices"][0]["message"]["content"]), STEP8_SCHEMA)
    rich = {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 20},
        "kind": {"type": "string", "enum": ["a", "b", "c"]},
        "score": {"type": "number", "minimum": 1.5, "maximum": 2.5},
        "count": {"type": "integer", "minimum": 10, "maximum": 12},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 5},
        "nested": {"type": "object", "properties": {"deep": {"type": "array", "items": {"type": "integer"}}},
                   "required": ["deep"]},
        "maybe": {"type": ["string", "null"]}},
        "required": ["title", "kind", "score", "count", "ok", "tags", "nested"]}
    data = chat(sim.base_url, [{"role": "user", "content": "fill"}], max_tokens=1000,
                response_format={"type": "json_schema", "json_schema": {"name": "rich", "schema": rich}})
    value = json.loads(data["choices"][0]["message"]["content"])
    jsonschema.validate(value, rich)
    assert len(value["tags"]) >= 5
    data = chat(sim.base_url, [{"role": "user", "content": "obj"}], response_format={"type": "json_object"})
    assert isinstance(json.loads(data["choices"][0]["message"]["content"]), dict)
    # a top-level schema inside response_format is accepted too
    data = chat(sim.base_url, [{"role": "user", "content": "obj"}],
                response_format={"type": "json_schema", "schema": STEP8_SCHEMA})
    jsonschema.validate(json.loads(data["choices"][0]["message"]["content"]), STEP8_SCHEMA)


def test_info_endpoints(start_sim):
    sim = start_sim("--served-model-name", "served", "--tp-size", "1")
    status, models = get_json(sim.base_url, "/v1/models")
    assert status == 200 and models["object"] == "list"
    card = models["data"][0]
    assert list(card) == ["id", "object", "created", "owned_by", "root", "parent", "max_model_len"]
    assert card["id"] == "served" and card["root"] == "served" and card["owned_by"] == "sglang"
    assert card["max_model_len"] == 8192 and card["parent"] is None
    assert get_json(sim.base_url, "/v1/models/served") == (200, get_json(sim.base_url, "/v1/models/served")[1])
    status, err = get_json(sim.base_url, "/v1/models/Qwen/Qwen3-8B")
    assert status == 404 and err["error"]["code"] == "model_not_found"
    assert err["error"]["message"] == "The model 'Qwen/Qwen3-8B' does not exist"
    status, info = get_json(sim.base_url, "/model_info")
    for key in ("model_path", "served_model_name", "tokenizer_path", "is_generation", "preferred_sampling_params",
                "weight_version", "load_format", "reasoning_parser", "tool_call_parser", "disaggregation_mode",
                "has_image_understanding", "has_audio_understanding", "model_type", "architectures"):
        assert key in info
    assert info["model_path"] == MODEL and info["architectures"] == ["Qwen3ForCausalLM"]
    assert get_json(sim.base_url, "/get_model_info")[1] == info
    assert "Endpoint '/get_model_info' is deprecated" in sim.logs()
    status, si = get_json(sim.base_url, "/server_info")
    assert status == 200
    expected = {"model_path": MODEL, "served_model_name": "served", "context_length": 8192, "page_size": 1,
                "disable_radix_cache": False, "enable_cache_report": True, "attention_backend": "flashinfer",
                "mem_fraction_static": 0.85, "tp_size": 1, "api_key": None, "enable_metrics": False,
                "grammar_backend": "xgrammar", "reasoning_parser": None, "chunked_prefill_size": 8192,
                "max_total_tokens": None, "status": "ready", "version": "0.5.23", "frontend": "python"}
    for k, v in expected.items():
        assert si[k] == v, k
    assert isinstance(si["max_running_requests"], int) and si["max_total_num_tokens"] > 100000
    assert "--enable-cache-report" in si["launch_command"]
    state = si["internal_states"][0]
    assert isinstance(state["last_gen_throughput"], float)
    assert state["memory_usage"]["token_capacity"] == si["max_total_num_tokens"]
    assert list(si)[-2:] == ["version", "frontend"]
    assert get_json(sim.base_url, "/get_server_info")[0] == 200
    for path in ("/health", "/health_generate", "/ready"):
        st, hdrs, text = request(sim.base_url, "GET", path)
        assert st == 200 and text == ""
    st, hdrs, text = request(sim.base_url, "GET", "/metrics")
    assert st == 404 and json.loads(text) == {"detail": "Not Found"}


def test_api_key(start_sim):
    sim = start_sim("--api-key", "sekret", "--enable-metrics")
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    st, hdrs, text = request(sim.base_url, "POST", "/v1/chat/completions", body)
    assert st == 401 and text == '{"error":"Unauthorized"}'
    st, hdrs, text = request(sim.base_url, "POST", "/v1/chat/completions", body,
                             {"Authorization": "bearer sekret"})
    assert st == 200
    assert request(sim.base_url, "GET", "/model_info")[0] == 401
    assert request(sim.base_url, "GET", "/v1/models", headers={"Authorization": "Bearer nope"})[0] == 401
    for path in ("/health", "/health_generate", "/ready", "/metrics"):
        assert request(sim.base_url, "GET", path)[0] == 200, path
    assert request(sim.base_url, "POST", "/flush_cache")[0] == 401
    st, si = get_json(sim.base_url, "/server_info", {"Authorization": "Bearer sekret"})
    assert si["api_key"] == "sekret" and "sekret" not in si["launch_command"]


def test_admin_api_key_guards_flush_cache(start_sim):
    sim = start_sim("--api-key", "user", "--admin-api-key", "admin")
    assert request(sim.base_url, "POST", "/flush_cache", headers={"Authorization": "Bearer user"})[0] == 401
    st, hdrs, text = request(sim.base_url, "POST", "/flush_cache", headers={"Authorization": "Bearer admin"})
    assert st == 200 and text.startswith("Cache flushed.\n") and hdrs["content-type"].startswith("text/plain")


def test_reasoning_parser(start_sim):
    sim = start_sim("--reasoning-parser", "qwen3")
    data = chat(sim.base_url, [{"role": "user", "content": "think"}], max_tokens=2000)
    msg = data["choices"][0]["message"]
    assert msg["reasoning_content"] and msg["content"]
    assert data["usage"]["reasoning_tokens"] > 0
    assert data["usage"]["completion_tokens_details"] == {"reasoning_tokens": data["usage"]["reasoning_tokens"]}
    data = chat(sim.base_url, [{"role": "user", "content": "think"}], max_tokens=2000,
                chat_template_kwargs={"enable_thinking": False})
    assert data["choices"][0]["message"]["reasoning_content"] is None
    body = {"messages": [{"role": "user", "content": "think"}], "stream": True, "max_tokens": 2000}
    st, hdrs, events = sse(sim.base_url, "/v1/chat/completions", body)
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[1:-1]]
    assert deltas[0]["reasoning_content"] and "content" not in deltas[0]


def test_native_generate(start_sim):
    sim = start_sim()
    status, data = post_json(sim.base_url, "/generate", {"text": "The capital city of France is",
                                                         "sampling_params": {"max_new_tokens": 8}})
    assert status == 200 and list(data) == ["text", "output_ids", "meta_info"]
    meta = data["meta_info"]
    assert meta["completion_tokens"] == len(data["output_ids"]) <= 8
    assert meta["cached_tokens"] == meta["prompt_tokens"] - 1  # the warm-up request cached it
