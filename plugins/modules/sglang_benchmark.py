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
  - O(workload=runbook) sends exactly the chat workload of NVIDIA's C(benchmark_multiturn.py) (the runbook's script) -
    its system prompt, its user turns, C(max_tokens=128), its warm-up and its 8 workers; O(workload=seeded) gives
    every conversation unique, seeded content, so cached prefill tokens measure the reuse of its own history
    (O(system_prompt) adds a prefix shared by all conversations).
  - Streams by default and measures time to first token (TTFT) at the first chunk that carries
    non-empty content or reasoning text (never the role-only first chunk), time to first content (TTFO),
    inter-token latency (ITL), end-to-end latency (E2E) and time per output token (TPOT); token counts come from
    the server's C(usage) only (C(stream_options.include_usage)). Every answer is read by the collection's one
    reading of a chat answer (C(module_utils/sglang_exchange.py)).
  - An answer counts as a success only when it finished - the C([DONE]) event and a terminal C(finish_reason) (C(stop),
    C(length), C(tool_calls), C(content_filter)); C(abort) and a missing finish reason are errors, as are HTTP errors,
    SSE error events, timeouts, bodies cut short, connection resets and events that are not JSON objects. No answer
    of the server raises out of the module.
  - Warm-up requests (O(warmup_requests), plus one structured request when O(structured_output_fraction) is above 0)
    are excluded from the figures; a failed warm-up fails the module before anything is measured. O(flush_cache)
    empties the prefix cache before the measured phase.
  - Structured-output requests (O(structured_output_fraction)) ask for C(response_format) C(json_schema); their
    answers are validated against the schema, and their latency is reported apart (RV(structured_output)); the chat
    figures (RV(summary), RV(per_turn), RV(distribution)) cover the unstructured requests only.
  - Reads C(/server_info) before and after the measured phase (RV(server), RV(server_after), RV(server_changed)),
    scrapes C(/metrics) before and after and reports the counter deltas (V(unavailable) when the server runs without
    C(--enable-metrics)).
  - Fails (with the whole result and a message naming the cause and the fix) when no request of the measured phase
    succeeded, when the error rate is above O(max_error_rate), or when the warm-up failed.
  - Neither the result nor O(detail_file) nor O(requests_file) holds the server's credentials - C(api_key),
    C(admin_api_key) and the like from C(/server_info), C(--api-key) values in C(launch_command), and the O(api_key)
    given to the module anywhere, are replaced by C(<redacted>).
  - A conversation whose turn failed stops there (its later turns are counted in RV(summary.not_sent)).
  - Reports its own overhead (client CPU per request, dispatch and event-loop lag) and sets
    RV(summary.client_bound) when the client rather than the server limited the run.
  - Definitions of every figure are in the collection's C(docs/benchmark.md).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  workload:
    description:
      - V(seeded) - unique, seeded user turns per conversation (C(prompt_words) words each).
      - V(runbook) - NVIDIA's C(benchmark_multiturn.py) chat workload exactly - every conversation asks the script's questions (turn
        t the topic t mod 8) under its system prompt C(You are a helpful assistant. Keep responses concise.), with
        its C(max_tokens=128) and 8 workers (unless O(max_tokens), O(concurrency) or O(system_prompt) are set); its
        warm-up (C(Hello), C(max_tokens=8)); structured requests are its structured prompt and schema
        (C(max_tokens=512)), C(round(structured_output_fraction x chat requests)) of them, standalone and spread
        between the conversations.
    type: str
    choices: [seeded, runbook]
    default: seeded
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
      - Default is the workload's - V(runbook) 8 (the script's workers), V(seeded) all conversations at once.
    type: int
  max_tokens:
    description: C(max_tokens) of every chat request; default is the workload's (V(runbook) 128, V(seeded) 256).
    type: int
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
      - Without it the V(seeded) conversations share no prefix; the V(runbook) workload uses the script's.
    type: str
  prompt_words:
    description: Approximate words per generated user turn (V(seeded) workload).
    type: int
    default: 48
  ignore_eos:
    description: Send C(ignore_eos=true) (SGLang extension) so every answer has O(max_tokens) tokens.
    type: bool
    default: false
  stream:
    description:
      - Stream the answers (SSE). Without streaming TTFT, TTFO, ITL and TPOT are null, never the latency.
    type: bool
    default: true
  warmup_requests:
    description:
      - Single-turn requests sent before the measured phase and excluded from every figure (one more, structured,
        when O(structured_output_fraction) is above 0 and this is above 0).
      - A warm-up request that fails fails the module before anything is measured.
    type: int
    default: 1
  flush_cache:
    description:
      - C(POST /flush_cache) after the warm-up, so the measured phase starts with an empty prefix cache.
    type: bool
    default: true
  structured_output_fraction:
    description:
      - Fraction (0 to 1) of the measured requests that ask for C(response_format) C(json_schema) (V(seeded) - that
        fraction of the turns, a seeded choice; V(runbook) - standalone requests, see O(workload)).
      - Their answers are validated against O(structured_output_schema) (needs C(jsonschema) on the
        host that runs the module when above 0).
    type: float
    default: 0.1
  structured_output_schema:
    description:
      - JSON schema of the structured requests; it must compile (checked before any request is sent).
      - Default is the workload's - V(seeded) an object with a required string C(topic) and a non-empty array of
        strings C(points); V(runbook) the script's C(ratings) schema (C(items) of C(name), C(category), C(score)).
    type: dict
  max_duration_s:
    description:
      - Upper bound of the measured phase in seconds. When reached, no new request is sent, requests in
        flight are cancelled (RV(summary.aborted)) and RV(summary.truncated) is true.
    type: float
    default: 600
  max_error_rate:
    description:
      - The module fails when RV(summary.error_rate) (failed / sent requests, cancelled ones excluded) is above this.
      - V(0.0) fails on any failed request; the figures of a run with errors do not describe a healthy server.
    type: float
    default: 0.0
  provenance:
    description:
      - What the figures are tied to, returned in RV(provenance) next to the collection version, the model and the
        SGLang version. The M(dgx_station.inference.sglang_benchmark) role fills it from the facts of the
        sglang_server role (C(sglang_server_deployed)).
    type: dict
    suboptions:
      station:
        description: Name of the Station (default the host name of the host that runs the module).
        type: str
      image:
        description: The SGLang image reference the server runs.
        type: str
      image_id:
        description: The image id (C(sha256:...)) of the server's container.
        type: str
      image_digest:
        description: The image's repository digest.
        type: str
      gpu:
        description: The GPU the server runs on (as M(dgx_station.inference.gpu_info) returns it in C(selected)).
        type: dict
  detail_file:
    description:
      - File written on the host that runs the module with the full C(/server_info) bodies (before and after the
        measured phase) and both C(/metrics) scrapes (like the runbook's cache detail log).
      - Written mode C(0600) (a missing directory is created C(0700)); the server's C(api_key),
        C(admin_api_key) and other credentials are replaced by C(<redacted>), also inside C(launch_command).
      - Written also when the module fails. Not written when unset.
    type: path
  requests_file:
    description:
      - File written on the host that runs the module with one JSON object per request (JSON lines), warm-up
        included - C(conversation), C(turn), C(structured), C(warmup), C(start_ms), C(status), C(ok), C(error_kind),
        C(error), C(aborted), C(finish_reason), C(ttfb_ms), C(ttft_ms), C(ttfo_ms), C(e2e_ms), C(tpot_ms), C(itl_count),
        C(itl_ms_max), C(chunks), C(prompt_tokens), C(completion_tokens), C(cached_tokens), C(json_valid).
      - Written mode C(0600) like O(detail_file), also when the module fails. Not written when unset.
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
  - Percentiles interpolate linearly between the closest ranks (numpy's default method); every statistic carries
    its C(n) and C(low_sample), the percentiles the sample is too small for (p99 below 100 values, p95 below 20,
    p90 below 10).
  - RV(summary.client_bound) is true when the client CPU time exceeds 80% of one core over the measured
    phase, or the dispatch lag p90 exceeds 10 ms, or the event-loop lag p90 exceeds 5 ms; figures of
    such a run describe the client, not the server.
  - C(changed) is always false.
seealso:
  - module: dgx_station.inference.sglang_benchmark_report
"""

EXAMPLES = r"""
- name: The runbook's step 9 run, NVIDIA's workload (20 conversations x 5 turns on 8 workers), Qwen3 without thinking
  dgx_station.inference.sglang_benchmark:
    base_url: http://127.0.0.1:30000
    workload: runbook
    chat_template_kwargs:
      enable_thinking: false
    detail_file: /var/tmp/sglang_benchmark_details.log
    requests_file: /var/tmp/sglang_benchmark_requests.jsonl
  register: bench

- name: Single-conversation rerun (prefix cache without contention)
  dgx_station.inference.sglang_benchmark:
    workload: runbook
    num_conversations: 1
    turns_per_conversation: 5
  register: bench_single

- name: Seeded unique content, accept up to 1% failed requests
  dgx_station.inference.sglang_benchmark:
    num_conversations: 64
    max_error_rate: 0.01
    provenance:
      station: "{{ inventory_hostname }}"
      image: "{{ sglang_server_deployed.image }}"
      gpu: "{{ sglang_server_deployed.gpu }}"

- name: Fail when TTFT p90 is above 500 ms
  ansible.builtin.assert:
    that: bench.summary.ttft_ms.p90 < 500
"""

RETURN = r"""
summary:
  description:
    - Figures of the measured phase (warm-up excluded). Times in ms.
    - Counts (requests, errors, tokens, throughput) cover every request; latency statistics (ttft_ms, ttfo_ms,
      itl_ms, tpot_ms, e2e_ms, ttfb_ms) the unstructured (chat) requests only.
    - "Every statistic is a dict with keys n, mean, min, p50, p90, p95, p99, max and low_sample (the percentiles
      the sample cannot support: [p99] when n < 100, [p95, p99] when n < 20, [p90, p95, p99] when n < 10)."
  returned: when the measured phase ran
  type: dict
  contains:
    requests:
      description: Requests sent in the measured phase (succeeded + errors), cancelled ones excluded.
      type: int
      sample: 100
    succeeded:
      description: Requests answered completely (terminal finish_reason, and data [DONE] when streaming).
      type: int
    errors:
      description: Failed requests (HTTP errors, SSE error events, abort and other non-terminal finishes, timeouts, broken streams).
      type: int
      sample: 0
    error_rate:
      description: errors / requests.
      type: float
    error_kinds:
      description:
        - Errors by kind - C(http_<status>), C(sse_error), C(finish_abort), C(finish_missing), C(finish_other),
          C(timeout), C(connection_error), C(connection_refused), C(incomplete_stream), C(invalid_event),
          C(invalid_response), C(client_error).
      type: dict
    error_samples:
      description: The first failed requests (conversation, turn, structured, kind, message).
      type: list
      elements: dict
    not_sent:
      description: Turns never sent because their conversation failed earlier or the time bound was reached.
      type: int
    aborted:
      description: Requests in flight cancelled at O(max_duration_s).
      type: int
    truncated:
      description: True when O(max_duration_s) ended the run before every conversation finished.
      type: bool
    conversations:
      description: Conversations planned, started, completed and failed (standalone structured requests excluded).
      type: dict
    duration_s:
      description: Wall time of the measured phase.
      type: float
    started_at:
      description: Wall-clock start of the measured phase (UTC, ISO 8601), to correlate with server logs.
      type: str
    requests_per_s:
      description: Successful requests per second of the measured phase.
      type: float
    output_tokens_per_s:
      description: Sum of usage.completion_tokens of successful requests per second.
      type: float
    total_tokens_per_s:
      description:
        - Sum of usage.prompt_tokens and usage.completion_tokens of successful requests per second (the runbook
          script's "Throughput"; resent history dominates it).
      type: float
    prompt_tokens:
      description: Sum of usage.prompt_tokens of successful requests.
      type: int
    completion_tokens:
      description: Sum of usage.completion_tokens of successful requests.
      type: int
    cached_tokens:
      description: Sum of usage.prompt_tokens_details.cached_tokens; null when the server reports none.
      type: int
    cache_hit_rate:
      description: Sum of cached tokens / sum of prompt tokens; null when the server reports no cached tokens (no C(--enable-cache-report)).
      type: float
    usage_missing:
      description: Successful requests whose answer carried no usage object.
      type: int
    chat_requests:
      description: Unstructured requests sent (those the latency statistics describe).
      type: int
    chat_succeeded:
      description: Unstructured requests answered completely.
      type: int
    latency_scope:
      description: Which requests the latency statistics cover; V(unstructured).
      type: str
    ttft_ms:
      description: Time to first token (first chunk with content or reasoning); null values when not streaming.
      type: dict
    ttfo_ms:
      description: Time to first content (reasoning excluded); null values when not streaming.
      type: dict
    itl_ms:
      description: Inter-token latency - every gap between consecutive chunks that carry content or reasoning (per chunk, not per token).
      type: dict
    tpot_ms:
      description: Time per output token, (e2e - ttft) / (completion_tokens - 1).
      type: dict
    e2e_ms:
      description: End-to-end latency.
      type: dict
    ttfb_ms:
      description: Time to the response head (status line and headers).
      type: dict
    flush_cache:
      description: Whether C(/flush_cache) was requested and done, and its message.
      type: dict
    client_bound:
      description: True when the client limited the run (see notes).
      type: bool
    concurrency:
      description: Target, peak and time-weighted mean number of requests in flight.
      type: dict
per_turn:
  description: One entry per turn number, over the unstructured (chat) requests.
  returned: when the measured phase ran
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
    ttft_ms_p90:
      description: P90 TTFT.
      type: float
    tpot_ms_p50:
      description: Median TPOT.
      type: float
    itl_ms_p50:
      description: Median ITL.
      type: float
    prompt_tokens_p50:
      description: Median prompt tokens.
      type: float
    cached_tokens_p50:
      description: Median cached prefill tokens.
      type: float
    cold_prefill_tokens_p50:
      description: Median prompt tokens that were not cached.
      type: float
    completion_tokens_p50:
      description: Median completion tokens.
      type: float
    hit_rate:
      description: Sum of cached / sum of prompt tokens of this turn.
      type: float
    low_sample:
      description: The percentiles n is too small for (see RV(summary)).
      type: list
      elements: str
  sample: [{turn: 1, n: 20, errors: 0, e2e_ms_p50: 812.4, e2e_ms_p90: 901.2, ttft_ms_p50: 41.3,
            prompt_tokens_p50: 74, cached_tokens_p50: 0, hit_rate: 0.0, low_sample: [p99]}]
structured_output:
  description: Structured-output requests of the measured phase, with their own latency figures.
  returned: when the measured phase ran
  type: dict
  contains:
    fraction:
      description: O(structured_output_fraction).
      type: float
    sent:
      description: Structured requests sent.
      type: int
    requests:
      description: Structured requests answered.
      type: int
    valid:
      description: Answers that parse as JSON and validate against the schema.
      type: int
    invalid:
      description: Answers that do not.
      type: int
    invalid_cut_by_max_tokens:
      description: Invalid answers whose finish_reason was C(length) (raise O(max_tokens)).
      type: int
    failed:
      description: Structured requests that failed (counted in the errors too).
      type: int
    error_kinds:
      description: Their errors by kind.
      type: dict
    valid_rate:
      description: valid / requests.
      type: float
    ttft_ms:
      description: TTFT statistics of the structured requests (same keys as RV(summary.ttft_ms)).
      type: dict
    e2e_ms:
      description: E2E statistics of the structured requests.
      type: dict
    tpot_ms:
      description: TPOT statistics of the structured requests.
      type: dict
    itl_ms:
      description: ITL statistics of the structured requests.
      type: dict
server:
  description:
    - From C(/server_info) before the measured phase - version, model, model_path, served_model_name,
      weight_version, startup_time, page_size and the flags that matter (enable_cache_report, disable_radix_cache,
      attention_backend, context_length, mem_fraction_static, enable_metrics, grammar_backend, ...).
    - C(prefix_cache_expected) (false when the server's prefix cache does not carry across requests - a hybrid
      model, C(disable_radix_cache)), C(prefix_cache_reason) and C(prefix_cache_source) say whether cached tokens
      are to be expected, and why.
  returned: success
  type: dict
server_after:
  description: The same from C(/server_info) after the measured phase; null when it could not be read.
  returned: when the measured phase ran
  type: dict
server_changed:
  description:
    - "The fields of RV(server) that differ in RV(server_after), as {field: {before, after}} (version, model_path,
      served_model_name, weight_version, startup_time - a restart - and the flags); {} when none; null when
      RV(server_after) is missing. A change is also a warning."
  returned: when the measured phase ran
  type: dict
provenance:
  description:
    - Where the figures come from - C(collection_version) (this collection's), C(model), C(sglang_version)
      (C(/server_info) version), C(image), C(image_id), C(image_digest), C(gpu) (from O(provenance)) and C(station)
      (O(provenance.station), else the host name).
  returned: always, except for a failure before the server answered
  type: dict
  sample: {collection_version: 0.1.0, model: Qwen/Qwen3-8B, sglang_version: 0.5.23, image: "lmsysorg/sglang:latest-cu130",
           image_id: "sha256:9f2c...", image_digest: "lmsysorg/sglang@sha256:1b7e...", gpu: {name: NVIDIA GB300}, station: station-01}
warmup:
  description: Warm-up requests sent, their errors, error kinds and the first failed ones (error_samples).
  returned: always, except for a failure before the server answered
  type: dict
failure_kind:
  description:
    - Null on success; why the module failed - V(warmup) (a warm-up request failed, nothing measured),
      V(no_success) (no request of the measured phase succeeded), V(error_rate) (above O(max_error_rate)).
  returned: always, except for a failure before the server answered
  type: str
notes:
  description: Notes on the run (flush failed, /metrics unreadable, the server changed), also shown as warnings.
  returned: always, except for a failure before the server answered
  type: list
  elements: str
metrics:
  description:
    - Deltas of the server counters over the measured phase (C(sglang:prompt_tokens_total),
      C(sglang:generation_tokens_total), C(sglang:cached_tokens_total), C(sglang:num_requests_total), ...),
      or the string V(unavailable) when C(/metrics) answers 404.
  returned: when the measured phase ran
  type: raw
client:
  description:
    - Client self-diagnostics - C(cpu_per_request_ms) (process CPU time / requests), C(cpu_fraction_of_core),
      C(dispatch_lag_ms) and C(loop_lag_ms) statistics, C(client_bound) and its reasons, C(warmup_requests) and
      C(warmup_errors).
  returned: when the measured phase ran
  type: dict
distribution:
  description: TTFT and E2E quantiles 0, 1, ..., 100 (ms) of the chat requests, for CDF plots.
  returned: when the measured phase ran
  type: dict
token_agreement:
  description: Client sums / server counter deltas (1.0 when they agree); null when /metrics is unavailable.
  returned: when the measured phase ran
  type: dict
config:
  description: The resolved workload settings (the workload's defaults filled in), including the model sent.
  returned: success
  type: dict
detail_file:
  description: Path of the detail log written.
  returned: when O(detail_file) is set
  type: str
requests_file:
  description: Path of the requests.jsonl written.
  returned: when O(requests_file) is set
  type: str
skipped:
  description: True in check mode (nothing was sent).
  returned: in check mode
  type: bool
"""

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark
from ansible_collections.dgx_station.inference.plugins.module_utils.benchmark_load import WORKLOADS, SchemaError, make_schema_validator, resolve_config
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import write_private_file
from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import (
    HAS_JSONSCHEMA,
    JSONSCHEMA_IMPORT_ERROR,
)

ARGUMENT_SPEC = dict(
    workload=dict(type="str", default="seeded", choices=list(WORKLOADS)),
    num_conversations=dict(type="int", default=20),
    turns_per_conversation=dict(type="int", default=5),
    concurrency=dict(type="int"),
    max_tokens=dict(type="int", no_log=False),
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
    max_error_rate=dict(type="float", default=0.0),
    provenance=dict(type="dict", options=dict(
        station=dict(type="str"),
        image=dict(type="str"),
        image_id=dict(type="str"),
        image_digest=dict(type="str"),
        gpu=dict(type="dict"),
    )),
    detail_file=dict(type="path"),
    requests_file=dict(type="path"),
)

CONFIG_KEYS = ("workload", "num_conversations", "turns_per_conversation", "concurrency", "max_tokens", "temperature", "seed",
               "chat_template_kwargs", "system_prompt", "prompt_words", "ignore_eos", "stream", "warmup_requests",
               "flush_cache", "structured_output_fraction", "structured_output_schema", "max_duration_s",
               "max_error_rate", "provenance")


def check_params(params):
    """The first problem with the options, or None."""
    for name in ("num_conversations", "turns_per_conversation"):
        if params[name] < 1:
            return "%s must be at least 1" % name
    for name in ("concurrency", "max_tokens"):
        if params[name] is not None and params[name] < 1:
            return "%s must be at least 1" % name
    if params["warmup_requests"] < 0 or params["prompt_words"] < 0:
        return "warmup_requests and prompt_words must not be negative"
    if not 0.0 <= params["structured_output_fraction"] <= 1.0:
        return "structured_output_fraction must be between 0 and 1"
    if not 0.0 <= params["max_error_rate"] <= 1.0:
        return "max_error_rate must be between 0 and 1 (0.0: any failed request fails the module)"
    if params["max_duration_s"] <= 0:
        return "max_duration_s must be positive"
    return None


def _write(module, result, option, text):
    path = module.params[option]
    if not path:
        return
    try:
        write_private_file(path, text)
    except (IOError, OSError) as exc:
        module.fail_json("Cannot write %s %s: %s" % (option, path, exc), **result)
    result[option] = path


def benchmark_server(module, cfg, validator):
    """Measure, write the detail log and requests.jsonl, then pass or fail on the measurement itself."""
    cfg["model"] = module.resolve_model()[0]
    outcome = benchmark.measure(module.client, cfg, validator)
    result = outcome.result
    result["config"] = cfg
    _write(module, result, "detail_file", outcome.detail)
    _write(module, result, "requests_file", outcome.requests_jsonl)
    for note in result.get("notes") or ():
        module.warn(note)
    if outcome.msg:
        module.fail_json(outcome.msg, **result)
    module.exit_json(**result)


def main():
    module = SGLangModule(argument_spec=ARGUMENT_SPEC)
    params = module.params
    problem = check_params(params)
    if problem:
        module.fail_json(problem)
    cfg = dict((key, params[key]) for key in CONFIG_KEYS)
    cfg["model"] = params["model"]
    cfg = resolve_config(cfg)

    if module.check_mode:
        module.exit_json(skipped=True, config=cfg, msg="Check mode: no request sent (the benchmark would load the server).")

    # The schema compiles before any request is sent (also when no structured request is asked for).
    validator = None
    if cfg["structured_output_fraction"] > 0 or params["structured_output_schema"] is not None:
        if not HAS_JSONSCHEMA:
            if cfg["structured_output_fraction"] > 0:
                module.fail_json("Failed to import the required Python library (jsonschema) for the interpreter running "
                                 "this module: it validates the structured outputs. Use the Station's venv (the "
                                 "dgx_station.inference.python_venv role installs it) or set structured_output_fraction=0.",
                                 exception=JSONSCHEMA_IMPORT_ERROR)
        else:
            try:
                validator = make_schema_validator(cfg["structured_output_schema"])
            except SchemaError as exc:
                module.fail_json("structured_output_schema is not a JSON schema that compiles: %s. Fix the schema, or "
                                 "leave structured_output_schema unset for the workload's default." % exc,
                                 error_kind="invalid_schema")
    module.run(lambda: benchmark_server(module, cfg, validator))


if __name__ == "__main__":
    main()
