# -*- coding: utf-8 -*-
"""The failure catalog holds every known failure of the runbook, each recognisable on its own."""
import re

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import failure_catalog as fc

# The ids playbooks, reports and the doctor key on: renaming one is a breaking change.
REQUIRED_IDS = {
    "docker_socket_permission", "toolkit_not_configured", "gpu_index_out_of_range", "trtllm_mha_sm103",
    "fa3_on_blackwell", "numa_affinity_sys_nice", "python3_venv_missing", "hf_token_missing",
    "oom_at_start", "json_schema_unsupported", "cuda_wrong_image", "still_booting",
    "cache_report_missing", "later_turn_latency", "cuda_graph_capture_oom", "gpus_all_mixed",
    "port_in_use", "deepseek_v4_load_failure",
    # The runbook rows the first catalog lacked, and what the doctor, the preflight and rollouts find.
    "slow_first_start", "benchmark_output_flooded", "gateway_worker_unhealthy", "container_exited",
    "server_not_deployed", "gpu_mig_enabled", "gpu_not_found", "gpu_driver_missing", "hf_cache_disk_full",
    "image_arch_mismatch",
}

# Every row of the runbook's troubleshooting table (its symptom, abridged) and the entry that explains it.
RUNBOOK_ROWS = {
    '"permission denied" when running docker': "docker_socket_permission",
    "Container fails to start with GPU error": "toolkit_not_configured",
    "device >= 0 && device < num_gpus INTERNAL ASSERT FAILED": "gpu_index_out_of_range",
    "RuntimeError: ... buildNdTmaDescriptor ... Check failed: false during CUDA-graph capture": "trtllm_mha_sm103",
    "AssertionError: FlashAttention v3 Backend requires SM>=80 and SM<=90": "fa3_on_blackwell",
    "User lacks permission to set NUMA affinity ... try adding --cap-add SYS_NICE warning": "numa_affinity_sys_nice",
    "python3 -m venv .venv fails with apt install python3.12-venv hint": "python3_venv_missing",
    '"Token is required" or 401 error': "hf_token_missing",
    "Server exits with OOM error": "oom_at_start",
    "json_schema response_format returns error": "json_schema_unsupported",
    "Server starts but CUDA errors on inference": "cuda_wrong_image",
    "Slow first request after server start": "slow_first_start",
    "Connection refused on port 30000": "still_booting",
    "Med cached prefill column is n/a in the benchmark": "cache_report_missing",
    '/server_info body floods the benchmark "cache highlights" output': "benchmark_output_flooded",
    "Benchmark shows higher median latency on later turns": "later_turn_latency",
    "deepseek-ai/DeepSeek-V4-* fails to load": "deepseek_v4_load_failure",
    # The Station reference's second table.
    "Capture cuda graph failed + Possible solutions": "cuda_graph_capture_oom",
    "CUDA crash with --gpus all on a two-GPU Station": "gpus_all_mixed",
    "port already in use": "port_in_use",
}


def test_every_known_failure_has_a_row():
    assert set(fc.IDS) == REQUIRED_IDS
    assert len(fc.IDS) == len(set(fc.IDS))


def test_every_runbook_troubleshooting_row_has_an_entry():
    assert set(RUNBOOK_ROWS.values()) <= set(fc.IDS)
    assert len(RUNBOOK_ROWS) == 20


def test_the_gateway_row_other_code_keys_on():
    row = fc.CATALOG["gateway_worker_unhealthy"]
    assert row["severity"] == "error" and row["stage"] == "fleet"
    for option in ("sglang_gateway_station_url", "sglang_server_api_key", "sglang_gateway_api_key"):
        assert option in row["fix"]
    assert fc.explain("gateway_worker_unhealthy", evidence=["not healthy after 13 s"])["evidence"] == [
        "not healthy after 13 s"]


@pytest.mark.parametrize("row_id", sorted(REQUIRED_IDS))
def test_row_schema(row_id):
    row = fc.CATALOG[row_id]
    for key in ("id", "title", "severity", "stage", "where", "symptom", "cause", "fix", "detect", "example"):
        assert row.get(key), "%s lacks %s" % (row_id, key)
    assert row["severity"] in fc.SEVERITIES
    assert row["stage"] in fc.STAGES
    assert set(row["detect"]) <= {"log", "http", "host"} and row["detect"]
    for pattern in row["detect"].get("log", []):
        re.compile(pattern)
    for other in row.get("supersedes", []):
        assert other in fc.CATALOG


