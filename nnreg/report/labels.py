"""How the report names the models (the lecture's four ways first, then any other by its name)
and writes its numbers and tables."""

import math
from typing import Sequence

# The lecture's four ways of training the same network, as params.yaml's defaults name them.
LECTURE_MODELS = ("keras", "gd", "optax_sgd", "optax_adam")

# Human names, as in the lecture's tables; any other model is shown by its name.
METHOD_NAMES = {
    "keras": "Keras",
    "gd": "Pure JAX (hand-coded GD)",
    "optax_sgd": "JAX + Optax SGD",
    "optax_adam": "JAX + Optax ADAM",
    "deep": "1. Deeper network (6 layers)",
    "deep_schedule": "2. Deeper network + LR schedule",
    "deep_schedule_l2": "3. Strategy 2 + L2 regularization",
    "adam_l2": "4. Baseline + L2 regularization",
    "elu": "ELU activation",
    "selu": "SELU activation",
    "schedule_l2": "LR schedule and L2 regularization",
    "armijo": "Baseline + Armijo line search",
}


def method_name(model: str) -> str:
    return METHOD_NAMES.get(model, model)


def fmt(value, digits: int, signed: bool = False) -> str:
    """A number to `digits` decimals (with its sign if `signed`), or n/a for none or non-finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], align: str, rows: list[list[str]]) -> str:
    """A Markdown table; `align` has one letter a column: l(eft) or r(ight)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
