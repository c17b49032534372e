# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load generation of the sglang_benchmark module: workload plan, payloads, workers, warm-up, run_load.

Closed loop: `concurrency` workers, each owning one keep-alive connection
(sglang_http_async.AsyncConnection), take conversations from a queue and run their turns one
after another; the history (system prompt, user turns, assistant answers) is resent on every
turn, as a chat client does. Every answer is read by sglang_exchange.ChatExchange, the one
definition of TTFT, E2E, TPOT, ITL and the token counts: nothing here computes them.

Two workloads (docs/benchmark.md, "The workload"):
  seeded   unique, seeded content per conversation (cached tokens come only from a
           conversation's own history); the module's default.
  runbook  NVIDIA's benchmark_multiturn.py exactly (RUNBOOK_WORKLOAD): its system prompt, its
           user turns, its max_tokens, its 8 workers and its warm-up request.
jsonschema is optional and needed only to validate structured outputs.
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

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import ChatExchange
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import HTTPResponse, SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection
from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import HAS_JSONSCHEMA, jsonschema

CHAT_PATH = "/v1/chat/completions"

WORKLOADS = ("seeded", "runbook")

DEFAULT_MAX_TOKENS = 256
DEFAULT_STRUCTURED_NAME = "benchmark_answer"
DEFAULT_STRUCTURED_SCHEMA = {
    "type": "object",
    "properties": {
        "topic": {"type": "string"},
        "points": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["topic", "points"],
}

# NVIDIA's script, the runbook's step 9: NVIDIA/dgx-spark-playbooks,
# nvidia/station-sglang-inference/assets/benchmark_multiturn.py (read at commit 0db7c14). The one place
# these constants live; tests/unit/plugins/module_utils/test_benchmark_loadgen.py pins them.
RUNBOOK_WORKLOAD = dict(
    source="NVIDIA/dgx-spark-playbooks nvidia/station-sglang-inference/assets/benchmark_multiturn.py",
    # ThreadPoolExecutor(max_workers=8): --num-conversations 20 only queues 20, 8 run at a time.
    concurrency=8,
    num_conversations=20,
    turns_per_conversation=5,
    # chat_completion(..., max_tokens=128) for every turn.
    max_tokens=128,
    system_prompt="You are a helpful assistant. Keep responses concise.",
    # Turn t asks topics[t % 8]; every conversation asks the same questions.
    topics=(
        "What is photosynthesis?",
        "How does it relate to the carbon cycle?",
        "What role do oceans play in that cycle?",
        "How does climate change affect the oceans?",
        "What can individuals do to reduce their carbon footprint?",
        "How do renewable energy sources compare?",
        "What are the most promising new energy technologies?",
        "How long until fusion energy is practical?",
    ),
    # Its warm-up: one user message "Hello", max_tokens=8, no system prompt.
    warmup_prompt="Hello",
    warmup_max_tokens=8,
    # Its structured-output request (run_structured_output_test): no system prompt, max_tokens=512.
    structured_prompt=("Rate these programming languages for data science: Python, R, Julia. "
                       "Return name, category, and a score from 1-10."),
    structured_max_tokens=512,
    structured_name="ratings",
    structured_schema={
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "category": {"type": "string"},
                        "score": {"type": "number"},
                    },
                    "required": ["name", "category", "score"],
                },
            }
        },
        "required": ["items"],
    },
)

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

LOOP_TICK_S = 0.005

_perf = time.perf_counter


# --------------------------------------------------------------------------- configuration
def resolve_config(cfg):
    """cfg with the workload's defaults filled in (a copy): what a run actually sends.

    Unset (None) concurrency, max_tokens, system_prompt and structured_output_schema take the
    workload's values: runbook -> RUNBOOK_WORKLOAD (8 workers, max_tokens 128, its system prompt,
    its structured request's schema); seeded -> one worker per conversation, max_tokens 256, no
    system prompt, DEFAULT_STRUCTURED_SCHEMA. Missing keys get the module's defaults, so library
    callers may pass a partial cfg.
    """
    out = dict(cfg)
    workload = out.get("workload") or "seeded"
    if workload not in WORKLOADS:
        raise ValueError("workload must be one of %s, got %r" % (", ".join(WORKLOADS), workload))
    runbook = workload == "runbook"
    out["workload"] = workload
    defaults = dict(num_conversations=20, turns_per_conversation=5, temperature=0.0, seed=0, chat_template_kwargs=None,
                    prompt_words=48, ignore_eos=False, stream=True, warmup_requests=1, flush_cache=True,
                    structured_output_fraction=0.0, max_duration_s=600.0, max_error_rate=0.0, provenance=None)
    for key, value in defaults.items():
        out.setdefault(key, value)
    if out.get("max_tokens") is None:
        out["max_tokens"] = RUNBOOK_WORKLOAD["max_tokens"] if runbook else DEFAULT_MAX_TOKENS
    if not out.get("system_prompt"):
        out["system_prompt"] = RUNBOOK_WORKLOAD["system_prompt"] if runbook else None
    if out.get("structured_output_schema") is None:
        out["structured_output_schema"] = RUNBOOK_WORKLOAD["structured_schema"] if runbook else DEFAULT_STRUCTURED_SCHEMA
        out.setdefault("structured_output_name", RUNBOOK_WORKLOAD["structured_name"] if runbook else DEFAULT_STRUCTURED_NAME)
    out.setdefault("structured_output_name", DEFAULT_STRUCTURED_NAME)
    items = out["num_conversations"] + structured_count(out)
    wanted = out.get("concurrency") or (RUNBOOK_WORKLOAD["concurrency"] if runbook else out["num_conversations"])
    out["concurrency"] = max(1, min(wanted, items))
    return out


