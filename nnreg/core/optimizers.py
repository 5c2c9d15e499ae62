"""Optimizers with Optax's `init`/`update` shape, by the names params.yaml uses, so one training
loop (`nnreg.core.training.make_train_fn`) drives them all.

`gd` is written by hand over the parameter pytree (no optimizer library); `armijo` is gradient
descent with Armijo's backtracking line search, as the lecture's latest version writes it, built
from Optax's `scale_by_backtracking_linesearch`; every other name is Optax's function, with a
fixed learning rate or one of Optax's schedules (SCHEDULES). The two tables are the vocabulary:
`nnreg.params.schema` takes its names from them.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax


class Optimizer(NamedTuple):
    """A pair of pure functions, as `optax.GradientTransformation`. A line search's `update` also
    takes the objective's `value` at the params, its `grad` and `value_fn(params) -> value`
    (`optax.GradientTransformationExtraArgs`'s keywords)."""

    init: Callable[[Any], Any]  # params -> state
    update: Callable[..., tuple[Any, Any]]  # (grads, state, params[, value=, grad=, value_fn=]) -> (updates, state)
    line_search: bool = False


class GradientDescentState(NamedTuple):
    """Plain gradient descent keeps no state."""


def gradient_descent(learning_rate) -> Optimizer:
    """updates = -learning_rate * grads, leaf by leaf (the lecture's `p - λ g`).

    `learning_rate` may be a traced scalar (a sweep vmaps over it)."""

    def init(params):
        del params
        return GradientDescentState()

    def update(grads, state, params=None):
        del params
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return Optimizer(init, update)


def armijo(learning_rate, decrease_factor: float = 0.5, slope_rtol: float = 0.001,
           max_backtracking_steps: int = 20, mask=None) -> Optimizer:
    """Gradient descent whose step is found again at every epoch: it starts at `learning_rate` and
    is multiplied by `decrease_factor` until `value_fn(params - step * g) <= value - slope_rtol *
    step * sum(g**2)` (Armijo's sufficient decrease), at most `max_backtracking_steps` times (the
    last step is then taken whatever it gives). The defaults are the lecture's (0.01 to start).

    Optax's line search on the direction -g (`optax.scale(-1.0)`), its guess `learning_rate` at
    every epoch (`increase_factor=inf` under `max_learning_rate`): the steps the lecture's
    `train_jax_armijo_ls` takes, but for two things Optax decides otherwise. It sums g**2 over
    the leaves in another order and tests `(new - value) - step * c * slope <= 0` rather than
    `new <= value - c * step * g**2`, so a step on the boundary, to the last bit, may go the
    other way; and it refuses a step whose loss is not a number, where the lecture's test
    (`loss > threshold` is false for NaN) accepts it.

    `mask` (the search's padded networks): the direction is zero where it is 0, before the line
    search, so that no candidate moves the padding."""
    import optax

    masking = [optax.stateless(lambda updates, params: jax.tree.map(lambda u, m: u * m, updates, mask))] if (
        mask is not None) else []
    return Optimizer(*optax.chain(optax.scale(-1.0), *masking, optax.scale_by_backtracking_linesearch(
        max_backtracking_steps=max_backtracking_steps, slope_rtol=slope_rtol, decrease_factor=decrease_factor,
        increase_factor=math.inf, max_learning_rate=learning_rate)), line_search=True)


def _optax(name: str, **fixed) -> Callable[..., Optimizer]:
    """`make(learning_rate, **settings)`: Optax's `name` with `fixed` arguments under the settings."""

    def make(learning_rate, **settings) -> Optimizer:
        import optax  # only the Optax optimizers need it

        return Optimizer(*getattr(optax, name)(learning_rate, **{**fixed, **settings}))

    return make


# params.yaml's Optax optimizer names -> (Optax's function, fixed arguments): momentum and nesterov
# are Optax's sgd with momentum 0.9 (and Nesterov's variant); the rest are Optax's with its defaults.
OPTAX: dict[str, tuple[str, dict]] = {
    "sgd": ("sgd", {}),
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "adam": ("adam", {}),
    "adamw": ("adamw", {}),
    "rmsprop": ("rmsprop", {}),
    "adagrad": ("adagrad", {}),
    "lion": ("lion", {}),
}

# params.yaml's optimizer names -> `make(learning_rate, **settings)`: the hand-written gd, Optax's, then
# Armijo's line search.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "gd": lambda learning_rate: gradient_descent(learning_rate),
    **{name: _optax(function, **fixed) for name, (function, fixed) in OPTAX.items()},
    "armijo": armijo,
}
# The optimizers that take a fixed learning rate (a line search's first guess), not a schedule; the
# line searches (their update takes the objective's value, gradient and function).
FIXED_RATE = ("gd", "armijo")
LINE_SEARCH = ("armijo",)

# params.yaml's schedule names -> Optax's functions (the same arguments).
SCHEDULES: dict[str, str] = {
    "exponential_decay": "exponential_decay",
    "cosine_decay": "cosine_decay_schedule",
    "warmup_cosine_decay": "warmup_cosine_decay_schedule",
}


def make_schedule(name: str, args: dict) -> Callable:
    """The Optax schedule `step -> learning rate` named `name`, with Optax's arguments `args`."""
    import optax

    return getattr(optax, SCHEDULES[name])(**args)


def make_optimizer(name: str, learning_rate, settings: dict | None = None) -> Optimizer:
    """The optimizer named `name` at `learning_rate` (a number, a traced scalar or a schedule),
    with its own `settings` (b1, momentum, ...) as Optax names them."""
    return OPTIMIZERS[name](learning_rate, **(settings or {}))
