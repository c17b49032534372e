from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import (
    DEFAULT_MODEL,
    MODEL_PRESETS,
    get_preset,
)


def test_runbook_table_is_complete():
    expected = {
        "Qwen/Qwen3-8B", "Qwen/Qwen3.6-35B-A3B", "Qwen/Qwen3.6-27B", "google/gemma-3-12b-it",
        "google/gemma-3-27b-it", "meta-llama/Llama-3.3-70B-Instruct",
        "deepseek-ai/DeepSeek-V4-Flash", "deepseek-ai/DeepSeek-V4-Pro",
    }
    assert set(MODEL_PRESETS) == expected
    assert DEFAULT_MODEL == "Qwen/Qwen3-8B"


def test_hybrid_model_does_not_expect_prefix_cache_and_gated_model_is_gated():
    assert get_preset("Qwen/Qwen3.6-35B-A3B")["prefix_cache_expected"] is False
    assert get_preset("Qwen/Qwen3-8B")["prefix_cache_expected"] is True
    assert get_preset("meta-llama/Llama-3.3-70B-Instruct")["gated"] is True
    # As Hugging Face marks them: Gemma 3 and Llama 3.3 ask for an accepted licence.
    assert [m for m, p in MODEL_PRESETS.items() if p["gated"]] == [
        "google/gemma-3-12b-it", "google/gemma-3-27b-it", "meta-llama/Llama-3.3-70B-Instruct"]


def test_cold_start_budget_covers_the_runbook_boot_times():
    # 10-15 min for Qwen3-8B, 30-45 min for the 35B MoE (first start).
    assert get_preset("Qwen/Qwen3-8B")["ready_timeout_s"] >= 15 * 60
    assert get_preset("Qwen/Qwen3.6-35B-A3B")["ready_timeout_s"] >= 45 * 60


def test_unknown_model_gets_defaults_and_is_marked_unknown():
    preset = get_preset("acme/my-finetune")
    assert preset["known"] is False and preset["model"] == "acme/my-finetune"
    assert preset["context_length"] == 8192


def test_preset_is_a_copy():
    get_preset("Qwen/Qwen3-8B")["extra_args"].append("--oops")
    assert MODEL_PRESETS["Qwen/Qwen3-8B"]["extra_args"] == []
