"""Keras trained for real: with the JAX models' initial weights it follows hand GD; its scan
loop is `fit`'s run to the bit; its replicates are Keras's own `fit` on their draws."""

import jax
import keras
import numpy as np
import pytest

from nnreg.core.data import dataset_from_key
from nnreg.core.network import init_network, mse
from nnreg.core.replicates import diverged, replicate_keys, run_batch
from nnreg.core.training import make_train_fn
from nnreg.params.schema import DataParams, KerasModel, NetworkParams, Params
from nnreg.trainers.jax import optimizer_of
from nnreg.trainers.keras import build_model, fit_model, initial_weights
from nnreg.trainers.keras import make_replicate, set_network

pytestmark = pytest.mark.keras

SIZES = (1, 10, 10, 10, 1)


def test_keras_with_the_jax_initial_weights_follows_gd(tiny_dataset):
    """Same weights and learning rate: Keras's trajectory is hand GD's, to float tolerance."""
    epochs, lr = 300, 0.001  # the JAX models' learning rate
    initial = init_network(jax.random.PRNGKey(1234), SIZES)
    model = build_model(SIZES, "tanh", lr)
    set_network(model, initial)
    k_net, k_hist, timing = fit_model(model, *tiny_dataset, epochs=epochs)
    gd_net, gd_hist = make_train_fn(optimizer_of(Params().models["gd"], lr), epochs)(initial, *tiny_dataset)

    np.testing.assert_allclose(k_hist.train_loss, np.asarray(gd_hist.train_loss), rtol=1e-4)
    np.testing.assert_allclose(k_hist.validate_loss, np.asarray(gd_hist.validate_loss), rtol=1e-4)
    for u, v in zip(jax.tree.leaves(k_net), jax.tree.leaves(gd_net), strict=True):
        np.testing.assert_allclose(u, np.asarray(v), rtol=1e-4, atol=1e-5)
    assert float(k_hist.train_loss[-1]) < float(k_hist.train_loss[0])
    assert timing.runtime_s > 0 and timing.platform in ("cpu", "gpu")
    assert float(mse(k_net, *tiny_dataset[2:])) == pytest.approx(float(k_hist.validate_loss[-1]), rel=1e-4)


@pytest.mark.parametrize("learning_rate", [0.01, 10.0], ids=["converges", "diverges"])
def test_the_scan_loop_is_fit_bit_for_bit(tiny_dataset, learning_rate):
    """`loop: scan` runs fit's own train and test steps in one compiled program: the same losses
    every epoch and the same final weights, to the bit (after a divergence too: fit stops at
    the first non-finite training loss, the scan records NaN from there and keeps the weights)."""
    epochs, runs = 300, {}
    for loop in ("fit", "scan"):
        keras.utils.set_random_seed(1234)
        model = build_model(SIZES, "tanh", learning_rate)
        runs[loop] = fit_model(model, *tiny_dataset, epochs=epochs, loop=loop)
        runs[loop] += (model.optimizer.iterations.numpy(),)
    (fit_net, fit_hist, fit_timing, fit_steps), (scan_net, scan_hist, scan_timing, scan_steps) = runs["fit"], runs["scan"]
    np.testing.assert_array_equal(scan_hist.train_loss, fit_hist.train_loss)
    np.testing.assert_array_equal(scan_hist.validate_loss, fit_hist.validate_loss)
    assert int(scan_hist.first_nonfinite_epoch) == int(fit_hist.first_nonfinite_epoch)
    for u, v in zip(jax.tree.leaves(scan_net), jax.tree.leaves(fit_net), strict=True):
        np.testing.assert_array_equal(u, v)
    assert scan_timing.epochs == epochs and scan_timing.runtime_s > 0 and scan_steps == fit_steps
    if learning_rate == 10.0:  # diverged within a few epochs: fit stopped, both padded with NaN
        assert fit_timing.epochs < 20 and np.isnan(fit_hist.train_loss[-1]) and np.isnan(scan_hist.train_loss[-1])
        assert int(fit_hist.first_nonfinite_epoch) >= 0
    else:
        assert fit_timing.epochs == fit_steps == epochs


# Keras over replicate seeds (nnreg.trainers.keras.make_replicate): a vmapped batch of Keras networks.
REPLICATE_DATA = DataParams(n_points=20)


def _keras_replicates(epochs, seed=7, learning_rate=0.01):
    entry = KerasModel(trainer="keras", learning_rate=learning_rate)
    return make_replicate(entry, NetworkParams(), REPLICATE_DATA, epochs, seed)


def test_a_keras_replicate_is_keras_s_fit_on_its_draws():
    """Replicate 2 of the vmapped batch: the network Keras's own `fit` trains from the same initial
    weights on the same data (the replicate's fresh noise), to float32 rounding."""
    epochs = 40
    result, timing = run_batch(_keras_replicates(epochs), [0, 2])
    assert timing.n_networks == 2
    data_key, init_key = replicate_keys(7, 2)
    dataset = dataset_from_key(data_key, REPLICATE_DATA)
    model = build_model(SIZES, "tanh", 0.01)
    model.set_weights([np.asarray(w) for w in initial_weights(model, init_key)])
    net, history, _ = fit_model(model, *dataset, epochs=epochs, loop="fit")
    assert result.first_nonfinite_epoch[1] == -1
    np.testing.assert_allclose(result.validate_mse[1], float(mse(net, dataset.x_validate, dataset.y_validate)),
                               rtol=1e-5)
    np.testing.assert_allclose(result.train_mse[1], float(mse(net, dataset.x_train, dataset.y_train)), rtol=1e-5)
    assert result.validate_mse[0] != result.validate_mse[1]


def test_a_keras_replicate_s_learning_rate_can_be_swept_and_divergence_is_caught():
    """A rate given to the batch is the SGD optimizer's own (the model at that rate, to float32 rounding);
    a rate that blows up is reported as the first non-finite epoch, as the JAX replicates do."""
    epochs = 30
    swept, _ = run_batch(_keras_replicates(epochs), [0, 1, 0], [0.05, 0.05, 50.0])
    fixed, _ = run_batch(_keras_replicates(epochs, learning_rate=0.05), [0, 1])
    np.testing.assert_allclose(swept.validate_mse[:2], fixed.validate_mse, rtol=1e-6)
    assert diverged(swept).tolist() == [False, False, True] and swept.first_nonfinite_epoch[2] >= 0
