"""Imported first by every stage: outside the project's environment (`dvc repro` run with
the venv not active, by a `dvc` installed elsewhere), stop with one line that says what to
do, not with a traceback about a missing module. Looks the packages up without importing them."""

import importlib.util
import sys

NEEDED = ("nnreg", "jax", "optax", "keras", "numpy", "scipy", "pandas", "matplotlib", "yaml", "pydantic", "optuna")

missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if missing:
    sys.stderr.write(f"error: {sys.executable} has no {', '.join(missing)}: the project's environment is not "
                     f"active; run `source .venv/bin/activate` first (or `make repro`, which uses it)\n")
    sys.exit(2)
