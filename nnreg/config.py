"""Typed, validated params: params.yaml loads into frozen pydantic models.

Each field carries its type (strict: a YAML `true` is not a number, `1.5` is not an
integer) and its bounds; unknown keys are refused and every key must be written, except
the few marked optional. A model entry under `models:` is a discriminated union: its
`trainer` picks `KerasModel` or a JAX model, and a JAX model's `optimizer` picks the class
that knows that optimizer's own settings (an Optax schedule likewise by its `name`).
`Params.model_json_schema()` is the same rules as a JSON Schema (`params.schema.json`,
which editors read through the comment at the top of params.yaml).

Whatever breaks a rule raises `ConfigError` with one line that names the dotted key, the
rule and the value as it is written in YAML: `network.layer_sizes: must be a list of 2 to
64 ints in [1, 4096] starting and ending with 1 (got [2, 10, 1])`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Callable, ClassVar, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, Strict, TypeAdapter
from pydantic import create_model
from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError, core_schema

from nnreg import NnregError

ACTIVATIONS = ("tanh", "relu", "gelu", "sigmoid", "elu")
# he_normal is the lecture's (N(0, 2/in) weights, biases 1); the others are
# jax.nn.initializers' (truncated normal or uniform weights, biases 0).
INITS = ("he_normal", "glorot_normal", "glorot_uniform", "lecun_normal")
TRAINERS = ("jax", "keras")
MAX_MODELS = 64
MAX_SEEDS = 65536
INT32_MAX = 2**31 - 1


class ConfigError(NnregError):
    """A params file that breaks a rule; the message names the key."""


# --- How values are shown in messages: as YAML writes them ------------------------------


def show(value: Any, depth: int = 0) -> str:
    """`value` as it looks in YAML, on one line and cut short: [2, 10, 1], true, null, .inf."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**40 else f"{str(value)[:12]}... ({len(str(abs(value)))} digits)"
        return text
    if isinstance(value, float):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan" if value != value else repr(value))
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "..."
        plain = (bool(text) and text.isprintable() and text.strip() == text
                 and not any(c in text for c in ":#,[]{}&*!|>'\"%@`?-"))
        return text if plain and _reads_back(text) else _quoted(text)
    if depth >= 3:
        return "..."
    if isinstance(value, (list, tuple)):
        items = [show(v, depth + 1) for v in value[:6]] + (["..."] if len(value) > 6 else [])
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        items = [f"{show_key(k)}: {show(v, depth + 1)}" for k, v in list(value.items())[:4]]
        return "{" + ", ".join(items + (["..."] if len(value) > 4 else [])) + "}"
    return show(str(value), depth)


def _reads_back(text: str) -> bool:
    """Whether YAML reads `text`, unquoted, as this string (not a number, a bool, a date...)."""
    try:
        return yaml.safe_load(text) == text
    except (yaml.YAMLError, ValueError, OverflowError):
        return False


def _quoted(text: str) -> str:
    """`text` in double quotes, every character that does not print as itself escaped: the
    controls and line breaks JSON escapes, and those it leaves raw (NEL, U+2028, zero-width
    marks...), which would split or hide a one-line message."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                   for c in json.dumps(text, ensure_ascii=False))


def show_key(k: Any) -> str:
    """A key as it goes into a dotted key: as written for plain names, quoted for any other
    (a dot, a space, a newline...), so that the dotted key reads one way only."""
    if isinstance(k, str):
        return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else _quoted(k)
    return show(k)


def _num(x: float) -> str:
    """A bound as a person writes it: 0, 0.5, 1000, 1e6, 65536."""
    if x == int(x):
        x = int(x)
        exponent = int(math.log10(x)) if x > 0 else 0
        return f"1e{exponent}" if x >= 10**5 and x == 10**exponent else str(x)
    return repr(x)


# --- Constraints that carry their own one-line rule and their JSON Schema ----------------


class Rule:
    """A constraint on a field: `check(value)` after the type is right, with `text` as the
    rule in the error message, and `schema` added to the field's JSON Schema."""

    def __init__(self, check: Callable[[Any], bool], text: str, schema: dict | None = None):
        self.check, self.text, self.schema = check, text, schema or {}

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value):
            if not self.check(value):
                raise PydanticCustomError("rule", self.text)
            return value

        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        out = handler(schema)
        out.update(self.schema)
        return out


