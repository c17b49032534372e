"""sglang_smoke_test against recorded SGLang exchanges."""
import socket

from sglang_replay import ReplayServer, load_fixture

from ansible_collections.dgx_station.inference.plugins.modules import sglang_smoke_test


def replay(name):
    return ReplayServer(load_fixture(name)["exchanges"])


def test_smoke_passes_with_stream(run_module):
    with replay("smoke_ok") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "stream": True})
        chat, stream = server.requests_to("/v1/chat/completions")
    assert not failed, result["msg"]
    assert result["changed"] is False and result["passed"] is True and result["failures"] == []
    assert result["served_model"] == "Qwen/Qwen3-8B" and result["model"] == "Qwen/Qwen3-8B"
    assert result["prompt_tokens"] == 16 and result["completion_tokens"] == 58 and result["total_tokens"] == 74
    assert result["finish_reason"] == "stop" and result["content"].startswith("Quantum computing")
    assert result["latency_s"] >= 0
    assert result["stream_ttft_s"] is not None and result["stream_ttft_s"] <= result["stream_latency_s"]
    assert result["stream_content"] == "Quantum computing uses qubits."
    assert result["stream_chunks"] == 9
    assert all(result["checks"].values())
    # the runbook's request
    assert chat["json"]["messages"] == [{"role": "user", "content": "Explain quantum computing in simple terms."}]
    assert chat["json"]["max_tokens"] == 256 and chat["json"]["model"] == "Qwen/Qwen3-8B"
    assert "temperature" not in chat["json"]
    assert stream["json"]["stream"] is True and stream["json"]["stream_options"] == {"include_usage": True}


def test_thinking_answer_cut_at_length_is_accepted(run_module):
    with replay("smoke_thinking_length") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "extra_body": {"chat_template_kwargs": {"enable_thinking": True}}})
        chat = server.requests_to("/v1/chat/completions")[0]
    assert not failed
    assert result["finish_reason"] == "length"
    assert chat["json"]["chat_template_kwargs"] == {"enable_thinking": True}


def test_every_failed_check_is_listed(run_module):
    with replay("smoke_bad_shape") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "stream": True})
    assert failed and result["passed"] is False
    names = sorted(f.split(":")[0] for f in result["failures"])
    assert names == ["content", "finish_reason", "stream_done", "stream_role_chunk", "usage"]
    assert "total_tokens 99 != prompt_tokens 16 + completion_tokens 3" in result["msg"]
    assert result["checks"]["object"] is True and result["checks"]["usage"] is False


def test_model_not_served_is_a_failure(run_module):
    with replay("smoke_ok") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "model": "Qwen/Qwen3-32B"})
    assert failed
    assert result["failures"] == ["model_listed: 'Qwen/Qwen3-32B' is not served here; /v1/models lists Qwen/Qwen3-8B"]


def test_stream_error_event_fails(run_module):
    with replay("stream_error_event") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "stream": True})
    assert failed
    assert any(f.startswith("stream_no_error:") and "Failed to compile" in f for f in result["failures"])


def test_unauthorized_names_api_key(run_module):
    with replay("unauthorized") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url, "api_key": "wrong"})
    assert failed and result["error_kind"] == "unauthorized" and result["status"] == 401
    assert "api_key" in result["msg"]


def test_server_error_message(run_module):
    with replay("server_error") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url})
    assert failed and result["error_kind"] == "server_error"
    assert "HTTP 500" in result["msg"] and "CUDA error" in result["msg"]


def test_booting_server_is_still_loading(run_module):
    with replay("booting") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url})
    assert failed and "still loading" in result["msg"] and result["error_kind"] == "not_ready"


def test_connection_refused(run_module):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    failed, result = run_module(sglang_smoke_test.main, {"base_url": "http://127.0.0.1:%d" % port})
    assert failed and result["error_kind"] == "connection_refused" and "still loading" in result["msg"]


def test_check_mode_sends_the_same_requests(run_module):
    with replay("smoke_ok") as server:
        failed, result = run_module(sglang_smoke_test.main, {"base_url": server.base_url}, check_mode=True)
    assert not failed and result["changed"] is False
