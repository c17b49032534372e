# -*- coding: utf-8 -*-
"""sglang_diagnose and station_preflight as modules: arguments, result shape, check mode, no change, no secret."""
import json

import pytest

from doctor_station import FakeClient, FakeStation, exited, healthy_state

from ansible_collections.dgx_station.inference.plugins.module_utils import sglang_module
from ansible_collections.dgx_station.inference.plugins.modules import sglang_diagnose, station_preflight


@pytest.fixture
def station(monkeypatch, tmp_path):
    """Make the modules read a FakeStation (and its HTTP answers) instead of the host running the tests."""
    made = {}

    def use(state):
        fake = FakeStation(state, tmp_path)
        made["station"] = fake
        monkeypatch.setattr(sglang_diagnose, "Station", lambda run_command, which: fake)
        monkeypatch.setattr(station_preflight, "Station", lambda run_command, which: fake)
        monkeypatch.setattr(sglang_module, "client_from_module", lambda module: FakeClient(state["http"]))
        return fake

    return use


def test_a_healthy_station(run_module, station):
    fake = station(healthy_state())
    failed, result = run_module(sglang_diagnose.main, dict(
        docker_users=["station"], hf_cache_dir=fake.hf_cache_dir, daemon_json_path=fake.daemon_json_path,
        python=fake.python))
    assert not failed and result["changed"] is False
    assert result["healthy"] is True and result["findings"] == [] and result["lines"] == []
    assert result["msg"] == "Healthy: no finding."
    assert result["evidence"]["server"]["health"] == 200
    # Read-only: only inspection commands ran.
    verbs = set(call[1] for call in fake.calls if call[0].endswith("docker"))
    assert verbs <= {"info", "inspect", "logs", "image"}


def test_the_buildndtmadescriptor_failure_in_check_mode(run_module, station):
    state = healthy_state()
    exited(state, "trtllm_mha_sm103")
    key = "sk-secret-station-key-42"
    state["container"][0]["Config"]["Cmd"] += ["--api-key", key]
    fake = station(state)
    failed, result = run_module(sglang_diagnose.main, dict(
        api_key=key, hf_cache_dir=fake.hf_cache_dir, daemon_json_path=fake.daemon_json_path, python=fake.python),
        check_mode=True)
    assert not failed and result["changed"] is False and result["healthy"] is False
    assert [f["id"] for f in result["findings"]] == ["trtllm_mha_sm103"]
    assert result["lines"][0].startswith("[trtllm_mha_sm103] ")
    assert "--attention-backend flashinfer" in result["lines"][0]
    assert result["msg"] == "1 finding(s): trtllm_mha_sm103"
    assert key not in json.dumps(result)


def test_the_gateway_option_is_checked(run_module, station):
    fake = station(healthy_state())
    failed, result = run_module(sglang_diagnose.main, dict(
        python=fake.python, daemon_json_path=fake.daemon_json_path, hf_cache_dir=fake.hf_cache_dir,
        gateway=dict(station_url="http://10.0.0.11:30000", unhealthy_urls=["http://10.0.0.11:30000"])))
    assert not failed
    assert [f["id"] for f in result["findings"]] == ["gateway_worker_unhealthy"]
    failed, result = run_module(sglang_diagnose.main, dict(gateway=dict(healthy_urls=[])))
    assert failed and "station_url" in result["msg"]


def test_station_preflight_module(run_module, station):
    state = healthy_state()
    state.update(docker_cli=None, bins={}, container=None, image=None, listeners=[])
    fake = station(state)
    failed, result = run_module(station_preflight.main, dict(
        hf_cache_dir=fake.hf_cache_dir, python=fake.python, daemon_json_path=fake.daemon_json_path,
        provisioning=dict(docker_packages=["docker.io"])), check_mode=True)
    assert not failed and result["changed"] is False
    assert result["verdict"] == "READY AFTER PROVISIONING"
    assert result["msg"] == "READY AFTER PROVISIONING"
    assert any("docker.io" in line for line in result["lines"])
