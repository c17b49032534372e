# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Steady chat-completion traffic to a gateway on loopback, bounded in time and count.

Runs on the controller (Python 3.11+, standard library only) and answers one question: while
something happens to the fleet behind the gateway (a rollout, a Station stopped), does any client
request fail? It sends requests at a fixed rate, half of them streamed by default, records each one,
stops by itself and writes a JSON summary that the caller asserts on.

    python3 tests/fleet/steady_traffic.py --url http://127.0.0.1:31080 --duration-s 600 \\
        --stop-file STOPFILE --out steady.json --requests-out steady-requests.jsonl &

Options (the interface is stable; scripts and the Molecule fleet scenario depend on it):

  --url URL            base URL of the gateway (or of one SGLang server): http://HOST[:PORT][/prefix].
                       HOST must be 127.0.0.1, localhost or ::1 (written [::1]); anything else is refused.
                       Requests go to URL/v1/chat/completions.
  --model NAME         model of every request (default Qwen/Qwen3-8B).
  --rate R             requests started per second (default 10; at most 1000). Request i is due at
                       start + i/R; a start held back by the concurrency cap does not cause a burst later.
  --duration-s S       hard cap: no request starts after S seconds (default 60; at most 86400).
  --max-requests N     hard cap: at most N requests are sent (default 100000).
  --stream-ratio F     fraction of streamed requests, spread evenly (default 0.5: every second one).
  --max-tokens N       max_tokens of every request (default 16).
  --concurrency N      at most N requests in flight (default 32).
  --timeout-s S        per-request limit, connect to last byte (default 60).
  --stop-file PATH     stop starting requests as soon as PATH exists (still bounded by --duration-s).
  --out FILE           write the JSON summary there (atomically, when the run ends); without it the
                       summary goes to stdout.
  --requests-out FILE  one JSON line per request, written as each one finishes.

SIGTERM and SIGINT stop it like the stop file. After the last start it waits for the requests in
flight (each bounded by --timeout-s), so it always ends within duration + timeout + a few seconds.

What counts:
  - ok: HTTP 200 and a complete answer. A plain answer must be a JSON chat completion with a
    message; a streamed answer must carry at least one content chunk and end with `data: [DONE]`,
    with no SSE error event (a `{"error": ...}` payload or `event: error`), no unparsable event, no
    `finish_reason` "abort" and nothing after [DONE].
  - failed: everything else: a non-200 status, a refused or dropped connection, a timeout, a body
    that does not parse. `failed` includes `broken_streams`: streamed requests that got 200 but
    whose stream did not end as above (cut, error event, no content, no [DONE]).
  - errors: by kind (http_503, connection_refused, connection_closed, timeout, bad_body,
    broken_stream_no_done, broken_stream_error_event, ...) with the first few examples.

