"""How params show up in messages: a value as YAML writes it, and a pydantic error as one
line naming the dotted key, the rule and the value (`network.layer_sizes: must be a list of 2
to 64 ints in [1, 4096] starting and ending with 1 (got [2, 10, 1])`).

Text only: nothing here decides whether params are valid (that is `nnreg.params.schema`), so
editing a message reruns no stage (the dvc.yaml test lists this module as text only).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from nnreg.params.vocabulary import DEFAULT_TRAINER


def show(value: Any, depth: int = 0) -> str:
    """`value` as it looks in YAML, on one line and cut short: [2, 10, 1], true, null, .inf."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**40 else f"{str(value)[:12]}... ({len(str(abs(value)))} digits)"
        return text
    if isinstance(value, float):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan" if value != value else repr(value))
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "..."
        plain = (bool(text) and text.isprintable() and text.strip() == text
                 and not any(c in text for c in ":#,[]{}&*!|>'\"%@`?-"))
        return text if plain and _reads_back(text) else _quoted(text)
    if depth >= 3:
        return "..."
    if isinstance(value, (list, tuple)):
        items = [show(v, depth + 1) for v in value[:6]] + (["..."] if len(value) > 6 else [])
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        items = [f"{show_key(k)}: {show(v, depth + 1)}" for k, v in list(value.items())[:4]]
        return "{" + ", ".join(items + (["..."] if len(value) > 4 else [])) + "}"
    return show(str(value), depth)


def _reads_back(text: str) -> bool:
    """Whether YAML reads `text`, unquoted, as this string (not a number, a bool, a date...)."""
    try:
        return yaml.safe_load(text) == text
    except (yaml.YAMLError, ValueError, OverflowError):
        return False


def _quoted(text: str) -> str:
    """`text` in double quotes, every character that does not print as itself escaped: the
    controls and line breaks JSON escapes, and those it leaves raw (NEL, U+2028, zero-width
    marks...), which would split or hide a one-line message."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                   for c in json.dumps(text, ensure_ascii=False))


def show_key(k: Any) -> str:
    """A key as it goes into a dotted key: as written for plain names, quoted for any other
    (a dot, a space, a newline...), so that the dotted key reads one way only."""
    if isinstance(k, str):
        return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else _quoted(k)
    return show(k)


# What pydantic's error types say, as one rule each.
TYPE_TEXTS = {
    "int_type": "must be an integer", "float_type": "must be a number", "bool_type": "must be true or false",
    "string_type": "must be a string", "finite_number": "must be a finite number",
    "tuple_type": "must be a list", "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values", "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}


def _dotted(loc: tuple, raw: Any) -> str:
    """The dotted key of an error's location, without the tags pydantic puts in it for a
    discriminated union (`models.gd.jax.gd.b1` is `models.gd.b1`)."""
    parts, node, i = [], raw, 0
    loc = [e for e in loc if e != "[key]"]
    while i < len(loc):
        e = loc[i]
        parts.append(f"[{e}]" if isinstance(e, int) else ("." if parts else "") + show_key(e))
        node = (node.get(e) if isinstance(node, dict) else
                node[e] if isinstance(node, (list, tuple)) and isinstance(e, int) and e < len(node) else None)
        i += 1
        tags = ("trainer", "optimizer") if i == 2 and loc[0] == "models" else ("name",) if e == "schedule" else ()
        for tag in tags:
            given = node.get(tag) if isinstance(node, dict) else None
            given = DEFAULT_TRAINER if tag == "trainer" and given is None else given
            if i < len(loc) and loc[i] == given:
                i += 1
    return "".join(parts)


def one_line(error: dict, raw: Any, tags: dict[str, tuple[str, ...]]) -> str:
    """One line for one pydantic error of reading `raw`: `dotted.key: rule (got value)`. `tags`:
    the names each tag of a tagged union may take (trainer, optimizer, schedule name)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    key = _dotted(error["loc"], raw)
    if "key" in ctx:  # unknown or missing keys as written; dotted keys named by a rule as they are
        key = ".".join(filter(None, [key, show_key(ctx["key"]) if kind in ("unknown_key", "missing_key")
                                     else str(ctx["key"])]))
    if "name" in ctx:  # a model name as written
        key = f"{key}.{show_key(ctx['name'])}"
    if kind == "trainer_tag":  # the models: entry's trainer (a tag chosen by a function, not a key)
        given = value.get("trainer") if isinstance(value, dict) else value
        return f"{key}.trainer: must be one of {', '.join(tags['trainer'])} (got {show(given)})"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        tag = ctx["discriminator"].strip("'")
        key = f"{key}.{tag}"
        if kind == "union_tag_not_found":
            other = ""  # an entry with no trainer is a JAX model: it may have meant another trainer
            if tag == "optimizer" and isinstance(value, dict) and value.get("trainer") is None:
                other = f"; or trainer: {', '.join(t for t in tags['trainer'] if t != DEFAULT_TRAINER)}"
            return f"{key}: missing key (one of {', '.join(tags[tag])}{other})"
        return f"{key}: must be one of {', '.join(tags[tag])} (got {show(ctx['tag'])})"
    if kind in ("unknown_key", "missing_key", "mapping") or (kind == "rule" and ("key" in ctx or "name" in ctx)):
        text, got = error["msg"], kind == "mapping"
    elif kind == "literal_error":
        choices = ", ".join(c.strip("'") for c in ctx["expected"].replace(" or ", ", ").split(", "))
        text, got = (f"must be one of {choices}" if isinstance(value, str) else
                     f"must be a string, one of {choices}"), True
    elif kind in TYPE_TEXTS:
        text, got = TYPE_TEXTS[kind], True
    else:
        text, got = error["msg"][:1].lower() + error["msg"][1:], True
    return f"{key or 'params'}: {text}" + (f" (got {show(value)})" if got else "")


