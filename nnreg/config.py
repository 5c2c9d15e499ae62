"""Typed, validated params: params.yaml loads into frozen dataclasses.

Every rule lives next to its field. A wrong type, a value out of range, a missing
key or an unknown key raises `ConfigError` naming the dotted key and the rule,
before any stage does work.

A model is an entry under `models:`. Its `trainer` says what trains it: `keras`
(the lecture's Keras benchmark) or `jax` (one jitted loop, with any optimizer from
`OPTIMIZERS`, a fixed learning rate or a schedule from `SCHEDULES`, an L2 penalty,
and its own layer sizes, activation and initialisation; unset ones come from
`network:`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from nnreg import NnregError

ACTIVATIONS = ("tanh", "relu", "gelu", "sigmoid", "elu")
# he_normal is the lecture's (N(0, 2/in) weights, biases 1); the others are
# jax.nn.initializers' (truncated normal or uniform weights, biases 0).
INITS = ("he_normal", "glorot_normal", "glorot_uniform", "lecun_normal")
TRAINERS = ("jax", "keras")


class ConfigError(NnregError):
    """A params file that breaks a rule; the message names the key."""


def _rule(check: Callable[[Any], bool], text: str) -> dict:
    return {"rule": (check, text)}


def _optional(check: Callable[[Any], bool] | None = None, text: str = "") -> dict:
    """A key that may be left out (or set to null): then its default applies."""
    return {"optional": True, **(_rule(check, text) if check else {})}


def _positive(x) -> bool:
    return x > 0


# One setting of an optimizer or a schedule: its type, and a rule on its value.
class Setting(typing.NamedTuple):
    type: type
    check: Callable[[Any], bool] = lambda v: True
    text: str = ""
    required: bool = False


_UNIT = Setting(float, lambda v: 0 <= v < 1, "must be in [0, 1)")
_NONNEG = Setting(float, lambda v: 0 <= v <= 1e6, "must be between 0 and 1e6")
_FLAG = Setting(bool)

# Each optimizer's own settings (keys of its model entry besides the common ones).
# All but gd are Optax's, with Optax's defaults; `momentum` and `nesterov` are
# optax.sgd with momentum 0.9 (and Nesterov's variant).
OPTIMIZERS: dict[str, dict[str, Setting]] = {
    "gd": {},
    "sgd": {"momentum": _UNIT, "nesterov": _FLAG},
    "momentum": {"momentum": _UNIT},
    "nesterov": {"momentum": _UNIT},
    "adam": {"b1": _UNIT, "b2": _UNIT, "eps": _NONNEG, "eps_root": _NONNEG},
    "adamw": {"b1": _UNIT, "b2": _UNIT, "eps": _NONNEG, "eps_root": _NONNEG, "weight_decay": _NONNEG},
    "rmsprop": {"decay": _UNIT, "eps": _NONNEG, "initial_scale": _NONNEG, "centered": _FLAG, "momentum": _UNIT,
                "nesterov": _FLAG},
    "adagrad": {"initial_accumulator_value": _NONNEG, "eps": _NONNEG},
    "lion": {"b1": _UNIT, "b2": _UNIT, "weight_decay": _NONNEG},
}

_STEPS = Setting(int, lambda v: 0 < v <= 10**9, "must be between 1 and 1e9", required=True)
_RATE = Setting(float, lambda v: 0 < v <= 1e3, "must be > 0 and <= 1000", required=True)

# Optax's schedules, by the names used in params.yaml (`schedule: {name: ..., ...}`).
SCHEDULES: dict[str, dict[str, Setting]] = {
    "exponential_decay": {
        "init_value": _RATE, "transition_steps": _STEPS,
        "decay_rate": Setting(float, lambda v: 0 < v <= 1e3, "must be > 0 and <= 1000", required=True),
        "transition_begin": Setting(int, lambda v: 0 <= v <= 10**9, "must be between 0 and 1e9"),
        "staircase": _FLAG, "end_value": _NONNEG,
    },
    "cosine_decay": {
        "init_value": _RATE, "decay_steps": _STEPS,
        "alpha": _NONNEG, "exponent": Setting(float, lambda v: 0 < v <= 1e3, "must be > 0 and <= 1000"),
    },
    "warmup_cosine_decay": {
        "init_value": Setting(float, lambda v: 0 <= v <= 1e3, "must be between 0 and 1000", required=True),
        "peak_value": _RATE,
        "warmup_steps": Setting(int, lambda v: 0 <= v <= 10**9, "must be between 0 and 1e9", required=True),
        "decay_steps": _STEPS,
        "end_value": _NONNEG, "exponent": Setting(float, lambda v: 0 < v <= 1e3, "must be > 0 and <= 1000"),
    },
}

MAX_MODELS = 64
MAX_SEEDS = 65536
# Model names become stage and file names; DVC's run-cache drops keys named size or
# nfiles from its hash (treeverse/dvc#10296), so those are refused too.
_MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_RESERVED_NAMES = ("size", "nfiles")


@dataclass(frozen=True)
class DataParams:
    seed: int = field(default=14, metadata=_rule(lambda v: v >= 0, "must be >= 0"))
    n_points: int = field(default=400, metadata=_rule(lambda v: 2 <= v <= 10**7, "must be between 2 and 10000000"))
    # Bounded so that float32 data stays finite.
    x_min: float = field(default=0.0, metadata=_rule(lambda v: 0 <= v <= 1e6, "must be between 0 and 1e6, since y uses sqrt(x)"))
    x_max: float = field(default=5.0, metadata=_rule(lambda v: v <= 1e6, "must be <= 1e6"))
    noise: float = field(default=0.2, metadata=_rule(lambda v: 0 <= v <= 1e6, "must be between 0 and 1e6"))

    def check(self) -> None:
        if not self.x_max > self.x_min:
            raise ConfigError(f"data.x_max: must be greater than data.x_min (got {self.x_max} <= {self.x_min})")


def _layer_sizes_ok(v) -> bool:
    return 2 <= len(v) <= 64 and v[0] == 1 and v[-1] == 1 and all(1 <= n <= 4096 for n in v)


_LAYER_SIZES_RULE = "must be a list of 2 to 64 ints in [1, 4096] starting and ending with 1"
_ACTIVATION_RULE = f"must be one of {', '.join(ACTIVATIONS)}"
_INIT_RULE = f"must be one of {', '.join(INITS)}"


@dataclass(frozen=True)
class NetworkParams:
    layer_sizes: tuple[int, ...] = field(default=(1, 10, 10, 10, 1), metadata=_rule(_layer_sizes_ok, _LAYER_SIZES_RULE))
    activation: str = field(default="tanh", metadata=_rule(lambda v: v in ACTIVATIONS, _ACTIVATION_RULE))
    init_seed: int = field(default=1234, metadata=_rule(lambda v: v >= 0, "must be >= 0"))
    init: str = field(default="he_normal", metadata=_optional(lambda v: v in INITS, _INIT_RULE))


@dataclass(frozen=True)
class TrainParams:
    epochs: int = field(default=4000, metadata=_rule(lambda v: 0 < v <= 10**7, "must be > 0 and <= 10000000"))


_LR_RULE = _rule(_positive, "must be > 0")


@dataclass(frozen=True)
class KerasModel:
    """The lecture's Keras benchmark: Sequential Dense layers, full-batch `fit` with SGD."""

    trainer: str = "keras"
    learning_rate: float = field(default=0.01, metadata=_LR_RULE)
    # The lecture's build_keras_model adds len(layer_sizes)-1 hidden Dense layers plus
    # the output: one hidden layer more than the JAX networks (361 params, not 251).
    lecture_layer_count: bool = field(default=False, metadata=_optional())


