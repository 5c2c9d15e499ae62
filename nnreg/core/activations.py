"""The activations a network may use, by the names params.yaml (and Keras) use for them.

The table is the vocabulary: `nnreg.params.schema` takes its names from it, and the Keras
trainer passes the same names to Keras's Dense layers.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

# gelu is the exact (erf) form, as Keras's default.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": partial(jax.nn.gelu, approximate=False),
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
}
