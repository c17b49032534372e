# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark reports: report.json, per_turn.csv, summary.md and a self-contained report.html.

Input is what the sglang_benchmark module returned, per Station, also when it failed (failed: true
and msg). Output per Station and for the fleet (all Stations of one run side by side). The HTML page
has inline SVG plots drawn here: no script, no external stylesheet, font or image, so it opens
offline; its layout is a string.Template of report_templates. The JSON follows
docs/schemas/benchmark-report.schema.json (schema_version 1).

Every field of the benchmark result is read defensively: a field an older (or failed) result lacks
renders as "n/a", never as an error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import io
import json
import math
from html import escape

from ansible_collections.dgx_station.inference.plugins.module_utils import report_html
from ansible_collections.dgx_station.inference.plugins.module_utils import report_templates
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact

SCHEMA_VERSION = 1
GENERATOR = "dgx_station.inference.sglang_benchmark_report"
NA = "n/a"

# The module result keys a Station report carries.
RESULT_KEYS = ("summary", "per_turn", "structured_output", "server", "server_after", "server_changed", "metrics", "client",
               "distribution", "token_agreement", "config", "warmup", "notes")

# SLO thresholds understood by verdict(); None (and fail_on_client_bound false) = not set.
SLO_KEYS = ("ttft_p90_ms", "itl_p90_ms", "tpot_p90_ms", "e2e_p90_ms", "min_cache_hit_rate", "max_error_rate",
            "min_structured_valid_rate", "fail_on_client_bound")
# Upper limits on a p90 of the chat requests: SLO key -> (summary block, label).
P90_LIMITS = (("ttft_p90_ms", "ttft_ms", "TTFT p90 (ms)"), ("itl_p90_ms", "itl_ms", "ITL p90 (ms)"),
              ("tpot_p90_ms", "tpot_ms", "TPOT p90 (ms)"), ("e2e_p90_ms", "e2e_ms", "E2E p90 (ms)"))
# The checks every verdict makes, whatever the SLO says (max_error_rate falls back to the benchmark's own limit).
RUN_CHECKS = ("benchmark_run", "warmup", "requests_succeeded", "max_error_rate")

# What identifies a measurement, per Station (the benchmark's `provenance`, completed from `server`).
PROVENANCE_KEYS = ("station", "collection_version", "model", "sglang_version", "image", "image_digest", "image_id", "gpu")
# Provenance fields compared across the fleet (station differs by definition).
PROVENANCE_COMPARED = PROVENANCE_KEYS[1:]

# The fewest samples a percentile needs before the report shows it without the low-sample mark; the
# benchmark's describe() blocks name the percentiles below their minimum in `low_sample`.
LOW_SAMPLE_MIN = (("p90", 10), ("p95", 20), ("p99", 100))
# Latency blocks of summary (chat requests only) in the order the tables show them: ITL next to TPOT.
LATENCY_ROWS = (("ttft_ms", "TTFT (ms)"), ("ttfo_ms", "TTFO, first content (ms)"), ("itl_ms", "ITL (ms)"),
                ("tpot_ms", "TPOT (ms)"), ("e2e_ms", "E2E (ms)"), ("ttfb_ms", "TTFB, response head (ms)"))
STRUCTURED_ROWS = (("ttft_ms", "TTFT (ms)"), ("e2e_ms", "E2E (ms)"))
STAT_COLUMNS = ("mean", "p50", "p90", "p95", "p99", "max")

PER_TURN_COLUMNS = ("turn", "n", "errors", "ttft_ms_p50", "ttft_ms_p90", "tpot_ms_p50", "e2e_ms_p50", "e2e_ms_p90",
                    "prompt_tokens_p50", "cached_tokens_p50", "cold_prefill_tokens_p50", "completion_tokens_p50",
                    "hit_rate")

DASHES = ("", "7 3", "2 3", "10 3 2 3")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _get(d, *path):
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _num(value):
    """value when it is a number (not a bool), else None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dict(value):
    return value if isinstance(value, dict) else {}


def low_sample(block):
    """The percentiles of a describe() block its sample count cannot support.

    The block's own `low_sample` list when it has one; else derived from `n` with the benchmark's
    rule (LOW_SAMPLE_MIN), so that an older result is marked the same way.
    """
    if not isinstance(block, dict):
        return []
    marked = block.get("low_sample")
    if isinstance(marked, (list, tuple)):
        return [str(m) for m in marked]
    n = _num(block.get("n"))
    if not n:
        return []
    return [name for name, minimum in LOW_SAMPLE_MIN if n < minimum]


def _structured_block(so, key):
    """structured_output's describe() block of key, or one made of the older `<key>_p50` figure."""
    block = so.get(key)
    if isinstance(block, dict):
        return block
    if so.get(key + "_p50") is not None:
        return dict(n=so.get("requests"), p50=so.get(key + "_p50"))
    return {}


# --------------------------------------------------------------------------- verdicts
PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "not_applicable"


def _check(name, kind, status, value, threshold, message):
    return dict(name=name, kind=kind, status=status, ok=status != FAIL, value=value, threshold=threshold, message=message)


def slo_thresholds(slo):
    """The thresholds that are set: not None (fail_on_client_bound only when true)."""
    return dict((k, v) for k, v in (slo or {}).items() if v is not None and v is not False)


def _low_note(block, key):
    if key not in low_sample(block):
        return ""
    minimum = dict(LOW_SAMPLE_MIN).get(key)
    return " (low sample: n = %s%s)" % (block.get("n"), ", %s needs %d" % (key, minimum) if minimum else "")


