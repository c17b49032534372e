"""Load figures as SGLang 0.5.23 exposes them: GET /v1/loads (srt/entrypoints/v1_loads.py) and the /metrics
gauges sglang:num_running_reqs / sglang:num_queue_reqs, both from the scheduler's running batch and waiting queue;
and the smg gateway (1.13.0) reading a worker's engine_load from /v1/loads."""
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from _sim_http import free_port, get_json, request
from test_simulator_metrics import scrape, value

CORE_KEYS = ["timestamp", "dp_rank", "num_running_reqs", "num_waiting_reqs", "num_waiting_uncached_tokens",
             "num_used_tokens", "num_total_tokens", "num_active_tokens", "num_prealloc_ready_tokens",
             "max_total_num_tokens", "max_running_requests", "token_usage", "gen_throughput", "cache_hit_rate",
             "utilization", "total_prefill_uncached_tokens", "total_prefill_busy_us", "decode_moments"]
SECTIONS = {
    "memory": ["weight_gb", "kv_cache_gb", "graph_gb", "token_capacity"],
    "disaggregation": ["mode", "prefill_bootstrap_queue_reqs", "prefill_inflight_queue_reqs",
                       "decode_prealloc_queue_reqs", "decode_transfer_queue_reqs", "decode_retracted_queue_reqs",
                       "kv_transfer_speed_gb_s", "kv_transfer_latency_ms"],
    "queues": ["waiting", "grammar", "paused", "retracted", "prealloc_ready"],
}
SMG = os.path.join(os.path.dirname(sys.executable), "smg")


def _long_requests(sim, n, max_tokens):
    def one():
        request(sim.base_url, "POST", "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "Count slowly."}], "max_tokens": max_tokens,
                 "ignore_eos": True}, timeout=30)
    threads = [threading.Thread(target=one, daemon=True) for _index in range(n)]
    for t in threads:
        t.start()
    return threads


