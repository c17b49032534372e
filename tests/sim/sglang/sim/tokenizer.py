"""A deterministic word-piece tokenizer, a ChatML chat template and a seeded text generator.

Token ids are stable across runs and machines (crc32 of the piece), so prefix-cache arithmetic
is reproducible. Every character of the input belongs to exactly one piece, so
`"".join(pieces) == text`.
"""
import random
import re
import zlib

IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643
SPECIAL_TOKENS = {"<|im_start|>": IM_START, "<|im_end|>": IM_END, "<|endoftext|>": ENDOFTEXT}
EOS_TOKEN_ID = IM_END
_SPECIAL_RE = re.compile(r"(<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>)")
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
