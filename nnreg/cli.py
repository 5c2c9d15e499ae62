"""The edge shared by the stage scripts: file locations and one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from nnreg import MODELS, NnregError

# On a GPU, JAX takes 75 % of its memory per process by default; parallel stages or
# queued experiments (`dvc queue start -j N`) would then fail to start. This network
# needs a few MB. Set before JAX first touches a device (stages import this first).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# Where the pipeline keeps its files (dvc.yaml lists the same paths).
PARAMS = Path("params.yaml")
DATASET = Path("data/dataset.npz")


def model_path(model: str) -> Path:
    return Path("models") / f"{model}.npz"


def history_path(model: str) -> Path:
    return Path("plots/history") / f"{model}.csv"


def timing_path(model: str) -> Path:
    return Path("metrics/timing") / f"{model}.json"


def metrics_path(model: str) -> Path:
    return Path("metrics") / f"{model}.json"


def fit_path(model: str) -> Path:
    return Path("plots/fit") / f"{model}.csv"


def model_arg(argv: list[str], allowed=MODELS) -> str:
    """The one command-line argument of a per-model stage."""
    if len(argv) != 2 or argv[1] not in allowed:
        raise NnregError(f"usage: {Path(argv[0]).name} MODEL, with MODEL one of {', '.join(allowed)}")
    return argv[1]


def log(message: str) -> None:
    print(message, flush=True)


def run_stage(main: Callable[[list[str]], None]) -> None:
    """Runs a stage's main; a user's error is one line on stderr and exit status 2."""
    try:
        main(sys.argv)
    except NnregError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
