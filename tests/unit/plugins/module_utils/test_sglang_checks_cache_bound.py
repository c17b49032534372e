"""cache_lower_bound: met by a working radix cache at every page size, also when the chat template renders the
previous prompt's end differently (Qwen3 with thinking off), and still failed by a broken cache (0 cached)."""
import importlib.util
import os

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_checks import cache_lower_bound

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sim", "sglang", "sim")
PAGES = (1, 2, 4, 16, 64, 128, 256)


def _load(name):
    spec = importlib.util.spec_from_file_location("_sim_" + name, os.path.join(SIM, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tokenizer = _load("tokenizer")
radix = _load("radix")


def working_cache(common, prompt_tokens, page):
    """What SGLang's radix cache reports: the common prefix, at most prompt - 1 tokens, in whole pages."""
    usable = min(common, prompt_tokens - 1)
    return max(usable, 0) // page * page


def old_bound(prev, comp, prompt, page, count=False, tol=0):
    """The bound before issue 14: one page of slack."""
    base = prev + (comp if count else 0) - tol
    return max(0, min((max(base, 0) // page) * page - page, prompt - 1))


@pytest.mark.parametrize("page", PAGES)
def test_a_working_cache_meets_the_bound_when_the_template_tail_differs(page):
    # tail: tokens at the end of the previous prompt the next one renders differently (Qwen3 thinking off: 4,
    # 5 when the answer starts with a newline), 0 for templates whose previous prompt is an exact prefix.
    for tail in range(0, 6):
        for prev in range(1, 600, 7):
            for extra in (1, 2, 20, 300):
                prompt = prev - tail + extra
                if prompt < 1:
                    continue
                bound = cache_lower_bound(prev, 57, prompt, page)
                assert bound <= working_cache(prev - tail, prompt, page), (page, tail, prev, extra)
                assert bound % page == 0 and 0 <= bound <= max(prompt - 1, 0)


@pytest.mark.parametrize("page", PAGES)
def test_a_broken_cache_fails_once_the_prefix_is_long_enough(page):
    for prev in range(page + 8, page + 8 + 3 * max(page, 64)):
        assert cache_lower_bound(prev, 10, prev + 30, page) >= page > 0  # 0 cached tokens < bound


def test_the_old_bound_fails_qwen3_thinking_off_at_page_size_1_and_2():
    # Qwen3, thinking off: the next prompt shares all but the 4-token empty think block of the previous one
    prev, prompt = 212, 301
    assert old_bound(prev, 64, prompt, 1) == 211 > working_cache(prev - 4, prompt, 1) == 208
    assert old_bound(prev, 64, prompt, 2) == 210 > working_cache(prev - 4, prompt, 2) == 208
    assert cache_lower_bound(prev, 64, prompt, 1) == 204 <= 208
    assert cache_lower_bound(prev, 64, prompt, 2) == 204 <= 208


@pytest.mark.parametrize("prev,comp,prompt,page,count,tol,tail,expected", [
    (212, 64, 301, 1, False, 0, 8, 204),      # page 1: previous prompt minus the template tail
    (212, 64, 301, 16, False, 0, 8, 192),     # floor(204 / 16) * 16
    (212, 64, 301, 64, False, 0, 8, 192),     # floor(204 / 64) * 64
    (212, 64, 301, 64, True, 0, 8, 256),      # with completion: floor(268 / 64) * 64
    (212, 64, 301, 1, False, 16, 8, 188),     # miss tolerance on top
    (212, 64, 301, 1, False, 0, 0, 212),      # no tail: an exact-prefix template
    (300, 64, 301, 1, True, 0, 8, 300),       # capped at prompt_tokens - 1
    (300, 64, 301, 64, True, 0, 8, 256),      # ... and then page-aligned: floor(300 / 64) * 64
    (40, 10, 60, 64, False, 0, 8, 0),         # never below 0
    (0, 0, 1, 1, False, 0, 8, 0),
])
def test_values(prev, comp, prompt, page, count, tol, tail, expected):
    assert cache_lower_bound(prev, comp, prompt, page, count, tol, tail) == expected


def test_page_size_none_or_zero_is_one():
    assert cache_lower_bound(100, 0, 200, None) == cache_lower_bound(100, 0, 200, 0) == cache_lower_bound(100, 0, 200, 1)


def _conversation(thinking, turns=4):
    system = "You are a physics tutor. " + " ".join("Guideline %d: define every symbol and give its unit." % i
                                                    for i in range(1, 30))
    messages = [{"role": "system", "content": system}]
    kwargs = {"enable_thinking": thinking}
    for n in range(1, turns + 1):
        messages.append({"role": "user", "content": "Question %d about velocity and speed?" % n})
        prompt = tokenizer.encode(tokenizer.render_qwen3(messages, chat_template_kwargs=kwargs))
        answer = "".join(tokenizer.generate_pieces(n, 40))
        yield prompt, tokenizer.encode(answer) + [tokenizer.EOS_TOKEN_ID]
        messages.append({"role": "assistant", "content": answer})


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("thinking", [False, True])
def test_qwen3_conversation_on_the_simulators_radix_tree(page, thinking):
    """Qwen3's template and the simulator's radix tree (what the server does): the bound holds on every turn."""
    tree = radix.RadixCache(page)
    previous = None
    for prompt, output in _conversation(thinking):
        matched, unused_node = tree.match_prefix(prompt[:len(prompt) - 1])
        if previous is not None:
            prev_prompt, prev_output = previous
            assert matched >= cache_lower_bound(len(prev_prompt), len(prev_output), len(prompt), page)
            assert matched > 0
            if not thinking:
                # the shared part ends where the empty think block of the previous generation prompt starts
                assert prev_prompt[-4:] == tokenizer.encode(tokenizer.QWEN3_EMPTY_THINK)
                assert matched == working_cache(len(prev_prompt) - 4, len(prompt), page)
                if page <= 2:
                    assert matched < old_bound(len(prev_prompt), len(prev_output), len(prompt), page)
            else:
                assert matched == working_cache(len(prev_prompt) + len(prev_output) - 1, len(prompt), page)
        tree.insert((prompt + output)[:-1])
        previous = prompt, output
