# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sglang_gateway_workers as a real Ansible module against the REAL smg gateway and two simulators.

Needs `smg` (PyPI smg==1.13.0) in the running Python's environment: the console script next to
sys.executable. Everything listens on 127.0.0.1 only; every process started here is stopped in
the fixture's teardown.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from _sim_http import free_port, get_json, request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO_ROOT, ".build", "collections")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
SMG = os.path.join(os.path.dirname(sys.executable), "smg")
GATEWAY_KEY = "gw-integration-secret"
MODEL = "Qwen/Qwen3-8B"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("smg") is None or not os.access(SMG, os.X_OK),
                       reason="smg is not installed in this Python's environment (%s not found); install it with "
                              "`%s -m pip install smg==1.13.0`" % (SMG, sys.executable)),
]


class Gateway(object):
    def __init__(self, proc, port, log_path):
        self.proc = proc
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = log_path

    def logs(self, tail=60):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-tail:])

    def wait_live(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("smg exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/liveness")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("smg not live after %.0f s:\n%s" % (timeout, self.logs()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def smg_gateway(tmp_path):
    """smg launched with no workers, fast health checks, an API key; loopback only."""
    port, metrics_port = free_port(), free_port()
    log_path = str(tmp_path / "smg.log")
    cmd = [SMG, "launch", "--host", "127.0.0.1", "--port", str(port),
           "--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics_port),
           "--policy", "round_robin", "--health-check-interval-secs", "1", "--health-failure-threshold", "2",
           "--health-success-threshold", "1", "--health-check-timeout-secs", "1",
           "--shutdown-grace-period-secs", "2", "--log-json", "--api-key", GATEWAY_KEY]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path),
                                start_new_session=True)
    gateway = Gateway(proc, port, log_path)
    try:
        yield gateway.wait_live()
    finally:
        gateway.stop()


def run_module(args, tmp_path, check=False, diff=False):
    """(failed, result, seconds) of one sglang_gateway_workers run through the ansible CLI on localhost."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_DEPRECATION_WARNINGS="False")
    text = json.dumps(args)  # JSON module arguments keep the types (a list stays a list)
    cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
           "-m", "dgx_station.inference.sglang_gateway_workers", "-a", text, "-o"]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=180, check=False)
    elapsed = time.monotonic() - started
    assert GATEWAY_KEY not in proc.stdout + proc.stderr, "the gateway key leaked into the module output"
    for line in proc.stdout.splitlines():
        if line.startswith("localhost | ") and "=>" in line:
            status, _sep, payload = line.partition(" => ")
            return "SUCCESS" not in status and "CHANGED" not in status, json.loads(payload), elapsed
    raise AssertionError("no module result in ansible output (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))


def listed(gateway):
    status, body = get_json(gateway.url, "/workers", headers={"Authorization": "Bearer " + GATEWAY_KEY})
    assert status == 200, body
    return sorted((w["url"], w["status"]) for w in body["workers"])


def test_membership_against_the_real_smg(start_sim, smg_gateway, tmp_path):
    sim_a = start_sim("--enable-metrics")
    sim_b = start_sim("--enable-metrics")
    a, b = sim_a.base_url, sim_b.base_url
    gw = smg_gateway
    base = dict(gateway_url=gw.url, api_key=GATEWAY_KEY, wait_timeout=60, poll_interval=0.2, timeout=10)
    timings = {}

    def run(name, check=False, diff=False, **kwargs):
        failed, result, seconds = run_module(dict(base, **kwargs), tmp_path, check=check, diff=diff)
        timings[name] = round(seconds, 1)
        return failed, result

    # Without the key: 401, and the message names the option.
    failed, result = run("401", **dict(state="query", api_key=""))
    assert failed and result["error_kind"] == "unauthorized", result
    assert "pass it as the api_key option" in result["msg"] and result["gateway_code"] == "invalid_api_key"

    # Add both (one spelled with a trailing slash): POST 202, pending -> ready.
    failed, result = run("add", workers=[a + "/", b], state="present")
    assert not failed, "%s\n%s" % (result.get("msg"), gw.logs())
    assert result["changed"] is True and result["added"] == sorted([a, b])
    assert sorted(w["url"] for w in result["workers"]) == sorted([a, b])
    assert all(w["status"] == "ready" and w["is_healthy"] is True and w["model_id"] == MODEL
               for w in result["workers"])
    assert result["healthy_urls"] == sorted([a, b]) and result["unhealthy_urls"] == []
    assert listed(gw) == sorted([(a, "ready"), (b, "ready")])  # smg got the normalized spelling

    # Idempotent.
    failed, result = run("rerun", workers=[b, a], state="present")
    assert not failed and result["changed"] is False and result["added"] == [], result

    # Check mode: reports the removal, sends nothing.
    failed, result = run("check", check=True, diff=True, workers=[a], state="exact")
    assert not failed and result["changed"] is True and result["removed"] == [b] and result["added"] == [], result
    assert listed(gw) == sorted([(a, "ready"), (b, "ready")])

    # Remove b without waiting: smg drains it.
    failed, result = run("remove-nowait", workers=[b], state="absent", wait=False)
    assert not failed and result["removed"] == [b], result
    assert (b, "draining") in [(w["url"], w["status"]) for w in result["workers"]]

    # Re-add b while it drains: the module waits for the old entry to be gone, then adds it.
    failed, result = run("re-add-while-draining", workers=[b], state="present")
    assert not failed, "%s\n%s" % (result.get("msg"), gw.logs())
    assert result["changed"] is True and result["added"] == [b]
    assert listed(gw) == sorted([(a, "ready"), (b, "ready")])

    # Exact: only a (b removed, drained, gone).
    failed, result = run("exact", workers=[a], state="exact")
    assert not failed and result["removed"] == [b] and result["added"] == [], result
    assert [w["url"] for w in result["workers"]] == [a]
    assert listed(gw) == [(a, "ready")]

    # A request through the gateway reaches the remaining worker.
    for _round in range(3):
        status, headers, text = request(gw.url, "POST", "/v1/chat/completions", body={
            "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8},
            headers={"Authorization": "Bearer " + GATEWAY_KEY}, timeout=30)
        assert status == 200, text
        assert json.loads(text)["object"] == "chat.completion"
        assert headers.get("x-smg-routed-worker-id") == a
    assert "/v1/chat/completions" in sim_a.logs()
    assert "/v1/chat/completions" not in sim_b.logs()

    # Exact and query once more: no change.
    failed, result = run("exact-again", workers=[a], state="exact")
    assert not failed and result["changed"] is False, result
    failed, result = run("query", state="query")
    assert not failed and result["healthy_urls"] == [a] and result["changed"] is False

    # A worker that does not answer stays pending: the wait runs out and says so (smg keeps retrying it).
    dead = "http://127.0.0.1:%d" % free_port()
    failed, result = run("dead-worker", workers=[dead], state="present", wait_timeout=3)
    assert failed and result["error_kind"] == "worker_not_ready", result
    assert result["changed"] is True and result["added"] == [dead]
    assert "%s (id " % dead in result["msg"] and "status pending, is_healthy false" in result["msg"]
    assert "/health, /v1/models and /server_info" in result["msg"] and "<redacted>" not in result["msg"]
    assert result["healthy_urls"] == [a]
    print("module run seconds:", json.dumps(timings))
    print("not-ready message:", result["msg"])
