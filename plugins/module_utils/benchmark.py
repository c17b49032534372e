# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load generation and statistics of the sglang_benchmark module (docs/benchmark.md).

Closed loop: `concurrency` workers, each owning one keep-alive connection
(sglang_http_async.AsyncConnection), take conversations from a queue and run their
turns one after another; the history (system prompt, user turns, assistant answers)
is resent on every turn, as a chat client does. Standard library only; jsonschema is
optional and needed only to validate structured outputs.

Definitions (per successful request, times from time.perf_counter):
  t_send      just before the request bytes are written
  ttft        first SSE chunk whose delta carries non-empty content or reasoning
              (never the role-only chunk); null when not streaming
  e2e         t_send -> end of the answer ([DONE], or the whole body when not streaming)
  tpot        (e2e - ttft) / (completion_tokens - 1), completion_tokens from usage
  tokens      prompt/completion/cached tokens from the server's usage object only
Percentiles interpolate linearly between closest ranks (numpy's default "linear").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import collections
import datetime
import gc
import json
import random
import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (
    parse_prometheus,
    HTTPResponse,
    SGLangError,
)
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection
from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import get_preset
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact

from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import HAS_JSONSCHEMA, jsonschema

CHAT_PATH = "/v1/chat/completions"

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
    "chunked_prefill_size", "tp_size", "dtype", "kv_cache_dtype",
)

# The client_bound rule (documented in the module and docs/benchmark.md).
CLIENT_BOUND_CPU_FRACTION = 0.8
CLIENT_BOUND_DISPATCH_LAG_P90_MS = 10.0
CLIENT_BOUND_LOOP_LAG_P90_MS = 5.0
LOOP_TICK_S = 0.005

DISTRIBUTION_POINTS = 101

DEFAULT_STRUCTURED_SCHEMA = {
    "type": "object",
    "properties": {
        "topic": {"type": "string"},
        "points": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["topic", "points"],
}

_WORDS = (
    "river", "lantern", "granite", "orbit", "meadow", "copper", "signal", "harbor", "prism", "falcon",
    "glacier", "circuit", "cedar", "beacon", "canyon", "vector", "ember", "tundra", "quartz", "ripple",
    "compass", "summit", "willow", "cobalt", "delta", "forge", "horizon", "island", "jasper", "kernel",
    "lattice", "magnet", "nebula", "oasis", "pendulum", "quiver", "reef", "sextant", "tide", "umbra",
    "valley", "wharf", "xenon", "yarrow", "zephyr", "anvil", "basalt", "cipher", "dune", "eclipse",
    "fjord", "gale", "hollow", "ion", "juniper", "kiln", "lagoon", "mosaic", "nomad", "onyx",
)
_ASKS = (
    "Explain how {a} relates to {b}",
    "Compare {a} and {b} in practical terms",
    "Describe a situation where {a} matters more than {b}",
    "Summarise what an engineer should know about {a} and {b}",
    "Give an example that connects {a} with {b}",
)

_perf = time.perf_counter


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


def describe(values, scale=1.0, digits=3):
    """n, mean, min, p50, p90, p99, max of the non-null values (times scale); nulls when empty."""
    data = sorted(v * scale for v in values if v is not None)
    out = dict(n=len(data))
    if not data:
        out.update(mean=None, min=None, p50=None, p90=None, p99=None, max=None)
        return out
    out["mean"] = round(sum(data) / len(data), digits)
    out["min"] = round(data[0], digits)
    for p in (50, 90, 99):
        out["p%d" % p] = round(percentile(data, p), digits)
    out["max"] = round(data[-1], digits)
    return out


def distribution(values, scale=1.0, points=DISTRIBUTION_POINTS):
    """Quantiles 0..100 in `points` steps (for CDF plots); [] when empty."""
    data = sorted(v * scale for v in values if v is not None)
    if not data:
        return []
    return [round(percentile(data, 100.0 * i / (points - 1)), 3) for i in range(points)]


def _ratio(num, den, digits=4):
    return round(float(num) / den, digits) if den else None


# --------------------------------------------------------------------------- workload
def build_plan(num_conversations, turns, seed, prompt_words=48, system_prompt=None,
               structured_output_fraction=0.0, namespace="measured"):
    """The seeded workload: per conversation its system prompt and per-turn user text and structured flag.

    Content is unique per conversation (the conversation index and seeded words are in
    every user turn), so cached tokens come only from a conversation's own history (and
    from the shared system_prompt when one is set). The same seed gives the same bodies.
    """
    plan = []
    for conv in range(num_conversations):
        rng = random.Random("%s:%s:%d" % (seed, namespace, conv))
        users, structured = [], []
        for turn in range(turns):
            a, b = rng.sample(_WORDS, 2)
            filler = " ".join(rng.choice(_WORDS) for _word in range(max(0, prompt_words - 12)))
            text = "Conversation %d, turn %d. %s. Context words: %s." % (
                conv + 1, turn + 1, rng.choice(_ASKS).format(a=a, b=b), filler)
            is_structured = rng.random() < structured_output_fraction
            if is_structured:
                text += " Answer with a JSON object that matches the requested schema."
            users.append(text)
            structured.append(is_structured)
        plan.append(dict(conversation=conv + 1, system=system_prompt, users=users, structured=structured))
    return plan


def make_payload(cfg, model, messages, structured):
    payload = dict(model=model, messages=messages, max_tokens=cfg["max_tokens"], temperature=cfg["temperature"],
                   stream=cfg["stream"])
    if cfg.get("seed") is not None:
        payload["seed"] = cfg["seed"]
    if cfg["stream"]:
        payload["stream_options"] = {"include_usage": True}
    if cfg.get("chat_template_kwargs"):
        payload["chat_template_kwargs"] = cfg["chat_template_kwargs"]
    if cfg.get("ignore_eos"):
        payload["ignore_eos"] = True
    if structured:
        payload["response_format"] = {"type": "json_schema",
                                      "json_schema": {"name": "benchmark_answer", "schema": cfg["structured_output_schema"]}}
    return payload


def make_schema_validator(schema):
    """A function(content) -> bool: content parses as JSON and validates against schema (needs jsonschema)."""
    if not HAS_JSONSCHEMA:
        raise RuntimeError("jsonschema is required to validate structured outputs")
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)

    def validate(content):
        try:
            instance = json.loads(content)
        except (TypeError, ValueError):
            return False
        return validator.is_valid(instance)
    return validate


