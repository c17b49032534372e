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
stream_finish_reason:
  description: The last C(finish_reason) of the stream.
  returned: when O(stream=true) and the server answered
  type: str
  sample: stop
error_kind:
  description: Class of an HTTP-level failure (for example C(connection_refused), C(not_ready), C(unauthorized), C(server_error)).
  returned: on HTTP failure
  type: str
"""

import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_checks import SMOKE_PROMPT, check_answer, check_stream
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import ChatExchange
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule


def smoke_test(module):
    params = module.params
    result = module.result
    result.update(passed=False, failures=[])
    checks = {}
    failures = result["failures"]
    warnings = []
    model, served = module.resolve_model(require_listed=False)
    result.update(model=model, served_models=served, served_model=served[0] if served else None)
    if params["model"]:
        checks["model_listed"] = model in served
        if not checks["model_listed"]:
            failures.append("model_listed: %r is not served here; /v1/models lists %s" % (model, ", ".join(served)))

    payload = dict(params["extra_body"] or {})
    payload.update(model=model, messages=[dict(role="user", content=params["prompt"])], max_tokens=params["max_tokens"])
    if params["temperature"] is not None:
        payload["temperature"] = params["temperature"]
    started = time.perf_counter()
    body = module.client.chat(payload)
    answer = ChatExchange.from_body(body, t_send=started)
    result["latency_s"] = round(answer.e2e, 4)
    check_answer(body, answer, checks, failures, warnings)
    result.update(content=answer.content if answer.parts else None,
                  reasoning_content=answer.reasoning if answer.reasoning_parts else None,
                  finish_reason=answer.finish_reason, prompt_tokens=answer.prompt_tokens,
                  completion_tokens=answer.completion_tokens,
                  total_tokens=(answer.usage or {}).get("total_tokens"))
    if params["stream"]:
        streamed = module.client.chat_exchange(payload, stream=True)
        check_stream(streamed, checks, failures)
        result.update(stream_ttft_s=None if streamed.ttft is None else round(streamed.ttft, 4),
                      stream_latency_s=round(streamed.e2e, 4), stream_chunks=streamed.events + (1 if streamed.done else 0),
                      stream_content=streamed.content, stream_finish_reason=streamed.finish_reason)
    result["checks"] = checks
    for warning in warnings:
        module.warn(warning)
    result["passed"] = not failures
    if failures:
        module.fail_json("SGLang smoke test failed: %s" % "; ".join(failures))
    module.exit_json(msg="%s answered in %.2f s (%s prompt + %s completion tokens)" % (
        model, result["latency_s"], result.get("prompt_tokens"), result.get("completion_tokens")))


def main():
    module = SGLangModule(argument_spec=dict(
        prompt=dict(type="str", default=SMOKE_PROMPT),
        max_tokens=dict(type="int", default=256, no_log=False),
        temperature=dict(type="float"),
        stream=dict(type="bool", default=False),
        extra_body=dict(type="dict", default={}),
    ))
    module.run(lambda: smoke_test(module))


if __name__ == "__main__":
    main()
