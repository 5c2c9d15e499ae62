"""params.yaml: the lecture's defaults, every rule with its one-line error, the JSON Schema editors read."""

import pytest
import yaml

from nnreg.params.export import to_dict
from nnreg.params.load import ConfigError, load_params, parse_params
from nnreg.params.schedules import SCHEDULE_ENTRIES, Schedule
from nnreg.params.schema import OPTIMIZER_ENTRIES, JaxModel, Params
from tests.conftest import REPO
from tests.helpers import DELETE, edited

DEFAULT = to_dict(Params())


def test_params_yaml_holds_the_lecture_defaults():
    p = load_params(REPO / "params.yaml")
    assert p == Params()
    assert (p.data.seed, p.data.n_points, p.data.x_min, p.data.x_max, p.data.noise) == (14, 400, 0.0, 5.0, 0.2)
    assert p.network.layer_sizes == (1, 10, 10, 10, 1) and p.network.activation == "tanh"
    assert p.network.init_seed == 1234 and p.train.epochs == 4000 and p.network.init == "he_normal"
    assert p.models["keras"].learning_rate == 0.01 and p.models["keras"].trainer == "keras"
    assert [p.models[m].optimizer for m in ("gd", "optax_sgd", "optax_adam")] == ["gd", "sgd", "adam"]
    assert p.models["gd"].learning_rate == p.models["optax_sgd"].learning_rate == p.models["optax_adam"].learning_rate == 0.001
    # The lecture's four ways, its exercise's four strategies (the version nnreg follows), then its other versions'.
    assert list(p.models) == ["keras", "gd", "optax_sgd", "optax_adam", "deep", "deep_schedule", "deep_schedule_l2",
                              "adam_l2", "elu", "selu", "schedule_l2", "armijo"]
    # The exercise's four strategies, as its solution code writes them.
    deep, decay = (1, 6, 6, 6, 6, 6, 1), Schedule.of("exponential_decay", init_value=0.003, transition_steps=1000,
                                                     decay_rate=0.5)
    assert p.jax_model("deep") == JaxModel.of("adam", learning_rate=0.001, layer_sizes=deep, activation="tanh",
                                              init="he_normal")
    assert p.models["deep_schedule"].schedule == decay and p.models["deep_schedule"].learning_rate is None
    assert p.models["deep_schedule_l2"].l2 == 0.001 and p.models["deep_schedule_l2"].layer_sizes == deep
    assert p.jax_model("adam_l2").layer_sizes == (1, 10, 10, 10, 1) and p.models["adam_l2"].l2 == 0.001
    # The other versions' strategies, as their code writes them: ELU and SELU on the baseline network
    # (69d51f2); its schedule and L2 on the baseline network, and Armijo's line search (e5d26bf).
    assert [p.jax_model(m).activation for m in ("elu", "selu")] == ["elu", "selu"]
    assert p.jax_model("schedule_l2").layer_sizes == (1, 10, 10, 10, 1) and p.models["schedule_l2"].schedule == decay
    assert p.models["schedule_l2"].l2 == 0.001
    assert p.models["armijo"].settings == {"decrease_factor": 0.5, "slope_rtol": 0.001, "max_backtracking_steps": 20}
    assert p.models["armijo"].learning_rate == 0.01 and p.jax_model("armijo").activation == "tanh"
    assert p.stats.n_seeds >= 32 and p.stats.baseline == "optax_adam"
    assert p.sweep.models == ("gd", "optax_adam", "keras") and len(p.sweep.learning_rates) >= 13 and p.sweep.n_seeds >= 2
    assert parse_params(to_dict(p)) == p


def _walk_keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{prefix}{k}", k
            yield from _walk_keys(v, f"{prefix}{k}.")


