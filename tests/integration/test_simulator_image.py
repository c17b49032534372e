"""The simulator image runs the runbook's production command line unchanged (needs a Docker engine)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from _sim_http import chat, request
from _sim_http import REPO_ROOT, free_port

RECIPE = os.path.join(REPO_ROOT, "tests", "images", "20-sglang-sim", "image.sh")


def _docker_ok():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0


@pytest.mark.slow
def test_image_runs_production_command_line(tmp_path):
    if not _docker_ok():
        pytest.skip("no Docker engine")
    image = subprocess.run(["bash", RECIPE], capture_output=True, text=True, timeout=600, check=True
                           ).stdout.strip().splitlines()[-1]
    port = free_port()
    name = "sglang-sim-test-%d" % port
    cmd = ["docker", "run", "-d", "--name", name, "-p", "127.0.0.1:%d:30000" % port,
           "-e", "SGLANG_SIM_BOOT_SECONDS=0.3", image,
           "sglang", "serve", "--model-path", "Qwen/Qwen3-8B", "--host", "0.0.0.0", "--port", "30000",
           "--context-length", "8192", "--mem-fraction-static", "0.85", "--attention-backend", "flashinfer",
           "--enable-cache-report"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    try:
        base = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 30
        logs = ""
        while time.monotonic() < deadline:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False).stderr
            if "fired up and ready to roll" in logs:
                break
            time.sleep(0.2)
        assert "fired up and ready to roll" in logs
        assert "Uvicorn running on http://0.0.0.0:30000" in logs
        data = chat(base, [{"role": "user", "content": "Explain quantum computing in simple terms."}],
                    max_tokens=256)
        assert data["usage"]["prompt_tokens_details"] is not None
        assert json.loads(request(base, "GET", "/server_info")[2])["version"] == "0.5.23"
        subprocess.run(["docker", "stop", "-t", "5", name], check=True, capture_output=True, timeout=30)
        code = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", name], capture_output=True,
                              text=True, check=False).stdout.strip()
        assert code == "0"
        # a boot fault: the container exits like a killed SGLang (137)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "run", "--name", name, "-e", "SGLANG_SIM_FAULT=oom_at_start", "-e",
                        "SGLANG_SIM_BOOT_SECONDS=0", image, "python3", "-m", "sglang.launch_server", "--model-path",
                        "Qwen/Qwen3-8B", "--attention-backend", "flashinfer"], capture_output=True, timeout=60,
                       check=False)
        code = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", name], capture_output=True,
                              text=True, check=False).stdout.strip()
        out = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        assert code == "137" and "Not enough memory" in out.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
