# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one reading of an SGLang chat answer, whole or streamed.

Every module that sends a chat completion (smoke test, prefix-cache check, structured-output
check, benchmark) turns the answer into a ChatExchange here, so there is one definition of
each figure:

  t_send           perf_counter just before the request bytes were written
  ttfb             first byte of the answer (status line and headers complete) - t_send
  ttft             first SSE chunk whose delta carries non-empty content or reasoning - t_send
                   (never the role-only chunk); None for a whole (non-streamed) answer
  ttfo             the same for the first non-empty content (reasoning excluded)
  e2e              data: [DONE], or the end of a whole body - t_send
  itl              gaps between consecutive chunks that carry content or reasoning
  tpot             (e2e - ttft) / (completion_tokens - 1), completion_tokens from usage
  tokens           prompt, completion and cached tokens from the server's usage object only
                   (cached: usage.prompt_tokens_details.cached_tokens, --enable-cache-report)

An answer is ok only when it finished: a stream ends with data: [DONE], and the last
finish_reason is terminal (stop, length, tool_calls). SGLang's `abort` (the request was dropped:
client gone, server shutting down, out of memory) or no finish_reason at all is an error, and so
is an SSE error event (SGLang sends {"error": {...}} with HTTP 200 once a stream has started) or
an event that is not a JSON object. Nothing here raises on a server's answer: a bad answer becomes
error_kind / error.

