# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Statistics of the sglang_benchmark module (docs/benchmark.md, "Definitions").

Pure functions over the records of a finished run (benchmark_load.Record): percentiles,
the describe() block every latency figure is reported in, the CDF points, and the
aggregation into summary, per_turn, structured_output and client. Every per-request
figure is read from the request's sglang_exchange.ChatExchange (record.exchange); nothing
here measures a time or reads a usage object.

Percentiles interpolate linearly between closest ranks (numpy's default "linear").
Chat latency (summary ttft/ttfo/e2e/tpot/itl, per_turn) is over the unstructured requests
only; structured-output requests have their own figures in structured_output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

# The client_bound rule (documented in the module and docs/benchmark.md).
CLIENT_BOUND_CPU_FRACTION = 0.8
CLIENT_BOUND_DISPATCH_LAG_P90_MS = 10.0
CLIENT_BOUND_LOOP_LAG_P90_MS = 5.0

DISTRIBUTION_POINTS = 101

PERCENTILES = (50, 90, 95, 99)

# describe()["low_sample"]: the percentiles a sample of n values cannot support, first rule that matches.
LOW_SAMPLE_RULES = ((10, ("p90", "p95", "p99")), (20, ("p95", "p99")), (100, ("p99",)))

ERROR_SAMPLES = 5


# --------------------------------------------------------------------------- statistics
def percentile(sorted_values, p):
    """Percentile p (0-100) of an ascending list, linear interpolation between closest ranks (numpy default)."""
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return float(sorted_values[0])
    rank = (n - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, n - 1)
    frac = rank - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac)


def low_sample(n):
    """The percentile names a sample of n values cannot support (n < 10: p90 and up; < 20: p95, p99; < 100: p99)."""
    for limit, names in LOW_SAMPLE_RULES:
        if n < limit:
            return list(names)
    return []


def describe(values, scale=1.0, digits=3):
    """n, mean, min, p50, p90, p95, p99, max of the non-null values (times scale), and low_sample.

    Nulls when empty. low_sample lists the percentiles the sample is too small for (see low_sample());
    they are still computed, but a reader must not take them as the tail.
    """
    data = sorted(v * scale for v in values if v is not None)
    out = dict(n=len(data))
    if not data:
        out.update(mean=None, min=None, p50=None, p90=None, p95=None, p99=None, max=None)
    else:
        out["mean"] = round(sum(data) / len(data), digits)
        out["min"] = round(data[0], digits)
        for p in PERCENTILES:
            out["p%d" % p] = round(percentile(data, p), digits)
        out["max"] = round(data[-1], digits)
    out["low_sample"] = low_sample(len(data))
    return out


def distribution(values, scale=1.0, points=DISTRIBUTION_POINTS):
    """Quantiles 0..100 in `points` steps (for CDF plots); [] when empty."""
    data = sorted(v * scale for v in values if v is not None)
    if not data:
        return []
    return [round(percentile(data, 100.0 * i / (points - 1)), 3) for i in range(points)]


def ratio(num, den, digits=4):
    """num / den rounded, None when den is 0 or None."""
    return round(float(num) / den, digits) if den else None


def per_second(value, duration, digits=3):
    return round(value / duration, digits) if duration else None


# --------------------------------------------------------------------------- errors
def error_label(rec):
    """The key under which a failed request is counted in summary.error_kinds (http_<status> for an HTTP error)."""
    ex = rec.exchange
    if ex.status and ex.status != 200 and ex.error_kind not in ("sse_error",):
        return "http_%d" % ex.status
    return ex.error_kind or "unknown"


def error_samples(records, limit=ERROR_SAMPLES):
    """The first failed requests, for the messages and the report."""
    out = []
    for r in records:
        if len(out) >= limit:
            break
        out.append(dict(conversation=r.conversation, turn=r.turn, structured=r.structured, kind=error_label(r),
                        message=r.exchange.error))
    return out


# --------------------------------------------------------------------------- aggregation
def _concurrency_reached(records, duration):
    events = []
    for r in records:
        ex = r.exchange
        if ex.t_send is not None and ex.t_end is not None:
            events.append((ex.t_send, 1))
            events.append((ex.t_end, -1))
    if not events or not duration:
        return 0, 0.0
    events.sort()
    level = peak = 0
    busy = 0.0
    last = events[0][0]
    for t, step in events:
        busy += level * (t - last)
        last = t
        level += step
        peak = max(peak, level)
    return peak, round(busy / duration, 2)


