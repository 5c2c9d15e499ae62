"""The search's space and programs: the `search:` rules with their one-line errors, the
parameter bound, a sampled strategy as a valid `models:` entry, and a padded network in a
group program computing what the network itself computes."""

import jax
import jax.numpy as jnp
import numpy as np
import optuna
import pytest

from nnreg import trainers
from nnreg.core.initializers import INITIALIZERS, init_within
from nnreg.core.network import LayerParams, init_network, parameter_count
from nnreg.core.optimizers import make_optimizer
from nnreg.core.replicates import compile_batch
from nnreg.core.training import make_epoch
from nnreg.params.load import ConfigError, parse_params
from nnreg.params.schema import JaxModel, Params
from nnreg.search.programs import initial_network, searched_optimizer
from nnreg.search.space import Strategy, model_entry, rate_table, suggest
from nnreg.search.study import SearchPrograms, calls
from nnreg.params.export import to_dict
from tests.helpers import DELETE, edited

DEFAULT = to_dict(Params())


def test_the_default_space_is_the_exercise_s_within_its_bound():
    space = Params().search
    eligible = space.shapes_eligible()
    assert len(eligible) == 127 and all(parameter_count(s) <= 251 for s in eligible)
    assert (1, 10, 10, 10, 1) in eligible and (1, 6, 6, 6, 6, 6, 1) in eligible  # the lecture's and its deep one
    assert (1, 11, 11, 11, 1) not in eligible and (1, 84, 1) not in eligible and (1, 83, 1) in eligible
    assert {len(s) - 2 for s in eligible} == set(range(1, 7))
    assert set(space.optimizer_ranges()) == {"gd", "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop",
                                             "adagrad", "lion", "armijo"}
    # Armijo searches its decrease factor and constant; its first step is the learning rate, its halvings 20.
    assert space.optimizer_ranges()["armijo"] == {"decrease_factor": (0.3, 0.8, False), "slope_rtol": (1e-4, 0.01, False)}
    assert set(space.schedules.given()) == {"none", "exponential_decay", "cosine_decay", "warmup_cosine_decay"}
    assert space.activations == ("tanh", "relu", "gelu", "sigmoid", "elu", "selu") and len(space.inits) == 4
    network = init_network(jax.random.PRNGKey(0), (1, 6, 6, 6, 6, 6, 1))
    assert parameter_count((1, 6, 6, 6, 6, 6, 1)) == sum(leaf.size for leaf in jax.tree.leaves(network)) == 187


@pytest.mark.parametrize("key,value,message", [
    ("search.activations", ["tanh", "swish"], "search.activations[1]: must be one of tanh, relu, gelu, sigmoid, elu"),
    ("search.learning_rate", [0.1, 0.01], "search.learning_rate: must be [low, high] with low <= high"),
    ("search.learning_rate", [0.0, 0.01], "and low > 0 (a log range)"),
    ("search.optimizers.adam.momentum", [0.5, 0.9], "search.optimizers.adam.momentum: unknown key for optimizer adam"),
    ("search.optimizers.adam.b1", [0.5, 1.5], "search.optimizers.adam.b1: must lie in [0, 1)"),
    ("search.optimizers.swish", {}, "search.optimizers.swish: unknown key (optimizers: gd, sgd"),
    ("search.max_parameters", 3, "search.max_parameters: no shape in search.depth x search.width has at most 3 "
                                 "parameters (the smallest, 1-1-1, has 4)"),
    ("search.shapes", [[1, 20, 20, 1]], "search.max_parameters: no shape in search.shapes has at most 251"),
    ("search.schedules.none", DELETE, "search.optimizers.gd: the hand-written gd takes a fixed learning rate"),
    ("search.schedules.cosine_decay.alpha", [0.2, 1.5], "search.schedules.cosine_decay.alpha: must lie in [0, 1]"),
    ("search.depth", [3, 1], "search.depth: must be [low, high] with low <= high"),
    ("search.sampler", "grid", "search.sampler: must be one of"),
    ("search.confirm.top", 300, "search.confirm.top: must be between 1 and 64"),
    ("search.batch", DELETE, "search.batch: missing key"),
])
def test_a_bad_space_is_one_line_naming_the_key(key, value, message):
    with pytest.raises(ConfigError) as e:
        parse_params(edited(DEFAULT, key, value))
    text = str(e.value)
    assert "\n" not in text and message in text, text


