"""Imported first by every stage that computes with JAX: the project's environment checked
(`_env`), then XLA's CPU target pinned and JAX's compilation cache turned on
(`nnreg.runtime.machine.setup()`) before JAX starts, so the stage's own imports read as imports
in any order. The stages that compute nothing with JAX (compare, report) import `_env` only."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg.runtime import machine

machine.setup()
