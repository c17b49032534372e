"""Fixtures for integration tests that need an SGLang server: `start_sim` runs the simulator (tests/sim)."""
import atexit
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from _sim_http import SIM_BIN, free_port

# SGLang's SIGTERM watchdog looks every 5 s whether the drain is done, so a real server takes up to 5 s to exit;
# simulators started by these tests look every 0.1 s unless a test asks for SGLang's interval (env of start_sim).
os.environ.setdefault("SGLANG_SIM_SHUTDOWN_POLL_S", "0.1")
# Simulators write the models they "download" into the Hugging Face cache: never the tester's own.
_HF_HUB_CACHE = tempfile.mkdtemp(prefix="sim-hf-hub-")
atexit.register(shutil.rmtree, _HF_HUB_CACHE, True)
os.environ["HF_HUB_CACHE"] = _HF_HUB_CACHE
os.environ.pop("HUGGINGFACE_HUB_CACHE", None)

RUNBOOK_FLAGS = ("--context-length", "8192", "--mem-fraction-static", "0.85", "--attention-backend", "flashinfer",
                 "--enable-cache-report")


class SimServer:
    def __init__(self, proc, port, log_path):
        self.proc = proc
        self.port = port
        self.base_url = "http://127.0.0.1:%d" % port
        self.log_path = log_path

    def logs(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def health_status(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            return status
        except OSError:
            return None

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited with %s before ready:\n%s" % (self.proc.returncode, self.logs()))
            if "The server is fired up and ready to roll!" in self.logs() and self.health_status() == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError("simulator not ready after %.0f s:\n%s" % (timeout, self.logs()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def start_sim(tmp_path):
    servers = []

    def _start(*extra_args, model="Qwen/Qwen3-8B", env=None, wait_ready=True, runbook_flags=True,
               boot_seconds=0.2):
        args = [str(a) for a in extra_args]
        port = int(args[args.index("--port") + 1]) if "--port" in args else free_port()
        log_path = str(tmp_path / ("sim-%d-%d.log" % (len(servers), port)))
        cmd = [sys.executable, SIM_BIN, "serve", "--model-path", model]
        if runbook_flags:
            cmd += list(RUNBOOK_FLAGS)
        if "--port" not in args:
            cmd += ["--host", "127.0.0.1", "--port", str(port)]
        cmd += args
        full_env = dict(os.environ)
        full_env.pop("SGLANG_SIM_FAULT", None)
        full_env["SGLANG_SIM_BOOT_SECONDS"] = str(boot_seconds)
        full_env["PYTHONUNBUFFERED"] = "1"
        # The server writes the models it "downloads" into the Hugging Face cache: the test's own, empty one
        # (a test that wants HF_HOME/hub or ~/.cache/huggingface/hub passes HF_HUB_CACHE="").
        full_env["HF_HUB_CACHE"] = str(tmp_path / "hf-hub")
        full_env.update({k: str(v) for k, v in (env or {}).items()})
        log = open(log_path, "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=str(tmp_path))
        log.close()
        server = SimServer(proc, port, log_path)
        servers.append(server)
        if wait_ready:
            server.wait_ready()
        return server

    yield _start
    for server in servers:
        server.stop()
