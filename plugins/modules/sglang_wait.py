#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sglang_wait
short_description: Wait until an SGLang server is ready, or say why it will not be
version_added: 0.1.0
description:
  - Polls C(/health) until it answers 200 and C(/v1/models) lists the served model.
  - Connection refused and C(/health) 503 mean "still booting", not an error, until O(wait_timeout) runs out.
    A first start on a DGX Station (download, weight load, CUDA-graph capture) takes 10-45 minutes.
  - With O(container_name) (or O(log_file)) it reads the server log to report the boot phase reached
    (loading weights, KV memory pool, capturing CUDA graphs, warm-up, ready) and stops waiting as soon
    as the container has exited or restarted, instead of running into the timeout.
  - On failure it returns the tail of the log, the phase reached and the matching entry of the
    collection's failure catalog (id, symptom, cause, fix).
  - Answers that waiting cannot change end the wait at once with RV(error_kind) and the reason, instead of
    waiting out O(wait_timeout) - a TLS error (C(tls_error); give the CA with O(ca_path) or, for a trusted
    self-signed endpoint, set O(validate_certs=false)), a refused key (C(unauthorized), C(forbidden)) and a
    ready server that lists other models than O(model) (C(model_not_served)).
author:
  - DGX Station inference maintainers (@dgx-station)
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
options:
  wait_timeout:
    description:
      - Seconds to wait in total for the server to become ready.
      - The sglang_server role passes the model preset's C(ready_timeout_s).
    type: float
    default: 2700
  poll_interval:
    description:
      - Seconds between two polls.
    type: float
    default: 5
  container_name:
    description:
      - Name (or id) of the Docker container running the server.
      - Its state is read with C(docker inspect) and its log with C(docker logs) on the host the module runs on.
      - A container that exits or restarts while waiting ends the wait at once with a failure.
    type: str
  log_file:
    description:
      - A file the server logs to, read instead of the container log when O(container_name) is not set.
      - Without a container, a fatal error line of the failure catalog in this file ends the wait.
    type: path
  log_lines:
    description:
      - How many lines of the log tail to return.
    type: int
    default: 40
  log_scan_lines:
    description:
      - How many lines at the end of the log are scanned for the boot phase and for known failures.
    type: int
    default: 5000
  docker_bin:
    description:
      - The docker CLI to use with O(container_name). Looked up on PATH by default.
    type: path
notes:
  - O(model) is the served model name to wait for in C(/v1/models) (C(--served-model-name), or the
    model path when that is not set). Without it any listed model counts.
  - O(timeout) bounds each HTTP request, O(wait_timeout) the whole wait.
seealso:
  - module: dgx_station.inference.gpu_info
"""

EXAMPLES = r"""
- name: Wait for the SGLang server (first start may take 45 minutes)
  dgx_station.inference.sglang_wait:
    base_url: http://127.0.0.1:30000
    model: Qwen/Qwen3-8B
    container_name: sglang-server
    wait_timeout: 2700
    poll_interval: 10
  register: ready

- name: Show where a failed boot stopped
  ansible.builtin.debug:
    msg: "{{ ready.phase }}: {{ ready.failure.id | default('none') }}"
"""

RETURN = r"""
error_kind:
  description:
    - Why the wait ended at once (C(tls_error), C(unauthorized), C(forbidden), C(model_not_served), C(bad_request)).
  returned: when the server gave an answer that waiting cannot change
  type: str
  sample: model_not_served
ready:
  description: Whether the server answered C(/health) 200 and listed the model.
  returned: always
  type: bool
elapsed_s:
  description: Seconds spent waiting.
  returned: always
  type: float
phase:
  description:
    - Boot phase reached, from the log when there is one, else from HTTP answers.
    - One of C(starting), C(loading_weights), C(kv_memory_pool), C(capturing_cuda_graphs), C(warm_up),
      C(ready), C(exited), C(unknown).
  returned: always
  type: str
  sample: capturing_cuda_graphs
