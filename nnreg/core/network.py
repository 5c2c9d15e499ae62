"""The 1-k-...-k-1 network as a pytree of (W, b) layers: its initialisation, forward pass and MSE.

Parameters keep the lecture's layout (W: (in, out), b: (1, out), the same as a Keras Dense
kernel), so the random draws and the numbers match the lecture. The forward pass runs
feature-major (activations (features, n)): the same arithmetic as `x @ W + b`, which XLA's
CPU backend runs faster (benchmarks/bench.py).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp

from nnreg.core.activations import ACTIVATIONS
from nnreg.core.initializers import INITIALIZERS


class LayerParams(NamedTuple):
    W: jax.Array  # (in, out)
    b: jax.Array  # (1, out)


Network = list  # list[LayerParams], a pytree

# A name of ACTIVATIONS, or an elementwise function (the search's traced choice among them).
Activation = Union[str, Callable[[jax.Array], jax.Array]]


def parameter_count(layer_sizes: Sequence[int]) -> int:
    """Weights and biases of the network with these widths (1-10-10-10-1: 251)."""
    return sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def layer_sizes(params: Network) -> list[int]:
    """The widths of `params`, input to output."""
    return [params[0].W.shape[0]] + [layer.W.shape[1] for layer in params]


def init_layer(key: jax.Array, in_dim: int, out_dim: int, init: str = "he_normal") -> LayerParams:
    """One layer's (W, b), drawn by the initializer named `init` (`initializers.INITIALIZERS`)."""
    return LayerParams(*INITIALIZERS[init](key, in_dim, out_dim))


def init_network(key: jax.Array, layer_sizes: Sequence[int], init: str = "he_normal") -> Network:
    """One layer per consecutive pair of sizes, each from a fresh split of `key` (as the lecture)."""
    params = []
    for in_dim, out_dim in zip(layer_sizes[:-1], layer_sizes[1:]):
        key, subkey = jax.random.split(key)
        params.append(init_layer(subkey, in_dim, out_dim, init))
    return params


def forward(params: Network, x: jax.Array, activation: Activation = "tanh") -> jax.Array:
    """f(params, x): (n, 1) -> (n, 1); the activation after every layer but the last."""
    sigma = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    *hidden, last = params
    h = x.T  # (1, n)
    for layer in hidden:
        h = sigma(layer.W.T @ h + layer.b.T)  # (out, n)
    return (last.W.T @ h + last.b.T).T  # (n, 1)


def mse(params: Network, x: jax.Array, y: jax.Array, activation: Activation = "tanh") -> jax.Array:
    """Mean squared error of the network on (x, y); a float32 scalar."""
    return jnp.mean((forward(params, x, activation) - y) ** 2)
