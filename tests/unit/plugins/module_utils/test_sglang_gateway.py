# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sglang_gateway.GatewayClient against FakeGateway, a scripted stand-in for smg 1.13's worker API on 127.0.0.1.

FakeGateway plays the behaviour observed on the real smg 1.13.0: POST /workers answers 202 and
the worker is `pending` (and not listed by GET /workers) for `pending_polls` polls of
GET /workers/{id}, then `ready`; DELETE answers 202 and the worker is `draining` for
`drain_polls` polls, then 404; a URL already known answers 409 WORKER_ALREADY_EXISTS (also while
draining), one still registering 409 WORKER_CREATE_IN_PROGRESS; with api_key every worker
endpoint needs `Authorization: Bearer KEY` (401 in smg's OpenAI-style error shape otherwise).
tests/unit/plugins/modules/test_sglang_gateway_workers.py imports it too.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_gateway import (
    GatewayClient,
    GatewayError,
    is_healthy,
    is_member,
    normalize_url,
    worker_summary,
)

MODEL = "Qwen/Qwen3-8B"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class FakeGateway(object):
    """smg's worker API, scripted by poll counts instead of time (see the module docstring)."""

    def __init__(self, api_key=None, pending_polls=1, drain_polls=2, list_hides_draining=False,
                 never_ready=(), dropped=()):
        self.api_key = api_key
        self.pending_polls = pending_polls
        self.drain_polls = drain_polls
        self.list_hides_draining = list_hides_draining
        self.never_ready = set(never_ready)  # URLs that stay pending
        self.dropped = set(dropped)  # URLs whose registration fails (404 after the first poll)
        self.workers = {}  # id -> worker dict (with private _polls)
        self.requests = []
        self.lock = threading.Lock()
        self.override = {}  # "METHOD /path" -> (status, body) answered as is
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.requests.append(dict(method=self.command, path=self.path, body=body,
                                              headers=dict(self.headers.items())))
                    status, answer = fake.answer(self.command, self.path, body, self.headers.get("Authorization"))
                self._answer(status, answer)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- state --------------------------------------------------------------------
    def seed(self, url, status="ready", is_healthy=None, load=0, model_id=MODEL):
        """A worker already registered (as after --worker-urls or an earlier run); returns its id."""
        worker_id = str(uuid.uuid4())
        self.workers[worker_id] = dict(
            id=worker_id, url=url, model_id=model_id, worker_type="regular", connection_mode="http",
            runtime_type="sglang", priority=50, cost=1.0, status=status,
            is_healthy=(status == "ready") if is_healthy is None else is_healthy, load=load, _polls=0)
        return worker_id

    def calls(self, method=None, path_prefix=""):
        return [r for r in self.requests if (method is None or r["method"] == method)
                and r["path"].startswith(path_prefix)]

    def _public(self, worker):
        return dict((k, v) for k, v in worker.items() if not k.startswith("_"))

    def answer(self, method, path, body, authorization):
        key = "%s %s" % (method, path)
        if key in self.override:
            return self.override[key]
        if self.api_key and authorization != "Bearer %s" % self.api_key:
            return 401, {"error": {"message": "Missing API key: send it as `Authorization: Bearer <key>`"
                                   if not authorization else "Invalid API key",
                                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
        if path.split("?")[0] == "/workers":
            if method == "GET":
                listed = [self._public(w) for w in self.workers.values() if w["status"] != "pending"
                          and not (self.list_hides_draining and w["status"] == "draining")]
                return 200, {"workers": listed, "total": len(listed),
                             "stats": {"prefill_count": 0, "decode_count": 0, "regular_count": len(listed)}}
            if method == "POST":
                return self._post(body)
        match = re.match(r"^/workers/([^/?]+)$", path)
        if match and "%" in match.group(1):  # axum decodes the segment, then no route has that many parts
            match = None
        if match:
            worker_id = match.group(1)
            if not _UUID.match(worker_id):
                return 400, {"error": "Invalid worker_id '%s' (expected UUID). Error: invalid character" % worker_id,
                             "code": "BAD_REQUEST"}
            worker = self.workers.get(worker_id)
            if worker is None:
                return 404, {"error": "Worker %s not found" % worker_id, "code": "WORKER_NOT_FOUND"}
            if method == "DELETE":
                worker.update(status="draining", is_healthy=False, _polls=0)
                return 202, {"status": "accepted", "worker_id": worker_id,
                             "message": "Worker removal queued for background processing"}
            if method == "GET":
                return self._poll(worker)
        return 404, {"error": {"type": "invalid_request_error", "code": "unknown_url",
                               "message": "Invalid URL (%s %s)" % (method, path)}}

    def _post(self, body):
        url = (body or {}).get("url")
        if not url:
            return 400, {"error": "Invalid JSON data: missing field `url`", "code": "BAD_REQUEST"}
        if not url.startswith(("http://", "https://", "grpc://", "grpcs://", "ipc://")):
            return 400, {"error": "Invalid value for field 'worker_url': %s - URL must start with a lowercase "
                                  "http://, https://, grpc://, grpcs://, or ipc:// scheme" % url, "code": "BAD_REQUEST"}
        for worker in self.workers.values():
            if worker["url"] == url:
                if worker["status"] == "pending":
                    return 409, {"error": "Worker creation already in progress for URL '%s' with ID %s. Poll GET "
                                          "/workers/%s." % (url, worker["id"], worker["id"]),
                                 "code": "WORKER_CREATE_IN_PROGRESS"}
                return 409, {"error": "Worker already exists at URL '%s' with ID %s. Use PUT /workers/%s to replace "
                                      "or PATCH /workers/%s to update." % (url, worker["id"], worker["id"], worker["id"]),
                             "code": "WORKER_ALREADY_EXISTS"}
        worker_id = self.seed(url, status="pending", is_healthy=False)
        self.workers[worker_id]["_api_key"] = body.get("api_key")
        self.workers[worker_id]["job_status"] = {"job_type": "AddWorker", "worker_url": url, "status": "processing",
                                                 "message": None}
        return 202, {"status": "accepted", "worker_id": worker_id, "url": url, "location": "/workers/%s" % worker_id,
                     "message": "Worker addition queued for background processing"}

    def _poll(self, worker):
        worker["_polls"] += 1
        if worker["status"] == "pending":
            if worker["url"] in self.dropped and worker["_polls"] > 1:
                del self.workers[worker["id"]]
                return 404, {"error": "Worker %s not found" % worker["id"], "code": "WORKER_NOT_FOUND"}
            if worker["url"] not in self.never_ready and worker["_polls"] > self.pending_polls:
                worker.update(status="ready", is_healthy=True, _polls=0)
                worker.pop("job_status", None)
        elif worker["status"] == "draining" and worker["_polls"] > self.drain_polls:
            del self.workers[worker["id"]]
            return 404, {"error": "Worker %s not found" % worker["id"], "code": "WORKER_NOT_FOUND"}
        return 200, self._public(worker)


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def client(fake, **kwargs):
    kwargs.setdefault("timeout", 5)
    return GatewayClient(fake.url, **kwargs)


# -- URL normalisation -----------------------------------------------------------------
@pytest.mark.parametrize("given,normal", [
    ("http://127.0.0.1:30000", "http://127.0.0.1:30000"),
    ("http://127.0.0.1:30000/", "http://127.0.0.1:30000"),
    ("http://127.0.0.1:30000//", "http://127.0.0.1:30000"),
    ("  http://10.0.0.11:30000/  ", "http://10.0.0.11:30000"),
    ("HTTP://Station01.Example.COM:30000", "http://station01.example.com:30000"),
    ("http://station01:80", "http://station01"),
    ("http://station01:80/", "http://station01"),
    ("https://station01:443", "https://station01"),
    ("https://station01:80", "https://station01:80"),
    ("http://station01:443", "http://station01:443"),
    ("http://[FD00::11]:30000/", "http://[fd00::11]:30000"),
])
def test_normalize_url(given, normal):
    assert normalize_url(given) == normal
    assert normalize_url(normal) == normal


@pytest.mark.parametrize("given,reason", [
    ("station01:30000", "scheme"),
    ("10.0.0.11:30000", "scheme"),
    ("ftp://station01:30000", "scheme"),
    ("grpc://station01:30000", "scheme"),
    ("http://station01:30000/v1", "path"),
    ("http://station01:30000/?x=1", "query"),
    ("http://station01:30000#frag", "fragment"),
    ("http://user:secret@station01:30000", "credentials"),
    ("http://station01:notaport", "bad port"),
    ("http://station01:99999", "bad port"),
    ("http://:30000", "no host"),
    ("", "empty"),
])
def test_normalize_url_rejects_what_is_not_a_worker_url(given, reason):
    with pytest.raises(GatewayError) as info:
        normalize_url(given, option="workers[1]")
    assert info.value.kind == "invalid_url"
    assert info.value.message.startswith("workers[1]: ")
    assert reason in info.value.message and "http://HOST:PORT" in info.value.message


def test_credentials_in_a_url_are_not_repeated():
    with pytest.raises(GatewayError) as info:
        normalize_url("http://admin:hunter2@station01:30000")
    assert "hunter2" not in info.value.message and "admin" not in info.value.message
    assert "'http://<redacted>@station01:30000'" in info.value.message


def test_normalize_url_never_raises_for_listed_urls():
    assert normalize_url("grpc://10.0.0.11:30001/", strict=False) == "grpc://10.0.0.11:30001"
    assert normalize_url("http://h:30000/", strict=False) == "http://h:30000"
    assert normalize_url(None, strict=False) is None


def test_summary_member_and_health():
    worker = dict(id="x", url="http://h:1", model_id=MODEL, status="ready", is_healthy=True, load=3, labels={})
    assert worker_summary(worker) == dict(id="x", url="http://h:1", model_id=MODEL, status="ready", is_healthy=True,
                                          load=3)
    assert is_member(worker) and is_healthy(worker)
    assert is_member(dict(worker, status="failed")) and not is_healthy(dict(worker, status="failed"))
    assert not is_healthy(dict(worker, is_healthy=False))
    assert not is_member(dict(worker, status="draining"))


# -- requests ------------------------------------------------------------------------
def test_list_get_add_remove_with_the_bearer_key():
    with FakeGateway(api_key="gw-key") as fake:
        ready_id = fake.seed("http://127.0.0.1:30001")
        gateway = client(fake, api_key="gw-key")
        listed = gateway.list_workers()
        assert [w["id"] for w in listed] == [ready_id]
        assert gateway.get_worker(ready_id)["status"] == "ready"
        new_id = gateway.add_worker("http://127.0.0.1:30002", api_key="worker-key")
        assert fake.calls("POST")[0]["body"] == {"url": "http://127.0.0.1:30002", "api_key": "worker-key"}
        assert gateway.get_worker(new_id)["status"] == "pending"
        # smg lists a worker only once it is registered
        assert [w["id"] for w in gateway.list_workers()] == [ready_id]
        assert gateway.remove_worker(ready_id) is True
        assert gateway.get_worker(ready_id)["status"] == "draining"
        assert all(r["headers"]["Authorization"] == "Bearer gw-key" for r in fake.requests)
        gateway.close()


def test_add_without_worker_key_sends_only_the_url():
    with FakeGateway() as fake:
        gateway = client(fake)
        gateway.add_worker("http://127.0.0.1:30002")
        request = fake.calls("POST")[0]
        assert request["body"] == {"url": "http://127.0.0.1:30002"}
        assert "Authorization" not in request["headers"]


def test_unknown_id_is_none_and_delete_of_a_gone_worker_is_false():
    with FakeGateway() as fake:
        gateway = client(fake)
        gone = str(uuid.uuid4())
        assert gateway.get_worker(gone) is None
        assert gateway.remove_worker(gone) is False
        with pytest.raises(GatewayError) as info:
            gateway.get_worker("not-a-uuid")
        assert info.value.kind == "bad_request" and info.value.code == "BAD_REQUEST"
        assert "expected UUID" in info.value.message
        # An id with slashes does not reach the route: smg's 404 unknown_url is not "gone"
        with pytest.raises(GatewayError) as info:
            gateway.get_worker("http://127.0.0.1:30001")
        assert info.value.kind == "invalid_response"
        assert fake.requests[-1]["path"] == "/workers/http%3A%2F%2F127.0.0.1%3A30001"


def test_workers_by_url_and_find_ids_compare_normalized():
    with FakeGateway() as fake:
        first = fake.seed("http://127.0.0.1:30001/")
        second = fake.seed("http://127.0.0.1:30002")
        gateway = client(fake)
        by_url = gateway.workers_by_url()
        assert sorted(by_url) == ["http://127.0.0.1:30001", "http://127.0.0.1:30002"]
        assert gateway.find_ids("HTTP://127.0.0.1:30001") == [first]
        assert gateway.find_ids("http://127.0.0.1:30002/") == [second]
        assert gateway.find_ids("http://127.0.0.1:30003") == []


@pytest.mark.parametrize("key,needle", [
    (None, "smg was started with a key (--api-key), which its worker API needs; pass it as the api_key option"),
    ("wrong", "the api_key given is not the gateway's key; pass the key smg was started with (--api-key) as the "
              "api_key option"),
])
def test_401_names_the_api_key_option(key, needle):
    with FakeGateway(api_key="gw-key") as fake:
        with pytest.raises(GatewayError) as info:
            client(fake, api_key=key).list_workers()
    error = info.value
    assert needle in redact(error.message)  # the module redacts its results: the advice survives that
    assert error.kind == "unauthorized" and error.status == 401 and error.code == "invalid_api_key"
    assert needle in error.message and "HTTP 401 from the gateway (GET %s/workers" % fake.url in error.message
    assert error.to_result()["gateway_code"] == "invalid_api_key"


def test_409_carries_the_code_and_the_existing_id():
    with FakeGateway() as fake:
        gateway = client(fake)
        first = gateway.add_worker("http://127.0.0.1:30001")
        with pytest.raises(GatewayError) as info:
            gateway.add_worker("http://127.0.0.1:30001")
        assert info.value.kind == "conflict" and info.value.code == "WORKER_CREATE_IN_PROGRESS"
        assert info.value.existing_id == first
        gateway.wait_ready([first], timeout=5, poll_interval=0.01)
        with pytest.raises(GatewayError) as info:
            gateway.add_worker("http://127.0.0.1:30001")
        assert info.value.code == "WORKER_ALREADY_EXISTS" and info.value.existing_id == first
        assert "(code WORKER_ALREADY_EXISTS)" in info.value.message


def test_400_from_the_gateway_is_reported_with_its_code():
    with FakeGateway() as fake:
        with pytest.raises(GatewayError) as info:
            client(fake).add_worker("HTTP://X:1")
    assert info.value.kind == "bad_request" and info.value.code == "BAD_REQUEST"
    assert "lowercase http://" in info.value.message


def test_an_endpoint_that_is_not_smg_is_an_invalid_response():
    with FakeGateway() as fake:
        fake.override["GET /workers"] = (200, {"object": "list", "data": []})
        with pytest.raises(GatewayError) as info:
            client(fake).list_workers()
    assert info.value.kind == "invalid_response" and "not smg's worker API" in info.value.message


def test_5xx_is_a_server_error():
    with FakeGateway() as fake:
        fake.override["GET /workers"] = (500, {"error": "boom", "code": "INTERNAL"})
        with pytest.raises(GatewayError) as info:
            client(fake).list_workers()
    assert info.value.kind == "server_error" and "boom (code INTERNAL)" in info.value.message


def test_connection_refused_names_gateway_url():
    gateway = GatewayClient("http://127.0.0.1:%d" % free_port(), timeout=2)
    with pytest.raises(GatewayError) as info:
        gateway.list_workers()
    assert info.value.kind == "connection_refused"
    assert "smg does not listen there. Check gateway_url" in info.value.message
    assert "weights" not in info.value.message  # not the SGLang-server wording


@pytest.mark.parametrize("url", ["127.0.0.1:30080", "ftp://h:1", "", None, "http://h:port"])
def test_bad_gateway_url(url):
    with pytest.raises(GatewayError) as info:
        GatewayClient(url)
    assert info.value.kind == "invalid_url" and "gateway_url" in info.value.message


# -- waiting ---------------------------------------------------------------------------
def test_wait_ready_polls_pending_until_ready():
    with FakeGateway(pending_polls=3) as fake:
        gateway = client(fake)
        worker_id = gateway.add_worker("http://127.0.0.1:30001")
        ready = gateway.wait_ready([worker_id], timeout=5, poll_interval=0.01)
        assert ready[worker_id]["status"] == "ready" and ready[worker_id]["is_healthy"] is True
        assert len(fake.calls("GET", "/workers/")) == 4


def test_wait_ready_timeout_says_the_status_and_how_smg_probes():
    with FakeGateway(never_ready={"http://127.0.0.1:30001"}) as fake:
        gateway = client(fake)
        worker_id = gateway.add_worker("http://127.0.0.1:30001")
        with pytest.raises(GatewayError) as info:
            gateway.wait_ready([worker_id], timeout=0.2, poll_interval=0.05)
    error = info.value
    assert error.kind == "worker_not_ready"
    assert "http://127.0.0.1:30001 (id %s): status pending, is_healthy false, job processing" % worker_id \
        in error.message
    for needle in ("/health", "/v1/models", "/server_info", "every 30 s", "wait_timeout"):
        assert needle in error.message
    assert redact(error.message) == error.message
    assert error.to_result()["not_done"][0]["status"] == "pending"


def test_wait_ready_reports_a_dropped_registration():
    with FakeGateway(dropped={"http://127.0.0.1:30001"}) as fake:
        gateway = client(fake)
        worker_id = gateway.add_worker("http://127.0.0.1:30001")
        with pytest.raises(GatewayError) as info:
            gateway.wait_ready([worker_id], timeout=5, poll_interval=0.01, urls={worker_id: "http://127.0.0.1:30001"})
    assert info.value.kind == "worker_dropped"
    assert "dropped http://127.0.0.1:30001 (id %s)" % worker_id in info.value.message
    assert "--worker-startup-timeout-secs" in info.value.message


def test_wait_gone_through_draining():
    with FakeGateway(drain_polls=3) as fake:
        worker_id = fake.seed("http://127.0.0.1:30001")
        gateway = client(fake)
        assert gateway.remove_worker(worker_id)
        assert gateway.wait_gone([worker_id], timeout=5, poll_interval=0.01) is True
        assert gateway.get_worker(worker_id) is None
        assert len(fake.calls("GET", "/workers/")) == 5


def test_wait_gone_timeout():
    with FakeGateway(drain_polls=10 ** 6) as fake:
        worker_id = fake.seed("http://127.0.0.1:30001")
        gateway = client(fake)
        gateway.remove_worker(worker_id)
        with pytest.raises(GatewayError) as info:
            gateway.wait_gone([worker_id], timeout=0.1, poll_interval=0.02)
    assert info.value.kind == "drain_timeout"
    assert "status draining" in info.value.message and "drain_settle_secs" in info.value.message


def test_wait_uses_the_injected_clock_and_sleep():
    ticks = []
    now = [0.0]

    def sleep(seconds):
        ticks.append(seconds)
        now[0] += seconds

    with FakeGateway(never_ready={"http://127.0.0.1:30001"}) as fake:
        gateway = GatewayClient(fake.url, timeout=5, clock=lambda: now[0], sleep=sleep)
        worker_id = gateway.add_worker("http://127.0.0.1:30001")
        with pytest.raises(GatewayError) as info:
            gateway.wait_ready([worker_id], timeout=10, poll_interval=3)
    assert ticks == [3, 3, 3, 1]
    assert "Not ready after 10 s" in info.value.message
