# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small client for the worker API of SGLang's model gateway (smg 1.13), over sglang_http.

smg's worker API, as observed on smg 1.13.0:
  * GET /workers -> {"workers": [W...], "total", "stats"}; W has id (UUIDv7), url, model_id,
    status (pending|ready|not_ready|failed|draining), is_healthy, load, ... A worker still
    registering (status pending) is NOT listed there, only GET /workers/{id} shows it.
  * GET /workers/{id} -> W; 404 {"error": "...", "code": "WORKER_NOT_FOUND"}. There is no
    lookup by URL: map URL -> id through GET /workers.
  * POST /workers {"url", "api_key"?, ...} -> 202 {"status": "accepted", "worker_id"}; the
    registration runs in the background (poll GET /workers/{id} until ready). A URL already
    known gives 409 WORKER_ALREADY_EXISTS (also while its entry drains), one still registering
    409 WORKER_CREATE_IN_PROGRESS; both messages carry the existing id.
  * DELETE /workers/{id} -> 202; the worker shows `draining` for about 5 s, then 404.
  * With smg's --api-key these endpoints need `Authorization: Bearer KEY`.
smg stores a worker URL verbatim and builds the probe URLs by appending paths to it, so
`http://h:30000/` becomes a second, broken worker (it probes `//health`). normalize_url gives
the one spelling used for comparing and for adding.

Public names: GatewayClient, GatewayError, normalize_url, worker_summary, is_member,
is_healthy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time
from urllib.parse import quote, urlsplit

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient, SGLangError

DEFAULT_PORTS = {"http": 80, "https": 443}
WORKER_STATUSES = ("pending", "ready", "not_ready", "failed", "draining")
SUMMARY_KEYS = ("id", "url", "model_id", "status", "is_healthy", "load")

# What smg does to register a worker and to keep it in rotation; used in the not-ready messages.
REGISTRATION_HINT = (
    "smg registers a worker by probing its /health, /v1/models and /server_info; a worker that does not "
    "answer stays pending and is re-probed every 30 s by default (--worker-startup-check-interval), and a "
    "registered one is health-checked with GET /health every --health-check-interval-secs (60 s by default). "
    "Check that the worker's SGLang server is up (dgx_station.inference.sglang_wait against that URL) and "
    "reachable from the gateway host at exactly that URL, that the worker's key (its --api-key) is "
    "worker_api_key (and, behind a gateway with a key, the gateway's key), or raise wait_timeout.")

# user:password@ of a URL, kept out of messages.
_USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")
_EXISTING_ID = re.compile(r"with ID ([0-9A-Fa-f-]{32,36})")


class GatewayError(SGLangError):
    """A gateway answer (or the lack of one) that a module reports as a failure.

    kind: those of SGLangError plus conflict, invalid_url, worker_not_ready, worker_dropped,
    drain_timeout. code: smg's error code (WORKER_NOT_FOUND, WORKER_ALREADY_EXISTS,
    WORKER_CREATE_IN_PROGRESS, BAD_REQUEST, invalid_api_key, ...). existing_id: for a 409, the
    id of the worker already registered at that URL. workers: for the wait errors, summaries of
    the workers that did not get there.
    """

    def __init__(self, message, kind, status=None, body=None, hint=None, code=None, existing_id=None,
                 workers=None):
        super(GatewayError, self).__init__(message, kind, status=status, body=body, hint=hint)
        self.code = code
        self.existing_id = existing_id
        self.workers = workers

    def to_result(self):
        result = super(GatewayError, self).to_result()
        if self.code:
            result["gateway_code"] = self.code
        if self.workers is not None:
            result["not_done"] = self.workers
        return result


