"""The study's record: its journal file, written a batch at a time (`BatchJournal`), what made
it (`provenance`: the commit, params, lock, code and versions; `fingerprint`, what a single
process may resume), and the finished trials read back from it."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import jax
import optuna
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import TrialState

from nnreg.params.schema import Params
from nnreg.runtime.files import atomic_write_bytes

STUDY = "search"


class BatchJournal(BaseJournalBackend):
    """Optuna's journal file (the format of its `JournalFileBackend`: a JSON operation a line),
    written a batch at a time: operations wait in memory (Optuna reads them back as if written)
    until `commit()` writes the file anew with them, through a temporary file renamed into
    place. So the file holds whole batches whenever the process dies, even mid-write."""

    def __init__(self, path: Path):
        self._path = path
        self._written = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        self._pending: list[dict[str, Any]] = []

    def read_logs(self, log_number_from: int):
        written = len(self._written)
        yield from self._written[log_number_from:]  # Optuna asks for the few it has not read
        yield from self._pending[max(0, log_number_from - written):]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self._pending.extend(logs)

    def commit(self) -> None:
        if self._pending:
            lines = "".join(json.dumps(op, separators=(",", ":")) + "\n" for op in self._pending).encode()
            atomic_write_bytes(self._path, (self._path.read_bytes() if self._path.exists() else b"") + lines)
            self._written.extend(self._pending)
            self._pending = []


def whole_batches(study: optuna.Study, batch: int, n_trials: int) -> bool:
    """Whether `study` holds batches 0, 1, ... each whole: every trial finished, `batch` of them
    (fewer in the last batch of the search)."""
    counts: dict[int, int] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED) or "batch" not in t.user_attrs:
            return False
        counts[t.user_attrs["batch"]] = counts.get(t.user_attrs["batch"], 0) + 1
    return (sorted(counts) == list(range(len(counts)))
            and all(n == min(batch, n_trials - b * batch) for b, n in counts.items()))


SEARCH_CODE = ("core", "params", "runtime", "search")  # nnreg's packages a search runs


def code_hash() -> str:
    """A hash of the code a search runs: every module of nnreg's `core`, `params`, `runtime` and
    `search` packages (and nnreg/__init__.py), wherever nnreg is installed."""
    import nnreg

    package = Path(nnreg.__file__).parent
    h = hashlib.sha256()
    for path in sorted([package / "__init__.py", *(p for sub in SEARCH_CODE for p in (package / sub).rglob("*.py"))]):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def provenance(params: Params, root: Path | None = None) -> dict[str, str]:
    """What makes a study, as a worker checks before it joins: the commit checked out at `root`,
    a hash of the search params (but the confirmation's and the storage's), the data and the
    epochs, a hash of requirements.lock, the code's hash and Optuna's and JAX's versions."""
    import jaxlib

    root = Path.cwd() if root is None else root
    searched = json.dumps({"search": params.search.model_dump(mode="json", exclude={"confirm", "storage"}),
                           "data": params.data.model_dump(mode="json"), "epochs": params.train.epochs},
                          sort_keys=True)
    lock = root / "requirements.lock"
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "none"
    return {"commit": commit, "params": hashlib.sha256(searched.encode()).hexdigest(),
            "lock": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else "none",
            "code": code_hash(), "optuna": optuna.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}


def fingerprint(made: dict[str, str], devices=None) -> str:
    """The study a single process may resume: `provenance` but the commit (a commit changing no
    code or params keeps the study), with the platform and the device count (which set the
    numbers' last bits). A journal with another fingerprint is not resumed."""
    devices = list(devices or jax.devices())
    kept = {k: v for k, v in made.items() if k != "commit"}
    return hashlib.sha256(json.dumps({**kept, "platform": devices[0].platform, "devices": len(devices)},
                                     sort_keys=True).encode()).hexdigest()


def best_value(study: optuna.Study) -> float:
    """The lowest finite score of the study's complete trials (NaN if none)."""
    return min((t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if math.isfinite(t.value)), default=math.nan)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's finished trials (complete or pruned; not a failed one: lease ran out), as asked."""
    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)),
                  key=lambda t: t.number)
