"""A tiny in-process fake SGLang endpoint that replays recorded exchanges.

Fixtures live in tests/unit/fixtures/http/<name>.json:

    {"description": "...", "source": "...",
     "exchanges": [
        {"request": {"method": "GET", "path": "/v1/models"},
         "response": {"status": 200, "json": {...}}},
        {"request": {"method": "POST", "path": "/v1/chat/completions",
                     "json_subset": {"stream": true}},
         "response": {"status": 200, "sse": [{...}, "[DONE]"]}}
     ]}

A request takes the first unused exchange with the same method and path (the query string
is compared only when the recorded path has one). `json_subset` further filters on the
request body. `"repeat": true` keeps an exchange available. Response bodies: `json`
(an object), `text` (a string) or `sse` (events, each sent as `data: <json>\\n\\n`).
`delay_s` delays the answer, `drop: true` closes the connection without answering,
`log` (list of lines) is appended to the server's log_path when the exchange is served
(the scheduler's Prefill batch lines).
Every request received is recorded (method, path, headers, json) for assertions.
Binds 127.0.0.1 only.
"""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "http")


def load_fixture(name):
    with open(os.path.join(FIXTURE_DIR, name + ".json")) as handle:
        return json.load(handle)


def _subset(expected, actual):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return expected == actual


class ReplayServer:
    def __init__(self, exchanges, log_path=None):
        self.exchanges = [dict(e, used=False) for e in exchanges]
        self.log_path = log_path
        self.requests = []
        self.unmatched = []
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                exchange = replay.match(self.command, self.path, body, dict(self.headers))
                if exchange is None:
                    self._write(599, {"content-type": "application/json"},
                                json.dumps({"error": "no recorded exchange for %s %s" % (self.command, self.path)}).encode())
                    return
                response = exchange["response"]
                if response.get("log") and replay.log_path:
                    with open(replay.log_path, "a") as log:
                        log.write("".join(line + "\n" for line in response["log"]))
                if response.get("delay_s"):
                    time.sleep(response["delay_s"])
                if response.get("drop"):
                    self.close_connection = True
                    return
                headers = dict((k.lower(), v) for k, v in response.get("headers", {}).items())
                status = response.get("status", 200)
                if "sse" in response:
                    headers.setdefault("content-type", "text/event-stream")
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for event in response["sse"]:
                        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
                        chunk = ("data: %s\n\n" % data).encode("utf-8")
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                        if response.get("event_delay_s"):
                            time.sleep(response["event_delay_s"])
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if "json" in response:
                    headers.setdefault("content-type", "application/json")
                    payload = json.dumps(response["json"]).encode("utf-8")
                else:
                    headers.setdefault("content-type", "text/plain; charset=utf-8")
                    payload = response.get("text", "").encode("utf-8")
                self._write(status, headers, payload)

            def _write(self, status, headers, payload):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)

    def match(self, method, path, body, headers):
        with self.lock:
            self.requests.append(dict(method=method, path=path, json=body, headers=headers))
            bare = path.split("?", 1)[0]
            for exchange in self.exchanges:
                request = exchange["request"]
                if exchange["used"] or request["method"] != method:
                    continue
                wanted = request["path"]
                if wanted != (path if "?" in wanted else bare):
                    continue
                if "json_subset" in request and not _subset(request["json_subset"], body):
                    continue
                if not exchange.get("repeat"):
                    exchange["used"] = True
                return exchange
            self.unmatched.append("%s %s" % (method, path))
            return None

    def requests_to(self, path):
        return [r for r in self.requests if r["path"].split("?", 1)[0] == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
