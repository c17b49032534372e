# -*- coding: utf-8 -*-
"""The preflight gives one verdict per host: ready, ready after provisioning, or not ready and why.

The real 1 x H200 Ubuntu 24.04 host (tests/fixtures/real-host, recorded with docs/real-gpu-host.md) is
replayed here: its nvidia-smi output, its os-release, its Python, no Docker.
"""
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from doctor_station import (  # noqa: E402
    QUERY,
    REAL_HOST,
    FakeStation,
    gpu_layout,
    healthy_state,
    preflight_params,
    read,
)

from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import preflight  # noqa: E402

H200 = os.path.join(REAL_HOST, "h200-ubuntu-24.04")


def fresh_station(state):
    """DGX OS 7 as installed: driver and GPUs, no Docker yet, no python3-venv, no venv."""
    state.update(docker_cli=None, bins={}, container=None, image=None, listeners=[], daemon_json=None,
                 python=(0, "3.12.3\nensurepip no\nvenv yes\npackaging no\napt yes\n", ""))
    return state


def real_h200_host(state):
    """What the lent GPU host showed: Ubuntu 24.04.3 on x86_64, one H200, no Docker, no python3-apt."""
    fresh_station(state)
    state.update(machine="x86_64", os_release=read(H200, "os-release"), dgx_release=None,
                 python=(0, read(H200, "python-probe.txt"), ""),
                 smi={QUERY: (0, read(H200, "nvidia-smi-query.csv"), ""),
                      ("--query-gpu=driver_version", "--format=csv,noheader"): (0, read(H200, "nvidia-smi-driver.txt"), "")})
    return state


def run(tmp_path, state, **params):
    station = FakeStation(state, tmp_path)
    result = preflight(station, preflight_params(station, **params))
    json.dumps(result)
    return result


def problem_ids(result):
    return [p["id"] for p in result["problems"]]


def test_a_fresh_dgx_os_station_is_ready_after_provisioning(tmp_path):
    result = run(tmp_path, fresh_station(healthy_state()),
                 provisioning=dict(docker_packages=["docker.io"], docker_source="distribution",
                                   toolkit_packages=["nvidia-container-toolkit"], venv_packages=["requests", "docker"]))
    assert result["verdict"] == "READY AFTER PROVISIONING" and result["ready"], result
    assert result["problems"] == []
    text = "\n".join(result["notes"])
    assert "would install docker.io from the distribution's archive" in text
    assert "would install nvidia-container-toolkit" in text
    assert "[python3_venv_missing]" in text and "provisioning fixes it" in text
    assert "would create /opt/dgx-station/venv with requests, docker" in text
    assert result["evidence"]["gpus"]["matching"] == [1]
    assert any(line.startswith("note: ") for line in result["lines"])


def test_the_real_h200_host_is_not_a_station(tmp_path):
    result = run(tmp_path, real_h200_host(healthy_state()))
    assert result["verdict"] == "NOT READY"
    assert problem_ids(result) == ["gpu_not_found", "python3_apt_missing"]
    gpu = result["problems"][0]
    assert "NVIDIA H200" in gpu["evidence"][0] and "sglang_server_gpu_name_pattern" in gpu["fix"]
    assert result["evidence"]["host"]["pretty_name"] == "Ubuntu 24.04.3 LTS"
    assert result["evidence"]["gpus"]["driver_version"] == "580.159.04"
    assert any("Architecture x86_64" in n for n in result["notes"])


def test_the_real_h200_host_with_its_gpu_named_needs_only_python3_apt(tmp_path):
    result = run(tmp_path, real_h200_host(healthy_state()), gpu_name_pattern="H200")
    assert problem_ids(result) == ["python3_apt_missing"]
    assert "apt install python3-apt" in result["problems"][0]["fix"]


def test_the_recorded_real_host_verdicts_match_the_replay(tmp_path):
    for name, pattern in (("station_preflight.json", "GB300"), ("station_preflight-h200.json", "H200")):
        with open(os.path.join(H200, name)) as handle:
            recorded = json.load(handle)
        replayed = run(tmp_path / pattern, real_h200_host(healthy_state()), gpu_name_pattern=pattern)
        assert recorded["verdict"] == replayed["verdict"], name
        assert [p["id"] for p in recorded["problems"]] == problem_ids(replayed), name


def test_a_held_port_is_not_ready(tmp_path):
    state = fresh_station(healthy_state())
    state["listeners"] = [dict(port=30000, pid=4100, comm="python3", cmdline="python3 -m vllm.entrypoints.openai")]
    result = run(tmp_path, state)
    assert problem_ids(result) == ["port_in_use"]
    assert "python3 (pid 4100)" in result["problems"][0]["evidence"][0]


def test_too_little_disk_for_the_weights_is_not_ready(tmp_path):
    state = fresh_station(healthy_state())
    state.update(free_gb=50.0, weights_cached=False)
    result = run(tmp_path, state, model="Qwen/Qwen3.6-35B-A3B")
    assert problem_ids(result) == ["hf_cache_disk_full"]
    assert "still needs about 70.0 GB" in result["problems"][0]["evidence"][0]


def test_enough_disk_for_a_smaller_model(tmp_path):
    state = fresh_station(healthy_state())
    state.update(free_gb=50.0, weights_cached=False)
    assert run(tmp_path, state, model="Qwen/Qwen3-8B")["problems"] == []


def test_no_room_for_the_image_is_not_ready(tmp_path):
    state = healthy_state()
    state.update(container=None, image=None, listeners=[], free_gb=20.0)
    result = run(tmp_path, state)
    assert problem_ids(result) == ["hf_cache_disk_full"]
    assert "Docker's data root" in result["problems"][0]["evidence"][0]


def test_mig_and_a_missing_driver_are_not_ready(tmp_path):
    state = fresh_station(healthy_state())
    state["smi"] = gpu_layout("gb300-mig-enabled")
    assert problem_ids(run(tmp_path / "mig", state)) == ["gpu_mig_enabled"]
    state = fresh_station(healthy_state())
    state["smi_present"] = False
    assert problem_ids(run(tmp_path / "driver", state)) == ["gpu_driver_missing"]


def test_another_os_is_a_warning_only(tmp_path):
    state = fresh_station(healthy_state())
    state["os_release"] = 'PRETTY_NAME="Rocky Linux 9.4"\nID="rocky"\nVERSION_ID="9.4"\n'
    result = run(tmp_path, state)
    assert problem_ids(result) == ["unsupported_os"] and result["ready"]


def test_a_deployed_station_is_ready_and_says_so(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    result = run(tmp_path / "station", healthy_state(), venv_path=str(venv))
    assert result["verdict"] == "READY", result
    assert any("already runs here" in n for n in result["notes"])