@dataclass(frozen=True)
class Schedule:
    """An Optax learning-rate schedule by name, with its own arguments."""

    name: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class JaxModel:
    """A network trained by nnreg's jitted loop. None means: as in `network:`."""

    trainer: str = "jax"
    optimizer: str = field(default="adam", metadata=_rule(lambda v: v in OPTIMIZERS,
                                                          f"must be one of {', '.join(OPTIMIZERS)}"))
    learning_rate: Optional[float] = field(default=None, metadata=_optional(lambda v: 0 < v <= 1e3, "must be > 0 and <= 1000"))
    schedule: Optional[Schedule] = field(default=None, metadata=_optional())
    l2: float = field(default=0.0, metadata=_optional(lambda v: 0 <= v <= 1e3, "must be between 0 and 1000"))
    layer_sizes: Optional[tuple[int, ...]] = field(default=None, metadata=_optional(_layer_sizes_ok, _LAYER_SIZES_RULE))
    activation: Optional[str] = field(default=None, metadata=_optional(lambda v: v in ACTIVATIONS, _ACTIVATION_RULE))
    init: Optional[str] = field(default=None, metadata=_optional(lambda v: v in INITS, _INIT_RULE))
    # The optimizer's own settings (b1, momentum, ...), flat in the entry; see OPTIMIZERS.
    settings: dict = field(default_factory=dict)

    def resolve(self, network: NetworkParams) -> JaxModel:
        """The same model with every unset network key taken from `network`."""
        return dataclasses.replace(
            self,
            layer_sizes=self.layer_sizes or network.layer_sizes,
            activation=self.activation or network.activation,
            init=self.init or network.init,
        )


