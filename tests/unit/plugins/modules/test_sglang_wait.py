# -*- coding: utf-8 -*-
"""sglang_wait against tiny in-process fake SGLang servers on 127.0.0.1."""
import json
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from ansible_collections.dgx_station.inference.plugins.modules import sglang_wait

MODEL = "Qwen/Qwen3-8B"


class FakeSGLang(object):
    """/health answers 503 for the first `starting` probes, then 200; /v1/models lists MODEL."""

    def __init__(self, starting=2, model=MODEL):
        self.starting = starting
        self.model = model
        self.health_calls = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/health":
                    fake.health_calls += 1
                    self._send(503 if fake.health_calls <= fake.starting else 200)
                elif self.path == "/v1/models":
                    cards = [{"id": fake.model, "object": "model", "owned_by": "sglang"}]
                    self._send(200, json.dumps({"object": "list", "data": cards}).encode())
                else:
                    self._send(404, b'{"detail":"Not Found"}')

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def free_port_url():
    """A loopback URL nothing listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:%d" % port


def fake_docker(tmp_path, state, log_text, restart_count=0):
    """A docker CLI stand-in answering `inspect` and `logs` for one container."""
    (tmp_path / "log.txt").write_text(log_text)
    (tmp_path / "state.json").write_text(json.dumps(state))
    script = tmp_path / "docker"
    script.write_text(
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  inspect) printf '%%s|%d\\n' \"$(cat %s)\" ;;\n"
        "  logs) cat %s >&2 ;;\n"
        "  *) exit 2 ;;\n"
        "esac\n" % (restart_count, tmp_path / "state.json", tmp_path / "log.txt"))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_boot_phase_follows_the_real_startup_lines():
    assert sglang_wait.boot_phase("") == "starting"
    assert sglang_wait.boot_phase("[2026] Load weight begin. avail mem=270.00 GB") == "loading_weights"
    assert sglang_wait.boot_phase("Load weight end. elapsed=3 s\nMemory pool end. avail mem=40 GB") == "kv_memory_pool"
    assert sglang_wait.boot_phase("Memory pool end.\nCapture cuda graph begin. This can take up to several minutes.") \
        == "capturing_cuda_graphs"
    assert sglang_wait.boot_phase("INFO:     Uvicorn running on http://0.0.0.0:30000 (Press CTRL+C to quit)") == "warm_up"
    assert sglang_wait.boot_phase("Uvicorn running on x\nThe server is fired up and ready to roll!") == "ready"


def test_waits_through_503_until_ready(run_module):
    with FakeSGLang(starting=3) as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url, model=MODEL, wait_timeout=20, poll_interval=0.05, timeout=2))
    assert not failed, result
    assert result["ready"] is True and result["served_model"] == MODEL and result["phase"] == "ready"
    assert result["changed"] is False
    assert fake.health_calls == 4


def test_connection_refused_is_booting_until_the_timeout(run_module):
    failed, result = run_module(sglang_wait.main, dict(
        base_url=free_port_url(), wait_timeout=0.6, poll_interval=0.1, timeout=1))
    assert failed and result["ready"] is False
    assert result["failure"]["id"] == "still_booting"
    assert "connection_refused" in result["failure"]["symptom"]
    assert 0.5 <= result["elapsed_s"] < 5


def test_a_model_the_ready_server_does_not_serve_fails_at_once(run_module):
    with FakeSGLang(starting=0, model="other/model") as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url, model=MODEL, wait_timeout=60, poll_interval=0.1, timeout=2))
    assert failed and result["error_kind"] == "model_not_served"
    assert result["elapsed_s"] < 5 and result["ready"] is False
    assert "other/model" in result["msg"] and MODEL in result["msg"]


def test_a_tls_error_fails_at_once_naming_the_fix(run_module):
    # A plain-HTTP server spoken to with https:// is a TLS failure that waiting cannot mend.
    with FakeSGLang(starting=0) as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url.replace("http://", "https://"), wait_timeout=60, poll_interval=0.1, timeout=2))
    assert failed and result["error_kind"] == "tls_error"
    assert result["elapsed_s"] < 5
    assert "ca_path" in result["msg"] and "validate_certs" in result["msg"]


def test_ca_path_is_honoured(run_module, tmp_path):
    failed, result = run_module(sglang_wait.main, dict(
        base_url="https://127.0.0.1:1", ca_path=str(tmp_path / "missing-ca.pem"), wait_timeout=60, timeout=2))
    assert failed and "ca_path" in result["msg"] and "does not exist" in result["msg"]


def test_dying_server_with_log_file_stops_early_and_names_the_cause(run_module, tmp_path):
    log = tmp_path / "server.log"
    log.write_text("[2026-10-30 12:00:00] Load weight begin. avail mem=270.00 GB\n"
                   "[2026-10-30 12:00:09] Load weight end. elapsed=9 s, type=Qwen3ForCausalLM\n"
                   "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. "
                   "Current value: mem_fraction_static=0.85\n")
    failed, result = run_module(sglang_wait.main, dict(
        base_url=free_port_url(), log_file=str(log), wait_timeout=60, poll_interval=0.1, timeout=1))
    assert failed and result["elapsed_s"] < 5
    assert result["failure"]["id"] == "oom_at_start"
    assert "mem_fraction_static" in result["failure"]["fix"]
    assert result["phase"] == "loading_weights"
    assert "oom_at_start" in result["msg"] and result["log_tail"][-1].startswith("RuntimeError")


def test_exited_container_ends_the_wait_at_once(run_module, tmp_path):
    docker = fake_docker(tmp_path, dict(Status="exited", Running=False, Restarting=False, ExitCode=1),
                         "Load weight begin.\nMemory pool end. avail mem=40 GB\n"
                         "Capture cuda graph begin.\nException: Capture cuda graph failed: CUDA out of memory.\n"
                         "Possible solutions:\n1. set --mem-fraction-static to a smaller value (e.g., 0.8 or 0.7)\n")
    with FakeSGLang(starting=1000) as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url, container_name="sglang-server", docker_bin=docker,
            wait_timeout=60, poll_interval=0.1, timeout=2))
    assert failed and result["elapsed_s"] < 5
    assert result["phase"] == "exited"
    assert result["failure"]["id"] == "cuda_graph_capture_oom"
    assert result["container_state"]["exit_code"] == 1
    assert fake.health_calls == 0


def test_unknown_death_is_reported_as_container_exited(run_module, tmp_path):
    docker = fake_docker(tmp_path, dict(Status="running", Running=True, Restarting=False, ExitCode=0),
                         "something odd\n", restart_count=0)
    # The restart count read first is the baseline: a later higher count means it died and came back.
    module_state = {"calls": 0}
    real_state = sglang_wait.ServerLog.container_state

    def state(self):
        module_state["calls"] += 1
        current = real_state(self)
        if module_state["calls"] > 1:
            current["restart_count"] = 1
        return current

    sglang_wait.ServerLog.container_state = state
    try:
        with FakeSGLang(starting=1000) as fake:
            failed, result = run_module(sglang_wait.main, dict(
                base_url=fake.url, container_name="sglang-server", docker_bin=docker,
                wait_timeout=60, poll_interval=0.1, timeout=2))
    finally:
        sglang_wait.ServerLog.container_state = real_state
    assert failed and result["failure"]["id"] == "container_exited"
    assert result["elapsed_s"] < 5


def test_running_container_ready_reports_phase_and_numa_warning(run_module, tmp_path):
    docker = fake_docker(tmp_path, dict(Status="running", Running=True, Restarting=False, ExitCode=0),
                         "WARNING: User lacks permission to set NUMA affinity\nLoad weight begin.\n"
                         "Uvicorn running on http://0.0.0.0:30000\nThe server is fired up and ready to roll!\n")
    with FakeSGLang(starting=1) as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url, model=MODEL, container_name="sglang-server", docker_bin=docker,
            wait_timeout=10, poll_interval=0.05, timeout=2))
    assert not failed, result
    assert result["phase"] == "ready" and result["ready"]
    assert [row["id"] for row in result["warnings_found"]] == ["numa_affinity_sys_nice"]
    assert result["container_state"]["running"] is True


def test_check_mode_still_waits_and_changes_nothing(run_module):
    with FakeSGLang(starting=0) as fake:
        failed, result = run_module(sglang_wait.main, dict(base_url=fake.url, wait_timeout=5, poll_interval=0.05),
                                    check_mode=True)
    assert not failed and result["ready"] and result["changed"] is False


def test_invalid_timeouts_fail_clearly(run_module):
    failed, result = run_module(sglang_wait.main, dict(wait_timeout=0))
    assert failed and "wait_timeout" in result["msg"]


def test_log_tail_never_shows_the_server_credentials(run_module, tmp_path):
    # SGLang prints its ServerArgs, keys included, at the top of every start.
    log = tmp_path / "server.log"
    log.write_text("server_args=ServerArgs(model_path='Qwen/Qwen3-8B', api_key='sk-live-1', admin_api_key='adm-live-2', "
                   "port=30000)\n"
                   "Launch: sglang serve --model-path Qwen/Qwen3-8B --api-key sk-live-1 --admin-api-key=adm-live-2\n"
                   "Load weight begin.\nThe server is fired up and ready to roll!\n")
    with FakeSGLang(starting=0) as fake:
        failed, result = run_module(sglang_wait.main, dict(
            base_url=fake.url, api_key="sk-live-1", log_file=str(log), wait_timeout=5, poll_interval=0.05))
    assert not failed and result["ready"], result
    text = json.dumps(result)
    assert "sk-live-1" not in text and "adm-live-2" not in text
    assert "api_key='<redacted>', admin_api_key='<redacted>', port=30000" in result["log_tail"][0]
    assert result["log_tail"][1].endswith("--api-key <redacted> --admin-api-key=<redacted>")
    assert result["log_tail"][2:] == ["Load weight begin.", "The server is fired up and ready to roll!"]