Summary (JSON): url, model, rate, stream_ratio, max_tokens, concurrency, timeout_s, duration_s and
max_requests (the caps), stopped_by (duration | max_requests | stop_file | signal), started_at and
finished_at (epoch seconds), sent, ok, failed, broken_streams, unfinished (still in flight at the
end: counted as failed), streamed {sent, ok}, plain {sent, ok}, errors {kind: {count, examples}},
worst_gap_s (longest time between the ends of two consecutive successful answers; null with fewer
than two) with worst_gap_from/worst_gap_to (epoch), ttft_s {p50, p99, max, n} over streamed ok
answers, latency_s {p50, p99, max, n} over all ok answers, per_worker {routed worker: ok answers}
(from the gateway's x-smg-routed-worker-id header; "(none)" when absent), max_in_flight and
held_back (starts delayed by the concurrency cap by more than one interval).

A line of --requests-out: id, start, end (epoch), ok, streamed, status (null without a response),
error_kind, error (null when ok), ttft_s (streamed ok only), latency_s, worker.

Percentiles interpolate linearly between the two nearest ranks.

Exit status: 0 whenever it ran (the caller judges the JSON), 2 on bad arguments (nothing is sent).
"""

import argparse
import http.client
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WORKER_HEADER = "x-smg-routed-worker-id"
NO_WORKER = "(none)"
EXAMPLES_PER_KIND = 3
MAX_ERROR_TEXT = 300

LIMITS = dict(rate=(0.0, 1000.0), duration_s=(0.0, 86400.0), max_requests=(1, 10000000), stream_ratio=(0.0, 1.0),
              max_tokens=(1, 32768), concurrency=(1, 1024), timeout_s=(0.0, 3600.0))


# --------------------------------------------------------------------------- pure parts
def percentile(values, q):
    """The q-th percentile (0-100) of values, linear between the two nearest ranks; None when empty."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * (float(q) / 100.0)
    low = int(math.floor(pos))
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def worst_gap(ends):
    """(gap, from, to): the longest time between two consecutive values of ends; (None, None, None) with < 2."""
    data = sorted(ends)
    if len(data) < 2:
        return None, None, None
    best = (-1.0, None, None)
    for earlier, later in zip(data, data[1:]):
        if later - earlier > best[0]:
            best = (later - earlier, earlier, later)
    return best


def describe(values):
    """{p50, p99, max, n} (rounded to 0.1 ms), None values when empty."""
    values = list(values)
    return dict(p50=_round(percentile(values, 50)), p99=_round(percentile(values, 99)),
                max=_round(max(values) if values else None), n=len(values))


def _round(value, digits=4):
    return None if value is None else round(value, digits)


def prompt(index):
    """The user message of request `index`. It starts with a tag of its own, so that no two requests share
    a long prefix and a cache-aware gateway spreads them over its workers instead of keeping them on one."""
    return "%08x steady traffic request %d: answer with a short greeting." % (zlib.crc32(b"%d" % index), index)


def is_streamed(index, ratio):
    """Whether request `index` (0-based) streams: ratio of all requests, spread evenly (0.5: 1, 3, 5, ...)."""
    eps = 1e-9
    return int(math.floor((index + 1) * ratio + eps)) > int(math.floor(index * ratio + eps))


def _has_content(choice):
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(delta, dict):
        # text completions stream "text" instead of a delta
        return bool(choice.get("text")) if isinstance(choice, dict) else False
    return bool(delta.get("content")) or bool(delta.get("reasoning_content"))


def _aborted(choice):
    reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    if isinstance(reason, dict):
        reason = reason.get("type")
    return reason == "abort"


class StreamCheck:
    """Follows a server-sent event stream line by line and says whether it ended as a complete answer.

    feed(line) takes one line without its line break and returns True when that line completed the
    first event carrying content (the moment TTFT is measured). verdict() is None for a complete
    stream, else the kind of break.
    """

    def __init__(self):
        self.content_chunks = 0
        self.events = 0
        self.done = False
        self.after_done = False
        self.error_event = None
        self.bad_event = None
        self.aborted = False
        self._data = []
        self._event_type = None

    def feed(self, line):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return False
        field, _sep, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event_type = value
        return False

    def close(self):
        """End of the body: an event still pending (no blank line after it) is taken as it is."""
        return self._dispatch()

    def _dispatch(self):
        if not self._data and self._event_type is None:
            return False
        data, event_type = "\n".join(self._data), self._event_type
        self._data, self._event_type = [], None
        self.events += 1
        if self.done:
            self.after_done = True
            return False
        if event_type == "error":
            self.error_event = self.error_event or (data[:MAX_ERROR_TEXT] or "event: error")
            return False
        if data.strip() == "[DONE]":
            self.done = True
            return False
        try:
            payload = json.loads(data)
        except ValueError:
            self.bad_event = self.bad_event or data[:MAX_ERROR_TEXT]
            return False
        if not isinstance(payload, dict):
            self.bad_event = self.bad_event or data[:MAX_ERROR_TEXT]
            return False
        if "error" in payload or payload.get("object") == "error":
            self.error_event = self.error_event or data[:MAX_ERROR_TEXT]
            return False
        choices = payload.get("choices") or []
        if any(_aborted(c) for c in choices):
            self.aborted = True
        if any(_has_content(c) for c in choices):
            self.content_chunks += 1
            return self.content_chunks == 1
        return False

    def verdict(self):
        """None when the stream is a complete answer, else its kind of break."""
        if self.error_event is not None:
            return "broken_stream_error_event"
        if self.bad_event is not None:
            return "broken_stream_bad_event"
        if self.aborted:
            return "broken_stream_aborted"
        if not self.done:
            return "broken_stream_no_done"
        if self.after_done:
            return "broken_stream_data_after_done"
        if self.content_chunks == 0:
            return "broken_stream_no_content"
        return None

    def detail(self):
        if self.error_event is not None:
            return "SSE error event: %s" % self.error_event
        if self.bad_event is not None:
            return "unparsable SSE event: %s" % self.bad_event
        return "%d events, %d with content, [DONE] %s%s%s" % (
            self.events, self.content_chunks, "seen" if self.done else "missing",
            ", finish_reason abort" if self.aborted else "", ", data after [DONE]" if self.after_done else "")


def classify_stream(lines):
    """(verdict, content_chunks) of a whole stream given as lines (a convenience for tests)."""
    check = StreamCheck()
    for line in lines:
        check.feed(line)
    check.close()
    return check.verdict(), check.content_chunks


def check_body(raw):
    """None when a plain (non-streamed) answer is a complete chat completion, else (kind, detail)."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return "bad_body", "body does not parse: %s: %r" % (exc, raw[:120])
    if not isinstance(payload, dict):
        return "bad_body", "body is not an object: %r" % raw[:120]
    if "error" in payload or payload.get("object") == "error":
        return "bad_body", "error body with status 200: %r" % raw[:MAX_ERROR_TEXT]
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "bad_body", "no choices: %r" % raw[:120]
    message = choices[0].get("message")
    if not isinstance(message, dict) or not ("content" in message or "reasoning_content" in message):
        return "bad_body", "no message in the first choice: %r" % raw[:120]
    if _aborted(choices[0]):
        return "bad_body", "finish_reason abort"
    return None


def check_url(url):
    """(host, port, path prefix) of a loopback http URL; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError("--url must be http://HOST[:PORT] (got scheme %r)" % parts.scheme)
    host = parts.hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError("--url host must be one of %s (loopback only), not %r" % (", ".join(LOOPBACK_HOSTS), host))
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError("--url has a bad port: %s" % exc) from None
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("--url takes no user, query or fragment")
    return host, port, parts.path.rstrip("/")


def summarize(records, config, started_at, finished_at, stopped_by, max_in_flight=0, held_back=0):
    """The summary document of a run from its request records (see the module docstring)."""
    ok = [r for r in records if r["ok"]]
    errors = {}
    for r in records:
        if r["ok"]:
            continue
        entry = errors.setdefault(r["error_kind"], dict(count=0, examples=[]))
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES_PER_KIND:
            entry["examples"].append(dict(id=r["id"], at=r["start"], status=r["status"], error=r["error"]))
    gap, gap_from, gap_to = worst_gap(r["end"] for r in ok)
    per_worker = {}
    for r in ok:
        key = r["worker"] or NO_WORKER
        per_worker[key] = per_worker.get(key, 0) + 1
    streamed = [r for r in records if r["streamed"]]
    plain = [r for r in records if not r["streamed"]]
    doc = dict(config)
    doc.update(
        stopped_by=stopped_by, started_at=round(started_at, 3), finished_at=round(finished_at, 3),
        sent=len(records), ok=len(ok), failed=len(records) - len(ok),
        broken_streams=len([r for r in records if (r["error_kind"] or "").startswith("broken_stream")]),
        unfinished=len([r for r in records if r["error_kind"] == "unfinished"]),
        streamed=dict(sent=len(streamed), ok=len([r for r in streamed if r["ok"]])),
        plain=dict(sent=len(plain), ok=len([r for r in plain if r["ok"]])),
        errors=dict(sorted(errors.items())),
        worst_gap_s=None if gap is None else round(gap, 4),
        worst_gap_from=None if gap_from is None else round(gap_from, 3),
        worst_gap_to=None if gap_to is None else round(gap_to, 3),
        ttft_s=describe(r["ttft_s"] for r in ok if r["streamed"] and r["ttft_s"] is not None),
        latency_s=describe(r["latency_s"] for r in ok),
        per_worker=dict(sorted(per_worker.items())),
        max_in_flight=max_in_flight, held_back=held_back)
    return doc


# --------------------------------------------------------------------------- the client
class Clock:
    """Monotonic time mapped onto the epoch once, so every timestamp of a run is comparable and monotonic."""

    def __init__(self):
        self.mono0 = time.monotonic()
        self.epoch0 = time.time()

    def epoch(self, mono):
        return self.epoch0 + (mono - self.mono0)


def _exception_kind(exc, got_status, streamed):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if got_status == 200 and streamed:
        return "broken_stream_cut"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.RemoteDisconnected,
                        http.client.IncompleteRead)):
        return "connection_closed"
    if isinstance(exc, http.client.HTTPException):
        return "bad_http"
    return "connection_error"