Model = typing.Union[KerasModel, JaxModel]


def _default_models() -> dict[str, Model]:
    """The lecture's four ways, then the four strategies of its Exercise 23.1."""
    deep = (1, 6, 6, 6, 6, 6, 1)
    decay = Schedule("exponential_decay", {"init_value": 0.003, "transition_steps": 1000, "decay_rate": 0.5})
    return {
        "keras": KerasModel(),
        "gd": JaxModel(optimizer="gd", learning_rate=0.001),
        "optax_sgd": JaxModel(optimizer="sgd", learning_rate=0.001),
        "optax_adam": JaxModel(optimizer="adam", learning_rate=0.001),
        "deep": JaxModel(optimizer="adam", learning_rate=0.001, layer_sizes=deep),
        "deep_schedule": JaxModel(optimizer="adam", schedule=decay, layer_sizes=deep),
        "deep_schedule_l2": JaxModel(optimizer="adam", schedule=decay, l2=0.001, layer_sizes=deep),
        "adam_l2": JaxModel(optimizer="adam", learning_rate=0.001, l2=0.001),
    }


def _seeds_ok(v) -> bool:
    return 2 <= v <= MAX_SEEDS


@dataclass(frozen=True)
class StatsParams:
    """Every JAX model over `n_seeds` replicates (fresh init and data noise), paired."""

    n_seeds: int = field(default=32, metadata=_rule(_seeds_ok, f"must be between 2 and {MAX_SEEDS}"))
    seed: int = field(default=0, metadata=_rule(lambda v: v >= 0, "must be >= 0"))
    baseline: str = "optax_adam"


def _rates_ok(v) -> bool:
    return 2 <= len(v) <= 256 and all(0 < r <= 1e3 for r in v) and len(set(v)) == len(v)


@dataclass(frozen=True)
class SweepParams:
    """Validation MSE against learning rate, over `n_seeds` replicates, for `models`."""

    models: tuple[str, ...] = ("gd", "optax_adam")
    learning_rates: tuple[float, ...] = field(
        # 1e-4 to 2 in steps of 1, 2, 5 (about three a decade): GD diverges well before the top.
        default=tuple(float(f"{m}e{e}") for e in range(-4, 0) for m in (1, 2, 5)) + (1.0, 2.0),
        metadata=_rule(_rates_ok, "must be a list of 2 to 256 different numbers in (0, 1000]"),
    )
    n_seeds: int = field(default=8, metadata=_rule(lambda v: 1 <= v <= MAX_SEEDS, f"must be between 1 and {MAX_SEEDS}"))


@dataclass(frozen=True)
class Params:
    data: DataParams = DataParams()
    network: NetworkParams = NetworkParams()
    train: TrainParams = TrainParams()
    models: dict = field(default_factory=_default_models, metadata={"parse": lambda raw, key: _parse_models(raw, key)})
    stats: StatsParams = StatsParams()
    sweep: SweepParams = SweepParams()

    def check(self) -> None:
        jax_models = [m for m, spec in self.models.items() if isinstance(spec, JaxModel)]
        if self.stats.baseline not in jax_models:
            raise ConfigError(f"stats.baseline: must name a model whose trainer is jax "
                              f"(one of {', '.join(jax_models) or 'none'}; got {_show(self.stats.baseline)})")
        for i, name in enumerate(self.sweep.models):
            key = f"sweep.models[{i}]"
            if name not in jax_models:
                raise ConfigError(f"{key}: must name a model whose trainer is jax "
                                  f"(one of {', '.join(jax_models) or 'none'}; got {_show(name)})")
            if self.models[name].learning_rate is None:
                raise ConfigError(f"{key}: {name} has a schedule; a sweep varies a fixed learning_rate")
        if len(set(self.sweep.models)) != len(self.sweep.models):
            raise ConfigError(f"sweep.models: names a model twice (got {_show(list(self.sweep.models))})")

    def jax_model(self, name: str) -> JaxModel:
        """Model `name`, a JAX one, with the network's defaults filled in."""
        return self.models[name].resolve(self.network)

    def activation_of(self, name: str) -> str:
        model = self.models[name]
        return model.resolve(self.network).activation if isinstance(model, JaxModel) else self.network.activation

    def model_names(self, trainer: str | None = None) -> list[str]:
        return [m for m, spec in self.models.items() if trainer is None or spec.trainer == trainer]


