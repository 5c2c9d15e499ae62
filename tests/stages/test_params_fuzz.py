"""Property-based tests: generated params files either load or fail with one line naming the key.

Hypothesis mutates the lecture's params (wrong types, missing and unknown keys,
extreme values, empty lists, unicode, huge numbers) and also feeds raw text. The
in-process properties run many cases; a smaller set goes through the real data
stage as a process, checking the exit status, stderr and that nothing is written.
"""

import copy
import json
import string
import sys

import hypothesis.strategies as st
import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from nnreg.params.export import to_dict
from nnreg.params.load import ConfigError, load_params, parse_params
from nnreg.params.schema import Params
from tests.conftest import REPO, copy_project
from tests.helpers import run

DEFAULT = to_dict(Params())
SCHEMA = jsonschema.Draft202012Validator(json.loads((REPO / "params.schema.json").read_text()))


def _paths(node, prefix=()):
    """Every key path of the default params, leaves and sections."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))


PATHS = list(_paths(DEFAULT))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from([0, 1, 2, -1, 1e-300, 1e300, 4096, 4097, 10**7, 10**400, -(10**400), "tanh", "relu", "🙂", "", "1e3"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
keys = st.one_of(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=10), st.integers(), st.just("size"))


@st.composite
def mutated_params_and_paths(draw):
    """The default params with one to three mutations (set, delete or add a key), and the
    key paths that were touched."""
    raw, touched = copy.deepcopy(DEFAULT), []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = raw
        try:
            for k in path[:-1]:
                parent = parent[k]
        except (KeyError, TypeError):
            continue
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "set":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            parent.pop(path[-1], None)
        else:
            new = draw(keys)
            parent[new] = draw(values)
            path = path[:-1] + (new,)
        touched.append(path)
    return raw, touched


mutated_params = mutated_params_and_paths().map(lambda pair: pair[0])


def _key_parts(key: str) -> tuple[str, ...]:
    """A message's dotted key as parts, list indices dropped; an odd (quoted) key is cut at its quote."""
    if '"' in key:
        key = key.split('"')[0].rstrip(".")
    return tuple(part.split("[")[0] for part in key.split(".") if part)


def _names_a_broken_key(message: str, touched) -> bool:
    """The key the message names is one that was broken: a touched key, one inside it, the
    mapping that holds it, another key of the same model entry, data or search section (rules
    across its fields), or a reference to models (stats.baseline, sweep.models)."""
    named = _key_parts(message.split(": ", 1)[0])
    for path in touched:
        path = tuple(str(k) for k in path)
        if "\n" in "".join(path) or '"' in "".join(path) or any(not k.isprintable() or k.strip() != k for k in path):
            path = path[:next(i for i, k in enumerate(path) if not (k.isprintable() and k.strip() == k
                                                                       and '"' not in k and k))]
        if named[:len(path)] == path or path[:len(named)] == named:
            return True
        if path[:1] == ("models",) and named[:2] == path[:2] or path[:1] == named[:1] and named[:1] in (("data",),
                                                                                                         ("search",)):
            return True
        if named[:1] in (("stats",), ("sweep",)) and path[:1] in (("models",), ("stats",), ("sweep",)):
            return True
    return False


def _check_one_line_naming_a_key(message: str):
    assert "\n" not in message and "Traceback" not in message
    head = message.split(":", 1)[0]
    assert head, message


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_params_and_paths())
def test_mutated_params_load_or_fail_naming_the_key(raw_and_touched):
    raw, touched = raw_and_touched
    try:
        p = parse_params(raw)
    except ConfigError as e:
        message = str(e)
        _check_one_line_naming_a_key(message)
        assert _names_a_broken_key(message, touched), (message, touched)
        return
    # It loaded: then every value obeys its rule.
    assert p.data.x_max > p.data.x_min >= 0 and 2 <= p.data.n_points <= 10**7
    assert p.network.layer_sizes[0] == p.network.layer_sizes[-1] == 1 and p.train.epochs > 0
    for m in p.models.values():
        assert (m.learning_rate is not None and m.learning_rate > 0) or (m.trainer == "jax" and m.schedule is not None)
    assert p.stats.baseline in p.model_names("jax") and set(p.sweep.models) <= set(p.model_names())
    # And an editor's check against params.schema.json accepts it too: the schema is never stricter.
    errors = [e.message for e in SCHEMA.iter_errors(raw)]
    assert errors == [], errors


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(string.printable) + ["é", "🙂", "\u200b"]), max_size=200))
def test_any_text_loads_or_fails_with_one_line(tmp_path_factory, text):
    _loads_or_fails_in_one_line(tmp_path_factory.mktemp("fuzz") / "params.yaml", text)


