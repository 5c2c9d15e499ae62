"""The schemas of the pipeline's own JSON files, as the stages that read them expect them.

`read(path, schema)` checks a file against one of these and fails in one line
naming the file and the field (`metrics/gd.json: train_mse: must be a number (got
"0.04")`), instead of a traceback in whatever formats the value later.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from nnreg.params.messages import TYPE_TEXTS, show
from nnreg.runtime.files import DataFileError, read_json


def read(path, schema: type[BaseModel]) -> dict:
    """The JSON object at `path`, checked against `schema` (one of this module's): a wrong or
    missing field fails in one line naming the file and the field."""
    obj = read_json(path)
    try:
        schema.model_validate(obj)
    except ValidationError as e:
        error = e.errors(include_url=False)[0]
        field = ".".join(str(k) for k in error["loc"]) or "the object"
        text = {"missing": "missing field", "extra_forbidden": "unknown field", **TYPE_TEXTS}.get(
            error["type"], error["msg"][:1].lower() + error["msg"][1:])
        got = "" if error["type"] == "missing" else f" (got {show(error.get('input'))})"
        raise DataFileError(f"{path}: {field}: {text}{got}") from None
    return obj


class _File(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class MetricsFile(_File):
    """metrics/<model>.json, written by nnreg.core.evaluate (null MSEs when training diverged)."""

    n_parameters: int
    train_mse: Optional[float]
    validate_mse: Optional[float]
    true_mse: Optional[float]
    diverged: bool
    first_nonfinite_epoch: Optional[int]


class Devices(_File):
    count: int
    kind: str
    platform: str


class Machine(_File):
    """What made a result (`nnreg.runtime.machine.record()`): the CPU, XLA's target and flags, the versions."""

    cpu: str
    cpu_isa: list[str]
    cpu_target: Literal["portable", "native"]
    codegen_isa: str
    xla_flags: str
    xla_flags_user: str
    devices: Devices
    bits: str
    jax: Optional[str]
    jaxlib: Optional[str]
    keras: Optional[str]


class TimingFile(_File):
    """metrics/timing/<model>.json: a trainer's Timing, and the machine it ran on."""

    model: str
    compile_s: float
    runtime_s: float
    device: str
    platform: str
    epochs: int
    loop: Literal["fit", "scan"]
    machine: Machine


class Summary(_File):
    mean: Optional[float]
    median: Optional[float]
    std: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]


class SeedsFile(_File):
    """metrics/seeds/<model>.json: a model over its replicates."""

    n_replicates: int
    n_diverged: int
    validate_mse: Optional[Summary] = None
    true_mse: Optional[Summary] = None


class Comparison(_File):
    n_pairs: int
    mean_diff: Optional[float]
    median_diff: Optional[float]
    ci_low: Optional[float]  # 95 %, this comparison alone
    ci_high: Optional[float]
    sim_low: Optional[float]  # 95 %, simultaneous over the family
    sim_high: Optional[float]
    bca_low: Optional[float]  # BCa bootstrap, 95 %, this comparison alone
    bca_high: Optional[float]
    win_rate: Optional[float]  # a tie counts half
    win_low: Optional[float]
    win_high: Optional[float]
    p_value: Optional[float]  # the paired t-test's, Holm over the family
    p_wilcoxon: Optional[float]  # Holm over the family
    family: int  # distinct hypotheses in the family
    hypothesis: str  # the first name of the family with these replicates' numbers
    verdict: Literal["better", "worse", "no detectable difference"]
    verdict_wilcoxon: Literal["better", "worse", "no detectable difference"]
    depends_on_test: bool


class CompareFile(RootModel[dict[str, Comparison]]):
    """metrics/compare.json: each model against the baseline."""


class Best(_File):
    best_learning_rate: Optional[float]
    best_validate_mse: Optional[float]


class SweepFile(RootModel[dict[str, Best]]):
    """metrics/sweep.json: each swept model's best learning rate."""


class Paired(Comparison):
    detectable: Optional[float]  # the smallest improvement the test detects with 80 % power


class Gap(_File):
    """A confirmed mean above its search score: the noise floors' difference plus the selection."""

    total: float
    noise_floor: float
    selection: float
    search_floor: float
    stats_floor: float


class Confirmed(_File):
    trial: int
    score: float
    n_diverged: int
    validate_mse: Summary
    true_mse: Summary
    gap: Optional[Gap]
    entry: dict
    vs_baseline: Paired


class Rung(_File):
    """How well a rung's score ranks the complete trials' final scores (Spearman)."""

    epochs: int
    n_complete: int
    spearman_complete: Optional[float]
    n_best_quarter: int
    spearman_best_quarter: Optional[float]


class SearchFile(_File):
    """metrics/search.json: the search's counts, its best trial, the confirmed ones, the answer."""

    n_trials: int
    n_complete: int
    n_pruned: int
    n_diverged: int
    n_shapes: int
    baseline: str
    best: dict
    rungs: list[Rung]
    confirmed: dict[str, Confirmed]
    answer: str