def test_armijo_in_the_space_needs_a_fixed_rate_among_the_schedules():
    raw = edited(edited(DEFAULT, "search.optimizers.gd", DELETE), "search.schedules.none", DELETE)
    with pytest.raises(ConfigError, match="search.optimizers.armijo: armijo takes a fixed learning rate: "
                                          "search.schedules must include none"):
        parse_params(raw)


def test_a_sampled_strategy_is_a_models_entry_and_its_rates_are_optax_s():
    space = Params().search
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(40):
        s = suggest(study.ask(), space)
        assert parameter_count(s.layer_sizes) <= 251
        entry = model_entry(s, 4000)
        model = JaxModel.of(entry["optimizer"], **{k: v for k, v in entry.items() if k not in ("trainer", "optimizer")})
        assert model.layer_sizes == s.layer_sizes and model.l2 == s.l2 and model.settings == s.settings
        rates = rate_table(s, 4000)
        assert rates.shape == (4000,) and rates.dtype == np.float32 and np.all(np.isfinite(rates))
        if s.schedule == "none":
            assert model.learning_rate == s.learning_rate and np.all(rates == np.float32(s.learning_rate))
        else:
            assert model.schedule.name == s.schedule and rates.max() <= np.float32(s.learning_rate) * (1 + 1e-6)
        if s.optimizer in ("gd", "armijo"):  # a fixed rate: gd's, or armijo's first step
            assert s.schedule == "none"


@pytest.mark.parametrize("activation,optimizer,init", [("sigmoid", "adam", "he_normal"), ("tanh", "rmsprop", "glorot_uniform"),
                                                        ("elu", "lion", "lecun_normal"), ("sigmoid", "armijo", "he_normal")])
def test_a_padded_network_trains_as_the_network_itself(activation, optimizer, init):
    """The group program's arithmetic on one network: padded to wider layers, with every
    searched optimizer stepping and one selected, it computes the unpadded network's training
    (to float32 rounding, grown over 60 epochs), and its padding stays exactly zero (sigmoid's
    0.5 included)."""
    sizes, padded = (1, 3, 3, 1), (1, 7, 7, 1)
    inits = ("he_normal", "glorot_normal", "glorot_uniform", "lecun_normal")
    key = jax.random.PRNGKey(5)
    x = jnp.linspace(0, 5, 40).reshape(-1, 1)
    y = jnp.sqrt(x) + jnp.sin(x)
    data = (x, y, x, y)
    wide_init, where = initial_network(key, jnp.asarray(sizes), padded, inits, jnp.int32(inits.index(init)))
    real = [LayerParams(layer.W[:a, :b], layer.b[:, :b]) for layer, a, b in zip(wide_init, sizes[:-1], sizes[1:])]
    names = ("sgd", "adam", "rmsprop", "lion", "armijo")

    def train(params, optimizer_, epochs=60):
        epoch = make_epoch(optimizer_, activation, 0.001, validate_every_epoch=False)
        carry = (params, optimizer_.init(params), jnp.int32(-1))
        return jax.lax.fori_loop(0, epochs, lambda i, c: epoch(c, i, data)[0], carry)[0]

    # Armijo from a first guess of 1.0: it backtracks, so the padding's line search is tested too.
    rate = {"armijo": 1.0}.get(optimizer, 0.01)
    alone = train(real, make_optimizer(optimizer, rate))
    flat_where = jax.flatten_util.ravel_pytree(where)[0]
    group = searched_optimizer([make_optimizer(n, {"armijo": 1.0}.get(n, 0.01), {"mask": flat_where} if n == "armijo"
                                               else None) for n in names], jnp.int32(names.index(optimizer)), where)
    wide = train(wide_init, group)
    for a, w, m in zip(jax.tree.leaves(alone), jax.tree.leaves(wide), jax.tree.leaves(where)):
        np.testing.assert_allclose(np.asarray(w)[np.asarray(m) == 1], np.asarray(a).ravel(), rtol=1e-4, atol=1e-5)
        assert np.all(np.asarray(w)[np.asarray(m) == 0] == 0)