def latency(records):
    """ttft/ttfo/e2e/tpot/itl/ttfb statistics (ms) of successful requests."""
    exchanges = [r.exchange for r in records]
    return dict(
        ttft_ms=describe([ex.ttft for ex in exchanges], 1000.0),
        ttfo_ms=describe([ex.ttfo for ex in exchanges], 1000.0),
        ttfb_ms=describe([ex.ttfb for ex in exchanges], 1000.0),
        e2e_ms=describe([ex.e2e for ex in exchanges], 1000.0),
        tpot_ms=describe([ex.tpot for ex in exchanges], 1000.0),
        itl_ms=describe([gap for ex in exchanges for gap in ex.itl], 1000.0),
    )


def _tokens(records):
    prompt = sum(r.exchange.prompt_tokens or 0 for r in records)
    completion = sum(r.exchange.completion_tokens or 0 for r in records)
    reported = [r for r in records if r.exchange.cached_tokens is not None]
    cached = sum(r.exchange.cached_tokens for r in reported)
    cache_prompt = sum(r.exchange.prompt_tokens or 0 for r in reported)
    return prompt, completion, reported, cached, cache_prompt


def client_diagnostics(state, requests_sent):
    """Client CPU, dispatch and event-loop lag, and the client_bound verdict with its reasons."""
    duration = state.duration
    cpu_fraction = round(state.cpu / duration, 4) if duration else None
    dispatch = describe(state.dispatch_lags, 1000.0)
    loop_lag = describe(state.loop_lags, 1000.0)
    reasons = []
    if cpu_fraction is not None and cpu_fraction > CLIENT_BOUND_CPU_FRACTION:
        reasons.append("client CPU %.0f%% of one core > %.0f%%" % (cpu_fraction * 100, CLIENT_BOUND_CPU_FRACTION * 100))
    if dispatch["p90"] is not None and dispatch["p90"] > CLIENT_BOUND_DISPATCH_LAG_P90_MS:
        reasons.append("dispatch lag p90 %.1f ms > %.0f ms" % (dispatch["p90"], CLIENT_BOUND_DISPATCH_LAG_P90_MS))
    if loop_lag["p90"] is not None and loop_lag["p90"] > CLIENT_BOUND_LOOP_LAG_P90_MS:
        reasons.append("event-loop lag p90 %.1f ms > %.0f ms" % (loop_lag["p90"], CLIENT_BOUND_LOOP_LAG_P90_MS))
    return dict(
        cpu_s=round(state.cpu, 4),
        cpu_per_request_ms=round(state.cpu * 1000.0 / requests_sent, 4) if requests_sent else None,
        cpu_fraction_of_core=cpu_fraction,
        dispatch_lag_ms=dispatch,
        loop_lag_ms=loop_lag,
        connections_opened=state.connects,
        gc_disabled=state.gc_disabled,
        client_bound=bool(reasons),
        client_bound_reasons=reasons,
        rule=("client_bound when client CPU > %d%% of one core, or dispatch lag p90 > %g ms, or event-loop lag p90 > %g ms"
              % (CLIENT_BOUND_CPU_FRACTION * 100, CLIENT_BOUND_DISPATCH_LAG_P90_MS, CLIENT_BOUND_LOOP_LAG_P90_MS)),
        warmup_requests=len(state.warmup_records),
        warmup_errors=sum(1 for r in state.warmup_records if not r.ok),
    )


def _per_turn(chat, turns):
    rows = []
    for turn in range(1, turns + 1):
        mine = [r for r in chat if r.turn == turn]
        good = [r for r in mine if r.ok]
        exchanges = [r.exchange for r in good]
        cached_rows = [ex for ex in exchanges if ex.cached_tokens is not None]
        t_prompt = sum(ex.prompt_tokens or 0 for ex in cached_rows)
        e2e = describe([ex.e2e for ex in exchanges], 1000.0)
        ttft = describe([ex.ttft for ex in exchanges], 1000.0)
        rows.append(dict(
            turn=turn,
            n=len(good),
            errors=len(mine) - len(good),
            e2e_ms_p50=e2e["p50"],
            e2e_ms_p90=e2e["p90"],
            ttft_ms_p50=ttft["p50"],
            ttft_ms_p90=ttft["p90"],
            tpot_ms_p50=describe([ex.tpot for ex in exchanges], 1000.0)["p50"],
            itl_ms_p50=describe([gap for ex in exchanges for gap in ex.itl], 1000.0)["p50"],
            prompt_tokens_p50=describe([ex.prompt_tokens for ex in exchanges])["p50"],
            cached_tokens_p50=describe([ex.cached_tokens for ex in cached_rows])["p50"],
            cold_prefill_tokens_p50=describe([(ex.prompt_tokens or 0) - ex.cached_tokens for ex in cached_rows])["p50"],
            completion_tokens_p50=describe([ex.completion_tokens for ex in exchanges])["p50"],
            hit_rate=ratio(sum(ex.cached_tokens for ex in cached_rows), t_prompt) if cached_rows else None,
            low_sample=low_sample(len(good)),
        ))
    return rows


