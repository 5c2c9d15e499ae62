"""The lecture's numbers at full size, in this process: its four methods and its exercise's four
strategies on its data and init seed (4,000 epochs each), against its published table, its own
code (lecture/reference.py) and the committed models and metrics."""

import json

import jax
import numpy as np
import optax
import pytest

from lecture import reference
from nnreg.core.data import true_grid
from nnreg.core.evaluate import evaluate
from nnreg.core.network import init_network, mse
from nnreg.core.training import make_train_fn
from nnreg.params.load import load_params
from nnreg.params.schema import Params
from nnreg.runtime.files import read_network
from nnreg.trainers.jax import init_model, make_model_train_fn, optimizer_of
from tests.conftest import REPO
from tests.shared import LECTURE_TABLE, assert_printed_as

SIZES = (1, 10, 10, 10, 1)
def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def _train(model, dataset, epochs, lr=0.001, shared_x=None):
    """train@<model>'s loop from the lecture's init: on nnreg's data (one x grid), the shared forward pass."""
    params = init_network(jax.random.PRNGKey(1234), SIZES)
    shared = dataset.shares_x() if shared_x is None else shared_x
    return make_train_fn(optimizer_of(Params().models[model], lr), epochs, shared_x=shared)(params, *dataset)


def _both_passes(model, dataset, epochs, lr):
    """(separate validation pass, shared forward pass) of one model from the lecture's init."""
    return [_leaves(_train(model, dataset, epochs, lr, shared_x=shared)) for shared in (False, True)]


