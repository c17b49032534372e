"""The simulator's rendering of Qwen3's chat template (tests/sim/sglang/sim/tokenizer.py, render_qwen3).

Expected strings are what transformers renders with the template of Qwen/Qwen3-8B's tokenizer_config.json."""
import importlib.util
import os

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim", "sglang", "sim")
_spec = importlib.util.spec_from_file_location("_sim_tokenizer_q3", os.path.join(SIM, "tokenizer.py"))
tok = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tok)

OFF = {"enable_thinking": False}


def test_generation_prompt_with_and_without_thinking():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"}]
    head = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n"
    assert tok.render_qwen3(msgs) == head
    assert tok.render_qwen3(msgs, chat_template_kwargs={"enable_thinking": True}) == head
    assert tok.render_qwen3(msgs, chat_template_kwargs=OFF) == head + "<think>\n\n</think>\n\n"
    assert tok.render("chatml", msgs, chat_template_kwargs=OFF) == head  # ChatML ignores the kwarg


def test_history_turns_lose_their_think_blocks_so_the_previous_prompt_is_no_prefix():
    first = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"}]
    second = first + [{"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}]
    p1 = tok.render_qwen3(first, chat_template_kwargs=OFF)
    p2 = tok.render_qwen3(second, chat_template_kwargs=OFF)
    assert p2 == ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
                  "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert not p2.startswith(p1) and p2.startswith(p1[:-len(tok.QWEN3_EMPTY_THINK)])
    ids1, ids2 = tok.encode(p1), tok.encode(p2)
    common = next(i for i, (a, b) in enumerate(zip(ids1, ids2)) if a != b)
    assert len(ids1) - common == 4  # <think>, "\n\n", </think>, "\n\n"
    assert tok.encode("<think>\n\n</think>\n\n")[::2] == [tok.THINK_START, tok.THINK_END]
    # thinking on: an exact extension
    assert tok.render_qwen3(second).startswith(tok.render_qwen3(first))


def test_reasoning_is_stripped_from_history_but_kept_after_the_last_query():
    msgs = [{"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHello", "reasoning_content": None},
            {"role": "user", "content": "Again"},
            {"role": "assistant", "content": "Sure", "reasoning_content": "think more"}]
    assert tok.render_qwen3(msgs, add_generation_prompt=False) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nthink more\n</think>\n\nSure<|im_end|>\n")
    # the template's own documented case: a final assistant turn gets an empty think block
    assert tok.render_qwen3([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                            add_generation_prompt=False) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>\n")


def test_tools_later_system_and_list_content():
    msgs = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "call"},
            {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"},
            {"role": "system", "content": "late"}, {"role": "developer", "content": "ignored"}]
    assert tok.render_qwen3(msgs) == (
        "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\ncall<|im_end|>\n"
        "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n"
        "<|im_start|>system\nlate<|im_end|>\n<|im_start|>assistant\n")


def test_continue_final_message_cuts_after_the_final_content():
    msgs = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "The answer is"}]
    assert tok.render_qwen3(msgs, add_generation_prompt=False, continue_final_message=True) == (
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nThe answer is")
