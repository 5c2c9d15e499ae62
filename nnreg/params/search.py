"""The `search:` section of params.yaml: the space of Exercise 23.1 and how to search it.

The space: the shapes (`depth` x `width`, every hidden layer as wide, or a list of `shapes`;
only those with at most `max_parameters` parameters are eligible), the activations, the
initializers, the optimizers with a range for each of their own settings, the learning rate
(a log range), the schedules with a range for their one argument, and the L2 penalty (a log
range, or null: off). Each range is `[low, high]`; a setting's range lies within the
setting's own bounds (`nnreg.params.vocabulary.SETTINGS`), and a log range above 0.

How to search it: `sampler` (Optuna's TPE or random) seeded by `seed`, `n_trials` trials
asked `batch` at a time, each trained on `n_seeds` search replicates, `trials_per_call` trials
of one depth and activation in one compiled call; `pruning` stops the
worst trials of each rung of epochs (successive halving), and `confirm.top` trials are
trained again on the stats replicates (`nnreg.search`, `stages/search.py`); `storage` (null:
the stage's own journal file) puts the study in a database or a shared journal, for workers on
several machines (`nnreg.search.shared`).
"""

from __future__ import annotations

import itertools
from typing import Annotated, ClassVar, Literal, Optional

from pydantic import Field, create_model, model_validator

from nnreg.core.activations import ACTIVATIONS
from nnreg.core.initializers import INITIALIZERS
from nnreg.core.network import parameter_count
from nnreg.core.optimizers import FIXED_RATE, OPTIMIZERS
from nnreg.params.messages import show
from nnreg.params.rules import Bounds, Float, Int, LayerSizes, Nonneg, Seed, Unit, list_with_rule
from nnreg.params.section import Section, field_error
from nnreg.params.vocabulary import SETTINGS, Activation, Init

MAX_TRIALS = 10**6
MAX_SHAPES = 4096


def _pair(item, low_ok=lambda v: True, text: str = "", schema: dict | None = None):
    """`[low, high]` with low <= high (and `low_ok(low)`)."""
    return list_with_rule(item, lambda v: len(v) == 2 and v[0] <= v[1] and low_ok(v[0]),
                          f"must be [low, high] with low <= high{text}",
                          {"minItems": 2, "maxItems": 2, **(schema or {})})


Range = _pair(Float)
LogRange = _pair(Float, lambda low: low > 0, " and low > 0 (a log range)", {"items": {"type": "number"}})
IntRange = _pair(Annotated[Int, Bounds(ge=1, le=4096)], schema={"items": {"type": "integer", "minimum": 1}})


def _unique(item):
    """A non-empty list of different names."""
    return list_with_rule(item, lambda v: 1 <= len(v) == len(set(v)), "must be a non-empty list of different names",
                          {"minItems": 1, "uniqueItems": True})


# --- Each optimizer's settings as ranges -------------------------------------------------------

# A setting's bounds (its type in SETTINGS) and whether its range is sampled on a log scale.
_SCALE = {id(Unit): (0.0, 1.0, "must lie in [0, 1)", False), id(Nonneg): (0.0, 1e6, "must lie in (0, 1e6]", True)}


class SettingsSpace(Section):
    """An optimizer's own settings, each a range (left out: Optax's default)."""

    _listed = "settings it can search"
    _log: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _within(self):
        for key, bounds in type(self)._bounds.items():
            pair = getattr(self, key)
            if pair is None:
                continue
            low_bound, high_bound, text, log = bounds
            inside = (pair[0] > low_bound if log else pair[0] >= low_bound) and (
                pair[1] <= high_bound if log else pair[1] < high_bound)
            if not inside:
                raise field_error(key, f"{text} (got {show(list(pair))})")
        return self

    def ranges(self) -> dict[str, tuple[float, float, bool]]:
        """setting -> (low, high, log), for the settings given."""
        return {k: (*getattr(self, k), v[3]) for k, v in type(self)._bounds.items() if getattr(self, k) is not None}


def _settings_space(name: str) -> type[SettingsSpace]:
    searchable = {k: t for k, t in SETTINGS.get(name, {}).items() if id(t) in _SCALE}
    fields = {k: (Optional[Range], None) for k in searchable}
    return create_model(f"SettingsSpace_{name}", __base__=SettingsSpace,
                        _what=(ClassVar[str], f" for optimizer {name}"),
                        _optional=(ClassVar[tuple], tuple(searchable)),
                        _bounds=(ClassVar[dict], {k: _SCALE[id(t)] for k, t in searchable.items()}), **fields)


SETTINGS_SPACES = {name: _settings_space(name) for name in OPTIMIZERS}
_DEFAULT_SETTINGS = {"momentum": {"momentum": (0.5, 0.99)}, "nesterov": {"momentum": (0.5, 0.99)},
                     "adam": {"b1": (0.8, 0.95), "b2": (0.99, 0.9999)},
                     "adamw": {"b1": (0.8, 0.95), "b2": (0.99, 0.9999), "weight_decay": (1e-5, 0.1)},
                     "rmsprop": {"decay": (0.8, 0.99)}, "lion": {"b1": (0.8, 0.95), "b2": (0.95, 0.999)},
                     "armijo": {"decrease_factor": (0.3, 0.8), "slope_rtol": (1e-4, 0.01)}}

