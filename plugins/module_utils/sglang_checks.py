# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure helpers of the validation modules (smoke test, cache check, structured output).

No I/O here: building prompts, checking OpenAI answer shapes, the prefix-cache lower
bound and the scheduler's `Prefill batch` log lines. The modules do the requests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import first_choice

# Runbook step 6.
SMOKE_PROMPT = "Explain quantum computing in simple terms."

# Runbook step 7.
PHYSICS_SYSTEM_PROMPT = (
    "You are an expert physics tutor who explains concepts clearly and concisely. You use real-world "
    "analogies and everyday examples to make abstract ideas concrete. When answering, first state the key "
    "concept in one sentence, then give a short explanation with an example.")
PHYSICS_QUESTIONS = [
    "What is the difference between speed and velocity?",
    "Can you give me another example that shows why the distinction matters in real physics problems?",
    "How does acceleration relate to velocity in that example?",
    "What changes when friction is taken into account?",
    "Summarize the three ideas we discussed in two sentences.",
]
# Appended (numbered) to the system prompt until the shared prefix is long enough.
TUTOR_GUIDELINES = [
    "Define every symbol the first time it appears and give its SI unit.",
    "Prefer everyday situations such as cars, bicycles, elevators, kitchens and sports fields for examples.",
    "Point out the most common misconception about the topic and explain why it is wrong.",
    "Keep equations short, show one worked number example, and round results to two significant figures.",
    "When a question mixes several ideas, separate them and answer them one at a time in a logical order.",
    "Distinguish scalar quantities from vector quantities whenever direction matters to the answer.",
    "Mention the limits of a simple model, for example when air resistance or relativity would change the result.",
    "End with a one-sentence summary the student could write on an index card.",
]

# Runbook step 8.
LANGUAGES_PROMPT = "List three programming languages with their primary use case and year created."
LANGUAGES_SCHEMA = {
    "type": "object",
    "properties": {
        "languages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "primary_use": {"type": "string"},
                    "year_created": {"type": "integer"},
                },
                "required": ["name", "primary_use", "year_created"],
            },
        },
    },
    "required": ["languages"],
}

CACHE_REPORT_FLAG = "--enable-cache-report"


def word_count(text):
    return len(text.split())


def extend_system_prompt(base, min_words):
    """base plus numbered tutor guidelines until it has at least min_words words.

    Words are a conservative token estimate for English text: BPE tokenizers give at
    least one token per space-separated word, so min_words words are >= min_words tokens.
    """
    text = base
    number = 0
    while word_count(text) < min_words:
        guideline = TUTOR_GUIDELINES[number % len(TUTOR_GUIDELINES)]
        number += 1
        text += " Guideline %d: %s" % (number, guideline)
    return text


