"""sglang_http.SGLangClient against recorded SGLang exchanges replayed on 127.0.0.1."""
import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from sglang_replay import ReplayServer, load_fixture  # noqa: E402

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC,
    SGLangClient,
    SGLangError,
)
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import SSEDecoder  # noqa: E402


def replay(name, **kwargs):
    return ReplayServer(load_fixture(name)["exchanges"], **kwargs)


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connection_argument_spec_is_stable():
    assert CONNECTION_ARGUMENT_SPEC["base_url"]["default"] == "http://127.0.0.1:30000"
    assert CONNECTION_ARGUMENT_SPEC["api_key"]["no_log"] is True
    assert CONNECTION_ARGUMENT_SPEC["timeout"] == dict(type="float", default=60.0)
    assert CONNECTION_ARGUMENT_SPEC["validate_certs"] == dict(type="bool", default=True)
    assert "default" not in CONNECTION_ARGUMENT_SPEC["model"]


def test_models_and_chat_with_keepalive():
    with replay("smoke_ok") as server:
        client = SGLangClient(server.base_url, api_key="sk-test")
        assert client.served_model() == "Qwen/Qwen3-8B"
        body = client.chat(dict(model="Qwen/Qwen3-8B", messages=[dict(role="user", content="hi")], max_tokens=8))
        assert body["object"] == "chat.completion"
        assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        chat_request = server.requests_to("/v1/chat/completions")[0]
        assert chat_request["headers"]["Authorization"] == "Bearer sk-test"
        assert chat_request["headers"]["Content-Type"] == "application/json"
        assert chat_request["json"]["stream"] is False
        client.close()


def test_stream_is_read_into_one_exchange_and_the_connection_is_reused():
    with replay("smoke_ok") as server:
        client = SGLangClient(server.base_url)
        exchange = client.chat_exchange(dict(model="m", messages=[]), stream=True)
        assert exchange.ok, exchange.error
        assert exchange.first_role == "assistant"
        assert exchange.content == "Quantum computing uses qubits."
        assert exchange.completion_tokens == 6 and exchange.finish_reason == "stop"
        assert exchange.ttft is not None and exchange.e2e >= exchange.ttft
        sent = server.requests_to("/v1/chat/completions")[0]["json"]
        assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
        # the connection is usable again after a complete stream
        assert client.served_model() == "Qwen/Qwen3-8B"


def test_whole_answer_is_read_into_one_exchange():
    with replay("smoke_ok") as server:
        exchange = SGLangClient(server.base_url).chat_exchange(dict(model="m", messages=[]))
        assert exchange.ok and exchange.ttft is None and exchange.prompt_tokens > 0
        assert server.requests_to("/v1/chat/completions")[0]["json"]["stream"] is False


def test_stream_error_event_is_recorded_not_raised():
    with replay("stream_error_event") as server:
        exchange = SGLangClient(server.base_url).chat_exchange(dict(model="m", messages=[]), stream=True)
        assert not exchange.ok and exchange.error_kind == "sse_error"
        assert "Failed to compile json_schema grammar" in exchange.error


def test_api_key_is_sent_as_bearer_even_with_a_netrc(tmp_path, monkeypatch):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with replay("smoke_ok") as server:
        SGLangClient(server.base_url, api_key="sk-test").models()
        assert server.requests_to("/v1/models")[0]["headers"]["Authorization"] == "Bearer sk-test"


def test_proxy_environment_is_honoured_except_for_loopback(monkeypatch):
    dead_proxy = "http://127.0.0.1:%d" % free_port()
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.setenv("NO_PROXY", "")
    # The Station's own server is reached directly even with a proxy set and no NO_PROXY.
    with replay("smoke_ok") as server:
        assert SGLangClient(server.base_url).served_model() == "Qwen/Qwen3-8B"
    # Any other host goes through the proxy of the environment.
    with pytest.raises(SGLangError) as info:
        SGLangClient("http://sglang.example.invalid:30000", timeout=2).served_model()
    assert "proxy" in info.value.message.lower()


def test_verify_is_not_overridden_by_the_ca_bundle_environment(monkeypatch, tmp_path):
    import requests
    seen = []

    def send(self, request, **kwargs):
        seen.append(kwargs.get("verify"))
        raise requests.exceptions.ConnectionError("stop here")

    monkeypatch.setattr(requests.Session, "send", send)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "other.pem"))
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    for client, expected in ((SGLangClient("https://sglang.example:1", validate_certs=False), False),
                             (SGLangClient("https://sglang.example:1", ca_path=str(bundle)), str(bundle))):
        with pytest.raises(SGLangError):
            client.models()
        assert seen[-1] == expected


def test_401_names_api_key():
    with replay("unauthorized") as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url).models()
        assert info.value.kind == "unauthorized" and info.value.status == 401
        assert "api_key" in info.value.message and "Unauthorized" in info.value.message


