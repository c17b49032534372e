# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The model presets: the one table of models this collection knows (NVIDIA's runbook table).

Read by the sglang_server role (through the dgx_station.inference.model_preset filter),
by the validation modules (is prefix caching expected?) and by the test simulator
(gated models, hybrid models). Edit models here and nowhere else.

Per model:
  download_gb            approximate weight download
  ready_timeout_s        cold-start budget: first start = download + load + CUDA-graph capture
  gated                  needs a Hugging Face token and an accepted licence
  context_length         the --context-length the runbook launches with
  mem_fraction_static    the --mem-fraction-static to launch with
  prefix_cache_expected  false for hybrid mamba/SSM models: their prefix cache does not
                         carry across requests, cached_tokens stays 0, and that is expected
  architecture           dense | moe | hybrid_moe
  extra_args             additional `sglang serve` flags the model needs
  notes                  what an operator should know
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

MODEL_PRESETS = {
    "Qwen/Qwen3-8B": dict(
        download_gb=16, ready_timeout_s=1800, gated=False, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=True, architecture="dense", extra_args=[],
        notes="Runbook default; dense; fast warm-up (10-15 min first start)."),
    "Qwen/Qwen3.6-35B-A3B": dict(
        download_gb=70, ready_timeout_s=3600, gated=False, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=False, architecture="hybrid_moe", extra_args=[],
        notes="MoE (~3B active), hybrid mamba/SSM: cached_tokens stays 0 on every turn, expected. "
              "30-45 min to first request."),
    "Qwen/Qwen3.6-27B": dict(
        download_gb=54, ready_timeout_s=2700, gated=False, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=True, architecture="dense", extra_args=[],
        notes="Dense; more VRAM than the MoE at equal batch."),
    "google/gemma-3-12b-it": dict(
        download_gb=24, ready_timeout_s=1800, gated=True, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=True, architecture="dense", extra_args=[],
        notes="Gemma 3 instruct; chat API use is text-only. Gated like every Gemma: needs a Hugging Face "
              "token and Google's licence accepted on the model card."),
    "google/gemma-3-27b-it": dict(
        download_gb=54, ready_timeout_s=2700, gated=True, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=True, architecture="dense", extra_args=[],
        notes="Larger Gemma 3 instruct. Gated: needs a Hugging Face token and the licence accepted."),
    "meta-llama/Llama-3.3-70B-Instruct": dict(
        download_gb=140, ready_timeout_s=3600, gated=True, context_length=8192,
        mem_fraction_static=0.85, prefix_cache_expected=True, architecture="dense", extra_args=[],
        notes="Gated: needs a Hugging Face token and the licence accepted on the model card."),
    "deepseek-ai/DeepSeek-V4-Flash": dict(
        download_gb=300, ready_timeout_s=5400, gated=False, context_length=4096,
        mem_fraction_static=0.75, prefix_cache_expected=True, architecture="moe", extra_args=[],
        notes="Very large MoE: lower mem fraction and context until it starts; check SGLang build support."),
    "deepseek-ai/DeepSeek-V4-Pro": dict(
        download_gb=700, ready_timeout_s=7200, gated=False, context_length=4096,
        mem_fraction_static=0.7, prefix_cache_expected=True, architecture="moe", extra_args=[],
        notes="Larger V4 variant: only with a supported SGLang build and enough GPU memory."),
}

DEFAULT_MODEL = "Qwen/Qwen3-8B"

# What an unknown model gets unless the user sets the values explicitly.
UNKNOWN_MODEL_DEFAULTS = dict(
    download_gb=None, ready_timeout_s=2700, gated=False, context_length=8192,
    mem_fraction_static=0.85, prefix_cache_expected=True, architecture="unknown", extra_args=[],
    notes="Not a preset: settings are the runbook's defaults unless set explicitly.")


def get_preset(model):
    """The preset of a model (a copy, with `known` and `model` added); unknown models get defaults."""
    preset = MODEL_PRESETS.get(model)
    known = preset is not None
    result = copy.deepcopy(preset if known else UNKNOWN_MODEL_DEFAULTS)
    result["known"] = known
    result["model"] = model
    return result