OptimizersSpace = create_model(
    "OptimizersSpace", __base__=Section, _listed=(ClassVar[str], "optimizers"),
    _optional=(ClassVar[tuple], tuple(OPTIMIZERS)),
    **{name: (Optional[space], None) for name, space in SETTINGS_SPACES.items()})


def _default_optimizers():
    return OptimizersSpace(**{n: SETTINGS_SPACES[n](**_DEFAULT_SETTINGS.get(n, {})) for n in OPTIMIZERS})


# --- Schedules, each with a range for its one argument ------------------------------------------


class NoSchedule(Section):
    """A fixed learning rate."""


class ExponentialDecaySpace(Section):
    """Optax's exponential_decay from the learning rate over the whole run (transition_steps: the
    epochs): `decay_rate` is the rate after the last epoch over the first's."""

    _what = " for schedule exponential_decay"
    decay_rate: _pair(Float, lambda low: low > 0, " and low > 0 (a log range)") = (0.01, 1.0)

    @model_validator(mode="after")
    def _within(self):
        if self.decay_rate[1] > 1:
            raise field_error("decay_rate", f"must lie in (0, 1] (got {show(list(self.decay_rate))})")
        return self


class CosineDecaySpace(Section):
    """Optax's cosine_decay_schedule over the whole run, down to `alpha` times the rate."""

    _what = " for schedule cosine_decay"
    alpha: Range = (0.0, 0.5)

    @model_validator(mode="after")
    def _within(self):
        if not (0 <= self.alpha[0] and self.alpha[1] <= 1):
            raise field_error("alpha", f"must lie in [0, 1] (got {show(list(self.alpha))})")
        return self


class WarmupCosineDecaySpace(Section):
    """Optax's warmup_cosine_decay_schedule from 0 up to the rate over `warmup_fraction` of the
    epochs, then down to 0 after the last."""

    _what = " for schedule warmup_cosine_decay"
    warmup_fraction: Range = (0.01, 0.2)

    @model_validator(mode="after")
    def _within(self):
        if not (0 <= self.warmup_fraction[0] and self.warmup_fraction[1] < 1):
            raise field_error("warmup_fraction", f"must lie in [0, 1) (got {show(list(self.warmup_fraction))})")
        return self


class SchedulesSpace(Section):
    """The schedules to search (left out: not searched); `none` is a fixed learning rate."""

    _listed = "schedules"
    _optional = ("none", "exponential_decay", "cosine_decay", "warmup_cosine_decay")
    none: Optional[NoSchedule] = None
    exponential_decay: Optional[ExponentialDecaySpace] = None
    cosine_decay: Optional[CosineDecaySpace] = None
    warmup_cosine_decay: Optional[WarmupCosineDecaySpace] = None

    def given(self) -> dict[str, Section]:
        return {k: getattr(self, k) for k in type(self).model_fields if getattr(self, k) is not None}


def _default_schedules():
    return SchedulesSpace(none=NoSchedule(), exponential_decay=ExponentialDecaySpace(),
                          cosine_decay=CosineDecaySpace(), warmup_cosine_decay=WarmupCosineDecaySpace())


class Pruning(Section):
    """Successive halving over epochs (Optuna's SuccessiveHalvingPruner): rung k ends at
    `min_epochs * reduction_factor**k` epochs; at each rung a trial goes on only if its
    search score is in the best 1/`reduction_factor` of the trials that reached it."""

    min_epochs: Annotated[Int, Bounds(ge=1, le=10**7)] = 1000
    reduction_factor: Annotated[Int, Bounds(ge=2, le=100)] = 4


class Storage(Section):
    """Where a search spread over workers keeps its study (`nnreg.search.storage`,
    `nnreg.search.shared`): a database URL (PostgreSQL, MySQL), or `journal:<path>` for a
    journal file that processes on one host share, read from the environment variable
    `url_env` or from the git-ignored file `url_file` (exactly one), never written here."""

    _optional = ("url_env", "url_file", "lease_s", "retry_s")
    url_env: Optional[str] = Field(None, description="the environment variable holding the URL")
    url_file: Optional[str] = Field(None, description="a git-ignored file holding the URL, relative to the project")
    lease_s: Annotated[Float, Bounds(gt=0, le=86400)] = Field(
        60.0, description="a trial's lease: a worker silent this long loses its trials, which are proposed again")
    retry_s: Annotated[Float, Bounds(ge=0, le=86400)] = Field(
        120.0, description="how long a worker retries a storage that is away before it stops")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.url_env is None) == (self.url_file is None):
            raise field_error("url_env", "give exactly one of url_env (an environment variable) and url_file "
                                         "(a git-ignored file) for the storage's URL")
        return self