def _run_checks(report, slo, measured):
    """The checks no SLO setting turns off: the run finished, the warm-up worked, something succeeded, the error rate."""
    summary = _dict(report.get("summary"))
    checks = []
    if report.get("failed"):
        checks.append(_check("benchmark_run", "run", FAIL, True, None,
                             "the benchmark failed: %s" % (report.get("msg") or "no message")))
    else:
        checks.append(_check("benchmark_run", "run", PASS, False, None, "the benchmark finished"))
    # The benchmark's `warmup` (requests, errors, error_kinds), else the older client.warmup_requests/_errors.
    warmup, client = _dict(report.get("warmup")), _dict(report.get("client"))
    sent = _num(warmup.get("requests", client.get("warmup_requests")))
    errors = _num(warmup.get("errors", client.get("warmup_errors")))
    if errors is None:
        checks.append(_check("warmup", "run", NOT_APPLICABLE, None, 0, "warm-up not reported"))
    elif errors:
        checks.append(_check("warmup", "run", FAIL, errors, 0,
                             "warm-up failed: %d of %s request(s) failed" % (errors, _fmt(sent, 0))))
    elif not sent:
        checks.append(_check("warmup", "run", NOT_APPLICABLE, 0, 0, "no warm-up request"))
    else:
        checks.append(_check("warmup", "run", PASS, 0, 0, "warm-up: %d request(s) answered" % sent))
    if not measured:
        checks.append(_check("requests_succeeded", "run", FAIL, None, 1, "nothing was measured (no summary)"))
        return checks
    requests = _num(summary.get("requests"))
    succeeded = _num(summary.get("succeeded"))
    if succeeded is None and requests is not None:
        succeeded = requests - (_num(summary.get("errors")) or 0)
    if not succeeded:
        checks.append(_check("requests_succeeded", "run", FAIL, succeeded, 1,
                             "no request succeeded (%s of %s)" % (_fmt(succeeded, 0), _fmt(requests, 0))))
    else:
        checks.append(_check("requests_succeeded", "run", PASS, succeeded, 1,
                             "%s of %s requests succeeded" % (_fmt(succeeded, 0), _fmt(requests, 0))))
    if "max_error_rate" in slo:
        kind, limit, source = "slo", slo["max_error_rate"], "limit"
    else:
        # Not an SLO of this report: the benchmark's own max_error_rate (0 unless it was given another).
        own = _num(_get(report, "config", "max_error_rate"))
        kind, limit, source = "run", 0.0 if own is None else own, "the benchmark's limit"
    value = _num(summary.get("error_rate"))
    if value is None:
        checks.append(_check("max_error_rate", kind, FAIL, None, limit, "error rate not measured (no request sent)"))
    else:
        checks.append(_check("max_error_rate", kind, PASS if value <= limit else FAIL, value, limit,
                             "error rate = %s (%s errors of %s), %s %s" % (
                                 value, _fmt(summary.get("errors"), 0), _fmt(requests, 0), source, limit)))
    return checks


def verdict(report, slo):
    """PASS/FAIL of one Station report: the run checks, then the SLO thresholds that are set.

    The run checks always apply (RUN_CHECKS): the benchmark did not fail (a failed module result
    carries failed/msg), at least one request succeeded, no warm-up request failed, and the error
    rate is within max_error_rate (the SLO's, else the benchmark's own, 0 by default).
    status: fail (any check fails), pass (none fails and at least one SLO threshold is set),
    no_slo (none fails and every SLO threshold was cleared; `not_set` names them).
    A set check whose value is missing fails, except: the cache-hit check when the server's
    prefix cache is not expected to carry across requests (server.prefix_cache_expected false,
    reason in server.prefix_cache_reason) and the structured-output check without structured
    requests, which are "not_applicable"; when nothing was measured at all the SLO checks are
    not applicable either (the run checks already fail).
    """
    slo = slo_thresholds(slo)
    summary = report.get("summary")
    measured = isinstance(summary, dict) and bool(summary)
    summary = _dict(summary)
    checks = _run_checks(report, slo, measured)

    def unmeasured(name, limit):
        checks.append(_check(name, "slo", NOT_APPLICABLE, None, limit, "not measured: the benchmark failed before measuring"))

    if not measured and "max_error_rate" in slo:
        unmeasured("max_error_rate", slo["max_error_rate"])

    for name, key, what in P90_LIMITS:
        if name not in slo:
            continue
        limit = slo[name]
        if not measured:
            unmeasured(name, limit)
            continue
        block = _dict(summary.get(key))
        value = _num(block.get("p90"))
        if value is None:
            checks.append(_check(name, "slo", FAIL, None, limit, "%s not measured" % what))
        else:
            checks.append(_check(name, "slo", PASS if value <= limit else FAIL, value, limit,
                                 "%s = %s, limit %s%s" % (what, value, limit, _low_note(block, "p90"))))
    if "min_cache_hit_rate" in slo:
        limit = slo["min_cache_hit_rate"]
        value = _num(summary.get("cache_hit_rate"))
        if not measured:
            unmeasured("min_cache_hit_rate", limit)
        elif _get(report, "server", "prefix_cache_expected") is False:
            reason = _get(report, "server", "prefix_cache_reason") or "this model's prefix cache does not carry across requests"
            checks.append(_check("min_cache_hit_rate", "slo", NOT_APPLICABLE, value, limit,
                                 "cache hit rate not applicable: %s" % reason))
        elif value is None:
            checks.append(_check("min_cache_hit_rate", "slo", FAIL, None, limit,
                                 "no cached tokens reported: start SGLang with --enable-cache-report"))
        else:
            checks.append(_check("min_cache_hit_rate", "slo", PASS if value >= limit else FAIL, value, limit,
                                 "cache hit rate = %s, minimum %s" % (value, limit)))
    if "min_structured_valid_rate" in slo:
        limit = slo["min_structured_valid_rate"]
        so = _dict(report.get("structured_output"))
        answered = _num(so.get("requests"))
        if not measured:
            unmeasured("min_structured_valid_rate", limit)
        elif not answered:
            checks.append(_check("min_structured_valid_rate", "slo", NOT_APPLICABLE, None, limit,
                                 "no structured-output request answered: not applicable"))
        else:
            valid = _num(so.get("valid")) or 0
            value = round(float(valid) / answered, 4)
            checks.append(_check("min_structured_valid_rate", "slo", PASS if value >= limit else FAIL, value, limit,
                                 "structured outputs valid %d/%d, minimum %s" % (valid, answered, limit)))
    if slo.get("fail_on_client_bound"):
        if not measured:
            unmeasured("fail_on_client_bound", False)
        else:
            bound = bool(summary.get("client_bound"))
            checks.append(_check("fail_on_client_bound", "slo", FAIL if bound else PASS, bound, False,
                                 "client-bound run: " + "; ".join(_get(report, "client", "client_bound_reasons") or [])
                                 if bound else "the client did not limit the run"))
    if any(c["status"] == FAIL for c in checks):
        status = "fail"
    elif any(c["kind"] == "slo" for c in checks):
        status = "pass"
    else:
        status = "no_slo"
    return dict(status=status, checks=checks, reasons=[c["message"] for c in checks if c["status"] == FAIL],
                not_set=[k for k in SLO_KEYS if k not in slo])


# --------------------------------------------------------------------------- report documents
def _provenance(host, given, server, extra):
    """PROVENANCE_KEYS (None where unknown) from the benchmark's provenance, completed from server; extra on top."""
    out = dict((key, None) for key in PROVENANCE_KEYS)
    out.update(_dict(given))
    server = _dict(server)
    for key, fallback in (("station", host), ("model", server.get("model")), ("sglang_version", server.get("version"))):
        if out.get(key) in (None, ""):
            out[key] = fallback
    out.update(_dict(extra))
    return redact(out)