def test_no_param_key_is_named_size_or_nfiles():
    """DVC's run-cache drops such keys from its hash (treeverse/dvc#10296): a change would be missed."""
    for path in ("params.yaml",):
        raw = yaml.safe_load((REPO / path).read_text())
        bad = [dotted for dotted, k in _walk_keys(raw) if k in ("size", "nfiles")]
        assert bad == [], f"{path}: keys {bad} are dropped from DVC's run-cache hash"
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for stage in dvc["stages"].values():
        stage = stage.get("do", stage)
        for key in stage.get("params", []):
            assert not {"size", "nfiles"} & set(str(key).split(".")), key


def _with(path: str, value):
    return edited(DEFAULT, path, value)


_DELETE = DELETE

BAD = [
    ("train.epochs", 0, "must be > 0"),
    ("train.epochs", -5, "must be > 0"),
    ("train.epochs", "ten", "must be an integer"),
    ("train.epochs", 1.5, "must be an integer"),
    ("train.epochs", True, "must be an integer"),
    ("models.gd.learning_rate", 0.0, "must be > 0"),
    ("models.optax_adam.learning_rate", -0.1, "must be > 0"),
    ("models.optax_adam.learning_rate", None, "missing key (or give a schedule)"),
    ("models.keras.learning_rate", "fast", "must be a number"),
    ("models.keras.learning_rate", float("nan"), "finite"),
    ("models.keras.lecture_layer_count", "yes", "true or false"),
    ("data.n_points", 1, "between 2 and"),
    ("data.n_points", 10**8, "between 2 and"),
    ("data.n_points", 10**12, "32 bits"),
    ("data.x_max", 0.0, "greater than data.x_min"),
    ("data.x_min", -1.0, "must be between 0 and 1e6"),
    ("data.x_max", 1e300, "must be <= 1e6"),
    ("data.noise", 1e7, "must be between 0 and 1e6"),
    ("data.noise", -0.2, "must be between 0 and 1e6"),
    ("data.seed", 2**40, "32 bits"),
    ("network.layer_sizes", [2, 10, 1], "starting and ending with 1"),
    ("network.layer_sizes", [1, 10, 3], "starting and ending with 1"),
    ("network.layer_sizes", [1], "starting and ending with 1"),
    ("network.layer_sizes", [], "starting and ending with 1"),
    ("network.layer_sizes", [1, 0, 1], "starting and ending with 1"),
    ("network.layer_sizes", "1,10,1", "must be a list"),
    ("network.activation", "softmax", "must be one of"),
    ("network.activation", 3, "must be a string"),
    ("network.colour", "red", "unknown key"),
    ("models.rmsprop", {"learning_rate": 0.1}, "models.rmsprop.optimizer: missing key (one of gd, sgd, "),  # jax by default
    ("models.keras.trainer", _DELETE, "models.keras.optimizer: missing key (one of gd, sgd, momentum, nesterov, adam, "
                                      "adamw, rmsprop, adagrad, lion, armijo; or trainer: keras)"),
    ("models.gd.trainer", "torch", "must be one of jax, keras"),
    ("models.gd.momentum", 0.9, "unknown key for optimizer gd (known: trainer, optimizer, learning_rate"),
    ("models.optax_sgd.b1", 0.9, "unknown key for optimizer sgd (known: trainer, optimizer, learning_rate, schedule, "
                                 "l2, layer_sizes, activation, init, momentum, nesterov)"),
    ("models.optax_adam.b1", 1.5, "must be in [0, 1)"),
    ("models.optax_adam.b1", "big", "must be a number"),
    ("models.optax_sgd.nesterov", 1, "must be true or false"),
    ("models.optax_adam.optimizer", "adamax", "must be one of gd, sgd, momentum, nesterov, adam, adamw, rmsprop, "
                                              "adagrad, lion"),
    ("models.optax_adam.optimizer", _DELETE, "missing key (one of gd, sgd"),
    ("models.optax_adam.schedule", {"name": "cosine_decay", "init_value": 0.01, "decay_steps": 10},
     "give either learning_rate or schedule, not both"),
    ("models.deep_schedule.schedule", {"name": "step", "init_value": 0.01}, "must be one of exponential_decay, "
                                                                           "cosine_decay, warmup_cosine_decay"),
    ("models.deep_schedule.schedule", {"name": "cosine_decay", "init_value": 0.01}, "decay_steps: missing key"),
    ("models.deep_schedule.schedule", {"name": "cosine_decay", "init_value": 0.01, "decay_steps": 10, "rate": 2},
     "unknown key for schedule cosine_decay (allowed: init_value, decay_steps, alpha, exponent)"),
    ("models.deep_schedule.schedule", {"name": "exponential_decay", "init_value": 0.01, "transition_steps": 0,
                                       "decay_rate": 0.5}, "must be between 1 and 1e9"),
    ("models.deep_schedule.schedule", "fast", "must be a mapping"),
    ("models.gd.schedule", {"name": "cosine_decay", "init_value": 0.01, "decay_steps": 10},
     "give either learning_rate or schedule"),
    ("models.deep.init", "orthogonal", "must be one of he_normal, glorot_normal, glorot_uniform, lecun_normal"),
    ("network.init", "zeros", "must be one of he_normal"),
    ("models.deep.layer_sizes", [1, 6, 2], "starting and ending with 1"),
    ("models.deep.activation", "swish", "must be one of tanh"),
    ("models.adam_l2.l2", -0.001, "must be between 0 and 1000"),
    ("models.keras.optimizer", "adam", "unknown key (known: trainer, learning_rate, lecture_layer_count, loop)"),
    ("models.size", {"trainer": "jax", "optimizer": "gd", "learning_rate": 0.1}, "a model name must be"),
    ("models.bad-name", {"trainer": "jax", "optimizer": "gd", "learning_rate": 0.1}, "a model name must be"),
    ("models", {}, "must hold 1 to 64 models"),
    ("stats.n_seeds", 1, "must be between 2 and 65536"),
    ("stats.n_seeds", 10**6, "must be between 2 and 65536"),
    ("stats.baseline", "keras", "must name a model whose trainer is jax"),
    ("stats.baseline", "nope", "must name a model whose trainer is jax"),
    ("sweep.models", ["gd", "nope"], "must name a model (one of keras, gd,"),
    ("sweep.models", ["deep_schedule"], "has a schedule; a sweep varies a fixed learning_rate"),
    ("sweep.models", ["gd", "gd"], "names a model twice"),
    ("sweep.learning_rates", [0.1], "must be a list of 2 to 256 different numbers"),
    ("sweep.learning_rates", [0.1, 0.1], "must be a list of 2 to 256 different numbers"),
    ("sweep.learning_rates", [0.1, 0.0], "must be a list of 2 to 256 different numbers"),
    ("sweep.learning_rates", [0.1] * 300, "must be a list of 2 to 256 different numbers"),
    ("sweep.n_seeds", 0, "must be between 1 and 65536"),
    ("train.epochs", _DELETE, "missing key"),
    ("models", None, "must be a mapping"),
]


