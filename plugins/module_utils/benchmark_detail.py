# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two files of a benchmark run besides its result: the detail log and requests.jsonl.

detail_text(): like the runbook script's cache detail file, the full /server_info bodies (before
and after the measured phase) and both /metrics scrapes, cache-related lines first.
requests_jsonl(): one JSON object per request, warm-up included (REQUEST_FIELDS, times in ms),
so every summary figure can be recomputed and every error traced to its conversation and turn.
Both are redacted by the caller (benchmark.measure) before they are written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from ansible_collections.dgx_station.inference.plugins.module_utils.benchmark_stats import error_label

# The keys of every requests.jsonl line, in this order (docs/benchmark.md, "requests.jsonl").
REQUEST_FIELDS = ("conversation", "turn", "structured", "warmup", "start_ms", "status", "ok", "error_kind", "error",
                  "aborted", "finish_reason", "ttfb_ms", "ttft_ms", "ttfo_ms", "e2e_ms", "tpot_ms", "itl_count",
                  "itl_ms_max", "chunks", "prompt_tokens", "completion_tokens", "cached_tokens", "json_valid")


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 3)


def _cache_lines(text):
    keys = ("cache", "prefix", "radix", "hit", "reuse")
    return [line for line in (text or "").splitlines() if any(k in line.lower() for k in keys) and not line.startswith("#")]


def detail_text(server_info_body, metrics_before, metrics_after, server_info_after=None):
    """The detail log (like the runbook's cache detail file): full bodies plus the cache-related lines."""
    out = ["# sglang_benchmark detail log", "# written %s" % datetime.datetime.now(datetime.timezone.utc).isoformat(), ""]
    out.append("## GET /server_info")
    out.append(json.dumps(server_info_body, indent=2, sort_keys=True) if server_info_body is not None else "unavailable")
    for title, text in (("before", metrics_before), ("after", metrics_after)):
        out.append("")
        out.append("## GET /metrics (%s the measured phase)" % title)
        if text is None:
            out.append("unavailable (HTTP 404: the server runs without --enable-metrics)")
            continue
        lines = _cache_lines(text)
        out.append("### cache-related lines (%d)" % len(lines))
        out.extend(lines)
        out.append("### full body")
        out.append(text.rstrip("\n"))
    out.append("")
    out.append("## GET /server_info (after the measured phase)")
    out.append(json.dumps(server_info_after, indent=2, sort_keys=True) if server_info_after is not None else "unavailable")
    out.append("")
    return "\n".join(out)


def request_line(rec, t0=None):
    """The requests.jsonl object of one benchmark_load.Record (figures from its ChatExchange)."""
    ex = rec.exchange
    itl = ex.itl
    ok = ex.ok
    return dict(
        conversation=rec.conversation,
        turn=rec.turn,
        structured=bool(rec.structured),
        warmup=bool(rec.warmup),
        start_ms=_ms(ex.t_send - t0) if t0 is not None and ex.t_send is not None else None,
        status=ex.status,
        ok=ok,
        error_kind=None if ok else error_label(rec),
        error=ex.error,
        aborted=bool(rec.aborted),
        finish_reason=ex.finish_reason,
        ttfb_ms=_ms(ex.ttfb),
        ttft_ms=_ms(ex.ttft),
        ttfo_ms=_ms(ex.ttfo),
        e2e_ms=_ms(ex.e2e),
        tpot_ms=_ms(ex.tpot),
        itl_count=len(itl),
        itl_ms_max=_ms(max(itl)) if itl else None,
        chunks=ex.events,
        prompt_tokens=ex.prompt_tokens,
        completion_tokens=ex.completion_tokens,
        cached_tokens=ex.cached_tokens,
        json_valid=rec.json_valid,
    )


def requests_jsonl(records, t0=None):
    """requests.jsonl text: one line per record, in the order given (warm-up first, then the measured phase)."""
    lines = []
    for rec in records:
        line = request_line(rec, t0)
        lines.append(json.dumps(dict((key, line[key]) for key in REQUEST_FIELDS)))
    return "\n".join(lines) + ("\n" if lines else "")