def station_report(host, result, run_name="benchmark", slo=None, extra=None):
    """The report.json document of one Station from its sglang_benchmark result (credentials redacted).

    A failed result (failed: true, msg) gives a report with failed/msg (and error_kind) and a FAIL verdict,
    with whatever figures the result still carries.
    """
    result = _dict(result)
    report = dict(schema_version=SCHEMA_VERSION, kind="station", generator=GENERATOR, generated_at=_now(),
                  run=run_name, host=host)
    for key in RESULT_KEYS:
        if key in result:
            report[key] = redact(result[key])
    report.setdefault("token_agreement", None)
    report.setdefault("config", {})
    # failure_kind without failed: the module would have failed on it (a result passed on by other means).
    if result.get("failed") or result.get("failure_kind"):
        report["failed"] = True
        report["msg"] = redact(str(result.get("msg") or "the benchmark failed (%s)" % (result.get("failure_kind") or "no message")))
        for key in ("failure_kind", "error_kind"):
            if result.get(key):
                report[key] = str(result[key])
    report["provenance"] = _provenance(host, result.get("provenance"), report.get("server"), extra)
    report["slo"] = dict((k, v) for k, v in (slo or {}).items() if v is not None)
    report["verdict"] = verdict(report, slo)
    return report


def _median(values):
    data = sorted(values)
    if not data:
        return None
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2.0


FLEET_METRICS = (("ttft_ms_p50", ("summary", "ttft_ms", "p50")), ("itl_ms_p50", ("summary", "itl_ms", "p50")),
                 ("e2e_ms_p50", ("summary", "e2e_ms", "p50")), ("output_tokens_per_s", ("summary", "output_tokens_per_s")),
                 ("total_tokens_per_s", ("summary", "total_tokens_per_s")), ("requests_per_s", ("summary", "requests_per_s")),
                 ("cache_hit_rate", ("summary", "cache_hit_rate")))


def gpu_text(gpu):
    """One line for the provenance's gpu: a name, a dict (name, memory, driver) or a list of them."""
    if gpu is None or gpu == "":
        return None
    if isinstance(gpu, (list, tuple)):
        return ", ".join(t for t in (gpu_text(g) for g in gpu) if t) or None
    if isinstance(gpu, dict):
        name = gpu.get("name") or gpu.get("model") or "GPU"
        extra = []
        if gpu.get("memory_total_mib") is not None:
            extra.append("%s MiB" % gpu["memory_total_mib"])
        if gpu.get("driver_version"):
            extra.append("driver %s" % gpu["driver_version"])
        return "%s%s" % (name, " (%s)" % ", ".join(extra) if extra else "")
    return str(gpu)


def _text(value):
    """A provenance value as one line: lists (an image's several repo digests) joined."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value if v not in (None, "")) or None
    return None if value in (None, "") else str(value)


def short_digest(digest):
    """`sha256:0123456789ab` (12 hex digits) of a digest, also of `repo@sha256:...`; lists item by item."""
    if isinstance(digest, (list, tuple)):
        return ", ".join(d for d in (short_digest(x) for x in digest) if d) or None
    if not digest:
        return None
    digest = str(digest).rsplit("@", 1)[-1]
    algo, sep, value = digest.rpartition(":")
    return (algo + sep if sep else "") + value[:12]


def _value_text(value):
    text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else _fmt(value)
    return text if len(text) <= 60 else text[:57] + "..."


def server_changes(report):
    """[(field, before, after)] of the fields /server_info changed during the run (texts).

    server_changed is a list of field names (values from server and server_after) or a dict
    field -> {before, after}; anything else (null: the second /server_info failed) gives [].
    """
    changed = report.get("server_changed")
    before, after = _dict(report.get("server")), _dict(report.get("server_after"))
    if isinstance(changed, dict):
        return [(str(f), _value_text(_dict(v).get("before")) if "before" in _dict(v) else NA,
                 _value_text(_dict(v).get("after")) if "after" in _dict(v) else NA) for f, v in sorted(changed.items(), key=str)]
    if not isinstance(changed, (list, tuple)):
        return []
    return [(str(f), _value_text(before.get(f)) if f in before else NA, _value_text(after.get(f)) if f in after else NA)
            for f in changed]


def server_change_unknown(report):
    """True when the benchmark could not compare /server_info before and after (server_changed null)."""
    return "server_changed" in report and report["server_changed"] is None and not report.get("failed")


def fleet_report(reports, run_name="benchmark", slo=None):
    """The fleet report: every Station report, a row per Station, the spread, the outliers (> 2 x MAD) and
    the provenance fields that differ between Stations.

    Fleet verdict: fail when there is no Station or any Station fails, else pass when any passes, else
    no_slo (every threshold cleared).
    """
    reports = sorted(reports, key=lambda r: r["host"])
    rows = []
    for r in reports:
        s = _dict(r.get("summary"))
        prov = _dict(r.get("provenance"))
        so = _dict(r.get("structured_output"))
        rows.append(dict(
            host=r["host"], failed=bool(r.get("failed")), msg=r.get("msg"),
            model=prov.get("model") or _get(r, "server", "model"), version=_get(r, "server", "version"),
            sglang_version=prov.get("sglang_version") or _get(r, "server", "version"),
            collection_version=prov.get("collection_version"), image=prov.get("image"),
            image_digest=prov.get("image_digest"), image_id=_text(prov.get("image_id")), gpu=gpu_text(prov.get("gpu")),
            requests=s.get("requests"), errors=s.get("errors"), error_rate=s.get("error_rate"),
            requests_per_s=s.get("requests_per_s"), output_tokens_per_s=s.get("output_tokens_per_s"),
            total_tokens_per_s=s.get("total_tokens_per_s"),
            ttft_ms_p50=_get(s, "ttft_ms", "p50"), ttft_ms_p90=_get(s, "ttft_ms", "p90"),
            itl_ms_p50=_get(s, "itl_ms", "p50"), itl_ms_p90=_get(s, "itl_ms", "p90"),
            tpot_ms_p50=_get(s, "tpot_ms", "p50"), tpot_ms_p90=_get(s, "tpot_ms", "p90"),
            e2e_ms_p50=_get(s, "e2e_ms", "p50"), e2e_ms_p90=_get(s, "e2e_ms", "p90"),
            cache_hit_rate=s.get("cache_hit_rate"), client_bound=bool(s.get("client_bound")) if s else None,
            structured_requests=so.get("requests"), structured_valid=so.get("valid"),
            server_changed=[c[0] for c in server_changes(r)],
            verdict=_get(r, "verdict", "status"), reasons=list(_get(r, "verdict", "reasons") or []), outlier_metrics=[]))
    spread = {}
    for name, path in FLEET_METRICS:
        values = [(row, _num(_get(rep, *path))) for row, rep in zip(rows, reports)]
        present = [v for _row, v in values if v is not None]
        med = _median(present)
        mad = _median([abs(v - med) for v in present]) if present else None
        outliers = []
        if len(present) >= 3 and mad:
            for row, v in values:
                if v is not None and abs(v - med) > 2 * mad:
                    outliers.append(row["host"])
                    row["outlier_metrics"].append(name)
        spread[name] = dict(n=len(present), median=med, mad=mad, min=min(present) if present else None,
                            max=max(present) if present else None, outliers=outliers)
    differs = {}
    for key in PROVENANCE_COMPARED:
        seen = {}
        for r in reports:
            value = _dict(r.get("provenance")).get(key)
            if value not in (None, ""):
                seen.setdefault(json.dumps(value, sort_keys=True) if not isinstance(value, str) else value, []).append(r["host"])
        if len(seen) > 1:
            differs[key] = dict((v, sorted(h)) for v, h in seen.items())
    failed = [row["host"] for row in rows if row["verdict"] == "fail"]
    statuses = set(row["verdict"] for row in rows)
    if not rows:
        status, message = "fail", "no Station report"
    elif failed:
        status, message = "fail", "%d/%d Stations fail (%s)" % (len(failed), len(rows), ", ".join(failed))
    elif "pass" in statuses:
        status, message = "pass", "%d/%d Stations pass" % (len([x for x in rows if x["verdict"] == "pass"]), len(rows))
    else:
        status, message = "no_slo", "no SLO threshold set; the run checks pass on %d/%d Stations" % (len(rows), len(rows))
    fleet_slo = dict((k, v) for k, v in (slo or {}).items() if v is not None)
    return dict(schema_version=SCHEMA_VERSION, kind="fleet", generator=GENERATOR, generated_at=_now(), run=run_name,
                slo=fleet_slo, stations=rows, spread=spread, provenance_differs=differs,
                verdict=dict(status=status, failed_hosts=failed, message=message,
                             reasons=dict((row["host"], row["reasons"]) for row in rows if row["verdict"] == "fail"),
                             not_set=[k for k in SLO_KEYS if k not in slo_thresholds(slo)]),
                reports=reports)


# --------------------------------------------------------------------------- formatting
def _fmt(value, digits=1):
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if digits == 0 or value == int(value) and abs(value) >= 100:
            return "%d" % round(value)
        return ("%%.%df" % digits) % value
    return str(value)


def _stat(block, key, digits=1):
    """A percentile (or other figure) of a describe() block as text, `*` appended when it is low-sample."""
    block = _dict(block)
    value = block.get(key)
    text = _fmt(value, digits)
    return text + "*" if value is not None and key in low_sample(block) else text


def _marked(blocks):
    """The low-sample percentiles shown (with a value) in these blocks, in LOW_SAMPLE_MIN order, then others."""
    names = set()
    for block in blocks:
        block = _dict(block)
        names.update(k for k in low_sample(block) if block.get(k) is not None)
    order = [name for name, _minimum in LOW_SAMPLE_MIN]
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def low_sample_footnote(blocks):
    """`* low sample: p95 from fewer than 20 samples, ...` for the marked percentiles; "" when none is."""
    names = _marked(blocks)
    if not names:
        return ""
    minimum = dict(LOW_SAMPLE_MIN)
    parts = ["%s from fewer than %d samples" % (n, minimum[n]) if n in minimum else "%s from too few samples" % n for n in names]
    return "* low sample, indicative only: " + ", ".join(parts)


def provenance_items(report):
    """[(label, text)] of the Station's provenance, n/a where unknown."""
    prov = _dict(report.get("provenance"))
    items = [("Station", _fmt(prov.get("station") or report.get("host"))),
             ("Collection", "dgx_station.inference %s" % _fmt(prov.get("collection_version"))),
             ("Model", _fmt(prov.get("model"))), ("SGLang", _fmt(prov.get("sglang_version"))),
             ("Image", _fmt(prov.get("image"))), ("Image digest", _fmt(_text(prov.get("image_digest"))))]
    if prov.get("image_id"):
        items.append(("Image ID", _fmt(_text(prov.get("image_id")))))
    return items + [("GPU", _fmt(gpu_text(prov.get("gpu"))))]


