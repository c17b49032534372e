"""sglang_benchmark in-process against a misbehaving local server: a run that must not pass fails, with its result.

FakeSGLang (a threaded HTTP/1.1 server, keep-alive, chunked SSE) answers /v1/models, /server_info,
/flush_cache and /metrics (404) like SGLang and each chat request the way the test's `chat(n, body)`
says: ok, http500, abort, cut, reset, list_event, not_json.
"""
import json
import os
import re
import socket
import stat
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.dgx_station.inference.plugins.modules import sglang_benchmark
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark

VALID = json.dumps({"topic": "t", "points": ["p"]})


def _chunk(delta=None, finish=None):
    return {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


def _usage(prompt=10, completion=3, cached=0):
    return {"id": "x", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                "prompt_tokens_details": {"cached_tokens": cached}}}


class FakeSGLang:
    def __init__(self, chat, versions=("0.5.23",)):
        self.chat = chat
        self.versions = list(versions)
        self.info_calls = 0
        self.chat_bodies = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    return self._json(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})
                if self.path == "/server_info":
                    with fake.lock:
                        version = fake.versions[min(fake.info_calls, len(fake.versions) - 1)]
                        fake.info_calls += 1
                    return self._json(200, {"version": version, "model_path": "Qwen/Qwen3-8B", "page_size": 1,
                                            "enable_cache_report": True, "disable_radix_cache": False,
                                            "attention_backend": "flashinfer", "weight_version": "default"})
                return self._json(404, {"detail": "Not Found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path.startswith("/flush_cache"):
                    data = b"Cache flushed.\n"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                request = json.loads(body)
                with fake.lock:
                    fake.chat_bodies.append(request)
                    number = len(fake.chat_bodies)
                return self._answer(fake.chat(number, request), request)

            def _sse(self, *events):
                for ev in events:
                    data = ("data: %s\n\n" % (ev if isinstance(ev, str) else json.dumps(ev))).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

            def _answer(self, mode, request):
                if mode == "http500":
                    return self._json(500, {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500})
                if mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return None
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                text = VALID if request.get("response_format") else "Hello"
                if mode == "cut":
                    self._sse(_chunk({"role": "assistant", "content": ""}))
                    self.wfile.write(b"40\r\ndata: {\"cho")
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                events = [_chunk({"role": "assistant", "content": ""})]
                if mode == "list_event":
                    events.append("[1, 2]")
                if mode == "not_json":
                    events.append("this is not json")
                events += [_chunk({"content": text}), _chunk({}, "abort" if mode == "abort" else "stop"), _usage(), "[DONE]"]
                self._sse(*events)
                self.wfile.write(b"0\r\n\r\n")
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def args(srv, **kw):
    base = dict(base_url=srv.base_url, num_conversations=2, turns_per_conversation=2, max_tokens=8, timeout=5,
                structured_output_fraction=0.0, max_duration_s=30)
    base.update(kw)
    return base


def ok_until(mode, after=1):
    """The warm-up (request 1) and `after - 1` more are fine, then every request answers `mode`."""
    return lambda number, body: "ok" if number <= after else mode


# ------------------------------------------------------------------ runs that pass
def test_a_healthy_run_passes_with_provenance_requests_file_and_no_server_change(run_module, tmp_path):
    with FakeSGLang(lambda number, body: "ok") as srv:
        failed, result = run_module(sglang_benchmark.main, args(
            srv, requests_file=str(tmp_path / "r" / "requests.jsonl"), detail_file=str(tmp_path / "d.log"),
            structured_output_fraction=0.5,
            provenance=dict(station="st-1", image="lmsysorg/sglang:v0.5.23", image_digest="sha256:abc",
                            gpu={"name": "NVIDIA GB300", "uuid": "GPU-1"})))
    assert not failed, result.get("msg")
    assert result["failure_kind"] is None and result["summary"]["errors"] == 0
    assert result["provenance"] == dict(collection_version=benchmark.COLLECTION_VERSION, model="m", sglang_version="0.5.23",
                                        image="lmsysorg/sglang:v0.5.23", image_id=None, image_digest="sha256:abc",
                                        gpu={"name": "NVIDIA GB300", "uuid": "GPU-1"}, station="st-1")
    assert result["server_after"]["version"] == "0.5.23" and result["server_changed"] == {}
    assert result["server"]["prefix_cache_expected"] is True and result["server"]["prefix_cache_reason"]
    assert result["config"]["max_error_rate"] == 0.0
    path = tmp_path / "r" / "requests.jsonl"
    assert result["requests_file"] == str(path) and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # 1 warm-up chat + 1 warm-up structured request + 4 measured ones.
    assert len(lines) == 6 and [line["warmup"] for line in lines].count(True) == 2
    assert all(line["ok"] for line in lines) and lines[-1]["ttft_ms"] is not None
    assert result["summary"]["itl_ms"]["n"] == 0 and "low_sample" in result["summary"]["ttft_ms"]
    assert result["structured_output"]["valid"] == result["structured_output"]["requests"]


def test_errors_within_max_error_rate_pass(run_module):
    with FakeSGLang(lambda number, body: "http500" if number == 3 else "ok") as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv, max_error_rate=0.5))
    assert not failed, result.get("msg")
    assert result["summary"]["errors"] == 1