def test_500_carries_sglang_error_message():
    with replay("server_error") as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url).chat(dict(model="m", messages=[]))
        assert info.value.kind == "server_error" and info.value.status == 500
        assert "Internal server error: CUDA error" in info.value.message
        assert info.value.to_result()["body"]["type"] == "InternalServerError"


def test_400_context_length_message():
    with replay("bad_request_context") as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url).chat(dict(model="m", messages=[]))
        assert info.value.kind == "bad_request"
        assert "maximum context length of 8192 tokens" in info.value.message


def test_503_while_booting_says_still_loading():
    with replay("booting") as server:
        client = SGLangClient(server.base_url)
        assert client.health() == 503
        with pytest.raises(SGLangError) as info:
            client.models()
        assert info.value.kind == "not_ready" and "still loading" in info.value.message


def test_connection_refused_says_still_loading():
    client = SGLangClient("http://127.0.0.1:%d" % free_port(), timeout=2)
    with pytest.raises(SGLangError) as info:
        client.models()
    assert info.value.kind == "connection_refused"
    assert "still loading" in info.value.message
    assert "sglang_wait" in info.value.to_result()["hint"]


def test_timeout_is_reported_not_retried():
    exchanges = [{"request": {"method": "POST", "path": "/v1/chat/completions"},
                  "response": {"status": 200, "json": {}, "delay_s": 1.0}}]
    with ReplayServer(exchanges) as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url, timeout=0.2).chat(dict(model="m", messages=[]))
        assert info.value.kind == "timeout" and "0.2 s" in info.value.message
        assert len(server.requests_to("/v1/chat/completions")) == 1


def test_stale_keepalive_connection_is_retried_once_for_get():
    with replay("keepalive_drop") as server:
        client = SGLangClient(server.base_url)
        assert client.served_model() == "Qwen/Qwen3-8B"
        assert client.served_model() == "Qwen/Qwen3-8B"  # first attempt dropped, retried
        assert len(server.requests_to("/v1/models")) == 3


def test_post_on_fresh_connection_is_not_retried():
    exchanges = [{"request": {"method": "POST", "path": "/v1/chat/completions"}, "response": {"drop": True}},
                 {"request": {"method": "POST", "path": "/v1/chat/completions"}, "response": {"status": 200, "json": {}}}]
    with ReplayServer(exchanges) as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url).chat(dict(model="m", messages=[]))
        assert info.value.kind == "connection_error"
        assert len(server.requests_to("/v1/chat/completions")) == 1


def test_flush_cache_and_path_prefix():
    with replay("flush_cache") as server:
        assert SGLangClient(server.base_url + "/").flush_cache().startswith("Cache flushed.")
    exchanges = [{"request": {"method": "GET", "path": "/sglang/v1/models"},
                  "response": {"status": 200, "json": {"object": "list", "data": [{"id": "x"}]}}}]
    with ReplayServer(exchanges) as server:
        assert SGLangClient(server.base_url + "/sglang").models() == ["x"]


def test_non_json_answer():
    exchanges = [{"request": {"method": "GET", "path": "/v1/models"}, "response": {"status": 200, "text": "<html>"}}]
    with ReplayServer(exchanges) as server:
        with pytest.raises(SGLangError) as info:
            SGLangClient(server.base_url).models()
        assert info.value.kind == "invalid_response" and "not JSON" in info.value.message


def test_bad_base_url():
    with pytest.raises(SGLangError) as info:
        SGLangClient("127.0.0.1:30000")
    assert "not an http:// or https:// URL" in info.value.message


def test_tls_context_options(tmp_path):
    assert SGLangClient("http://127.0.0.1:1").ssl_context() is None
    context = SGLangClient("https://127.0.0.1:1", validate_certs=False).ssl_context()
    assert context.check_hostname is False
    with pytest.raises(SGLangError) as info:
        SGLangClient("https://127.0.0.1:1", ca_path=str(tmp_path / "missing.pem"))
    assert "ca_path" in info.value.message


def test_ca_path_and_validate_certs_reach_the_transport(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert SGLangClient("https://127.0.0.1:1", ca_path=str(bundle)).session.verify == str(bundle)
    assert SGLangClient("https://127.0.0.1:1").session.verify is True
    assert SGLangClient("https://127.0.0.1:1", ca_path=str(bundle), validate_certs=False).session.verify is False


def test_tls_error_is_mapped():
    # a plain-HTTP server spoken to with TLS
    with replay("smoke_ok") as server:
        client = SGLangClient(server.base_url.replace("http://", "https://"), timeout=2)
        with pytest.raises(SGLangError) as info:
            client.models()
        assert info.value.kind == "tls_error"
        assert "TLS" in info.value.message and "ca_path" in info.value.message


def test_sse_decoder_splits_lines_across_reads():
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a"') == []
    assert decoder.feed(b': 1}\r\n\n: keep-alive\n\ndata: [DONE]') == ['{"a": 1}']
    assert decoder.close() == ["[DONE]"]