class Traffic:
    def __init__(self, args):
        self.args = args
        self.host, self.port, prefix = check_url(args.url)
        self.path = prefix + "/v1/chat/completions"
        self.clock = Clock()
        self.lock = threading.Lock()
        self.records = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.slots = threading.BoundedSemaphore(args.concurrency)
        self.stop = threading.Event()
        self.stop_reason = None
        self.requests_out = open(args.requests_out, "w", encoding="utf-8") if args.requests_out else None

    def body(self, index, streamed):
        body = dict(model=self.args.model, max_tokens=self.args.max_tokens, temperature=0, stream=streamed,
                    messages=[dict(role="user", content=prompt(index))])
        if streamed:
            body["stream_options"] = dict(include_usage=True)
        return json.dumps(body).encode()

    def one(self, index, streamed):
        """Send request `index` and return its record; never raises."""
        timeout = self.args.timeout_s
        t_start = time.monotonic()
        deadline = t_start + timeout
        status, worker, ttft, kind, detail = None, None, None, None, None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("POST", self.path, body=self.body(index, streamed), headers={
                "Content-Type": "application/json", "Accept": "text/event-stream" if streamed else "application/json",
                "Connection": "close"})
            resp = conn.getresponse()
            status = resp.status
            worker = resp.getheader(WORKER_HEADER)
            if status != 200:
                text = resp.read(4096).decode("utf-8", "replace")
                kind, detail = "http_%d" % status, text[:MAX_ERROR_TEXT]
            elif streamed:
                check = StreamCheck()
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise socket.timeout("request took longer than %s s" % timeout)
                    if conn.sock is not None:
                        conn.sock.settimeout(remaining)
                    raw = resp.readline()
                    if not raw:
                        check.close()
                        break
                    if check.feed(raw.decode("utf-8", "replace").rstrip("\n")):
                        ttft = time.monotonic() - t_start
                kind = check.verdict()
                detail = None if kind is None else check.detail()
            else:
                if conn.sock is not None:
                    conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                problem = check_body(resp.read())
                if problem is not None:
                    kind, detail = problem
        except Exception as exc:  # pylint: disable=broad-except
            kind = _exception_kind(exc, status, streamed)
            detail = "%s: %s" % (type(exc).__name__, exc)
        finally:
            conn.close()
        t_end = time.monotonic()
        ok = kind is None
        return dict(id=index, start=round(self.clock.epoch(t_start), 4), end=round(self.clock.epoch(t_end), 4), ok=ok,
                    streamed=streamed, status=status, error_kind=kind,
                    error=None if ok else (detail or kind)[:MAX_ERROR_TEXT],
                    ttft_s=round(ttft, 5) if ok and ttft is not None else None,
                    latency_s=round(t_end - t_start, 5), worker=worker)

    def _run_one(self, index, streamed):
        try:
            record = self.one(index, streamed)
            with self.lock:
                self.records.append(record)
                self.in_flight -= 1
                if self.requests_out is not None:
                    self.requests_out.write(json.dumps(record, sort_keys=True) + "\n")
                    self.requests_out.flush()
        finally:
            self.slots.release()

    def _stop_reason(self, deadline, sent):
        if self.stop.is_set():
            return self.stop_reason or "signal"
        if time.monotonic() >= deadline:
            return "duration"
        if sent >= self.args.max_requests:
            return "max_requests"
        if self.args.stop_file and os.path.exists(self.args.stop_file):
            return "stop_file"
        return None

    def run(self):
        args = self.args
        interval = 1.0 / args.rate
        t0 = time.monotonic()
        deadline = t0 + args.duration_s
        due = t0
        sent, held_back = 0, 0
        threads = []
        while True:
            reason = self._stop_reason(deadline, sent)
            if reason:
                break
            now = time.monotonic()
            if now < due:
                self.stop.wait(min(due - now, 0.05, max(deadline - now, 0)))
                continue
            if not self.slots.acquire(timeout=0.05):
                continue
            now = time.monotonic()
            if now - due > interval:
                held_back += 1
                due = now
            streamed = is_streamed(sent, args.stream_ratio)
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            thread = threading.Thread(target=self._run_one, args=(sent, streamed), daemon=True)
            thread.start()
            threads.append(thread)
            threads = [t for t in threads if t.is_alive()] if len(threads) > 256 else threads
            sent += 1
            due += interval
        # Let the requests in flight finish, each bounded by its own timeout.
        wait_until = time.monotonic() + args.timeout_s + 5
        for thread in threads:
            thread.join(max(wait_until - time.monotonic(), 0))
        finished = time.monotonic()
        with self.lock:
            records = sorted(self.records, key=lambda r: r["id"])
            done_ids = set(r["id"] for r in records)
            for index in range(sent):
                if index not in done_ids:
                    records.append(dict(id=index, start=None, end=None, ok=False, streamed=is_streamed(index, args.stream_ratio),
                                        status=None, error_kind="unfinished", error="still in flight when the run ended",
                                        ttft_s=None, latency_s=None, worker=None))
            if self.requests_out is not None:
                self.requests_out.close()
                self.requests_out = None
        config = dict(url=args.url, model=args.model, rate=args.rate, stream_ratio=args.stream_ratio,
                      max_tokens=args.max_tokens, concurrency=args.concurrency, timeout_s=args.timeout_s,
                      duration_s=args.duration_s, max_requests=args.max_requests)
        return summarize(records, config, self.clock.epoch(t0), self.clock.epoch(finished), reason,
                         self.max_in_flight, held_back)


