"""SIGTERM as SGLang 0.5.23 handles it: /health answers 503 at once, the requests in flight (and any that still
arrive) are served, the SIGTERM watchdog looks every 5 s whether the drain is done, then the process exits 0.
Before the first request reaches the tokenizer manager, Uvicorn's own handler is still in place."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from _sim_http import REPO_ROOT, chat, free_port, request

RECIPE = os.path.join(REPO_ROOT, "tests", "images", "20-sglang-sim", "image.sh")
SIGTERM_LINE = "SIGTERM received. signum=None frame=None. Draining requests and shutting down..."
UVICORN_TAIL = ["INFO:     Shutting down", "INFO:     Waiting for application shutdown.",
                "INFO:     Application shutdown complete.", "INFO:     Finished server process ["]


class Stream(threading.Thread):
    """A streamed chat completion read event by event; `chunks` fills while it runs."""

    def __init__(self, port, max_tokens):
        super().__init__(daemon=True)
        self.port, self.max_tokens = port, max_tokens
        self.chunks, self.status, self.error = [], None, None
        self.first = threading.Event()

    def run(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("POST", "/v1/chat/completions", json.dumps({
                "model": "Qwen/Qwen3-8B", "messages": [{"role": "user", "content": "Tell me a long story."}],
                "max_tokens": self.max_tokens, "ignore_eos": True, "stream": True}),
                {"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.status = resp.status
            while True:
                line = resp.readline()
                if not line:
                    break
                if line.startswith(b"data: "):
                    self.chunks.append(line[6:].strip().decode())
                    self.first.set()
            conn.close()
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.first.set()


def lines_after(logs, marker):
    return logs[logs.index(marker):].splitlines()


def test_sigterm_drains_a_streamed_request_then_exits(start_sim):
    sim = start_sim(env={"SGLANG_SIM_DECODE_TOKENS_PER_S": "40", "SGLANG_SIM_SHUTDOWN_POLL_S": "0.5"})
    stream = Stream(sim.port, 80)  # ~2 s of decode
    stream.start()
    assert stream.first.wait(10) and stream.error is None
    t_sigterm = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    # Unhealthy at once, not ready; the process lives on while the stream runs.
    assert sim.health_status() == 503
    assert request(sim.base_url, "GET", "/health_generate")[0] == 503
    assert request(sim.base_url, "GET", "/ready")[0] == 503
    # A request that arrives while draining is still accepted and served.
    assert chat(sim.base_url, [{"role": "user", "content": "still there?"}], max_tokens=3)["choices"]
    assert sim.proc.poll() is None
    stream.join(15)
    assert not stream.is_alive() and stream.error is None and stream.status == 200
    assert stream.chunks[-1] == "[DONE]"
    finish = json.loads(stream.chunks[-2])["choices"][0]
    assert finish["finish_reason"] == "length"
    assert "".join(json.loads(c)["choices"][0]["delta"].get("content") or "" for c in stream.chunks[1:-2])
    t_done = time.monotonic()
    assert sim.wait_exit(5) == 0
    assert time.monotonic() - t_sigterm > 1.0  # it waited for the stream (~2 s) ...
    assert time.monotonic() - t_done < 2.0  # ... and left within a watchdog interval of its end
    logs = sim.logs()
    rid = json.loads(stream.chunks[0])["id"]
    after = lines_after(logs, SIGTERM_LINE)
    assert "Health check request received during shutdown. Returning 503." in logs
    draining = [ln for ln in after if "Gracefully exiting..." in ln]
    assert ("Gracefully exiting... Remaining number of requests 1. Remaining requests remaining_rids=['%s']." % rid
            in draining[0])
    assert draining[-1].endswith("Gracefully exiting... Remaining number of requests 0. Remaining requests "
                                 "remaining_rids=[].")
    tail = after[after.index(draining[-1]) + 1:]
    pid = sim.proc.pid
    kill_line = "kill_process_tree called: parent_pid=%d, include_parent=False, pid=%d" % (pid, pid)
    assert tail[0].endswith(kill_line)
    expected = UVICORN_TAIL + [kill_line]
    assert [ln.split("] ", 1)[1][:len(e)] for ln, e in zip(tail[1:], expected)] == expected
    assert len(tail) == 1 + len(expected)


def test_sigterm_watchdog_looks_every_five_seconds(start_sim):
    sim = start_sim(env={"SGLANG_SIM_SHUTDOWN_POLL_S": "5"})  # SGLang's own interval
    start = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.wait_exit(8) == 0
    took = time.monotonic() - start
    # The watchdog started with the warm-up request just before "ready": its next look is ~5 s later.
    assert 3.5 < took < 6.5, took
    logs = sim.logs()
    assert SIGTERM_LINE in logs
    assert logs.count("Gracefully exiting... Remaining number of requests 0.") == 1


def test_sigterm_before_the_first_request_is_uvicorns(start_sim):
    # With --skip-server-warmup nothing has reached the tokenizer manager yet: Uvicorn's handler shuts down at
    # once and re-raises SIGTERM once its own handlers are restored, so the process dies of the signal.
    sim = start_sim("--skip-server-warmup", wait_ready=False)  # a /health would reach the tokenizer manager
    deadline = time.monotonic() + 10
    while "fired up" not in sim.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.wait_exit(5) == -signal.SIGTERM
    logs = sim.logs()
    assert "Draining requests" not in logs
    tail = [ln.split("] ", 1)[1] for ln in logs.splitlines()[-4:]]
    assert [t[:len(e)] for t, e in zip(tail, UVICORN_TAIL)] == UVICORN_TAIL


def test_sigterm_while_unhealthy_forces_the_exit(start_sim):
    # A stuck scheduler: the health check fails (UnHealthy), so the watchdog does not wait for the drain.
    sim = start_sim(env={"SGLANG_SIM_HANG_AFTER_REQUESTS": "0", "SGLANG_HEALTH_CHECK_TIMEOUT": "1"})
    body = {"messages": [{"role": "user", "content": "x"}]}
    hung = threading.Thread(target=lambda: _swallow(request, sim.base_url, "POST", "/v1/chat/completions", body, None, 3),
                            daemon=True)
    hung.start()
    time.sleep(0.3)
    assert sim.health_status() == 503  # times out after 1 s, status UnHealthy
    sim.proc.send_signal(signal.SIGTERM)
    # Uvicorn still waits for the connection that never gets its answer; the client gives up after 3 s.
    assert sim.wait_exit(8) == 0
    logs = sim.logs()
    assert "Signal SIGTERM received while health check failed. Force exiting." in logs
    assert "Gracefully exiting" not in logs
    assert "INFO:     Waiting for connections to close. (CTRL+C to force quit)" in logs


def _swallow(fn, *args):
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        pass


def _docker_ok():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0


@pytest.mark.slow
def test_pid1_in_a_container_drains_and_exits_0():
    if not _docker_ok():
        pytest.skip("no Docker engine")
    image = subprocess.run(["bash", RECIPE], capture_output=True, text=True, timeout=600, check=True
                           ).stdout.strip().splitlines()[-1]
    port = free_port()
    name = "sglang-sim-sigterm-%d" % port
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", "127.0.0.1:%d:30000" % port,
                    "-e", "SGLANG_SIM_BOOT_SECONDS=0.2", "-e", "SGLANG_SIM_DECODE_TOKENS_PER_S=40",
                    "-e", "SGLANG_SIM_SHUTDOWN_POLL_S=0.5", image,
                    "sglang", "serve", "--model-path", "Qwen/Qwen3-8B", "--host", "0.0.0.0", "--port", "30000",
                    "--attention-backend", "flashinfer"], check=True, capture_output=True, timeout=60)
    try:
        deadline = time.monotonic() + 30
        logs = ""
        while time.monotonic() < deadline and "fired up" not in logs:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False).stderr
            time.sleep(0.2)
        stream = Stream(port, 60)  # ~1.5 s
        stream.start()
        assert stream.first.wait(10)
        subprocess.run(["docker", "kill", "--signal", "TERM", name], check=True, capture_output=True, timeout=30)
        stream.join(15)
        assert stream.chunks and stream.chunks[-1] == "[DONE]"
        subprocess.run(["docker", "wait", name], capture_output=True, timeout=15, check=False)
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name],
                               capture_output=True, text=True, check=False).stdout.split()
        assert state == ["exited", "0"]
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False).stderr
        assert SIGTERM_LINE in logs and "Remaining number of requests 1." in logs
        assert "kill_process_tree called: parent_pid=1, include_parent=False, pid=1" in logs
        assert "INFO:     Finished server process [1]" in logs
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
