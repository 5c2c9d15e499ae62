"""The 1-k-...-k-1 network as a pytree of (W, b) layers, its initialisation and loss.

Parameters keep the lecture's layout (W: (in, out), b: (1, out), the same as a
Keras Dense kernel), so the random draws and the numbers match the lecture. The
forward pass runs feature-major (activations (features, n)): the same arithmetic,
about three times faster on XLA's CPU backend than `x @ W + b`.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp


class LayerParams(NamedTuple):
    W: jax.Array  # (in, out)
    b: jax.Array  # (1, out)


Network = list  # list[LayerParams], a pytree

# Keras's names; gelu is the exact (erf) form, as Keras's default.
ACTIVATION_FNS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": partial(jax.nn.gelu, approximate=False),
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
}


def init_layer(key: jax.Array, in_dim: int, out_dim: int, init: str = "he_normal") -> LayerParams:
    """One layer's (W, b). `he_normal` is the lecture's: N(0, 2/in) weights, ones for biases.
    The others are jax.nn.initializers' (Keras's conventions), with zero biases."""
    if init == "he_normal":
        W = jax.random.normal(key, shape=(in_dim, out_dim)) * jnp.sqrt(2 / in_dim)
        return LayerParams(W, jnp.ones((1, out_dim)))
    W = INITIALIZERS[init](key, (in_dim, out_dim), jnp.float32)  # (in, out): fan_in axis -2, fan_out -1
    return LayerParams(W, jnp.zeros((1, out_dim)))


INITIALIZERS = {
    "glorot_normal": jax.nn.initializers.glorot_normal(),
    "glorot_uniform": jax.nn.initializers.glorot_uniform(),
    "lecun_normal": jax.nn.initializers.lecun_normal(),
}


def init_network(key: jax.Array, layer_sizes: Sequence[int], init: str = "he_normal") -> Network:
    """One layer per consecutive pair of sizes, each from a fresh split of `key` (as the lecture)."""
    params = []
    for in_dim, out_dim in zip(layer_sizes[:-1], layer_sizes[1:]):
        key, subkey = jax.random.split(key)
        params.append(init_layer(subkey, in_dim, out_dim, init))
    return params


def forward(params: Network, x: jax.Array, activation: str = "tanh") -> jax.Array:
    """f(params, x): (n, 1) -> (n, 1); the activation after every layer but the last."""
    sigma = ACTIVATION_FNS[activation]
    *hidden, last = params
    h = x.T  # (1, n)
    for layer in hidden:
        h = sigma(layer.W.T @ h + layer.b.T)  # (out, n)
    return (last.W.T @ h + last.b.T).T  # (n, 1)


def mse(params: Network, x: jax.Array, y: jax.Array, activation: str = "tanh") -> jax.Array:
    """Mean squared error of the network on (x, y); a float32 scalar."""
    return jnp.mean((forward(params, x, activation) - y) ** 2)


def count_params(params: Network) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(params))
