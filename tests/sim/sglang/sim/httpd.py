"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length and chunked bodies, SSE."""
import asyncio
import email.utils
import http
import json
import time
from urllib.parse import parse_qs, unquote

_PHRASES = {s.value: s.phrase for s in http.HTTPStatus}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


_last_date = [None, ""]


def _http_date():
    """`email.utils.formatdate(usegmt=True)`, formatted once per second."""
    now = time.time()
    sec = int(now)
    if sec != _last_date[0]:
        _last_date[0], _last_date[1] = sec, email.utils.formatdate(now, usegmt=True)
    return _last_date[1]


class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers", "body", "client")

    def __init__(self, method, target, version, headers, body, client):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.client = client
        path, _sep, qs = target.partition("?")
        self.path = unquote(path)
        self.query = {k: v[-1] for k, v in parse_qs(qs).items()}


class Response:
    """One response on a connection; either `send` or `start_stream` + `event`* + `end_stream`."""

    def __init__(self, conn, req):
        self.conn = conn
        self.req = req
        self.status = None
        self.streaming = False
        self.chunked = req.version == "1.1"
        self.finished = False
        self._buf = None

    def _out(self, data):
        if self._buf is not None:
            self._buf.append(data)
        else:
            self.conn.writer.write(data)

    def cork(self):
        """Collect the following writes and send them with one transport write at `uncork` (same bytes)."""
        if self._buf is None:
            self._buf = []

    def uncork(self):
        buf, self._buf = self._buf, None
        if buf:
            self.conn.writer.write(b"".join(buf))

    def _head(self, status, ctype, length=None, extra=()):
        self.status = status
        lines = ["HTTP/1.1 %d %s" % (status, _PHRASES.get(status, "")),
                 "date: " + _http_date(), "server: uvicorn"]
        if length is not None:
            lines.append("content-length: %d" % length)
        if ctype:
            lines.append("content-type: " + ctype)
        lines.extend(extra)
        if not self.conn.keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status, body=b"", ctype="application/json", extra=()):
        if self.status is not None:
            return
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.conn.on_status(self, status)
        self._out(self._head(status, ctype, len(body), extra) + body)
        self.finished = True

    def json(self, status, obj):
        self.send(status, dumps(obj))

    def start_stream(self, status=200, ctype="text/event-stream; charset=utf-8"):
        if self.status is not None:
            return
        self.streaming = True
        if not self.chunked:
            self.conn.keep_alive = False
        extra = ("transfer-encoding: chunked",) if self.chunked else ()
        self.conn.on_status(self, status)
        self._out(self._head(status, ctype, None, extra))

    def write(self, data):
        if self.finished or self.conn.writer.is_closing():
            return False
        if isinstance(data, str):
            data = data.encode("utf-8")
        if self.chunked:
            self._out(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self._out(data)
        return True

    def end_stream(self):
        if self.finished:
            return
        if self.chunked and not self.conn.writer.is_closing():
            self._out(b"0\r\n\r\n")
        self.finished = True
        self.uncork()

    def closed(self):
        return self.conn.writer.is_closing()


class Connection:
    def __init__(self, server, reader, writer):
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("-", 0)
        self.client = "%s:%s" % (peer[0], peer[1])
        self.keep_alive = True
        self.busy = False
        self.closing = False

    def on_status(self, resp, status):
        self.server.app.on_response_start(resp.req, status)

    def shutdown(self):
        """Uvicorn's connection shutdown: an idle connection is closed now, a busy one after its response."""
        self.closing = True
        self.keep_alive = False
        if not self.busy:
            self.writer.close()

    def gone(self):
        """Closed, or the client hung up (Uvicorn drops such a connection at once)."""
        return self.writer.is_closing() or self.reader.at_eof()

    async def run(self):
        reader = self.reader
        self.server.connections.add(self)
        try:
            while self.keep_alive and not self.closing:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                except asyncio.LimitOverrunError:
                    self.writer.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                                      b"connection: close\r\n\r\n")
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, proto = lines[0].split(" ", 2)
                    version = proto.split("/", 1)[1]
                except (ValueError, IndexError):
                    self.writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    return
                headers = {}
                for line in lines[1:]:
                    if not line:
                        continue
                    k, _sep, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                conn_hdr = headers.get("connection", "").lower()
                self.keep_alive = (version == "1.1" and conn_hdr != "close") or (
                    version == "1.0" and conn_hdr == "keep-alive")
                if headers.get("expect", "").lower() == "100-continue":
                    self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    parts = []
                    while True:
                        size_line = await reader.readuntil(b"\r\n")
                        size = int(size_line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                                pass
                            break
                        parts.append(await reader.readexactly(size))
                        await reader.readexactly(2)
                    body = b"".join(parts)
                else:
                    n = int(headers.get("content-length", "0") or 0)
                    body = await reader.readexactly(n) if n else b""
                req = Request(method.upper(), target, version, headers, body, self.client)
                resp = Response(self, req)
                self.busy = True
                try:
                    await self.server.app.handle(req, resp)
                finally:
                    resp.uncork()
                    self.busy = False
                if resp.status is None:
                    resp.send(500, b"Internal Server Error", "text/plain; charset=utf-8")
                if resp.streaming:
                    resp.end_stream()
                    if not resp.chunked:
                        break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            raise
        finally:
            self.busy = False
            self.server.connections.discard(self)
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001
                pass


class HttpServer:
    def __init__(self, app):
        self.app = app
        self.server = None
        self.connections = set()

    async def shutdown(self, log):
        """Uvicorn's `Server.shutdown`: stop listening, close idle connections, wait for the busy ones."""
        log("INFO", "Shutting down")
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.shutdown()
        await asyncio.sleep(0.01)
        if any(not c.gone() for c in self.connections):
            log("INFO", "Waiting for connections to close. (CTRL+C to force quit)")
            while any(not c.gone() for c in self.connections):
                await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.writer.close()
        await asyncio.sleep(0)

    async def _on_conn(self, reader, writer):
        try:
            await Connection(self, reader, writer).run()
        except asyncio.CancelledError:
            # Cancelled when the loop closes (a request that never got its answer): end quietly.
            pass

    async def start(self, host, port):
        self.server = await asyncio.start_server(self._on_conn, host, port, limit=1 << 22, reuse_address=True,
                                                 backlog=1024)
        return self.server


async def request(host, port, method, path, body=None, headers=None, timeout=30.0):
    """A minimal client for the warm-up requests; returns (status, body bytes)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        data = b"" if body is None else (body if isinstance(body, bytes) else dumps(body).encode())
        lines = ["%s %s HTTP/1.1" % (method, path), "host: %s:%d" % (host, port), "connection: close",
                 "content-length: %d" % len(data)]
        if body is not None:
            lines.append("content-type: application/json")
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _sep, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, rest