def test_a_server_changed_during_the_run_is_reported_and_warned(run_module):
    with FakeSGLang(lambda number, body: "ok", versions=("0.5.23", "0.5.24")) as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv))
    assert not failed
    assert result["server_changed"] == {"version": {"before": "0.5.23", "after": "0.5.24"}}
    assert any("changed during the measured phase" in w for w in result["notes"])


# ------------------------------------------------------------------ runs that must fail (before: they passed)
def test_no_successful_request_fails_the_module_with_the_whole_result(run_module):
    with FakeSGLang(ok_until("http500")) as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv))
    assert failed and result["failure_kind"] == "no_success"
    assert result["msg"].startswith("No request of the measured phase succeeded (2 sent: http_500 x2)")
    assert "Fix: the server failed the requests" in result["msg"]
    assert result["summary"]["requests"] == 2 and result["summary"]["not_sent"] == 2 and "per_turn" in result


def test_an_error_rate_above_max_error_rate_fails_the_module(run_module):
    with FakeSGLang(lambda number, body: "http500" if number == 3 else "ok") as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv))
    assert failed and result["failure_kind"] == "error_rate"
    assert re.search(r"1 of \d requests failed: error rate 0\.\d+ > max_error_rate 0\.0 \(http_500 x1\)", result["msg"])
    assert "First: conversation" in result["msg"] and result["summary"]["succeeded"] > 0


def test_a_failed_warmup_fails_before_measuring_and_names_the_error(run_module):
    with FakeSGLang(lambda number, body: "http500" if number == 1 else "ok") as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv))
        sent = len(srv.chat_bodies)
    assert failed and result["failure_kind"] == "warmup" and sent == 1
    assert result["msg"].startswith("The warm-up failed, so nothing was measured: 1 of 1 warm-up requests failed (http_500 x1)")
    assert "boom" in result["msg"] and "summary" not in result and result["server"]["version"] == "0.5.23"


@pytest.mark.parametrize("mode, kind", [("abort", "finish_abort"), ("list_event", "invalid_event"),
                                        ("not_json", "invalid_event"), ("cut", "connection_error"),
                                        ("reset", "connection_error")])
def test_every_bad_answer_is_a_counted_error_never_a_traceback(run_module, mode, kind):
    """Before: abort counted as a success and a non-object event raised AttributeError out of the module."""
    with FakeSGLang(ok_until(mode)) as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv, num_conversations=1, turns_per_conversation=1))
    assert failed and result["failure_kind"] == "no_success", result["msg"]
    assert result["summary"]["error_kinds"] == {kind: 1}
    assert "Traceback" not in result["msg"]


@pytest.mark.parametrize("schema", [{"type": 12}, {"$ref": "#/$defs/nowhere"}])
def test_a_schema_that_does_not_compile_fails_before_any_request_naming_the_option(run_module, schema):
    with FakeSGLang(lambda number, body: "ok") as srv:
        failed, result = run_module(sglang_benchmark.main, args(srv, structured_output_fraction=0.5,
                                                                structured_output_schema=schema))
        sent = len(srv.chat_bodies) + srv.info_calls
    assert failed and sent == 0
    assert result["msg"].startswith("structured_output_schema is not a JSON schema that compiles")
    assert result["error_kind"] == "invalid_schema"


def test_max_error_rate_outside_0_1_is_refused(run_module):
    failed, result = run_module(sglang_benchmark.main, {"base_url": "http://127.0.0.1:9", "max_error_rate": 1.5})
    assert failed and "max_error_rate" in result["msg"]
