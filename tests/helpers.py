"""Running stages and DVC as a user would, in a temporary copy of the project."""

import atexit
import copy
import re
import shutil
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.conftest import CACHE_VARIABLE, REPO, copy_project

from tools import check_reproduced

TINY = {
    "data": {"seed": 14, "n_points": 24, "x_min": 0.0, "x_max": 5.0, "noise": 0.2},
    "network": {"layer_sizes": [1, 6, 6, 1], "activation": "tanh", "init_seed": 1234, "init": "he_normal"},
    "train": {"epochs": 30},
    "models": {
        "keras": {"trainer": "keras", "learning_rate": 0.01, "lecture_layer_count": False, "loop": "fit"},
        "gd": {"trainer": "jax", "optimizer": "gd", "learning_rate": 0.01},
        "optax_adam": {"trainer": "jax", "optimizer": "adam", "learning_rate": 0.01},
    },
    "stats": {"n_seeds": 4, "seed": 0, "baseline": "optax_adam"},
    # gd at 10 diverges: the sweep must mark it.
    "sweep": {"models": ["gd"], "learning_rates": [0.01, 10.0], "n_seeds": 2},
    # Six trials in two batches over four shapes, pruned at epochs 10 and 20, the best two confirmed.
    "search": {"seed": 0, "sampler": "tpe", "startup_trials": 3, "n_trials": 6, "batch": 3, "n_seeds": 2,
               "trials_per_call": 2,
               "max_parameters": 251, "depth": [1, 2], "width": [2, 3], "activations": ["tanh"],
               "inits": ["he_normal", "glorot_uniform"], "optimizers": {"sgd": {}, "adam": {"b1": [0.8, 0.95]}},
               "learning_rate": [0.001, 0.1], "schedules": {"none": {}, "cosine_decay": {"alpha": [0.0, 0.5]}},
               "l2": None, "pruning": {"min_epochs": 10, "reduction_factor": 2}, "confirm": {"top": 2}},
}


# One JAX compilation cache for every stage the tests run, shared by pytest-xdist's workers
# (tests/conftest.py makes it): the tiny pipeline is run many times, and compiling (not
# computing) is much of its time. A cached executable is the same compiled code, so the
# results are the same bits. Outside pytest (the benchmarks), a cache of this process's own.
USE_COMPILE_CACHE = True  # benchmarks turn it off, to time what a user's run costs
_JAX_CACHE = os.environ.get(CACHE_VARIABLE) or tempfile.mkdtemp(prefix="nnreg-test-jax-cache-")
if CACHE_VARIABLE not in os.environ:
    atexit.register(shutil.rmtree, _JAX_CACHE, ignore_errors=True)


def env_for(root: Path) -> dict:
    """The environment of a user with the venv active, importing nnreg from `root`."""
    env = dict(os.environ)
    if USE_COMPILE_CACHE:
        env["JAX_COMPILATION_CACHE_DIR"] = _JAX_CACHE
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(root)
    env["KERAS_BACKEND"] = "jax"
    env["DVC_NO_ANALYTICS"] = "1"
    env["COLUMNS"] = "120"  # tables wrap to the terminal: the same width under pytest-xdist's workers
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def run(root: Path, *args: str, check: bool = True, timeout: float = 600, env: dict | None = None
        ) -> subprocess.CompletedProcess:
    """`args` run in `root` (in `env`, default `env_for(root)`); with `check`, an exit status but 0 fails."""
    proc = subprocess.run(list(args), cwd=root, env=env or env_for(root), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "dvc", *args, check=check)


DELETE = object()  # `edited(raw, key, DELETE)` removes the key


def edited(raw: dict, path: str, value) -> dict:
    """A deep copy of params `raw` with the dotted key `path` set to `value` (or removed)."""
    raw = copy.deepcopy(raw)
    node = raw
    *keys, last = path.split(".")
    for k in keys:
        node = node[k]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(root: Path, params: dict = TINY) -> Path:
    """A git + DVC repo holding the pipeline's code and `params`, committed."""
    copy_project(root)
    write_params(root, params)
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "test@nnreg")
    run(root, "git", "config", "user.name", "nnreg test")
    dvc(root, "init", "-q")
    shutil.copy2(REPO / ".dvc/config", root / ".dvc/config")  # analytics and update checks off
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")  # the custom plot templates
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "pipeline")
    return root


def restore(root: Path) -> None:
    """The repo's committed params and results again (every output is in git: `cache: false`),
    without rerunning a stage; what an experiment left untracked in the output folders goes."""
    run(root, "git", "checkout", "-q", "--", ".")
    run(root, "git", "clean", "-fdq", "--", "data", "models", "metrics", "plots")


def commit_results(root: Path) -> Path:
    """`dvc repro` in `root`, its results committed (so `restore` can come back to them)."""
    dvc(root, "repro")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "results")
    return root


def stale_stages(root: Path) -> set[str]:
    """The stages `dvc status` names (DVC's own API, in this process: no start-up of its own)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:  # keys are "<dvc.yaml's path from here>:<stage>"
        return {key.rsplit(":", 1)[-1] for key in repo.status()}


def ran_stages(repro_output: str) -> set[str]:
    """Stages that a `dvc repro` ran or restored from the run-cache, from its output."""
    found = re.findall(r"Running stage '([^']+)'", repro_output)
    found += re.findall(r"Stage '([^']+)' is cached", repro_output)
    return set(found)


def lock_md5s(root: Path) -> dict[str, str]:
    """Every output's md5 in dvc.lock, by path."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


def deterministic(md5s: dict[str, str]) -> dict[str, str]:
    """The outputs that must not change between runs: all but those holding clock readings (the
    timing files, the summary and its images), as CI's tools/check_reproduced.py decides."""
    return {p: m for p, m in md5s.items() if not check_reproduced.holds_clock_readings(p)}


def wait_for_queue(root, n: int, timeout: float) -> str:
    """`dvc queue status` once no task is queued or running; fails with the workers' logs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = dvc(root, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status and status.count("Success") + status.count("Failed") >= n:
            return status
        time.sleep(2)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((root / ".dvc/tmp").rglob("*.out")))
    raise AssertionError(f"queue not done after {timeout} s:\n{status}\n{logs}")