def _structured(records, chat_ok, fraction):
    rows = [r for r in records if r.structured]
    good = [r for r in rows if r.ok]
    figures = latency(good)
    out = dict(
        fraction=fraction,
        requests=len(good),
        sent=len(rows),
        valid=sum(1 for r in good if r.json_valid),
        invalid=sum(1 for r in good if r.json_valid is False),
        failed=len(rows) - len(good),
        error_kinds=dict(collections.Counter(error_label(r) for r in rows if not r.ok)),
        invalid_cut_by_max_tokens=sum(1 for r in good if r.json_valid is False and r.exchange.finish_reason == "length"),
        valid_rate=ratio(sum(1 for r in good if r.json_valid), len(good)),
        ttft_ms_p50=figures["ttft_ms"]["p50"],
        e2e_ms_p50=figures["e2e_ms"]["p50"],
        unstructured_e2e_ms_p50=describe([r.exchange.e2e for r in chat_ok], 1000.0)["p50"],
    )
    for name in ("ttft_ms", "e2e_ms", "tpot_ms", "itl_ms"):
        out[name] = figures[name]
    return out


def aggregate(state, cfg):
    """summary, per_turn, structured_output, client and distribution from a finished run (benchmark_load._State)."""
    records = [r for r in state.records if not r.aborted]
    aborted = len(state.records) - len(records)
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    chat = [r for r in records if not r.structured]
    chat_ok = [r for r in chat if r.ok]
    duration = state.duration
    prompt_sum, completion_sum, cache_reported, cached_sum, cache_prompt_sum = _tokens(ok)
    requests_sent = len(records)
    client = client_diagnostics(state, requests_sent)
    peak, mean_conc = _concurrency_reached(ok, duration)

    summary = dict(
        requests=requests_sent,
        succeeded=len(ok),
        errors=len(failed),
        error_rate=ratio(len(failed), requests_sent),
        error_kinds=dict(collections.Counter(error_label(r) for r in failed)),
        error_samples=error_samples(failed),
        aborted=aborted,
        not_sent=state.not_sent,
        truncated=state.truncated,
        conversations=dict(planned=state.conversations_planned, started=state.conversations_started,
                           completed=state.conversations_completed, failed=state.conversations_failed),
        duration_s=round(duration, 4),
        started_at=state.started_at,
        requests_per_s=per_second(len(ok), duration),
        output_tokens_per_s=per_second(completion_sum, duration),
        total_tokens_per_s=per_second(prompt_sum + completion_sum, duration),
        prompt_tokens=prompt_sum,
        completion_tokens=completion_sum,
        cached_tokens=cached_sum if cache_reported else None,
        cache_hit_rate=ratio(cached_sum, cache_prompt_sum) if cache_reported else None,
        cache_reported=len(cache_reported),
        usage_missing=sum(1 for r in ok if r.exchange.usage is None),
        chat_requests=len(chat),
        chat_succeeded=len(chat_ok),
        latency_scope="unstructured",
        concurrency=dict(target=state.concurrency, peak=peak, mean=mean_conc),
        client_bound=client["client_bound"],
    )
    summary.update(latency(chat_ok))
    per_turn = _per_turn(chat, cfg["turns_per_conversation"])
    structured_output = _structured(records, chat_ok, cfg["structured_output_fraction"])
    dist = dict(ttft_ms=distribution([r.exchange.ttft for r in chat_ok], 1000.0),
                e2e_ms=distribution([r.exchange.e2e for r in chat_ok], 1000.0))
    return summary, per_turn, structured_output, client, dist
