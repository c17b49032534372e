# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one HTTP client every module of this collection uses to talk to an SGLang server.

Standard library only (http.client), so the modules run on a Station's plain venv and
pass the sanity import test. One client keeps one connection alive per thread-less use;
error answers are mapped to messages that say what is wrong and what to do.

Retries, only where they cannot duplicate work:
  * a request sent on a kept-alive connection that the server had already closed
    (RemoteDisconnected / reset / broken pipe before any answer) is sent once more on a
    fresh connection: the server never saw it;
  * idempotent requests (GET, HEAD, /flush_cache) get that one retry on a fresh
    connection too.
Nothing else is retried: a generation that timed out may still be running on the server,
a 5xx is reported as is, and waiting for a booting server is the job of sglang_wait.

Public names (imported by the other modules): SGLangClient, SGLangError,
CONNECTION_ARGUMENT_SPEC, client_from_module, fail_from_error, parse_sse_data, iter_sse_lines,
parse_prometheus.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import json
import os
import socket
import ssl
import time
from urllib.parse import urlsplit, urlencode

from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact

DEFAULT_BASE_URL = "http://127.0.0.1:30000"

# The options every SGLang-facing module shares (documented in the
# dgx_station.inference.connection doc fragment; set once through the
# group/dgx_station.inference.sglang action group in module_defaults).
CONNECTION_ARGUMENT_SPEC = dict(
    base_url=dict(type="str", default=DEFAULT_BASE_URL),
    api_key=dict(type="str", no_log=True),
    model=dict(type="str"),
    timeout=dict(type="float", default=60.0),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
)

# What a server that is still starting looks like; used in several messages.
STILL_LOADING = (
    "The server is still loading (weights download/load and CUDA-graph capture take 10-45 min on a first "
    "start): wait for 'The server is fired up and ready to roll!' in the container log, or run "
    "dgx_station.inference.sglang_wait first.")


class SGLangError(Exception):
    """An answer (or the lack of one) that a module reports as a failure.

    kind: one of connection_refused, not_ready, timeout, unauthorized, forbidden, not_found,
    bad_request, server_error, http_error, invalid_response, connection_error.
    """

    def __init__(self, message, kind, status=None, body=None, hint=None):
        super(SGLangError, self).__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.body = body
        self.hint = hint

    def to_result(self):
        """Fields a module adds to fail_json so playbooks can branch on them."""
        result = dict(error_kind=self.kind, status=self.status)
        if self.hint:
            result["hint"] = self.hint
        if self.body is not None:
            result["body"] = self.body
        return result


def _error_message(body):
    """SGLang's error text from any of its error shapes (section 2.5 of the API)."""
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return body["error"].get("message") or json.dumps(body["error"])
        if isinstance(body.get("error"), str):
            return body["error"]
        if "message" in body:
            return body["message"]
        if "detail" in body:
            return str(body["detail"])
    return str(body)[:500]


class HTTPResponse:
    """A complete answer: status, headers, raw text and (when JSON) the parsed body."""

    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            raise SGLangError(
                "The server answered HTTP %d with a body that is not JSON: %r" % (self.status, self.text[:200]),
                "invalid_response", status=self.status, body=self.text[:2000])


