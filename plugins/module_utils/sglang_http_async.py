# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Concurrent transport for the benchmark: asyncio streams over HTTP/1.1 keep-alive.

Standard library only. One AsyncConnection is one TCP (or TLS) connection that a
benchmark worker keeps for its whole life, so the connect cost is paid once and
never lands inside a measured request. It reuses the synchronous client of
sglang_http for everything that is not I/O: URL handling (host, port, path
prefix), header building (SGLangClient.headers), the TLS context and the mapping of
error answers (SGLangClient.status_error -> SGLangError). SSE lines are split by
sglang_exchange.SSEDecoder, the one SSE reader of the collection (sync and async), and an
answer is read by sglang_exchange.ChatExchange. Only the wire handling is here: request
framing, status line and headers, Content-Length / chunked / close-delimited bodies.

Timing: every payload carries the time.perf_counter() of the read that delivered it,
so TTFT is measured where the bytes arrive, not where a consumer got round to them.

One request at a time per connection, and each request owns its timer: the watchdog that
bounds a request is cancelled when its body is read, when it fails, when its consumer stops
early and when the connection is closed, and a timer that fires anyway only acts on the
request that armed it, so it can never close the connection of a later request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import json
import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import DONE, SSEDecoder
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import HTTPResponse, SGLangError

# A 64 KiB reader limit throttled other benchmark clients at long contexts; a
# single SSE event or a non-streamed answer can be large, so allow 16 MiB.
READ_LIMIT = 16 * 1024 * 1024

_perf = time.perf_counter


class Exchange:
    """One request whose status line and headers have been read.

    t_send: perf_counter just before the request bytes were written.
    t_first_byte: perf_counter when the status line and headers were complete.

    Read the body once, to its end, with read_text(), payloads() or events(). A consumer that
    stops early (or a read that fails) leaves a connection that cannot carry another request: it
    is closed, and its timer cancelled, at once or at the latest when the next request starts.
    """

    __slots__ = ("conn", "status", "headers", "t_send", "t_first_byte", "_done")

    def __init__(self, conn, status, headers, t_send, t_first_byte):
        self.conn = conn
        self.status = status
        self.headers = headers
        self.t_send = t_send
        self.t_first_byte = t_first_byte
        self._done = False

    async def read_text(self):
        """The whole body as text (the connection stays usable)."""
        parts = []
        try:
            async for _now, data in self.conn._body_pieces(self):
                parts.append(data)
            self._done = True
            self.conn._finish(self)
        finally:
            self._abandon()
        return b"".join(parts).decode("utf-8", "replace")

    async def payloads(self):
        """Yield (perf_counter, payload) per SSE `data:` line: its text, "[DONE]" included (sglang_exchange.SSEDecoder).

        Feed them to sglang_exchange.ChatExchange.add_payload, the one reading of an answer. Iterate
        to the end: the body is consumed up to its terminating chunk so the connection can carry the
        next request; a consumer that stops early makes the connection close instead.
        """
        decoder = SSEDecoder()
        try:
            async for now, data in self.conn._body_pieces(self):
                for payload in decoder.feed(data):
                    yield now, payload
            for payload in decoder.close():
                yield _perf(), payload
            self._done = True
            self.conn._finish(self)
        finally:
            self._abandon()

    async def events(self):
        """Yield (perf_counter, event) per SSE data line; event is the parsed JSON or "[DONE]".

        The parsed form of payloads() (the same SSEDecoder, one generator less), for callers that
        want JSON (the transport measurement in tests/benchmarks); a payload that is not JSON raises
        SGLangError(kind="invalid_response"). The benchmark reads payloads() with ChatExchange
        instead, which counts such an event as an error of that request.
        """
        decoder = SSEDecoder()
        try:
            async for now, data in self.conn._body_pieces(self):
                for payload in decoder.feed(data):
                    yield now, _parsed(payload)
            for payload in decoder.close():
                yield _perf(), _parsed(payload)
            self._done = True
            self.conn._finish(self)
        finally:
            self._abandon()

    def _abandon(self):
        """The body was not read to its end: this connection cannot carry another request."""
        if not self._done and self.conn._active is self:
            self.conn.close()


