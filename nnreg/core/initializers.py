"""How a layer's (W, b) start, by the names params.yaml uses (`init:`).

The table is the vocabulary: `nnreg.params.schema` takes its names from it. Each entry maps
`(key, in_dim, out_dim)` to W of shape (in, out) and b of shape (1, out).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def he_normal(key: jax.Array, in_dim: int, out_dim: int) -> tuple[jax.Array, jax.Array]:
    """The lecture's: N(0, 2/in) weights, ones for biases."""
    W = jax.random.normal(key, shape=(in_dim, out_dim)) * jnp.sqrt(2 / in_dim)
    return W, jnp.ones((1, out_dim))


def _zero_bias(initializer) -> Callable:
    """jax.nn.initializers' weights (Keras's conventions: fan_in axis -2, fan_out -1), zero biases."""

    def init(key: jax.Array, in_dim: int, out_dim: int) -> tuple[jax.Array, jax.Array]:
        return initializer(key, (in_dim, out_dim), jnp.float32), jnp.zeros((1, out_dim))

    return init


INITIALIZERS: dict[str, Callable[[jax.Array, int, int], tuple[jax.Array, jax.Array]]] = {
    "he_normal": he_normal,
    "glorot_normal": _zero_bias(jax.nn.initializers.glorot_normal()),
    "glorot_uniform": _zero_bias(jax.nn.initializers.glorot_uniform()),
    "lecun_normal": _zero_bias(jax.nn.initializers.lecun_normal()),
}


# The size each initializer's weight scale divides by (every scale here is 1/sqrt(fan) times a
# constant): the layer's inputs, or the mean of its inputs and outputs.
FANS: dict[str, str] = {"he_normal": "in", "glorot_normal": "avg", "glorot_uniform": "avg", "lecun_normal": "in"}
if set(FANS) != set(INITIALIZERS):
    raise ImportError(f"initializers without a fan: {sorted(set(INITIALIZERS) ^ set(FANS))}")


def _fan(name: str, in_dim, out_dim):
    return in_dim if FANS[name] == "in" else (in_dim + out_dim) / 2


def init_within(name: str, key: jax.Array, in_dim, out_dim, in_pad: int, out_pad: int):
    """An in_dim x out_dim layer (the sizes may be traced) drawn by initializer `name` inside a
    zero-padded in_pad x out_pad one: the initializer's draw at the padded shape, its weights
    rescaled from the padded shape's fan to the layer's (the same distribution, as every scale
    is 1/sqrt(fan)), zero outside the layer. With no padding, exactly `INITIALIZERS[name]`'s draw."""
    W, b = INITIALIZERS[name](key, in_pad, out_pad)
    W = W * jnp.sqrt(_fan(name, in_pad, out_pad) / _fan(name, in_dim, out_dim))
    rows, cols = jnp.arange(in_pad)[:, None] < in_dim, jnp.arange(out_pad)[None, :] < out_dim
    return jnp.where(rows & cols, W, 0.0), jnp.where(cols, b, 0.0)