def _error_fields(body):
    """(message, code) of an smg error body: {"error": "...", "code"} or {"error": {"message", "code"}}."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error.get("message") or json.dumps(error), error.get("code") or body.get("code")
        if isinstance(error, str):
            return error, body.get("code")
        if "message" in body:
            return str(body["message"]), body.get("code")
        return json.dumps(body)[:500], body.get("code")
    return str(body)[:500], None


def normalize_url(url, option="workers", strict=True):
    """The one spelling of a worker URL: `scheme://host[:port]`, lower case, no default port, no trailing slash.

    strict=True (URLs the user gave) raises GatewayError(kind invalid_url) naming `option` for
    anything but http(s)://HOST[:PORT] with an optional trailing slash. strict=False (URLs the
    gateway lists, which may use other schemes) never raises: what it cannot parse comes back
    stripped of trailing slashes only.
    """
    text = url.strip() if isinstance(url, str) else url

    def invalid(reason):
        if not strict:
            return text.rstrip("/") if isinstance(text, str) else text
        shown = _USERINFO.sub(r"\1<redacted>@", url) if isinstance(url, str) else url
        raise GatewayError(
            "%s: %r is not a worker URL (%s). Use http://HOST:PORT or https://HOST:PORT, the address of a "
            "Station's SGLang server as the gateway host reaches it, without a path, e.g. "
            "http://10.0.0.11:30000." % (option, shown, reason), "invalid_url")

    if not isinstance(text, str) or not text:
        return invalid("empty" if text == "" else "not a string")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return invalid("the scheme must be http:// or https://" if "://" in text else "no http:// or https:// scheme")
    if parts.username is not None or parts.password is not None:
        return invalid("credentials in the URL are not allowed; pass the worker's key as worker_api_key")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        return invalid("bad port: %s" % exc)
    if not host:
        return invalid("no host")
    if parts.path.strip("/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        return invalid("a path, query or fragment is not allowed")
    if ":" in host:
        host = "[%s]" % host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return "%s://%s:%d" % (scheme, host, port)
    return "%s://%s" % (scheme, host)


def _seconds(value):
    """0.3 -> "0.3", 120.04 -> "120": short waits keep their tenths."""
    return "%.1f" % value if value < 10 else "%.0f" % value


def worker_summary(worker):
    """The fields of one worker that modules return: id, url, model_id, status, is_healthy, load."""
    return dict((key, worker.get(key)) for key in SUMMARY_KEYS)


def is_member(worker):
    """A listed worker counts as a member unless it is draining (DELETE accepted, going away)."""
    return worker.get("status") != "draining"


def is_healthy(worker):
    return worker.get("status") == "ready" and worker.get("is_healthy") is True


class GatewayClient(object):
    """smg's worker API at gateway_url (the main port; the path prefix of a reverse proxy is kept)."""

    def __init__(self, gateway_url, api_key=None, timeout=30.0, validate_certs=True,
                 ca_path=None, clock=time.monotonic, sleep=time.sleep):
        parts = urlsplit(gateway_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GatewayError(
                "gateway_url %r is not an http:// or https:// URL; use the address smg listens on (its --host "
                "and --port), e.g. http://127.0.0.1:30000 on the gateway host" % (gateway_url,), "invalid_url")
        try:
            parts.port
        except ValueError as exc:
            raise GatewayError("gateway_url %r has a bad port: %s" % (gateway_url, exc), "invalid_url")
        try:
            self.http = SGLangClient(base_url=gateway_url, api_key=api_key, timeout=timeout,
                                     validate_certs=validate_certs, ca_path=ca_path)
        except SGLangError as exc:  # ca_path missing
            raise GatewayError(exc.message, "bad_request")
        self.gateway_url = self.http.base_url
        self.api_key = api_key
        self.clock = clock
        self.sleep = sleep

    def close(self):
        self.http.close()

    # -- requests ------------------------------------------------------------
    def _call(self, method, path, body=None, expect=(200,)):
        """(status, parsed JSON body or text) of one request; GatewayError on a status not in expect."""
        try:
            response = self.http.request(method, path, body=body, expect=None)
        except SGLangError as exc:
            raise self._transport_error(method, path, exc)
        try:
            parsed = json.loads(response.text) if response.text else None
        except ValueError:
            parsed = response.text[:2000]
        if response.status not in expect:
            raise self._status_error(method, path, response.status, parsed)
        return response.status, parsed

    def _transport_error(self, method, path, exc):
        where = "%s %s%s" % (method, self.gateway_url, path)
        if exc.kind == "connection_refused":
            return GatewayError(
                "Connection refused by the gateway at %s (%s): smg does not listen there. Check gateway_url "
                "(smg's --host and --port) and that the gateway service runs (its systemd unit and log)."
                % (self.gateway_url, where), "connection_refused")
        if exc.kind == "timeout":
            return GatewayError(
                "No answer from the gateway within %s s (%s). Raise timeout, or check the gateway host and "
                "smg's log." % (self.http.timeout, where), "timeout")
        if exc.kind == "bad_request":  # ca_path could not be loaded
            return GatewayError(exc.message.replace("base_url", "gateway_url"), "bad_request")
        return GatewayError(
            "Cannot reach the gateway at %s (%s): %s Check gateway_url%s." % (
                self.gateway_url, where, exc.message.rstrip(".") + ".",
                ", ca_path and validate_certs" if self.http.scheme == "https" else ""),
            "connection_error")

    def _status_error(self, method, path, status, body):
        detail, code = _error_fields(body)
        where = "%s %s%s" % (method, self.gateway_url, path)
        coded = "%s (code %s)" % (detail, code) if code else detail
        if status == 401:
            # No secret flag followed by a word here: redact() would mask the word (--api-key VALUE).
            fix = ("the api_key given is not the gateway's key; pass the key smg was started with (--api-key) as "
                   "the api_key option" if self.api_key
                   else "smg was started with a key (--api-key), which its worker API needs; pass it as the "
                        "api_key option")
            return GatewayError("HTTP 401 from the gateway (%s: %s): %s (sent as Authorization: Bearer)."
                                % (where, coded, fix), "unauthorized", status, body, code=code)
        if status == 403:
            return GatewayError(
                "HTTP 403 from the gateway (%s: %s): api_key is not allowed to manage workers; use a key with "
                "the admin role (smg's --api-key, or an admin key of --control-plane-api-keys)." % (where, coded),
                "forbidden", status, body, code=code)
        if status == 404:
            return GatewayError("HTTP 404 from the gateway (%s): %s" % (where, coded), "not_found", status, body,
                                code=code)
        if status == 409:
            match = _EXISTING_ID.search(detail or "")
            return GatewayError("HTTP 409 from the gateway (%s): %s" % (where, coded), "conflict", status, body,
                                code=code, existing_id=match.group(1) if match else None)
        if 400 <= status < 500:
            return GatewayError("HTTP %d from the gateway (%s): %s" % (status, where, coded), "bad_request",
                                status, body, code=code)
        if status >= 500:
            return GatewayError("HTTP %d from the gateway (%s): %s. See smg's log." % (status, where, coded),
                                "server_error", status, body, code=code)
        return GatewayError("Unexpected HTTP %d from the gateway (%s): %s" % (status, where, coded), "http_error",
                            status, body, code=code)

    def _invalid(self, what, body):
        return GatewayError(
            "The gateway at %s answered %s with %r, not smg's worker API shape; is gateway_url smg's main port "
            "(not its metrics port, and not an SGLang server)?" % (self.gateway_url, what, str(body)[:200]),
            "invalid_response", body=body)

    # -- the worker API --------------------------------------------------------
    def list_workers(self):
        """Every worker GET /workers lists (dicts as smg returns them). Pending ones are not listed."""
        unused_status, body = self._call("GET", "/workers")
        if not isinstance(body, dict) or not isinstance(body.get("workers"), list):
            raise self._invalid("GET /workers", body)
        return [w for w in body["workers"] if isinstance(w, dict)]

    def get_worker(self, worker_id):
        """The worker with this id (any status, pending included), or None once it is gone (404)."""
        path = "/workers/%s" % quote(str(worker_id), safe="")
        status, body = self._call("GET", path, expect=(200, 404))
        if status == 404:
            unused_detail, code = _error_fields(body)
            if code == "unknown_url":  # the route itself is missing: not smg's worker API
                raise self._invalid("GET %s" % path, body)
            return None
        if not isinstance(body, dict):
            raise self._invalid("GET /workers/%s" % worker_id, body)
        return body

    def add_worker(self, url, api_key=None, **fields):
        """POST /workers; the new worker's id. 409 raises GatewayError(kind conflict) with code and existing_id."""
        body = dict(fields, url=url)
        if api_key:
            body["api_key"] = api_key
        unused_status, answer = self._call("POST", "/workers", body=body, expect=(200, 201, 202))
        worker_id = answer.get("worker_id") if isinstance(answer, dict) else None
        if not worker_id:
            raise self._invalid("POST /workers", answer)
        return worker_id

    def remove_worker(self, worker_id):
        """DELETE /workers/{id}: True when accepted (the worker drains, then goes), False when already gone."""
        path = "/workers/%s" % quote(str(worker_id), safe="")
        status, body = self._call("DELETE", path, expect=(200, 202, 204, 404))
        if status == 404 and _error_fields(body)[1] == "unknown_url":
            raise self._invalid("DELETE %s" % path, body)
        return status != 404

    def workers_by_url(self, workers=None):
        """{normalized url: [workers]} of a listing (GET /workers when not given)."""
        if workers is None:
            workers = self.list_workers()
        out = {}
        for worker in workers:
            out.setdefault(normalize_url(worker.get("url"), strict=False), []).append(worker)
        return out

    def find_ids(self, url, workers=None):
        """Ids of the listed workers at url (compared normalized), draining ones included."""
        return [w.get("id") for w in self.workers_by_url(workers).get(normalize_url(url, "url"), [])]

    # -- waiting ------------------------------------------------------------------
    def _poll(self, worker_ids, done, timeout, poll_interval):
        """Poll GET /workers/{id} until done(worker_or_None) for each id; (finished {id: w}, pending {id: w})."""
        deadline = self.clock() + max(0.0, timeout)
        waiting = dict((worker_id, None) for worker_id in worker_ids)
        finished = {}
        while True:
            for worker_id in list(waiting):
                worker = self.get_worker(worker_id)
                if done(worker_id, worker):
                    finished[worker_id] = worker
                    del waiting[worker_id]
                else:
                    waiting[worker_id] = worker
            if not waiting or self.clock() >= deadline:
                return finished, waiting
            self.sleep(max(0.0, min(poll_interval, deadline - self.clock())))

    def wait_ready(self, worker_ids, timeout, poll_interval=1.0, urls=None):
        """Wait until each worker is `ready` and healthy; {id: worker}. GatewayError when one is not in time.

        urls: {id: url} for the messages (a worker that vanished has no URL to show).
        """
        urls = dict(urls or {})
        dropped = []

        def done(worker_id, worker):
            if worker is None:
                dropped.append(worker_id)
                return True
            return is_healthy(worker)

        started = self.clock()
        finished, waiting = self._poll(worker_ids, done, timeout, poll_interval)
        elapsed = self.clock() - started
        if dropped:
            names = ", ".join("%s (id %s)" % (urls.get(i, "?"), i) for i in dropped)
            raise GatewayError(
                "The gateway dropped %s while it registered: its registration job failed (a permanent error, or "
                "--worker-startup-timeout-secs, 1800 s by default, ran out) or someone removed it. See smg's log "
                "(\"Failed job: type=AddWorker\"). %s" % (names, REGISTRATION_HINT),
                "worker_dropped", workers=[dict(id=i, url=urls.get(i), status="gone") for i in dropped])
        if waiting:
            states = []
            summaries = []
            for worker_id, worker in sorted(waiting.items(), key=lambda item: str(urls.get(item[0]))):
                worker = worker or {}
                job = worker.get("job_status") if isinstance(worker.get("job_status"), dict) else {}
                job_text = ", job %s%s" % (job.get("status"), ": %s" % job["message"] if job.get("message") else "") \
                    if job else ""
                states.append("%s (id %s): status %s, is_healthy %s%s" % (
                    worker.get("url") or urls.get(worker_id), worker_id, worker.get("status"),
                    str(worker.get("is_healthy")).lower(), job_text))
                summaries.append(worker_summary(dict(worker, id=worker_id, url=worker.get("url") or urls.get(worker_id))))
            raise GatewayError(
                "Not ready after %s s (wait_timeout): %s. %s" % (_seconds(elapsed), "; ".join(states), REGISTRATION_HINT),
                "worker_not_ready", workers=summaries)
        return finished

    def wait_gone(self, worker_ids, timeout, poll_interval=1.0, urls=None):
        """Wait until GET /workers/{id} gives 404 for each (a removed worker drains first); GatewayError if not."""
        urls = dict(urls or {})
        started = self.clock()
        unused_finished, waiting = self._poll(worker_ids, lambda worker_id, worker: worker is None, timeout,
                                              poll_interval)
        if waiting:
            states = "; ".join("%s (id %s): status %s" % ((w or {}).get("url") or urls.get(i), i, (w or {}).get("status"))
                               for i, w in sorted(waiting.items()))
            raise GatewayError(
                "Still listed after %s s (wait_timeout): %s. smg drains a removed worker for drain_settle_secs "
                "(5 s by default) and lets its in-flight requests finish first; raise wait_timeout, or set "
                "wait=false not to wait for it." % (_seconds(self.clock() - started), states),
                "drain_timeout",
                workers=[worker_summary(dict(w or {}, id=i, url=(w or {}).get("url") or urls.get(i)))
                         for i, w in sorted(waiting.items())])
        return True