@pytest.mark.parametrize("key,value,rule", BAD,
                         ids=[(f"{k} deleted" if v is _DELETE else f"{k}={v!r}")[:40] for k, v, _ in BAD])
def test_bad_params_fail_naming_the_key_and_rule(key, value, rule):
    with pytest.raises(ConfigError) as err:
        parse_params(_with(key, value))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(key.split("[")[0]) or key in message or (
        key.endswith(".trainer") and message.startswith(key.removesuffix("trainer"))), message
    assert rule in message


@pytest.mark.parametrize("odd", [" \x85", "\u2028", "a\u2029b", "\x1c", "zero\u200bwidth", "\U000e0001"])
def test_a_key_or_value_with_any_line_break_or_invisible_character_stays_one_line(tmp_path, odd):
    """Python's splitlines (and some terminals) break lines at NEL, U+2028, U+2029 and \\x1c-\\x1e,
    which JSON leaves raw; the fuzzer found ' \\x85' as a key. Such characters are escaped."""
    raw = to_dict(Params())
    raw[odd] = None
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ConfigError) as err:
        load_params(path)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and message.isprintable(), repr(message)
    assert message.endswith("unknown key (known: data, network, train, models, stats, sweep, search)")
    raw = to_dict(Params())
    raw["network"]["activation"] = odd
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert len(str(err.value).splitlines()) == 1 and str(err.value).isprintable(), repr(str(err.value))


