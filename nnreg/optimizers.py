"""Optimizers with Optax's `init`/`update` shape, so one training loop drives them all.

`gradient_descent` is written by hand over the parameter pytree (no optimizer
library); `optax_sgd` and `optax_adam` are Optax's.
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


def gradient_descent(learning_rate: float) -> Optimizer:
    """updates = -learning_rate * grads, leaf by leaf (the lecture's `p - λ g`)."""

    def init(params):
        del params
        return GradientDescentState()

    def update(grads, state, params=None):
        del params
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return Optimizer(init, update)


def make_optimizer(model: str, learning_rate: float) -> Optimizer:
    """The optimizer behind one of the JAX models (`gd`, `optax_sgd`, `optax_adam`)."""
    if model == "gd":
        return gradient_descent(learning_rate)
    import optax  # only the Optax models need it

    if model == "optax_sgd":
        return Optimizer(*optax.sgd(learning_rate))
    if model == "optax_adam":
        return Optimizer(*optax.adam(learning_rate))
    raise ValueError(f"not a JAX model: {model!r}")
