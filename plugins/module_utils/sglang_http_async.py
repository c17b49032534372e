# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Concurrent transport for the benchmark: asyncio streams over HTTP/1.1 keep-alive.

Standard library only. One AsyncConnection is one TCP (or TLS) connection that a
benchmark worker keeps for its whole life, so the connect cost is paid once and
never lands inside a measured request. It reuses the synchronous client of
sglang_http for everything that is not I/O: URL handling (host, port, path
prefix), header building (SGLangClient.headers), the TLS context, the mapping of
error answers (SGLangClient.status_error -> SGLangError) and the SSE line parser
(parse_sse_data). Only the wire handling is here: request framing, status line and
headers, Content-Length / chunked / close-delimited bodies, SSE line splitting.

Timing: every event carries the time.perf_counter() of the read that delivered it,
so TTFT is measured where the bytes arrive, not where a consumer got round to them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import json
import time

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (
    HTTPResponse,
    SGLangError,
    parse_sse_data,
)

# A 64 KiB reader limit throttled other benchmark clients at long contexts; a
# single SSE event or a non-streamed answer can be large, so allow 16 MiB.
READ_LIMIT = 16 * 1024 * 1024

_perf = time.perf_counter


class Exchange:
    """One request whose status line and headers have been read.

    t_send: perf_counter just before the request bytes were written.
    t_first_byte: perf_counter when the status line and headers were complete.
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
        async for _now, data in self.conn._body_pieces(self.headers):
            parts.append(data)
        self._done = True
        self.conn._finish(self.headers)
        return b"".join(parts).decode("utf-8", "replace")

    async def events(self):
        """Yield (perf_counter, event) per SSE data line; event is parsed JSON or "[DONE]".

        Iterate to the end: the body is consumed up to its terminating chunk so the
        connection can carry the next request. A consumer that stops early makes the
        connection close instead.
        """
        buf = b""
        try:
            async for now, data in self.conn._body_pieces(self.headers):
                if buf:
                    data = buf + data
                lines = data.split(b"\n")
                buf = lines.pop()
                for line in lines:
                    if line[:5] == b"data:":
                        yield now, parse_sse_data(line.decode("utf-8", "replace").rstrip("\r"))
            if buf[:5] == b"data:":
                yield _perf(), parse_sse_data(buf.decode("utf-8", "replace").rstrip("\r"))
            self._done = True
            self.conn._finish(self.headers)
        finally:
            if not self._done:
                self.conn.close()


class AsyncConnection:
    """One keep-alive HTTP/1.1 connection to the endpoint of an sglang_http.SGLangClient.

    Not shared between coroutines: a worker owns it and sends one request at a time.
    timeout bounds one whole request (send, headers and body); on expiry the socket
    is aborted and the pending read raises SGLangError(kind="timeout").
    """

    def __init__(self, client, timeout=None):
        self.client = client
        self.timeout = client.timeout if timeout is None else timeout
        self.reader = None
        self.writer = None
        self._expired = False
        self._watchdog = None
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
        self._expired = False
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.timeout, self._expire)

    def _expire(self):
        self._expired = True
        self.close()

    def _disarm(self):
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _finish(self, headers):
        self._disarm()
        if headers.get("connection", "").lower() == "close":
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
        fresh connection: that request never reached the server.
        """
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
                    self._disarm()
                    self.close()
                    continue
                raise self._fail(exc, path, "headers")
            except (OSError, asyncio.LimitOverrunError, ValueError) as exc:
                raise self._fail(exc, path, "headers")
            t_first_byte = _perf()
            try:
                status, headers = _parse_head(head)
            except ValueError as exc:
                raise self._fail(exc, path, "headers")
            return Exchange(self, status, headers, t_send, t_first_byte)
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

    async def _body_pieces(self, headers):
        """Yield (perf_counter, bytes) of the body as it arrives, de-chunked."""
        reader = self.reader
        if reader is None:
            raise SGLangError("The connection was closed before the body was read", "connection_error")
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
                        return
                    yield _perf(), data
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError) as exc:
            raise self._fail(exc, "", "body")


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
