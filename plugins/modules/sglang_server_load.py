#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sglang_server_load
short_description: Read an SGLang server's running and queued requests, or wait until it has none
version_added: 0.3.0
description:
  - Reads SGLang's own load figures, C(GET /v1/loads?include=core,queues) (C(num_running_reqs), C(num_waiting_reqs)
    and the requests waiting for a grammar, paused or retracted, of every DP rank, summed). A server without that
    endpoint is read from the C(/metrics) gauges C(sglang:num_running_reqs), C(sglang:num_queue_reqs) and
    C(sglang:num_grammar_queue_reqs) (it needs C(--enable-metrics)).
  - With O(wait_idle=true) it polls until the server reports no running and no queued request in
    O(settle_polls) consecutive readings, or until O(wait_timeout). Reaching the deadline is not a failure
    (RV(idle) is false, RV(timed_out) true); the caller decides, for example to stop the server with a stop
    timeout long enough for SGLang's graceful shutdown to finish the requests still running.
  - A rollout calls it after the gateway stopped routing to the Station, so that the server is stopped
    only once the requests it already accepted have finished.
  - A server that does not answer at all (connection refused) has nothing in flight; with O(wait_idle=true) that
    counts as idle (RV(reachable) is false).
author:
  - DGX Station inference maintainers (@dgx-station)
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
options:
  wait_idle:
    description: Wait until the server has no running and no queued request.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the server to become idle (the drain deadline).
    type: float
    default: 300
  poll_interval:
    description: Seconds between two readings while waiting.
    type: float
    default: 1
  settle_polls:
    description:
      - Consecutive idle readings needed, so that a request the gateway sent just before it stopped routing
        (still on its way) is not missed.
    type: int
    default: 2
notes:
  - The O(model) option is not used.
seealso:
  - module: dgx_station.inference.sglang_gateway_workers
  - module: dgx_station.inference.sglang_wait
"""

EXAMPLES = r"""
- name: Wait until the drained Station has finished its requests (at most 5 minutes)
  dgx_station.inference.sglang_server_load:
    base_url: http://127.0.0.1:30000
    wait_idle: true
    wait_timeout: 300
  register: drained

- name: Say when requests were still running at the deadline
  ansible.builtin.debug:
    msg: "{{ drained.running }} running and {{ drained.waiting }} queued after {{ drained.waited_s }} s"
  when: not drained.idle
"""

RETURN = r"""
running:
  description: Running requests at the last reading (0 when the server was unreachable).
  returned: success
  type: int
  sample: 0
waiting:
  description: Queued requests at the last reading (the waiting queue, and those waiting for a grammar, paused or retracted).
  returned: success
  type: int
  sample: 0
idle:
  description: No running and no queued request (in O(settle_polls) consecutive readings when waiting).
  returned: success
  type: bool
  sample: true
reachable:
  description: Whether the server answered.
  returned: success
  type: bool
  sample: true
source:
  description: Where the figures came from, C(/v1/loads) or C(/metrics) (null when unreachable).
  returned: success
  type: str
  sample: /v1/loads
loads:
  description: The C(loads) list of C(/v1/loads) (core figures of each DP rank) at the last reading.
  returned: success
  type: list
  elements: dict
waited_s:
  description: Seconds spent waiting.
  returned: success
  type: float
  sample: 2.1
timed_out:
  description: O(wait_idle=true) and the deadline passed with requests still running or queued.
  returned: success
  type: bool
  sample: false
readings:
  description: How many times the load was read.
  returned: success
  type: int
  sample: 3
"""

import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule

# A server that is gone has nothing in flight.
GONE = ("connection_refused",)


def read(client):
    """One reading: (figures, reachable); a refused connection reads as nothing in flight."""
    try:
        return client.server_load(), True
    except SGLangError as error:
        if error.kind in GONE:
            return dict(running=0, waiting=0, source=None, loads=[]), False
        raise


def wait_idle(client, timeout, poll_interval, settle_polls, clock=time.monotonic, sleep=time.sleep):
    """Poll until settle_polls consecutive idle readings or the deadline; returns the last reading."""
    started = clock()
    idle_in_a_row = readings = 0
    while True:
        figures, reachable = read(client)
        readings += 1
        idle = figures["running"] == 0 and figures["waiting"] == 0
        idle_in_a_row = idle_in_a_row + 1 if idle else 0
        waited = clock() - started
        settled = idle_in_a_row >= settle_polls or (idle and not reachable)
        if settled or waited >= timeout:
            return dict(figures, idle=settled, reachable=reachable, readings=readings,
                        waited_s=round(waited, 3), timed_out=not settled)
        sleep(min(poll_interval, max(timeout - waited, 0.0)))


def read_load(module):
    params = module.params
    if params["wait_idle"]:
        result = wait_idle(module.client, params["wait_timeout"], params["poll_interval"], params["settle_polls"])
    else:
        figures = module.client.server_load()
        result = dict(figures, idle=figures["running"] == 0 and figures["waiting"] == 0, reachable=True,
                      readings=1, waited_s=0.0, timed_out=False)
    module.exit_json(**result)


def main():
    module = SGLangModule(argument_spec=dict(
        wait_idle=dict(type="bool", default=False),
        wait_timeout=dict(type="float", default=300.0),
        poll_interval=dict(type="float", default=1.0),
        settle_polls=dict(type="int", default=2),
    ))
    params = module.params
    for name in ("wait_timeout", "poll_interval"):
        if params[name] < 0 or (name == "poll_interval" and params[name] == 0):
            module.fail_json("%s must be a positive number of seconds, got %s" % (name, params[name]))
    if params["settle_polls"] < 1:
        module.fail_json("settle_polls must be at least 1, got %s" % params["settle_polls"])
    module.run(lambda: read_load(module))


if __name__ == "__main__":
    main()
