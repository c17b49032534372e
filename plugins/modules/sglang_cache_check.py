#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_cache_check
short_description: Prove that SGLang's radix (prefix) cache reuses a multi-turn conversation
version_added: 0.1.0
description:
  - Runbook step 7 as a check with a pass/fail verdict. Reads C(page_size), C(disable_radix_cache) and
    C(enable_cache_report) from C(GET /server_info), optionally flushes the cache, then holds an O(turns)-turn
    conversation whose shared prefix (a system prompt) spans more than one KV page, and compares each
    turn's C(usage.prompt_tokens_details.cached_tokens) with the lower bound a working radix cache reaches.
  - B(System prompt.) O(system_prompt) (default the runbook's physics-tutor prompt) is extended with numbered
    tutor guidelines until it has at least O(min_prefix_tokens) words (default 2 x max(C(page_size), 64)).
    Words are a conservative token estimate (a BPE tokenizer gives at least one token per English word), so
    the shared prefix spans at least two 64-token pages, more than the runbook's one page. Turn 1 must then
    report more than max(C(page_size), 64) prompt tokens, otherwise the module fails.
  - B(Conversation.) Turn 1 sends the system prompt and the first of O(user_messages). Every later turn
    re-sends the whole history, with each assistant answer re-sent verbatim (its C(content)), plus the next
    user message. Requests are sequential, so each turn can reuse what the previous one left in the cache.
  - B(Lower bound) for turn N >= 2 (adapted from SGLang's C(test/kits/cache_hit_kit.py)).
    C(base = prompt_tokens[N-1]) (plus C(completion_tokens[N-1]) with O(count_completion_tokens=true))
    C(- miss_tolerance - 8); C(bound = floor(min(base, prompt_tokens[N] - 1) / page_size) * page_size), at least 0.
    After the previous request its tokens are in the radix tree, and a working cache reuses the common prefix
    of the two prompts in whole pages, never the whole prompt (SGLang always recomputes at least one token).
    The 8 tokens are the most a chat template renders differently at the end of the previous prompt - Qwen3
    with C(enable_thinking=false) adds an empty C(<think></think>) block to the last turn's generation prompt
    only (4 tokens, 5 when the answer starts with a newline) - so the bound holds at every page size.
    Completion tokens are not counted by default because templates re-render assistant turns (Qwen3 strips
    thinking), so the generated tokens are not reliably a prefix of the next prompt; cache_hit_kit counts them
    because it replays raw token ids.
  - B(Applicability) comes from what the server says about itself in C(/server_info) -
    C(disable_radix_cache) true, or a hybrid mamba/SSM model (C(max_mamba_cache_size) set in
    C(internal_states), also for a local model path) make the check not applicable; only when the server says
    neither does the model preset decide.
  - A turn B(hits) when its C(cached_tokens) is at least the bound (and, when a log line was matched exactly,
    the log's C(#cached-token) too). RV(cache_hit) is true when every turn from 2 on hits; otherwise the module
    fails and lists the misses.
  - B(Logs.) With O(container_name) (C(docker logs --since <start> <container>)) or O(log_file) (only what is
    appended during the check) the scheduler's C(Prefill batch) lines are read and matched to the turns, in
    order, by the sum of C(#new-token) and C(#cached-token) being the turn's C(prompt_tokens); when no line matches exactly but the
    non-health-probe lines are exactly one per turn, they are paired by order. A request split over several
    lines by chunked prefill is not matched. Log problems are warnings, not failures.
  - B(Not applicable.) For a model whose preset says C(prefix_cache_expected=false) (hybrid mamba/SSM such as
    C(Qwen/Qwen3.6-35B-A3B)) or a server with C(disable_radix_cache=true), the turns still run and are
    reported, but RV(applicable) is false, RV(cache_hit) is null and the module does not fail.
  - B(Missing cache report.) C(cached_tokens) needs C(--enable-cache-report). When C(/server_info) says it is
    off, or the answers carry no C(prompt_tokens_details) while C(/server_info) does not say it is on, the
    module fails and names the flag. (SGLang 0.5.6 sent C(prompt_tokens_details=null) for 0 cached tokens
    even with the flag; with the flag confirmed by C(/server_info), null is read as 0.)
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  flush_cache:
    description:
      - C(POST /flush_cache) before turn 1, so turn 1 starts cold. Not done in check mode.
      - The server does not flush while other requests run; that is reported as a warning.
    type: bool
    default: false
  turns:
    description: Number of turns (at least 2).
    type: int
    default: 2
  system_prompt:
    description: Start of the shared system prompt; extended as described above.
    type: str
    default: >-
      You are an expert physics tutor who explains concepts clearly and concisely. You use real-world
      analogies and everyday examples to make abstract ideas concrete. When answering, first state the key
      concept in one sentence, then give a short explanation with an example.
  user_messages:
    description:
      - User message of each turn; reused from the start when there are fewer than O(turns).
      - Default is the runbook's two physics questions followed by three follow-ups.
    type: list
    elements: str
  min_prefix_tokens:
    description: Minimum length, in words, of the system prompt. Default 2 x max(C(page_size), 64).
    type: int
  count_completion_tokens:
    description: Add the previous turn's completion tokens to the base of the lower bound.
    type: bool
    default: false
  miss_tolerance:
    description: Tokens subtracted from the base of the lower bound (like cache_hit_kit's C(miss_tolerance)).
    type: int
    default: 0
  max_tokens:
    description: C(max_tokens) of each turn.
    type: int
    default: 256
  temperature:
    description: Sampling temperature of each turn.
    type: float
    default: 0.0
  extra_body:
    description: Extra fields merged into each request body (for example C(chat_template_kwargs)).
    type: dict
    default: {}
  container_name:
    description:
      - Docker container of the server; its C(Prefill batch) log lines are matched to the turns.
      - Needs the C(docker) CLI and access to the Docker daemon on the host the module runs on.
    type: str
  log_file:
    description:
      - Server log file to read the C(Prefill batch) lines from instead of C(docker logs) (non-Docker installs).
        Only lines appended while the check runs are read.
    type: path
  log_wait:
    description: Seconds to wait for the log lines of every turn to appear.
    type: float
    default: 3.0
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
seealso:
  - module: dgx_station.inference.sglang_smoke_test
"""

EXAMPLES = r"""
- name: Prefix cache check on a cold cache, with the container's log lines
  dgx_station.inference.sglang_cache_check:
    flush_cache: true
    container_name: sglang-server
  register: cache

- name: Show per-turn numbers
  ansible.builtin.debug:
    msg: "{{ cache.turns | map(attribute='cached_tokens') | list }} (bounds {{ cache.turns | map(attribute='lower_bound') | list }})"

- name: Five turns against a server started outside Docker
  dgx_station.inference.sglang_cache_check:
    base_url: http://127.0.0.1:30000
    turns: 5
    log_file: /var/log/sglang/server.log
    extra_body:
      chat_template_kwargs:
        enable_thinking: false
    miss_tolerance: 16
"""

RETURN = r"""
cache_hit:
  description: Every turn from 2 on reached its lower bound. Null when RV(applicable) is false.
  returned: always
  type: bool
  sample: true
applicable:
  description: Whether prefix caching is expected on this server and model.
  returned: always
  type: bool
  sample: true
applicability_source:
  description: What decided RV(applicable) - V(server_info) (what the server says about itself) or V(preset) (the model table).
  returned: when the server answered
  type: str
  sample: server_info
reason:
  description: Why the check passed, failed or does not apply.
  returned: always
  type: str
  sample: "turn 2: 211 cached tokens >= bound 204"
page_size:
  description: C(page_size) from C(/server_info) (1 when null).
  returned: when the server answered
  type: int
  sample: 1
enable_cache_report:
  description: C(enable_cache_report) from C(/server_info) (null when not reported).
  returned: when the server answered
  type: bool
disable_radix_cache:
  description: C(disable_radix_cache) from C(/server_info).
  returned: when the server answered
  type: bool
model:
  description: Model name sent in the requests.
  returned: when the server answered
  type: str
served_model:
  description: First model C(/v1/models) lists.
  returned: when the server answered
  type: str
flushed:
  description: Whether the cache was flushed before turn 1.
  returned: always
  type: bool
system_prompt_words:
  description: Words in the system prompt that was sent.
  returned: when the server answered
  type: int
turns:
  description: One entry per turn sent.
  returned: always
  type: list
  elements: dict
  contains:
    turn:
      description: Turn number, from 1.
      type: int
    prompt_tokens:
      description: C(usage.prompt_tokens).
      type: int
    completion_tokens:
      description: C(usage.completion_tokens).
      type: int
    cached_tokens:
      description: C(usage.prompt_tokens_details.cached_tokens) (null when the server did not report it).
      type: int
    lower_bound:
      description: Fewest cached tokens a working cache gives this turn (null for turn 1).
      type: int
    log_cached_tokens:
      description: C(#cached-token) of the matched Prefill log line (null without logs or without a match).
      type: int
    log_match:
      description: How the log line was matched, V(exact), V(order) or V(none).
      type: str
    hit:
      description: Whether the turn reached its bound (null for turn 1 or when not applicable).
      type: bool
    finish_reason:
      description: C(finish_reason) of the answer.
      type: str
    latency_s:
      description: Wall time of the request in seconds.
      type: float
log_source:
  description: Where the Prefill lines came from (C(docker logs <name>), the log file, or null).
  returned: always
  type: str
log_prefill_lines:
  description: The Prefill batch lines read during the check (at most 50).
  returned: when O(container_name) or O(log_file) is set
  type: list
  elements: str
error_kind:
  description: Class of an HTTP-level failure (for example C(connection_refused), C(not_ready), C(unauthorized)).
  returned: on HTTP failure
  type: str
"""

import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_checks import (
    CACHE_REPORT_FLAG,
    PHYSICS_QUESTIONS,
    PHYSICS_SYSTEM_PROMPT,
    cache_lower_bound,
    extend_system_prompt,
    match_prefill_lines,
    parse_prefill_lines,
    word_count,
)
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import prompt_tokens_details
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_logs import ServerLog
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_server_info import prefix_cache_expectation, server_field


def run_turns(module, result):
    """Send the conversation turn by turn into result["turns"]; returns (page_size, report_flag, unit)."""
    params = module.params
    client = module.client
    questions = params["user_messages"] or PHYSICS_QUESTIONS
    turns = result["turns"]
    model, served = module.resolve_model()
    result.update(model=model, served_model=served[0] if served else None)
    info = client.server_info()
    page_size = server_field(info, "page_size") or 1
    report_flag = server_field(info, "enable_cache_report")
    result.update(page_size=page_size, enable_cache_report=report_flag,
                  disable_radix_cache=server_field(info, "disable_radix_cache"))
    expectation = prefix_cache_expectation(info, model)
    result.update(applicable=expectation["expected"], reason=None if expectation["expected"] else expectation["reason"],
                  applicability_source=expectation["source"])
    if result["applicable"] and report_flag is False:
        result["reason"] = (
            "The server runs without %s (server_info enable_cache_report: false), so usage.prompt_tokens_details."
            "cached_tokens is never filled. Add %s to the `sglang serve` command and restart the server."
            % (CACHE_REPORT_FLAG, CACHE_REPORT_FLAG))
        module.fail_json(result["reason"])

    if params["flush_cache"]:
        if module.check_mode:
            module.warn("check mode: the cache was not flushed; turn 1 may hit what earlier requests left.")
        else:
            try:
                client.flush_cache()
                result["flushed"] = True
            except SGLangError as exc:
                module.warn("flush_cache failed, continuing on a warm cache: %s" % exc.message)

    unit = max(page_size, 64)
    min_words = params["min_prefix_tokens"] or 2 * unit
    system_prompt = extend_system_prompt(params["system_prompt"], min_words)
    result["system_prompt_words"] = word_count(system_prompt)
    messages = [dict(role="system", content=system_prompt)]
    for number in range(1, params["turns"] + 1):
        messages.append(dict(role="user", content=questions[(number - 1) % len(questions)]))
        payload = dict(params["extra_body"] or {})
        payload.update(model=model, messages=list(messages), max_tokens=params["max_tokens"],
                       temperature=params["temperature"])
        answer = client.chat_exchange(payload)
        if not answer.ok or answer.prompt_tokens is None:
            raise SGLangError("Turn %d: %s" % (number, answer.error or "the answer has no usage.prompt_tokens"),
                              "invalid_response")
        turns.append(dict(
            turn=number, prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens,
            cached_tokens=answer.cached_tokens, details_present=prompt_tokens_details(answer.usage) is not None,
            lower_bound=None, log_cached_tokens=None, log_match="none", hit=None,
            finish_reason=answer.finish_reason, latency_s=round(answer.e2e, 4)))
        messages.append(dict(role="assistant", content=answer.content))
    return page_size, report_flag, unit


def check_cache(module):
    params = module.params
    result = module.result
    result.update(cache_hit=False, applicable=True, reason=None, flushed=False, turns=[], log_source=None)
    turns = result["turns"]
    logs = ServerLog(module.module.run_command, container_name=params["container_name"], log_file=params["log_file"],
                     docker_bin=module.module.get_bin_path("docker") if params["container_name"] else None,
                     since_start=True)
    result["log_source"] = logs.source
    if logs.error:
        module.warn("Prefill log lines not read: %s" % logs.error)
    page_size, report_flag, unit = run_turns(module, result)
    applicable = result["applicable"]

    # Missing prompt_tokens_details: the flag is off (diagnosis), or SGLang 0.5.6 saying "0".
    if not any(t["details_present"] for t in turns):
        if report_flag is True:
            for entry in turns:
                entry["cached_tokens"] = 0
        elif applicable:
            result["reason"] = (
                "usage.prompt_tokens_details is missing or null in every answer: the server does not report cached "
                "tokens. Add %s to the `sglang serve` command and restart the server (server_info enable_cache_report: %s)."
                % (CACHE_REPORT_FLAG, "not reported" if report_flag is None else report_flag))
            module.fail_json(result["reason"])
    for entry in turns:
        if entry["cached_tokens"] is None and entry["details_present"] is False and report_flag is not False:
            entry["cached_tokens"] = 0
        del entry["details_present"]

    # Prefill lines from the logs.
    if logs.readable:
        deadline = time.monotonic() + max(params["log_wait"], 0)
        while True:
            parsed = parse_prefill_lines(logs.read())
            matches = match_prefill_lines([t["prompt_tokens"] for t in turns], parsed)
            if logs.error or all(m[0] is not None for m in matches) or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        result["log_prefill_lines"] = [line["line"] for line in parsed][-50:]
        if logs.error:
            module.warn("Prefill log lines not read: %s" % logs.error)
        for entry, (line, how) in zip(turns, matches):
            entry["log_match"] = how
            entry["log_cached_tokens"] = line["cached_tokens"] if line else None
        unmatched = [t["turn"] for t in turns if t["log_match"] == "none"]
        if unmatched and not logs.error:
            module.warn("No Prefill batch line in %s matched turn(s) %s (%d Prefill lines read)." % (
                logs.source, ", ".join(str(n) for n in unmatched), len(parsed)))

    if result["applicable"] and turns[0]["prompt_tokens"] <= unit:
        result["reason"] = ("Turn 1 has only %d prompt tokens, not more than one page (max(page_size, 64) = %d): the shared "
                            "prefix is too short to prove reuse; set a longer system_prompt or min_prefix_tokens."
                            % (turns[0]["prompt_tokens"], unit))
        module.fail_json(result["reason"])

    misses = []
    notes = []
    for previous, entry in zip(turns, turns[1:]):
        entry["lower_bound"] = cache_lower_bound(
            previous["prompt_tokens"], previous["completion_tokens"] or 0, entry["prompt_tokens"], page_size,
            params["count_completion_tokens"], params["miss_tolerance"])
        if not result["applicable"]:
            continue
        cached = entry["cached_tokens"] or 0
        log_cached = entry["log_cached_tokens"] if entry["log_match"] == "exact" else None
        entry["hit"] = cached >= entry["lower_bound"] and (log_cached is None or log_cached >= entry["lower_bound"])
        text = "turn %d: %d cached tokens %s bound %d" % (
            entry["turn"], cached, ">=" if cached >= entry["lower_bound"] else "<", entry["lower_bound"])
        if entry["log_cached_tokens"] is not None:
            text += " (log #cached-token: %d)" % entry["log_cached_tokens"]
        (notes if entry["hit"] else misses).append(text)

    if not result["applicable"]:
        result["cache_hit"] = None
        module.exit_json(msg="Prefix-cache check not applicable: %s" % result["reason"])
    result["cache_hit"] = not misses
    if misses:
        result["reason"] = "Prefix cache not reused: %s (page_size %d; prompt tokens per turn %s)." % (
            "; ".join(misses), page_size, [t["prompt_tokens"] for t in turns])
        module.fail_json(result["reason"])
    result["reason"] = "; ".join(notes)
    module.exit_json(msg="Prefix cache reused: %s" % result["reason"])


def main():
    module = SGLangModule(argument_spec=dict(
        flush_cache=dict(type="bool", default=False),
        turns=dict(type="int", default=2),
        system_prompt=dict(type="str", default=PHYSICS_SYSTEM_PROMPT),
        user_messages=dict(type="list", elements="str"),
        min_prefix_tokens=dict(type="int", no_log=False),
        count_completion_tokens=dict(type="bool", default=False),
        miss_tolerance=dict(type="int", default=0),
        max_tokens=dict(type="int", default=256, no_log=False),
        temperature=dict(type="float", default=0.0),
        extra_body=dict(type="dict", default={}),
        container_name=dict(type="str"),
        log_file=dict(type="path"),
        log_wait=dict(type="float", default=3.0),
    ), mutually_exclusive=[("container_name", "log_file")])
    if module.params["turns"] < 2:
        module.fail_json("turns must be at least 2 (turn 1 fills the cache, turn 2 reuses it)")
    module.run(lambda: check_cache(module))


if __name__ == "__main__":
    main()