def Bounds(ge=None, gt=None, le=None, lt=None, why: str = "") -> Rule:  # noqa: N802 (a constraint, as Field)
    """Numeric bounds, with a rule text made from them and JSON Schema's minimum/maximum."""
    low = (f">= {_num(ge)}", "[", ge) if ge is not None else (f"> {_num(gt)}", "(", gt) if gt is not None else None
    high = (f"<= {_num(le)}", "]", le) if le is not None else (f"< {_num(lt)}", ")", lt) if lt is not None else None
    if low and high:
        text = (f"must be between {_num(low[2])} and {_num(high[2])}" if (low[1], high[1]) == ("[", "]")
                else f"must be {low[0]} and {high[0]}" if low[1] == "(" and high[1] == "]"
                else f"must be in {low[1]}{_num(low[2])}, {_num(high[2])}{high[1]}")
    else:
        text = f"must be {(low or high)[0]}"
    schema = {k: v for k, v in (("minimum", ge), ("exclusiveMinimum", gt), ("maximum", le), ("exclusiveMaximum", lt))
              if v is not None}

    def check(v):
        return ((ge is None or v >= ge) and (gt is None or v > gt) and (le is None or v <= le)
                and (lt is None or v < lt))

    return Rule(check, text + (f", {why}" if why else ""), schema)


def _fits_32_bits(value):
    """Before the type check: an integer too big for the trainers' 32-bit keys gets its own rule."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT32_MAX:
        raise PydanticCustomError("int32", "must fit in 32 bits")
    return value


class _Int32:
    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_before_validator_function(_fits_32_bits, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        return {**handler(schema), "minimum": -INT32_MAX, "maximum": INT32_MAX}


# Strict scalars: no bool as a number, no float as an int, no inf or nan, no str as anything else.
Int = Annotated[int, Strict(), _Int32()]
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
Seed = Annotated[Int, Bounds(ge=0)]
Rate = Annotated[Float, Bounds(gt=0, le=1e3)]
Unit = Annotated[Float, Bounds(ge=0, lt=1)]
Nonneg = Annotated[Float, Bounds(ge=0, le=1e6)]
Steps = Annotated[Int, Bounds(ge=1, le=10**9)]
Activation = Literal["tanh", "relu", "gelu", "sigmoid", "elu"]
Init = Literal["he_normal", "glorot_normal", "glorot_uniform", "lecun_normal"]


def _list(item, check: Callable[[tuple], bool], text: str, schema: dict):
    """A list in YAML, a tuple in Python, with one rule over the whole list."""
    return Annotated[tuple[item, ...], Strict(False), Rule(check, text, schema)]


LayerSizes = _list(Annotated[int, Strict()],
                   lambda v: 2 <= len(v) <= 64 and v[0] == 1 and v[-1] == 1 and all(1 <= n <= 4096 for n in v),
                   "must be a list of 2 to 64 ints in [1, 4096] starting and ending with 1",
                   {"minItems": 2, "maxItems": 64, "items": {"type": "integer", "minimum": 1, "maximum": 4096},
                    "prefixItems": [{"const": 1}]})


# --- The sections of params.yaml ------------------------------------------------------------


class Section(BaseModel):
    """A mapping in params.yaml: every key written (but the `_optional` ones), none unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False, defer_build=True,
                              json_schema_extra=lambda schema, cls: cls._schema_extra(schema))
    _optional: ClassVar[tuple[str, ...]] = ()  # may be left out or null: the default applies
    _what: ClassVar[str] = ""  # " for optimizer adam": said after "unknown key"
    _listed: ClassVar[str] = "known"

    @classmethod
    def _known(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def _schema_extra(cls, schema: dict) -> None:
        schema["required"] = [k for k in cls.model_fields if k not in cls._optional]
        for k in cls._optional:  # may be null too: then the default applies
            prop = schema["properties"][k]
            if not any(option.get("type") == "null" for option in prop.get("anyOf", [])):
                meta = {m: prop.pop(m) for m in ("title", "description", "default") if m in prop}
                schema["properties"][k] = {"anyOf": [prop, {"type": "null"}], **meta}
        schema.update(cls._schema_rules())

    @classmethod
    def _schema_rules(cls) -> dict:
        """Rules across fields that JSON Schema can say too."""
        return {}

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, raw: Any, info: ValidationInfo) -> Any:
        """Unknown keys refused, and (reading a file) every key but the optional ones required."""
        if isinstance(raw, BaseModel):
            return raw
        if not isinstance(raw, dict):
            raise PydanticCustomError("mapping", "must be a mapping of keys to values")
        for k in raw:
            if k not in cls.model_fields:
                raise PydanticCustomError("unknown_key", "unknown key{what} ({listed}: {known})",
                                          {"key": k, "what": cls._what, "listed": cls._listed,
                                           "known": ", ".join(cls._known())})
        for k in cls.model_fields if (info.context or {}).get("file") else ():
            if k not in raw and k not in cls._optional:
                raise PydanticCustomError("missing_key", "missing key{required_by}",
                                          {"key": k, "required_by": f" (required by{cls._what.removeprefix(' for')})"
                                           if cls._what else ""})
        return {k: v for k, v in raw.items() if not (v is None and k in cls._optional)}


