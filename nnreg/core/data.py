"""The lecture's synthetic regression data: y = sqrt(x) + sin(x) + noise * N(0, 1)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np


class DataSpec(Protocol):
    """What the generator reads of a data set's description (params.yaml's `data:` is one)."""

    seed: int  # the lecture's data key
    n_points: int  # points in each of the two sets
    x_min: float
    x_max: float
    noise: float  # standard deviation of the noise


class Dataset(NamedTuple):
    """Training and validation sets, each a pair of float32 column vectors."""

    x_train: jax.Array  # (n, 1)
    y_train: jax.Array  # (n, 1)
    x_validate: jax.Array  # (n, 1)
    y_validate: jax.Array  # (n, 1)

    def shares_x(self) -> bool:
        """Whether the validation inputs are the training inputs (as the generator draws them:
        one grid, two draws of noise); a training loop may then share the forward pass."""
        return self.x_train.shape == self.x_validate.shape and bool(np.array_equal(self.x_train, self.x_validate))


# Points of the dense grid on which a fit is compared with the true function.
TRUE_GRID_POINTS = 1000


def true_function(x: jax.Array) -> jax.Array:
    """The noiseless curve the data scatter around: sqrt(x) + sin(x)."""
    return x**0.5 + jnp.sin(x)


def generate_data(key: jax.Array, n_points: int, x_min: float, x_max: float, noise: float):
    """x evenly spaced on [x_min, x_max]; y = sqrt(x) + sin(x) + noise * eps. Returns (n, 1) columns."""
    x = jnp.linspace(x_min, x_max, num=n_points)  # (n,)
    eps = jax.random.normal(key, shape=(n_points,))  # (n,)
    y = true_function(x) + noise * eps  # (n,)
    return x.reshape(n_points, 1), y.reshape(n_points, 1)


def dataset_from_key(key: jax.Array, p: DataSpec) -> Dataset:
    """Both sets, from the two halves of a split of `key`, as the lecture does."""
    key_train, key_validate = jax.random.split(key)
    x_train, y_train = generate_data(key_train, p.n_points, p.x_min, p.x_max, p.noise)
    x_validate, y_validate = generate_data(key_validate, p.n_points, p.x_min, p.x_max, p.noise)
    return Dataset(x_train, y_train, x_validate, y_validate)


def make_dataset(p: DataSpec) -> Dataset:
    """The lecture's data: both sets from the `seed` key."""
    return dataset_from_key(jax.random.PRNGKey(p.seed), p)


def true_grid(p: DataSpec) -> tuple[jax.Array, jax.Array]:
    """A dense grid on [x_min, x_max] and the true function on it, as (m, 1) columns."""
    x = jnp.linspace(p.x_min, p.x_max, num=TRUE_GRID_POINTS).reshape(-1, 1)  # (m, 1)
    return x, true_function(x)