# --------------------------------------------------------------------------- one request
class Record:
    """What one request produced (times in seconds, relative to t_send unless noted)."""

    __slots__ = ("conversation", "turn", "structured", "warmup", "t_sched", "t_send", "t_end", "ttfb", "ttft", "ttfo",
                 "e2e", "tpot", "status", "ok", "aborted", "error_kind", "error", "prompt_tokens", "completion_tokens",
                 "cached_tokens", "usage_missing", "json_valid", "chunks", "finish_reason")

    def __init__(self, conversation, turn, structured=False, t_sched=None, warmup=False):
        self.conversation = conversation
        self.turn = turn
        self.structured = structured
        self.warmup = warmup
        self.t_sched = t_sched
        self.t_send = self.t_end = self.ttfb = self.ttft = self.ttfo = self.e2e = self.tpot = None
        self.status = None
        self.ok = False
        self.aborted = False
        self.error_kind = None
        self.error = None
        self.prompt_tokens = self.completion_tokens = self.cached_tokens = None
        self.usage_missing = False
        self.json_valid = None
        self.chunks = 0
        self.finish_reason = None

    def fail(self, kind, message, status=None):
        self.ok = False
        self.error_kind = kind
        self.error = (message or "")[:300]
        if status is not None:
            self.status = status

    def take_usage(self, usage):
        if not isinstance(usage, dict):
            self.usage_missing = True
            return
        self.prompt_tokens = usage.get("prompt_tokens")
        self.completion_tokens = usage.get("completion_tokens")
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if cached is None:
            cached = usage.get("cached_prompt_tokens", usage.get("cache_read_input_tokens"))
        self.cached_tokens = cached

    def as_dict(self):
        return dict((name, getattr(self, name)) for name in self.__slots__)


def error_label(rec):
    """The key under which a failed request is counted in summary.error_kinds."""
    if rec.status and rec.error_kind not in ("sse_error",) and rec.status != 200:
        return "http_%d" % rec.status
    return rec.error_kind or "unknown"