def _field_error(key: str, text: str) -> PydanticCustomError:
    """An error about field `key` of the model being checked."""
    return PydanticCustomError("rule", text, {"key": key})


class DataParams(Section):
    """The lecture's data: y = sqrt(x) + sin(x) + noise * N(0, 1) on [x_min, x_max]."""

    seed: Seed = Field(14, description="PRNG key for the noise; split in two: training, validation")
    n_points: Annotated[Int, Bounds(ge=2, le=10**7)] = Field(400, description="points in each of the two sets")
    # Bounded so that float32 data stays finite.
    x_min: Annotated[Float, Bounds(ge=0, le=1e6, why="since y uses sqrt(x)")] = 0.0
    x_max: Annotated[Float, Bounds(le=1e6)] = 5.0
    noise: Annotated[Float, Bounds(ge=0, le=1e6)] = Field(0.2, description="standard deviation of the noise")

    @model_validator(mode="after")
    def _range(self):
        if not self.x_max > self.x_min:
            raise _field_error("x_max", f"must be greater than data.x_min (got {show(self.x_max)} <= "
                                        f"{show(self.x_min)})")
        return self


class NetworkParams(Section):
    """What every model uses unless its entry says otherwise."""

    _optional = ("init",)
    layer_sizes: LayerSizes = Field((1, 10, 10, 10, 1), description="widths from input to output")
    activation: Activation = "tanh"
    init_seed: Seed = Field(1234, description="the single run: JAX models' init key; Keras's global seed")
    init: Init = Field("he_normal", description="he_normal is the lecture's (N(0, 2/in) weights, biases 1)")


class TrainParams(Section):
    epochs: Annotated[Int, Bounds(gt=0, le=10**7)] = 4000


class KerasModel(Section):
    """The lecture's Keras benchmark: Sequential Dense layers, full-batch `fit` with SGD."""

    _optional = ("lecture_layer_count", "loop")
    trainer: Literal["keras"] = "keras"
    learning_rate: Annotated[Float, Bounds(gt=0, le=1e3)] = Field(0.01, description="keras.optimizers.SGD's")
    # The lecture's build_keras_model adds len(layer_sizes)-1 hidden Dense layers plus the
    # output: one hidden layer more than the JAX networks (361 params, not 251).
    lecture_layer_count: Bool = Field(False, description="true: one more hidden layer, as the lecture's code builds")
    # `fit` is the lecture's benchmark; `scan` runs the same Keras steps in one compiled
    # program (nnreg.keras_training.train_scan): the same bits, about 1/15 of the time.
    loop: Literal["fit", "scan"] = Field("fit", description="fit: Keras's fit, the lecture's benchmark; scan: "
                                                            "the same steps in one jitted lax.scan")


class Schedule(Section):
    """An Optax learning-rate schedule, by its name, with Optax's arguments."""

    _listed = "allowed"
    name: str

    @classmethod
    def _known(cls) -> list[str]:
        return [k for k in cls.model_fields if k != "name"]

    @property
    def args(self) -> dict:
        """The arguments given, as Optax names them."""
        return {k: v for k, v in self if k != "name" and v is not None}

    @classmethod
    def of(cls, name: str, **args) -> Schedule:
        return _SCHEDULE.validate_python({"name": name, **args})