@pytest.mark.parametrize("init", ["he_normal", "glorot_normal", "glorot_uniform", "lecun_normal"])
def test_a_layer_drawn_within_padding_is_the_initializer_s_draw_or_its_distribution(init):
    """Unpadded: exactly the initializer's draw. Padded: zero outside the layer, and inside it
    the initializer's scale for the layer's own size (the weights' spread over many draws)."""
    key = jax.random.PRNGKey(0)
    W, b = init_within(init, key, 4, 6, 4, 6)
    W0, b0 = INITIALIZERS[init](key, 4, 6)
    assert np.array_equal(W, W0) and np.array_equal(b, b0)
    keys = jax.random.split(key, 4000)
    padded = jax.vmap(lambda k: init_within(init, k, 4, 6, 20, 30))(keys)
    exact = jax.vmap(lambda k: INITIALIZERS[init](k, 4, 6))(keys)
    assert np.all(np.asarray(padded[0])[:, 4:, :] == 0) and np.all(np.asarray(padded[0])[:, :, 6:] == 0)
    assert np.all(np.asarray(padded[1])[:, :, 6:] == 0)
    np.testing.assert_allclose(np.std(padded[0][:, :4, :6]), np.std(exact[0]), rtol=0.02)
    np.testing.assert_array_equal(padded[1][:, :, :6], exact[1])


SETTINGS = {"adam": {"b1": 0.9, "b2": 0.999}, "lion": {"b1": 0.9, "b2": 0.99}, "rmsprop": {"decay": 0.9}}  # as searched


def _strategy(sizes, activation, optimizer="adam", rate=0.01):
    return Strategy(sizes, activation, "glorot_uniform", optimizer, SETTINGS.get(optimizer, {}), rate, "none", 0.0, 0.0)


def test_a_call_holds_trials_of_one_depth_and_activation_at_most_trials_per_call():
    strategies = [_strategy((1, 3, 1), "tanh"), _strategy((1, 2, 2, 1), "tanh"), _strategy((1, 2, 1), "relu"),
                  _strategy((1, 2, 1), "tanh"), _strategy((1, 3, 1), "tanh"), _strategy((1, 2, 2, 1), "tanh")]
    assert calls(strategies, 1) == [([0], 3), ([3], 3), ([4], 3), ([1], 4), ([5], 4), ([2], 3)]
    assert calls(strategies, 2) == [([0, 3], 3), ([4], 3), ([1, 5], 4), ([2], 3)]
    assert calls(strategies, 8) == [([0, 3, 4], 3), ([1, 5], 4), ([2], 3)]
    for per_call in (1, 2, 8):
        assert sorted(i for members, _ in calls(strategies, per_call) for i in members) == list(range(6))
    # A line search's trials have calls of their own (the others' calls run no line search).
    armijo = _strategy((1, 3, 1), "tanh")._replace(optimizer="armijo")
    assert calls([strategies[0], armijo, strategies[3]], 8) == [([0, 2], 3), ([1], 3)]