class Confirm(Section):
    top: Annotated[Int, Bounds(ge=1, le=64)] = Field(5, description="best trials trained again on the stats replicates")


# --- The section -------------------------------------------------------------------------------


class SearchParams(Section):
    """Exercise 23.1 as a search (`nnreg.search`)."""

    _optional = ("shapes", "l2", "pruning", "storage")
    _nullable = ("l2", "pruning")  # null: no penalty searched, no pruning (left out: the defaults)
    seed: Seed = Field(0, description="the sampler's seed and the search replicates' key")
    sampler: Literal["tpe", "random"] = "tpe"
    startup_trials: Annotated[Int, Bounds(ge=0, le=MAX_TRIALS)] = Field(
        32, description="TPE's first trials, sampled at random")
    n_trials: Annotated[Int, Bounds(ge=1, le=MAX_TRIALS)] = 256
    batch: Annotated[Int, Bounds(ge=1, le=4096)] = Field(32, description="trials asked, trained and told at a time")
    n_seeds: Annotated[Int, Bounds(ge=1, le=1024)] = Field(4, description="search replicates per trial")
    trials_per_call: Annotated[Int, Bounds(ge=1, le=4096)] = Field(
        1, description="trials of one depth and activation trained in one compiled call (raise it on a GPU)")
    max_parameters: Annotated[Int, Bounds(ge=2, le=10**7)] = Field(251, description="the exercise's bound")
    depth: IntRange = Field((1, 6), description="hidden layers")
    width: IntRange = Field((1, 250), description="units in every hidden layer")
    shapes: Optional[list_with_rule(LayerSizes, lambda v: 1 <= len(v) <= MAX_SHAPES and len(set(v)) == len(v),
                                    f"must be a list of 1 to {MAX_SHAPES} different layer_sizes",
                                    {"minItems": 1, "maxItems": MAX_SHAPES})] = Field(
        None, description="instead of depth x width")
    activations: _unique(Activation) = tuple(ACTIVATIONS)
    inits: _unique(Init) = tuple(INITIALIZERS)
    optimizers: OptimizersSpace = Field(default_factory=_default_optimizers)
    learning_rate: LogRange = (1e-4, 0.1)
    schedules: SchedulesSpace = Field(default_factory=_default_schedules)
    l2: Optional[LogRange] = Field((1e-6, 1e-2), description="a log range, or null: no penalty")
    pruning: Optional[Pruning] = Field(Pruning(), description="null: every trial trained for every epoch")
    storage: Optional[Storage] = Field(None, description="null: the stage's own journal file, one process; "
                                                         "else the study's shared storage, for workers")
    confirm: Confirm = Confirm()

    @model_validator(mode="after")
    def _space(self):
        if not any(getattr(self.optimizers, n) is not None for n in OPTIMIZERS):
            raise field_error("optimizers", "must name at least one optimizer")
        if not self.schedules.given():
            raise field_error("schedules", "must name at least one schedule (none: a fixed learning rate)")
        for name in FIXED_RATE:
            if getattr(self.optimizers, name) is not None and self.schedules.none is None:
                raise field_error(f"optimizers.{name}", f"{'the hand-written gd' if name == 'gd' else name} takes a "
                                                        f"fixed learning rate: search.schedules must include none")
        candidates = self.candidate_shapes()
        if len(candidates) > MAX_SHAPES:
            raise field_error("width", f"gives more than {MAX_SHAPES} shapes with search.depth")
        if not self.shapes_eligible():
            smallest = min(candidates, key=parameter_count)
            where = "search.shapes" if self.shapes is not None else "search.depth x search.width"
            raise field_error("max_parameters", f"no shape in {where} has at most {self.max_parameters} parameters "
                                                f"(the smallest, {'-'.join(map(str, smallest))}, has "
                                                f"{parameter_count(smallest)})")
        if self.confirm.top > self.n_trials:
            raise field_error("confirm.top", f"must be at most search.n_trials ({self.n_trials})")
        return self

    def candidate_shapes(self) -> list[tuple[int, ...]]:
        """Every shape of the space, eligible or not."""
        if self.shapes is not None:
            return [tuple(s) for s in self.shapes]
        depths = range(self.depth[0], self.depth[1] + 1)
        widths = range(self.width[0], self.width[1] + 1)
        return [(1, *([w] * d), 1) for d, w in itertools.product(depths, widths)]

    def shapes_eligible(self) -> list[tuple[int, ...]]:
        """The shapes with at most `max_parameters` parameters, in order of depth then width."""
        return sorted((s for s in self.candidate_shapes() if parameter_count(s) <= self.max_parameters),
                      key=lambda s: (len(s), s))

    def optimizer_ranges(self) -> dict[str, dict[str, tuple[float, float, bool]]]:
        """optimizer -> setting -> (low, high, log), for the optimizers searched."""
        return {n: getattr(self.optimizers, n).ranges() for n in OPTIMIZERS if getattr(self.optimizers, n) is not None}
