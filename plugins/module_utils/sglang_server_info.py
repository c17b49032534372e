# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What SGLang's GET /server_info says about the server itself (pure helpers, no I/O).

The body of SGLang 0.5.23's /server_info is flat: every resolved server argument of the
HTTP (tokenizer-manager) process as a top-level key, the scheduler's init info, then
`internal_states`, one dict per DP rank with the *scheduler's* resolved server arguments
(`get_context().resolved_server_args_dict()`, srt/managers/scheduler_components/internal_state.py)
plus its memory figures. Values the scheduler settles after start-up (post-publish overrides)
appear only in `internal_states`; the flat copy keeps the launch-time value.

Whether a prefix cache is expected to carry across requests is read from there:

* `disable_radix_cache` true: the server runs with --disable-radix-cache, nothing is reused.
* `max_mamba_cache_size` a positive integer in `internal_states[0]`: a hybrid mamba / linear-
  attention model (Qwen3-Next, Qwen3.6-35B-A3B, Nemotron-H, Falcon-H1, Kimi-Linear, ...). The field
  is a ServerArgs field (default None, so an ordinary model reports null); the model runner sizes
  the mamba state pool only when the model has a `mambaish_config`
  (ModelRunnerKVCacheMixin.handle_max_mamba_cache in srt/model_executor/model_runner_kv_cache_mixin.py,
  now KVCacheConfigurator._handle_max_mamba_cache in srt/mem_cache/kv_cache_configurator.py) and
  writes the pool size back into the server arguments: an explicit --max-mamba-cache-size, else
  max_running_requests when the radix cache is off, else the share of the memory that
  mamba_full_memory_ratio gives the states. It logs the same number at start-up
  (`Mamba Cache is allocated. max_mamba_cache_size: N, ...`). The flat key stays null unless the
  operator passed the flag, which only means something for such a model. This does not depend on
  the model's name, so a local model path (`--model-path /models/qwen36`) of a hybrid model is
  recognised too.

Only when /server_info says neither (an older server, or a body without `internal_states`) does
the collection's preset table (model_presets.get_preset) decide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import get_preset

# The /server_info field that is a positive integer for hybrid mamba/linear-attention models (see above).
HYBRID_FIELD = "max_mamba_cache_size"


def first_internal_state(info):
    """internal_states[0] of a /server_info body (the scheduler of DP rank 0), or {}."""
    states = info.get("internal_states") if isinstance(info, dict) else None
    if isinstance(states, list) and states and isinstance(states[0], dict):
        return states[0]
    return {}


def server_field(info, name, default=None):
    """A /server_info field: the flat (top-level) value, else internal_states[0]'s, else default.

    A null value counts as absent, so a field the scheduler resolves after start-up (null at the
    top level, set in internal_states[0]) is found as well.
    """
    if isinstance(info, dict) and info.get(name) is not None:
        return info[name]
    value = first_internal_state(info).get(name)
    return default if value is None else value


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _model_names(info, model):
    names = []
    for name in (model, server_field(info, "served_model_name"), server_field(info, "model_path")):
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def prefix_cache_expectation(server_info, model=None):
    """Is a prefix cache expected to carry across requests on this server?

    Returns dict(expected=bool, reason=str, source="server_info" | "preset"). server_info is the
    GET /server_info body (flat keys and/or internal_states[0]); model the model name the caller
    uses, if any (only for the preset fallback and the wording).
    """
    info = server_info if isinstance(server_info, dict) else {}
    names = _model_names(info, model)
    label = names[0] if names else "the served model"
    if server_field(info, "disable_radix_cache") is True:
        return dict(expected=False, source="server_info", reason=(
            "The server runs with --disable-radix-cache (server_info disable_radix_cache: true): no prefix is "
            "reused, cached_tokens stays 0 by design."))
    state = first_internal_state(info)
    mamba = state.get(HYBRID_FIELD)
    where = "internal_states[0]"
    if mamba is None and _positive_int(info.get(HYBRID_FIELD)):
        mamba, where = info[HYBRID_FIELD], "server_info"
    if _positive_int(mamba):
        return dict(expected=False, source="server_info", reason=(
            "%s is a hybrid mamba/SSM (linear-attention) model: the server keeps a mamba state pool "
            "(%s %s: %d), and its prefix cache does not carry across requests, cached_tokens stays 0 on every "
            "turn, which is expected." % (label, where, HYBRID_FIELD, mamba)))
    if HYBRID_FIELD in state:
        return dict(expected=True, source="server_info", reason=(
            "The radix cache is on and %s has no mamba state pool (internal_states[0] %s: %s): prefix "
            "caching is expected." % (label, HYBRID_FIELD, "null" if mamba is None else mamba)))
    for name in names:
        preset = get_preset(name)
        if preset["known"]:
            if preset["prefix_cache_expected"] is False:
                reason = ("%s is a hybrid mamba/SSM model (%s, from the model presets; /server_info does not say): "
                          "its prefix cache does not carry across requests, cached_tokens stays 0 on every turn, "
                          "which is expected." % (name, preset["architecture"]))
            else:
                reason = ("%s is a %s model in the model presets (/server_info does not say): prefix caching is "
                          "expected." % (name, preset["architecture"]))
            return dict(expected=bool(preset["prefix_cache_expected"]), source="preset", reason=reason)
    unknown = get_preset(label)
    return dict(expected=bool(unknown["prefix_cache_expected"]), source="preset", reason=(
        "Neither /server_info (no %s in internal_states) nor the model presets say whether %s is a hybrid model: "
        "prefix caching is assumed, as for any model not in the presets." % (HYBRID_FIELD, label)))