def _loads_or_fails_in_one_line(path, text: str) -> None:
    """The params file `text` loads, or fails with one short line that starts with its path."""
    path.write_text(text, encoding="utf-8")
    try:
        load_params(path)
    except ConfigError as e:
        _check_one_line_naming_a_key(str(e))
        assert str(e).startswith(f"{path}: ") and len(str(e)) < 1000, str(e)[:2000]


# Values that YAML parses but may not build, or builds into something odd: tags, dates,
# huge numbers, anchors and aliases, special floats, long texts.
TRICKY = st.one_of(
    st.sampled_from(["!!int abc", "!!float abc", "!!bool maybe", "!!timestamp abc", "!!binary '@@'", "!!set {a, b}",
                     "!!omap [a: 1]", "!!str [1]", "!!map [1]", "!!seq {a: 1}", "!!null x", "!!python/name:os.system",
                     "!nnreg 1", "2020-02-30", "2020-01-01", "2020-01-01 10:00:00", "1e99999", "-.inf", ".nan", "0x1F",
                     "0o17", "1_000", "&a [1, *a]", "*undefined", "&a 1", "[&b 1, *b]", "{a: &c [*c]}", "~", "yes",
                     "on", "'", "\"\\x\"", "|\n  text", "? complex\n: key"]),
    st.integers(300, 6000).map(lambda n: "9" * n),
    st.integers(300, 6000).map(lambda n: "1" + "0" * n + ".5"),
    st.text(alphabet=st.characters(codec="utf-8", blacklist_categories=("Cs",)), min_size=200, max_size=5000)
    .map(lambda t: json.dumps(t, ensure_ascii=False)),
)
DEFAULT_LINES = yaml.safe_dump(DEFAULT, sort_keys=False, default_flow_style=None, width=10_000).splitlines()
VALUE_LINES = [i for i, line in enumerate(DEFAULT_LINES) if ": " in line]


@st.composite
def tricky_texts(draw):
    """params.yaml with one to three values replaced by tricky YAML."""
    lines = list(DEFAULT_LINES)
    for i in draw(st.lists(st.sampled_from(VALUE_LINES), min_size=1, max_size=3, unique=True)):
        lines[i] = lines[i].split(": ", 1)[0] + ": " + draw(TRICKY)
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(tricky_texts())
def test_tags_dates_huge_numbers_aliases_and_long_texts_fail_in_one_line(tmp_path_factory, text):
    _loads_or_fails_in_one_line(tmp_path_factory.mktemp("tricky") / "params.yaml", text)


@pytest.mark.integration
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mutated_params)
def test_the_data_stage_runs_or_stops_with_one_line(tmp_path_factory, raw):
    root = copy_project(tmp_path_factory.mktemp("stage"))
    if isinstance(raw.get("data"), dict) and isinstance(raw["data"].get("n_points"), int) and raw["data"]["n_points"] > 10**4:
        raw["data"]["n_points"] = 10**4  # keep a valid case fast
    (root / "params.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    proc = run(root, sys.executable, "stages/data.py", check=False)
    if proc.returncode == 0:
        assert (root / "data/dataset.npz").exists()
    else:
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: params.yaml: ") and "Traceback" not in proc.stderr
        assert not (root / "data").exists()
