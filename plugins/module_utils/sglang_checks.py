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

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError

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


def resolve_model(client, requested):
    """(model to send, models the server lists). Lists via /v1/models; raises SGLangError."""
    served = client.models()
    if requested:
        return requested, served
    if not served:
        raise SGLangError("%s/v1/models lists no model" % client.base_url, "invalid_response")
    return served[0], served


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


def first_choice(body):
    choices = body.get("choices") if isinstance(body, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def cached_tokens_of(usage):
    """usage.prompt_tokens_details.cached_tokens, or None when the details are missing/null."""
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    if not isinstance(details, dict):
        return None
    value = details.get("cached_tokens")
    return value if isinstance(value, int) else None


def cache_lower_bound(prev_prompt_tokens, prev_completion_tokens, prompt_tokens, page_size,
                      count_completion_tokens=False, miss_tolerance=0):
    """The fewest cached tokens a working radix cache gives a turn, after the previous one.

    Adapted from SGLang's cache_hit_kit: the previous turn's prompt tokens (plus its
    completion tokens when count_completion_tokens), minus miss_tolerance, rounded down
    to a page boundary, minus one page of slack (the chat template may render the
    previous generation prompt and the re-sent assistant turn differently), capped at
    prompt_tokens - 1 (SGLang always recomputes at least one token) and at least 0.
    """
    page = max(int(page_size or 1), 1)
    base = prev_prompt_tokens + (prev_completion_tokens if count_completion_tokens else 0) - miss_tolerance
    bound = (max(base, 0) // page) * page - page
    return max(0, min(bound, prompt_tokens - 1))


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
