"""JSON-schema "grammar": compile checks (like a grammar backend would) and instance generation."""
import random

from . import tokenizer

_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


class GrammarError(Exception):
    pass


def compile_schema(schema):
    """Raise GrammarError for a schema a grammar backend could not compile."""
    _check(schema, schema, "$", 0)


def _resolve(root, ref):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise GrammarError("Unsupported $ref: %r" % (ref,))
    node = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            raise GrammarError("Cannot resolve $ref %r" % ref)
        node = node[part]
    return node


def _check(node, root, where, depth):
    if depth > 32:
        raise GrammarError("Schema nesting too deep at %s" % where)
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise GrammarError("Schema at %s must be an object or boolean, got %s" % (where, type(node).__name__))
    if "$ref" in node:
        _resolve(root, node["$ref"])
    types = node.get("type")
    if types is not None:
        for t in (types if isinstance(types, list) else [types]):
            if t not in _TYPES:
                raise GrammarError('Unsupported type "%s" at %s' % (t, where))
    props = node.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise GrammarError("properties at %s must be an object" % where)
        for k, v in props.items():
            _check(v, root, "%s.%s" % (where, k), depth + 1)
    req = node.get("required")
    if req is not None and not (isinstance(req, list) and all(isinstance(r, str) for r in req)):
        raise GrammarError("required at %s must be an array of strings" % where)
    if "items" in node:
        _check(node["items"], root, where + "[]", depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            if not isinstance(node[key], list) or not node[key]:
                raise GrammarError("%s at %s must be a non-empty array" % (key, where))
            for i, sub in enumerate(node[key]):
                _check(sub, root, "%s.%s[%d]" % (where, key, i), depth + 1)
    if "enum" in node and not (isinstance(node["enum"], list) and node["enum"]):
        raise GrammarError("enum at %s must be a non-empty array" % where)
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for k, v in node[key].items():
                _check(v, root, "%s.%s.%s" % (where, key, k), depth + 1)


_NAMES = ["Python", "Rust", "Go", "Java", "Kotlin", "Swift", "Haskell", "Julia", "Ruby", "Scala"]


def _words(rng, n):
    return " ".join(rng.choice(tokenizer._WORDS) for unused_i in range(n))


def _string(node, rng, key):
    enum = node.get("enum")
    if enum:
        return rng.choice(enum)
    fmt = node.get("format")
    if fmt == "date":
        return "20%02d-%02d-%02d" % (rng.randint(0, 30), rng.randint(1, 12), rng.randint(1, 28))
    if fmt == "date-time":
        return "2026-%02d-%02dT%02d:00:00Z" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23))
    if fmt == "email":
        return "%s@example.com" % rng.choice(tokenizer._WORDS)
    if fmt in ("uri", "url"):
        return "https://example.com/%s" % rng.choice(tokenizer._WORDS)
    if fmt == "uuid":
        return "%08x-0000-4000-8000-%012x" % (rng.getrandbits(32), rng.getrandbits(48))
    k = (key or "").lower()
    if "name" in k or "title" in k:
        s = rng.choice(_NAMES)
    else:
        s = _words(rng, rng.randint(2, 6)).capitalize()
    lo = int(node.get("minLength", 0) or 0)
    hi = node.get("maxLength")
    while len(s) < lo:
        s += " " + rng.choice(tokenizer._WORDS)
    if isinstance(hi, int):
        s = s[:max(hi, 0)]
        if len(s) < lo:
            s = s + "x" * (lo - len(s))
    return s


def _number(node, rng, integer, key):
    lo = node.get("minimum")
    hi = node.get("maximum")
    if isinstance(node.get("exclusiveMinimum"), (int, float)) and not isinstance(node.get("exclusiveMinimum"), bool):
        lo = node["exclusiveMinimum"] + (1 if integer else 0.01)
    if isinstance(node.get("exclusiveMaximum"), (int, float)) and not isinstance(node.get("exclusiveMaximum"), bool):
        hi = node["exclusiveMaximum"] - (1 if integer else 0.01)
    k = (key or "").lower()
    if lo is None and hi is None and "year" in k:
        lo, hi = 1950, 2020
    lo = 0 if lo is None else lo
    hi = lo + 100 if hi is None else hi
    if hi < lo:
        hi = lo
    if integer:
        import math
        lo_i, hi_i = math.ceil(lo), math.floor(hi)
        return rng.randint(lo_i, max(lo_i, hi_i))
    return round(rng.uniform(lo, hi), 2)


def generate(schema, rng, root=None, key=None, depth=0):
    """A value valid against `schema` (the supported subset)."""
    root = schema if root is None else root
    if schema is True or schema == {} or depth > 16:
        return _words(rng, 3) if depth <= 16 else None
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return generate(_resolve(root, schema["$ref"]), rng, root, key, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema and schema["enum"]:
        return rng.choice(schema["enum"])
    for k in ("anyOf", "oneOf"):
        if k in schema:
            return generate(schema[k][0], rng, root, key, depth + 1)
    if "allOf" in schema:
        merged = {}
        for sub in schema["allOf"]:
            if isinstance(sub, dict):
                for kk, vv in sub.items():
                    if kk == "properties":
                        merged.setdefault("properties", {}).update(vv)
                    elif kk == "required":
                        merged.setdefault("required", []).extend(vv)
                    else:
                        merged[kk] = vv
        return generate(merged, rng, root, key, depth + 1)
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        t = non_null[0] if non_null else "null"
    if t is None:
        t = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if t == "object":
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        out = {}
        for name, sub in props.items():
            out[name] = generate(sub, rng, root, name, depth + 1)
        for name in required:
            if name not in out:
                out[name] = _words(rng, 2)
        if not out and schema.get("additionalProperties", True) is not False and depth == 0:
            out = {"response": _words(rng, rng.randint(4, 9)).capitalize() + "."}
        return out
    if t == "array":
        lo = int(schema.get("minItems", 0) or 0)
        hi = schema.get("maxItems")
        n = max(lo, 3)
        if isinstance(hi, int):
            n = min(n, hi)
        items = schema.get("items", {})
        return [generate(items, rng, root, key, depth + 1) for unused_i in range(max(n, lo))]
    if t == "string":
        return _string(schema, rng, key)
    if t == "integer":
        return _number(schema, rng, True, key)
    if t == "number":
        return _number(schema, rng, False, key)
    if t == "boolean":
        return rng.random() < 0.5
    return None


def violate(value, schema):
    """Turn a valid instance into one that violates `schema` (wrong types, missing required keys)."""
    if isinstance(value, dict) and isinstance(schema, dict):
        if not schema.get("properties") and not schema.get("required"):
            return [value]  # only "an object" is required: a list breaks it
        out = dict(value)
        required = list(schema.get("required") or [])
        changed = False
        if required and required[0] in out:
            del out[required[0]]
            changed = True
        for name in list(out):
            v = out[name]
            if isinstance(v, bool) or v is None:
                out[name] = "not-a-bool"
            elif isinstance(v, (int, float)):
                out[name] = "not-a-number"
            elif isinstance(v, str):
                out[name] = 12345
            elif isinstance(v, list):
                out[name] = {"unexpected": True}
            else:
                out[name] = []
            changed = True
            break
        return out if changed else [value]
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, str):
        return 0
    return "wrong-type"


def instance(schema, seed):
    return generate(schema, random.Random(seed))