SERVER_UNKNOWN_NOTE = "/server_info could not be read after the run: whether the server changed during it is unknown."


def benchmark_warnings(report):
    """The benchmark's own warnings (flush failed, /metrics unreadable, ...) as texts."""
    # "notes", not "warnings": Ansible takes a module result's warnings key for its own.
    warnings = report.get("notes")
    if isinstance(warnings, str):
        warnings = [warnings]
    return [str(w) for w in warnings or [] if w] if isinstance(warnings, (list, tuple, str)) else []


def prefix_cache_note(report):
    """The sentence on a prefix cache that is not expected to carry over, or None."""
    if _get(report, "server", "prefix_cache_expected") is not False:
        return None
    reason = _get(report, "server", "prefix_cache_reason") or "this model's prefix cache does not carry across requests"
    return "Prefix cache not expected to carry across requests: %s. A cache-hit threshold is not applicable." % reason


def _structured(report):
    so = _dict(report.get("structured_output"))
    answered = _num(so.get("requests")) or 0
    rate = so.get("valid_rate")
    if rate is None and answered:
        rate = round(float(_num(so.get("valid")) or 0) / answered, 4)
    return so, answered, rate


# --------------------------------------------------------------------------- CSV and Markdown
def per_turn_csv(reports):
    """per_turn.csv text; with several Stations a leading `host` column."""
    out = io.StringIO()
    multi = len(reports) > 1
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((("host",) if multi else ()) + PER_TURN_COLUMNS)
    for r in reports:
        for row in r.get("per_turn") or []:
            values = tuple("" if row.get(c) is None else row.get(c) for c in PER_TURN_COLUMNS)
            writer.writerow(((r["host"],) if multi else ()) + values)
    return out.getvalue()


STATUS_LABEL = {PASS: "PASS", FAIL: "FAIL", NOT_APPLICABLE: "N/A"}


def _check_status(c):
    return c.get("status") or (PASS if c.get("ok") else FAIL)


def _verdict_md(v):
    lines = ["**Verdict: %s**" % v["status"].upper().replace("_", " ")]
    checks = v.get("checks", [])
    for kind, title in (("run", "Run checks (always apply)"), ("slo", "SLO checks")):
        group = [c for c in checks if c.get("kind", "slo") == kind]
        if group:
            lines.append("")
            lines.append("%s:" % title)
            for c in group:
                lines.append("- %s %s: %s" % (STATUS_LABEL.get(_check_status(c), "?"), c["name"], c["message"]))
    not_set = v.get("not_set") or []
    if v["status"] == "no_slo":
        lines.append("")
        lines.append("No SLO threshold set: %s were cleared, so only the run checks were made." % ", ".join(not_set))
    elif not_set:
        lines.append("")
        lines.append("Not set (not checked): %s." % ", ".join(not_set))
    return lines


def _md_stats_table(title, blocks):
    """A `| title | n | mean | p50 | ... |` table of [(label, block)] with low-sample marks."""
    lines = ["| %s | n | %s |" % (title, " | ".join(STAT_COLUMNS)), "|---|" + "---:|" * (len(STAT_COLUMNS) + 1)]
    for label, block in blocks:
        lines.append("| %s | %s | %s |" % (label, _fmt(_dict(block).get("n")), " | ".join(_stat(block, k) for k in STAT_COLUMNS)))
    return lines


MD_PROVENANCE_LABELS = {"Station": "station", "Collection": "collection", "Model": "model", "Image": "image",
                        "Image digest": "image digest", "Image ID": "image ID"}