class ExponentialDecay(Schedule):
    _what, _optional = " for schedule exponential_decay", ("transition_begin", "staircase", "end_value")
    name: Literal["exponential_decay"]
    init_value: Rate
    transition_steps: Steps
    decay_rate: Annotated[Float, Bounds(gt=0, le=1e3)]
    transition_begin: Optional[Annotated[Int, Bounds(ge=0, le=10**9)]] = None
    staircase: Optional[Bool] = None
    end_value: Optional[Nonneg] = None


class CosineDecay(Schedule):
    _what, _optional = " for schedule cosine_decay", ("alpha", "exponent")
    name: Literal["cosine_decay"]
    init_value: Rate
    decay_steps: Steps
    alpha: Optional[Nonneg] = None
    exponent: Optional[Annotated[Float, Bounds(gt=0, le=1e3)]] = None


class WarmupCosineDecay(Schedule):
    _what, _optional = " for schedule warmup_cosine_decay", ("end_value", "exponent")
    name: Literal["warmup_cosine_decay"]
    init_value: Annotated[Float, Bounds(ge=0, le=1e3)]
    peak_value: Rate
    warmup_steps: Annotated[Int, Bounds(ge=0, le=10**9)]
    decay_steps: Steps
    end_value: Optional[Nonneg] = None
    exponent: Optional[Annotated[Float, Bounds(gt=0, le=1e3)]] = None


SCHEDULES: dict[str, type[Schedule]] = {c.model_fields["name"].annotation.__args__[0]: c
                                        for c in (ExponentialDecay, CosineDecay, WarmupCosineDecay)}
ScheduleEntry = Annotated[Union[ExponentialDecay, CosineDecay, WarmupCosineDecay], Field(discriminator="name")]


class JaxModel(Section):
    """A network trained by nnreg's jitted loop: an optimizer (a subclass per optimizer, with
    its own settings), a learning rate or a schedule, an L2 penalty, and optionally its own
    layer sizes, activation and initialisation (None: as in `network:`)."""

    _optional = ("learning_rate", "schedule", "l2", "layer_sizes", "activation", "init")
    trainer: Literal["jax"] = "jax"
    optimizer: str
    learning_rate: Optional[Rate] = Field(None, description="a fixed learning rate (or give a schedule)")
    schedule: Optional[ScheduleEntry] = Field(None, description="an Optax schedule (or give a learning_rate)")
    l2: Annotated[Float, Bounds(ge=0, le=1e3)] = Field(0.0, description="penalty on the squared weights, not biases")
    layer_sizes: Optional[LayerSizes] = None
    activation: Optional[Activation] = None
    init: Optional[Init] = None

    @model_validator(mode="after")
    def _rate(self):
        if self.learning_rate is not None and self.schedule is not None:
            raise _field_error("schedule", "give either learning_rate or schedule, not both")
        if self.learning_rate is None and self.schedule is None:
            raise _field_error("learning_rate", "missing key (or give a schedule)")
        if self.optimizer == "gd" and self.schedule is not None:
            raise _field_error("schedule", "the hand-written gd takes a fixed learning_rate (use optimizer sgd for "
                                           "a schedule)")
        return self

    @classmethod
    def _schema_rules(cls) -> dict:
        given = lambda key: {"required": [key], "properties": {key: {"not": {"type": "null"}}}}  # noqa: E731
        if cls.model_fields["optimizer"].annotation == Literal["gd"]:
            return {"allOf": [given("learning_rate"), {"properties": {"schedule": {"type": "null"}}}]}
        return {"oneOf": [given("learning_rate"), given("schedule")]}

    @property
    def settings(self) -> dict:
        """The optimizer's own settings that the entry gives (b1, momentum, ...), as Optax names them."""
        return {k: getattr(self, k) for k in type(self).model_fields if k not in JaxModel.model_fields
                and getattr(self, k) is not None}

    def resolve(self, network: NetworkParams) -> JaxModel:
        """The same model with every unset network key taken from `network`."""
        return self.model_copy(update={"layer_sizes": self.layer_sizes or network.layer_sizes,
                                       "activation": self.activation or network.activation,
                                       "init": self.init or network.init})

    @classmethod
    def of(cls, optimizer: str, settings: dict | None = None, **kw) -> JaxModel:
        """A validated JAX model entry, as params.yaml would give it."""
        return _JAX.validate_python({"trainer": "jax", "optimizer": optimizer, **(settings or {}), **kw})