served_model:
  description: The model id listed by C(/v1/models) once ready.
  returned: when ready
  type: str
  sample: Qwen/Qwen3-8B
container_state:
  description: Status, exit code and restart count of the container when last seen.
  returned: when O(container_name) is set
  type: dict
  sample: {"status": "exited", "exit_code": 1, "restart_count": 0, "running": false}
log_tail:
  description:
    - The last O(log_lines) lines of the log.
    - Credentials in it (the C(api_key) and C(admin_api_key) of the C(server_args=ServerArgs(...)) line,
      C(--api-key) values, the O(api_key) given to the module) are replaced by C(<redacted>).
  returned: when a log was read
  type: list
  elements: str
failure:
  description:
    - Why the server is not ready. Keys are those of the failure catalog row (C(id), C(title), C(severity),
      C(stage), C(where), C(symptom), C(cause), C(fix)) plus C(evidence), the log lines that matched.
    - C(id) is C(still_booting) when the timeout ran out with no known error in the log,
      C(container_exited) when the container died with no known error in its log.
  returned: when not ready
  type: dict
  sample: {"id": "oom_at_start", "fix": "Lower sglang_server_mem_fraction_static (e.g. 0.7) ..."}
warnings_found:
  description: Warning-severity catalog rows seen in the log (for example C(numa_affinity_sys_nice)).
  returned: always
  type: list
  elements: dict
