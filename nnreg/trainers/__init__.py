"""Trainers: one interface (`base.Trainer`), an implementation a module, chosen by name.

`get(name)` imports `nnreg.trainers.<name>` only when asked, so a stage that trains a JAX
model never imports Keras. A new trainer is a new module here with the two functions of
`base.Trainer`, and its name added to `nnreg.params.vocabulary.TRAINERS` (docs/contributing.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nnreg.params.vocabulary import TRAINERS

if TYPE_CHECKING:
    from nnreg.trainers.base import Trainer


def get(name: str) -> Trainer:
    """The trainer module `name` (one of TRAINERS)."""
    if name not in TRAINERS:
        raise ValueError(f"no trainer {name!r} (one of {', '.join(TRAINERS)})")
    return importlib.import_module(f"{__name__}.{name}")