class AsyncConnection:
    """One keep-alive HTTP/1.1 connection to the endpoint of an sglang_http.SGLangClient.

    Not shared between coroutines: a worker owns it and sends one request at a time.
    timeout bounds one whole request (send, headers and body); on expiry the socket
    is aborted and the pending read raises SGLangError(kind="timeout"). The timer belongs to
    the request that armed it (see the module docstring).
    """

    def __init__(self, client, timeout=None):
        self.client = client
        self.timeout = client.timeout if timeout is None else timeout
        self.reader = None
        self.writer = None
        self._expired = False
        self._watchdog = None
        self._request = 0
        self._active = None
        self._static_head = None
        self._path = ""
        self.connects = 0

    # -- connection handling ---------------------------------------------------
    async def open(self):
        if self.writer is not None:
            return
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.client.host, self.client.port, ssl=self.client.ssl_context(), limit=READ_LIMIT),
                self.timeout)
        except asyncio.TimeoutError:
            raise SGLangError("Connecting to %s timed out after %s s" % (self.client.base_url, self.timeout), "timeout")
        except OSError as exc:
            raise self.client._connection_error(exc, self.timeout)
        self.connects += 1

    def close(self):
        """Drop the connection and the timer of the request in flight, if any."""
        self._disarm()
        self._active = None
        if self.writer is not None:
            try:
                self.writer.transport.abort()
            except Exception:  # pragma: no cover - best effort on a broken transport
                pass
        self.reader = None
        self.writer = None

    def _head(self, method, path, length):
        if self._static_head is None:
            headers = self.client.headers(json_body=True)
            host = self.client.host if ":" not in self.client.host else "[%s]" % self.client.host
            headers["Host"] = "%s:%d" % (host, self.client.port)
            headers["Connection"] = "keep-alive"
            self._static_head = "".join("%s: %s\r\n" % item for item in headers.items())
        return ("%s %s%s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
            method, self.client.path_prefix, path, self._static_head, length)).encode("latin-1")

    def _arm(self):
        """Start the timer of a new request (any earlier one is cancelled first)."""
        self._disarm()
        self._expired = False
        self._request += 1
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.timeout, self._expire, self._request)

    def _expire(self, request):
        if request != self._request or self._watchdog is None:
            return  # a timer of an earlier request: it must not touch this one
        self._watchdog = None
        self._expired = True
        self.close()

    def _disarm(self):
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _finish(self, exchange):
        """exchange's body was read to its end: its timer stops, the connection is free again."""
        if self._active is not exchange:
            return
        self._disarm()
        self._active = None
        if exchange.headers.get("connection", "").lower() == "close":
            self.close()

    def _fail(self, exc, path, what):
        """Map a low-level failure to SGLangError and drop the connection."""
        self._disarm()
        self.close()
        path = path or self._path
        if isinstance(exc, SGLangError):
            return exc
        if self._expired:
            return SGLangError("No complete answer from %s%s within %s s (timeout)" % (self.client.base_url, path, self.timeout), "timeout")
        if isinstance(exc, asyncio.IncompleteReadError):
            return SGLangError("The server closed the connection during the %s of %s%s" % (what, self.client.base_url, path),
                               "connection_error")
        if isinstance(exc, (OSError, ConnectionError)):
            return self.client._connection_error(exc, self.timeout)
        return SGLangError("Invalid HTTP answer from %s%s: %s" % (self.client.base_url, path, exc), "invalid_response")

    # -- requests --------------------------------------------------------------
    async def start(self, method, path, body=None):
        """Send a request and read its head; returns an Exchange (body not yet read).

        A kept-alive connection that the server closed meanwhile is retried once on a
        fresh connection: that request never reached the server. A connection whose previous
        answer was not read to its end is replaced first.
        """
        if self._active is not None:
            self.close()
        self._path = path
        payload = json.dumps(body).encode("utf-8") if body is not None else b""
        data = self._head(method, path, len(payload)) + payload
        for attempt in (0, 1):
            reused = self.writer is not None
            await self.open()
            self._arm()
            t_send = _perf()
            try:
                self.writer.write(data)
                if self.writer.transport.get_write_buffer_size() > 65536:
                    await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as exc:
                nothing_read = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if reused and nothing_read and not self._expired and attempt == 0:
                    self.close()
                    continue
                raise self._fail(exc, path, "headers")
            except (OSError, asyncio.LimitOverrunError, ValueError, AttributeError) as exc:
                # AttributeError: the timer closed the connection (reader/writer gone) before the write.
                raise self._fail(exc, path, "headers")
            t_first_byte = _perf()
            try:
                status, headers = _parse_head(head)
            except ValueError as exc:
                raise self._fail(exc, path, "headers")
            exchange = Exchange(self, status, headers, t_send, t_first_byte)
            self._active = exchange
            return exchange
        raise SGLangError("unreachable", "connection_error")  # pragma: no cover

    async def request(self, method, path, body=None, expect=(200,)):
        """A whole request: returns sglang_http.HTTPResponse; a status not in expect raises SGLangError."""
        exchange = await self.start(method, path, body)
        try:
            text = await exchange.read_text()
        except Exception as exc:
            raise self._fail(exc, path, "body")
        response = HTTPResponse(exchange.status, exchange.headers, text)
        response.elapsed = _perf() - exchange.t_send
        response.t_send = exchange.t_send
        response.t_first_byte = exchange.t_first_byte
        if expect is not None and response.status not in expect:
            raise self.client.status_error(path, response)
        return response

    async def _body_pieces(self, exchange):
        """Yield (perf_counter, bytes) of exchange's body as it arrives, de-chunked."""
        reader = self.reader
        if reader is None or self._active is not exchange:
            raise SGLangError("The connection was closed before the body was read", "connection_error")
        headers = exchange.headers
        try:
            if headers.get("transfer-encoding", "").lower().endswith("chunked"):
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        while (await reader.readuntil(b"\r\n")) != b"\r\n":
                            pass
                        return
                    data = await reader.readexactly(size + 2)
                    yield _perf(), data[:-2]
            elif "content-length" in headers:
                remaining = int(headers["content-length"])
                while remaining > 0:
                    data = await reader.read(min(remaining, 1 << 20))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    remaining -= len(data)
                    yield _perf(), data
            else:
                headers["connection"] = "close"
                while True:
                    data = await reader.read(1 << 20)
                    if not data:
                        if self._expired:
                            # The timer aborted the socket: that end of file is not the end of the body.
                            raise asyncio.IncompleteReadError(b"", None)
                        return
                    yield _perf(), data
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError) as exc:
            if self._active is not exchange and not self._expired:
                # The connection was replaced meanwhile (this exchange was abandoned): leave the new one alone.
                raise SGLangError("The answer was abandoned before its end", "connection_error")
            raise self._fail(exc, "", "body")


def _parsed(payload):
    if payload == DONE:
        return payload
    try:
        return json.loads(payload)
    except ValueError:
        raise SGLangError("The stream carried an event that is not JSON: %r" % payload[:200], "invalid_response")


def _parse_head(head):
    """Status code and lower-cased headers of a raw HTTP/1.x response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("bad status line %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _sep, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