Times use time.perf_counter (CLOCK_MONOTONIC on Linux, shared by all processes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

DONE = "[DONE]"

# Finish reasons of an answer that completed (OpenAI's; SGLang also sends stop for a matched stop string).
TERMINAL_FINISH_REASONS = frozenset(("stop", "length", "tool_calls", "content_filter"))

_perf = time.perf_counter


class SSEDecoder:
    """Splits an SSE byte stream into the payloads of its `data:` lines as the bytes arrive.

    SGLang writes one `data: <json>` line per event followed by a blank line; other SSE fields
    (event:, id:, comments) are not used by its OpenAI endpoints and are skipped.
    """

    __slots__ = ("_buffer",)

    def __init__(self):
        self._buffer = b""

    def feed(self, data):
        """Payloads (str) of the complete data: lines in data plus what was buffered."""
        if self._buffer:
            data = self._buffer + data
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        return [line[5:].strip().decode("utf-8", "replace") for line in lines if line[:5] == b"data:"]

    def close(self):
        """The payload of a last data: line that had no newline (a body cut short or closed early)."""
        rest, self._buffer = self._buffer, b""
        if rest[:5] == b"data:":
            return [rest[5:].strip().decode("utf-8", "replace")]
        return []


def first_choice(body):
    """choices[0] of an OpenAI answer or chunk when it is an object, else None."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def prompt_tokens_details(usage):
    """usage.prompt_tokens_details when it is an object (SGLang fills it with --enable-cache-report), else None."""
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    return details if isinstance(details, dict) else None


def cached_tokens_of(usage):
    """usage.prompt_tokens_details.cached_tokens, or None when the server did not report it."""
    details = prompt_tokens_details(usage)
    if details is None:
        return None
    value = details.get("cached_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int_or_none(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _finish_reason(value):
    """A finish_reason as a string (None when absent): some servers send an object such as {"type": "abort"}."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("type") or value.get("reason") or json.dumps(value, sort_keys=True))
    return str(value)


def error_event_message(error):
    """The text of an SSE error event's error field (object with message/code, or a string)."""
    if isinstance(error, dict):
        message = error.get("message") or json.dumps(error)[:300]
        code = error.get("code")
        return "%s%s" % (message, " (code %s)" % code if code else "")
    return str(error)[:300]


class ChatExchange:
    """One chat completion: what was sent when, and the answer read once (see the module docstring)."""

    __slots__ = ("stream", "status", "t_send", "t_first_byte", "t_first_token", "t_first_content", "t_end",
                 "token_times", "parts", "reasoning_parts", "first_role", "role", "usage", "finish_reason",
                 "events", "done", "error_kind", "error", "_finished")

    def __init__(self, stream, t_send=None):
        self.stream = bool(stream)
        self.status = None
        self.t_send = _perf() if t_send is None else t_send
        self.t_first_byte = self.t_first_token = self.t_first_content = self.t_end = None
        self.token_times = []
        self.parts = []
        self.reasoning_parts = []
        self.first_role = None
        self.role = None
        self.usage = None
        self.finish_reason = None
        self.events = 0
        self.done = False
        self.error_kind = None
        self.error = None
        self._finished = False

    # -- building ------------------------------------------------------------------
    def head(self, status, t_first_byte=None):
        """The status line and headers arrived."""
        self.status = status
        self.t_first_byte = _perf() if t_first_byte is None else t_first_byte

    def fail(self, kind, message, status=None):
        """Record the first error (later ones are consequences of it)."""
        if self.error_kind is None:
            self.error_kind = kind
            self.error = (message or "")[:500]
        if status is not None:
            self.status = status

    def add_payload(self, now, payload):
        """One SSE data: payload (str): JSON text or [DONE]."""
        if self.done:
            return  # nothing after [DONE] belongs to the answer
        if payload == DONE:
            self.done = True
            self.t_end = now
            return
        try:
            event = json.loads(payload)
        except ValueError:
            self.events += 1
            self.fail("invalid_event", "the stream carried an event that is not JSON: %r" % payload[:200])
            return
        self.add_event(now, event)

    def add_event(self, now, event):
        """One parsed SSE event (a chat.completion.chunk, a usage chunk, or an error event)."""
        self.events += 1
        if not isinstance(event, dict):
            self.fail("invalid_event", "the stream carried an event that is not a JSON object: %r" % (event,))
            return
        choice = first_choice(event)
        if choice is None and "error" in event:
            self.fail("sse_error", "SSE error event (HTTP 200): %s" % error_event_message(event["error"]))
            return
        if choice is not None:
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            role = delta.get("role")
            if self.first_role is None:
                self.first_role = role or ""
            if role:
                self.role = role
            text = delta.get("content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            has_text = isinstance(text, str) and bool(text)
            has_reasoning = isinstance(reasoning, str) and bool(reasoning)
            if has_text:
                self.parts.append(text)
                if self.t_first_content is None:
                    self.t_first_content = now
            if has_reasoning:
                self.reasoning_parts.append(reasoning)
            if has_text or has_reasoning:
                self.token_times.append(now)
                if self.t_first_token is None:
                    self.t_first_token = now
            if choice.get("finish_reason"):
                self.finish_reason = _finish_reason(choice["finish_reason"])
        usage = event.get("usage")
        if isinstance(usage, dict) and usage:
            self.usage = usage

    def finish(self, now=None):
        """The answer ended: decide whether it completed. Returns self."""
        if self._finished:
            return self
        self._finished = True
        if self.t_end is None:
            self.t_end = _perf() if now is None else now
        if self.error_kind is not None:
            return self
        if self.stream and not self.done:
            self.fail("incomplete_stream", "the stream ended without data: [DONE]")
        elif self.finish_reason is None:
            self.fail("finish_missing", "the answer has no finish_reason: the server did not finish it")
        elif self.finish_reason not in TERMINAL_FINISH_REASONS:
            detail = (" (the server aborted the request: it was cancelled, the server is shutting down, or it ran out "
                      "of memory; see the container log)" if self.finish_reason == "abort" else "")
            self.fail("finish_%s" % ("abort" if self.finish_reason == "abort" else "other"),
                      "finish_reason %r is not a completed answer%s" % (self.finish_reason, detail))
        return self

    @classmethod
    def from_body(cls, body, t_send=None, t_first_byte=None, t_end=None, status=200):
        """A whole (non-streamed) answer: a parsed body, or its text."""
        exchange = cls(False, t_send)
        exchange.head(status, t_first_byte)
        return exchange.take_body(body, t_end)

    def take_body(self, body, t_end=None):
        """Read a whole (non-streamed) answer, a parsed body or its text, into this exchange; returns self."""
        self.done = True
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                self.fail("invalid_response", "the answer is not JSON: %r" % (body[:200],))
                return self.finish(t_end)
        choice = first_choice(body)
        if choice is None:
            if isinstance(body, dict) and "error" in body:
                self.fail("error_body", "the server answered an error: %s" % error_event_message(body["error"]))
            else:
                self.fail("invalid_response", "the answer is not a chat completion: %r" % (str(body)[:200],))
            return self.finish(t_end)
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        self.first_role = self.role = message.get("role")
        if isinstance(message.get("content"), str):
            self.parts.append(message["content"])
        if isinstance(message.get("reasoning_content"), str):
            self.reasoning_parts.append(message["reasoning_content"])
        self.finish_reason = _finish_reason(choice.get("finish_reason"))
        if isinstance(body.get("usage"), dict):
            self.usage = body["usage"]
        return self.finish(t_end)

    # -- reading ---------------------------------------------------------------------
    @property
    def ok(self):
        return self._finished and self.error_kind is None

    @property
    def content(self):
        return "".join(self.parts)

    @property
    def reasoning(self):
        return "".join(self.reasoning_parts)

    def _since_send(self, t):
        return None if t is None or self.t_send is None else t - self.t_send

    @property
    def ttfb(self):
        return self._since_send(self.t_first_byte)

    @property
    def ttft(self):
        return self._since_send(self.t_first_token)

    @property
    def ttfo(self):
        return self._since_send(self.t_first_content)

    @property
    def e2e(self):
        return self._since_send(self.t_end)

    @property
    def prompt_tokens(self):
        return _int_or_none(self.usage.get("prompt_tokens")) if self.usage else None

    @property
    def completion_tokens(self):
        return _int_or_none(self.usage.get("completion_tokens")) if self.usage else None

    @property
    def cached_tokens(self):
        return cached_tokens_of(self.usage)

    @property
    def tpot(self):
        tokens = self.completion_tokens
        if self.ttft is None or self.e2e is None or not tokens or tokens < 2:
            return None
        return (self.e2e - self.ttft) / (tokens - 1)

    @property
    def itl(self):
        times = self.token_times
        return [later - earlier for earlier, later in zip(times, times[1:])]

    def summary(self, digits=4):
        """The figures of this exchange as a plain dict (seconds), without the content."""
        def rounded(value):
            return None if value is None else round(value, digits)
        return dict(ok=self.ok, status=self.status, error_kind=self.error_kind, error=self.error,
                    stream=self.stream, finish_reason=self.finish_reason, ttfb_s=rounded(self.ttfb),
                    ttft_s=rounded(self.ttft), ttfo_s=rounded(self.ttfo), e2e_s=rounded(self.e2e),
                    tpot_s=rounded(self.tpot), chunks=self.events, prompt_tokens=self.prompt_tokens,
                    completion_tokens=self.completion_tokens, cached_tokens=self.cached_tokens)
