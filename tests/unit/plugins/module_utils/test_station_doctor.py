# -*- coding: utf-8 -*-
"""The doctor names every catalog entry from the Station state, recorded output or answer that produces it.

Each case starts from a healthy Station (tests/unit/doctor_station.py) and changes what its entry needs:
a recorded simulator log of a boot fault, an engine without the nvidia runtime, a GPU request that
does not exist, a port held by another process... A healthy Station yields no finding.
"""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from doctor_station import (  # noqa: E402
    DOCTOR,
    FakeClient,
    FakeStation,
    NVIDIA_SMI,
    QUERY,
    doctor_params,
    exited,
    gpu_layout,
    healthy_state,
    load_json,
    log,
    read,
    set_container_state,
)

from ansible_collections.dgx_station.inference.plugins.module_utils import failure_catalog as fc  # noqa: E402
from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import doctor, summary_lines  # noqa: E402


def run(tmp_path, state, with_client=True, **params):
    station = FakeStation(state, tmp_path)
    client = FakeClient(state["http"]) if with_client else None
    findings, evidence, log_tail = doctor(station, doctor_params(station, **params), client=client)
    json.dumps([findings, evidence, log_tail])  # what a module result must serialise
    return findings, evidence, dict(station=station, client=client, log_tail=log_tail)


def ids(findings):
    return [f["id"] for f in findings]


# -- the cases: state change -> catalog id the doctor must name -------------------------------------

def boot_fault(name, exit_code=137):
    def change(state, tmp_path):
        exited(state, name, exit_code=exit_code)
        return {}
    return change


def restart_loop(name):
    def change(state, tmp_path):
        exited(state, name, restarting=True)
        return {}
    return change


def not_in_docker_group(state, tmp_path):
    state["users"]["station"] = "station adm sudo"
    return {}


def docker_socket_denied(state, tmp_path):
    state["docker_info"] = None
    state["docker_info_error"] = ("permission denied while trying to connect to the Docker daemon socket at "
                                  "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\": "
                                  "dial unix /var/run/docker.sock: connect: permission denied")
    return {}


def no_nvidia_runtime(state, tmp_path):
    del state["docker_info"]["Runtimes"]["nvidia"]
    state["daemon_json"] = '{"log-driver": "json-file"}'
    state["bins"].pop("nvidia-container-runtime")
    exited(state, None, exit_code=128)
    set_container_state(state, Status="created", Error='could not select device driver "" with capabilities: [[gpu]]')
    return {}


def missing_device(state, tmp_path):
    state["container"][0]["HostConfig"]["DeviceRequests"][0]["DeviceIDs"] = ["2"]
    return {}


def gpus_all(state, tmp_path):
    state["container"][0]["HostConfig"]["DeviceRequests"] = [
        {"Driver": "nvidia", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}]
    return {}


def no_sys_nice(state, tmp_path):
    state["container"][0]["HostConfig"]["CapAdd"] = None
    state["logs"] = log("numa_affinity_sys_nice")
    return {}


def no_venv_module(state, tmp_path):
    state["python"] = (0, "3.12.3\nensurepip no\nvenv yes\npackaging no\n", "")
    return {}


def old_image_json_schema(state, tmp_path):
    body = {"object": "error", "message": "1 validation error for ChatCompletionRequest\nresponse_format.type\n  "
            "Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]",
            "type": "BadRequestError", "param": None, "code": 400}
    state["http"]["POST /v1/chat/completions json_schema"] = (400, json.dumps(body))
    return {}


def cuda_error_at_inference(state, tmp_path):
    body = {"object": "error", "message": "Internal server error: CUDA error: no kernel image is available for "
            "execution on the device\n", "type": "InternalServerError", "param": None, "code": 500}
    state["http"]["POST /v1/chat/completions chat"] = (500, json.dumps(body))
    state["logs"] = log("cuda_wrong_image")
    return {}


def cu126_image(state, tmp_path):
    state["container"][0]["Config"]["Image"] = "lmsysorg/sglang:v0.4.6.post1-cu126"
    state["image"][0]["RepoTags"] = ["lmsysorg/sglang:v0.4.6.post1-cu126"]
    return {}


