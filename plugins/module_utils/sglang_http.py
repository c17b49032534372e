# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one HTTP client every module of this collection uses to talk to an SGLang server or gateway.

The transport is `requests` (one Session, so one kept-alive connection pool per client), which the
python_venv role installs into the Station's venv. It honours `validate_certs`, `ca_path` (a CA
bundle file or a c_rehash directory) and the proxy environment (HTTPS_PROXY / HTTP_PROXY /
NO_PROXY, as requests reads it). The benchmark's concurrent load uses the asyncio transport of
sglang_http_async, which reuses this client's URL, headers, TLS context and error mapping
(docs/benchmark.md, "Transport choice", says why it is not a library).

One retry rule (RETRY below), only where a retry cannot duplicate work:
  * an error while connecting (nothing was sent) is retried once, for every method;
  * an idempotent request (GET, HEAD) whose connection broke or timed out before the answer is
    retried once on a fresh connection.
Nothing else is retried: a generation that timed out may still be running on the server, a 5xx
is reported as is, and waiting for a booting server is the job of sglang_wait.

Chat answers, whole or streamed, are read once by sglang_exchange.ChatExchange (chat_exchange()).

Public names (imported by the other modules): SGLangClient, SGLangError, HTTPResponse,
CONNECTION_ARGUMENT_SPEC, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, client_from_module,
parse_prometheus.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import ssl
import time
import traceback
from urllib.parse import urlsplit, urlencode

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import ChatExchange, SSEDecoder

try:
    import requests
    import requests.adapters
    from urllib3.util.retry import Retry
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - the module reports it with missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

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
    bad_request, server_error, http_error, invalid_response, connection_error, tls_error,
    model_not_served, missing_library.
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


def retry_rule():
    """The one retry rule (see the module docstring), as urllib3 applies it below requests."""
    rule = dict(total=1, connect=1, read=1, status=0, redirect=0, backoff_factor=0, raise_on_status=False,
                respect_retry_after_header=False)
    try:
        return Retry(other=0, allowed_methods=frozenset(("GET", "HEAD")), **rule)
    except TypeError:  # urllib3 < 1.26 (an older distribution python3-urllib3) names it method_whitelist
        return Retry(method_whitelist=frozenset(("GET", "HEAD")), **rule)


def _causes(exc):
    """exc and what it wraps (requests -> urllib3 MaxRetryError.reason -> the OS error), outermost first."""
    seen = []
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return seen


