"""Typed, validated params: params.yaml loads into frozen pydantic models.

Each field carries its type (strict: a YAML `true` is not a number, `1.5` is not an
integer) and its bounds; unknown keys are refused and every key must be written, except
the few marked optional. A model entry under `models:` is a tagged union: its `trainer`
(jax when it gives none) picks `KerasModel` or a JAX model, and a JAX model's `optimizer`
picks the class that knows that optimizer's own settings (an Optax schedule likewise by its
`name`). `Params.model_json_schema()` is the same rules as a JSON Schema (`nnreg.params.export`).

The vocabulary is the implementation's: the activations, initializers, optimizers, schedules
and trainers are the names of the tables that implement them (`nnreg.core.activations`,
`.initializers`, `.optimizers`; the trainers in `nnreg.params.vocabulary`). A rule's text is written here, beside its
check; `nnreg.params.messages` turns a broken rule into one line naming the dotted key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter
from pydantic import create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from nnreg.core.optimizers import FIXED_RATE, OPTIMIZERS
from nnreg.params.messages import show
from nnreg.params.rules import Bool, Bounds, Float, Int, LayerSizes, Rate, Rule, Seed
from nnreg.params.rules import list_with_rule
from nnreg.params.schedules import SCHEDULE_ENTRIES, ScheduleEntry
from nnreg.params.search import SearchParams
from nnreg.params.section import Section, field_error
from nnreg.params.vocabulary import DEFAULT_TRAINER, SETTINGS, TRAINERS, Activation, Init

MAX_MODELS = 64
MAX_SEEDS = 65536


# --- The sections of params.yaml ------------------------------------------------------------


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
            raise field_error("x_max", f"must be greater than data.x_min (got {show(self.x_max)} <= "
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
    trainer: Literal["keras"]
    learning_rate: Annotated[Float, Bounds(gt=0, le=1e3)] = Field(0.01, description="keras.optimizers.SGD's")
    # The lecture's build_keras_model adds len(layer_sizes)-1 hidden Dense layers plus the
    # output: one hidden layer more than the JAX networks (361 params, not 251).
    lecture_layer_count: Bool = Field(False, description="true: one more hidden layer, as the lecture's code builds")
    # `fit` is the lecture's benchmark; `scan` runs the same Keras steps in one compiled
    # program (nnreg.trainers.keras.train_scan): the same bits (benchmarks/keras_loop.py times both).
    loop: Literal["fit", "scan"] = Field("fit", description="fit: Keras's fit, the lecture's benchmark; scan: "
                                                            "the same steps in one jitted lax.scan")


# Why each optimizer that takes a fixed learning rate takes no schedule.
_FIXED_RATE_WHY = {"gd": "the hand-written gd takes a fixed learning_rate (use optimizer sgd for a schedule)",
                   "armijo": "armijo takes a fixed learning_rate: its line search's first step at every epoch"}


class JaxModel(Section):
    """A network trained by nnreg's jitted loop: an optimizer (a subclass per optimizer, with
    its own settings), a learning rate or a schedule, an L2 penalty, and optionally its own
    layer sizes, activation and initialisation (None: as in `network:`)."""

    _optional = ("trainer", "learning_rate", "schedule", "l2", "layer_sizes", "activation", "init")
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
            raise field_error("schedule", "give either learning_rate or schedule, not both")
        if self.learning_rate is None and self.schedule is None:
            raise field_error("learning_rate", "missing key (or give a schedule)")
        if self.optimizer in FIXED_RATE and self.schedule is not None:
            raise field_error("schedule", _FIXED_RATE_WHY[self.optimizer])
        return self

    @classmethod
    def _schema_rules(cls) -> dict:
        given = lambda key: {"required": [key], "properties": {key: {"not": {"type": "null"}}}}  # noqa: E731
        if cls.model_fields["optimizer"].annotation in tuple(Literal[name] for name in FIXED_RATE):
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


# The JAX model class of each optimizer in nnreg.core.optimizers.OPTIMIZERS.
OPTIMIZER_ENTRIES: dict[str, type[JaxModel]] = {name: _optimizer(name, **SETTINGS.get(name, {})) for name in OPTIMIZERS}


JaxEntry = Annotated[Union[tuple(OPTIMIZER_ENTRIES.values())], Field(discriminator="optimizer")]
_ENTRIES = {"jax": JaxEntry, "keras": KerasModel}  # by trainer
if set(_ENTRIES) != set(TRAINERS):
    raise ImportError(f"params' trainers {sorted(_ENTRIES)} are not the vocabulary's {sorted(TRAINERS)}")


def trainer_of(entry: Any) -> Any:
    """The trainer a models: entry names: its `trainer`, or jax when it gives none (or null, as
    for every optional key)."""
    if isinstance(entry, dict):
        return DEFAULT_TRAINER if entry.get("trainer") is None else entry["trainer"]
    return getattr(entry, "trainer", None)


ModelEntry = Annotated[Union[tuple(Annotated[_ENTRIES[t], Tag(t)] for t in TRAINERS)],
                       Discriminator(trainer_of, custom_error_type="trainer_tag",
                                     custom_error_message="must be one of {trainers}",
                                     custom_error_context={"trainers": ", ".join(TRAINERS)})]
Model = Union[KerasModel, JaxModel]

# Model names become stage and file names; DVC's run-cache drops keys named size or
# nfiles from its hash (treeverse/dvc#10296), so those are refused too.
_MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_RESERVED_NAMES = ("size", "nfiles")


def _default_models() -> dict[str, Model]:
    """The lecture's four ways, then the strategies of its Exercise 23.1 in every version
    (`nnreg.report.lecture.LECTURE_VERSIONS`): the four of the version nnreg follows, then the
    others' (ELU and SELU, then schedule + L2 on the baseline network and Armijo's line search)."""
    deep = (1, 6, 6, 6, 6, 6, 1)
    decay = {"name": "exponential_decay", "init_value": 0.003, "transition_steps": 1000, "decay_rate": 0.5}
    return {
        "keras": KerasModel(trainer="keras"),
        "gd": JaxModel.of("gd", learning_rate=0.001),
        "optax_sgd": JaxModel.of("sgd", learning_rate=0.001),
        "optax_adam": JaxModel.of("adam", learning_rate=0.001),
        "deep": JaxModel.of("adam", learning_rate=0.001, layer_sizes=deep),
        "deep_schedule": JaxModel.of("adam", schedule=decay, layer_sizes=deep),
        "deep_schedule_l2": JaxModel.of("adam", schedule=decay, l2=0.001, layer_sizes=deep),
        "adam_l2": JaxModel.of("adam", learning_rate=0.001, l2=0.001),
        "elu": JaxModel.of("adam", learning_rate=0.001, activation="elu"),
        "selu": JaxModel.of("adam", learning_rate=0.001, activation="selu"),
        "schedule_l2": JaxModel.of("adam", schedule=decay, l2=0.001),
        "armijo": JaxModel.of("armijo", learning_rate=0.01, decrease_factor=0.5, slope_rtol=0.001,
                              max_backtracking_steps=20),
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
    learning_rates: list_with_rule(Float,
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
    search: SearchParams = SearchParams()

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
            raise field_error("stats.baseline", f"must name a model whose trainer is jax {one_of}"
                                                 f"{show(self.stats.baseline)})")
        for i, name in enumerate(self.sweep.models):
            if name not in self.models:
                raise field_error(f"sweep.models[{i}]",
                                   f"must name a model (one of {', '.join(self.models)}; got {show(name)})")
            if self.models[name].learning_rate is None:
                raise field_error(f"sweep.models[{i}]", f"{name} has a schedule; a sweep varies a fixed learning_rate")
        if len(set(self.sweep.models)) != len(self.sweep.models):
            raise field_error("sweep.models", f"names a model twice (got {show(list(self.sweep.models))})")
        return self

    def jax_model(self, name: str) -> JaxModel:
        """Model `name`, a JAX one, with the network's defaults filled in."""
        return self.models[name].resolve(self.network)

    def model_names(self, trainer: str | None = None) -> list[str]:
        return [m for m, spec in self.models.items() if trainer is None or spec.trainer == trainer]


# The names each tag of a tagged union may take, for messages.
TAGS = {"trainer": TRAINERS, "optimizer": tuple(OPTIMIZER_ENTRIES), "name": tuple(SCHEDULE_ENTRIES)}
_JAX = TypeAdapter(JaxEntry)