def station_markdown(report):
    s = _dict(report.get("summary"))
    srv = _dict(report.get("server"))
    cfg = _dict(report.get("config"))
    lines = ["# SGLang benchmark: %s (%s)" % (report["host"], report["run"]), ""]
    if report.get("failed"):
        lines.append("**The benchmark FAILED: %s**" % (report.get("msg") or "no message"))
        lines.append("")
    lines.append("Provenance: " + ", ".join("%s %s" % (MD_PROVENANCE_LABELS.get(label, label), text)
                                            for label, text in provenance_items(report)) + ".")
    lines.append("Model `%s`, SGLang %s, page_size %s, attention %s, cache report %s, radix cache %s." % (
        _fmt(srv.get("model")), _fmt(srv.get("version")), _fmt(srv.get("page_size")), _fmt(srv.get("attention_backend")),
        _fmt(srv.get("enable_cache_report")), NA if "disable_radix_cache" not in srv else "off" if srv.get("disable_radix_cache") else "on"))
    note = prefix_cache_note(report)
    if note:
        lines.append(note)
    changes = server_changes(report)
    if changes:
        lines.append("**Server settings changed during the run**: %s." % "; ".join(
            "%s %s -> %s" % change for change in changes))
    elif server_change_unknown(report):
        lines.append(SERVER_UNKNOWN_NOTE)
    for warning in benchmark_warnings(report):
        lines.append("Warning from the benchmark: %s" % warning)
    lines.append("%s conversations x %s turns, concurrency %s, max_tokens %s, stream %s, seed %s." % (
        _fmt(cfg.get("num_conversations")), _fmt(cfg.get("turns_per_conversation")), _fmt(cfg.get("concurrency")),
        _fmt(cfg.get("max_tokens")), _fmt(cfg.get("stream")), _fmt(cfg.get("seed"))))
    lines.append("")
    lines.append("| Turn | Median wall time (ms) | P90 wall time (ms) | Median prompt tokens | Median cached prefill tokens "
                 "| Median TTFT (ms) | P90 TTFT (ms) | Hit rate | Errors |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in report.get("per_turn") or []:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row.get("turn"), _fmt(row.get("e2e_ms_p50")), _fmt(row.get("e2e_ms_p90")), _fmt(row.get("prompt_tokens_p50"), 0),
            _fmt(row.get("cached_tokens_p50"), 0), _fmt(row.get("ttft_ms_p50")), _fmt(row.get("ttft_ms_p90")),
            _fmt(row.get("hit_rate"), 3), _fmt(row.get("errors"))))
    lines.append("")
    lines.append("Chat requests (structured output excluded):")
    lines.append("")
    chat = [(label, s.get(key)) for key, label in LATENCY_ROWS]
    lines.extend(_md_stats_table("Chat requests", chat))
    so, answered, rate = _structured(report)
    structured = [(label, _structured_block(so, key)) for key, label in STRUCTURED_ROWS]
    lines.append("")
    cut = _num(so.get("invalid_cut_by_max_tokens"))
    lines.append("Structured outputs valid %s/%s (invalid %s%s, failed %s), valid rate %s." % (
        _fmt(so.get("valid", 0 if so else None)), _fmt(so.get("requests", 0 if so else None)), _fmt(so.get("invalid")),
        ", %d of them cut by max_tokens" % cut if cut else "", _fmt(so.get("failed")), _fmt(rate, 3)))
    if answered:
        lines.append("")
        lines.extend(_md_stats_table("Structured-output requests", structured))
    footnote = low_sample_footnote([b for _l, b in chat] + ([b for _l, b in structured] if answered else []))
    if footnote:
        lines.append("")
        lines.append("`*`" + footnote[1:])
    lines.append("")
    client = _dict(report.get("client"))
    lines.append("- Requests %s, errors %s (%s), not sent %s, duration %s s%s" % (
        _fmt(s.get("requests")), _fmt(s.get("errors")),
        ", ".join("%s %s" % kv for kv in sorted(_dict(s.get("error_kinds")).items())) or "none",
        _fmt(s.get("not_sent")), _fmt(s.get("duration_s"), 2), ", TRUNCATED by max_duration_s" if s.get("truncated") else ""))
    lines.append("- %s req/s, %s output tok/s, %s total tok/s (prompt + completion), cache hit rate %s" % (
        _fmt(s.get("requests_per_s"), 2), _fmt(s.get("output_tokens_per_s"), 1), _fmt(s.get("total_tokens_per_s"), 1),
        _fmt(s.get("cache_hit_rate"), 3)))
    metrics = report.get("metrics")
    if isinstance(metrics, dict):
        lines.append("- Server counters: " + ", ".join("%s +%s" % (k.replace("sglang:", ""), _fmt(v, 0))
                                                       for k, v in sorted(metrics.items()) if isinstance(v, (int, float))))
    else:
        lines.append("- Server counters: /metrics unavailable (add --enable-metrics to see them)")
    lines.append("- Client: %s ms CPU per request, %s of a core, dispatch lag p99 %s ms, client-bound %s" % (
        _fmt(client.get("cpu_per_request_ms"), 3), _fmt(client.get("cpu_fraction_of_core"), 2),
        _fmt(_get(client, "dispatch_lag_ms", "p99"), 2), _fmt(bool(client.get("client_bound")))))
    lines.append("")
    lines.extend(_verdict_md(report["verdict"]))
    lines.append("")
    return "\n".join(lines)


def _md_cell(value):
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _fleet_cells(row, rep):
    """The Stations-table cells of one fleet row, plain text, low-sample percentiles marked from its report."""
    s = _dict(rep.get("summary"))
    return [_fmt(row["host"]), _fmt(row["model"]), _fmt(row["sglang_version"]), _fmt(row["requests"]), _fmt(row["errors"]),
            _fmt(row["requests_per_s"], 2), _fmt(row["output_tokens_per_s"]), _fmt(row["total_tokens_per_s"]),
            _stat(s.get("ttft_ms"), "p50"), _stat(s.get("ttft_ms"), "p90"), _stat(s.get("itl_ms"), "p50"),
            _stat(s.get("itl_ms"), "p90"), _stat(s.get("tpot_ms"), "p50"), _stat(s.get("tpot_ms"), "p90"),
            _stat(s.get("e2e_ms"), "p50"), _stat(s.get("e2e_ms"), "p90"), _fmt(row["cache_hit_rate"], 3),
            _fmt(row["client_bound"]), row["verdict"] or NA, ", ".join(row["outlier_metrics"]) or "-"]


FLEET_HEADERS = ("Station", "Model", "SGLang", "Requests", "Errors", "req/s", "out tok/s", "total tok/s", "TTFT p50",
                 "TTFT p90", "ITL p50", "ITL p90", "TPOT p50", "TPOT p90", "E2E p50", "E2E p90", "Hit rate", "Client-bound",
                 "Verdict", "Outlier (>2 MAD)")
