"""params.yaml's words for a model, taken from the tables that implement them: a trainer (a
module of `nnreg.trainers`), an activation (`nnreg.core.activations`), an initializer
(`nnreg.core.initializers`), each optimizer's own settings with their types
(`nnreg.core.optimizers`). `nnreg.params.schema` (models:) and `nnreg.params.search`
(search:) use the same words."""

from __future__ import annotations

from typing import Literal

from nnreg.core.activations import ACTIVATIONS
from nnreg.core.initializers import INITIALIZERS
from nnreg.core.optimizers import OPTIMIZERS
from nnreg.params.rules import Bool, Halvings, Nonneg, Unit

# params.yaml's `trainer:` names, each a module of nnreg.trainers; jax when an entry gives none.
TRAINERS = ("jax", "keras")
DEFAULT_TRAINER = "jax"

Activation = Literal[tuple(ACTIVATIONS)]
Init = Literal[tuple(INITIALIZERS)]


# Each optimizer's own settings beyond the common keys, as Optax names them (gd has none; armijo's
# learning_rate is its line search's first step at every epoch).
SETTINGS: dict[str, dict] = {
    "sgd": dict(momentum=Unit, nesterov=Bool),
    "momentum": dict(momentum=Unit),
    "nesterov": dict(momentum=Unit),
    "adam": dict(b1=Unit, b2=Unit, eps=Nonneg, eps_root=Nonneg),
    "adamw": dict(b1=Unit, b2=Unit, eps=Nonneg, eps_root=Nonneg, weight_decay=Nonneg),
    "rmsprop": dict(decay=Unit, eps=Nonneg, initial_scale=Nonneg, centered=Bool, momentum=Unit, nesterov=Bool),
    "adagrad": dict(initial_accumulator_value=Nonneg, eps=Nonneg),
    "lion": dict(b1=Unit, b2=Unit, weight_decay=Nonneg),
    "armijo": dict(decrease_factor=Unit, slope_rtol=Unit, max_backtracking_steps=Halvings),
}
if not set(SETTINGS) <= set(OPTIMIZERS):
    raise ImportError(f"settings for optimizers nnreg.core.optimizers lacks: {sorted(set(SETTINGS) - set(OPTIMIZERS))}")
