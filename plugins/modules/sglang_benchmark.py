#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_benchmark
short_description: Benchmark an SGLang server with parallel multi-turn chat conversations
version_added: 0.1.0
description:
  - Runs O(num_conversations) conversations of O(turns_per_conversation) turns against
    C(/v1/chat/completions), O(concurrency) of them at a time, each turn resending the whole history
    (the runbook's step 9 workload, measured properly).
  - Streams by default and measures time to first token (TTFT) at the first chunk that carries
    non-empty content or reasoning text (never the role-only first chunk), end-to-end latency (E2E)
    and time per output token (TPOT); token counts come from the server's C(usage) only
    (C(stream_options.include_usage)).
  - Every conversation has unique, seeded content, so cached prefill tokens measure the reuse of its
    own history; O(system_prompt) adds a prefix shared by all conversations.
  - Warm-up requests (O(warmup_requests)) are excluded from the figures; O(flush_cache) empties the
    prefix cache before the measured phase.
  - A fraction of the measured requests (O(structured_output_fraction)) asks for C(response_format)
    C(json_schema); their answers are validated against the schema.
  - Captures C(/server_info), scrapes C(/metrics) before and after the measured phase and reports the
    counter deltas (V(unavailable) when the server runs without C(--enable-metrics)).
  - Neither the result nor O(detail_file) holds the server's credentials - C(api_key), C(admin_api_key)
    and the like from C(/server_info), C(--api-key) values in C(launch_command), and the O(api_key) given
    to the module anywhere, are replaced by C(<redacted>).
  - HTTP errors, SSE error events and timeouts are counted and the run goes on; a conversation whose
    turn failed stops there (its later turns are counted in RV(summary.not_sent)).
  - Reports its own overhead (client CPU per request, dispatch and event-loop lag) and sets
    RV(summary.client_bound) when the client rather than the server limited the run.
  - Definitions of every figure are in the collection's C(docs/benchmark.md).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  num_conversations:
    description: Number of conversations (runbook default 20; 1 for the single-conversation rerun).
    type: int
    default: 20
  turns_per_conversation:
    description: User turns per conversation.
    type: int
    default: 5
  concurrency:
    description:
      - Conversations in flight at once, each on its own kept-alive connection.
      - Default is all conversations at once.
    type: int
  max_tokens:
    description: C(max_tokens) of every request.
    type: int
    default: 256
  temperature:
    description: Sampling temperature of every request.
    type: float
    default: 0.0
  seed:
    description:
      - Seeds the conversation content (the same seed gives the same request bodies) and is sent as
        the sampling C(seed).
    type: int
    default: 0
  chat_template_kwargs:
    description:
      - Sent as C(chat_template_kwargs).
      - "For example C({\"enable_thinking\": false}) keeps Qwen3 from thinking (fixed, comparable output lengths)."
    type: dict
  system_prompt:
    description:
      - A system prompt shared by every conversation (measures cross-conversation prefix reuse).
      - Without it the conversations share no prefix.
    type: str
  prompt_words:
    description: Approximate words per generated user turn.
    type: int
    default: 48
  ignore_eos:
    description: Send C(ignore_eos=true) (SGLang extension) so every answer has O(max_tokens) tokens.
    type: bool
    default: false
  stream:
    description:
      - Stream the answers (SSE). Without streaming TTFT and TPOT are null, never the latency.
    type: bool
    default: true
  warmup_requests:
    description: Single-turn requests sent before the measured phase and excluded from every figure.
    type: int
    default: 1
  flush_cache:
    description:
      - C(POST /flush_cache) after the warm-up, so the measured phase starts with an empty prefix cache.
    type: bool
    default: true
  structured_output_fraction:
    description:
      - Fraction (0 to 1) of the measured requests that ask for C(response_format) C(json_schema).
      - Their answers are validated against O(structured_output_schema) (needs C(jsonschema) on the
        host that runs the module when above 0).
    type: float
    default: 0.1
  structured_output_schema:
    description:
      - JSON schema of the structured requests.
      - Default is an object with a required string C(topic) and a non-empty array of strings C(points).
    type: dict
  max_duration_s:
    description:
      - Upper bound of the measured phase in seconds. When reached, no new request is sent, requests in
        flight are cancelled (RV(summary.aborted)) and RV(summary.truncated) is true.
    type: float
    default: 600
  detail_file:
    description:
      - File written on the host that runs the module with the full C(/server_info) body and both
        C(/metrics) scrapes (like the runbook's cache detail log).
      - Written mode C(0600) (a missing directory is created C(0700)); the server's C(api_key),
        C(admin_api_key) and other credentials are replaced by C(<redacted>), also inside C(launch_command).
      - Not written when unset.
    type: path
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
attributes:
  check_mode:
    support: full
    description:
      - In check mode the module sends no request at all (a benchmark loads the server) and returns
        C(skipped=true) with a message.
notes:
  - O(timeout) bounds one whole request (send, first byte and the complete answer).
  - Percentiles interpolate linearly between the closest ranks (numpy's default method).
  - RV(summary.client_bound) is true when the client CPU time exceeds 80% of one core over the measured
    phase, or the dispatch lag p90 exceeds 10 ms, or the event-loop lag p90 exceeds 5 ms; figures of
    such a run describe the client, not the server.
  - C(changed) is always false.
seealso:
  - module: dgx_station.inference.sglang_benchmark_report
"""

EXAMPLES = r"""
- name: The runbook's step 9 run (20 conversations x 5 turns), Qwen3 without thinking
  dgx_station.inference.sglang_benchmark:
    base_url: http://127.0.0.1:30000
    chat_template_kwargs:
      enable_thinking: false
    detail_file: /var/tmp/sglang_benchmark_details.log
  register: bench

- name: Single-conversation rerun (prefix cache without contention)
  dgx_station.inference.sglang_benchmark:
    num_conversations: 1
    turns_per_conversation: 5
  register: bench_single

- name: Fail when TTFT p90 is above 500 ms
  ansible.builtin.assert:
    that: bench.summary.ttft_ms.p90 < 500
"""

RETURN = r"""
summary:
  description: Figures of the measured phase (warm-up excluded). Times in ms.
  returned: success
  type: dict
  contains:
    requests:
      description: Requests sent in the measured phase (succeeded + errors).
      type: int
      sample: 100
    succeeded:
      description: Requests answered completely.
      type: int
    errors:
      description: Failed requests (HTTP errors, SSE error events, timeouts, broken streams).
      type: int
      sample: 0
    error_rate:
      description: errors / requests.
      type: float
    error_kinds:
      description: Errors by kind (C(http_<status>), C(sse_error), C(timeout), C(connection_error), C(incomplete_stream), ...).
      type: dict
    not_sent:
      description: Turns never sent because their conversation failed earlier or the time bound was reached.
      type: int
    aborted:
      description: Requests in flight cancelled at O(max_duration_s).
      type: int
    truncated:
      description: True when O(max_duration_s) ended the run before every conversation finished.
      type: bool
    duration_s:
      description: Wall time of the measured phase.
      type: float
    requests_per_s:
      description: Successful requests per second of the measured phase.
      type: float
    output_tokens_per_s:
      description: Sum of usage.completion_tokens of successful requests per second.
      type: float
    ttft_ms:
      description: TTFT statistics (keys n, mean, min, p50, p90, p99, max); null values when not streaming.
      type: dict
    e2e_ms:
      description: End-to-end latency statistics (same keys).
      type: dict
    tpot_ms:
      description: Time per output token statistics (same keys), (e2e - ttft) / (completion_tokens - 1).
      type: dict
    ttfb_ms:
      description: Time to the response head (status line and headers).
      type: dict
    cache_hit_rate:
      description: Sum of cached tokens / sum of prompt tokens; null when the server reports no cached tokens (no C(--enable-cache-report)).
      type: float
    client_bound:
      description: True when the client limited the run (see notes).
      type: bool
    concurrency:
      description: Target, peak and time-weighted mean number of requests in flight.
      type: dict
per_turn:
  description: One entry per turn number.
  returned: success
  type: list
  elements: dict
  contains:
    turn:
      description: Turn number, from 1.
      type: int
    n:
      description: Successful requests of this turn.
      type: int
    errors:
      description: Failed requests of this turn.
      type: int
    e2e_ms_p50:
      description: Median E2E.
      type: float
    e2e_ms_p90:
      description: P90 E2E.
      type: float
    ttft_ms_p50:
      description: Median TTFT.
      type: float
    prompt_tokens_p50:
      description: Median prompt tokens.
      type: float
    cached_tokens_p50:
      description: Median cached prefill tokens.
      type: float
    hit_rate:
      description: Sum of cached / sum of prompt tokens of this turn.
      type: float
  sample: [{turn: 1, n: 20, errors: 0, e2e_ms_p50: 812.4, e2e_ms_p90: 901.2, ttft_ms_p50: 41.3,
            prompt_tokens_p50: 74, cached_tokens_p50: 0, hit_rate: 0.0}]
structured_output:
  description: Structured-output requests of the measured phase.
  returned: success
  type: dict
  contains:
    requests:
      description: Structured requests answered.
      type: int
    valid:
      description: Answers that parse as JSON and validate against the schema.
      type: int
    invalid:
      description: Answers that do not.
      type: int
    failed:
      description: Structured requests that failed (counted in the errors too).
      type: int
server:
  description:
    - From C(/server_info) - version, model, page_size and the flags that matter (enable_cache_report,
      disable_radix_cache, attention_backend, context_length, mem_fraction_static, enable_metrics, ...),
      plus C(prefix_cache_expected) from the collection's model presets.
  returned: success
  type: dict
metrics:
  description:
    - Deltas of the server counters over the measured phase (C(sglang:prompt_tokens_total),
      C(sglang:generation_tokens_total), C(sglang:cached_tokens_total), C(sglang:num_requests_total), ...),
      or the string V(unavailable) when C(/metrics) answers 404.
  returned: success
  type: raw
client:
  description:
    - Client self-diagnostics - C(cpu_per_request_ms) (process CPU time / requests), C(cpu_fraction_of_core),
      C(dispatch_lag_ms) and C(loop_lag_ms) statistics, C(client_bound) and its reasons.
  returned: success
  type: dict
distribution:
  description: TTFT and E2E quantiles 0, 1, ..., 100 (ms) for CDF plots.
  returned: success
  type: dict
token_agreement:
  description: Client sums / server counter deltas (1.0 when they agree).
  returned: when /metrics is available
  type: dict
config:
  description: The resolved workload settings.
  returned: success
  type: dict
detail_file:
  description: Path of the detail log written.
  returned: when O(detail_file) is set
  type: str
skipped:
  description: True in check mode (nothing was sent).
  returned: in check mode
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (
    CONNECTION_ARGUMENT_SPEC,
    SGLangError,
    client_from_module,
    fail_from_error,
)
from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import write_private_file
from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import (
    HAS_JSONSCHEMA,
    JSONSCHEMA_IMPORT_ERROR,
)

CONFIG_KEYS = ("num_conversations", "turns_per_conversation", "concurrency", "max_tokens", "temperature", "seed",
               "chat_template_kwargs", "system_prompt", "prompt_words", "ignore_eos", "stream", "warmup_requests",
               "flush_cache", "structured_output_fraction", "structured_output_schema", "max_duration_s")


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(
        num_conversations=dict(type="int", default=20),
        turns_per_conversation=dict(type="int", default=5),
        concurrency=dict(type="int"),
        max_tokens=dict(type="int", default=256, no_log=False),
        temperature=dict(type="float", default=0.0),
        seed=dict(type="int", default=0),
        chat_template_kwargs=dict(type="dict"),
        system_prompt=dict(type="str"),
        prompt_words=dict(type="int", default=48),
        ignore_eos=dict(type="bool", default=False),
        stream=dict(type="bool", default=True),
        warmup_requests=dict(type="int", default=1),
        flush_cache=dict(type="bool", default=True),
        structured_output_fraction=dict(type="float", default=0.1),
        structured_output_schema=dict(type="dict"),
        max_duration_s=dict(type="float", default=600),
        detail_file=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    for name in ("num_conversations", "turns_per_conversation", "max_tokens"):
        if params[name] < 1:
            module.fail_json(msg="%s must be at least 1" % name)
    if params["concurrency"] is not None and params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1")
    if params["warmup_requests"] < 0 or params["prompt_words"] < 0:
        module.fail_json(msg="warmup_requests and prompt_words must not be negative")
    if not 0.0 <= params["structured_output_fraction"] <= 1.0:
        module.fail_json(msg="structured_output_fraction must be between 0 and 1")
    if params["max_duration_s"] <= 0:
        module.fail_json(msg="max_duration_s must be positive")

    cfg = dict((key, params[key]) for key in CONFIG_KEYS)
    cfg["model"] = params["model"]
    cfg["structured_output_schema"] = params["structured_output_schema"] or benchmark.DEFAULT_STRUCTURED_SCHEMA
    cfg["concurrency"] = min(params["concurrency"] or params["num_conversations"], params["num_conversations"])

    if module.check_mode:
        module.exit_json(changed=False, skipped=True, config=cfg,
                         msg="Check mode: no request sent (the benchmark would load the server).")

    validator = None
    if cfg["structured_output_fraction"] > 0:
        if not HAS_JSONSCHEMA:
            module.fail_json(msg=missing_required_lib("jsonschema", reason="to validate structured outputs "
                                                      "(or set structured_output_fraction=0)"),
                             exception=JSONSCHEMA_IMPORT_ERROR)
        validator = benchmark.make_schema_validator(cfg["structured_output_schema"])

    try:
        client = client_from_module(module)
        result, detail = benchmark.run_benchmark(client, cfg, validator)
    except SGLangError as error:
        fail_from_error(module, error)

    if params["detail_file"]:
        path = params["detail_file"]
        try:
            write_private_file(path, detail)
        except (IOError, OSError) as exc:
            module.fail_json(msg="Cannot write detail_file %s: %s" % (path, exc), **result)
        result["detail_file"] = path
    cfg["model"] = result["server"]["model"]
    result["config"] = cfg
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