@pytest.mark.parametrize("row_id", sorted(REQUIRED_IDS))
def test_row_matches_its_own_symptom_and_no_other(row_id):
    found = fc.match(**fc.CATALOG[row_id]["example"])
    assert [result["id"] for result in found] == [row_id]


def test_match_with_nothing_matches_nothing():
    assert fc.match() == []
    assert fc.match(log_text="[2026-10-30 12:00:00] The server is fired up and ready to roll!") == []
    assert fc.first_error(http_status=200) is None


def test_log_evidence_is_the_matching_line():
    log = "line one\nRuntimeError: Not enough memory. Please try to increase --mem-fraction-static. x\nlast"
    result = fc.first_error(log_text=log)
    assert result["id"] == "oom_at_start"
    assert result["evidence"] == [
        "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. x"]
    assert "mem_fraction_static" in result["fix"]


def test_specific_rows_supersede_generic_ones():
    capture = ("Exception: Capture cuda graph failed: RuntimeError: buildNdTmaDescriptor Check failed: false\n"
               "Possible solutions:\n1. set --mem-fraction-static to a smaller value (e.g., 0.8 or 0.7)")
    assert [r["id"] for r in fc.match(log_text=capture)] == ["trtllm_mha_sm103"]
    oom_capture = "Exception: Capture cuda graph failed: CUDA out of memory.\nPossible solutions:"
    assert [r["id"] for r in fc.match(log_text=oom_capture)] == ["cuda_graph_capture_oom"]


def test_errors_sort_before_warnings():
    log = ("WARNING: User lacks permission to set NUMA affinity\n"
           "RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED")
    assert [r["id"] for r in fc.match(log_text=log)] == ["gpu_index_out_of_range", "numa_affinity_sys_nice"]
    assert fc.first_error(log_text=log)["id"] == "gpu_index_out_of_range"


def test_host_conditions_must_all_hold():
    assert fc.match(host_facts=dict(gpus_all=True, mixed_gpus=False)) == []
    assert fc.match(host_facts=dict(gpus_all=True)) == []
    assert [r["id"] for r in fc.match(host_facts=dict(gpus_all=True, mixed_gpus=True))] == ["gpus_all_mixed"]


def test_http_rules():
    assert [r["id"] for r in fc.match(http_status=503)] == ["still_booting"]
    assert fc.match(http_status=400, http_body="Messages cannot be empty.") == []


def test_entry_is_a_copy_without_the_example():
    row = fc.entry("oom_at_start")
    assert "example" not in row and row["id"] == "oom_at_start"


@pytest.mark.parametrize("row_id", sorted(REQUIRED_IDS))
def test_diagnose_finds_each_row_from_its_example_alone(row_id):
    example = fc.CATALOG[row_id]["example"]
    http = [dict(status=example["http_status"], body=example.get("http_body"), source="GET /x")] \
        if "http_status" in example else None
    found = fc.diagnose(log_text=example.get("log_text"), http=http, host_facts=example.get("host_facts"))
    assert [r["id"] for r in found] == [row_id]
    assert found[0]["confidence"] in fc.CONFIDENCES and found[0]["matched_by"]
    assert "detect" not in found[0]


def test_diagnose_orders_by_confidence_then_severity():
    found = fc.diagnose(
        log_text="WARNING: User lacks permission to set NUMA affinity",
        host_facts=dict(image_cuda_below_13=True, booting=True, weights_cached=True),
        host_evidence=dict(image_cuda_below_13="image tag names CUDA 12.6"))
    assert [(r["id"], r["confidence"]) for r in found] == [
        ("numa_affinity_sys_nice", "high"), ("still_booting", "high"), ("cuda_wrong_image", "medium")]
    assert found[2]["evidence"] == ["image tag names CUDA 12.6"]


def test_fallback_rows_give_way_to_a_specific_error():
    facts = dict(container_exists=True, container_running=False)
    assert [r["id"] for r in fc.diagnose(host_facts=facts)] == ["container_exited"]
    found = fc.diagnose(log_text="RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED", host_facts=facts)
    assert [r["id"] for r in found] == ["gpu_index_out_of_range"]
    # A warning does not explain a dead container.
    found = fc.diagnose(log_text="User lacks permission to set NUMA affinity", host_facts=facts)
    assert [r["id"] for r in found] == ["container_exited", "numa_affinity_sys_nice"]


def test_one_line_names_id_cause_and_fix():
    line = fc.one_line(fc.diagnose(log_text="buildNdTmaDescriptor Check failed")[0])
    assert line.startswith("[trtllm_mha_sm103] ") and "Fix: Pass `--attention-backend flashinfer`" in line