# The cells of FLEET_HEADERS that are percentiles (may carry the low-sample mark).
FLEET_STAT_CELLS = frozenset(range(8, 16))
PROVENANCE_HEADERS = ("Station", "Collection", "Model", "SGLang", "Image", "Image digest", "Image ID", "GPU")
FLEET_STRUCTURED_HEADERS = ("Station", "Answered", "Valid", "Valid rate", "TTFT p50", "TTFT p90", "E2E p50", "E2E p90")


def _fleet_footnote(reports):
    blocks = []
    for r in reports:
        s = _dict(r.get("summary"))
        blocks.extend(dict((k, v) for k, v in _dict(s.get(key)).items() if k in ("n", "low_sample", "p50", "p90"))
                      for key in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"))
        so, answered, _rate = _structured(r)
        if answered:
            blocks.extend(dict((k, v) for k, v in _structured_block(so, key).items() if k in ("n", "low_sample", "p50", "p90"))
                          for key in ("ttft_ms", "e2e_ms"))
    return low_sample_footnote(blocks)


def _fleet_provenance_rows(fleet):
    return [[row["host"], row["collection_version"], row["model"], row["sglang_version"], row["image"],
             short_digest(row["image_digest"]), short_digest(row["image_id"]), row["gpu"]] for row in fleet["stations"]]


def _fleet_structured_rows(fleet):
    rows = []
    for r in fleet["reports"]:
        so, answered, rate = _structured(r)
        if not answered:
            rows.append([r["host"], _fmt(so.get("requests", 0) if so else None), NA, NA, NA, NA, NA, NA])
            continue
        ttft, e2e = _structured_block(so, "ttft_ms"), _structured_block(so, "e2e_ms")
        rows.append([r["host"], _fmt(answered), _fmt(so.get("valid")), _fmt(rate, 3), _stat(ttft, "p50"), _stat(ttft, "p90"),
                     _stat(e2e, "p50"), _stat(e2e, "p90")])
    return rows


def _fleet_notes(fleet):
    """Plain-text notes: server settings changed, prefix cache not expected, provenance differences (failures: the verdict)."""
    notes = []
    for r in fleet["reports"]:
        changes = server_changes(r)
        if changes:
            notes.append("%s: server settings changed during the run: %s" % (
                r["host"], "; ".join("%s %s -> %s" % change for change in changes)))
        elif server_change_unknown(r):
            notes.append("%s: %s" % (r["host"], SERVER_UNKNOWN_NOTE))
        note = prefix_cache_note(r)
        if note:
            notes.append("%s: %s" % (r["host"], note))
        notes.extend("%s: warning from the benchmark: %s" % (r["host"], w) for w in benchmark_warnings(r))
    for key, values in sorted(_dict(fleet.get("provenance_differs")).items()):
        notes.append("Stations differ in %s: %s" % (key, "; ".join(
            "%s on %s" % (value, ", ".join(hosts)) for value, hosts in sorted(values.items()))))
    return notes


def _fleet_verdict_text(fleet):
    v = fleet["verdict"]
    failed = v["failed_hosts"]
    text = "Fleet verdict: %s" % v["status"].upper().replace("_", " ")
    return text, " (failed: %s)" % ", ".join(failed) if failed else ""


def fleet_markdown(fleet):
    reports = fleet["reports"]
    lines = ["# SGLang benchmark fleet report (%s)" % fleet["run"], ""]
    lines.append("| %s |" % " | ".join(FLEET_HEADERS))
    lines.append("|---|---|---|" + "---:|" * (len(FLEET_HEADERS) - 6) + "---|---|---|")
    for row, rep in zip(fleet["stations"], reports):
        lines.append("| %s |" % " | ".join(_md_cell(c) for c in _fleet_cells(row, rep)))
    footnote = _fleet_footnote(reports)
    if footnote:
        lines.append("")
        lines.append("`*`" + footnote[1:])
    lines.append("")
    lines.append("Provenance:")
    lines.append("")
    lines.append("| %s |" % " | ".join(PROVENANCE_HEADERS))
    lines.append("|" + "---|" * len(PROVENANCE_HEADERS))
    for cells in _fleet_provenance_rows(fleet):
        lines.append("| %s |" % " | ".join(_md_cell(c) for c in cells))
    lines.append("")
    lines.append("Structured output (apart from the chat latency above):")
    lines.append("")
    lines.append("| %s |" % " | ".join(FLEET_STRUCTURED_HEADERS))
    lines.append("|---|" + "---:|" * (len(FLEET_STRUCTURED_HEADERS) - 1))
    for cells in _fleet_structured_rows(fleet):
        lines.append("| %s |" % " | ".join(_md_cell(c) for c in cells))
    lines.append("")
    notes = _fleet_notes(fleet)
    for note in notes:
        lines.append("- %s" % note)
    if notes:
        lines.append("")
    text, failed = _fleet_verdict_text(fleet)
    lines.append("**%s**%s" % (text, failed))
    v = fleet["verdict"]
    for host, reasons in sorted(_dict(v.get("reasons")).items()):
        lines.append("- %s: %s" % (host, "; ".join(reasons) or "fail"))
    if v["status"] == "no_slo":
        lines.append("")
        lines.append("No SLO threshold set: %s were cleared, so only the run checks were made." % ", ".join(v.get("not_set") or []))
    elif not reports:
        lines.append("")
        lines.append("No Station report.")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- SVG plots
def _nice_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            step = m * mag
            break
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(v):
    if abs(v) >= 1000:
        return "%gk" % (v / 1000.0)
    return "%g" % v


def svg_line_chart(title, series, x_label, y_label, integer_x=False, width=560, height=320, markers=True):
    """An inline SVG line chart. series: [(name, color, [(x, y), ...])]; points with y None are skipped."""
    left, right, top, bottom = 64, 16, 34, 74
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, y) for _n, _c, data in series for x, y in data if x is not None and y is not None]
    out = ['<svg class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           '<title>%s</title>' % escape(title),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
           '<text x="%d" y="20" class="ct">%s</text>' % (left, escape(title))]
    if not pts:
        out.append('<text x="%d" y="%d" class="na">no data</text>' % (left + pw // 2 - 30, top + ph // 2))
        out.append("</svg>")
        return "\n".join(out)
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x_lo, x_hi = min(xs), max(xs)
    if integer_x:
        x_ticks = list(range(int(x_lo), int(x_hi) + 1))
        x_lo, x_hi = x_lo - 0.25, x_hi + 0.25
        if x_hi - x_lo < 1:
            x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    else:
        x_ticks = _nice_ticks(x_lo, x_hi)
        x_lo, x_hi = x_ticks[0], x_ticks[-1]
    y_ticks = _nice_ticks(min([0.0] + ys), max(ys))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def sx(x):
        return left + (x - x_lo) / float(x_hi - x_lo or 1) * pw

    def sy(y):
        return top + ph - (y - y_lo) / float(y_hi - y_lo or 1) * ph

    out.append('<g class="grid">')
    for t in y_ticks:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>' % (left, sy(t), left + pw, sy(t)))
        out.append('<text x="%d" y="%.1f" class="yt">%s</text>' % (left - 6, sy(t) + 4, _tick_label(t)))
    for t in x_ticks:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>' % (sx(t), top, sx(t), top + ph))
        out.append('<text x="%.1f" y="%d" class="xt">%s</text>' % (sx(t), top + ph + 16, _tick_label(t)))
    out.append("</g>")
    out.append('<rect x="%d" y="%d" width="%d" height="%d" class="frame"/>' % (left, top, pw, ph))
    out.append('<text x="%d" y="%d" class="xl">%s</text>' % (left + pw // 2, top + ph + 34, escape(x_label)))
    out.append('<text transform="translate(14 %d) rotate(-90)" class="yl">%s</text>' % (top + ph // 2, escape(y_label)))
    for index, (name, color, data) in enumerate(series):
        clean = [(x, y) for x, y in data if x is not None and y is not None]
        if not clean:
            continue
        path = " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in clean)
        dash = DASHES[index % len(DASHES)]
        out.append('<g class="series" data-series="%s">' % escape(name, quote=True))
        out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>' % (
            color, ' stroke-dasharray="%s"' % dash if dash else "", path))
        if markers and len(clean) <= 40:
            for x, y in clean:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s, %s</title></circle>'
                           % (sx(x), sy(y), color, escape(name), _tick_label(x), ("%.3g" % y)))
        out.append("</g>")
    # Legend under the plot, wrapping.
    lx, ly = left, top + ph + 52
    for name, color, _data in series:
        label = escape(name)
        w = 24 + 7 * len(name)
        if lx + w > width - right:
            lx, ly = left, ly + 16
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (lx, ly - 4, color))
        out.append('<text x="%d" y="%d" class="lg">%s</text>' % (lx + 18, ly, label))
        lx += w
    out.append("</svg>")
    return "\n".join(out)


def _series(reports, fn):
    return [(r["host"], PALETTE[i % len(PALETTE)], fn(r)) for i, r in enumerate(reports)]


def _per_turn_points(key):
    return lambda r: [(row.get("turn"), row.get(key)) for row in (r.get("per_turn") or [])]


def _cdf_points(key):
    def fn(r):
        q = _get(r, "distribution", key) or []
        n = len(q)
        return [(v, 100.0 * i / (n - 1)) for i, v in enumerate(q)] if n > 1 else [(v, 100.0) for v in q]
    return fn


def charts(reports):
    """The four plots of a report page, one series per Station."""
    return [
        svg_line_chart("TTFT by turn (median)", _series(reports, _per_turn_points("ttft_ms_p50")), "turn", "TTFT p50 (ms)",
                       integer_x=True),
        svg_line_chart("Cached prefill tokens by turn (median)", _series(reports, _per_turn_points("cached_tokens_p50")),
                       "turn", "cached tokens p50", integer_x=True),
        svg_line_chart("TTFT distribution (CDF)", _series(reports, _cdf_points("ttft_ms")), "TTFT (ms)", "% of requests",
                       markers=False),
        svg_line_chart("End-to-end latency distribution (CDF)", _series(reports, _cdf_points("e2e_ms")), "E2E latency (ms)",
                       "% of requests", markers=False),
    ]


# --------------------------------------------------------------------------- HTML
# The shared page look (report_html.BASE_CSS) plus the chart rules of this report.
_CSS = report_html.BASE_CSS + """.charts{display:flex;flex-wrap:wrap;gap:14px}
svg.chart{border:1px solid #d0d0d0;background:#fff}
svg .ct{font-size:14px;font-weight:bold;fill:#1b1b1b}
svg .grid line{stroke:#e4e4e4;stroke-width:1}
svg .frame{fill:none;stroke:#888}
svg .xt{font-size:11px;fill:#444;text-anchor:middle}svg .yt{font-size:11px;fill:#444;text-anchor:end}
svg .xl,svg .yl{font-size:12px;fill:#333;text-anchor:middle}svg .lg{font-size:12px;fill:#333}
svg .na{font-size:13px;fill:#888}
ul.checks{font-size:13px}
"""


_table = report_html.table


def _h(text):
    """Escaped text of a figure (_stat), its trailing low-sample `*` set apart (class low)."""
    text = _fmt(text) if not isinstance(text, str) else text
    if text.endswith("*") and text != "*":
        return '%s<span class="low" title="low sample, see the note">*</span>' % escape(text[:-1])
    return escape(text)


def _status_span(status):
    return '<span class="%s">%s</span>' % (escape(status), escape(STATUS_LABEL.get(status, status.upper())))


def _verdict_html(v):
    out = ['<p>Verdict: <span class="%s">%s</span></p>' % (escape(v["status"]), escape(v["status"].upper().replace("_", " ")))]
    checks = v.get("checks", [])
    for kind, title in (("run", "Run checks (always apply)"), ("slo", "SLO checks")):
        group = [c for c in checks if c.get("kind", "slo") == kind]
        if not group:
            continue
        out.append('<div class="meta">%s</div><ul class="checks">' % title)
        for c in group:
            out.append('<li>%s %s: %s</li>' % (_status_span(_check_status(c)), escape(c["name"]), escape(c["message"])))
        out.append("</ul>")
    not_set = v.get("not_set") or []
    if v["status"] == "no_slo":
        out.append('<p class="note">No SLO threshold set: %s were cleared, so only the run checks were made.</p>'
                   % escape(", ".join(not_set)))
    elif not_set:
        out.append('<p class="note">Not set (not checked): %s.</p>' % escape(", ".join(not_set)))
    return "".join(out)


def _page(title, body):
    return report_html.page(title, body, _CSS)


def _stats_table(title, blocks):
    rows = [[escape(label), _h(_fmt(_dict(block).get("n")))] + [_h(_stat(block, k)) for k in STAT_COLUMNS]
            for label, block in blocks]
    return _table([title, "n"] + list(STAT_COLUMNS), rows)


def _footnote_html(text):
    return '<p class="note"><span class="low">*</span>%s</p>' % escape(text[1:]) if text else ""


def _per_turn_table(report):
    rows = []
    for row in report.get("per_turn") or []:
        rows.append([escape(_fmt(row.get("turn"))), _fmt(row.get("n")), _fmt(row.get("e2e_ms_p50")), _fmt(row.get("e2e_ms_p90")),
                     _fmt(row.get("prompt_tokens_p50"), 0), _fmt(row.get("cached_tokens_p50"), 0), _fmt(row.get("ttft_ms_p50")),
                     _fmt(row.get("ttft_ms_p90")), _fmt(row.get("hit_rate"), 3), _fmt(row.get("errors"))])
    return _table(["Turn", "n", "Median wall (ms)", "P90 wall (ms)", "Median prompt tok", "Median cached tok",
                   "Median TTFT (ms)", "P90 TTFT (ms)", "Hit rate", "Errors"], rows)


def _server_notes_html(report):
    out = []
    note = prefix_cache_note(report)
    if note:
        out.append('<p class="note">%s</p>' % escape(note))
    changes = server_changes(report)
    if changes:
        out.append('<p class="warn">Server settings changed during the run:</p>')
        out.append(_table(["Field", "Before", "After"], [[escape(f), escape(b), escape(a)] for f, b, a in changes], left_cols=3))
    elif server_change_unknown(report):
        out.append('<p class="note">%s</p>' % escape(SERVER_UNKNOWN_NOTE))
    for warning in benchmark_warnings(report):
        out.append('<p class="warn">Warning from the benchmark: %s</p>' % escape(warning))
    return "\n".join(out)


def station_html(report):
    s = _dict(report.get("summary"))
    srv = _dict(report.get("server"))
    client = _dict(report.get("client"))
    verdict_html = _verdict_html(report["verdict"])
    if report.get("failed"):
        verdict_html = '<p class="warn">The benchmark FAILED: %s</p>%s' % (escape(report.get("msg") or "no message"), verdict_html)
    items = provenance_items(report)
    provenance = _table([label for label, _t in items], [[escape(t) for _l, t in items]], left_cols=len(items))
    provenance += '<div class="meta">page_size %s &middot; attention %s &middot; cache report %s &middot; radix cache %s</div>' % (
        escape(_fmt(srv.get("page_size"))), escape(_fmt(srv.get("attention_backend"))), escape(_fmt(srv.get("enable_cache_report"))),
        NA if "disable_radix_cache" not in srv else "off" if srv.get("disable_radix_cache") else "on")
    chat = [(label, s.get(key)) for key, label in LATENCY_ROWS]
    so, answered, rate = _structured(report)
    structured_blocks = [(label, _structured_block(so, key)) for key, label in STRUCTURED_ROWS]
    latency = _stats_table("Chat requests", chat) + _footnote_html(low_sample_footnote([b for _l, b in chat]))
    throughput = _table(["Requests", "Errors", "Not sent", "Duration (s)", "req/s", "out tok/s", "total tok/s", "Cache hit rate",
                         "Client CPU/req (ms)", "Client-bound"],
                        [[_fmt(s.get("requests")), _fmt(s.get("errors")), _fmt(s.get("not_sent")), _fmt(s.get("duration_s"), 2),
                          _fmt(s.get("requests_per_s"), 2), _fmt(s.get("output_tokens_per_s")), _fmt(s.get("total_tokens_per_s")),
                          _fmt(s.get("cache_hit_rate"), 3), _fmt(client.get("cpu_per_request_ms"), 3),
                          _fmt(bool(s.get("client_bound")))]], left_cols=0)
    structured = _table(["Answered", "Valid", "Invalid", "Invalid, cut by max_tokens", "Failed", "Valid rate"],
                        [[_fmt(so.get("requests")), _fmt(so.get("valid")), _fmt(so.get("invalid")),
                          _fmt(so.get("invalid_cut_by_max_tokens")), _fmt(so.get("failed")), _fmt(rate, 3)]], left_cols=0)
    if answered:
        structured += _stats_table("Structured-output requests", structured_blocks)
        structured += _footnote_html(low_sample_footnote([b for _l, b in structured_blocks]))
    else:
        structured += '<p class="note">No structured-output request answered in this run.</p>'
    body = report_templates.BENCHMARK_STATION.substitute(
        host=escape(report["host"]), run=escape(str(report["run"])), generated_at=escape(report["generated_at"]),
        verdict=verdict_html, provenance=provenance, server_notes=_server_notes_html(report), latency=latency,
        throughput=throughput, structured=structured, per_turn=_per_turn_table(report), charts="\n".join(charts([report])))
    return _page("SGLang benchmark %s" % report["host"], body)


def fleet_html(fleet):
    reports = fleet["reports"]
    v = fleet["verdict"]
    failed = _fleet_verdict_text(fleet)[1]
    verdict = ['<p>Fleet verdict: <span class="%s">%s</span>%s</p>' % (
        escape(v["status"]), escape(v["status"].upper().replace("_", " ")), escape(failed))]
    if v.get("reasons"):
        verdict.append('<ul class="checks">%s</ul>' % "".join(
            "<li>%s: %s</li>" % (escape(host), escape("; ".join(reasons) or "fail")) for host, reasons in sorted(v["reasons"].items())))
    if v["status"] == "no_slo":
        verdict.append('<p class="note">No SLO threshold set: %s were cleared, so only the run checks were made.</p>'
                       % escape(", ".join(v.get("not_set") or [])))
    elif not reports:
        verdict.append('<p class="note">No Station report.</p>')
    rows = []
    for row, rep in zip(fleet["stations"], reports):
        cells = _fleet_cells(row, rep)
        status = row["verdict"] or NA
        rows.append([_h(c) if i in FLEET_STAT_CELLS else escape(c) for i, c in enumerate(cells[:18])]
                    + ['<span class="%s">%s</span>' % (escape(status), escape(status)), escape(cells[19])])
    stations = _table(list(FLEET_HEADERS), rows, left_cols=3)
    provenance = _table(list(PROVENANCE_HEADERS), [[escape(_fmt(c)) for c in cells] for cells in _fleet_provenance_rows(fleet)],
                        left_cols=len(PROVENANCE_HEADERS))
    structured = _table(list(FLEET_STRUCTURED_HEADERS), [[_h(_fmt(c)) for c in cells] for cells in _fleet_structured_rows(fleet)])
    notes = _fleet_notes(fleet)
    server_notes = ('<h2>Notes</h2><ul class="checks">%s</ul>' % "".join("<li>%s</li>" % escape(n) for n in notes)) if notes else ""
    per_turn = "\n".join("<h2>%s: per turn</h2>\n%s" % (escape(r["host"]), _per_turn_table(r)) for r in reports)
    body = report_templates.BENCHMARK_FLEET.substitute(
        run=escape(str(fleet["run"])), generated_at=escape(fleet["generated_at"]), count=len(reports), verdict="".join(verdict),
        stations=stations, footnote=_footnote_html(_fleet_footnote(reports)), provenance=provenance, structured=structured,
        server_notes=server_notes, charts="\n".join(charts(reports)), per_turn=per_turn)
    return _page("SGLang benchmark fleet", body)


# --------------------------------------------------------------------------- files
def station_files(report):
    """{file name: text} of one Station's report directory."""
    return {
        "report.json": json.dumps(report, indent=2, sort_keys=True) + "\n",
        "per_turn.csv": per_turn_csv([report]),
        "summary.md": station_markdown(report),
        "report.html": station_html(report),
    }


def fleet_files(fleet):
    return {
        "report.json": json.dumps(fleet, indent=2, sort_keys=True) + "\n",
        "per_turn.csv": per_turn_csv(fleet["reports"]),
        "summary.md": fleet_markdown(fleet),
        "report.html": fleet_html(fleet),
    }
