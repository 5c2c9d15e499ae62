"""The Keras trainer's pieces: the lecture's layer count, Keras's seeded and per-replicate
initialisation, progress lines."""

import jax
import keras
import numpy as np
import pytest

from nnreg.core.network import layer_sizes
from nnreg.core.replicates import replicate_keys
from nnreg.runtime.progress import Progress
from nnreg.trainers.keras import build_model, fit_model, get_network, initial_weights, keras_layer_widths

pytestmark = pytest.mark.keras

SIZES = (1, 10, 10, 10, 1)


def test_layer_count_as_the_jax_models_or_as_the_lecture():
    assert keras_layer_widths(SIZES, False) == [10, 10, 10, 1]
    assert keras_layer_widths(SIZES, True) == [10, 10, 10, 10, 1]
    assert build_model(SIZES, "tanh", 0.01).count_params() == 251
    assert build_model(SIZES, "tanh", 0.01, lecture_layer_count=True).count_params() == 361


def test_seeded_initialisation_is_deterministic():
    keras.utils.set_random_seed(1234)
    a = get_network(build_model(SIZES, "tanh", 0.01))
    keras.utils.set_random_seed(1234)
    b = get_network(build_model(SIZES, "tanh", 0.01))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)
    assert layer_sizes(a) == list(SIZES) and sum(leaf.size for leaf in jax.tree.leaves(a)) == 251


def test_progress_lines(tiny_dataset):

    lines = []
    model = build_model((1, 3, 1), "tanh", 0.01)
    _, history, _ = fit_model(model, *tiny_dataset, epochs=20, progress=Progress("keras", 20, write=lines.append))
    assert [line.split(" (")[0] for line in lines] == [f"keras: epoch {e}/20" for e in range(2, 21, 2)]
    assert f"loss {history.train_loss[-1]:.6f}, val_loss {history.validate_loss[-1]:.6f};" in lines[-1]
    assert lines[-1].endswith(" s, done") and " s left" in lines[0]


def test_a_keras_replicate_starts_from_keras_s_initialisers():
    """Each Dense kernel is the layer's own Glorot-uniform initialiser drawn from the replicate's init
    key (within its limit, different for each replicate and layer, the same for the same key);
    biases are Keras's zeros."""
    model = build_model(SIZES, "tanh", 0.01)
    first, again, other = (initial_weights(model, replicate_keys(7, i)[1]) for i in (0, 0, 1))
    assert [w.shape for w in first] == [tuple(v.shape) for v in model.trainable_variables]
    for W, b, (fan_in, fan_out) in zip(first[::2], first[1::2], zip(SIZES[:-1], SIZES[1:]), strict=True):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.all(np.abs(np.asarray(W)) <= limit) and np.abs(np.asarray(W)).max() > limit / 2
        np.testing.assert_array_equal(np.asarray(b), 0.0)
    for a, b, c in zip(first[::2], again[::2], other[::2], strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(c))
