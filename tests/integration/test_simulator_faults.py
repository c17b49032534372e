"""Every fault the simulator documents (tests/sim/README.md) has the documented effect."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import jsonschema
import pytest

from _sim_http import chat, post_json, request, sse
from _sim_http import SIM_BIN, free_port

SIGQUIT_LINE = "Received sigquit from a child process. It usually means the child failed."
BOOT_FAULTS = {
    "trtllm_mha_sm103": ["buildNdTmaDescriptor", "Check failed: false", "Capture decode CUDA graph begin"],
    "fa3_on_blackwell": ["AssertionError: FlashAttention v3 Backend requires SM>=80 and SM<=90"],
    "oom_at_start": ["RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. "
                     "Current value: mem_fraction_static=0.85"],
    "cuda_graph_capture_oom": ["Exception: Capture cuda graph failed: ", "Possible solutions:",
                               "1. set --mem-fraction-static to a smaller value (e.g., 0.8 or 0.7)"],
    "gpu_index_out_of_range": ["device >= 0 && device < num_gpus INTERNAL ASSERT FAILED"],
    "hf_token_missing": ["401 Client Error", "Token is required", "GatedRepoError"],
    "deepseek_v4_load_failure": ["DeepseekV4ForCausalLM", "are not supported"],
}


def expect_boot_failure(sim, texts, scheduler=True):
    code = sim.wait_exit(15)
    assert code is not None and code != 0
    logs = sim.logs()
    for t in texts:
        assert t in logs, (t, logs)
    assert "Uvicorn running" not in logs and "fired up" not in logs
    if scheduler:
        assert "Scheduler hit an exception: Traceback (most recent call last):" in logs
        assert SIGQUIT_LINE in logs
    return logs


@pytest.mark.parametrize("fault", sorted(BOOT_FAULTS))
def test_boot_fault(start_sim, fault):
    sim = start_sim(env={"SGLANG_SIM_FAULT": fault}, wait_ready=False)
    expect_boot_failure(sim, BOOT_FAULTS[fault], scheduler=fault != "hf_token_missing")


def test_natural_attention_backend_failures(start_sim):
    sim = start_sim("--context-length", "8192", runbook_flags=False, wait_ready=False)
    logs = expect_boot_failure(sim, BOOT_FAULTS["trtllm_mha_sm103"])
    assert "attention_backend='trtllm_mha'" in logs
    sim = start_sim("--attention-backend", "trtllm_mha", runbook_flags=False, wait_ready=False)
    expect_boot_failure(sim, BOOT_FAULTS["trtllm_mha_sm103"])
    sim = start_sim("--attention-backend", "fa3", runbook_flags=False, wait_ready=False)
    expect_boot_failure(sim, BOOT_FAULTS["fa3_on_blackwell"])
    # a Hopper GPU auto-selects fa3 and boots
    sim = start_sim(runbook_flags=False, env={"SGLANG_SIM_GPU_NAME": "NVIDIA H100 80GB HBM3"})
    si = json.loads(request(sim.base_url, "GET", "/server_info")[2])
    assert si["attention_backend"] == "fa3"
    # too little memory for the KV pool
    sim = start_sim("--mem-fraction-static", "0.05", "--attention-backend", "flashinfer", runbook_flags=False,
                    wait_ready=False)
    expect_boot_failure(sim, ["Current value: mem_fraction_static=0.05"])


def test_gated_model_needs_a_token(start_sim, tmp_path):
    llama = "meta-llama/Llama-3.3-70B-Instruct"
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "HF_TOKEN": "", "HF_TOKEN_PATH": "", "HF_HOME": "", "XDG_CACHE_HOME": "",
           "HUGGING_FACE_HUB_TOKEN": ""}
    sim = start_sim(model=llama, env=env, wait_ready=False)
    expect_boot_failure(sim, BOOT_FAULTS["hf_token_missing"] + [llama], scheduler=False)
    token = tmp_path / "tok"
    token.write_text("hf_abc\n")
    start_sim(model=llama, env=dict(env, HF_TOKEN_PATH=str(token)))
    hf_home = tmp_path / "hfhome"
    hf_home.mkdir()
    (hf_home / "token").write_text("hf_abc")
    start_sim(model=llama, env=dict(env, HF_HOME=str(hf_home)))
    (home / ".cache" / "huggingface").mkdir(parents=True)
    (home / ".cache" / "huggingface" / "token").write_text("hf_abc")
    start_sim(model=llama, env=env)
    start_sim(model=llama, env=dict(env, HOME=str(tmp_path), HF_TOKEN="hf_env"))
    unreadable = tmp_path / "empty"
    unreadable.write_text("")
    sim = start_sim(model=llama, env=dict(env, HOME=str(tmp_path), HF_TOKEN_PATH=str(unreadable)),
                    wait_ready=False)
    expect_boot_failure(sim, ["Token is required"], scheduler=False)


def test_missing_sys_nice_warns(start_sim, tmp_path):
    fake = tmp_path / "status"
    fake.write_text("Name:\tpython3\nCapEff:\t0000000000000000\n")
    sim = start_sim(env={"SGLANG_SIM_PROC_STATUS": str(fake)})
    assert "User lacks permission to set NUMA affinity" in sim.logs()
    sim = start_sim()
    with open("/proc/self/status") as f:
        has_nice = any(ln.startswith("CapEff:") and int(ln.split()[1], 16) & (1 << 23) for ln in f)
    assert ("User lacks permission to set NUMA affinity" in sim.logs()) != has_nice
    setpriv = shutil.which("setpriv")
    if setpriv and has_nice and os.geteuid() == 0:
        port = free_port()
        log = tmp_path / "nice.log"
        env = dict(os.environ, SGLANG_SIM_BOOT_SECONDS="0")
        with open(log, "wb") as out:
            proc = subprocess.Popen([setpriv, "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", sys.executable,
                                     SIM_BIN, "serve", "--model-path", "Qwen/Qwen3-8B", "--attention-backend",
                                     "flashinfer", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                    env=env)
        try:
            deadline = time.monotonic() + 10
            while "Uvicorn running" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "User lacks permission to set NUMA affinity" in log.read_text()
        finally:
            proc.terminate()
            proc.wait(5)


def test_port_in_use(start_sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        sim = start_sim("--port", str(port), "--host", "127.0.0.1", wait_ready=False)
        assert sim.wait_exit(10) == 1
    assert "[Errno 98] error while attempting to bind on address ('127.0.0.1', %d): address already in use" \
        % port in sim.logs()


def test_cuda_wrong_image(start_sim):
    sim = start_sim(env={"SGLANG_SIM_FAULT": "cuda_wrong_image"})
    assert request(sim.base_url, "GET", "/health")[0] == 200
    for path, body in (("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
                       ("/v1/completions", {"prompt": "x"})):
        status, data = post_json(sim.base_url, path, body)
        assert status == 500 and data["type"] == "InternalServerError" and data["code"] == 500
        assert "no kernel image is available for execution on the device" in data["message"]
    assert "no kernel image is available for execution on the device" in sim.logs()


def test_json_schema_unsupported(start_sim):
    sim = start_sim(env={"SGLANG_SIM_FAULT": "json_schema_unsupported"})
    status, data = post_json(sim.base_url, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}})
    assert status == 400 and data["object"] == "error" and "json_schema" in data["message"]
    assert chat(sim.base_url, [{"role": "user", "content": "x"}], response_format={"type": "json_object"})


def test_crash_after_requests(start_sim):
    sim = start_sim(env={"SGLANG_SIM_CRASH_AFTER_REQUESTS": "2"})
    chat(sim.base_url, [{"role": "user", "content": "one"}], max_tokens=3)
    chat(sim.base_url, [{"role": "user", "content": "two"}], max_tokens=3)
    code = sim.wait_exit(5)
    assert code is not None and code != 0
    logs = sim.logs()
    assert "Scheduler hit an exception" in logs and SIGQUIT_LINE in logs
    with pytest.raises(OSError):
        request(sim.base_url, "GET", "/health")


def _outcomes(sim, n):
    return [post_json(sim.base_url, "/v1/chat/completions",
                      {"messages": [{"role": "user", "content": "r%d" % i}], "max_tokens": 2})[0] for i in range(n)]


def test_error_rate_is_deterministic(start_sim):
    env = {"SGLANG_SIM_ERROR_RATE": "0.5", "SGLANG_SIM_SEED": "7"}
    first = _outcomes(start_sim(env=env), 20)
    second = _outcomes(start_sim(env=env), 20)
    assert first == second and set(first) == {200, 500} and 4 <= first.count(500) <= 16
    sim = start_sim(env={"SGLANG_SIM_ERROR_RATE": "1"})
    status, data = post_json(sim.base_url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert status == 500 and data["type"] == "InternalServerError" and data["message"].startswith(
        "Internal server error: ")


def test_stream_error_after_chunks(start_sim):
    sim = start_sim(env={"SGLANG_SIM_STREAM_ERROR_AFTER_CHUNKS": "2", "SGLANG_SIM_DECODE_TOKENS_PER_S": "200"})
    status, hdrs, events = sse(sim.base_url, "/v1/chat/completions",
                               {"messages": [{"role": "user", "content": "x"}], "max_tokens": 100, "ignore_eos": True,
                                "stream": True})
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks) == 4  # role chunk, 2 content chunks, error
    err = chunks[-1]["error"]
    assert list(err) == ["object", "message", "type", "param", "code"]
    assert err["type"] == "BAD_REQUEST" and err["code"] == 400 and err["object"] == "error"
    # the non-streaming path is unaffected
    assert chat(sim.base_url, [{"role": "user", "content": "x"}], max_tokens=3)


def test_hang_after_requests(start_sim):
    sim = start_sim(env={"SGLANG_SIM_HANG_AFTER_REQUESTS": "1", "SGLANG_HEALTH_CHECK_TIMEOUT": "0.5"})
    chat(sim.base_url, [{"role": "user", "content": "fine"}], max_tokens=3)
    with pytest.raises(socket.timeout):
        request(sim.base_url, "POST", "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "hangs"}], "max_tokens": 3}, timeout=1)
    assert sim.proc.poll() is None
    assert request(sim.base_url, "GET", "/health", timeout=5)[0] == 503
    assert "Health check failed. Server couldn't get a response from detokenizer" in sim.logs()


def test_invalid_json(start_sim):
    from test_simulator_api import STEP8, STEP8_SCHEMA
    sim = start_sim(env={"SGLANG_SIM_INVALID_JSON": "1"})
    data = chat(sim.base_url, STEP8["messages"], max_tokens=512, response_format=STEP8["response_format"])
    value = json.loads(data["choices"][0]["message"]["content"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, STEP8_SCHEMA)


def test_boot_phases_and_closed_port(start_sim):
    sim = start_sim(wait_ready=False, boot_seconds=2.0,
                    env={"SGLANG_SIM_GPU_NAME": "NVIDIA GB300", "SGLANG_SIM_TTFT_MS": "600"})
    deadline = time.monotonic() + 5
    while "Load weight begin" not in sim.logs() and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
    while "Capture decode CUDA graph begin" not in sim.logs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "Load weight end" in sim.logs() and "Uvicorn running" not in sim.logs()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
    # listening during warm-up: /health is 503 until the warm-up request succeeded
    while "Uvicorn running" not in sim.logs() and time.monotonic() < deadline + 5:
        time.sleep(0.02)
    assert request(sim.base_url, "GET", "/health")[0] == 503
    sim.wait_ready()
    logs = sim.logs()
    order = ["Load weight begin", "Load weight end", "Memory pool end", "Capture decode CUDA graph begin",
             "Capture decode CUDA graph end", "max_total_num_tokens=", "Started server process",
             "Application startup complete.", "Uvicorn running on http://127.0.0.1:%d" % sim.port,
             '"GET /model_info HTTP/1.1" 200', "Prefill batch", '"POST /generate HTTP/1.1" 200',
             "The server is fired up and ready to roll!"]
    positions = [logs.index(x) for x in order]
    assert positions == sorted(positions)
    assert request(sim.base_url, "GET", "/health")[0] == 200


def test_unknown_fault_id_is_rejected(start_sim):
    sim = start_sim(env={"SGLANG_SIM_FAULT": "nope"}, wait_ready=False)
    assert sim.wait_exit(10) == 2 and "SGLANG_SIM_FAULT=nope" in sim.logs()


def test_invalid_json_object(start_sim):
    sim = start_sim(env={"SGLANG_SIM_INVALID_JSON": "1"})
    data = chat(sim.base_url, [{"role": "user", "content": "x"}], response_format={"type": "json_object"})
    assert not isinstance(json.loads(data["choices"][0]["message"]["content"]), dict)