def _optimizer(name: str, **settings) -> type[JaxModel]:
    """The JAX model class of one optimizer: the common keys, then the optimizer's own."""
    fields = {k: (Optional[tp], None) for k, tp in settings.items()}
    return create_model(f"JaxModel_{name}", __base__=JaxModel, optimizer=(Literal[name], ...),
                        _what=(ClassVar[str], f" for optimizer {name}"),
                        _optional=(ClassVar[tuple], JaxModel._optional + tuple(settings)), **fields)


# Each optimizer's own settings. All but gd are Optax's, with Optax's defaults; `momentum`
# and `nesterov` are optax.sgd with momentum 0.9 (and Nesterov's variant).
OPTIMIZERS: dict[str, type[JaxModel]] = {
    "gd": _optimizer("gd"),
    "sgd": _optimizer("sgd", momentum=Unit, nesterov=Bool),
    "momentum": _optimizer("momentum", momentum=Unit),
    "nesterov": _optimizer("nesterov", momentum=Unit),
    "adam": _optimizer("adam", b1=Unit, b2=Unit, eps=Nonneg, eps_root=Nonneg),
    "adamw": _optimizer("adamw", b1=Unit, b2=Unit, eps=Nonneg, eps_root=Nonneg, weight_decay=Nonneg),
    "rmsprop": _optimizer("rmsprop", decay=Unit, eps=Nonneg, initial_scale=Nonneg, centered=Bool, momentum=Unit,
                          nesterov=Bool),
    "adagrad": _optimizer("adagrad", initial_accumulator_value=Nonneg, eps=Nonneg),
    "lion": _optimizer("lion", b1=Unit, b2=Unit, weight_decay=Nonneg),
}


def own_settings(optimizer: str) -> list[str]:
    """The settings an optimizer takes besides the common keys."""
    return [k for k in OPTIMIZERS[optimizer].model_fields if k not in JaxModel.model_fields]


JaxEntry = Annotated[Union[tuple(OPTIMIZERS.values())], Field(discriminator="optimizer")]
ModelEntry = Annotated[Union[KerasModel, JaxEntry], Field(discriminator="trainer")]
Model = Union[KerasModel, JaxModel]

# Model names become stage and file names; DVC's run-cache drops keys named size or
# nfiles from its hash (treeverse/dvc#10296), so those are refused too.
_MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_RESERVED_NAMES = ("size", "nfiles")


def _default_models() -> dict[str, Model]:
    """The lecture's four ways, then the four strategies of its Exercise 23.1."""
    deep = (1, 6, 6, 6, 6, 6, 1)
    decay = {"name": "exponential_decay", "init_value": 0.003, "transition_steps": 1000, "decay_rate": 0.5}
    return {
        "keras": KerasModel(),
        "gd": JaxModel.of("gd", learning_rate=0.001),
        "optax_sgd": JaxModel.of("sgd", learning_rate=0.001),
        "optax_adam": JaxModel.of("adam", learning_rate=0.001),
        "deep": JaxModel.of("adam", learning_rate=0.001, layer_sizes=deep),
        "deep_schedule": JaxModel.of("adam", schedule=decay, layer_sizes=deep),
        "deep_schedule_l2": JaxModel.of("adam", schedule=decay, l2=0.001, layer_sizes=deep),
        "adam_l2": JaxModel.of("adam", learning_rate=0.001, l2=0.001),
    }


class StatsParams(Section):
    """Every model over `n_seeds` replicates (fresh init and data noise), paired."""

    n_seeds: Annotated[Int, Bounds(ge=2, le=MAX_SEEDS)] = Field(32, description="replicates per model")
    seed: Seed = Field(0, description="replicate i's key: fold_in(PRNGKey(seed), i)")
    baseline: str = Field("optax_adam", description="the JAX model every other one is compared with")


