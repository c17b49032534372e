# -*- coding: utf-8 -*-
"""gpu_info replayed on what the real 1 x H200 Ubuntu 24.04 host printed (tests/fixtures/real-host, docs/real-gpu-host.md)."""
import json
import os

from ansible.module_utils import basic

from ansible_collections.dgx_station.inference.plugins.modules import gpu_info
from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi

H200 = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "real-host", "h200-ubuntu-24.04")


def read(name):
    with open(os.path.join(H200, name)) as handle:
        return handle.read()


def replay(monkeypatch):
    answers = {tuple(nvidia_smi.QUERY_ARGS): read("nvidia-smi-query.csv"), ("-L",): read("nvidia-smi-L.txt")}
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, arg, required=False, opt_dirs=None:
                        "/usr/local/nvidia/bin/nvidia-smi")
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, **kwargs: (0, answers[tuple(args[1:])], ""))


def test_the_h200_is_found_by_name_as_on_the_host(run_module, monkeypatch):
    replay(monkeypatch)
    failed, result = run_module(gpu_info.main, dict(name_pattern="H200"))
    recorded = json.loads(read("gpu_info-h200.json"))
    assert not failed
    for key in ("gpus", "selected", "device_ids", "device_requests", "docker_gpus", "only_gpu", "selection_by", "msg"):
        assert result[key] == recorded[key], key


def test_the_default_gb300_pattern_fails_naming_the_h200(run_module, monkeypatch):
    replay(monkeypatch)
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert result["msg"].startswith("No GPU name matches name_pattern 'GB300'. GPUs seen (index: name): 0: NVIDIA H200.")
    assert result["gpus"][0]["mig_mode"] == "disabled" and result["gpus"][0]["compute_cap"] == "9.0"


def test_the_driver_and_cuda_versions_as_the_host_printed_them():
    assert read("nvidia-smi-driver.txt").strip() == "580.159.04"
    assert "CUDA Version        : 13.0" in read("nvidia-smi-version.txt")