def booting(cached):
    def change(state, tmp_path):
        state["logs"] = "\n".join(log("healthy").splitlines()[:8]) + "\n"
        state["http"] = {"GET /health": "connection_refused"}
        state["weights_cached"] = cached
        return {}
    return change


def cache_report_off(state, tmp_path):
    status, body = state["http"]["GET /server_info"]
    info = json.loads(body)
    info["enable_cache_report"] = False
    state["http"]["GET /server_info"] = (status, json.dumps(info))
    return {}


def benchmark(name):
    def change(state, tmp_path):
        return dict(benchmark_report=load_json(DOCTOR, "benchmark", name))
    return change


def old_benchmark_output(state, tmp_path):
    return dict(benchmark_output=read(DOCTOR, "benchmark", "old-benchmark-output.txt"))


def port_allocated(state, tmp_path):
    exited(state, None, exit_code=128)
    set_container_state(state, Status="created", Error="driver failed programming external connectivity on endpoint "
                        "sglang-server (3f2a): Bind for 0.0.0.0:30000 failed: port is already allocated")
    state["logs"] = ""
    state["listeners"] = [dict(port=30000, pid=777, comm="python3", cmdline="python3 -m http.server 30000")]
    return {}


def port_held_by_other_server(state, tmp_path):
    exited(state, "port_in_use", exit_code=1)
    state["listeners"] = [dict(port=30000, pid=778, comm="vllm", cmdline="vllm serve Qwen/Qwen3-8B --port 30000")]
    return {}


def gateway_says_unhealthy(state, tmp_path):
    return dict(gateway=dict(station_url="http://10.0.0.11:30000", gateway_url="http://gw:30080",
                             healthy_urls=["http://10.0.0.12:30000"], unhealthy_urls=["http://10.0.0.11:30000"]))


def unknown_crash(state, tmp_path):
    exited(state, None, exit_code=1)
    return {}


def no_container(state, tmp_path):
    state["container"] = None
    state["listeners"] = []
    return {}


def mig_on(state, tmp_path):
    state["smi"] = gpu_layout("gb300-mig-enabled")
    return {}


def no_nvidia_smi(state, tmp_path):
    state["smi_present"] = False
    return {}


def driver_not_loaded(state, tmp_path):
    state["smi"] = {"*": (9, read(NVIDIA_SMI, "driver-not-loaded", "query.csv"), "")}
    return {}


def h200_only(state, tmp_path):
    directory = os.path.join(os.path.dirname(DOCTOR), "real-host", "h200-ubuntu-24.04")
    state["smi"] = {QUERY: (0, read(directory, "nvidia-smi-query.csv"), ""),
                    ("--query-gpu=driver_version", "--format=csv,noheader"): (0, read(directory, "nvidia-smi-driver.txt"), "")}
    state["container"] = None
    state["listeners"] = []
    return {}


def disk_short(state, tmp_path):
    booting(cached=False)(state, tmp_path)
    state["free_gb"] = 4.0
    return {}


def disk_full_log(state, tmp_path):
    exited(state, None, exit_code=1)
    state["logs"] = ("[2026-12-01 10:00:00] Load weight begin. avail mem=270.00 GB\nOSError: [Errno 28] No space left on "
                     "device: '/root/.cache/huggingface/hub/models--Qwen--Qwen3-8B/blobs/9f1c.incomplete'\n")
    return {}


def amd64_image(state, tmp_path):
    state["image"][0]["Architecture"] = "amd64"
    exited(state, None, exit_code=255)
    state["logs"] = "exec /usr/bin/sglang: exec format error\n"
    return {}


