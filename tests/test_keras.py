import jax
import keras
import numpy as np
import pytest

from nnreg.keras_training import build_model, get_network, keras_layer_widths, set_network, train
from nnreg.network import count_params, init_network, mse
from nnreg.config import Params
from nnreg.jax_training import make_optimizer
from nnreg.training import make_train_fn

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
    assert count_params(a) == 251


def test_keras_with_the_jax_initial_weights_follows_gd(tiny_dataset):
    """Same weights and learning rate: Keras's trajectory is hand GD's, to float tolerance."""
    epochs, lr = 300, 0.001  # the JAX models' learning rate
    initial = init_network(jax.random.PRNGKey(1234), SIZES)
    model = build_model(SIZES, "tanh", lr)
    set_network(model, initial)
    k_net, k_hist, timing = train(model, *tiny_dataset, epochs=epochs)
    gd_net, gd_hist = make_train_fn(make_optimizer(Params().models["gd"], lr), epochs)(initial, *tiny_dataset)

    np.testing.assert_allclose(k_hist.train_loss, np.asarray(gd_hist.train_loss), rtol=1e-4)
    np.testing.assert_allclose(k_hist.validate_loss, np.asarray(gd_hist.validate_loss), rtol=1e-4)
    for u, v in zip(jax.tree.leaves(k_net), jax.tree.leaves(gd_net), strict=True):
        np.testing.assert_allclose(u, np.asarray(v), rtol=1e-4, atol=1e-5)
    assert float(k_hist.train_loss[-1]) < float(k_hist.train_loss[0])
    assert timing.runtime_s > 0 and timing.platform in ("cpu", "gpu")
    assert float(mse(k_net, *tiny_dataset[2:])) == pytest.approx(float(k_hist.validate_loss[-1]), rel=1e-4)


def test_progress_lines(tiny_dataset):
    from nnreg.cli import Progress

    lines = []
    model = build_model((1, 3, 1), "tanh", 0.01)
    _, history, _ = train(model, *tiny_dataset, epochs=20, progress=Progress("keras", 20, write=lines.append))
    assert [line.split(" (")[0] for line in lines] == [f"keras: epoch {e}/20" for e in range(2, 21, 2)]
    assert f"loss {history.train_loss[-1]:.6f}, val_loss {history.validate_loss[-1]:.6f};" in lines[-1]
    assert lines[-1].endswith(" s, done") and " s left" in lines[0]


def test_the_lecture_s_keras_run_gives_the_committed_metrics_exactly(lecture_dataset):
    """The default params' Keras model, trained here as its stage trains it: exactly the committed
    metrics/keras.json (which .ci/run also regenerates through DVC)."""
    import json

    from nnreg.config import load_params
    from nnreg.data import true_grid
    from nnreg.evaluate import evaluate
    from tests.conftest import REPO

    params = load_params(REPO / "params.yaml")
    net, k, epochs = params.network, params.models["keras"], params.train.epochs
    keras.utils.set_random_seed(net.init_seed)
    model = build_model(net.layer_sizes, net.activation, k.learning_rate, k.lecture_layer_count)
    trained, history, timing = train(model, *lecture_dataset, epochs=epochs)
    metrics = evaluate(trained, lecture_dataset, net.activation, int(history.first_nonfinite_epoch),
                       true_grid(params.data))
    assert metrics == json.loads((REPO / "metrics/keras.json").read_text())
    assert timing.epochs == epochs


@pytest.mark.parametrize("learning_rate", [0.01, 10.0], ids=["converges", "diverges"])
def test_the_scan_loop_is_fit_bit_for_bit(tiny_dataset, learning_rate):
    """`loop: scan` runs fit's own train and test steps in one compiled program: the same losses
    every epoch and the same final weights, to the bit (after a divergence too: fit stops at
    the first non-finite training loss, the scan records NaN from there and keeps the weights)."""
    epochs, runs = 300, {}
    for loop in ("fit", "scan"):
        keras.utils.set_random_seed(1234)
        model = build_model(SIZES, "tanh", learning_rate)
        runs[loop] = train(model, *tiny_dataset, epochs=epochs, loop=loop)
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


# Keras over replicate seeds (nnreg.keras_replicates): a vmapped batch of Keras networks.
REPLICATE_DATA = __import__("nnreg.config", fromlist=["DataParams"]).DataParams(n_points=20)


def _keras_replicates(epochs, seed=7, learning_rate=0.01):
    from nnreg.config import KerasModel, NetworkParams
    from nnreg.keras_replicates import make_replicate_fn

    entry = KerasModel(trainer="keras", learning_rate=learning_rate)
    return make_replicate_fn(entry, NetworkParams(), REPLICATE_DATA, epochs, seed)


def test_a_keras_replicate_starts_from_keras_s_initialisers():
    """Each Dense kernel is the layer's own Glorot-uniform initialiser drawn from the replicate's init
    key (within its limit, different for each replicate and layer, the same for the same key);
    biases are Keras's zeros."""
    from nnreg.keras_replicates import initial_weights
    from nnreg.replicates import replicate_keys

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


def test_a_keras_replicate_is_keras_s_fit_on_its_draws():
    """Replicate 2 of the vmapped batch: the network Keras's own `fit` trains from the same initial
    weights on the same data (the replicate's fresh noise), to float32 rounding."""
    from nnreg.data import dataset_from_key
    from nnreg.keras_replicates import initial_weights
    from nnreg.replicates import replicate_keys, run_batch

    epochs = 40
    result, timing = run_batch(_keras_replicates(epochs), [0, 2])
    assert timing.n_networks == 2
    data_key, init_key = replicate_keys(7, 2)
    dataset = dataset_from_key(data_key, REPLICATE_DATA)
    model = build_model(SIZES, "tanh", 0.01)
    model.set_weights([np.asarray(w) for w in initial_weights(model, init_key)])
    net, history, _ = train(model, *dataset, epochs=epochs, loop="fit")
    assert result.first_nonfinite_epoch[1] == -1
    np.testing.assert_allclose(result.validate_mse[1], float(mse(net, dataset.x_validate, dataset.y_validate)),
                               rtol=1e-5)
    np.testing.assert_allclose(result.train_mse[1], float(mse(net, dataset.x_train, dataset.y_train)), rtol=1e-5)
    assert result.validate_mse[0] != result.validate_mse[1]


def test_a_keras_replicate_s_learning_rate_can_be_swept_and_divergence_is_caught():
    """A rate given to the batch is the SGD optimizer's own (the model at that rate, to float32 rounding);
    a rate that blows up is reported as the first non-finite epoch, as the JAX replicates do."""
    from nnreg.replicates import diverged, run_batch

    epochs = 30
    swept, _ = run_batch(_keras_replicates(epochs), [0, 1, 0], [0.05, 0.05, 50.0])
    fixed, _ = run_batch(_keras_replicates(epochs, learning_rate=0.05), [0, 1])
    np.testing.assert_allclose(swept.validate_mse[:2], fixed.validate_mse, rtol=1e-6)
    assert diverged(swept).tolist() == [False, False, True] and swept.first_nonfinite_epoch[2] >= 0