_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlevel = 40, 40, 6, 4, 3


def _show(value) -> str:
    """A short one-line repr, cheap even for a huge or deeply nested value."""
    return _REPR.repr(value)


def _shown_key(k) -> str:
    """A key as it goes into a message: repr() for odd keys (newlines, non-strings), so it stays one line."""
    return k if isinstance(k, str) and k.isprintable() and k.strip() == k and k else repr(k)


def _type_name(tp) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Checks `value` against the annotation `tp` and converts lists to tuples."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # Optional[X]: null means unset
        if value is None:
            return None
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
        origin = typing.get_origin(tp)
    if tp is Schedule:
        return _parse_schedule(value, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is tuple:
        (item_tp, _) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: must be a list of {_type_name(item_tp).removeprefix('an ').removeprefix('a ')}s "
                              f"(got {_show(value)})")
        return tuple(_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    # bool is a subclass of int in Python; a YAML `true` is never a number here.
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            try:
                number = float(value)
            except OverflowError:  # an int of 400 digits
                number = math.inf
            if not math.isfinite(number):
                raise ConfigError(f"{key}: must be a finite number (got {_show(value)})")
            value = number
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise ConfigError(f"{key}: must be {_type_name(tp)} (got {_show(value)})")
    if tp is int and abs(value) > 2**31 - 1:
        raise ConfigError(f"{key}: must fit in 32 bits (got {value})")
    return value


def _check_mapping(raw: Any, where: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping of keys to values (got {_show(raw)})")


def _unknown(prefix: str, k, known, what: str = "") -> ConfigError:
    dotted = f"{prefix}.{_shown_key(k)}" if prefix else _shown_key(k)
    return ConfigError(f"{dotted}: unknown key{what} (known: {', '.join(known)})")


def _build(cls, raw: Any, prefix: str, extra: dict | None = None):
    where = prefix or "params"
    _check_mapping(raw, where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "settings"}
    for k in raw:
        if k not in fields:
            raise _unknown(prefix, k, fields)
    values = dict(extra or {})
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if raw.get(name) is None and f.metadata.get("optional"):
            continue  # left out (or null): the default
        if name not in raw:
            raise ConfigError(f"{key}: missing key")
        if "parse" in f.metadata:
            value = f.metadata["parse"](raw[name], key)
        else:
            value = _convert(raw[name], hints[name], key)
        rule = f.metadata.get("rule")
        if rule is not None and not rule[0](value):
            raise ConfigError(f"{key}: {rule[1]} (got {_show(value)})")
        values[name] = value
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check()
    return obj


def _check_settings(raw: dict, table: dict[str, Setting], prefix: str, what: str) -> dict:
    """The settings in `raw`, each checked against `table`; unknown ones name the allowed keys."""
    values = {}
    for k, v in raw.items():
        if k not in table:
            raise ConfigError(f"{prefix}.{_shown_key(k)}: unknown key for {what} "
                              f"(allowed: {', '.join(table) or 'none'})")
        s = table[k]
        value = _convert(v, s.type, f"{prefix}.{k}")
        if not s.check(value):
            raise ConfigError(f"{prefix}.{k}: {s.text} (got {_show(value)})")
        values[k] = value
    for k, s in table.items():
        if s.required and k not in raw:
            raise ConfigError(f"{prefix}.{k}: missing key (required by {what})")
    return values


def _parse_schedule(raw: Any, key: str) -> Schedule:
    _check_mapping(raw, key)
    name = raw.get("name")
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ConfigError(f"{key}.name: must be one of {', '.join(SCHEDULES)} (got {_show(name)})")
    args = _check_settings({k: v for k, v in raw.items() if k != "name"}, SCHEDULES[name], key,
                           f"schedule {name}")
    return Schedule(name, args)


def _parse_model(raw: Any, key: str) -> Model:
    _check_mapping(raw, key)
    trainer = raw.get("trainer")
    if not isinstance(trainer, str) or trainer not in TRAINERS:
        if "trainer" not in raw:
            raise ConfigError(f"{key}.trainer: missing key (one of {', '.join(TRAINERS)})")
        raise ConfigError(f"{key}.trainer: must be one of {', '.join(TRAINERS)} (got {_show(trainer)})")
    if trainer == "keras":
        return _build(KerasModel, raw, key)
    optimizer = raw.get("optimizer")
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        if "optimizer" not in raw:
            raise ConfigError(f"{key}.optimizer: missing key (one of {', '.join(OPTIMIZERS)})")
        raise ConfigError(f"{key}.optimizer: must be one of {', '.join(OPTIMIZERS)} (got {_show(optimizer)})")
    common = [f.name for f in dataclasses.fields(JaxModel) if f.name != "settings"]
    own = OPTIMIZERS[optimizer]
    for k in raw:
        if k not in common and k not in own:
            raise _unknown(key, k, common + list(own), f" for optimizer {optimizer}")
    settings = _check_settings({k: v for k, v in raw.items() if k in own}, own, key, f"optimizer {optimizer}")
    model = _build(JaxModel, {k: v for k, v in raw.items() if k in common}, key, {"settings": settings})
    if model.learning_rate is not None and model.schedule is not None:
        raise ConfigError(f"{key}.schedule: give either learning_rate or schedule, not both")
    if model.learning_rate is None and model.schedule is None:
        raise ConfigError(f"{key}.learning_rate: missing key (or give a schedule)")
    if optimizer == "gd" and model.schedule is not None:
        raise ConfigError(f"{key}.schedule: the hand-written gd takes a fixed learning_rate (use optimizer sgd "
                          f"for a schedule)")
    return model


def _parse_models(raw: Any, key: str) -> dict[str, Model]:
    _check_mapping(raw, key)
    if not 1 <= len(raw) <= MAX_MODELS:
        raise ConfigError(f"{key}: must hold 1 to {MAX_MODELS} models (got {len(raw)})")
    models = {}
    for name, entry in raw.items():
        if not (isinstance(name, str) and _MODEL_NAME.fullmatch(name)) or name in _RESERVED_NAMES:
            raise ConfigError(f"{key}.{_shown_key(name)}: a model name must be a letter then up to 39 letters, "
                              f"digits or _, and not {' or '.join(_RESERVED_NAMES)}")
        models[name] = _parse_model(entry, f"{key}.{name}")
    return models


def parse_params(raw: Any) -> Params:
    """Builds `Params` from a parsed YAML document, or raises ConfigError."""
    return _build(Params, raw, "")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Reads and validates a params file; every failure is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a params file") from None
    if raw is None:
        raise ConfigError(f"{path}: empty file")
    try:
        return parse_params(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def model_to_dict(model: Model) -> dict:
    """A model entry as it is written in params.yaml: unset keys left out, settings flat."""
    out = {}
    for f in dataclasses.fields(model):
        value = getattr(model, f.name)
        if f.name == "settings":
            out.update(value)
        elif isinstance(value, Schedule):
            out[f.name] = {"name": value.name, **value.args}
        elif value is None or (f.name == "l2" and value == 0.0):
            continue  # unset: as in `network:`, or no penalty
        else:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def to_dict(params: Params) -> dict:
    """The params as plain YAML-ready data (tuples become lists)."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        return v

    out = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if f.name == "models":
            out[f.name] = {name: model_to_dict(m) for name, m in value.items()}
        else:
            out[f.name] = plain(dataclasses.asdict(value))
    return out


def _differing_keys(mine, theirs, prefix: str) -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [k for key in {**mine, **theirs}
                for k in _differing_keys(mine.get(key), theirs.get(key), f"{prefix}.{key}")]
    return [] if mine == theirs else [prefix]


def lecture_differences(params: Params, model: str) -> list[str]:
    """The dotted params by which `model`'s single run differs from the lecture's (the
    defaults): the data, the network, the epochs and the model's own entry. Empty: the
    lecture's published numbers are comparable with ours."""
    mine, lecture = to_dict(params), to_dict(Params())
    if model not in lecture["models"]:
        return [f"models.{model}"]
    return [k for section in ("data", "network", "train") for k in _differing_keys(mine[section], lecture[section], section)
            ] + _differing_keys(mine["models"][model], lecture["models"][model], f"models.{model}")