def structured_count(cfg):
    """Standalone structured requests of the runbook workload: round(fraction x chat requests), at least 1."""
    fraction = cfg.get("structured_output_fraction") or 0.0
    if cfg.get("workload") != "runbook" or fraction <= 0:
        return 0
    return max(1, int(round(fraction * cfg["num_conversations"] * cfg["turns_per_conversation"])))


# --------------------------------------------------------------------------- workload
def build_plan(num_conversations, turns, seed, prompt_words=48, system_prompt=None,
               structured_output_fraction=0.0, namespace="measured", workload="seeded", structured_requests=0):
    """The workload: per item its system prompt, per-turn user text and structured flags.

    seeded: content is unique per conversation (the conversation index and seeded words are in every
    user turn), so cached tokens come only from a conversation's own history (and from the shared
    system_prompt when one is set); a structured_output_fraction of the turns (seeded choice) ask for
    the schema inside their conversation. The same seed gives the same bodies.
    runbook: every conversation asks RUNBOOK_WORKLOAD's topics, turn t the topic t % 8, under
    system_prompt (the script's own when the caller resolved the config); structured_requests
    standalone single-turn requests (the script's structured prompt) are spread evenly between
    the conversations (standalone=True; they are not conversations).
    """
    if workload == "runbook":
        topics = RUNBOOK_WORKLOAD["topics"]
        plan = [dict(conversation=conv + 1, system=system_prompt, users=[topics[turn % len(topics)] for turn in range(turns)],
                     structured=[False] * turns, standalone=False) for conv in range(num_conversations)]
        for index in range(structured_requests):
            item = dict(conversation=num_conversations + index + 1, system=None, users=[RUNBOOK_WORKLOAD["structured_prompt"]],
                        structured=[True], standalone=True, max_tokens=RUNBOOK_WORKLOAD["structured_max_tokens"])
            position = int(round((index + 0.5) * num_conversations / structured_requests)) + index
            plan.insert(min(position, len(plan)), item)
        return plan
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
        plan.append(dict(conversation=conv + 1, system=system_prompt, users=users, structured=structured, standalone=False))
    return plan


def plan_for(cfg, namespace="measured"):
    """build_plan from a resolved cfg."""
    return build_plan(cfg["num_conversations"], cfg["turns_per_conversation"], cfg["seed"], cfg["prompt_words"],
                      cfg.get("system_prompt"), cfg["structured_output_fraction"] if cfg["workload"] == "seeded" else 0.0,
                      namespace=namespace, workload=cfg["workload"], structured_requests=structured_count(cfg))


def make_payload(cfg, model, messages, structured, max_tokens=None):
    payload = dict(model=model, messages=messages, max_tokens=max_tokens or cfg["max_tokens"],
                   temperature=cfg["temperature"], stream=cfg["stream"])
    if cfg.get("seed") is not None:
        payload["seed"] = cfg["seed"]
    if cfg["stream"]:
        payload["stream_options"] = {"include_usage": True}
    if cfg.get("chat_template_kwargs"):
        payload["chat_template_kwargs"] = cfg["chat_template_kwargs"]
    if cfg.get("ignore_eos"):
        payload["ignore_eos"] = True
    if structured:
        payload["response_format"] = {"type": "json_schema", "json_schema": {
            "name": cfg.get("structured_output_name") or DEFAULT_STRUCTURED_NAME, "schema": cfg["structured_output_schema"]}}
    return payload


class SchemaError(ValueError):
    """structured_output_schema is not a JSON schema the validator can compile."""


