"""Where the pipeline keeps its files: dvc.yaml lists the same paths."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

PARAMS = Path("params.yaml")
DATASET = Path("data/dataset.npz")
COMPARE = Path("metrics/compare.json")
SWEEP_METRICS = Path("metrics/sweep.json")
DIFFERENCES = Path("plots/compare/differences.csv")
REPLICATES = Path("plots/data/replicates.csv")
SWEEP_LONG = Path("plots/compare/sweep.csv")
SEARCH_JOURNAL = Path("models/search.journal")  # Optuna's journal of the study (optuna-dashboard opens it)
SEARCH_METRICS = Path("metrics/search.json")
SEARCH_TRIALS = Path("plots/search/trials.csv")
SEARCH_CONFIRM = Path("plots/search/confirm.csv")
SEARCH_DIFFERENCES = Path("plots/search/differences.csv")
SEARCH_IMPORTANCE = Path("plots/search/importance.csv")
SEARCH_TIMING = Path("metrics/timing/search.json")


def _per_model(folder: str, suffix: str) -> Callable[[str], Path]:
    """`path(model)`: a model's file in `folder` (dvc.yaml lists the same paths)."""
    return lambda model: Path(folder) / f"{model}{suffix}"


model_path = _per_model("models", ".npz")
history_path = _per_model("plots/history", ".csv")
timing_path = _per_model("metrics/timing", ".json")
metrics_path = _per_model("metrics", ".json")
fit_path = _per_model("plots/fit", ".csv")
seeds_path = _per_model("plots/seeds", ".csv")
seeds_metrics_path = _per_model("metrics/seeds", ".json")
sweep_path = _per_model("plots/sweep", ".csv")


def batch_timing_path(kind: str, model: str) -> Path:
    """Timing of a replicate batch (kind `seeds` or `sweep`): not a metric, like the trainers'."""
    return Path("metrics/timing") / kind / f"{model}.json"