CASES = [
    ("docker_socket_permission", "user outside the docker group", not_in_docker_group),
    ("docker_socket_permission", "socket refused", docker_socket_denied),
    ("toolkit_not_configured", "no nvidia runtime", no_nvidia_runtime),
    ("gpu_index_out_of_range", "recorded boot fault", boot_fault("gpu_index_out_of_range")),
    ("gpu_index_out_of_range", "device id not on the Station", missing_device),
    ("trtllm_mha_sm103", "recorded boot fault", boot_fault("trtllm_mha_sm103")),
    ("trtllm_mha_sm103", "restart loop", restart_loop("trtllm_mha_sm103")),
    ("fa3_on_blackwell", "recorded boot fault", boot_fault("fa3_on_blackwell")),
    ("numa_affinity_sys_nice", "capability dropped", no_sys_nice),
    ("python3_venv_missing", "no ensurepip", no_venv_module),
    ("hf_token_missing", "recorded boot fault", boot_fault("hf_token_missing", exit_code=1)),
    ("oom_at_start", "recorded boot fault", boot_fault("oom_at_start")),
    ("json_schema_unsupported", "probe rejected", old_image_json_schema),
    ("cuda_wrong_image", "CUDA error at inference", cuda_error_at_inference),
    ("cuda_wrong_image", "cu126 tag on a GB300", cu126_image),
    ("still_booting", "port closed, weights cached", booting(cached=True)),
    ("slow_first_start", "port closed, no weights yet", booting(cached=False)),
    ("cache_report_missing", "server_info", cache_report_off),
    ("cache_report_missing", "benchmark report", benchmark("report-no-cache-report.json")),
    ("later_turn_latency", "benchmark report", benchmark("report-later-turns.json")),
    ("benchmark_output_flooded", "old benchmark output", old_benchmark_output),
    ("cuda_graph_capture_oom", "recorded boot fault", boot_fault("cuda_graph_capture_oom")),
    ("gpus_all_mixed", "--gpus all next to an RTX PRO", gpus_all),
    ("port_in_use", "docker could not publish", port_allocated),
    ("port_in_use", "recorded bind failure", port_held_by_other_server),
    ("deepseek_v4_load_failure", "recorded boot fault", boot_fault("deepseek_v4_load_failure")),
    ("gateway_worker_unhealthy", "gateway lists it unhealthy", gateway_says_unhealthy),
    ("container_exited", "unknown crash", unknown_crash),
    ("server_not_deployed", "no container", no_container),
    ("gpu_mig_enabled", "MIG on", mig_on),
    ("gpu_not_found", "real 1 x H200 host", h200_only),
    ("gpu_driver_missing", "no nvidia-smi", no_nvidia_smi),
    ("gpu_driver_missing", "driver not loaded", driver_not_loaded),
    ("hf_cache_disk_full", "free space short", disk_short),
    ("hf_cache_disk_full", "No space left on device", disk_full_log),
    ("image_arch_mismatch", "amd64 image on arm64", amd64_image),
]


def test_every_catalog_entry_has_a_doctor_case():
    assert set(case[0] for case in CASES) == set(fc.IDS)


def test_a_healthy_station_yields_no_finding(tmp_path):
    findings, evidence, extra = run(tmp_path, healthy_state())
    assert findings == [], [f["id"] for f in findings]
    facts = evidence["host_facts"]
    assert facts["station_serves"] and facts["nvidia_runtime_configured"] and facts["docker_socket_access"]
    assert facts["mixed_gpus"] is True and facts["gpus_all"] is False and facts["port_held_by_other"] is False
    assert "hf_cache_space_short" not in facts  # a serving Station has its weights
    assert evidence["gpus"]["matching"] == [1] and evidence["image"]["architecture"] == "arm64"
    assert evidence["server"]["models"] == ["Qwen/Qwen3-8B"]
    assert "POST /v1/chat/completions json_schema" in extra["client"].requests
    assert summary_lines("station-01", findings) == ["station-01: healthy, no finding"]
    assert any(line.endswith("The server is fired up and ready to roll!") for line in extra["log_tail"])


def test_a_healthy_station_with_a_benchmark_report_yields_no_finding(tmp_path):
    findings, unused_evidence, unused_extra = run(
        tmp_path, healthy_state(), benchmark_report=load_json(DOCTOR, "benchmark", "report-healthy.json"))
    assert findings == []


@pytest.mark.parametrize("expected, unused_what, change", CASES, ids=["%s-%s" % (c[0], c[1].replace(" ", "_")) for c in CASES])
def test_the_doctor_names_the_entry(tmp_path, expected, unused_what, change):
    state = healthy_state()
    params = change(state, tmp_path)
    findings, evidence, unused_extra = run(tmp_path, state, **params)
    assert expected in ids(findings), (ids(findings), evidence["host_facts"])
    finding = next(f for f in findings if f["id"] == expected)
    assert finding["evidence"], finding
    row = fc.CATALOG[expected]
    assert finding["cause"] == row["cause"] and finding["fix"] == row["fix"]
    assert finding["confidence"] in fc.CONFIDENCES
    assert "detect" not in finding and "example" not in finding


