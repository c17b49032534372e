"""prefix_cache_expectation and server_field: decided from what /server_info says, the presets only as a fallback."""
import copy

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_server_info import (
    HYBRID_FIELD,
    first_internal_state,
    prefix_cache_expectation,
    server_field,
)


def server_info(model_path="Qwen/Qwen3-8B", mamba=None, flat_mamba=None, disable_radix_cache=False, nested=True):
    """The shape of SGLang 0.5.23's /server_info: the HTTP process's resolved args flat, the scheduler's in
    internal_states[0] (where a hybrid model's mamba pool size appears)."""
    args = {"model_path": model_path, "served_model_name": model_path, "page_size": 1,
            "disable_radix_cache": disable_radix_cache, "enable_cache_report": True, HYBRID_FIELD: flat_mamba}
    info = dict(args, launch_command="sglang serve --model-path %s" % model_path, status="ready",
                max_total_num_tokens=1000000)
    if nested:
        state = dict(args, world_size=1, memory_usage={"token_capacity": 1000000})
        state[HYBRID_FIELD] = mamba if mamba is not None else flat_mamba
        info["internal_states"] = [state]
    info.update(version="0.5.23", frontend="python")
    return info


def test_server_field_reads_flat_then_internal_states():
    info = server_info(mamba=1751)
    assert server_field(info, "page_size") == 1
    assert server_field(info, HYBRID_FIELD) == 1751  # null at the top level, resolved in the scheduler
    assert server_field(info, "world_size") == 1
    assert server_field(info, "missing", "d") == "d"
    nested_only = {"internal_states": [{"disable_radix_cache": True}]}
    assert server_field(nested_only, "disable_radix_cache") is True
    assert server_field({"page_size": 64, "internal_states": [{"page_size": 1}]}, "page_size") == 64
    for odd in (None, [], "x", {"internal_states": "x"}, {"internal_states": []}, {"internal_states": [None]}):
        assert server_field(odd, "page_size", 7) == 7
        assert first_internal_state(odd) == {}


def test_dense_model_expects_the_cache_from_server_info():
    got = prefix_cache_expectation(server_info())
    assert got["expected"] is True and got["source"] == "server_info"
    assert HYBRID_FIELD in got["reason"]


def test_hybrid_model_from_internal_states():
    got = prefix_cache_expectation(server_info("Qwen/Qwen3.6-35B-A3B", mamba=1751))
    assert got == dict(expected=False, source="server_info", reason=got["reason"])
    assert "hybrid mamba/SSM" in got["reason"] and "1751" in got["reason"]


def test_local_path_of_a_hybrid_model_is_hybrid():
    # No preset knows /models/qwen36; the presets alone would expect a cache.
    info = server_info("/models/qwen36", mamba=1751)
    got = prefix_cache_expectation(info)
    assert got["expected"] is False and got["source"] == "server_info"
    assert got["reason"].startswith("/models/qwen36 is a hybrid")
    assert prefix_cache_expectation(info, model="qwen36")["reason"].startswith("qwen36 is a hybrid")


def test_local_path_of_a_dense_model_expects_the_cache():
    got = prefix_cache_expectation(server_info("/models/qwen3-8b"))
    assert got["expected"] is True and got["source"] == "server_info"


def test_server_info_outranks_the_preset():
    # A hybrid preset whose scheduler reports no mamba pool, and a dense preset that has one.
    assert prefix_cache_expectation(server_info("Qwen/Qwen3.6-35B-A3B"))["expected"] is True
    got = prefix_cache_expectation(server_info("Qwen/Qwen3.6-27B", mamba=900))
    assert got["expected"] is False and got["source"] == "server_info"


def test_operator_set_max_mamba_cache_size_flat_only():
    # --max-mamba-cache-size 48 shows at the top level even without internal_states
    got = prefix_cache_expectation(server_info("/models/x", flat_mamba=48, nested=False))
    assert got["expected"] is False and got["source"] == "server_info" and "server_info max_mamba_cache_size: 48" in got["reason"]


@pytest.mark.parametrize("model,mamba", [("Qwen/Qwen3-8B", None), ("Qwen/Qwen3.6-35B-A3B", 1751),
                                         ("/models/qwen36", 1751)])
def test_disabled_radix_cache_is_not_expected(model, mamba):
    for info in (server_info(model, mamba=mamba, disable_radix_cache=True),
                 {"internal_states": [{"disable_radix_cache": True}]}):
        got = prefix_cache_expectation(info, model)
        assert got["expected"] is False and got["source"] == "server_info"
        assert "--disable-radix-cache" in got["reason"]


def test_unknown_falls_back_to_the_preset():
    # An older server (no internal_states) says nothing about the model's architecture.
    hybrid = prefix_cache_expectation(server_info("Qwen/Qwen3.6-35B-A3B", nested=False))
    assert hybrid["expected"] is False and hybrid["source"] == "preset"
    assert "hybrid mamba/SSM" in hybrid["reason"] and "hybrid_moe" in hybrid["reason"]
    dense = prefix_cache_expectation(server_info("Qwen/Qwen3-8B", nested=False))
    assert dense["expected"] is True and dense["source"] == "preset"
    # the caller's model name decides when the server names a local path
    by_name = prefix_cache_expectation(server_info("/models/qwen36", nested=False), model="Qwen/Qwen3.6-35B-A3B")
    assert by_name["expected"] is False and by_name["source"] == "preset"
    # an internal state without the field says nothing either
    info = server_info("Qwen/Qwen3.6-35B-A3B")
    del info["internal_states"][0][HYBRID_FIELD]
    del info[HYBRID_FIELD]
    assert prefix_cache_expectation(info)["source"] == "preset"


@pytest.mark.parametrize("body", [None, {}, [], "text", {"internal_states": [{}]}])
def test_nothing_known_assumes_a_cache_like_an_unknown_preset(body):
    got = prefix_cache_expectation(body)
    assert got["expected"] is True and got["source"] == "preset"
    got = prefix_cache_expectation(body, model="Qwen/Qwen3.6-35B-A3B")
    assert got["expected"] is False and got["source"] == "preset"


def test_bool_and_zero_are_no_mamba_pool():
    for value in (0, False):
        info = server_info()
        info["internal_states"][0][HYBRID_FIELD] = value
        assert prefix_cache_expectation(info)["expected"] is True


def test_input_is_not_modified():
    info = server_info("/models/qwen36", mamba=1751)
    before = copy.deepcopy(info)
    prefix_cache_expectation(info, "m")
    assert info == before