def test_trials_sharing_a_call_train_as_each_alone():
    """trials_per_call changes which networks share a compiled call, not what a trial computes:
    the same results to float32 rounding (XLA's kernels for another call size may round
    differently: a search's bits are those of its own trials_per_call, in its fingerprint)."""
    raw = edited(edited(edited(DEFAULT, "search.depth", [1, 2]), "search.width", [2, 3]), "search.n_seeds", 2)
    raw = edited(edited(raw, "search.activations", ["tanh", "relu"]), "train.epochs", 60)
    strategies = [_strategy((1, 3, 1), "tanh"), _strategy((1, 2, 2, 1), "relu", "sgd", 0.05),
                  _strategy((1, 2, 1), "tanh", "lion", 0.003), _strategy((1, 3, 3, 1), "relu", "rmsprop"),
                  _strategy((1, 2, 2, 1), "relu")]
    results = {}
    for per_call in (1, 3):
        trainer = SearchPrograms(parse_params(edited(raw, "search.trials_per_call", per_call)))
        trainer.wait()
        results[per_call] = trainer.train(strategies, 60)[0]
        assert trainer.network_epochs == 5 * 2 * 60
    assert trainer.padded_network_epochs == 2 * 3 * 2 * 60  # calls [0, 2] (padded to 3 trials) and [1, 3, 4]
    for alone, shared in zip(results[1], results[3]):
        assert alone.validate_mse.shape == (2,)
        for a, s in zip(alone, shared):
            np.testing.assert_allclose(s, a, rtol=1e-5)


def test_a_rung_goes_on_from_the_last_one_s_state_with_the_bits_of_one_run():
    """Successive halving's rungs: a trial kept after rung k is trained on from the state rung k
    left (`SearchPrograms.train`'s carries), not again from its initial weights, and ends with the
    bits of one uninterrupted run, whichever trials share its calls on the way."""
    raw = edited(edited(edited(DEFAULT, "search.depth", [1, 2]), "search.width", [2, 3]), "search.n_seeds", 2)
    raw = edited(edited(raw, "search.activations", ["tanh", "relu"]), "train.epochs", 100)
    strategies = [_strategy((1, 3, 1), "tanh"), _strategy((1, 2, 2, 1), "relu", "sgd", 0.05),
                  _strategy((1, 2, 1), "tanh", "lion", 0.003), _strategy((1, 3, 3, 1), "relu", "rmsprop")]
    for per_call in (1, 2):
        trainer = SearchPrograms(parse_params(edited(raw, "search.trials_per_call", per_call)))
        trainer.wait()
        whole, _ = trainer.train(strategies, 100)
        _, carries = trainer.train(strategies, 30)
        kept = [3, 0, 2]  # in another order: other call-mates than at the first rung
        middle, carries = trainer.train([strategies[i] for i in kept], 70, 30, [carries[i] for i in kept])
        last, _ = trainer.train([strategies[i] for i in kept[:2]], 100, 70, carries[:2])
        assert trainer.network_epochs == 2 * (4 * 100 + 4 * 30 + 3 * 40 + 2 * 30)
        for i, result in zip(kept[:2], last):
            for a, b in zip(whole[i], result):
                np.testing.assert_array_equal(a, b)
        with pytest.raises(AssertionError, match="carry"):  # a later epoch than 0 needs the state there
            trainer.train(strategies[:1], 100, 30)
        with pytest.raises(AssertionError, match="adam searches"):  # a searched setting left out is not taken as 0
            trainer.inputs(strategies[0]._replace(settings={}))


@pytest.mark.parametrize("activation,optimizer,schedule", [("gelu", "adamw", "cosine_decay"), ("sigmoid", "lion", "none"),
                                                           ("relu", "gd", "none"), ("selu", "armijo", "none")])
def test_a_trial_trains_what_its_models_entry_trains(activation, optimizer, schedule):
    """The search's program (every activation and optimizer behind switches and selects, the
    optimizers on a flat vector, the training resumed at a rung) against the JAX trainer's
    replicate of the trial's `models:` entry on the same replicates: the same numbers to float32
    rounding. The space has one shape, so nothing is padded."""
    raw = edited(edited(DEFAULT, "search.depth", [2, 2]), "search.width", [4, 4])
    params = parse_params(edited(edited(raw, "search.n_seeds", 2), "train.epochs", 200))
    s = Strategy((1, 4, 4, 1), activation, "glorot_uniform", optimizer,
                 {"adamw": {"b1": 0.85, "b2": 0.995, "weight_decay": 0.01},  # every searched setting, as suggest()
                  "lion": {"b1": 0.9, "b2": 0.98}, "armijo": {"decrease_factor": 0.5, "slope_rtol": 0.01}
                  }.get(optimizer, {}),
                 {"lion": 0.002, "armijo": 0.5}.get(optimizer, 0.02), schedule, 0.1, 1e-4)
    trainer = SearchPrograms(params)
    trainer.wait()
    _, carries = trainer.train([s], 50)
    (searched,), _ = trainer.train([s], 200, 50, carries)
    entry = model_entry(s, 200)
    model = JaxModel.of(entry["optimizer"], **{k: v for k, v in entry.items() if k not in ("trainer", "optimizer")})
    replicate = trainers.get("jax").make_replicate(model, params.network, params.data, 200, params.search.seed)
    plain = compile_batch(replicate, trainer.indices[:2]).run()
    for a, b in zip(searched, plain):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-7)


