"""The network: the lecture's initialisation and forward pass, gradients against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnreg.core.activations import ACTIVATIONS
from nnreg.core.network import forward, init_network, layer_sizes, mse, parameter_count
from lecture import reference

SIZES = (1, 10, 10, 10, 1)


def test_init_shapes_ones_and_lecture_draws():
    key = jax.random.PRNGKey(1234)
    params = init_network(key, SIZES)
    assert [(l.W.shape, l.b.shape) for l in params] == [((1, 10), (1, 10)), ((10, 10), (1, 10)),
                                                        ((10, 10), (1, 10)), ((10, 1), (1, 1))]
    assert layer_sizes(params) == list(SIZES)
    assert parameter_count(SIZES) == sum(leaf.size for leaf in jax.tree.leaves(params)) == 251
    for layer in params:
        np.testing.assert_array_equal(np.asarray(layer.b), 1.0)
    for ours, lecture in zip(params, reference.initialize_network(key, SIZES), strict=True):
        np.testing.assert_array_equal(np.asarray(ours.W), np.asarray(lecture.W))


def test_he_scale():
    (layer,) = init_network(jax.random.PRNGKey(0), (200, 300))
    assert np.std(np.asarray(layer.W)) == pytest.approx(np.sqrt(2 / 200), rel=0.02)
    assert abs(np.mean(np.asarray(layer.W))) < 0.005


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_matches_the_lecture_row_layout(activation):
    params = init_network(jax.random.PRNGKey(5), SIZES)
    x = jnp.linspace(0.0, 5.0, 33).reshape(33, 1)
    out = forward(params, x, activation)
    assert out.shape == (33, 1) and out.dtype == jnp.float32
    expected = reference.f(params, x, ACTIVATIONS[activation])
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=2e-6, atol=2e-6)


def _forward64(params, x):
    h = x
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    return h @ W + b


def test_gradients_match_finite_differences(tiny_dataset):
    """jax.grad in float32 against central differences of a float64 numpy forward pass."""
    params = init_network(jax.random.PRNGKey(7), (1, 4, 3, 1))
    x, y = np.asarray(tiny_dataset.x_train, np.float64), np.asarray(tiny_dataset.y_train, np.float64)
    grads = jax.jit(jax.grad(mse))(params, tiny_dataset.x_train, tiny_dataset.y_train)
    p64 = [[np.asarray(a, np.float64) for a in layer] for layer in params]

    def loss64(p):
        return np.mean((_forward64(p, x) - y) ** 2)

    h = 1e-6
    for i, layer in enumerate(p64):
        for j, a in enumerate(layer):
            fd = np.zeros_like(a)
            for idx in np.ndindex(a.shape):
                old = a[idx]
                a[idx] = old + h
                up = loss64(p64)
                a[idx] = old - h
                down = loss64(p64)
                a[idx] = old
                fd[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(np.asarray(grads[i][j]), fd, rtol=1e-3, atol=1e-5)