def test_a_boot_fault_is_the_most_confident_finding_and_hides_the_generic_ones(tmp_path):
    state = healthy_state()
    exited(state, "trtllm_mha_sm103")
    findings, evidence, unused = run(tmp_path, state)
    assert ids(findings) == ["trtllm_mha_sm103"]
    assert any("buildNdTmaDescriptor" in line for line in findings[0]["evidence"])
    assert "--attention-backend flashinfer" in findings[0]["fix"]
    assert evidence["host_facts"]["container_running"] is False
    assert "booting" not in evidence["host_facts"]  # a dead server is not "still booting"


def test_a_restart_loop_is_not_still_booting(tmp_path):
    state = healthy_state()
    exited(state, "oom_at_start", restarting=True)
    findings, evidence, unused = run(tmp_path, state)
    assert ids(findings) == ["oom_at_start"]
    assert evidence["container"]["restart_count"] == 3


def test_findings_are_ordered_by_confidence(tmp_path):
    state = healthy_state()
    cu126_image(state, tmp_path)  # medium: inferred from the tag
    no_sys_nice(state, tmp_path)  # high: the log line and the container's capabilities
    findings, unused, unused_extra = run(tmp_path, state)
    assert ids(findings) == ["numa_affinity_sys_nice", "cuda_wrong_image"]
    assert [f["confidence"] for f in findings] == ["high", "medium"]
    assert findings[0]["matched_by"] == ["log", "host"]


def test_the_port_holder_is_named(tmp_path):
    state = healthy_state()
    port_allocated(state, tmp_path)
    findings, evidence, unused = run(tmp_path, state)
    assert evidence["port"]["holders"][0]["process"] == "python3"
    finding = next(f for f in findings if f["id"] == "port_in_use")
    assert any("python3 (pid 777)" in line for line in finding["evidence"])
    assert any("port is already allocated" in line for line in finding["evidence"])


def test_no_inference_probe_when_told(tmp_path):
    findings, unused, extra = run(tmp_path, healthy_state(), probe_inference=False)
    assert findings == []
    assert not [r for r in extra["client"].requests if r.startswith("POST")]


def test_no_docker_on_the_host_is_not_deployed(tmp_path):
    state = healthy_state()
    state["docker_cli"] = None
    state["bins"] = {}
    findings, evidence, unused = run(tmp_path, state, with_client=False)
    assert "server_not_deployed" in ids(findings)
    assert evidence["docker"]["present"] is False


def test_credentials_are_redacted(tmp_path):
    state = healthy_state()
    key = "sk-station-secret-0123456789"
    state["container"][0]["Config"]["Cmd"] += ["--api-key", key]
    state["logs"] = state["logs"].replace("api_key=None", "api_key='%s'" % key)
    status, body = state["http"]["GET /server_info"]
    state["http"]["GET /server_info"] = (status, body.replace('"api_key":null', '"api_key":"%s"' % key))
    findings, evidence, extra = run(tmp_path, state, api_key=key)
    text = json.dumps([findings, evidence, extra["log_tail"]])
    assert key not in text
    assert "<redacted>" in json.dumps(evidence["container"]["cmd"])


def test_mig_devices_and_the_workstation_gpu_are_in_the_evidence(tmp_path):
    state = healthy_state()
    mig_on(state, tmp_path)
    findings, evidence, unused = run(tmp_path, state)
    gb300 = next(g for g in evidence["gpus"]["gpus"] if "GB300" in g["name"])
    assert gb300["mig_mode"] == "enabled" and gb300["mig_devices"]
    assert any("RTX PRO" in g["name"] for g in evidence["gpus"]["gpus"])
    finding = next(f for f in findings if f["id"] == "gpu_mig_enabled")
    assert any("MIG devices" in line for line in finding["evidence"])


def test_the_gateway_marking_it_healthy_is_no_finding(tmp_path):
    findings, evidence, unused = run(tmp_path, healthy_state(), gateway=dict(
        station_url="http://10.0.0.11:30000/", healthy_urls=["http://10.0.0.11:30000"], unhealthy_urls=[]))
    assert findings == [] and evidence["host_facts"]["gateway_marks_healthy"] is True