def make_schema_validator(schema):
    """A function(content) -> bool: content parses as JSON and validates against schema (needs jsonschema).

    The schema is compiled first (check_schema, and one validation so that an unresolvable $ref
    shows now, not inside the load): a schema that does not compile raises SchemaError.
    """
    if not HAS_JSONSCHEMA:
        raise RuntimeError("jsonschema is required to validate structured outputs")
    if not isinstance(schema, dict):
        raise SchemaError("it is a %s, not a JSON object" % type(schema).__name__)
    try:
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator_cls.check_schema(schema)
        validator = validator_cls(schema)
        validator.is_valid({})
    except jsonschema.exceptions.SchemaError as exc:
        raise SchemaError("%s (at %s)" % (exc.message, "/".join(str(p) for p in exc.absolute_path) or "the top level"))
    except Exception as exc:  # pylint: disable=broad-except  # e.g. an unresolvable $ref
        raise SchemaError("%s: %s" % (type(exc).__name__, exc))

    def validate(content):
        try:
            instance = json.loads(content)
        except (TypeError, ValueError):
            return False
        try:
            return validator.is_valid(instance)
        except Exception:  # pylint: disable=broad-except  # never a traceback for one answer
            return False
    return validate


# --------------------------------------------------------------------------- one request
class Record:
    """One request of the plan: where it sits (conversation, turn, structured, warm-up) and its answer.

    Every figure is the answer's sglang_exchange.ChatExchange (record.exchange); reading an attribute
    the record does not have (ttft, e2e, status, error_kind, usage, ...) reads the exchange's.
    """

    __slots__ = ("conversation", "turn", "structured", "warmup", "t_sched", "exchange", "aborted", "json_valid")

    def __init__(self, conversation, turn, structured=False, t_sched=None, warmup=False, stream=True):
        self.conversation = conversation
        self.turn = turn
        self.structured = structured
        self.warmup = warmup
        self.t_sched = t_sched
        self.exchange = ChatExchange(stream)
        self.aborted = False
        self.json_valid = None

    def __getattr__(self, name):
        if name in Record.__slots__:
            raise AttributeError(name)
        return getattr(self.exchange, name)

    @property
    def ok(self):
        return self.exchange.ok


async def run_request(conn, payload, rec, stream, validator=None):
    """Send one chat request on conn and read its answer into rec.exchange.

    Returns the assistant content, or None when the request failed. Nothing raises on a server's
    answer: HTTP errors, SSE error events, cut bodies, resets, timeouts, events that are not JSON
    objects and non-terminal finish reasons (abort) all become rec.exchange.error_kind.
    """
    ex = rec.exchange = ChatExchange(stream)
    try:
        exchange = await conn.start("POST", CHAT_PATH, payload)
        ex.t_send = exchange.t_send
        ex.head(exchange.status, exchange.t_first_byte)
        if exchange.status != 200:
            text = await exchange.read_text()
            error = conn.client.status_error(CHAT_PATH, HTTPResponse(exchange.status, exchange.headers, text))
            ex.fail(error.kind, error.message, exchange.status)
        elif stream:
            async for now, data in exchange.payloads():
                ex.add_payload(now, data)
        else:
            ex.take_body(await exchange.read_text(), _perf())
    except SGLangError as error:
        ex.fail(error.kind, error.message, error.status)
    except asyncio.CancelledError:
        rec.aborted = True
        ex.fail("aborted", "cancelled at the end of max_duration_s")
        ex.finish()
        conn.close()
        raise
    except Exception as exc:  # pylint: disable=broad-except  # counted, never a traceback to the user
        ex.fail("client_error", "unexpected %s while reading the answer: %s" % (type(exc).__name__, exc))
        conn.close()
    ex.finish(_perf())
    if not ex.ok:
        return None
    content = ex.content
    if rec.structured and validator is not None:
        rec.json_valid = bool(validator(content))
    return content


# --------------------------------------------------------------------------- the run
class WarmupFailed(Exception):
    """A warm-up request failed: nothing is measured (the server is not in a state worth measuring)."""

    def __init__(self, records):
        failed = [r for r in records if not r.ok]
        first = failed[0]
        super(WarmupFailed, self).__init__("%d of %d warm-up requests failed; first: %s: %s" % (
            len(failed), len(records), first.exchange.error_kind, first.exchange.error))
        self.records = records


class _State:
    def __init__(self):
        self.records = []
        self.warmup_records = []
        self.dispatch_lags = []
        self.loop_lags = []
        self.not_sent = 0
        self.conversations_planned = 0
        self.conversations_failed = 0
        self.conversations_completed = 0
        self.conversations_started = 0
        self.truncated = False
        self.duration = 0.0
        self.cpu = 0.0
        self.t0 = None
        self.started_at = None
        self.gc_disabled = False
        self.concurrency = 0
        self.connects = 0