def test_lecture_numbers(lecture_dataset):
    """The lecture's 4000 epochs on its data: its published MSEs, and its own code's results."""
    d = lecture_dataset
    results = {m: _train(m, d, 4000)[0] for m in ("gd", "optax_sgd", "optax_adam")}
    for a, b in zip(_leaves(results["gd"]), _leaves(results["optax_sgd"]), strict=True):
        np.testing.assert_array_equal(a, b)
    # Every digit the lecture prints (its summary table: six decimals), training and validation.
    printed = {(m, split): f"{float(mse(results[m], *d[slice(*span)])):.6f}"
               for m in ("gd", "optax_adam") for split, span in (("train", (0, 2)), ("validate", (2, 4)))}
    assert printed == LECTURE_TABLE

    theta0 = reference.initialize_network(jax.random.PRNGKey(1234), SIZES)
    lecture_gd = jax.jit(reference.train_gd, static_argnums=(3, 4))(theta0, d.x_train, d.y_train, 4000, 0.001)
    lecture_adam = reference.train_optax(theta0, d.x_train, d.y_train, 4000, optax.adam(0.001))
    for ours, lecture in [(results["gd"], lecture_gd), (results["optax_adam"], lecture_adam)]:
        for a, b in zip(_leaves(ours), _leaves(lecture), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_shared_forward_pass_is_the_separate_pass_bit_for_bit_with_sgd(lecture_dataset):
    """train@<model>'s loop on nnreg's data (x_validate == x_train): every epoch's two losses and the
    final weights are the separate validation pass's, bit for bit, for the plain SGD steps."""
    assert lecture_dataset.shares_x()
    for model in ("gd", "optax_sgd"):
        separate, shared = _both_passes(model, lecture_dataset, 4000, 0.001)
        for a, b in zip(separate, shared, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_shared_forward_pass_moves_adam_in_the_last_bits_only(lecture_dataset):
    """With Adam, XLA fuses the update differently beside the shared pass: the same trajectory
    to float32 rounding (measured: 6e-8 at most in 4000 epochs' losses), not the same bits."""
    separate, shared = _both_passes("optax_adam", lecture_dataset, 4000, 0.001)
    for a, b in zip(separate, shared, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_exercise_numbers(lecture_dataset):
    """The lecture's four strategies on its data and init key: its published validation MSEs to every
    printed digit (but the deeper network's, a chaotic run, within 1e-4: see `assert_printed_as`),
    and the lecture's own solution code for the L2 + schedule strategy."""
    p, d = Params(), lecture_dataset
    lecture = {"deep": 0.041686, "deep_schedule": 0.041633, "deep_schedule_l2": 0.040845, "adam_l2": 0.040959}
    trained = {}
    for name, value in lecture.items():
        model = p.jax_model(name)
        params, history = make_model_train_fn(model, 4000, shared_x=d.shares_x())(  # as train@<model>
            init_model(model, jax.random.PRNGKey(1234)), *d)
        trained[name] = params
        assert_printed_as(float(mse(params, d.x_validate, d.y_validate)), value, name)
        assert int(history.first_nonfinite_epoch) == -1
        # ...and it is the committed model, bit for bit: this process runs under the stages' CPU
        # target (tests/conftest.py), which fixes every kernel (the chaotic deeper network too).
        committed = read_network(REPO / f"models/{name}.npz")
        for ours, theirs in zip(jax.tree.leaves(params), jax.tree.leaves(committed), strict=True):
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=name)
    theta0 = reference.initialize_network(jax.random.PRNGKey(1234), (1, 6, 6, 6, 6, 6, 1))
    theirs = reference.train_optax(theta0, d.x_train, d.y_train, 4000,
                                   optax.adam(optax.exponential_decay(0.003, 1000, 0.5)), l2=0.001)
    for a, b in zip(jax.tree.leaves(trained["deep_schedule_l2"]), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


@pytest.mark.keras
def test_the_lecture_s_keras_run_gives_the_committed_metrics_exactly(lecture_dataset):
    """The default params' Keras model, trained here by its trainer as train@keras trains it: exactly
    the committed metrics/keras.json (which .ci/run also regenerates through DVC)."""
    from nnreg import trainers

    params = load_params(REPO / "params.yaml")
    trained = trainers.get("keras").train(params.models["keras"], params.network, params.train.epochs,
                                          lecture_dataset)
    metrics = evaluate(trained.network, lecture_dataset, trained.activation,
                       int(trained.history.first_nonfinite_epoch), true_grid(params.data))
    assert metrics == json.loads((REPO / "metrics/keras.json").read_text())
    assert trained.timing.epochs == params.train.epochs


def test_the_current_lecture_s_armijo_run(lecture_dataset):
    """The lecture's current winner (e5d26bf), Armijo's line search, from its init key: its printed
    0.040810 to every digit, the committed model bit for bit, and its own code's run to float32
    rounding. On this run the line search never backtracks: the step is the first guess, 0.01, at
    every one of the 4,000 epochs (the lecture's code and Optax's agree on each one): it is
    gradient descent at 0.01."""
    p, d = Params(), lecture_dataset
    model = p.jax_model("armijo")
    params, history = make_model_train_fn(model, 4000, shared_x=d.shares_x())(  # as train@armijo
        init_model(model, jax.random.PRNGKey(1234)), *d)
    assert_printed_as(float(mse(params, d.x_validate, d.y_validate)), 0.040810, "armijo")
    assert int(history.first_nonfinite_epoch) == -1
    committed = read_network(REPO / "models/armijo.npz")
    for ours, theirs in zip(jax.tree.leaves(params), jax.tree.leaves(committed), strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    theta0 = reference.initialize_network(jax.random.PRNGKey(1234), SIZES)
    theirs = jax.jit(reference.train_armijo, static_argnums=(3,))(theta0, d.x_train, d.y_train, 4000)
    assert f"{float(reference.loss_fn(theirs, d.x_validate, d.y_validate)):.6f}" == "0.040810"
    for a, b in zip(_leaves(params), _leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The steps: Optax's line search, as nnreg drives it, is gradient descent at 0.01 bit for bit, every
    # epoch's losses and the final weights: a step smaller than 0.01 at any epoch would move them.
    plain = make_train_fn(optimizer_of(Params().models["gd"], 0.01), 4000, shared_x=d.shares_x())(
        init_model(model, jax.random.PRNGKey(1234)), *d)
    for a, b in zip(_leaves((params, history)), _leaves(plain), strict=True):
        np.testing.assert_array_equal(a, b)
