"""A JAX model from its params entry: its initial network, its optimizer, its training function.

Optimizers have Optax's `init`/`update` shape, so one training loop
(`nnreg.training.make_train_fn`) drives them all. `gradient_descent` is written by
hand over the parameter pytree (no optimizer library); every other name in
`config.OPTIMIZERS` is Optax's, with a fixed learning rate or one of Optax's
schedules.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

from nnreg.config import JaxModel, Schedule
from nnreg.network import Network, init_network
from nnreg.training import make_epoch, make_train_fn


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


# params.yaml's schedule names -> Optax's functions (same arguments).
_SCHEDULE_FNS = {
    "exponential_decay": "exponential_decay",
    "cosine_decay": "cosine_decay_schedule",
    "warmup_cosine_decay": "warmup_cosine_decay_schedule",
}

# params.yaml's optimizer names -> (Optax's function, fixed arguments).
_OPTAX_FNS = {
    "sgd": ("sgd", {}),
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "adam": ("adam", {}),
    "adamw": ("adamw", {}),
    "rmsprop": ("rmsprop", {}),
    "adagrad": ("adagrad", {}),
    "lion": ("lion", {}),
}


def make_schedule(schedule: Schedule) -> Callable:
    """The Optax schedule `step -> learning rate` that a params entry names."""
    import optax

    return getattr(optax, _SCHEDULE_FNS[schedule.name])(**schedule.args)


def make_optimizer(model: JaxModel, learning_rate=None) -> Optimizer:
    """The optimizer of a JAX model entry; `learning_rate` (maybe traced) overrides its own."""
    rate = learning_rate if learning_rate is not None else model.learning_rate
    if model.optimizer == "gd":
        return gradient_descent(rate)
    import optax  # only the Optax models need it

    if learning_rate is None and model.schedule is not None:
        rate = make_schedule(model.schedule)
    name, fixed = _OPTAX_FNS[model.optimizer]
    return Optimizer(*getattr(optax, name)(rate, **{**fixed, **model.settings}))


def init_model(model: JaxModel, key: jax.Array) -> Network:
    """A resolved model's initial (W, b) layers, drawn from `key`."""
    return init_network(key, model.layer_sizes, model.init)


def make_model_train_fn(model: JaxModel, epochs: int, learning_rate=None, validate_every_epoch: bool = True,
                        shared_x: bool = False):
    """`train(params, x, y, x_validate, y_validate) -> (params, History)` for a resolved model entry
    (`shared_x`: x_validate is x, see `make_train_fn`)."""
    return make_train_fn(make_optimizer(model, learning_rate), epochs, model.activation, model.l2,
                         validate_every_epoch, shared_x)


def make_model_epoch(model: JaxModel, learning_rate=None, validate_every_epoch: bool = False):
    """(optimizer, epoch) of a resolved model entry: `epoch(carry, index, data)` is one step of
    `make_model_train_fn`'s loop, for loops that run in chunks (`nnreg.replicates`)."""
    optimizer = make_optimizer(model, learning_rate)
    return optimizer, make_epoch(optimizer, model.activation, model.l2, validate_every_epoch)
