"""The asyncio transport: framing, keep-alive reuse, stale-connection retry, errors, timeouts."""
import asyncio

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient, SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection, _parse_head

from scripted_server import ScriptedServer, chunk, json_answer, stream_answer, usage_chunk


def run(coro):
    return asyncio.run(coro)


def test_parse_head():
    status, headers = _parse_head(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A: b:c\r\n\r\n")
    assert status == 404
    assert headers == {"content-type": "text/plain", "x-a": "b:c"}
    with pytest.raises(ValueError):
        _parse_head(b"garbage\r\n\r\n")


def test_keep_alive_reuses_one_connection_and_sends_client_headers():
    async def main():
        answers = [json_answer(200, {"n": i}) for i in range(3)]
        async with ScriptedServer(answers) as srv:
            client = SGLangClient(base_url=srv.base_url + "/prefix", api_key="k3y")
            conn = AsyncConnection(client)
            bodies = [(await conn.request("POST", "/v1/x", {"i": i})).json() for i in range(3)]
            conn.close()
            return srv, bodies, conn
    srv, bodies, conn = run(main())
    assert bodies == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert srv.connections == 1 and conn.connects == 1
    req = srv.requests[0]
    assert req["line"] == "POST /prefix/v1/x HTTP/1.1"
    assert req["headers"]["authorization"] == "Bearer k3y"
    assert req["headers"]["content-type"] == "application/json"
    assert req["body"] == {"i": 0}


def test_stale_keep_alive_is_retried_once_on_a_new_connection():
    async def main():
        async with ScriptedServer([json_answer(200, {"a": 1}), json_answer(200, {"a": 2})], close_after=1) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            first = (await conn.request("GET", "/a")).json()
            await asyncio.sleep(0.05)  # the server has closed the kept-alive connection by now
            second = (await conn.request("GET", "/b")).json()
            conn.close()
            return first, second, srv.connections
    assert run(main()) == ({"a": 1}, {"a": 2}, 2)


def test_http_error_maps_through_status_error():
    async def main():
        async with ScriptedServer([json_answer(400, {"object": "error", "message": "Messages cannot be empty.",
                                                     "type": "BadRequestError", "code": 400})]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            with pytest.raises(SGLangError) as info:
                await conn.request("POST", "/v1/chat/completions", {})
            conn.close()
            return info.value
    error = run(main())
    assert error.kind == "bad_request" and error.status == 400
    assert "Messages cannot be empty." in error.message


def test_sse_events_are_dechunked_split_and_timed():
    async def main():
        answer = stream_answer(chunk(role="assistant", content=""), chunk(content="Hi"), usage_chunk(), "[DONE]")
        # Split one SSE event across two chunks to prove line reassembly.
        head, role, content, usage, done, end = answer
        raw = content[1]
        body = raw.split(b"\r\n", 1)[1][:-2]
        half = len(body) // 2
        split = [(0.0, b"%x\r\n%s\r\n" % (half, body[:half])), (0.01, b"%x\r\n%s\r\n" % (len(body) - half, body[half:]))]
        async with ScriptedServer([[head, role] + split + [usage, done, end], json_answer(200, {"ok": 1})]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            ex = await conn.start("POST", "/v1/chat/completions", {"stream": True})
            events = [ev async for _t, ev in ex.events()]
            again = (await conn.request("GET", "/after")).json()
            conn.close()
            return events, again, srv.connections
    events, again, connections = run(main())
    assert events[1]["choices"][0]["delta"]["content"] == "Hi"
    assert events[-1] == "[DONE]" and len(events) == 4
    assert again == {"ok": 1} and connections == 1


def test_timeout_bounds_the_whole_request():
    async def main():
        async with ScriptedServer([[(0.5, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")]]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url, timeout=0.1))
            with pytest.raises(SGLangError) as info:
                await conn.request("GET", "/slow")
            return info.value
    assert run(main()).kind == "timeout"


def test_connection_refused_is_reported():
    async def main():
        conn = AsyncConnection(SGLangClient(base_url="http://127.0.0.1:9", timeout=2))
        with pytest.raises(SGLangError) as info:
            await conn.open()
        return info.value
    assert run(main()).kind in ("connection_refused", "connection_error")


# ------------------------------------------------------------------ one timer per request (issue 14)
def test_a_consumer_that_stops_early_leaves_no_timer_to_kill_the_next_request():
    """Defect: the watchdog armed for request 1 was never cancelled when its consumer stopped early, and the
    next _arm() overwrote it without cancelling it; at request 1's deadline it closed request 2's connection."""
    async def main():
        first = stream_answer(chunk(role="assistant", content=""), chunk(content="a"), "[DONE]", delays={1: 0.5})
        second = [(0.25, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{\"n\": 2}")]
        async with ScriptedServer([first, second]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url, timeout=0.3))
            ex = await conn.start("POST", "/v1/chat/completions", {"stream": True})
            async for _now, _event in ex.events():
                break  # the consumer stops after the first event (request 1's timer runs out at t=0.3 s)
            await asyncio.sleep(0.1)
            # Request 2 starts at t=0.1 s and is answered at t=0.35 s: inside its own 0.3 s, past request 1's.
            body = (await conn.request("GET", "/second")).json()
            conn.close()
            return body
    assert run(main()) == {"n": 2}


def test_an_abandoned_answer_does_not_leak_into_the_next_request():
    """A request sent right after a consumer stopped early gets its own answer, never the rest of the old one."""
    async def main():
        first = stream_answer(chunk(role="assistant", content=""), chunk(content="a"), chunk(content="b"), "[DONE]",
                              delays={1: 0.05})
        async with ScriptedServer([first, json_answer(200, {"n": 2})]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url, timeout=5))
            ex = await conn.start("POST", "/v1/chat/completions", {"stream": True})
            async for _now, _event in ex.events():
                break
            body = (await conn.request("GET", "/second")).json()
            await asyncio.sleep(0.1)  # the abandoned generator is finalised meanwhile: it must not close this one
            third = await conn.request("GET", "/third", expect=None)
            conn.close()
            return body, third.status, srv.connections
    body, third, connections = run(main())
    assert body == {"n": 2} and third == 404 and connections == 2


def test_a_failed_request_cancels_its_timer():
    """A cut body fails its request; the next request on the same connection runs past the first one's deadline."""
    async def main():
        cut = [(0.0, b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{\"partial\""), (0.0, None)]
        slow = [(0.35, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")]
        async with ScriptedServer([cut, slow]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url, timeout=0.4))
            with pytest.raises(SGLangError) as info:
                await conn.request("GET", "/cut")
            await asyncio.sleep(0.1)
            body = (await conn.request("GET", "/slow")).json()
            conn.close()
            return info.value, body
    error, body = run(main())
    assert error.kind == "connection_error" and body == {}


def test_payloads_yield_the_raw_data_lines_through_the_one_sse_decoder():
    async def main():
        answer = stream_answer(chunk(content="Hi"), "not json", "[DONE]")
        async with ScriptedServer([answer]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            ex = await conn.start("POST", "/v1/chat/completions", {"stream": True})
            payloads = [p async for _t, p in ex.payloads()]
            conn.close()
            return payloads
    payloads = run(main())
    assert payloads[1:] == ["not json", "[DONE]"] and '"Hi"' in payloads[0]


def test_events_raise_a_clean_error_on_a_payload_that_is_not_json():
    async def main():
        async with ScriptedServer([stream_answer("not json", "[DONE]")]) as srv:
            conn = AsyncConnection(SGLangClient(base_url=srv.base_url))
            ex = await conn.start("POST", "/v1/chat/completions", {"stream": True})
            with pytest.raises(SGLangError) as info:
                async for _t, _event in ex.events():
                    pass
            return info.value, conn.writer
    error, writer = run(main())
    assert error.kind == "invalid_response" and writer is None  # the unread rest made the connection close
