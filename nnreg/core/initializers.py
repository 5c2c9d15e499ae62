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
