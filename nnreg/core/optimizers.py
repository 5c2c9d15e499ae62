"""Optimizers with Optax's `init`/`update` shape, by the names params.yaml uses, so one training
loop (`nnreg.core.training.make_train_fn`) drives them all.

`gd` is written by hand over the parameter pytree (no optimizer library); every other name
is Optax's function, with a fixed learning rate or one of Optax's schedules (SCHEDULES). The
two tables are the vocabulary: `nnreg.params.schema` takes its names from them.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax


class Optimizer(NamedTuple):
    """A pair of pure functions, as `optax.GradientTransformation`."""

    init: Callable[[Any], Any]  # params -> state
    update: Callable[..., tuple[Any, Any]]  # (grads, state, params) -> (updates, state)


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

# params.yaml's optimizer names -> `make(learning_rate, **settings)`: the hand-written gd, then Optax's.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "gd": lambda learning_rate: gradient_descent(learning_rate),
    **{name: _optax(function, **fixed) for name, (function, fixed) in OPTAX.items()},
}

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
