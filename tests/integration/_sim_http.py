"""Small stdlib HTTP helpers for the simulator tests."""
import http.client
import json
import os
import socket
from urllib.parse import urlsplit

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM_DIR = os.path.join(REPO_ROOT, "tests", "sim")
SIM_BIN = os.path.join(SIM_DIR, "bin", "sglang")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conn(base_url, timeout):
    u = urlsplit(base_url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def request(base_url, method, path, body=None, headers=None, timeout=30):
    """(status, headers dict, raw text)."""
    conn = _conn(base_url, timeout)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    text = resp.read().decode("utf-8")
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text


def get_json(base_url, path, headers=None):
    status, unused_headers, text = request(base_url, "GET", path, headers=headers)
    return status, (json.loads(text) if text else None)


def post_json(base_url, path, body, headers=None, timeout=30):
    status, unused_headers, text = request(base_url, "POST", path, body, headers, timeout)
    return status, json.loads(text)


def chat(base_url, messages, **kw):
    body = {"model": kw.pop("model", "Qwen/Qwen3-8B"), "messages": messages}
    body.update(kw)
    status, data = post_json(base_url, "/v1/chat/completions", body)
    assert status == 200, data
    return data


def sse(base_url, path, body, headers=None, timeout=30):
    """(status, [data payload strings]) of a streaming request."""
    status, hdrs, text = request(base_url, "POST", path, body, headers, timeout)
    events = [block[len("data: "):] for block in text.split("\n\n") if block.startswith("data: ")]
    return status, hdrs, events
