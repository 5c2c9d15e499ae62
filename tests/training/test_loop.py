"""The one training loop, trained for real on tiny data: hand GD and Optax SGD give the same bits,
every optimizer trains, divergence is caught and held, the shared forward pass judges as the
separate one does."""

import jax
import numpy as np
import pytest

from nnreg.core import training
from nnreg.core.network import init_network, mse
from nnreg.core.optimizers import OPTIMIZERS, gradient_descent
from nnreg.core.training import make_train_fn
from nnreg.params.schema import JaxModel, Params
from nnreg.trainers.jax import compile_and_time, init_model, make_model_train_fn, optimizer_of

SIZES = (1, 10, 10, 10, 1)


def _train(model, dataset, epochs, lr=0.001, sizes=SIZES, shared_x=None):
    """The loop train@<model> runs: with nnreg's data (one x grid), the shared forward pass
    (`shared_x=False`: the separate validation pass, for data on two grids)."""
    params = init_network(jax.random.PRNGKey(1234), sizes)
    shared = dataset.shares_x() if shared_x is None else shared_x
    fn = make_train_fn(optimizer_of(Params().models[model], lr), epochs, shared_x=shared)
    return fn(params, *dataset)


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def test_hand_gd_equals_optax_sgd_bit_for_bit(tiny_dataset):
    gd_params, gd_hist = _train("gd", tiny_dataset, 300, lr=0.01)
    sgd_params, sgd_hist = _train("optax_sgd", tiny_dataset, 300, lr=0.01)
    for a, b in zip(_leaves((gd_params, gd_hist)), _leaves((sgd_params, sgd_hist)), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", ["gd", "optax_adam"])
@pytest.mark.parametrize("shared_x", [True, False])
def test_two_epochs_a_scan_iteration_keep_every_bit(tiny_dataset, model, shared_x, monkeypatch):
    """`training.UNROLL` runs two epochs a scan iteration (less time an epoch): the parameters and
    both losses of every epoch are one epoch an iteration's, bit for bit, in both loops, over an odd
    number of epochs too."""
    for epochs in (300, 301):
        unrolled = _train(model, tiny_dataset, epochs, lr=0.01, shared_x=shared_x)
        monkeypatch.setattr(training, "UNROLL", 1)
        single = _train(model, tiny_dataset, epochs, lr=0.01, shared_x=shared_x)
        monkeypatch.undo()
        for a, b in zip(_leaves(unrolled), _leaves(single), strict=True):
            np.testing.assert_array_equal(a, b)


def test_gd_update_is_p_minus_lr_g():
    grads = [jax.numpy.array([1.0, -2.0])]
    updates, _ = gradient_descent(0.5).update(grads, gradient_descent(0.5).init(grads))
    np.testing.assert_array_equal(np.asarray(updates[0]), [-0.5, 1.0])


@pytest.mark.parametrize("model", ["gd", "optax_adam"])
def test_loss_decreases_and_history_conventions(tiny_dataset, model):
    params, hist = _train(model, tiny_dataset, 200, lr=0.01)
    assert hist.train_loss.shape == hist.validate_loss.shape == (200,)
    assert int(hist.first_nonfinite_epoch) == -1
    assert float(hist.train_loss[-1]) < 0.5 * float(hist.train_loss[0])
    # train_loss[e] is taken before epoch e's update, validate_loss[e] after it.
    initial = init_network(jax.random.PRNGKey(1234), SIZES)
    assert float(hist.train_loss[0]) == pytest.approx(float(mse(initial, tiny_dataset.x_train, tiny_dataset.y_train)), rel=1e-6)
    assert float(hist.validate_loss[-1]) == pytest.approx(float(mse(params, tiny_dataset.x_validate, tiny_dataset.y_validate)), rel=1e-6)


def test_compiles_once_and_times(tiny_dataset):
    params = init_network(jax.random.PRNGKey(0), SIZES)
    fn = make_train_fn(optimizer_of(Params().models["gd"], 0.01), 10)
    fn(params, *tiny_dataset)
    fn(params, *tiny_dataset)
    assert fn._cache_size() == 1
    (trained, hist), timing = compile_and_time(fn, (params, *tiny_dataset))
    assert timing.compile_s > 0 and timing.runtime_s > 0 and timing.platform in ("cpu", "gpu")
    np.testing.assert_array_equal(np.asarray(hist.train_loss), np.asarray(fn(params, *tiny_dataset)[1].train_loss))


@pytest.mark.parametrize("shared_x", [False, True], ids=["separate pass", "shared pass"])
def test_divergence_is_detected_and_parameters_stay_finite(tiny_dataset, shared_x):
    params, hist = _train("gd", tiny_dataset, 100, lr=10.0, shared_x=shared_x)
    first = int(hist.first_nonfinite_epoch)
    assert 0 <= first < 100
    assert np.all(np.isfinite(np.asarray(hist.train_loss[:first])))
    assert not np.isfinite(float(hist.validate_loss[first])) or not np.isfinite(float(hist.train_loss[first]))
    assert np.all(np.isnan(np.asarray(hist.train_loss[first + 1:])))
    assert np.all(np.isnan(np.asarray(hist.validate_loss[first + 1:])))
    assert all(np.all(np.isfinite(a)) for a in _leaves(params))


def test_divergence_reaches_the_metrics_as_null(tiny_dataset):
    from nnreg.core.evaluate import evaluate

    params, hist = _train("optax_adam", tiny_dataset, 50, lr=1e30)
    metrics = evaluate(params, tiny_dataset, "tanh", int(hist.first_nonfinite_epoch))
    # Counted from 1 in the metrics, as in the history CSV: the History's index plus one.
    assert metrics["diverged"] is True and metrics["first_nonfinite_epoch"] == int(hist.first_nonfinite_epoch) + 1
    assert metrics["train_mse"] is None and metrics["validate_mse"] is None
    healthy = evaluate(*_train("gd", tiny_dataset, 5)[:1], tiny_dataset, "tanh")
    assert healthy["diverged"] is False and healthy["train_mse"] > 0


def _both_passes(model, dataset, epochs, lr):
    """(separate validation pass, shared forward pass) of one model from the lecture's init."""
    params = init_network(jax.random.PRNGKey(1234), SIZES)
    optimizer = optimizer_of(Params().models[model], lr)
    return [_leaves(make_train_fn(optimizer, epochs, shared_x=shared)(params, *dataset)) for shared in (False, True)]


@pytest.mark.parametrize("model, lr, epochs", [("gd", 10.0, 60), ("gd", 3.0, 60), ("optax_adam", 1e30, 60),
                                               ("optax_sgd", 1e30, 60), ("gd", 3.0, 11), ("optax_adam", 1e30, 1)])
def test_the_shared_forward_pass_judges_divergence_as_the_separate_pass(tiny_dataset, model, lr, epochs):
    """The validation loss of epoch t comes a step late, yet the first bad epoch, the weights kept
    (those before the bad update) and every recorded loss are the separate pass's; also when the
    last epoch is the bad one (its check comes after the loop) and for a single epoch."""
    separate, shared = _both_passes(model, tiny_dataset, epochs, lr)
    assert int(separate[-1]) >= 0  # it diverged
    for a, b in zip(separate, shared, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_shared_forward_pass_with_a_non_finite_training_loss(tiny_dataset):
    """When the training loss itself is the first non-finite one (an enormous training target, which
    the validation set lacks), it stops at that epoch and keeps its weights, as the separate pass
    does; the one documented difference is that epoch's validation loss: NaN."""
    x, y, x_validate, y_validate = tiny_dataset
    broken = tiny_dataset._replace(y_train=y.at[3, 0].set(3e19))  # its square overflows float32
    separate, shared = _both_passes("gd", broken, 20, 0.01)
    first = int(separate[-1])
    assert first == int(shared[-1]) == 0
    *_, (sep_train, sep_validate, _), (sh_train, sh_validate, _) = [separate[-3:], shared[-3:]]
    np.testing.assert_array_equal(sep_train, sh_train)
    np.testing.assert_array_equal(np.delete(sep_validate, first), np.delete(sh_validate, first))
    assert np.isnan(sh_validate[first])  # the separate pass: the update's own value (here a huge finite one)
    for a, b in zip(separate[:-3], shared[:-3], strict=True):  # the weights: the initial ones
        np.testing.assert_array_equal(a, b)


def _model(**kw) -> JaxModel:
    base = dict(optimizer="adam", learning_rate=0.01, layer_sizes=(1, 8, 8, 1), activation="tanh", init="he_normal")
    return JaxModel.of(**{**base, **kw})


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_trains(tiny_dataset, optimizer):
    """Every optimizer params.yaml may name trains a small network without diverging."""
    model = _model(optimizer=optimizer, learning_rate=0.01 if optimizer != "adagrad" else 0.1)
    params, history = make_model_train_fn(model, 200)(init_model(model, jax.random.PRNGKey(0)), *tiny_dataset)
    assert int(history.first_nonfinite_epoch) == -1
    assert float(history.train_loss[-1]) < 0.5 * float(history.train_loss[0]), optimizer
