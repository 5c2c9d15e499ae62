"""Final training and validation MSE of a trained network, the same way for every model."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from nnreg.core.data import Dataset
from nnreg.core.network import Activation, Network, forward, layer_sizes, mse, parameter_count
from nnreg.core.training import diverged


def predict(params: Network, x, activation: Activation) -> np.ndarray:
    """Network outputs for inputs x: (n, 1) -> (n, 1), as float32 numpy."""
    return np.asarray(forward(jax.tree.map(jnp.asarray, params), jnp.asarray(x), activation))


def evaluate(params: Network, dataset: Dataset, activation: Activation, first_nonfinite_epoch: int = -1,
             truth: tuple | None = None) -> dict:
    """The model's metrics: its size, train_mse, validate_mse, true_mse and whether training diverged.

    `true_mse` is the error against the noiseless function on `truth`, a dense grid
    and the function's values there (`data.true_grid`); without it, null. A run whose
    loss went non-finite, or whose MSEs are not, is `diverged` (`training.diverged`), with its
    first bad epoch, and its MSEs are null: a blown-up run must never pass for a result.
    `first_nonfinite_epoch` is the History's index (0-based, -1 if none); the metrics count
    epochs from 1, as the history CSV's `epoch` column, the progress lines and the log do.
    """
    params = jax.tree.map(jnp.asarray, params)
    train_mse = float(mse(params, dataset.x_train, dataset.y_train, activation))
    validate_mse = float(mse(params, dataset.x_validate, dataset.y_validate, activation))
    true_mse = float(mse(params, *truth, activation)) if truth is not None else math.nan
    bad = bool(diverged(first_nonfinite_epoch, train_mse, validate_mse, *([true_mse] if truth is not None else [])))
    return {
        "n_parameters": parameter_count(layer_sizes(params)),
        "train_mse": None if bad else train_mse,
        "validate_mse": None if bad else validate_mse,
        "true_mse": None if bad or truth is None else true_mse,
        "diverged": bad,
        "first_nonfinite_epoch": int(first_nonfinite_epoch) + 1 if first_nonfinite_epoch >= 0 else None,
    }
