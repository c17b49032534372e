"""sglang_exchange: the one reading of a chat answer, whole or streamed."""
import json

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import (
    ChatExchange,
    SSEDecoder,
    cached_tokens_of,
)


def chunk(content=None, reasoning=None, role=None, finish=None, usage=None):
    delta = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    event = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        event = {"object": "chat.completion.chunk", "choices": [], "usage": usage}
    return json.dumps(event)


USAGE = {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23, "prompt_tokens_details": {"cached_tokens": 16}}


def streamed(payloads, t_send=0.0, step=0.1):
    exchange = ChatExchange(True, t_send=t_send)
    exchange.head(200, t_send + step / 2)
    for number, payload in enumerate(payloads, 1):
        exchange.add_payload(t_send + number * step, payload)
    return exchange.finish(t_send + (len(payloads) + 1) * step)


def test_a_complete_stream_gives_every_figure_once():
    exchange = streamed([chunk(role="assistant", content=""), chunk(reasoning="hm"), chunk(content="Hel"),
                         chunk(content="lo", finish="stop"), chunk(usage=USAGE), "[DONE]"])
    assert exchange.ok and exchange.error_kind is None
    assert exchange.first_role == "assistant" and exchange.content == "Hello" and exchange.reasoning == "hm"
    # role chunk at 0.1 is not a token; reasoning at 0.2 is the first token; first content at 0.3
    assert exchange.ttft == pytest.approx(0.2) and exchange.ttfo == pytest.approx(0.3)
    assert exchange.ttfb == pytest.approx(0.05)
    assert exchange.e2e == pytest.approx(0.6)  # [DONE] is the end
    assert exchange.itl == pytest.approx([0.1, 0.1])
    assert exchange.tpot == pytest.approx((0.6 - 0.2) / 2)
    assert (exchange.prompt_tokens, exchange.completion_tokens, exchange.cached_tokens) == (20, 3, 16)
    assert exchange.summary()["ttft_s"] == pytest.approx(0.2)


@pytest.mark.parametrize("finish,kind", [("abort", "finish_abort"), ("weird", "finish_other"), (None, "finish_missing")])
def test_an_answer_that_did_not_finish_is_an_error(finish, kind):
    exchange = streamed([chunk(role="assistant", content="x"), chunk(content="y", finish=finish), "[DONE]"])
    assert not exchange.ok and exchange.error_kind == kind
    if finish == "abort":
        assert "aborted" in exchange.error


@pytest.mark.parametrize("finish", ["stop", "length", "tool_calls"])
def test_terminal_finishes_are_ok(finish):
    assert streamed([chunk(content="x", finish=finish), "[DONE]"]).ok


def test_a_stream_without_done_is_incomplete():
    exchange = streamed([chunk(content="x", finish="stop")])
    assert exchange.error_kind == "incomplete_stream"


@pytest.mark.parametrize("payload,kind", [
    ("{broken", "invalid_event"),
    ("[1, 2]", "invalid_event"),
    ('"text"', "invalid_event"),
    (json.dumps({"error": {"message": "Failed to compile json_schema grammar", "code": 400}}), "sse_error"),
])
def test_bad_events_are_counted_errors_not_exceptions(payload, kind):
    exchange = streamed([chunk(content="x"), payload, chunk(content="y", finish="stop"), "[DONE]"])
    assert not exchange.ok and exchange.error_kind == kind
    if kind == "sse_error":
        assert "Failed to compile" in exchange.error and "code 400" in exchange.error


def test_the_first_error_is_kept():
    exchange = streamed(["{broken", json.dumps({"error": "later"})])
    assert exchange.error_kind == "invalid_event"


def test_whole_answers():
    message = {"role": "assistant", "content": "hi", "reasoning_content": None}
    body = {"object": "chat.completion", "choices": [{"message": message, "finish_reason": "length"}], "usage": USAGE}
    exchange = ChatExchange.from_body(json.dumps(body), t_send=1.0, t_first_byte=1.5, t_end=2.0)
    assert exchange.ok and exchange.content == "hi" and exchange.role == "assistant"
    assert exchange.ttft is None and exchange.e2e == pytest.approx(1.0) and exchange.ttfb == pytest.approx(0.5)
    assert exchange.cached_tokens == 16
    aborted = dict(body, choices=[dict(body["choices"][0], finish_reason="abort")])
    assert ChatExchange.from_body(aborted).error_kind == "finish_abort"
    assert ChatExchange.from_body("<html>").error_kind == "invalid_response"
    assert ChatExchange.from_body({"choices": []}).error_kind == "invalid_response"
    assert ChatExchange.from_body({"error": {"message": "boom"}}).error_kind == "error_body"
    assert ChatExchange.from_body([1]).error_kind == "invalid_response"


def test_cached_tokens_only_from_prompt_tokens_details():
    assert cached_tokens_of({"prompt_tokens_details": {"cached_tokens": 5}}) == 5
    assert cached_tokens_of({"prompt_tokens_details": None}) is None
    assert cached_tokens_of({"prompt_tokens_details": {"cached_tokens": True}}) is None
    assert cached_tokens_of(None) is None


def test_sse_decoder_keeps_partial_lines():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: {\"a\"") == []
    assert decoder.feed(b": 1}\n\nevent: x\ndata: [DONE]\n\n") == ['{"a": 1}', "[DONE]"]
    assert decoder.close() == []


def test_an_object_finish_reason_is_read_not_raised():
    exchange = streamed([chunk(content="x"), json.dumps({"choices": [{"delta": {}, "finish_reason": {"type": "abort"}}]}),
                         "[DONE]"])
    assert exchange.error_kind == "finish_abort"
    body = {"choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": ["stop"]}]}
    assert ChatExchange.from_body(body).error_kind == "finish_other"


def test_nothing_after_done_belongs_to_the_answer():
    exchange = streamed([chunk(content="x", finish="stop"), "[DONE]", "{broken"])
    assert exchange.ok and exchange.e2e == pytest.approx(0.2)