def check_usage(usage, prefix=""):
    """Failures (list of str) of an OpenAI usage object."""
    failures = []
    if not isinstance(usage, dict):
        return ["%susage: missing from the answer" % prefix]
    values = {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = usage.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            failures.append("%susage.%s: missing or not an integer (%r)" % (prefix, key, value))
        values[key] = value
    if failures:
        return failures
    if values["prompt_tokens"] <= 0:
        failures.append("%susage.prompt_tokens: %d, expected > 0" % (prefix, values["prompt_tokens"]))
    if values["completion_tokens"] <= 0:
        failures.append("%susage.completion_tokens: %d, expected > 0" % (prefix, values["completion_tokens"]))
    if values["total_tokens"] != values["prompt_tokens"] + values["completion_tokens"]:
        failures.append("%susage: total_tokens %d != prompt_tokens %d + completion_tokens %d" % (
            prefix, values["total_tokens"], values["prompt_tokens"], values["completion_tokens"]))
    return failures


def check_answer(body, exchange, checks, failures, warnings):
    """Checks of a whole (non-streamed) chat answer: its OpenAI shape (body) and its reading (exchange)."""
    checks["object"] = isinstance(body, dict) and body.get("object") == "chat.completion"
    if not checks["object"]:
        failures.append("object: %r, expected 'chat.completion'" % (body.get("object") if isinstance(body, dict) else body,))
    choice = first_choice(body)
    checks["choices"] = choice is not None
    if choice is None:
        failures.append("choices: missing or empty")
        return
    checks["role"] = exchange.role == "assistant"
    if not checks["role"]:
        failures.append("role: choices[0].message.role is %r, expected 'assistant'" % exchange.role)
    has_content = bool(exchange.content.strip())
    if not has_content and exchange.reasoning.strip():
        warnings.append("The answer has only reasoning_content (the budget went to thinking); raise max_tokens "
                        "or disable thinking with extra_body.chat_template_kwargs.enable_thinking=false.")
        has_content = True
    checks["content"] = has_content
    if not has_content:
        failures.append("content: choices[0].message.content is empty (%r)" % (exchange.content,))
    checks["finish_reason"] = exchange.error_kind is None or not exchange.error_kind.startswith("finish_")
    if not checks["finish_reason"]:
        failures.append("finish_reason: %s" % exchange.error)
    usage_failures = check_usage(exchange.usage)
    checks["usage"] = not usage_failures
    failures.extend(usage_failures)


def check_stream(exchange, checks, failures):
    """Checks of a streamed chat answer (the SSE sequence as sglang_exchange.ChatExchange read it)."""
    checks["stream_role_chunk"] = exchange.first_role == "assistant"
    if not checks["stream_role_chunk"]:
        failures.append("stream_role_chunk: the first chunk does not carry delta.role 'assistant'")
    checks["stream_content"] = exchange.ttft is not None
    if not checks["stream_content"]:
        failures.append("stream_content: no chunk with non-empty content")
    checks["stream_finish_chunk"] = exchange.finish_reason is not None and not (
        exchange.error_kind or "").startswith("finish_")
    if not checks["stream_finish_chunk"]:
        failures.append("stream_finish_chunk: no chunk with a completed finish_reason (got %r)" % exchange.finish_reason)
    checks["stream_done"] = exchange.done
    if not exchange.done:
        failures.append("stream_done: the stream did not end with data: [DONE]")
    stream_error = exchange.error_kind in ("sse_error", "invalid_event", "timeout")
    checks["stream_no_error"] = not stream_error
    if stream_error:
        failures.append("stream_no_error: %s" % exchange.error)
    if exchange.usage is not None:
        usage_failures = check_usage(exchange.usage, prefix="stream_")
        checks["stream_usage"] = not usage_failures
        failures.extend(usage_failures)


def cache_lower_bound(prev_prompt_tokens, prev_completion_tokens, prompt_tokens, page_size,
                      count_completion_tokens=False, miss_tolerance=0, template_tail_tokens=8):
    """The fewest cached tokens a working radix cache gives a turn, after the previous one.

    What a working cache gives: after the previous request the radix tree holds its tokens, so this
    turn reuses the common prefix of the two token sequences, in whole pages (SGLang matches
    page-aligned keys) and never the whole prompt (Req._compute_max_prefix_len keeps one token to
    compute):  cached = floor(min(common, prompt_tokens - 1) / page) * page.

    The common prefix is not the whole previous prompt: chat templates render the previous turn's
    generation prompt differently from the re-sent assistant turn. Qwen3 with enable_thinking=false
    appends an empty think block "<think>\\n\\n</think>\\n\\n" to the last turn's generation prompt only
    and renders every earlier assistant turn without one ("<|im_start|>assistant\\n" + content), so
    the previous prompt's last 4 tokens (<think>, "\\n\\n", </think>, "\\n\\n") are not in the next
    prompt; one more when the answer starts with a newline that BPE merges with the role header's.
    template_tail_tokens (default 8: those 5 tokens and a margin) is the most tokens at the end of the
    previous prompt a template may render differently, so common >= prev_prompt_tokens - template_tail_tokens.

    The bound (adapted from SGLang's cache_hit_kit):
      base  = prev_prompt_tokens (+ prev_completion_tokens when count_completion_tokens)
              - miss_tolerance - template_tail_tokens
      bound = floor(min(base, prompt_tokens - 1) / page) * page, at least 0.
    floor(min(., prompt_tokens - 1) / page) * page is monotone, so the bound is at most what a
    working cache reports whenever common >= base, at every page size (1, 16, 64, ...); the older
    "floor(prev / page) * page - page" allowed one token of difference at page size 1 and failed
    Qwen3 with thinking off. A broken cache (0 cached tokens) still fails whenever base >= page
    (a previous prompt at least a page plus the tail long). Completion tokens are only a prefix of
    the next prompt when the answer is re-sent as the same tokens (cache_hit_kit's raw token ids);
    templates that re-render assistant turns (Qwen3 drops think blocks) do not, so keep
    count_completion_tokens off for chat requests.
    """
    page = max(int(page_size or 1), 1)
    base = prev_prompt_tokens + (prev_completion_tokens if count_completion_tokens else 0)
    base -= miss_tolerance + max(int(template_tail_tokens or 0), 0)
    usable = min(base, prompt_tokens - 1)
    return max(0, (max(usable, 0) // page) * page)


# `Prefill batch, #new-seq: 1, #new-token: 90, #cached-token: 211, ...` (0.5.x),
# `Prefill batch. #new-seq: ...` (0.4.x) and `Prefill batch [123], #new-seq: ...`.
PREFILL_RE = re.compile(
    r"Prefill batch(?: \[\d+\])?[.,]\s*#new-seq:\s*(\d+),\s*#new-token:\s*(\d+),\s*#cached-token:\s*(\d+)")


def parse_prefill_lines(text):
    """Parsed Prefill batch lines: list of dicts new_seq, new_tokens, cached_tokens, line."""
    result = []
    for line in text.splitlines():
        match = PREFILL_RE.search(line)
        if match:
            result.append(dict(new_seq=int(match.group(1)), new_tokens=int(match.group(2)),
                               cached_tokens=int(match.group(3)), line=line.strip()))
    return result


def match_prefill_lines(prompt_tokens_per_turn, lines):
    """Pair each turn with its Prefill line: list of (line dict or None, how) per turn.

    First, in order, the next single-sequence line whose #new-token + #cached-token equals
    the turn's prompt_tokens ("exact"). If no turn matched that way but the lines that are
    not 1-token health probes are exactly one per turn, they are paired by order ("order").
    """
    matches = []
    position = 0
    for prompt_tokens in prompt_tokens_per_turn:
        found = None
        for offset in range(position, len(lines)):
            line = lines[offset]
            if line["new_seq"] == 1 and line["new_tokens"] + line["cached_tokens"] == prompt_tokens:
                found = offset
                break
        if found is None:
            matches.append((None, "none"))
        else:
            matches.append((lines[found], "exact"))
            position = found + 1
    if all(m[0] is None for m in matches):
        candidates = [line for line in lines if line["new_tokens"] + line["cached_tokens"] > 1]
        if candidates and len(candidates) == len(prompt_tokens_per_turn):
            matches = [(line, "order") for line in candidates]
    return matches