def _wait_for(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last[0]:
            return last[1]
        time.sleep(0.02)
    raise AssertionError("condition not met, last: %r" % (last,))


def test_v1_loads_and_metrics_count_running_and_queued(start_sim):
    sim = start_sim("--enable-metrics", "--max-running-requests", "2",
                    env={"SGLANG_SIM_DECODE_TOKENS_PER_S": "25"})
    st, idle = get_json(sim.base_url, "/v1/loads")
    assert st == 200
    assert list(idle) == ["timestamp", "version", "accelerator", "num_accelerators", "loads"]
    assert idle["version"] == "0.5.23" and idle["accelerator"] == "NVIDIA GB300" and idle["num_accelerators"] == 1
    assert idle["timestamp"].endswith("+00:00")
    load = idle["loads"][0]
    assert list(load) == CORE_KEYS + list(SECTIONS)
    for section, keys in SECTIONS.items():
        assert list(load[section]) == keys
    assert (load["num_running_reqs"], load["num_waiting_reqs"], load["max_running_requests"]) == (0, 0, 2)
    assert load["disaggregation"]["mode"] == "null" and load["memory"]["token_capacity"] == load["max_total_num_tokens"]
    for key in ("num_running_reqs", "num_waiting_reqs", "num_used_tokens", "max_total_num_tokens",
                "total_prefill_busy_us"):
        assert isinstance(load[key], int), key

    threads = _long_requests(sim, 5, 50)  # 2 run (the cap), 3 wait; ~2 s each

    def busy():
        d = get_json(sim.base_url, "/v1/loads?include=core")[1]["loads"][0]
        return (d["num_running_reqs"], d["num_waiting_reqs"]) == (2, 3), d
    core = _wait_for(busy)
    assert list(core) == CORE_KEYS  # include=core: no sections
    assert core["num_waiting_uncached_tokens"] > 0 and core["num_total_tokens"] > core["num_used_tokens"] > 0
    unused_types, samples = scrape(sim)
    assert value(samples, "sglang:num_running_reqs") == 2
    assert value(samples, "sglang:num_queue_reqs") == 3
    full = get_json(sim.base_url, "/v1/loads?include=core,disagg,queues,memory")[1]["loads"][0]
    assert list(full) == CORE_KEYS + ["memory", "disaggregation", "queues"]
    assert full["queues"]["waiting"] == full["num_waiting_reqs"]
    only = get_json(sim.base_url, "/v1/loads?include=queues")[1]["loads"][0]
    assert list(only) == CORE_KEYS + ["queues"]
    st, hdrs, text = request(sim.base_url, "GET", "/v1/loads?format=prometheus")
    assert st == 200 and hdrs["content-type"].startswith("text/plain")
    assert "# TYPE sglang_num_running_reqs gauge" in text and 'sglang_queues_waiting{dp_rank="0"}' in text
    assert 'sglang_num_running_reqs{dp_rank="0"} ' in text

    for t in threads:
        t.join(30)

    def idle_again():
        d = get_json(sim.base_url, "/v1/loads")[1]["loads"][0]
        return (d["num_running_reqs"], d["num_waiting_reqs"]) == (0, 0), d
    after = _wait_for(idle_again)
    assert after["decode_moments"] is not None and len(after["decode_moments"]) == 6
    assert after["total_prefill_uncached_tokens"] >= 5
    unused_types, samples = scrape(sim)
    assert value(samples, "sglang:num_running_reqs") == 0 and value(samples, "sglang:num_queue_reqs") == 0


def test_v1_loads_filters_errors_and_auth(start_sim):
    sim = start_sim("--api-key", "sk-load")
    auth = {"Authorization": "Bearer sk-load"}
    assert request(sim.base_url, "GET", "/v1/loads")[0] == 401  # not one of the always-open paths
    st, body = get_json(sim.base_url, "/v1/loads?dp_rank=0", headers=auth)
    assert st == 200 and len(body["loads"]) == 1
    st, body = get_json(sim.base_url, "/v1/loads?dp_rank=1", headers=auth)
    assert st == 200 and body["loads"] == []
    st, unused_headers, text = request(sim.base_url, "GET", "/v1/loads?dp_rank=x", headers=auth)
    assert st == 400 and "int_parsing" in text
    # An unknown section fails outside the handler's try: Starlette's plain 500.
    st, hdrs, text = request(sim.base_url, "GET", "/v1/loads?include=bogus", headers=auth)
    assert (st, text) == (500, "Internal Server Error") and hdrs["content-type"].startswith("text/plain")
    assert "ValueError: Invalid include sections: {'bogus'}." in sim.logs()
    assert request(sim.base_url, "POST", "/v1/loads", {}, headers=auth)[0] == 405
    assert request(sim.base_url, "GET", "/get_load", headers=auth)[0] == 404  # not a 0.5.23 route
    assert request(sim.base_url, "GET", "/loads", headers=auth)[0] == 404


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("smg") is None or not os.access(SMG, os.X_OK),
                    reason="smg is not installed in this Python's environment")
def test_smg_reads_engine_load_from_v1_loads(start_sim, tmp_path):
    sim = start_sim()
    port = free_port()
    log = open(str(tmp_path / "smg.log"), "wb")
    proc = subprocess.Popen([SMG, "launch", "--host", "127.0.0.1", "--port", str(port), "--worker-urls",
                             sim.base_url, "--policy", "cache_aware", "--health-check-interval-secs", "2"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    log.close()
    try:
        def loaded():
            try:
                st, body = get_json("http://127.0.0.1:%d" % port, "/workers")
            except OSError:
                return False, None
            workers = (body or {}).get("workers") or []
            load = workers[0].get("engine_load") if st == 200 and workers else None
            return bool(load and load.get("loads")), load
        engine_load = _wait_for(loaded, timeout=20)
        rank = engine_load["loads"][0]
        # Absolute token figures only come from /v1/loads (the /metrics fallback has no capacity).
        assert rank["max_total_num_tokens"] > 0 and rank["max_running_requests"] == 128
        assert rank["num_running_reqs"] == 0 and rank["num_waiting_reqs"] == 0
        assert '"GET /v1/loads?include=core,disagg,queues,memory HTTP/1.1" 200' in sim.logs()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
