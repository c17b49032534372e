#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_smoke_test
short_description: Check that an SGLang server answers a chat completion in OpenAI format
version_added: 0.1.0
description:
  - Runbook step 6 as a check. Lists the served model (C(GET /v1/models)), sends one
    C(POST /v1/chat/completions) and checks the OpenAI shape of the answer
    (C(object) is C(chat.completion), C(choices[0].message.role) is C(assistant), the content is not
    empty, a C(finish_reason) other than C(abort), and C(usage) with prompt, completion and total tokens
    where total = prompt + completion).
  - With O(stream=true) also sends a streaming request and checks the SSE sequence (role chunk first,
    a non-empty content chunk whose arrival time is the time to first token, a chunk with C(finish_reason),
    usage consistency, and the C([DONE]) event last).
  - Fails with one entry in RV(failures) per failed check. Connection, authentication and server errors
    fail with a message that says what to do.
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  prompt:
    description: User message to send.
    type: str
    default: Explain quantum computing in simple terms.
  max_tokens:
    description: C(max_tokens) of the request.
    type: int
    default: 256
  temperature:
    description: Sampling temperature; the server's default when not set.
    type: float
  stream:
    description: Also check a streaming request (C(stream=true) with C(stream_options.include_usage)).
    type: bool
    default: false
  extra_body:
    description:
      - Extra fields merged into each request body, for example
        C(chat_template_kwargs) with C(enable_thinking=false) for Qwen3.
    type: dict
    default: {}
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
notes:
  - When O(model) is set it must be one of the models C(/v1/models) lists (SGLang answers any model
    name, so a wrong name would otherwise go unnoticed).
  - A thinking model without C(--reasoning-parser) (the runbook's Qwen3 launch) puts its C(<think>) text
    in the content and often stops with C(finish_reason=length) at 256 tokens; both are accepted. With a
    reasoning parser, an answer whose whole budget went to C(reasoning_content) is accepted with a warning.
seealso:
  - module: dgx_station.inference.sglang_cache_check
  - module: dgx_station.inference.sglang_structured_output_check
"""

EXAMPLES = r"""
- name: One chat completion on the Station's server
  dgx_station.inference.sglang_smoke_test:
  register: smoke

- name: Also check streaming, through a reverse proxy with an API key
  dgx_station.inference.sglang_smoke_test:
    base_url: https://station01.example.com:8443
    api_key: "{{ sglang_server_api_key }}"
    stream: true
    extra_body:
      chat_template_kwargs:
        enable_thinking: false

- name: Set the endpoint once for every SGLang check
  module_defaults:
    group/dgx_station.inference.sglang:
      base_url: http://127.0.0.1:30000
  block:
    - name: Smoke
      dgx_station.inference.sglang_smoke_test:
        stream: true
      register: smoke
    - name: Show the time to first token
      ansible.builtin.debug:
        msg: "{{ smoke.served_model }} answered in {{ smoke.latency_s }} s, TTFT {{ smoke.stream_ttft_s }} s"
"""

RETURN = r"""
passed:
  description: All checks passed (always true when the module succeeds).
  returned: always
  type: bool
  sample: true
failures:
  description: One message per failed check, prefixed with the check name.
  returned: always
  type: list
  elements: str
  sample: ["usage: total_tokens 99 != prompt_tokens 16 + completion_tokens 3"]
checks:
  description: Each check by name and whether it passed.
  returned: when the server answered
  type: dict
  sample: {object: true, role: true, content: true, finish_reason: true, usage: true}
served_model:
  description: First model C(/v1/models) lists.
  returned: when the server answered
  type: str
  sample: Qwen/Qwen3-8B
served_models:
  description: Every model C(/v1/models) lists.
  returned: when the server answered
  type: list
  elements: str
model:
  description: Model name sent in the request.
  returned: when the server answered
  type: str
  sample: Qwen/Qwen3-8B
latency_s:
  description: Wall time of the non-streaming request, in seconds.
  returned: when the server answered
  type: float
  sample: 2.71
prompt_tokens:
  description: C(usage.prompt_tokens).
  returned: when the server answered
  type: int
  sample: 16
completion_tokens:
  description: C(usage.completion_tokens).
  returned: when the server answered
  type: int
  sample: 58
total_tokens:
  description: C(usage.total_tokens).
  returned: when the server answered
  type: int
  sample: 74
content:
  description: C(choices[0].message.content).
  returned: when the server answered
  type: str
reasoning_content:
  description: C(choices[0].message.reasoning_content) (null without a reasoning parser).
  returned: when the server answered
  type: str
finish_reason:
  description: C(choices[0].finish_reason).
  returned: when the server answered
  type: str
  sample: stop
stream_ttft_s:
  description: Seconds from sending the streaming request to the first chunk with non-empty content (or reasoning).
  returned: when O(stream=true) and the server answered
  type: float
  sample: 0.042
stream_latency_s:
  description: Seconds from sending the streaming request to C([DONE]).
  returned: when O(stream=true) and the server answered
  type: float
stream_chunks:
  description: Number of SSE data events received (including C([DONE])).
  returned: when O(stream=true) and the server answered
  type: int
stream_content:
  description: Content assembled from the streamed deltas.
  returned: when O(stream=true) and the server answered
  type: str
error_kind:
  description: Class of an HTTP-level failure (for example C(connection_refused), C(not_ready), C(unauthorized), C(server_error)).
  returned: on HTTP failure
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (
    CONNECTION_ARGUMENT_SPEC,
    SGLangError,
    client_from_module,
    fail_from_error,
)
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_checks import (
    SMOKE_PROMPT,
    check_usage,
    first_choice,
    resolve_model,
)


def check_completion(body, checks, failures, warnings):
    """Checks of a non-streaming answer; returns the fields to report."""
    report = {}
    if not isinstance(body, dict):
        failures.append("object: the answer is not a JSON object")
        checks["object"] = False
        return report
    checks["object"] = body.get("object") == "chat.completion"
    if not checks["object"]:
        failures.append("object: %r, expected 'chat.completion'" % body.get("object"))
    choice = first_choice(body)
    checks["choices"] = choice is not None
    if choice is None:
        failures.append("choices: missing or empty")
        message = {}
    else:
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    checks["role"] = message.get("role") == "assistant"
    if choice is not None and not checks["role"]:
        failures.append("role: choices[0].message.role is %r, expected 'assistant'" % message.get("role"))
    content = message.get("content")
    reasoning = message.get("reasoning_content")
    report.update(content=content, reasoning_content=reasoning)
    has_content = isinstance(content, str) and bool(content.strip())
    if not has_content and isinstance(reasoning, str) and reasoning.strip():
        warnings.append("The answer has only reasoning_content (the budget went to thinking); raise max_tokens "
                        "or disable thinking with extra_body.chat_template_kwargs.enable_thinking=false.")
        has_content = True
    checks["content"] = has_content
    if choice is not None and not has_content:
        failures.append("content: choices[0].message.content is empty (%r)" % (content,))
    finish = choice.get("finish_reason") if choice else None
    report["finish_reason"] = finish
    checks["finish_reason"] = isinstance(finish, str) and finish != "abort"
    if choice is not None and not checks["finish_reason"]:
        failures.append("finish_reason: %r, expected stop or length (abort means the server dropped the request)" % finish)
    usage = body.get("usage")
    usage_failures = check_usage(usage)
    checks["usage"] = not usage_failures
    failures.extend(usage_failures)
    if isinstance(usage, dict):
        report.update(prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                      total_tokens=usage.get("total_tokens"))
    return report


def check_stream(client, payload, checks, failures):
    """Send a streaming request and check the SSE sequence; returns the fields to report."""
    started = time.monotonic()
    events = []
    ttft = None
    content = []
    role_first = None
    finish = None
    usage = None
    error = None
    for now, event in client.stream_chat(dict(payload, stream_options=dict(include_usage=True))):
        events.append(event)
        if event == "[DONE]":
            break
        if not isinstance(event, dict):
            continue
        if "error" in event:
            error = event["error"]
            continue
        if event.get("usage"):
            usage = event["usage"]
        choice = first_choice(event)
        if choice is None:
            continue
        delta = choice.get("delta") or {}
        if role_first is None:
            role_first = delta.get("role") == "assistant"
        piece = delta.get("content") or ""
        if ttft is None and (piece or delta.get("reasoning_content")):
            ttft = now - started
        content.append(piece)
        if choice.get("finish_reason"):
            finish = choice["finish_reason"]
    finished = time.monotonic()

    checks["stream_role_chunk"] = bool(role_first)
    if not role_first:
        failures.append("stream_role_chunk: the first chunk does not carry delta.role 'assistant'")
    checks["stream_content"] = ttft is not None
    if ttft is None:
        failures.append("stream_content: no chunk with non-empty content")
    checks["stream_finish_chunk"] = finish is not None and finish != "abort"
    if not checks["stream_finish_chunk"]:
        failures.append("stream_finish_chunk: no chunk with a finish_reason (got %r)" % finish)
    checks["stream_done"] = bool(events) and events[-1] == "[DONE]"
    if not checks["stream_done"]:
        failures.append("stream_done: the stream did not end with data: [DONE]")
    checks["stream_no_error"] = error is None
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else error
        failures.append("stream_no_error: the stream carried an error event: %s" % message)
    if usage is not None:
        usage_failures = check_usage(usage, prefix="stream_")
        checks["stream_usage"] = not usage_failures
        failures.extend(usage_failures)
    return dict(
        stream_ttft_s=round(ttft, 4) if ttft is not None else None,
        stream_latency_s=round(finished - started, 4),
        stream_chunks=len(events),
        stream_content="".join(content),
        stream_finish_reason=finish,
    )


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(
        prompt=dict(type="str", default=SMOKE_PROMPT),
        max_tokens=dict(type="int", default=256, no_log=False),
        temperature=dict(type="float"),
        stream=dict(type="bool", default=False),
        extra_body=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    result = dict(changed=False, passed=False, failures=[])
    checks = {}
    failures = result["failures"]
    warnings = []
    try:
        client = client_from_module(module)
        model, served = resolve_model(client, params["model"])
        result.update(model=model, served_models=served, served_model=served[0] if served else None)
        if params["model"]:
            checks["model_listed"] = model in served
            if not checks["model_listed"]:
                failures.append("model_listed: %r is not served here; /v1/models lists %s" % (model, ", ".join(served)))

        payload = dict(params["extra_body"] or {})
        payload.update(model=model, messages=[dict(role="user", content=params["prompt"])], max_tokens=params["max_tokens"])
        if params["temperature"] is not None:
            payload["temperature"] = params["temperature"]
        started = time.monotonic()
        body = client.chat(payload)
        result["latency_s"] = round(time.monotonic() - started, 4)
        result.update(check_completion(body, checks, failures, warnings))
        if params["stream"]:
            result.update(check_stream(client, payload, checks, failures))
        client.close()
    except SGLangError as exc:
        fail_from_error(module, exc, **result)

    result["checks"] = checks
    for warning in warnings:
        module.warn(warning)
    result["passed"] = not failures
    if failures:
        module.fail_json(msg="SGLang smoke test failed: %s" % "; ".join(failures), **result)
    module.exit_json(msg="%s answered in %.2f s (%s prompt + %s completion tokens)" % (
        model, result["latency_s"], result.get("prompt_tokens"), result.get("completion_tokens")), **result)


if __name__ == "__main__":
    main()