async def run_request(conn, payload, rec, stream, validator=None):
    """Send one chat request on conn and fill rec; return the assistant content, or None when it failed."""
    try:
        exchange = await conn.start("POST", CHAT_PATH, payload)
        rec.t_send = exchange.t_send
        rec.ttfb = exchange.t_first_byte - exchange.t_send
        rec.status = exchange.status
        if exchange.status != 200:
            text = await exchange.read_text()
            error = conn.client.status_error(CHAT_PATH, HTTPResponse(exchange.status, exchange.headers, text))
            rec.fail(error.kind, error.message, exchange.status)
            return None
        if stream:
            content = await _read_stream(exchange, rec)
        else:
            content = await _read_whole(exchange, rec)
    except SGLangError as error:
        rec.fail(error.kind, error.message, error.status)
        return None
    except asyncio.CancelledError:
        rec.aborted = True
        rec.fail("aborted", "cancelled at the end of max_duration_s")
        conn.close()
        raise
    if content is None:
        return None
    rec.e2e = rec.t_end - rec.t_send
    if rec.ttft is not None and rec.completion_tokens and rec.completion_tokens > 1:
        rec.tpot = (rec.e2e - rec.ttft) / (rec.completion_tokens - 1)
    if rec.structured and validator is not None:
        rec.json_valid = bool(validator(content))
    rec.ok = True
    return content


async def _read_stream(exchange, rec):
    t_send = exchange.t_send
    parts = []
    first = first_content = None
    usage = None
    sse_error = None
    done = False
    chunks = 0
    async for now, event in exchange.events():
        if event == "[DONE]":
            done = True
            rec.t_end = now
            continue
        chunks += 1
        if "error" in event and not event.get("choices"):
            sse_error = event["error"]
            continue
        choices = event.get("choices")
        if choices:
            if choices[0].get("finish_reason"):
                rec.finish_reason = choices[0]["finish_reason"]
            delta = choices[0].get("delta") or {}
            text = delta.get("content")
            if text:
                parts.append(text)
                if first_content is None:
                    first_content = now
                    if first is None:
                        first = now
            elif first is None and (delta.get("reasoning_content") or delta.get("reasoning")):
                first = now
        if event.get("usage"):
            usage = event["usage"]
    rec.chunks = chunks
    if sse_error is not None:
        message = sse_error.get("message") if isinstance(sse_error, dict) else str(sse_error)
        code = sse_error.get("code") if isinstance(sse_error, dict) else None
        rec.fail("sse_error", "SSE error event (HTTP 200): %s%s" % (message, " (code %s)" % code if code else ""))
        return None
    if not done:
        rec.fail("incomplete_stream", "the stream ended without data: [DONE]")
        return None
    rec.ttft = None if first is None else first - t_send
    rec.ttfo = None if first_content is None else first_content - t_send
    rec.take_usage(usage)
    return "".join(parts)


