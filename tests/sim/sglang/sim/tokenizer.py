"""A deterministic word-piece tokenizer, the chat templates (ChatML, Qwen3) and a seeded text generator.

Token ids are stable across runs and machines (crc32 of the piece), so prefix-cache arithmetic
is reproducible. Every character of the input belongs to exactly one piece, so
`"".join(pieces) == text`.
"""
import random
import re
import zlib

IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643
# Qwen3's tokenizer_config.json has <think> and </think> as added tokens (151667, 151668): one token each.
THINK_START, THINK_END = 151667, 151668
SPECIAL_TOKENS = {"<|im_start|>": IM_START, "<|im_end|>": IM_END, "<|endoftext|>": ENDOFTEXT,
                  "<think>": THINK_START, "</think>": THINK_END}
EOS_TOKEN_ID = IM_END
_SPECIAL_RE = re.compile(r"(<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|<think>|</think>)")
_PIECE_RE = re.compile(r" ?[^\W\d_]{1,6}| ?\d{1,3}| ?(?:[^\s\w]|_)|\s+")
_VOCAB_SIZE = 150000
_cache = {}


def piece_id(piece):
    tid = _cache.get(piece)
    if tid is None:
        tid = zlib.crc32(piece.encode("utf-8")) % _VOCAB_SIZE + 100
        if len(_cache) < 200000:
            _cache[piece] = tid
    return tid


def pieces(text):
    return _PIECE_RE.findall(text)


def encode(text, special=True):
    """Token ids of `text`; role markers are single special tokens when `special`."""
    ids = []
    parts = _SPECIAL_RE.split(text) if special else [text]
    for part in parts:
        if not part:
            continue
        sid = SPECIAL_TOKENS.get(part) if special else None
        if sid is not None:
            ids.append(sid)
        else:
            ids.extend(_part_ids(part))
    return ids


_part_cache = {}
_PART_CACHE_MAX = 20000


def _part_ids(part):
    """Token ids of a text without special tokens; memoised (conversations re-send their earlier turns)."""
    t = _part_cache.get(part)
    if t is None:
        t = tuple([piece_id(p) for p in _PIECE_RE.findall(part)])
        if len(_part_cache) >= _PART_CACHE_MAX:
            _part_cache.clear()
        _part_cache[part] = t
    return t


def content_text(content):
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type", "text") == "text":
                    out.append(str(part.get("text", "")))
            elif isinstance(part, str):
                out.append(part)
        return "".join(out)
    return str(content)


def render_chat(messages, add_generation_prompt=True, continue_final_message=False):
    """ChatML rendering: each turn is `<|im_start|>role\\ncontent<|im_end|>\\n`; a longer conversation
    renders to a string that starts with the rendering of the shorter one."""
    out = []
    for i, m in enumerate(messages):
        role = str(m.get("role", "user"))
        text = content_text(m.get("content"))
        if continue_final_message and i == len(messages) - 1 and role == "assistant":
            out.append("<|im_start|>%s\n%s" % (role, text))
            return "".join(out)
        out.append("<|im_start|>%s\n%s<|im_end|>\n" % (role, text))
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


# The generation prompt Qwen3's template adds with enable_thinking=false (and nowhere else).
QWEN3_EMPTY_THINK = "<think>\n\n</think>\n\n"


def _is_tool_response(text):
    return text.startswith("<tool_response>") and text.endswith("</tool_response>")