class SGLangClient:
    """HTTP(S) client for one SGLang endpoint, reusing one keep-alive connection."""

    def __init__(self, base_url=DEFAULT_BASE_URL, api_key=None, timeout=60.0, validate_certs=True, ca_path=None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SGLangError(
                "base_url %r is not an http:// or https:// URL; use e.g. %s" % (base_url, DEFAULT_BASE_URL),
                "bad_request")
        self.base_url = base_url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path_prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._conn = None

    # -- connection handling -------------------------------------------------
    def ssl_context(self):
        """The TLS context for an https:// base_url (None for http://); shared with sglang_http_async."""
        if self.scheme != "https":
            return None
        context = ssl.create_default_context()
        if self.ca_path:
            try:
                if os.path.isdir(self.ca_path):
                    context.load_verify_locations(capath=self.ca_path)
                else:
                    context.load_verify_locations(cafile=self.ca_path)
            except (OSError, ssl.SSLError) as exc:
                raise SGLangError("Cannot load the CA certificates from ca_path %s: %s" % (self.ca_path, exc),
                                  "bad_request")
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _new_connection(self, timeout):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def headers(self, json_body=False):
        headers = {"Accept": "application/json, text/event-stream, text/plain"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        return headers

    def _send(self, method, path, body, timeout, idempotent):
        """Send one request; return the live http.client response.

        A kept-alive connection the server closed in the meantime is retried once on
        a fresh connection, since that request never reached the server. Other
        failures are retried only for idempotent requests.
        """
        url = self.path_prefix + path
        headers = self.headers(json_body=body is not None)
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        attempts = 2
        for attempt in range(attempts):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._new_connection(timeout)
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            try:
                self._conn.request(method, url, body=payload, headers=headers)
                return self._conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if (reused or idempotent) and attempt + 1 < attempts:
                    continue
                raise self._connection_error(exc, timeout)
            except (socket.timeout, TimeoutError) as exc:
                self.close()
                raise SGLangError(
                    "No answer from %s%s within %s s (timeout). The server may be overloaded or hung; "
                    "raise `timeout` or check the container logs." % (self.base_url, path, timeout),
                    "timeout")
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise self._connection_error(exc, timeout)
        raise SGLangError("unreachable", "connection_error")  # pragma: no cover

    def _connection_error(self, exc, timeout):
        if isinstance(exc, ConnectionRefusedError):
            return SGLangError(
                "Connection refused by %s: nothing listens there yet. If the container was just started, the "
                "server is still loading (weights download/load and CUDA-graph capture take 10-45 min on a first "
                "start); otherwise check that the container runs and publishes the port." % self.base_url,
                "connection_refused", hint=STILL_LOADING)
        if isinstance(exc, ssl.SSLError):
            return SGLangError(
                "TLS error talking to %s: %s. Set validate_certs=false only for a trusted self-signed "
                "endpoint." % (self.base_url, exc), "connection_error")
        return SGLangError("Cannot reach %s: %s" % (self.base_url, exc), "connection_error")

    # -- plain requests --------------------------------------------------------
    def request(self, method, path, body=None, timeout=None, idempotent=None, expect=(200,)):
        """Send a request and read the whole answer; raise SGLangError on a status not in expect."""
        timeout = self.timeout if timeout is None else timeout
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        started = time.monotonic()
        response = self._send(method, path, body, timeout, idempotent)
        try:
            text = response.read().decode("utf-8", "replace")
        except (socket.timeout, TimeoutError):
            self.close()
            raise SGLangError("The answer from %s%s stalled past %s s" % (self.base_url, path, timeout), "timeout")
        if response.getheader("connection", "").lower() == "close":
            self.close()
        result = HTTPResponse(response.status, dict(response.getheaders()), text)
        result.elapsed = time.monotonic() - started
        if expect is not None and result.status not in expect:
            raise self.status_error(path, result)
        return result

    def status_error(self, path, response):
        try:
            body = json.loads(response.text)
        except ValueError:
            body = response.text[:2000]
        detail = _error_message(body)
        status = response.status
        where = "%s%s" % (self.base_url, path)
        if status == 401:
            return SGLangError(
                "HTTP 401 from %s (%s): the server was started with --api-key; pass the same key as "
                "`api_key`." % (where, detail), "unauthorized", status, body)
        if status == 403:
            return SGLangError(
                "HTTP 403 from %s (%s): this endpoint needs the server's --admin-api-key." % (where, detail),
                "forbidden", status, body)
        if status == 404:
            return SGLangError("HTTP 404 from %s: %s" % (where, detail), "not_found", status, body)
        if status == 503:
            return SGLangError(
                "HTTP 503 from %s: the server is up but not ready; it is still loading (warm-up not finished) "
                "or it is unhealthy. %s" % (where, STILL_LOADING),
                "not_ready", status, body, hint=STILL_LOADING)
        if 400 <= status < 500:
            return SGLangError("HTTP %d from %s: %s" % (status, where, detail), "bad_request", status, body)
        if status >= 500:
            return SGLangError("HTTP %d from %s: %s" % (status, where, detail), "server_error", status, body)
        return SGLangError("Unexpected HTTP %d from %s: %s" % (status, where, detail), "http_error", status, body)

    def get_json(self, path, **kwargs):
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path, body, **kwargs):
        return self.request("POST", path, body=body, **kwargs).json()

    # -- SGLang endpoints --------------------------------------------------------
    def health(self, timeout=None):
        """HTTP status of /health (200 ready, 503 starting/unhealthy); raises when unreachable."""
        return self.request("GET", "/health", timeout=timeout, expect=None).status

    def models(self):
        return [card.get("id") for card in self.get_json("/v1/models").get("data", [])]

    def served_model(self):
        models = self.models()
        if not models:
            raise SGLangError("%s/v1/models lists no model" % self.base_url, "invalid_response")
        return models[0]

    def server_info(self):
        return self.get_json("/server_info")

    def flush_cache(self, timeout_s=0):
        path = "/flush_cache" + ("?" + urlencode({"timeout": timeout_s}) if timeout_s else "")
        return self.request("POST", path, idempotent=True).text

    def metrics_text(self):
        """Prometheus text of /metrics, or None when the server runs without --enable-metrics."""
        response = self.request("GET", "/metrics", expect=None)
        if response.status == 404:
            return None
        if response.status != 200:
            raise self.status_error("/metrics", response)
        return response.text

    def server_load(self):
        """Running and queued requests of the server, summed over its DP ranks.

        SGLang's own load figures: GET /v1/loads?include=core,queues (num_running_reqs, num_waiting_reqs,
        and in `queues` the requests waiting for a grammar, paused or retracted, per DP rank); a server
        without that endpoint (404) is read from the /metrics gauges sglang:num_running_reqs,
        sglang:num_queue_reqs and sglang:num_grammar_queue_reqs instead (needs --enable-metrics).
        """
        response = self.request("GET", "/v1/loads?include=core,queues", expect=None)
        if response.status == 200:
            body = response.json()
            loads = body.get("loads") if isinstance(body, dict) else None
            if not isinstance(loads, list) or not all(isinstance(load, dict) for load in loads):
                raise SGLangError("%s/v1/loads did not answer a list of loads: %r" % (self.base_url, body), "invalid_response")

            def other(load):
                queues = load.get("queues") if isinstance(load.get("queues"), dict) else {}
                return sum(int(queues.get(key) or 0) for key in ("grammar", "paused", "retracted"))

            return dict(running=sum(int(load.get("num_running_reqs") or 0) for load in loads),
                        waiting=sum(int(load.get("num_waiting_reqs") or 0) + other(load) for load in loads),
                        source="/v1/loads", loads=loads)
        if response.status != 404:
            raise self.status_error("/v1/loads", response)
        text = self.metrics_text()
        if text is None:
            raise SGLangError(
                "%s has neither /v1/loads nor /metrics, so its running and queued requests cannot be read: start it "
                "with --enable-metrics (sglang_server_enable_metrics) or use an SGLang that serves /v1/loads." % self.base_url,
                "not_found", 404)
        totals = parse_prometheus(text)[0]
        return dict(running=int(totals.get("sglang:num_running_reqs", 0)),
                    waiting=int(totals.get("sglang:num_queue_reqs", 0) + totals.get("sglang:num_grammar_queue_reqs", 0)),
                    source="/metrics", loads=[])

    def chat(self, payload, timeout=None):
        """Non-streaming /v1/chat/completions; returns the parsed body."""
        body = dict(payload, stream=False)
        return self.post_json("/v1/chat/completions", body, timeout=timeout)

    def stream_chat(self, payload, timeout=None):
        """Streaming /v1/chat/completions: yields (monotonic_time, event) per SSE data event.

        event is the parsed JSON object, or the string "[DONE]". An SSE error event
        (SGLang sends {"error": {...}} with HTTP 200) is yielded like any other event;
        callers decide. HTTP errors before the stream starts raise SGLangError.
        """
        timeout = self.timeout if timeout is None else timeout
        body = dict(payload, stream=True)
        response = self._send("POST", "/v1/chat/completions", body, timeout, idempotent=False)
        if response.status != 200:
            text = response.read().decode("utf-8", "replace")
            raise self.status_error("/v1/chat/completions", HTTPResponse(response.status, {}, text))
        try:
            for line in iter_sse_lines(response):
                now = time.monotonic()
                data = parse_sse_data(line)
                if data is None:
                    continue
                yield now, data
                if data == "[DONE]":
                    break
        except (socket.timeout, TimeoutError):
            self.close()
            raise SGLangError("The stream from %s stalled past %s s" % (self.base_url, timeout), "timeout")
        finally:
            # An unfinished stream leaves the connection unusable for the next request.
            if not response.isclosed():
                self.close()


def parse_prometheus(text):
    """{metric name: sum over its label sets} and {series (name + labels): value} of Prometheus text."""
    totals, series = {}, {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name = line[:line.index("{")]
            close = line.rfind("}")
            key = line[:close + 1]
            rest = line[close + 1:].split()
        else:
            fields = line.split()
            name = key = fields[0]
            rest = fields[1:]
        if not rest:
            continue
        try:
            value = float(rest[0])
        except ValueError:
            continue
        totals[name] = totals.get(name, 0.0) + value
        series[key] = value
    return totals, series


def iter_sse_lines(response):
    """Lines of an SSE body as they arrive (http.client handles chunked decoding)."""
    while True:
        line = response.readline()
        if not line:
            return
        yield line.decode("utf-8", "replace").rstrip("\r\n")


def parse_sse_data(line):
    """The payload of one SSE `data:` line: parsed JSON, "[DONE]", or None for other lines."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return data
    try:
        return json.loads(data)
    except ValueError:
        raise SGLangError("The stream carried an event that is not JSON: %r" % data[:200], "invalid_response")


def client_from_module(module):
    """Build the client from a module's common connection options."""
    params = module.params
    return SGLangClient(
        base_url=params["base_url"],
        api_key=params.get("api_key"),
        timeout=params["timeout"],
        validate_certs=params["validate_certs"],
        ca_path=params.get("ca_path"),
    )


def fail_from_error(module, error, **result):
    """fail_json with an SGLangError's message and its structured fields, the server's answer redacted."""
    result.update(error.to_result())
    result["msg"] = error.message
    module.fail_json(**redact(result, [module.params.get("api_key")]))