class SweepParams(Section):
    """Validation MSE against learning rate, over `n_seeds` replicates, for `models`."""

    models: tuple[str, ...] = Field(("gd", "optax_adam", "keras"), strict=False, description="models with a fixed rate",
                                    json_schema_extra={"uniqueItems": True})
    learning_rates: _list(Float,
                          lambda v: 2 <= len(v) <= 256 and all(0 < r <= 1e3 for r in v) and len(set(v)) == len(v),
                          "must be a list of 2 to 256 different numbers in (0, 1000]",
                          {"minItems": 2, "maxItems": 256, "uniqueItems": True,
                           "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}}) = Field(
        # 1e-4 to 2 in steps of 1, 2, 5 (about three a decade): GD diverges well before the top.
        tuple(float(f"{m}e{e}") for e in range(-4, 0) for m in (1, 2, 5)) + (1.0, 2.0))
    n_seeds: Annotated[Int, Bounds(ge=1, le=MAX_SEEDS)] = Field(8, description="replicates per learning rate")


class Params(Section):
    """params.yaml. The defaults are the lecture's Config and its exercise's four strategies."""

    model_config = ConfigDict(title="nnreg params.yaml")
    data: DataParams = DataParams()
    network: NetworkParams = NetworkParams()
    train: TrainParams = TrainParams()
    models: Annotated[dict[str, ModelEntry], Rule(lambda v: 1 <= len(v) <= MAX_MODELS,
                                                  f"must hold 1 to {MAX_MODELS} models",
                                                  {"minProperties": 1, "maxProperties": MAX_MODELS,
                                                   "propertyNames": {"pattern": f"^{_MODEL_NAME.pattern}$",
                                                                     "not": {"enum": list(_RESERVED_NAMES)}}})] = Field(
        default_factory=_default_models,
        description="every trained model; dvc.yaml makes its stages from this mapping")
    stats: StatsParams = StatsParams()
    sweep: SweepParams = SweepParams()

    @field_validator("models", mode="before")
    @classmethod
    def _names(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            for name in raw:
                if not (isinstance(name, str) and _MODEL_NAME.fullmatch(name)) or name in _RESERVED_NAMES:
                    raise PydanticCustomError("rule", "a model name must be a letter then up to 39 letters, digits or "
                                              "_, and not {reserved}", {"name": name,
                                                                        "reserved": " or ".join(_RESERVED_NAMES)})
        return raw

    @model_validator(mode="after")
    def _references(self):
        jax_models = [m for m, spec in self.models.items() if isinstance(spec, JaxModel)]
        one_of = f"(one of {', '.join(jax_models) or 'none'}; got "
        if self.stats.baseline not in jax_models:
            raise _field_error("stats.baseline", f"must name a model whose trainer is jax {one_of}"
                                                 f"{show(self.stats.baseline)})")
        for i, name in enumerate(self.sweep.models):
            if name not in self.models:
                raise _field_error(f"sweep.models[{i}]",
                                   f"must name a model (one of {', '.join(self.models)}; got {show(name)})")
            if self.models[name].learning_rate is None:
                raise _field_error(f"sweep.models[{i}]", f"{name} has a schedule; a sweep varies a fixed learning_rate")
        if len(set(self.sweep.models)) != len(self.sweep.models):
            raise _field_error("sweep.models", f"names a model twice (got {show(list(self.sweep.models))})")
        return self

    def jax_model(self, name: str) -> JaxModel:
        """Model `name`, a JAX one, with the network's defaults filled in."""
        return self.models[name].resolve(self.network)

    def activation_of(self, name: str) -> str:
        model = self.models[name]
        return model.resolve(self.network).activation if isinstance(model, JaxModel) else self.network.activation

    def model_names(self, trainer: str | None = None) -> list[str]:
        return [m for m, spec in self.models.items() if trainer is None or spec.trainer == trainer]


_JAX = TypeAdapter(JaxEntry)
_SCHEDULE = TypeAdapter(ScheduleEntry)


# --- From pydantic's errors to one line ---------------------------------------------------

_TAGS = {"trainer": TRAINERS, "optimizer": tuple(OPTIMIZERS), "name": tuple(SCHEDULES)}
_TYPES = {
    "int_type": "must be an integer", "float_type": "must be a number", "bool_type": "must be true or false",
    "string_type": "must be a string", "finite_number": "must be a finite number",
    "tuple_type": "must be a list", "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values", "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}


def _dotted(loc: tuple, raw: Any) -> str:
    """The dotted key of an error's location, without the tags pydantic puts in it for a
    discriminated union (`models.gd.jax.gd.b1` is `models.gd.b1`)."""
    parts, node, i = [], raw, 0
    loc = [e for e in loc if e != "[key]"]
    while i < len(loc):
        e = loc[i]
        parts.append(f"[{e}]" if isinstance(e, int) else ("." if parts else "") + show_key(e))
        node = (node.get(e) if isinstance(node, dict) else
                node[e] if isinstance(node, (list, tuple)) and isinstance(e, int) and e < len(node) else None)
        i += 1
        tags = ("trainer", "optimizer") if i == 2 and loc[0] == "models" else ("name",) if e == "schedule" else ()
        for tag in tags:
            if i < len(loc) and isinstance(node, dict) and loc[i] == node.get(tag):
                i += 1
    return "".join(parts)


def _message(error: dict, raw: Any) -> str:
    """One line for one pydantic error: `dotted.key: rule (got value)`."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    key = _dotted(error["loc"], raw)
    if "key" in ctx:  # unknown or missing keys as written; dotted keys named by a rule as they are
        key = ".".join(filter(None, [key, show_key(ctx["key"]) if kind in ("unknown_key", "missing_key")
                                     else str(ctx["key"])]))
    if "name" in ctx:  # a model name as written
        key = f"{key}.{show_key(ctx['name'])}"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        tag = ctx["discriminator"].strip("'")
        key = f"{key}.{tag}"
        if kind == "union_tag_not_found":
            return f"{key}: missing key (one of {', '.join(_TAGS[tag])})"
        return f"{key}: must be one of {', '.join(_TAGS[tag])} (got {show(ctx['tag'])})"
    if kind in ("unknown_key", "missing_key", "mapping") or (kind == "rule" and ("key" in ctx or "name" in ctx)):
        text, got = error["msg"], kind == "mapping"
    elif kind == "literal_error":
        choices = ", ".join(c.strip("'") for c in ctx["expected"].replace(" or ", ", ").split(", "))
        text, got = (f"must be one of {choices}" if isinstance(value, str) else
                     f"must be a string, one of {choices}"), True
    elif kind in _TYPES:
        text, got = _TYPES[kind], True
    else:
        text, got = error["msg"][:1].lower() + error["msg"][1:], True
    return f"{key or 'params'}: {text}" + (f" (got {show(value)})" if got else "")


def parse_params(raw: Any) -> Params:
    """Builds `Params` from a parsed YAML document, or raises ConfigError."""
    try:
        return Params.model_validate(raw, context={"file": True})
    except ValidationError as e:
        raise ConfigError(_message(e.errors(include_url=False)[0], raw)) from None
    except RecursionError:
        raise ConfigError("params: nested too deeply to be a params file") from None


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
    except (ValueError, KeyError, AttributeError, OverflowError) as e:
        # PyYAML's constructors raise these for a value that parses but cannot be built:
        # `2020-02-30`, `!!int abc`, `!!float abc`, `!!bool maybe`, `!!timestamp abc`, an
        # integer of more than 4,300 digits.
        reason = " ".join(str(e).split())[:120]
        raise ConfigError(f"{path}: a value YAML cannot read ({type(e).__name__}: {reason})") from None
    if raw is None:
        raise ConfigError(f"{path}: empty file")
    try:
        return parse_params(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def model_to_dict(model: Model) -> dict:
    """A model entry as it is written in params.yaml: unset keys left out, settings flat."""
    out = _plain(model.model_dump(exclude_none=True))
    if isinstance(model, JaxModel) and out.get("l2") == 0.0:
        del out["l2"]  # no penalty: the default
    return out


def to_dict(params: Params) -> dict:
    """The params as plain YAML-ready data (tuples become lists)."""
    out = {name: _plain(getattr(params, name).model_dump()) for name in Params.model_fields if name != "models"}
    out["models"] = {name: model_to_dict(m) for name, m in params.models.items()}
    return {name: out[name] for name in Params.model_fields}


def json_schema() -> str:
    """The JSON Schema of params.yaml, as committed in params.schema.json."""
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


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
    return [k for section in ("data", "network", "train")
            for k in _differing_keys(mine[section], lecture[section], section)] + _differing_keys(mine["models"][model], lecture["models"][model], f"models.{model}")


if __name__ == "__main__":  # python -m nnreg.config > params.schema.json
    print(json_schema(), end="")
