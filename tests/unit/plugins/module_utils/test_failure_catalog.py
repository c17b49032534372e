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
}


def test_every_known_failure_has_a_row():
    # 18 rows of the known-failures table in the Station reference.
    assert set(fc.IDS) == REQUIRED_IDS
    assert len(fc.IDS) == len(set(fc.IDS))


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
