"""The lecture's data: the formula, the seed's two halves, the same bits for the same seed."""

import jax
import jax.numpy as jnp
import numpy as np

from nnreg.params.schema import DataParams
from nnreg.core.data import generate_data, make_dataset
from lecture import reference


def test_formula_and_shapes():
    key = jax.random.PRNGKey(0)
    x, y = generate_data(key, 7, 1.0, 4.0, 0.3)
    assert x.shape == y.shape == (7, 1) and x.dtype == y.dtype == jnp.float32
    np.testing.assert_allclose(x[:, 0], np.linspace(1.0, 4.0, 7), rtol=1e-6)
    eps = np.asarray(jax.random.normal(key, (7,)))
    expected = np.sqrt(np.asarray(x[:, 0], np.float64)) + np.sin(np.asarray(x[:, 0], np.float64)) + 0.3 * eps
    np.testing.assert_allclose(np.asarray(y[:, 0]), expected, rtol=1e-5, atol=1e-6)


def test_noise_free_data_is_the_curve():
    _, y = generate_data(jax.random.PRNGKey(3), 5, 0.0, 5.0, 0.0)
    x = np.linspace(0.0, 5.0, 5)
    np.testing.assert_allclose(np.asarray(y[:, 0]), np.sqrt(x) + np.sin(x), rtol=1e-6, atol=1e-6)


def test_sets_come_from_the_two_halves_of_the_seed_key_as_in_the_lecture(lecture_dataset):
    key_train, key_validate = jax.random.split(jax.random.PRNGKey(14))
    for (x, y), (xr, yr) in [
        ((lecture_dataset.x_train, lecture_dataset.y_train), reference.generate_data(key_train)),
        ((lecture_dataset.x_validate, lecture_dataset.y_validate), reference.generate_data(key_validate)),
    ]:
        np.testing.assert_array_equal(np.asarray(x), np.asarray(xr))
        np.testing.assert_array_equal(np.asarray(y), np.asarray(yr))


def test_same_seed_same_bits_other_seed_other_data():
    a, b = make_dataset(DataParams(n_points=9)), make_dataset(DataParams(n_points=9))
    c = make_dataset(DataParams(n_points=9, seed=15))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert not np.array_equal(np.asarray(a.y_train), np.asarray(c.y_train))
    assert not np.array_equal(np.asarray(a.y_train), np.asarray(a.y_validate))