def test_importances_name_the_parameters_whose_sparse_regimes_were_left_out_and_let_no_warning_through():
    """Optuna's PED-ANOVA warns for a parameter with a regime of fewer than two trials (here
    `rare`, asked of one trial) and on every call that it ranks for low targets: the search
    turns both into its second return value, and lets any other warning through."""
    import warnings

    from nnreg.search.importance import importances

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(16):
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        if i == 0:
            trial.suggest_float("rare", 0.0, 1.0)
        study.tell(trial, (x - 0.3) ** 2 + 0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows, sparse = importances(study)
        warnings.warn("a caller's own warning", UserWarning)
    assert [str(w.message) for w in caught] == ["a caller's own warning"]
    assert sparse == ["rare"]
    assert [r["parameter"] for r in rows] == ["x", "rare"] and rows[0]["importance"] > rows[1]["importance"]
    assert importances(optuna.create_study()) == ([], [])  # fewer than two complete trials: nothing to rank


def test_each_rung_s_prediction_of_the_final_score_is_spearman_s():
    """rung_predictions: for each rung, scipy's Spearman correlation of the complete trials' score
    there with their final score, over all of them and over their best quarter; pruned trials left out."""
    from scipy import stats

    from nnreg.search.confirm import rung_predictions

    rng = np.random.default_rng(4)
    final = rng.uniform(0.039, 0.05, 40)
    early = final + rng.normal(0, 0.004, 40)  # a noisy predictor
    trials = [optuna.trial.create_trial(value=float(f), intermediate_values={250: float(e), 1000: float(f - 1e-4)},
                                        distributions={}, params={}) for f, e in zip(final, early)]
    trials += [optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, intermediate_values={250: 0.01},
                                         distributions={}, params={})]
    rungs = rung_predictions(trials)
    assert [r["epochs"] for r in rungs] == [250, 1000] and rungs[0]["n_complete"] == 40
    assert rungs[0]["spearman_complete"] == pytest.approx(stats.spearmanr(early, final).statistic, rel=1e-12)
    assert rungs[1]["spearman_complete"] == pytest.approx(1.0)  # the same order as the final scores
    best = final <= np.quantile(final, 0.25)
    assert rungs[0]["n_best_quarter"] == best.sum() == 10
    assert rungs[0]["spearman_best_quarter"] == pytest.approx(stats.spearmanr(early[best], final[best]).statistic)


def test_a_null_pruning_or_l2_turns_it_off_and_a_missing_one_is_the_default():
    """`search.pruning: null` trains every trial for every epoch and `search.l2: null` searches no
    penalty, as params.yaml documents; left out, each is its default (a null was read as the default)."""
    raw = to_dict(Params())
    off = parse_params(edited(edited(raw, "search.pruning", None), "search.l2", None))
    assert off.search.pruning is None and off.search.l2 is None
    missing = parse_params(edited(edited(raw, "search.pruning", DELETE), "search.l2", DELETE))
    assert missing.search.pruning == Params().search.pruning and missing.search.l2 == (1e-6, 1e-2)
    from nnreg.search.study import make_pruner, rungs

    assert rungs(off) == [off.train.epochs] and isinstance(make_pruner(off), optuna.pruners.NopPruner)