def render_qwen3(messages, add_generation_prompt=True, continue_final_message=False, chat_template_kwargs=None):
    """Qwen3's chat template (tokenizer_config.json of Qwen/Qwen3-8B, without tools), line by line:

    - a first `system` message: `<|im_start|>system\\n{content}<|im_end|>\\n`; `user` (and a later `system`):
      `<|im_start|>{role}\\n{content}<|im_end|>\\n`; non-string content renders as '' (the server has already
      joined text parts into a string, as SGLang does for a "string" content-format template);
    - `assistant`: `reasoning_content` is the message's own, else the text before `</think>` in the content
      (and the content the text after it, `lstrip('\\n')`). Turns after the last user query (tool-call chains)
      keep their think block when they are the last message or have reasoning:
      `<|im_start|>assistant\\n<think>\\n{reasoning.strip('\\n')}\\n</think>\\n\\n{content.lstrip('\\n')}`; every
      other assistant turn, i.e. every turn of the history before the last user message, is
      `<|im_start|>assistant\\n{content}`: past reasoning is dropped. Then `<|im_end|>\\n`;
    - `tool`: inside one `<|im_start|>user ... <|im_end|>\\n` per run, `\\n<tool_response>\\n{content}\\n</tool_response>`;
    - other roles render nothing;
    - the generation prompt `<|im_start|>assistant\\n`, plus `<think>\\n\\n</think>\\n\\n` when
      `enable_thinking is defined and enable_thinking is false`.

    So with thinking off the previous request's prompt ends in an empty think block that the re-sent
    assistant turn does not have: it is not a prefix of the next prompt (the shared part ends after
    `<|im_start|>assistant\\n`). With `continue_final_message` the rendering (no generation prompt) is cut after
    the final message's content, as transformers' apply_chat_template does.
    """
    kwargs = chat_template_kwargs or {}
    n = len(messages)
    # SGLang joins the text parts of a list content into a string before a "string" content-format template.
    is_string = [isinstance(m.get("content"), (str, list)) for m in messages]
    contents = [content_text(m.get("content")) if is_str else "" for m, is_str in zip(messages, is_string)]
    out = []
    if n and messages[0].get("role") == "system":
        out.append("<|im_start|>system\n" + contents[0] + "<|im_end|>\n")
    last_query = n - 1
    for index in range(n - 1, -1, -1):
        m = messages[index]
        if m.get("role") == "user" and is_string[index] and not _is_tool_response(contents[index]):
            last_query = index
            break
    for i, m in enumerate(messages):
        role = m.get("role")
        content = contents[i]
        if role == "user" or (role == "system" and i != 0):
            out.append("<|im_start|>" + role + "\n" + content + "<|im_end|>\n")
        elif role == "assistant":
            reasoning = m.get("reasoning_content")
            if not isinstance(reasoning, str):
                reasoning = ""
                if "</think>" in content:
                    reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
                    content = content.split("</think>")[-1].lstrip("\n")
            if i > last_query and (i == n - 1 or reasoning):
                out.append("<|im_start|>assistant\n<think>\n" + reasoning.strip("\n") + "\n</think>\n\n"
                           + content.lstrip("\n"))
            else:
                out.append("<|im_start|>assistant\n" + content)
            out.append("<|im_end|>\n")
        elif role == "tool":
            if i == 0 or messages[i - 1].get("role") != "tool":
                out.append("<|im_start|>user")
            out.append("\n<tool_response>\n" + content + "\n</tool_response>")
            if i == n - 1 or messages[i + 1].get("role") != "tool":
                out.append("<|im_end|>\n")
    if add_generation_prompt and not continue_final_message:
        out.append("<|im_start|>assistant\n")
        if kwargs.get("enable_thinking", True) is False:
            out.append(QWEN3_EMPTY_THINK)
    text = "".join(out)
    if continue_final_message and n:
        final = contents[-1].strip()
        if final and final in text:
            text = text[:text.rindex(final) + len(final)]
    return text


def render(template, messages, add_generation_prompt=True, continue_final_message=False, chat_template_kwargs=None):
    """The prompt text of a chat request with the model's template ("qwen3" or "chatml")."""
    if template == "qwen3":
        return render_qwen3(messages, add_generation_prompt, continue_final_message, chat_template_kwargs)
    return render_chat(messages, add_generation_prompt, continue_final_message)


_WORDS = (
    "the a of and to in is that it for on as with by this are be can from or an at which each "
    "when model energy light system value change force time speed motion mass field wave data "
    "simple small large first next other same state point rate flow water heat power signal "
    "number result method answer example simply mostly always often never quite very more less "
    "moves grows holds keeps makes shows takes gives means uses turns stays works helps forms "
    "car road ball train river city house table chart graph line curve path step layer token "
    "cache prefix memory server reply user query text word idea basic clear short direct rule "
    "north south east west up down left right fast slow early later still only also just even"
).split()


def generate_pieces(seed, n_tokens):
    """`n_tokens` pieces of pseudo-English; each piece is exactly one token of `encode`."""
    rng = random.Random(seed)
    out = []
    capital = True
    since, target = 0, rng.randint(6, 14)
    while len(out) < n_tokens:
        if since >= target:
            out.append(".")
            capital, since, target = True, 0, rng.randint(6, 14)
            continue
        w = rng.choice(_WORDS)
        if capital:
            w = w.capitalize()
            capital = False
        out.append(w if not out else " " + w)
        since += 1
    return out


def natural_length(seed, lo=24, hi=160):
    return random.Random(seed ^ 0x5EED).randint(lo, hi)


def text_to_pieces(text):
    return _PIECE_RE.findall(text)