"""

import re
import time

from ansible_collections.dgx_station.inference.plugins.module_utils.failure_catalog import entry, explain, match
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_logs import ServerLog, tail
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule

# Answers that waiting cannot change: the wait ends at once with the reason.
FATAL_KINDS = ("unauthorized", "forbidden", "tls_error", "model_not_served", "bad_request", "missing_library")

# Boot phases in order, each recognised by the real log lines of an SGLang start-up.
PHASES = (
    ("loading_weights", re.compile(r"Load weight (begin|end)")),
    ("kv_memory_pool", re.compile(r"Memory pool end|max_total_num_tokens=")),
    ("capturing_cuda_graphs", re.compile(r"Capture .*cuda graph (begin|end)|cuda graph end", re.IGNORECASE)),
    ("warm_up", re.compile(r"Uvicorn running on|Application startup complete|\"POST /generate HTTP")),
    ("ready", re.compile(r"The server is fired up and ready to roll!")),
)
PHASE_NAMES = ("starting",) + tuple(name for name, _pattern in PHASES)


def boot_phase(log_text):
    """The furthest boot phase the log shows, or `starting`."""
    reached = "starting"
    for name, pattern in PHASES:
        if pattern.search(log_text or ""):
            reached = name
    return reached


def probe(client, model):
    """One round of HTTP checks: (ready, phase_hint, served_model, last_answer).

    Raises SGLangError for an answer that waiting cannot change (FATAL_KINDS): a TLS error, a refused
    API key, or a ready server that lists other models than the one asked for.
    """
    try:
        status = client.health(timeout=min(client.timeout, 30.0))
    except SGLangError as exc:
        if exc.kind in FATAL_KINDS:
            raise
        # connection refused / timeout: nothing listens yet, still booting
        return False, "starting", None, exc.kind
    if status != 200:
        return False, "warm_up", None, status
    try:
        models = client.models()
    except SGLangError as exc:
        if exc.kind in FATAL_KINDS:
            raise
        return False, "warm_up", None, exc.kind
    if not models:
        # A gateway answers before its first worker is added: keep waiting.
        return False, "warm_up", None, "no model listed"
    if not model:
        return True, "ready", models[0], 200
    if model in models:
        return True, "ready", model, 200
    # /health is 200 and models are listed: the server is up and will not start serving another model.
    raise SGLangError(
        "%s is ready but does not serve model %r; /v1/models lists %s. Set `model` to a listed name (the server's "
        "--served-model-name, else its --model-path), or deploy that model."
        % (client.base_url, model, ", ".join(repr(name) for name in models)), "model_not_served")


def wait(module, client, logs, params, clock=time.monotonic, sleep=time.sleep):
    """The wait loop; returns the module result (dict), with `failed` set when not ready."""
    started = clock()
    deadline = started + params["wait_timeout"]
    model = params.get("model")
    initial = logs.container_state() if logs.container_name else None
    result = dict(changed=False, ready=False, phase="starting" if logs.has_log else "unknown",
                  warnings_found=[])
    log_text = ""
    last_kind = None
    died = False
    while True:
        state = logs.container_state() if logs.container_name else None
        if logs.has_log:
            log_text = logs.read()
            result["phase"] = boot_phase(log_text)
        if state is not None:
            result["container_state"] = dict((k, state[k]) for k in ("status", "running", "exit_code", "restart_count"))
            died = (not state["exists"] or not state["running"] or state["restarting"]
                    or state["restart_count"] > initial["restart_count"])
        elif logs.log_file:
            fatal = [row for row in match(log_text=log_text) if row["severity"] == "error"]
            died = bool(fatal)
        if not died:
            try:
                ready, hint, served, last_kind = probe(client, model)
            except SGLangError as exc:
                result["failed"] = True
                result["msg"] = exc.message
                result.update(exc.to_result())
                break
            if ready or not logs.has_log:
                result["phase"] = hint
            if ready:
                result["ready"] = True
                result["served_model"] = served
                break
        if died:
            result["phase"] = "exited" if state is not None else result["phase"]
            break
        if clock() >= deadline:
            break
        sleep(max(0.0, min(params["poll_interval"], deadline - clock())))
    result["elapsed_s"] = round(clock() - started, 2)
    found = match(log_text=log_text)
    result["warnings_found"] = [row for row in found if row["severity"] == "warning"]
    if logs.has_log:
        result["log_tail"] = tail(log_text, params["log_lines"])
    if result["ready"] or result.get("failed"):
        return result
    errors = [row for row in found if row["severity"] == "error"]
    if errors:
        failure = errors[0]
    elif died:
        failure = explain(
            "container_exited", where="docker logs %s" % logs.container_name,
            symptom="The container stopped (status %s, exit code %s) before the server was ready"
                    % (state.get("status"), state.get("exit_code")),
            fix="Read `docker logs %s` and fix the cause; then rerun." % logs.container_name)
    else:
        failure = entry("still_booting")
        failure["evidence"] = []
        failure["symptom"] = "Not ready after %ss (last answer: %s; phase: %s)" % (
            int(params["wait_timeout"]), last_kind, result["phase"])
    result["failure"] = failure
    result["failed"] = True
    result["msg"] = "SGLang at %s is not ready after %.0f s (phase %s): [%s] %s Cause: %s Fix: %s" % (
        client.base_url, result["elapsed_s"], result["phase"], failure["id"], failure["symptom"],
        failure["cause"], failure["fix"])
    return result


def main():
    module = SGLangModule(argument_spec=dict(
        wait_timeout=dict(type="float", default=2700),
        poll_interval=dict(type="float", default=5),
        container_name=dict(type="str"),
        log_file=dict(type="path"),
        log_lines=dict(type="int", default=40),
        log_scan_lines=dict(type="int", default=5000),
        docker_bin=dict(type="path"),
    ))
    module.result.update(ready=False, phase="unknown", elapsed_s=0.0)
    params = module.params
    for option in ("wait_timeout", "poll_interval"):
        if params[option] <= 0:
            module.fail_json("%s must be > 0, got %s" % (option, params[option]))
    docker_bin = None
    if params["container_name"]:
        docker_bin = params["docker_bin"] or module.module.get_bin_path("docker", required=True)
    logs = ServerLog(module.module.run_command, container_name=params["container_name"], log_file=params["log_file"],
                     scan_lines=params["log_scan_lines"], docker_bin=docker_bin)
    # The log tail holds the server_args line, which prints api_key and admin_api_key: the base redacts it.
    result = wait(module, module.client, logs, params)
    if result.pop("failed", False):
        module.fail_json(result.pop("msg"), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
