"""Typed, validated params: params.yaml loads into frozen dataclasses.

Every rule lives next to its field. A wrong type, a value out of range, a missing
key or an unknown key raises `ConfigError` naming the dotted key and the rule,
before any stage does work.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from nnreg import NnregError

ACTIVATIONS = ("tanh", "relu", "gelu", "sigmoid", "elu")


class ConfigError(NnregError):
    """A params file that breaks a rule; the message names the key."""


def _rule(check: Callable[[Any], bool], text: str) -> dict:
    return {"rule": (check, text)}


def _positive(x) -> bool:
    return x > 0


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


@dataclass(frozen=True)
class NetworkParams:
    layer_sizes: tuple[int, ...] = field(
        default=(1, 10, 10, 10, 1),
        metadata=_rule(_layer_sizes_ok, "must be a list of 2 to 64 ints in [1, 4096] starting and ending with 1"),
    )
    activation: str = field(
        default="tanh", metadata=_rule(lambda v: v in ACTIVATIONS, f"must be one of {', '.join(ACTIVATIONS)}")
    )
    init_seed: int = field(default=1234, metadata=_rule(lambda v: v >= 0, "must be >= 0"))


@dataclass(frozen=True)
class TrainParams:
    epochs: int = field(default=4000, metadata=_rule(lambda v: 0 < v <= 10**7, "must be > 0 and <= 10000000"))


_LR_RULE = _rule(_positive, "must be > 0")


@dataclass(frozen=True)
class KerasParams:
    learning_rate: float = field(default=0.01, metadata=_LR_RULE)
    # The lecture's build_keras_model adds len(layer_sizes)-1 hidden Dense layers plus
    # the output: one hidden layer more than the JAX networks (361 params, not 251).
    lecture_layer_count: bool = False


@dataclass(frozen=True)
class OptimizerParams:
    learning_rate: float = field(default=0.001, metadata=_LR_RULE)


@dataclass(frozen=True)
class ModelsParams:
    keras: KerasParams = KerasParams()
    gd: OptimizerParams = OptimizerParams()
    optax_sgd: OptimizerParams = OptimizerParams()
    optax_adam: OptimizerParams = OptimizerParams()


@dataclass(frozen=True)
class Params:
    data: DataParams = DataParams()
    network: NetworkParams = NetworkParams()
    train: TrainParams = TrainParams()
    models: ModelsParams = ModelsParams()


_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlevel = 40, 40, 6, 4, 3


def _show(value) -> str:
    """A short one-line repr, cheap even for a huge or deeply nested value."""
    return _REPR.repr(value)


def _type_name(tp) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Checks `value` against the annotation `tp` and converts lists to tuples."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if typing.get_origin(tp) is tuple:
        (item_tp, _) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: must be a list of integers (got {_show(value)})")
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


def _build(cls, raw: Any, prefix: str):
    where = prefix or "params"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping of keys to values (got {_show(raw)})")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in fields:
            # repr() for odd keys (newlines, non-strings), so the message stays one line.
            shown = k if isinstance(k, str) and k.isprintable() and k.strip() == k and k else repr(k)
            dotted = f"{prefix}.{shown}" if prefix else shown
            raise ConfigError(f"{dotted}: unknown key (known: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in raw:
            raise ConfigError(f"{key}: missing key")
        value = _convert(raw[name], hints[name], key)
        rule = f.metadata.get("rule")
        if rule is not None and not rule[0](value):
            raise ConfigError(f"{key}: {rule[1]} (got {_show(value)})")
        values[name] = value
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check()
    return obj


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


def to_dict(params: Params) -> dict:
    """The params as plain YAML-ready data (tuples become lists)."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(params))