def test_files_that_are_not_params(tmp_path):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    for text, expected in [("data: [1, 2\n", "not valid YAML"), ("", "empty file"), ("- 1\n- 2\n", "must be a mapping"),
                           ("[" * 5000 + "]" * 5000, "nested too deeply|must be a mapping"),
                           (laughs, "unknown key")]:
        path = tmp_path / "params.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=expected) as err:
            load_params(path)
        assert str(path) in str(err.value)
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "missing.yaml")


def test_an_int_is_accepted_where_a_float_is_expected():
    p = parse_params(_with("data.x_max", 6))
    assert p.data.x_max == 6.0 and isinstance(p.data.x_max, float)


def test_a_strategy_is_a_params_entry():
    raw = _with("models.cosine_momentum", {
        "trainer": "jax", "optimizer": "nesterov", "momentum": 0.8, "activation": "relu", "init": "glorot_uniform",
        "layer_sizes": [1, 8, 8, 1], "l2": 0.0001,
        "schedule": {"name": "warmup_cosine_decay", "init_value": 0.0, "peak_value": 0.01, "warmup_steps": 100,
                     "decay_steps": 4000}})
    p = parse_params(raw)
    m = p.jax_model("cosine_momentum")
    assert (m.optimizer, m.settings, m.activation, m.init, m.layer_sizes, m.l2) == (
        "nesterov", {"momentum": 0.8}, "relu", "glorot_uniform", (1, 8, 8, 1), 0.0001)
    assert m.schedule.name == "warmup_cosine_decay" and m.schedule.args["warmup_steps"] == 100
    assert p.jax_model("gd").activation == "tanh"  # the network's
    # `trainer` may be left out: jax, by default.
    no_trainer = _with("models.plain", {"optimizer": "adam", "learning_rate": 0.002})
    assert parse_params(no_trainer).models["plain"].trainer == "jax"
    assert parse_params(_with("models.gd.trainer", None)).models["gd"].trainer == "jax"  # null: the default
    assert parse_params(to_dict(p)) == p  # written back as it was read
    # Unset keys come from network:, null included (dvc exp run -S can set null, not delete).
    raw = _with("models.deep.layer_sizes", None)
    assert parse_params(raw).jax_model("deep").layer_sizes == (1, 10, 10, 10, 1)


def test_every_optimizer_setting_and_schedule_argument_is_optax_s():
    """The optimizers and schedules params.yaml may name are nnreg.core.optimizers' tables, and
    the settings the schema allows are real arguments of the Optax functions they stand for."""
    import inspect

    import optax

    from nnreg.core.optimizers import OPTAX, OPTIMIZERS, SCHEDULES

    assert list(OPTIMIZER_ENTRIES) == list(OPTIMIZERS) and set(OPTAX) == set(OPTIMIZERS) - {"gd", "armijo"}
    # armijo's settings are the arguments of Optax's line search it is built from.
    linesearch = set(inspect.signature(optax.scale_by_backtracking_linesearch).parameters)
    assert set(OPTIMIZER_ENTRIES["armijo"].model_fields) - set(JaxModel.model_fields) <= linesearch
    assert list(SCHEDULE_ENTRIES) == list(SCHEDULES)
    for name, (fn, fixed) in OPTAX.items():
        accepted = set(inspect.signature(getattr(optax, fn)).parameters)
        own = set(OPTIMIZER_ENTRIES[name].model_fields) - set(JaxModel.model_fields)
        assert own | set(fixed) <= accepted, name
    for name, fn in SCHEDULES.items():
        signature = inspect.signature(getattr(optax, fn)).parameters
        required = {k for k, v in signature.items() if v.default is inspect.Parameter.empty}
        arguments = set(SCHEDULE_ENTRIES[name].model_fields) - {"name"}
        assert arguments <= set(signature), name
        assert arguments - set(SCHEDULE_ENTRIES[name]._optional) == required, name


