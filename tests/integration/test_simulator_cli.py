"""The simulator's command line behaves like `sglang serve` / `python -m sglang.launch_server`."""
import json
import os
import subprocess
import sys
import time

from _sim_http import chat, request
from _sim_http import SIM_BIN, SIM_DIR, free_port

ALL_FLAGS = [
    "--served-model-name", "served", "--api-key", "k", "--admin-api-key", "a", "--enable-metrics",
    "--disable-radix-cache", "--page-size", "16", "--tensor-parallel-size", "1", "--chunked-prefill-size", "4096",
    "--reasoning-parser", "qwen3", "--skip-server-warmup", "--max-running-requests", "8", "--log-requests",
    "--decode-log-interval", "10", "--stream-response-default-include-usage", "--allow-auto-truncate",
    "--trust-remote-code",
]


def run(args, timeout=10):
    return subprocess.run([sys.executable, SIM_BIN] + args, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_unknown_flag_is_an_argparse_error():
    out = run(["serve", "--model-path", "Qwen/Qwen3-8B", "--bogus", "1", "--port", "1"])
    assert out.returncode == 2
    assert out.stderr.startswith("usage: sglang serve ")
    assert out.stderr.rstrip().endswith("sglang serve: error: unrecognized arguments: --bogus 1")
    out = run(["serve", "--model-path", "m", "--attention-backend", "nope"])
    assert out.returncode == 2
    assert "argument --attention-backend: invalid choice: 'nope' (choose from 'triton', 'torch_native'" in out.stderr
    out = run(["serve"])
    assert out.returncode == 2 and "the following arguments are required: --model-path" in out.stderr
    env = dict(os.environ, PYTHONPATH=SIM_DIR)
    out = subprocess.run([sys.executable, "-m", "sglang.launch_server", "--model-path", "m", "--frob"],
                         capture_output=True, text=True, env=env, timeout=10, check=False)
    assert out.returncode == 2 and "launch_server.py: error: unrecognized arguments: --frob" in out.stderr
    assert run(["version"]).stdout.strip() == "sglang version: 0.5.23"


def test_every_listed_flag_is_accepted_and_resolved(start_sim):
    sim = start_sim(*ALL_FLAGS)
    assert "Prefill batch" not in sim.logs().split("fired up")[0]  # --skip-server-warmup: no warm-up request
    auth = {"Authorization": "Bearer k"}
    si = json.loads(request(sim.base_url, "GET", "/server_info", headers=auth)[2])
    expected = {"served_model_name": "served", "api_key": "k", "admin_api_key": "a", "enable_metrics": True,
                "disable_radix_cache": True, "page_size": 16, "tp_size": 1, "chunked_prefill_size": 4096,
                "reasoning_parser": "qwen3", "skip_server_warmup": True, "max_running_requests": 8,
                "log_requests": True, "decode_log_interval": 10, "stream_response_default_include_usage": True,
                "allow_auto_truncate": True, "trust_remote_code": True, "context_length": 8192,
                "mem_fraction_static": 0.85, "attention_backend": "flashinfer", "enable_cache_report": True}
    for k, v in expected.items():
        assert si[k] == v, k
    st, hdrs, text = request(sim.base_url, "POST", "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "x"}], "max_tokens": 30, "ignore_eos": True},
                             headers=auth)
    assert st == 200
    logs = sim.logs()
    assert "Receive: obj=" in logs and "Finish: obj=" in logs
    # allow-auto-truncate: an over-long prompt is truncated instead of rejected
    st, hdrs, text = request(sim.base_url, "POST", "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "w " * 9000}], "max_tokens": 3}, headers=auth)
    assert st == 200, text


def launch(tmp_path, cmd, env_extra=None):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=SIM_DIR, SGLANG_SIM_BOOT_SECONDS="0", **(env_extra or {}))
    log = tmp_path / ("%d.log" % port)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd + ["--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(tmp_path))
    deadline = time.monotonic() + 10
    while "fired up" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc, port, log


def test_launch_server_module_and_positional_model(tmp_path):
    proc, port, log = launch(tmp_path, [sys.executable, "-m", "sglang.launch_server", "--model-path",
                                        "google/gemma-3-12b-it", "--attention-backend", "flashinfer", "--tp-size",
                                        "2"], env_extra={"HF_TOKEN": "hf_simulated"})  # Gemma 3 is gated
    try:
        text = log.read_text()
        assert "fired up" in text
        assert " TP0] Prefill batch" in text  # TP>1 prefixes scheduler lines
        info = json.loads(request("http://127.0.0.1:%d" % port, "GET", "/model_info")[2])
        assert info["model_type"] == "gemma3"
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
    assert "Finished server process" in log.read_text()
    proc, port, log = launch(tmp_path, [sys.executable, SIM_BIN, "serve", "Qwen/Qwen3.6-27B",
                                        "--attention-backend", "flashinfer"])
    try:
        assert "fired up" in log.read_text()
        info = json.loads(request("http://127.0.0.1:%d" % port, "GET", "/model_info")[2])
        assert info["model_path"] == "Qwen/Qwen3.6-27B"
        assert chat("http://127.0.0.1:%d" % port, [{"role": "user", "content": "x"}], max_tokens=2)
    finally:
        proc.terminate()
        proc.wait(5)
