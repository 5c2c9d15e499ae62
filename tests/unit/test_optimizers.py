"""A JAX model from its params entry: every optimizer, schedule, initialisation and the L2
penalty, checked against Optax and jax.nn's initializers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnreg.core.initializers import INITIALIZERS
from nnreg.core.network import init_network, mse
from nnreg.core.optimizers import make_schedule
from nnreg.core.training import make_loss
from nnreg.params.schedules import Schedule
from nnreg.params.schema import JaxModel
from nnreg.trainers.jax import init_model, make_model_train_fn, optimizer_of

SIZES = (1, 10, 10, 10, 1)


def _model(**kw) -> JaxModel:
    base = dict(optimizer="adam", learning_rate=0.01, layer_sizes=(1, 8, 8, 1), activation="tanh", init="he_normal")
    return JaxModel.of(**{**base, **kw})


def test_optimizers_are_optax_s_with_their_settings(tiny_dataset):
    """The named optimizer is the Optax function with the entry's settings, bit for bit."""
    params = init_network(jax.random.PRNGKey(1), (1, 8, 8, 1))
    grads = jax.grad(lambda p: mse(p, tiny_dataset.x_train, tiny_dataset.y_train))(params)
    cases = [
        (_model(optimizer="nesterov", settings={"momentum": 0.7}), optax.sgd(0.01, momentum=0.7, nesterov=True)),
        (_model(optimizer="momentum"), optax.sgd(0.01, momentum=0.9)),
        (_model(optimizer="adamw", settings={"weight_decay": 0.1, "b2": 0.9}), optax.adamw(0.01, b2=0.9, weight_decay=0.1)),
        (_model(optimizer="lion", settings={"b1": 0.8}), optax.lion(0.01, b1=0.8)),
        (_model(optimizer="rmsprop", settings={"centered": True}), optax.rmsprop(0.01, centered=True)),
    ]
    for model, expected in cases:
        ours = optimizer_of(model)

        def three_steps(update, state):  # a few steps, so that state matters
            for _ in range(3):
                updates, state = update(grads, state, params)
            return updates

        updates = jax.jit(lambda s: three_steps(ours.update, s))(ours.init(params))
        want = jax.jit(lambda s: three_steps(expected.update, s))(expected.init(params))
        for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("schedule,optax_fn", [
    (Schedule.of("exponential_decay", init_value=0.003, transition_steps=1000, decay_rate=0.5),
     optax.exponential_decay(0.003, 1000, 0.5)),
    (Schedule.of("cosine_decay", init_value=0.01, decay_steps=4000, alpha=0.1),
     optax.cosine_decay_schedule(0.01, 4000, alpha=0.1)),
    (Schedule.of("warmup_cosine_decay", init_value=0.0, peak_value=0.01, warmup_steps=100, decay_steps=4000),
     optax.warmup_cosine_decay_schedule(0.0, 0.01, 100, 4000)),
])
def test_schedules_are_optax_s(schedule, optax_fn):
    ours = make_schedule(schedule.name, schedule.args)
    for step in (0, 1, 50, 100, 999, 1000, 2500, 4000):
        assert float(ours(step)) == float(optax_fn(step))


def test_l2_penalises_weights_not_biases_as_the_lecture():
    params = init_network(jax.random.PRNGKey(3), SIZES)
    x, y = jnp.linspace(0, 5, 7).reshape(-1, 1), jnp.ones((7, 1))
    objective, error = jax.jit(make_loss("tanh", 0.001))(params, x, y)
    plain_mse = float(jax.jit(mse)(params, x, y))
    assert float(error) == plain_mse
    expected = plain_mse + 0.001 * sum(float(np.sum(np.asarray(layer.W) ** 2)) for layer in params)
    assert float(objective) == pytest.approx(expected, rel=1e-6)
    grads = jax.jit(jax.grad(lambda p: make_loss("tanh", 0.001)(p, x, y)[0]))(params)
    plain = jax.jit(jax.grad(lambda p: mse(p, x, y)))(params)
    for g, p0, layer in zip(grads, plain, params, strict=True):
        np.testing.assert_allclose(np.asarray(g.b), np.asarray(p0.b), rtol=1e-6)  # no penalty on biases
        np.testing.assert_allclose(np.asarray(g.W), np.asarray(p0.W + 0.002 * layer.W), rtol=1e-5, atol=1e-7)
    # No penalty: exactly the plain MSE, the same program (the lecture's four models keep their bits).
    plain_loss = lambda p: make_loss("tanh", 0.0)(p, x, y)[0]  # noqa: E731
    assert float(jax.jit(plain_loss)(params)) == plain_mse
    assert str(jax.make_jaxpr(plain_loss)(params)) == str(jax.make_jaxpr(lambda p: mse(p, x, y))(params))


