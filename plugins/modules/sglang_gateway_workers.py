#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_gateway_workers
short_description: Manage which SGLang servers SGLang's model gateway (smg) routes to
version_added: 0.2.0
description:
  - Adds and removes the workers (Station SGLang servers) of an smg gateway through its worker API
    (C(GET/POST /workers), C(GET/DELETE /workers/{id})), or lists them.
  - Worker URLs are compared normalized (lower-case scheme and host, no default port, no trailing slash),
    and added in that spelling; smg keeps a URL verbatim and would probe C(http://HOST:PORT//health) for
    one with a trailing slash.
  - A worker is added with C(POST /workers); smg registers it in the background, and with O(wait=true) the
    module waits until it is C(ready) and healthy. A worker is removed with C(DELETE /workers/{id}); smg
    drains it (status C(draining), about 5 s) before it is gone, and with O(wait=true) the module waits
    for that.
  - Re-adding a URL whose old entry is still draining waits for the old entry to be gone first (smg answers
    409 until then), within O(wait_timeout), even with O(wait=false).
  - Runs wherever it can reach the gateway, usually on the gateway host against C(http://127.0.0.1:PORT).
    It talks HTTP through the Python library C(requests) (the M(dgx_station.inference.sglang_gateway) role installs
    C(python3-requests) on the gateway host).
requirements:
  - requests
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  gateway_url:
    description:
      - URL of smg's main port (its C(--host) and C(--port)), not its metrics port.
      - A path is kept as a prefix (for smg behind a reverse proxy).
    type: str
    required: true
  api_key:
    description:
      - The gateway's C(--api-key), sent to the worker API in the C(Authorization) header as a bearer token.
      - Needed when smg runs with C(--api-key); never logged or returned.
    type: str
  timeout:
    description:
      - Seconds to wait for one HTTP answer of the gateway.
    type: float
    default: 30
  validate_certs:
    description:
      - Verify the gateway's TLS certificate when O(gateway_url) is C(https://).
    type: bool
    default: true
  ca_path:
    description:
      - CA certificate bundle (file) or directory of hashed CA certificates used to verify an
        C(https://) O(gateway_url), instead of the system trust store.
    type: path
  workers:
    description:
      - Worker URLs, C(http://HOST:PORT) or C(https://HOST:PORT) without a path, as the gateway host
        reaches the Stations' SGLang servers (for example C(http://10.0.0.11:30000)).
      - Duplicates (after normalization) count once. Ignored with O(state=query).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) makes the O(workers) members, leaving other members alone.
      - V(absent) makes the O(workers) not members; they are removed with C(DELETE), which drains them.
      - V(exact) makes the members exactly O(workers), adding the missing ones and removing the others.
        Additions come first and, with O(wait=true), removals only once the added workers are ready.
        O(workers=[]) removes every worker.
      - V(query) only lists the workers.
    type: str
    choices: [present, absent, exact, query]
    default: present
  worker_api_key:
    description:
      - The key smg uses towards the workers it adds (the Stations' C(--api-key)), sent as C(api_key) in
        C(POST /workers). It is not changed on workers that are already members.
      - Behind a gateway with C(--api-key), clients' keys are forwarded to the workers, so the workers'
        key must be the gateway's key (or the workers run without a key).
      - Never logged or returned.
    type: str
  wait:
    description:
      - Wait until the added workers (and those of O(workers) that smg still registers from an earlier
        run) are C(ready) and healthy, and until the removed ones are gone.
      - With V(false) the module returns once smg has accepted the changes; RV(workers) then shows the
        removed ones as C(draining) and does not show the added ones yet (smg lists a worker once it is
        registered).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait in total for the workers to be ready and gone (and for draining entries to be gone
        before their URL is added again).
      - smg probes a worker that does not answer again only every 30 s by default
        (C(--worker-startup-check-interval)); keep this above that when Stations may still be booting.
    type: float
    default: 120
  poll_interval:
    description:
      - Seconds between two polls of a worker while waiting.
    type: float
    default: 1
attributes:
  check_mode:
    support: full
    description: Lists the workers and reports RV(added) and RV(removed) without sending C(POST) or C(DELETE).
  diff_mode:
    support: full
    description: Returns the member URLs before and after.
notes:
  - A worker counts as a member unless it is C(draining). Its health does not matter for membership
    (a member whose Station is down is listed in RV(unhealthy_urls)); O(wait) waits only for workers
    this run adds.
  - smg does not list a worker that is still registering (status C(pending)) in C(GET /workers); the
    module finds it when adding its URL (smg answers 409 C(WORKER_CREATE_IN_PROGRESS)) and waits for it.
    V(exact) and V(absent) cannot see it, and smg does not remove a worker before its registration
    has ended.
  - With check mode a URL that smg still registers is reported as added.
  - Needs smg 1.13 or later (the C(/workers) REST API; the legacy C(/add_worker) endpoints are gone).
  - This module is not part of the C(dgx_station.inference.sglang) action group, whose O(api_key)
    is the Stations' key, not the gateway's.
seealso:
  - module: dgx_station.inference.sglang_wait
"""

EXAMPLES = r"""
- name: Route to exactly the Stations that passed validation
  dgx_station.inference.sglang_gateway_workers:
    gateway_url: http://127.0.0.1:30080
    api_key: "{{ sglang_gateway_api_key }}"
    worker_api_key: "{{ sglang_gateway_api_key }}"
    workers:
      - http://10.0.0.11:30000
      - http://10.0.0.12:30000
    state: exact
  register: membership

- name: Take one Station out (its in-flight requests finish first)
  dgx_station.inference.sglang_gateway_workers:
    gateway_url: http://127.0.0.1:30080
    workers: [http://10.0.0.12:30000]
    state: absent

- name: List the workers and their health
  dgx_station.inference.sglang_gateway_workers:
    gateway_url: http://127.0.0.1:30080
    state: query
  register: gateway

- name: Fail when a member is unhealthy
  ansible.builtin.assert:
    that: gateway.unhealthy_urls | length == 0
    fail_msg: "Unhealthy behind the gateway: {{ gateway.unhealthy_urls | join(', ') }}"
"""

RETURN = r"""
workers:
  description:
    - The workers the gateway lists after the run (in check mode, before it), sorted by URL.
    - C(status) is one of C(ready), C(not_ready), C(failed), C(draining) (C(pending) ones are not listed).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: smg's worker id (a UUID).
      type: str
    url:
      description: The worker URL as smg lists it.
      type: str
    model_id:
      description: The model the worker serves.
      type: str
    status:
      description: smg's worker status.
      type: str
    is_healthy:
      description: Whether smg's health checks pass.
      type: bool
    load:
      description: Requests smg has in flight on the worker.
      type: int
  sample:
    - {"id": "01a23366-7886-75b6-8d17-1fbaac3c41b9", "url": "http://10.0.0.11:30000", "model_id": "Qwen/Qwen3-8B",
       "status": "ready", "is_healthy": true, "load": 0}
healthy_urls:
  description: Normalized URLs of the members that are C(ready) and healthy.
  returned: always
  type: list
  elements: str
  sample: ["http://10.0.0.11:30000"]
unhealthy_urls:
  description: Normalized URLs of the other members (not C(ready) or failing health checks); draining ones are not members.
  returned: always
  type: list
  elements: str
  sample: []
added:
  description: Normalized URLs added (in check mode, that would be added).
  returned: always
  type: list
  elements: str
  sample: ["http://10.0.0.12:30000"]
removed:
  description: Normalized URLs removed (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
  sample: []
gateway_url:
  description: The gateway the module talked to.
  returned: always
  type: str
  sample: http://127.0.0.1:30080
gateway_code:
  description: smg's error code of a failed request, for example C(WORKER_ALREADY_EXISTS) or C(invalid_api_key).
  returned: on failure, when the gateway answered with one
  type: str
error_kind:
  description:
    - What went wrong, for example C(connection_refused), C(unauthorized), C(worker_not_ready),
      C(worker_dropped), C(drain_timeout), C(invalid_url).
  returned: on failure
  type: str
not_done:
  description: The workers that did not become ready (or gone) in O(wait_timeout), with their last status.
  returned: on a wait failure
  type: list
  elements: dict
msg:
  description: What the module did or would do, and the health of the members.
  returned: always
  type: str
  sample: "Added http://10.0.0.12:30000. The gateway lists 2 worker(s): 2 healthy, 0 unhealthy."
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_gateway import (
    GatewayClient,
    GatewayError,
    is_healthy,
    is_member,
    normalize_url,
    worker_summary,
)

ARGUMENT_SPEC = dict(
    gateway_url=dict(type="str", required=True),
    api_key=dict(type="str", no_log=True),
    timeout=dict(type="float", default=30),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    workers=dict(type="list", elements="str", default=[]),
    state=dict(type="str", choices=["present", "absent", "exact", "query"], default="present"),
    worker_api_key=dict(type="str", no_log=True),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="float", default=120),
    poll_interval=dict(type="float", default=1),
)

# Adding a URL answered 409 for an entry that is gone or drained in the meantime is tried again this often.
ADD_ATTEMPTS = 3


def desired_urls(workers):
    """The normalized, de-duplicated worker URLs of the option, in the given order."""
    out = []
    for index, url in enumerate(workers or []):
        normal = normalize_url(url, option="workers[%d]" % index)
        if normal not in out:
            out.append(normal)
    return out


def group(listing):
    """({url: [member workers]}, {url: [draining workers]}) of a GET /workers listing, by normalized URL."""
    members, draining = {}, {}
    for worker in listing:
        target = members if is_member(worker) else draining
        target.setdefault(normalize_url(worker.get("url"), strict=False), []).append(worker)
    return members, draining


def plan(listing, desired, state):
    """(urls to add, [(url, worker) to remove]) to get from the listing to the state."""
    members, unused_draining = group(listing)
    if state == "query":
        return [], []
    to_add = [url for url in desired if url not in members] if state in ("present", "exact") else []
    if state == "absent":
        to_remove = [(url, w) for url in desired for w in members.get(url, [])]
    elif state == "exact":
        to_remove = [(url, w) for url in sorted(members) if url not in desired for w in members[url]]
    else:
        to_remove = []
    return to_add, to_remove


def health_lists(listing):
    """(healthy_urls, unhealthy_urls) of the members of a listing."""
    members, unused_draining = group(listing)
    healthy = sorted(url for url, workers in members.items() if any(is_healthy(w) for w in workers))
    unhealthy = sorted(url for url in members if url not in healthy)
    return healthy, unhealthy


def summaries(listing):
    def key(worker):
        return normalize_url(worker.get("url"), strict=False) or "", str(worker.get("id"))
    return [worker_summary(w) for w in sorted(listing, key=key)]


class Membership(object):
    """One run: plan from the listing, then POST, wait, DELETE, wait (or only plan in check mode)."""

    def __init__(self, gateway, params, check_mode=False, clock=time.monotonic):
        self.gateway = gateway
        self.params = params
        self.check_mode = check_mode
        self.clock = clock
        self.added = []
        self.removed = []
        self.before = []
        self.after = []
        self.listing = None
        self.deadline = None

    def remaining(self):
        return max(0.0, self.deadline - self.clock())

    def run(self):
        params = self.params
        state = params["state"]
        desired = desired_urls(params["workers"]) if state != "query" else []
        self.deadline = self.clock() + params["wait_timeout"]
        listing = self.gateway.list_workers()
        self.listing = listing
        members, draining = group(listing)
        self.before = sorted(members)
        to_add, to_remove = plan(listing, desired, state)
        remove_urls = sorted(set(url for url, unused_w in to_remove))
        self.after = sorted((set(self.before) | set(to_add)) - set(remove_urls))
        if self.check_mode or state == "query":
            self.added = list(to_add)
            self.removed = remove_urls
            return
        to_wait = {}  # id -> url of the workers to wait for
        for url in to_add:
            self._add(url, draining.get(url, []), to_wait)
        if params["wait"] and to_wait:
            self.gateway.wait_ready(sorted(to_wait), self.remaining(), params["poll_interval"], urls=to_wait)
        gone = {}
        for url, worker in to_remove:
            if self.gateway.remove_worker(worker["id"]):
                gone[worker["id"]] = url
                if url not in self.removed:
                    self.removed.append(url)
        if params["wait"]:
            # Entries that were already draining and whose URL should not be a member: gone too on return.
            unwanted = set(desired) if state == "absent" else (set(draining) - set(desired) if state == "exact" else set())
            for url in unwanted:
                for worker in draining.get(url, []):
                    gone.setdefault(worker["id"], url)
            if gone:
                self.gateway.wait_gone(sorted(gone), self.remaining(), params["poll_interval"], urls=gone)
        self.listing = self.gateway.list_workers()

    def _add(self, url, draining_workers, to_wait):
        """POST one URL; an entry still draining at that URL is waited out first (smg answers 409 until it is gone)."""
        poll = self.params["poll_interval"]
        if draining_workers:
            self.gateway.wait_gone([w["id"] for w in draining_workers], self.remaining(), poll,
                                   urls=dict((w["id"], url) for w in draining_workers))
        last = None
        for unused_attempt in range(ADD_ATTEMPTS):
            try:
                worker_id = self.gateway.add_worker(url, api_key=self.params["worker_api_key"])
            except GatewayError as exc:
                if exc.kind != "conflict":
                    raise
                last = exc
                existing_id = exc.existing_id
                if not existing_id:
                    ids = self.gateway.find_ids(url)
                    existing_id = ids[0] if ids else None
                existing = self.gateway.get_worker(existing_id) if existing_id else None
                if existing is None:
                    if existing_id:
                        continue  # gone in the meantime: add it again
                    raise
                if existing.get("status") == "draining":
                    # Removed (by someone else, or after the listing) and still draining: wait, then add.
                    self.gateway.wait_gone([existing_id], self.remaining(), poll, urls={existing_id: url})
                    continue
                # Already a member the listing did not show: still registering (pending, from an
                # earlier run) or added at the same time by someone else. Not changed by this run.
                if not is_healthy(existing):
                    to_wait[existing_id] = url
                return
            self.added.append(url)
            to_wait[worker_id] = url
            return
        raise GatewayError(
            "workers: the gateway still refuses to add %s after %d attempts (%s). Another run may be changing the "
            "same gateway; run again, or look at GET /workers." % (url, ADD_ATTEMPTS, last.message if last else ""),
            "conflict", status=last.status if last else None, body=last.body if last else None,
            code=last.code if last else None)

    def result(self):
        listing = self.listing or []
        healthy, unhealthy = health_lists(listing)
        return dict(
            changed=bool(self.added or self.removed),
            gateway_url=self.gateway.gateway_url,
            workers=summaries(listing),
            healthy_urls=healthy,
            unhealthy_urls=unhealthy,
            added=sorted(self.added),
            removed=sorted(self.removed),
        )

    def message(self, result):
        verb_add, verb_remove = ("Would add", "would remove") if self.check_mode else ("Added", "removed")
        parts = []
        if result["added"]:
            parts.append("%s %s" % (verb_add, ", ".join(result["added"])))
        if result["removed"]:
            parts.append("%s %s" % (verb_remove if parts else verb_remove.capitalize(), ", ".join(result["removed"])))
        if self.params["state"] == "query":
            head = ""
        elif parts:
            head = "; ".join(parts) + "."
            if not self.params["wait"] and not self.check_mode:
                head += " Not waiting (wait=false): smg registers and drains them in the background."
        else:
            head = "No change."
        health = "The gateway lists %d worker(s)%s: %d healthy, %d unhealthy%s." % (
            len(result["workers"]), " now" if self.check_mode and parts else "", len(result["healthy_urls"]),
            len(result["unhealthy_urls"]),
            " (%s)" % ", ".join(result["unhealthy_urls"]) if result["unhealthy_urls"] else "")
        return (head + " " + health).strip()

    def diff(self):
        return dict(before="\n".join(self.before) + ("\n" if self.before else ""),
                    after="\n".join(self.after) + ("\n" if self.after else ""),
                    before_header="%s workers" % self.gateway.gateway_url,
                    after_header="%s workers" % self.gateway.gateway_url)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    secrets = [params["api_key"], params["worker_api_key"]]
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests", reason="to talk to the gateway") +
                         " The dgx_station.inference.sglang_gateway role installs python3-requests on the gateway host.",
                         exception=REQUESTS_IMPORT_ERROR)
    for option, minimum in (("timeout", 0), ("poll_interval", 0)):
        if params[option] <= minimum:
            module.fail_json(msg="%s must be > 0, got %s" % (option, params[option]))
    if params["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout must be >= 0, got %s" % params["wait_timeout"])
    empty = dict(changed=False, gateway_url=params["gateway_url"], workers=[], healthy_urls=[], unhealthy_urls=[],
                 added=[], removed=[])
    try:
        if params["state"] != "query":
            desired_urls(params["workers"])  # a bad URL fails before anything is sent
        gateway = GatewayClient(params["gateway_url"], api_key=params["api_key"], timeout=params["timeout"],
                                validate_certs=params["validate_certs"], ca_path=params["ca_path"])
    except GatewayError as exc:
        result = dict(empty, msg=exc.message, **exc.to_result())
        module.fail_json(**redact(result, secrets))
    run = Membership(gateway, params, check_mode=module.check_mode)
    try:
        try:
            run.run()
        except GatewayError as exc:
            result = run.result()
            result.update(exc.to_result())
            if run.added or run.removed:
                result["msg"] = "%s (Changed so far: added %s; removed %s.)" % (
                    exc.message, ", ".join(run.added) or "none", ", ".join(run.removed) or "none")
            else:
                result["msg"] = exc.message
            if run.listing is not None:
                # What the gateway lists now, not what it listed before the changes.
                try:
                    listing = gateway.list_workers()
                    result["workers"] = summaries(listing)
                    result["healthy_urls"], result["unhealthy_urls"] = health_lists(listing)
                except GatewayError:
                    pass
            module.fail_json(**redact(result, secrets))
    finally:
        gateway.close()
    result = run.result()
    result["msg"] = run.message(result)
    if module._diff and params["state"] != "query":
        result["diff"] = run.diff()
    module.exit_json(**redact(result, secrets))


if __name__ == "__main__":
    main()