# --------------------------------------------------------------------------- command line
def build_parser():
    parser = argparse.ArgumentParser(
        description="Steady chat-completion traffic to a loopback gateway, bounded in time and count.",
        epilog="Exit status 0 when it ran (judge the JSON summary), 2 on bad arguments.")
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT (loopback only)")
    parser.add_argument("--model", default="Qwen/Qwen3-8B")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second (default 10)")
    parser.add_argument("--duration-s", type=float, default=60.0, help="hard cap on the run time (default 60)")
    parser.add_argument("--max-requests", type=int, default=100000, help="hard cap on requests sent (default 100000)")
    parser.add_argument("--stream-ratio", type=float, default=0.5, help="fraction streamed (default 0.5)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=32, help="most requests in flight (default 32)")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per-request limit (default 60)")
    parser.add_argument("--stop-file", help="stop early once this file exists")
    parser.add_argument("--out", help="JSON summary file (default: stdout)")
    parser.add_argument("--requests-out", help="one JSON line per request")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))
    for name, (low, high) in LIMITS.items():
        value = getattr(args, name)
        exclusive = isinstance(low, float) and name != "stream_ratio"
        if value > high or value < low or (exclusive and value == low) or (isinstance(value, float) and math.isnan(value)):
            parser.error("--%s must be %s %s and <= %s (got %s)" % (
                name.replace("_", "-"), ">" if exclusive else ">=", low, high, value))
    for name in ("out", "requests_out"):
        path = getattr(args, name)
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            parser.error("--%s: directory of %s does not exist" % (name.replace("_", "-"), path))
    return args


def write_atomically(path, text):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    traffic = Traffic(args)

    def _signal(signum, _frame):
        traffic.stop_reason = "signal"
        traffic.stop.set()
    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    summary = traffic.run()
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    if args.out:
        write_atomically(args.out, text)
        print("steady traffic to %s: %d sent, %d ok, %d failed (%d broken streams), worst gap %s s, stopped by %s -> %s" % (
            args.url, summary["sent"], summary["ok"], summary["failed"], summary["broken_streams"],
            summary["worst_gap_s"], summary["stopped_by"], args.out))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