@pytest.mark.parametrize("init", INITIALIZERS)
def test_initialisations(init):
    key = jax.random.PRNGKey(0)
    (layer,) = init_network(key, (200, 300), init)
    W, b = np.asarray(layer.W), np.asarray(layer.b)
    assert W.shape == (200, 300) and b.shape == (1, 300)
    assert np.all(b == (1.0 if init == "he_normal" else 0.0))
    if init != "he_normal":  # jax.nn.initializers' own draw, with fan_in 200 and fan_out 300
        expected = getattr(jax.nn.initializers, init)()(jax.random.split(key)[1], (200, 300), jnp.float32)
        np.testing.assert_array_equal(W, np.asarray(expected))
    scale = {"he_normal": np.sqrt(2 / 200), "glorot_normal": np.sqrt(2 / 500), "glorot_uniform": np.sqrt(2 / 500),
             "lecun_normal": np.sqrt(1 / 200)}[init]
    assert W.std() == pytest.approx(scale, rel=0.03)


def test_a_learning_rate_override_may_be_traced(tiny_dataset):
    """A sweep passes the learning rate as a traced value; it must give the same bits as a constant."""
    model = _model(optimizer="gd", learning_rate=0.05)
    initial = init_model(model, jax.random.PRNGKey(0))
    constant = make_model_train_fn(model, 50)(initial, *tiny_dataset)
    traced = jax.jit(lambda lr: make_model_train_fn(model, 50, lr)(initial, *tiny_dataset))(jnp.float32(0.05))
    for a, b in zip(jax.tree.leaves(constant), jax.tree.leaves(traced), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The entry's own rate when none is passed: 0.01 here, GD's update is exactly -0.01 * g.
    other = model.model_copy(update={"learning_rate": 0.01})
    grads = jax.grad(lambda p: mse(p, tiny_dataset.x_train, tiny_dataset.y_train))(initial)
    updates, _ = optimizer_of(other).update(grads, optimizer_of(other).init(initial), initial)
    for u, g in zip(jax.tree.leaves(updates), jax.tree.leaves(grads), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(-0.01 * g))


def test_armijo_backtracks_as_the_lecture_s_line_search(tiny_dataset):
    """From a first guess too large for the network (1.0), the line search halves the step until
    Armijo's sufficient decrease holds, epoch by epoch, as the lecture's `train_jax_armijo_ls`
    (lecture/reference.py) does: the same weights to float32 rounding after 50 epochs, and steps
    below the guess taken on the way (so the backtracking ran)."""
    from lecture import reference

    d = tiny_dataset
    model = _model(optimizer="armijo", learning_rate=1.0, layer_sizes=(1, 6, 6, 1),
                   settings={"decrease_factor": 0.5, "slope_rtol": 0.001, "max_backtracking_steps": 20})
    ours, _ = make_model_train_fn(model, 50)(init_model(model, jax.random.PRNGKey(3)), *d)
    theirs = jax.jit(reference.train_armijo, static_argnums=(3,))(
        init_model(model, jax.random.PRNGKey(3)), d.x_train, d.y_train, 50, 1.0)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    # The steps Optax's line search took: halvings of 1.0, and not all of them the guess.
    optimizer = optimizer_of(model)
    loss = make_loss("tanh")
    params, state, steps = init_model(model, jax.random.PRNGKey(3)), None, []
    state = optimizer.init(params)
    for _ in range(10):
        (value, _), grads = jax.value_and_grad(loss, has_aux=True)(params, d.x_train, d.y_train)
        updates, state = optimizer.update(grads, state, params, value=value, grad=grads,
                                          value_fn=lambda p: loss(p, d.x_train, d.y_train)[0])
        params = optax.apply_updates(params, updates)
        steps.append(float(state[1].learning_rate))
    assert all(np.log2(s) == int(np.log2(s)) for s in steps) and min(steps) < 1.0, steps
    assert float(loss(params, d.x_train, d.y_train)[0]) < float(loss(init_model(model, jax.random.PRNGKey(3)),
                                                                     d.x_train, d.y_train)[0])
