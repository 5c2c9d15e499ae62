"""A JAX model's learning-rate schedule in params.yaml: one of Optax's, by its `name`, with
Optax's arguments (a tagged union: the name picks the class that knows its arguments)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, TypeAdapter

from nnreg.core.optimizers import SCHEDULES
from nnreg.params.rules import Bool, Bounds, Float, Int, Nonneg, Rate, Steps
from nnreg.params.section import Section


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


SCHEDULE_ENTRIES: dict[str, type[Schedule]] = {c.model_fields["name"].annotation.__args__[0]: c
                                               for c in (ExponentialDecay, CosineDecay, WarmupCosineDecay)}
if set(SCHEDULE_ENTRIES) != set(SCHEDULES):
    raise ImportError(f"params' schedules {sorted(SCHEDULE_ENTRIES)} are not nnreg.core.optimizers' {sorted(SCHEDULES)}")
ScheduleEntry = Annotated[Union[tuple(SCHEDULE_ENTRIES[name] for name in SCHEDULES)], Field(discriminator="name")]
_SCHEDULE = TypeAdapter(ScheduleEntry)
