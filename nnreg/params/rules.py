"""Constraints that carry their own one-line rule and their JSON Schema: numeric bounds, strict
scalars (no bool as a number, no float as an int, no inf or nan, no str as anything else), a
list with one rule over the whole of it. `nnreg.params.schema` builds params.yaml's sections
from them."""

from __future__ import annotations

import math
from typing import Annotated, Any, Callable

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, Strict
from pydantic_core import PydanticCustomError, core_schema

INT32_MAX = 2**31 - 1


def _num(x: float) -> str:
    """A bound as a person writes it: 0, 0.5, 1000, 1e6, 65536."""
    if x == int(x):
        x = int(x)
        exponent = int(math.log10(x)) if x > 0 else 0
        return f"1e{exponent}" if x >= 10**5 and x == 10**exponent else str(x)
    return repr(x)


class Rule:
    """A constraint on a field: `check(value)` after the type is right, with `text` as the
    rule in the error message, and `schema` added to the field's JSON Schema."""

    def __init__(self, check: Callable[[Any], bool], text: str, schema: dict | None = None):
        self.check, self.text, self.schema = check, text, schema or {}

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value):
            if not self.check(value):
                raise PydanticCustomError("rule", self.text)
            return value

        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        out = handler(schema)
        out.update(self.schema)
        return out


def Bounds(ge=None, gt=None, le=None, lt=None, why: str = "") -> Rule:  # noqa: N802 (a constraint, as Field)
    """Numeric bounds, with a rule text made from them and JSON Schema's minimum/maximum."""
    low = (f">= {_num(ge)}", "[", ge) if ge is not None else (f"> {_num(gt)}", "(", gt) if gt is not None else None
    high = (f"<= {_num(le)}", "]", le) if le is not None else (f"< {_num(lt)}", ")", lt) if lt is not None else None
    if low and high:
        text = (f"must be between {_num(low[2])} and {_num(high[2])}" if (low[1], high[1]) == ("[", "]")
                else f"must be {low[0]} and {high[0]}" if low[1] == "(" and high[1] == "]"
                else f"must be in {low[1]}{_num(low[2])}, {_num(high[2])}{high[1]}")
    else:
        text = f"must be {(low or high)[0]}"
    schema = {k: v for k, v in (("minimum", ge), ("exclusiveMinimum", gt), ("maximum", le), ("exclusiveMaximum", lt))
              if v is not None}

    def check(v):
        return ((ge is None or v >= ge) and (gt is None or v > gt) and (le is None or v <= le)
                and (lt is None or v < lt))

    return Rule(check, text + (f", {why}" if why else ""), schema)


def _fits_32_bits(value):
    """Before the type check: an integer too big for the trainers' 32-bit keys gets its own rule."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT32_MAX:
        raise PydanticCustomError("int32", "must fit in 32 bits")
    return value


class _Int32:
    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_before_validator_function(_fits_32_bits, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        return {**handler(schema), "minimum": -INT32_MAX, "maximum": INT32_MAX}


# Strict scalars: no bool as a number, no float as an int, no inf or nan, no str as anything else.
Int = Annotated[int, Strict(), _Int32()]
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
Seed = Annotated[Int, Bounds(ge=0)]
Rate = Annotated[Float, Bounds(gt=0, le=1e3)]
Unit = Annotated[Float, Bounds(ge=0, lt=1)]
Nonneg = Annotated[Float, Bounds(ge=0, le=1e6)]
Steps = Annotated[Int, Bounds(ge=1, le=10**9)]
Halvings = Annotated[Int, Bounds(ge=0, le=100)]
def list_with_rule(item, check: Callable[[tuple], bool], text: str, schema: dict):
    """A list in YAML, a tuple in Python, with one rule over the whole list."""
    return Annotated[tuple[item, ...], Strict(False), Rule(check, text, schema)]


LayerSizes = list_with_rule(Annotated[int, Strict()],
                   lambda v: 2 <= len(v) <= 64 and v[0] == 1 and v[-1] == 1 and all(1 <= n <= 4096 for n in v),
                   "must be a list of 2 to 64 ints in [1, 4096] starting and ending with 1",
                   {"minItems": 2, "maxItems": 64, "items": {"type": "integer", "minimum": 1, "maximum": 4096},
                    "prefixItems": [{"const": 1}]})