async def _read_whole(exchange, rec):
    text = await exchange.read_text()
    rec.t_end = _perf()
    try:
        body = json.loads(text)
        message = body["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        rec.fail("invalid_response", "the answer is not a chat completion: %r" % text[:200])
        return None
    rec.take_usage(body.get("usage"))
    rec.finish_reason = body["choices"][0].get("finish_reason")
    return message.get("content") or ""


# --------------------------------------------------------------------------- the run
class _State:
    def __init__(self):
        self.records = []
        self.warmup_records = []
        self.dispatch_lags = []
        self.loop_lags = []
        self.not_sent = 0
        self.conversations_failed = 0
        self.conversations_completed = 0
        self.conversations_started = 0
        self.truncated = False


async def _loop_lag_monitor(state, stop):
    """Event-loop responsiveness: how late a LOOP_TICK_S sleep wakes up (TTFT timestamps are this late too)."""
    while not stop.is_set():
        due = _perf() + LOOP_TICK_S
        await asyncio.sleep(LOOP_TICK_S)
        state.loop_lags.append(max(0.0, _perf() - due))


async def _worker(conn, queue, cfg, model, state, deadline, t0, validator):
    turns = cfg["turns_per_conversation"]
    scheduled = t0
    while queue:
        conv = queue.popleft()
        state.conversations_started += 1
        messages = [{"role": "system", "content": conv["system"]}] if conv["system"] else []
        completed = True
        for index in range(turns):
            if _perf() >= deadline:
                state.not_sent += turns - index
                state.truncated = True
                return
            messages.append({"role": "user", "content": conv["users"][index]})
            structured = conv["structured"][index]
            rec = Record(conv["conversation"], index + 1, structured, t_sched=scheduled)
            state.records.append(rec)
            try:
                content = await run_request(conn, make_payload(cfg, model, messages, structured), rec, cfg["stream"],
                                            validator)
            except asyncio.CancelledError:
                state.not_sent += turns - index - 1
                raise
            if rec.t_send is not None:
                state.dispatch_lags.append(max(0.0, rec.t_send - rec.t_sched))
            scheduled = _perf()
            if content is None:
                # Do not build on a broken history: the rest of this conversation is not sent.
                state.conversations_failed += 1
                state.not_sent += turns - index - 1
                completed = False
                break
            messages.append({"role": "assistant", "content": content})
        if completed:
            state.conversations_completed += 1


async def _warmup(conn, cfg, model, state):
    plan = build_plan(cfg["warmup_requests"], 1, cfg["seed"], cfg["prompt_words"], cfg.get("system_prompt"), 0.0,
                      namespace="warmup")
    for conv in plan:
        messages = [{"role": "system", "content": conv["system"]}] if conv["system"] else []
        messages.append({"role": "user", "content": conv["users"][0]})
        rec = Record(conv["conversation"], 1, warmup=True)
        await run_request(conn, make_payload(cfg, model, messages, False), rec, cfg["stream"])
        state.warmup_records.append(rec)


async def _run(client, cfg, model, validator, hooks):
    state = _State()
    concurrency = min(cfg["concurrency"] or cfg["num_conversations"], cfg["num_conversations"]) or 1
    conns = [AsyncConnection(client) for _slot in range(concurrency)]
    try:
        # Connect every worker before the clock starts: connect cost is not request latency.
        opened = await asyncio.gather(*(c.open() for c in conns), return_exceptions=True)
        errors = [e for e in opened if isinstance(e, BaseException)]
        if errors:
            raise errors[0]
        if cfg["warmup_requests"]:
            await _warmup(conns[0], cfg, model, state)
        if hooks.get("before_measure"):
            hooks["before_measure"]()
        plan = build_plan(cfg["num_conversations"], cfg["turns_per_conversation"], cfg["seed"], cfg["prompt_words"],
                          cfg.get("system_prompt"), cfg["structured_output_fraction"])
        queue = collections.deque(plan)
        gc_was_enabled = gc.isenabled()
        if cfg.get("disable_gc", True):
            gc.collect()
            gc.disable()
        stop = asyncio.Event()
        monitor = asyncio.ensure_future(_loop_lag_monitor(state, stop))
        wall_start = datetime.datetime.now(datetime.timezone.utc)
        cpu0 = time.process_time()
        t0 = _perf()
        deadline = t0 + cfg["max_duration_s"]
        workers = [asyncio.ensure_future(_worker(c, queue, cfg, model, state, deadline, t0, validator)) for c in conns]
        done, pending = await asyncio.wait(workers, timeout=cfg["max_duration_s"])
        if pending:
            state.truncated = True
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        t1 = _perf()
        cpu1 = time.process_time()
        stop.set()
        await monitor
        if gc_was_enabled:
            gc.enable()
        state.not_sent += len(queue) * cfg["turns_per_conversation"]
        if queue:
            state.truncated = True
        state.duration = t1 - t0
        state.cpu = cpu1 - cpu0
        state.t0 = t0
        state.started_at = wall_start.isoformat()
        state.gc_disabled = bool(cfg.get("disable_gc", True))
        state.concurrency = concurrency
        state.connects = sum(c.connects for c in conns)
        return state
    finally:
        for c in conns:
            c.close()
        if not gc.isenabled():
            gc.enable()


def run_load(client, cfg, model, validator=None, hooks=None):
    """Run warm-up and the measured phase; returns the raw _State (records, timings, CPU, lags)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_run(client, cfg, model, validator, hooks or {}))
    finally:
        loop.close()


# --------------------------------------------------------------------------- aggregation
def _concurrency_reached(records, duration):
    events = []
    for r in records:
        if r.t_send is not None and r.t_end is not None:
            events.append((r.t_send, 1))
            events.append((r.t_end, -1))
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


def aggregate(state, cfg):
    """summary, per_turn, structured_output, client and distribution from a finished run."""
    records = [r for r in state.records if not r.aborted]
    aborted = len(state.records) - len(records)
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    duration = state.duration
    prompt_sum = sum(r.prompt_tokens or 0 for r in ok)
    completion_sum = sum(r.completion_tokens or 0 for r in ok)
    cache_reported = [r for r in ok if r.cached_tokens is not None]
    cached_sum = sum(r.cached_tokens for r in cache_reported)
    cache_prompt_sum = sum(r.prompt_tokens or 0 for r in cache_reported)
    error_kinds = collections.Counter(error_label(r) for r in failed)
    error_samples = []
    for r in failed:
        if len(error_samples) >= 5:
            break
        error_samples.append(dict(conversation=r.conversation, turn=r.turn, kind=error_label(r), message=r.error))

    requests_sent = len(records)
    cpu_per_request_ms = round(state.cpu * 1000.0 / requests_sent, 4) if requests_sent else None
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
    client_bound = bool(reasons)
    peak, mean_conc = _concurrency_reached(ok, duration)

    summary = dict(
        requests=requests_sent,
        succeeded=len(ok),
        errors=len(failed),
        error_rate=_ratio(len(failed), requests_sent),
        error_kinds=dict(error_kinds),
        error_samples=error_samples,
        aborted=aborted,
        not_sent=state.not_sent,
        truncated=state.truncated,
        conversations=dict(planned=cfg["num_conversations"], started=state.conversations_started,
                           completed=state.conversations_completed, failed=state.conversations_failed),
        duration_s=round(duration, 4),
        started_at=state.started_at,
        requests_per_s=round(len(ok) / duration, 3) if duration else None,
        output_tokens_per_s=round(completion_sum / duration, 3) if duration else None,
        prompt_tokens=prompt_sum,
        completion_tokens=completion_sum,
        cached_tokens=cached_sum if cache_reported else None,
        cache_hit_rate=_ratio(cached_sum, cache_prompt_sum) if cache_reported else None,
        cache_reported=len(cache_reported),
        usage_missing=sum(1 for r in ok if r.usage_missing),
        ttft_ms=describe([r.ttft for r in ok], 1000.0),
        ttfb_ms=describe([r.ttfb for r in ok], 1000.0),
        e2e_ms=describe([r.e2e for r in ok], 1000.0),
        tpot_ms=describe([r.tpot for r in ok], 1000.0),
        concurrency=dict(target=state.concurrency, peak=peak, mean=mean_conc),
        client_bound=client_bound,
    )

    per_turn = []
    for turn in range(1, cfg["turns_per_conversation"] + 1):
        rows = [r for r in records if r.turn == turn]
        good = [r for r in rows if r.ok]
        cached_rows = [r for r in good if r.cached_tokens is not None]
        t_prompt = sum(r.prompt_tokens or 0 for r in cached_rows)
        per_turn.append(dict(
            turn=turn,
            n=len(good),
            errors=len(rows) - len(good),
            e2e_ms_p50=describe([r.e2e for r in good], 1000.0)["p50"],
            e2e_ms_p90=describe([r.e2e for r in good], 1000.0)["p90"],
            ttft_ms_p50=describe([r.ttft for r in good], 1000.0)["p50"],
            ttft_ms_p90=describe([r.ttft for r in good], 1000.0)["p90"],
            tpot_ms_p50=describe([r.tpot for r in good], 1000.0)["p50"],
            prompt_tokens_p50=describe([r.prompt_tokens for r in good])["p50"],
            cached_tokens_p50=describe([r.cached_tokens for r in cached_rows])["p50"],
            cold_prefill_tokens_p50=describe([(r.prompt_tokens or 0) - r.cached_tokens for r in cached_rows])["p50"],
            completion_tokens_p50=describe([r.completion_tokens for r in good])["p50"],
            hit_rate=_ratio(sum(r.cached_tokens for r in cached_rows), t_prompt) if cached_rows else None,
        ))

    so_rows = [r for r in records if r.structured]
    so_ok = [r for r in so_rows if r.ok]
    structured_output = dict(
        fraction=cfg["structured_output_fraction"],
        requests=len(so_ok),
        valid=sum(1 for r in so_ok if r.json_valid),
        invalid=sum(1 for r in so_ok if r.json_valid is False),
        failed=len(so_rows) - len(so_ok),
        invalid_cut_by_max_tokens=sum(1 for r in so_ok if r.json_valid is False and r.finish_reason == "length"),
        valid_rate=_ratio(sum(1 for r in so_ok if r.json_valid), len(so_ok)),
        ttft_ms_p50=describe([r.ttft for r in so_ok], 1000.0)["p50"],
        e2e_ms_p50=describe([r.e2e for r in so_ok], 1000.0)["p50"],
        unstructured_e2e_ms_p50=describe([r.e2e for r in ok if not r.structured], 1000.0)["p50"],
    )

    client = dict(
        cpu_s=round(state.cpu, 4),
        cpu_per_request_ms=cpu_per_request_ms,
        cpu_fraction_of_core=cpu_fraction,
        dispatch_lag_ms=dispatch,
        loop_lag_ms=loop_lag,
        connections_opened=state.connects,
        gc_disabled=state.gc_disabled,
        client_bound=client_bound,
        client_bound_reasons=reasons,
        rule=("client_bound when client CPU > %d%% of one core, or dispatch lag p90 > %g ms, or event-loop lag p90 > %g ms"
              % (CLIENT_BOUND_CPU_FRACTION * 100, CLIENT_BOUND_DISPATCH_LAG_P90_MS, CLIENT_BOUND_LOOP_LAG_P90_MS)),
        warmup_requests=len(state.warmup_records),
        warmup_errors=sum(1 for r in state.warmup_records if not r.ok),
    )
    dist = dict(ttft_ms=distribution([r.ttft for r in ok], 1000.0), e2e_ms=distribution([r.e2e for r in ok], 1000.0))
    return summary, per_turn, structured_output, client, dist


# --------------------------------------------------------------------------- server side
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


def server_summary(info, model):
    """The provenance and the flags that matter, from a /server_info body (flat, or in internal_states)."""
    info = info if isinstance(info, dict) else {}
    states = info.get("internal_states")
    inner = states[0] if isinstance(states, list) and states and isinstance(states[0], dict) else {}
    out = dict(version=info.get("version"), model=model,
               model_path=info.get("model_path", inner.get("model_path")),
               served_model_name=info.get("served_model_name", inner.get("served_model_name")))
    for flag in SERVER_FLAGS:
        out[flag] = info.get(flag, inner.get(flag))
    preset = get_preset(out["model_path"] or model or "")
    out["known_preset"] = preset["known"]
    out["prefix_cache_expected"] = preset["prefix_cache_expected"]
    return out


def _cache_lines(text):
    keys = ("cache", "prefix", "radix", "hit", "reuse")
    return [line for line in (text or "").splitlines() if any(k in line.lower() for k in keys) and not line.startswith("#")]


def detail_text(server_info_body, metrics_before, metrics_after):
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
    return "\n".join(out)


def run_benchmark(client, cfg, validator=None):
    """The whole module run: server info, warm-up, flush, metrics, measured load, aggregation.

    Returns (result dict, detail text), both without the server's credentials (redaction.redact).
    Raises SGLangError when the server cannot be used at all (unreachable, /server_info
    failing); request-level errors are counted.
    """
    model = cfg.get("model") or client.served_model()
    known_secrets = [client.api_key]
    try:
        info = client.server_info()
    except SGLangError as error:
        if error.kind != "not_found":
            raise
        info = client.get_json("/get_server_info")
    info = redact(info, known_secrets)
    scrapes = {}
    flushed = dict(requested=bool(cfg["flush_cache"]), done=None, message=None)

    def before_measure():
        if cfg["flush_cache"]:
            try:
                text = client.flush_cache()
                flushed["done"] = True
                flushed["message"] = text.strip().splitlines()[0] if text.strip() else ""
            except SGLangError as error:
                flushed["done"] = False
                flushed["message"] = error.message
        scrapes["before"] = client.metrics_text()

    state = run_load(client, cfg, model, validator, dict(before_measure=before_measure))
    client.close()
    scrapes["after"] = client.metrics_text()
    summary, per_turn, structured_output, client_diag, dist = aggregate(state, cfg)
    metrics = metric_deltas(scrapes.get("before"), scrapes.get("after"))
    summary["flush_cache"] = flushed
    result = dict(
        summary=summary,
        per_turn=per_turn,
        structured_output=structured_output,
        server=server_summary(info, model),
        metrics=metrics,
        client=client_diag,
        distribution=dist,
    )
    if isinstance(metrics, dict):
        result["token_agreement"] = dict(
            prompt_tokens=_ratio(summary["prompt_tokens"], metrics.get("sglang:prompt_tokens_total")),
            completion_tokens=_ratio(summary["completion_tokens"], metrics.get("sglang:generation_tokens_total")),
            cached_tokens=_ratio(summary["cached_tokens"] or 0, metrics.get("sglang:cached_tokens_total")),
        )
    return (redact(result, known_secrets),
            redact(detail_text(info, scrapes.get("before"), scrapes.get("after")), known_secrets))
