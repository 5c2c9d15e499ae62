"""A JAX model over replicate seeds: its `Replicate` for `nnreg.replicates`' batches."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnreg.config import DataParams, JaxModel
from nnreg.data import true_grid
from nnreg.jax_training import init_model, make_model_epoch
from nnreg.replicates import Replicate, end_point, replicate_dataset, replicate_keys


def make_replicate_fn(model: JaxModel, data: DataParams, epochs: int, seed: int) -> Replicate:
    """Replicate `index` of a resolved `model`: its own data and initial network, trained
    without the per-epoch validation pass (only the end point is kept), then evaluated."""
    truth = true_grid(data)

    def start(index, learning_rate=None):
        _, init_key = replicate_keys(seed, index)
        params = init_model(model, init_key)
        optimizer, _ = make_model_epoch(model, learning_rate)
        return params, optimizer.init(params), jnp.int32(-1)

    def advance(carry, index, learning_rate, begin, end):
        _, epoch = make_model_epoch(model, learning_rate)
        train = replicate_dataset(seed, index, data)
        return jax.lax.fori_loop(begin, end, lambda i, c: epoch(c, i, train)[0], carry)

    def finish(carry, index):
        params, _, first_bad = carry
        return end_point(params, first_bad, replicate_dataset(seed, index, data), truth, model.activation)

    return Replicate(start, advance, finish, epochs)
