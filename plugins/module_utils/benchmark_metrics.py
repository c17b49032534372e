# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the server itself says about a benchmark run: /metrics counter deltas and /server_info.

metric_deltas() diffs the Prometheus scrapes taken before and after the measured phase
(sglang_http.parse_prometheus reads them); server_summary() keeps the /server_info fields that
matter for reading the figures (whether cached tokens are to be expected comes from
sglang_server_info.prefix_cache_expectation, i.e. from what the server says), and server_changes()
compares the summaries taken before and after the measured phase, so a server that was replaced or
changed during the run shows.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import parse_prometheus
from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import get_preset
from ansible_collections.dgx_station.inference.plugins.module_utils.benchmark_stats import ratio
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_server_info import prefix_cache_expectation

# The counters whose before/after deltas the result reports (sum over label sets).
TRACKED_COUNTERS = (
    "sglang:prompt_tokens_total",
    "sglang:generation_tokens_total",
    "sglang:cached_tokens_total",
    "sglang:num_requests_total",
    "sglang:num_aborted_requests_total",
    "sglang:num_so_requests_total",
)

# Server flags copied from /server_info into the result.
SERVER_FLAGS = (
    "page_size", "enable_cache_report", "disable_radix_cache", "attention_backend", "context_length",
    "mem_fraction_static", "enable_metrics", "grammar_backend", "reasoning_parser", "max_running_requests",
    "chunked_prefill_size", "tp_size", "dtype", "kv_cache_dtype", "max_mamba_cache_size",
)

# What identifies the server and its weights, compared before and after the measured phase
# (startup_time changes when the server restarted in between).
SERVER_IDENTITY = ("version", "model_path", "served_model_name", "weight_version", "startup_time")

COMPARED_FIELDS = SERVER_IDENTITY + SERVER_FLAGS


def metric_deltas(before_text, after_text, names=TRACKED_COUNTERS):
    """Counter deltas (after - before) of names; "unavailable" when either scrape is missing.

    A counter absent from both scrapes is null; a negative delta (the server restarted)
    is null too. cached_tokens_total is also split by its cache_source label.
    """
    if before_text is None or after_text is None:
        return "unavailable"
    before, before_series = parse_prometheus(before_text)
    after, after_series = parse_prometheus(after_text)
    out = {}
    for name in names:
        if name not in before and name not in after:
            out[name] = None
            continue
        delta = after.get(name, 0.0) - before.get(name, 0.0)
        out[name] = delta if delta >= 0 else None
    by_source = {}
    for key, value in after_series.items():
        if key.startswith("sglang:cached_tokens_total{") and 'cache_source="' in key:
            source = key.split('cache_source="', 1)[1].split('"', 1)[0]
            by_source[source] = by_source.get(source, 0.0) + value - before_series.get(key, 0.0)
    if by_source:
        out["cached_tokens_by_source"] = by_source
    return out


def token_agreement(summary, metrics):
    """Client sums / server counter deltas (1.0 when they agree); None when /metrics is unavailable."""
    if not isinstance(metrics, dict):
        return None
    return dict(
        prompt_tokens=ratio(summary["prompt_tokens"], metrics.get("sglang:prompt_tokens_total")),
        completion_tokens=ratio(summary["completion_tokens"], metrics.get("sglang:generation_tokens_total")),
        cached_tokens=ratio(summary["cached_tokens"] or 0, metrics.get("sglang:cached_tokens_total")),
    )


def _flat(info):
    """/server_info's fields, the top level first, then those of its first internal_states entry."""
    info = info if isinstance(info, dict) else {}
    states = info.get("internal_states")
    inner = states[0] if isinstance(states, list) and states and isinstance(states[0], dict) else {}
    merged = dict(inner)
    merged.update((k, v) for k, v in info.items() if k != "internal_states")
    return merged


def server_summary(info, model):
    """The identity and the flags that matter, from a /server_info body (flat, or in internal_states)."""
    flat = _flat(info)
    out = dict(model=model)
    for key in SERVER_IDENTITY + SERVER_FLAGS:
        out[key] = flat.get(key)
    preset = get_preset(out["model_path"] or model or "")
    out["known_preset"] = preset["known"]
    # Whether cached tokens are to be expected comes from what the server says, not from the preset's name.
    expectation = prefix_cache_expectation(info, model=model)
    out["prefix_cache_expected"] = expectation["expected"]
    out["prefix_cache_reason"] = expectation["reason"]
    out["prefix_cache_source"] = expectation["source"]
    return out


def server_changes(before, after, fields=COMPARED_FIELDS):
    """{field: {before, after}} of the compared fields that differ between two server_summary() dicts.

    {} when nothing differs; None when either summary is missing (the second /server_info failed).
    """
    if before is None or after is None:
        return None
    return dict((key, dict(before=before.get(key), after=after.get(key)))
                for key in fields if before.get(key) != after.get(key))
