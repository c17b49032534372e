# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sglang_benchmark run, start to end (docs/benchmark.md): measure() and run_benchmark().

The pieces, one concern each:
  benchmark_load     workload plan (seeded or the runbook's), payloads, workers, warm-up, run_load
  benchmark_stats    percentiles, describe(), distributions, aggregation of the records
  benchmark_metrics  /metrics counter deltas and the /server_info summary and its changes
  benchmark_detail   the detail log and requests.jsonl
  sglang_exchange    the one reading of a chat answer (TTFT, E2E, TPOT, ITL, tokens, errors)
This module only orders them: /server_info, warm-up, flush, first scrape, the measured load,
second scrape and /server_info, aggregation, provenance, and the verdict on the measurement
itself (failure(): no success, too many errors, a failed warm-up).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import platform

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_stats as stats
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_metrics as metrics
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_detail as detail

# The version in galaxy.yml (the module runs on the Station, where the collection's files are not):
# tests/unit/plugins/module_utils/test_benchmark_provenance.py checks that they agree.
COLLECTION_VERSION = "0.1.0"

# Why requests of a kind fail, and what to do: the second half of every failure message.
FIXES = (
    ("http_5", "the server failed the requests: read its log (docker logs <container>) for the exception"),
    ("server_error", "the server failed the requests: read its log (docker logs <container>) for the exception"),
    ("http_400", "the server rejected the requests: check max_tokens against the context length, "
                 "chat_template_kwargs and structured_output_schema"),
    ("bad_request", "the server rejected the requests: check max_tokens against the context length, "
                    "chat_template_kwargs and structured_output_schema"),
    ("http_401", "pass the server's --api-key as api_key"),
    ("unauthorized", "pass the server's --api-key as api_key"),
    ("http_404", "the model or the endpoint is not served: check model and base_url"),
    ("http_503", "the server is not ready: wait for it (dgx_station.inference.sglang_wait) before benchmarking"),
    ("not_ready", "the server is not ready: wait for it (dgx_station.inference.sglang_wait) before benchmarking"),
    ("sse_error", "the server failed the streams after they started (a grammar or scheduler error): read its log"),
    ("finish_abort", "the server aborted the requests (out of memory, shutting down or cancelled): read its log, "
                     "lower concurrency or max_tokens"),
    ("finish_", "the answers did not finish (no terminal finish_reason): read the server log"),
    ("timeout", "the answers took longer than timeout: raise timeout, lower concurrency or max_tokens, or check "
                "that the server is not hung"),
    ("connection", "the connection broke or was refused: the server may have crashed or restarted during the run "
                   "(see server_changed and the container log)"),
    ("incomplete_stream", "the streams ended without data: [DONE]: the server or a proxy cut them"),
    ("invalid_", "the answers are not OpenAI chat completions: a proxy or an incompatible server answered"),
    ("client_error", "the client failed unexpectedly: report it with summary.error_samples"),
)


def _fix(kind):
    for prefix, text in FIXES:
        if kind.startswith(prefix):
            return text
    return "see summary.error_samples and the server log"


def _kinds_text(kinds):
    return ", ".join("%s x%d" % (kind, count) for kind, count in sorted(kinds.items(), key=lambda item: -item[1]))


def failure(result, cfg):
    """(kind, message) when the measurement itself must fail the module, else (None, None).

    kinds: warmup (a warm-up request failed; nothing measured), no_success (no request of the
    measured phase succeeded), error_rate (summary.error_rate > max_error_rate). Each message
    names the cause (error kinds, the first error) and the fix.
    """
    warmup = result.get("warmup") or {}
    if warmup.get("errors"):
        first = warmup["error_samples"][0]
        return "warmup", (
            "The warm-up failed, so nothing was measured: %d of %d warm-up requests failed (%s). First: %s: %s. "
            "Fix: %s." % (warmup["errors"], warmup["requests"], _kinds_text(warmup["error_kinds"]), first["kind"],
                          first["message"], _fix(first["kind"])))
    summary = result.get("summary")
    if summary is None:
        return None, None
    kinds = summary["error_kinds"]
    first = summary["error_samples"][0] if summary["error_samples"] else None
    first_text = (" First: conversation %s turn %s%s: %s." % (
        first["conversation"], first["turn"], " (structured)" if first["structured"] else "", first["message"])
        if first else "")
    main_kind = max(kinds.items(), key=lambda item: item[1])[0] if kinds else None
    so = result.get("structured_output") or {}
    only_structured = bool(kinds) and so.get("failed") == summary["errors"]
    fix = ("only the structured-output requests failed: the server could not use structured_output_schema (its "
           "grammar backend did not compile it?); fix the schema or set structured_output_fraction: 0"
           if only_structured else _fix(main_kind) if main_kind else
           "no request was sent in time: raise max_duration_s")
    if summary["succeeded"] == 0:
        return "no_success", ("No request of the measured phase succeeded (%d sent%s)%s Fix: %s." % (
            summary["requests"], ": " + _kinds_text(kinds) if kinds else "", first_text or ".", fix))
    limit = cfg.get("max_error_rate") or 0.0
    if (summary["error_rate"] or 0.0) > limit:
        return "error_rate", (
            "%d of %d requests failed: error rate %s > max_error_rate %s (%s).%s Fix: %s; a run with errors does not "
            "describe a healthy server (raise max_error_rate only to accept errors on purpose)." % (
                summary["errors"], summary["requests"], summary["error_rate"], limit, _kinds_text(kinds), first_text, fix))
    return None, None


def provenance(given, server, model):
    """Where the figures come from: this collection, the model, SGLang, its image, the GPU and the Station."""
    given = dict(given or {})

    def pick(key):
        value = given.get(key)
        return value if value not in ("", {}, []) else None
    return dict(collection_version=COLLECTION_VERSION, model=model, sglang_version=server.get("version"),
                image=pick("image"), image_id=pick("image_id"), image_digest=pick("image_digest"), gpu=pick("gpu"),
                station=pick("station") or platform.node() or None)


def warmup_summary(records):
    failed = [r for r in records if not r.ok]
    return dict(requests=len(records), errors=len(failed),
                error_kinds=dict(collections.Counter(stats.error_label(r) for r in failed)),
                error_samples=stats.error_samples(failed))


class Measurement:
    """What measure() produced: result (dict), detail (text), requests_jsonl (text), failure_kind and msg."""

    def __init__(self, result, detail_text, requests_jsonl, failure_kind, msg):
        self.result = result
        self.detail = detail_text
        self.requests_jsonl = requests_jsonl
        self.failure_kind = failure_kind
        self.msg = msg


def _server_info(client):
    try:
        return client.server_info()
    except SGLangError as error:
        if error.kind != "not_found":
            raise
        return client.get_json("/get_server_info")


def _why(client, error):
    """An SGLangError's message without the server's URL (the notes end up in reports as plain text)."""
    return error.message.replace(client.base_url, "")


def _scrape(client, notes):
    try:
        return client.metrics_text()
    except SGLangError as error:
        notes.append("GET /metrics could not be read (%s): the counter deltas are unavailable" % _why(client, error))
        return None


def measure(client, cfg, validator=None):
    """The whole run: server info, warm-up, flush, metrics, measured load, server info again, aggregation.

    Returns a Measurement whose texts and result hold none of the server's credentials
    (redaction.redact). Raises SGLangError when the server cannot be used at all (unreachable,
    /server_info failing); request-level errors are counted, and failure() turns a run that must
    not pass into failure_kind / msg.
    """
    cfg = load.resolve_config(cfg)
    model = cfg.get("model") or client.served_model()
    known_secrets = [client.api_key]
    info = redact(_server_info(client), known_secrets)
    server = metrics.server_summary(info, model)
    notes = []
    scrapes = {}
    flushed = dict(requested=bool(cfg["flush_cache"]), done=None, message=None)
    result = dict(server=server, provenance=provenance(cfg.get("provenance"), server, model), notes=notes,
                  failure_kind=None)

    def before_measure():
        if cfg["flush_cache"]:
            try:
                text = client.flush_cache()
                flushed["done"] = True
                flushed["message"] = text.strip().splitlines()[0] if text.strip() else ""
            except SGLangError as error:
                flushed["done"] = False
                flushed["message"] = error.message
                notes.append("POST /flush_cache failed (%s): turn 1 may hit the cache of an earlier run" % _why(client, error))
        scrapes["before"] = _scrape(client, notes)

    try:
        state = load.run_load(client, cfg, model, validator, dict(before_measure=before_measure))
    except load.WarmupFailed as failed:
        result["warmup"] = warmup_summary(failed.records)
        kind, msg = failure(result, cfg)
        result["failure_kind"] = kind
        text = detail.detail_text(info, None, None)
        return Measurement(redact(result, known_secrets), redact(text, known_secrets),
                           redact(detail.requests_jsonl(failed.records), known_secrets), kind, redact(msg, known_secrets))
    client.close()
    scrapes["after"] = _scrape(client, notes)
    try:
        info_after = redact(_server_info(client), known_secrets)
        server_after = metrics.server_summary(info_after, model)
    except SGLangError as error:
        info_after = server_after = None
        notes.append("GET /server_info could not be read after the measured phase (%s): the server may have died; "
                     "server_changed is unknown" % _why(client, error))
    changed = metrics.server_changes(server, server_after)
    if changed:
        notes.append("The server changed during the measured phase (%s): the figures may mix two servers" % ", ".join(
            "%s %r -> %r" % (key, value["before"], value["after"]) for key, value in sorted(changed.items())))

    summary, per_turn, structured_output, client_diag, dist = stats.aggregate(state, cfg)
    deltas = metrics.metric_deltas(scrapes.get("before"), scrapes.get("after"))
    summary["flush_cache"] = flushed
    result.update(
        summary=summary,
        per_turn=per_turn,
        structured_output=structured_output,
        server_after=server_after,
        server_changed=changed,
        metrics=deltas,
        client=client_diag,
        distribution=dist,
        warmup=warmup_summary(state.warmup_records),
        token_agreement=metrics.token_agreement(summary, deltas),
    )
    kind, msg = failure(result, cfg)
    result["failure_kind"] = kind
    text = detail.detail_text(info, scrapes.get("before"), scrapes.get("after"), info_after)
    jsonl = detail.requests_jsonl(state.warmup_records + state.records, state.t0)
    return Measurement(redact(result, known_secrets), redact(text, known_secrets), redact(jsonl, known_secrets), kind,
                       redact(msg, known_secrets) if msg else None)


def run_benchmark(client, cfg, validator=None):
    """(result, detail text) of measure(): for callers that need neither requests.jsonl nor the verdict."""
    run = measure(client, cfg, validator)
    return run.result, run.detail