def test_the_vocabulary_is_the_implementation_s():
    """Each name list is the table that implements it: an activation, initializer or trainer
    added there is accepted by params.yaml, with nothing else to edit."""
    from typing import get_args

    from nnreg.core.activations import ACTIVATIONS
    from nnreg.core.initializers import INITIALIZERS
    from nnreg.params.schema import Activation, Init
    from nnreg.params.vocabulary import TRAINERS

    assert get_args(Activation) == tuple(ACTIVATIONS) and get_args(Init) == tuple(INITIALIZERS)
    with pytest.raises(ConfigError, match=r"^models.gd.trainer: must be one of " + ", ".join(TRAINERS) + r" \(got torch\)$"):
        parse_params(_with("models.gd.trainer", "torch"))


# Rules across fields or files that a JSON Schema cannot state; the loader alone enforces them.
_BEYOND_THE_SCHEMA = {
    "models.keras.learning_rate": "nan",  # JSON has no nan; YAML's .nan is a float to a validator
    "data.x_max": "greater than data.x_min",
    "network.layer_sizes": "ending with 1",  # JSON Schema cannot index from the end of an array
    "models.deep.layer_sizes": "ending with 1",
    "stats.baseline": "names a JAX model",
    "sweep.models": "names models with a fixed rate",
}


def _schema_validator():
    import json

    import jsonschema

    schema = json.loads((REPO / "params.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_generated_from_the_params_models():
    """params.schema.json is `make schema`'s output for the current nnreg/params/schema.py."""
    from nnreg.params.export import json_schema

    assert (REPO / "params.schema.json").read_text() == json_schema(), "stale params.schema.json: run make schema"
    assert (REPO / "params.yaml").read_text().startswith("# yaml-language-server: $schema=params.schema.json\n")


def test_an_editor_s_schema_check_agrees_with_the_loader():
    """The schema accepts params.yaml and rejects each bad value the loader rejects, but
    for the rules across fields that JSON Schema cannot state."""
    validator = _schema_validator()
    assert list(validator.iter_errors(yaml.safe_load((REPO / "params.yaml").read_text()))) == []
    strategy = _with("models.cosine", {"trainer": "jax", "optimizer": "nesterov", "momentum": 0.8, "l2": 0.01,
                                       "schedule": {"name": "warmup_cosine_decay", "init_value": 0.0,
                                                    "peak_value": 0.01, "warmup_steps": 10, "decay_steps": 100}})
    assert list(validator.iter_errors(strategy)) == []
    accepted = [(key, value) for key, value, _ in BAD if not list(validator.iter_errors(_with(key, value)))]
    assert {key for key, _ in accepted} == set(_BEYOND_THE_SCHEMA), accepted


@pytest.mark.parametrize("value", ["2020-02-30", "!!int abc", "!!float abc", "!!bool maybe", "!!timestamp abc",
                                   "9" * 5000])
def test_values_yaml_parses_but_cannot_build_fail_in_one_line(tmp_path, value):
    """PyYAML raises ValueError, KeyError or AttributeError (not YAMLError) for these."""
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text().replace("seed: 14 ", f"seed: {value} "))
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert str(err.value).startswith(f"{path}: a value YAML cannot read (") and "\n" not in str(err.value)
