import copy

import pytest
import yaml

from nnreg import MODELS
from nnreg.config import ConfigError, Params, load_params, parse_params, to_dict
from tests.conftest import REPO

DEFAULT = to_dict(Params())


def test_params_yaml_holds_the_lecture_defaults():
    p = load_params(REPO / "params.yaml")
    assert p == Params()
    assert (p.data.seed, p.data.n_points, p.data.x_min, p.data.x_max, p.data.noise) == (14, 400, 0.0, 5.0, 0.2)
    assert p.network.layer_sizes == (1, 10, 10, 10, 1) and p.network.activation == "tanh"
    assert p.network.init_seed == 1234 and p.train.epochs == 4000
    assert p.models.keras.learning_rate == 0.01
    assert p.models.gd.learning_rate == p.models.optax_sgd.learning_rate == p.models.optax_adam.learning_rate == 0.001
    assert set(to_dict(p)["models"]) == set(MODELS)


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
    raw = copy.deepcopy(DEFAULT)
    node, *_ = [raw]
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return raw


_DELETE = object()

BAD = [
    ("train.epochs", 0, "must be > 0"),
    ("train.epochs", -5, "must be > 0"),
    ("train.epochs", "ten", "must be an integer"),
    ("train.epochs", 1.5, "must be an integer"),
    ("train.epochs", True, "must be an integer"),
    ("models.gd.learning_rate", 0.0, "must be > 0"),
    ("models.optax_adam.learning_rate", -0.1, "must be > 0"),
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
    ("models.rmsprop", {"learning_rate": 0.1}, "unknown key"),
    ("models.gd.momentum", 0.9, "unknown key"),
    ("train.epochs", _DELETE, "missing key"),
    ("models", None, "must be a mapping"),
]


@pytest.mark.parametrize("key,value,rule", BAD, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD])
def test_bad_params_fail_naming_the_key_and_rule(key, value, rule):
    with pytest.raises(ConfigError) as err:
        parse_params(_with(key, value))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(key.split("[")[0]) or key in message, message
    assert rule in message


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
