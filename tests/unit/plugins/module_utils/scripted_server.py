"""A scripted HTTP/1.1 server for unit tests of the async transport and the benchmark.

Each answer is a list of (delay_s, bytes) writes; answers are served in order, one per
request, on kept-alive connections. Runs in the test's own event loop.
"""
import asyncio
import json


def sse(*events):
    """Chunked SSE body pieces: one chunk per event (dict -> JSON, str as is)."""
    out = []
    for ev in events:
        data = ("data: %s\n\n" % (ev if isinstance(ev, str) else json.dumps(ev))).encode()
        out.append(b"%x\r\n%s\r\n" % (len(data), data))
    return out


def stream_answer(*events, delays=None, end=True, head=True):
    writes = []
    if head:
        writes.append((0.0, b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"))
    for i, piece in enumerate(sse(*events)):
        writes.append(((delays or {}).get(i, 0.0), piece))
    if end:
        writes.append((0.0, b"0\r\n\r\n"))
    return writes


def json_answer(status, body):
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return [(0.0, b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (status, len(data), data))]


def chunk(role=None, content=None, reasoning=None, finish=None):
    delta = {"reasoning_content": reasoning}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def usage_chunk(prompt=10, completion=3, cached=0):
    return {"id": "x", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                "total_tokens": prompt + completion,
                                                "prompt_tokens_details": {"cached_tokens": cached}}}


class ScriptedServer:
    def __init__(self, answers, close_after=None):
        self.answers = list(answers)
        self.requests = []
        self.connections = 0
        self.close_after = close_after  # close each connection after this many answers
        self.server = None
        self.port = None

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    async def _handle(self, reader, writer):
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = dict((l.split(":", 1)[0].lower(), l.split(":", 1)[1].strip()) for l in lines[1:] if ":" in l)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(dict(line=lines[0], headers=headers, body=json.loads(body) if body else None))
                writes = self.answers.pop(0) if self.answers else json_answer(404, {"detail": "Not Found"})
                for delay, data in writes:
                    if delay:
                        await asyncio.sleep(delay)
                    if data is None:
                        writer.close()
                        return
                    writer.write(data)
                    await writer.drain()
                served += 1
                if self.close_after and served >= self.close_after:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