class SGLangClient:
    """HTTP(S) client for one SGLang endpoint (a requests Session: kept-alive connections)."""

    def __init__(self, base_url=DEFAULT_BASE_URL, api_key=None, timeout=60.0, validate_certs=True, ca_path=None):
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SGLangError(
                "base_url %r is not an http:// or https:// URL; use e.g. %s" % (base_url, DEFAULT_BASE_URL),
                "bad_request")
        if ca_path and not os.path.exists(ca_path):
            raise SGLangError("ca_path %s does not exist: give a CA bundle file or a directory of CA certificates "
                              "on the host the module runs on" % ca_path, "bad_request")
        self.base_url = base_url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path_prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._session = None

    # -- connection handling -------------------------------------------------
    @property
    def session(self):
        if self._session is None:
            if not HAS_REQUESTS:
                raise SGLangError("The Python library requests is not installed for the interpreter running this "
                                  "module: run the dgx_station.inference.python_venv role (it installs requests into "
                                  "the Station's venv) or `pip install requests`.", "missing_library")
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(max_retries=retry_rule(), pool_connections=1, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(self.headers())
            if self.api_key:
                # An auth callable keeps requests from replacing the bearer token with ~/.netrc credentials.
                session.auth = self._bearer
            # verify: a CA bundle or directory when ca_path is set, else on/off (requests reads both shapes).
            # It is also passed with every request: the session's value loses to REQUESTS_CA_BUNDLE and
            # CURL_CA_BUNDLE from the environment (requests merges those over it).
            session.verify = self.verify
            if self.loopback:
                # The server on the Station itself: never through a proxy, even when http_proxy is set and
                # no_proxy is not (requests does not skip loopback by itself).
                session.trust_env = False
            self._session = session
        return self._session

    @property
    def verify(self):
        return (self.ca_path or True) if self.validate_certs else False

    @property
    def loopback(self):
        host = (self.host or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    def _bearer(self, prepared):
        prepared.headers["Authorization"] = "Bearer %s" % self.api_key
        return prepared

    def ssl_context(self):
        """The TLS context for an https:// base_url (None for http://), for the asyncio transport."""
        if self.scheme != "https":
            return None
        # With ca_path, only those CAs (as requests does with verify=<path>); else the system trust store.
        try:
            if self.ca_path and os.path.isdir(self.ca_path):
                context = ssl.create_default_context(capath=self.ca_path)
            elif self.ca_path:
                context = ssl.create_default_context(cafile=self.ca_path)
            else:
                context = ssl.create_default_context()
        except (OSError, ssl.SSLError) as exc:
            raise SGLangError("Cannot load the CA certificates from ca_path %s: %s" % (self.ca_path, exc),
                              "bad_request")
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None

    def headers(self, json_body=False):
        headers = {"Accept": "application/json, text/event-stream, text/plain"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        return headers

    def _send(self, method, path, body, timeout, stream=False):
        """Send one request through the session; return the requests response (body unread when stream)."""
        url = self.base_url + path
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        session = self.session
        try:
            return session.request(method, url, data=payload, headers=headers, timeout=(timeout, timeout),
                                   stream=stream, allow_redirects=False, verify=self.verify)
        except requests.exceptions.RequestException as exc:
            raise self._connection_error(exc, timeout, path)
        except (OSError, ValueError) as exc:
            raise self._connection_error(exc, timeout, path)

    def _connection_error(self, exc, timeout, path=""):
        """An SGLangError for a failure below HTTP (refused, TLS, timeout, reset, cut body)."""
        causes = _causes(exc)
        where = "%s%s" % (self.base_url, path)
        if HAS_REQUESTS and isinstance(exc, requests.exceptions.ProxyError):
            return SGLangError(
                "Cannot reach %s through the proxy of the environment (HTTPS_PROXY / HTTP_PROXY): %s. Fix the proxy, "
                "or add the host to NO_PROXY when the server is reachable directly." % (where, exc), "connection_error")
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return SGLangError(
                "Connection refused by %s: nothing listens there yet. If the container was just started, the "
                "server is still loading (weights download/load and CUDA-graph capture take 10-45 min on a first "
                "start); otherwise check that the container runs and publishes the port." % self.base_url,
                "connection_refused", hint=STILL_LOADING)
        if any(isinstance(cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) for cause in causes):
            # The port accepted and closed during the handshake (a TLS proxy without its backend yet, a server
            # still starting): not a certificate problem, and waiting may mend it.
            return SGLangError("The TLS connection to %s closed during the handshake: %s" % (self.base_url, exc),
                               "connection_error")
        if any(isinstance(cause, ssl.SSLError) for cause in causes) or (
                HAS_REQUESTS and isinstance(exc, requests.exceptions.SSLError)):
            return SGLangError(
                "TLS error talking to %s: %s. Check the server's certificate, give its CA with ca_path, or set "
                "validate_certs=false only for a trusted self-signed endpoint." % (self.base_url, exc), "tls_error")
        if (HAS_REQUESTS and isinstance(exc, requests.exceptions.Timeout)) or any(
                isinstance(cause, TimeoutError) for cause in causes):
            return SGLangError(
                "No answer from %s within %s s (timeout). The server may be overloaded or hung; raise `timeout` or "
                "check the container logs." % (where, timeout), "timeout")
        if HAS_REQUESTS and isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return SGLangError("The answer from %s was cut short (the connection closed mid-body): %s" % (where, exc),
                               "connection_error")
        return SGLangError("Cannot reach %s: %s" % (where, exc), "connection_error")

    # -- plain requests --------------------------------------------------------
    def request(self, method, path, body=None, timeout=None, expect=(200,)):
        """Send a request and read the whole answer; raise SGLangError on a status not in expect."""
        timeout = self.timeout if timeout is None else timeout
        started = time.monotonic()
        response = self._send(method, path, body, timeout)
        try:
            text = response.content.decode("utf-8", "replace")
        except requests.exceptions.RequestException as exc:
            raise self._connection_error(exc, timeout, path)
        result = HTTPResponse(response.status_code, dict(response.headers), text)
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
        body = self.get_json("/v1/models")
        cards = body.get("data") if isinstance(body, dict) else None
        if not isinstance(cards, list):
            raise SGLangError("%s/v1/models did not answer a model list: %r" % (self.base_url, body), "invalid_response")
        return [card.get("id") for card in cards if isinstance(card, dict)]

    def served_model(self):
        models = self.models()
        if not models:
            raise SGLangError("%s/v1/models lists no model" % self.base_url, "invalid_response")
        return models[0]

    def resolve_model(self, requested=None, require_listed=True):
        """(model to send, models /v1/models lists): requested when set, else the first listed one.

        A requested model the server does not list raises SGLangError(kind=model_not_served) when
        require_listed: SGLang answers such a request with the model it serves or 404, so a typo would
        otherwise go unnoticed or fail late.
        """
        served = self.models()
        if requested:
            if require_listed and requested not in served:
                raise SGLangError(
                    "%s does not serve model %r; /v1/models lists %s. Set `model` to a listed name (the server's "
                    "--served-model-name, else its --model-path) or leave it unset to use the served one."
                    % (self.base_url, requested, ", ".join(repr(name) for name in served) or "no model"),
                    "model_not_served")
            return requested, served
        if not served:
            raise SGLangError("%s/v1/models lists no model" % self.base_url, "invalid_response")
        return served[0], served

    def server_info(self):
        return self.get_json("/server_info")

    def flush_cache(self, timeout_s=0):
        path = "/flush_cache" + ("?" + urlencode({"timeout": timeout_s}) if timeout_s else "")
        return self.request("POST", path).text

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

    def chat_exchange(self, payload, stream=False, timeout=None):
        """One /v1/chat/completions request read by sglang_exchange.ChatExchange (whole or streamed).

        An HTTP error status raises SGLangError (the request was refused). Once an answer has started,
        what goes wrong (an SSE error event, a cut or stalled stream, an abort finish, a body that is not a
        chat completion) is recorded in the exchange (ok False, error_kind, error), never raised.
        A stream asks for usage in its last chunk (stream_options.include_usage).
        """
        timeout = self.timeout if timeout is None else timeout
        body = dict(payload, stream=bool(stream))
        if stream:
            body.setdefault("stream_options", {"include_usage": True})
        exchange = ChatExchange(stream)
        response = self._send("POST", "/v1/chat/completions", body, timeout, stream=True)
        try:
            exchange.head(response.status_code)
            if response.status_code != 200:
                text = response.content.decode("utf-8", "replace")
                raise self.status_error("/v1/chat/completions", HTTPResponse(response.status_code, {}, text))
            if not stream:
                try:
                    text = response.content
                except requests.exceptions.RequestException as exc:
                    error = self._connection_error(exc, timeout, "/v1/chat/completions")
                    exchange.fail("timeout" if error.kind == "timeout" else "incomplete_response", error.message)
                    return exchange.finish()
                return exchange.take_body(text, time.perf_counter())
            decoder = SSEDecoder()
            try:
                # Read to the end of the body (SGLang ends it right after [DONE]), so the connection goes back to
                # the pool for the next request instead of being dropped.
                for data in response.iter_content(chunk_size=None):
                    now = time.perf_counter()
                    for event in decoder.feed(data):
                        exchange.add_payload(now, event)
                for event in decoder.close():
                    exchange.add_payload(time.perf_counter(), event)
            except requests.exceptions.RequestException as exc:
                error = self._connection_error(exc, timeout, "/v1/chat/completions")
                exchange.fail("timeout" if error.kind == "timeout" else "incomplete_stream", error.message)
            return exchange.finish()
        except requests.exceptions.RequestException as exc:
            raise self._connection_error(exc, timeout, "/v1/chat/completions")
        finally:
            response.close()

    def chat(self, payload, timeout=None):
        """Non-streaming /v1/chat/completions; returns the parsed body (for callers that need the raw answer)."""
        return self.post_json("/v1/chat/completions", dict(payload, stream=False), timeout=timeout)


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