async def _loop_lag_monitor(state, stop):
    """Event-loop responsiveness: how late a LOOP_TICK_S sleep wakes up (TTFT timestamps are this late too)."""
    while not stop.is_set():
        due = _perf() + LOOP_TICK_S
        await asyncio.sleep(LOOP_TICK_S)
        state.loop_lags.append(max(0.0, _perf() - due))


async def _worker(conn, queue, cfg, model, state, deadline, t0, validator):
    scheduled = t0
    while queue:
        conv = queue.popleft()
        turns = len(conv["users"])
        standalone = conv.get("standalone", False)
        if not standalone:
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
            rec = Record(conv["conversation"], index + 1, structured, t_sched=scheduled, stream=cfg["stream"])
            state.records.append(rec)
            try:
                content = await run_request(conn, make_payload(cfg, model, messages, structured, conv.get("max_tokens")),
                                            rec, cfg["stream"], validator)
            except asyncio.CancelledError:
                state.not_sent += turns - index - 1
                raise
            if rec.exchange.t_send is not None:
                state.dispatch_lags.append(max(0.0, rec.exchange.t_send - rec.t_sched))
            scheduled = _perf()
            if content is None:
                # Do not build on a broken history: the rest of this conversation is not sent.
                if not standalone:
                    state.conversations_failed += 1
                state.not_sent += turns - index - 1
                completed = False
                break
            messages.append({"role": "assistant", "content": content})
        if completed and not standalone:
            state.conversations_completed += 1


def warmup_plan(cfg):
    """(messages, structured, max_tokens) of each warm-up request.

    runbook: the script's warm-up ("Hello", max_tokens 8) warmup_requests times; seeded: single seeded
    turns. Plus one structured request (the measured phase's schema) when structured_output_fraction
    > 0, so a schema the server cannot compile fails here, before anything is measured, and the
    grammar is compiled before the clock starts.
    """
    out = []
    if cfg["workload"] == "runbook":
        for _index in range(cfg["warmup_requests"]):
            out.append(([{"role": "user", "content": RUNBOOK_WORKLOAD["warmup_prompt"]}], False,
                        RUNBOOK_WORKLOAD["warmup_max_tokens"]))
    else:
        plan = build_plan(cfg["warmup_requests"], 1, cfg["seed"], cfg["prompt_words"], cfg.get("system_prompt"), 0.0,
                          namespace="warmup")
        for conv in plan:
            messages = [{"role": "system", "content": conv["system"]}] if conv["system"] else []
            out.append((messages + [{"role": "user", "content": conv["users"][0]}], False, None))
    if cfg["warmup_requests"] and cfg["structured_output_fraction"] > 0:
        prompt = (RUNBOOK_WORKLOAD["structured_prompt"] if cfg["workload"] == "runbook"
                  else "Warm-up. Answer with a JSON object that matches the requested schema.")
        max_tokens = RUNBOOK_WORKLOAD["structured_max_tokens"] if cfg["workload"] == "runbook" else None
        out.append(([{"role": "user", "content": prompt}], True, max_tokens))
    return out


async def _warmup(conn, cfg, model, state):
    for number, (messages, structured, max_tokens) in enumerate(warmup_plan(cfg), 1):
        rec = Record(number, 1, structured, warmup=True, stream=cfg["stream"])
        await run_request(conn, make_payload(cfg, model, messages, structured, max_tokens), rec, cfg["stream"])
        state.warmup_records.append(rec)
    if any(not r.ok for r in state.warmup_records):
        raise WarmupFailed(state.warmup_records)


async def _run(client, cfg, model, validator, hooks):
    state = _State()
    plan = plan_for(cfg)
    state.conversations_planned = sum(1 for item in plan if not item.get("standalone"))
    concurrency = max(1, min(cfg["concurrency"] or len(plan), len(plan)))
    conns = [AsyncConnection(client) for _slot in range(concurrency)]
    gc_was_enabled = gc.isenabled()
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
        queue = collections.deque(plan)
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
        t1 = _perf()
        cpu1 = time.process_time()
        stop.set()
        await monitor
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        state.not_sent += sum(len(item["users"]) for item in queue)
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
        if gc_was_enabled and not gc.isenabled():
            gc.enable()


def run_load(client, cfg, model, validator=None, hooks=None):
    """Run warm-up and the measured phase; returns the raw _State (records, timings, CPU, lags).

    cfg is resolved here (resolve_config) when the caller did not. Raises WarmupFailed when a
    warm-up request failed (nothing measured), SGLangError when the workers cannot connect.
    """
    cfg = resolve_config(cfg)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_run(client, cfg, model, validator, hooks or {}))
    finally:
        loop.close()
