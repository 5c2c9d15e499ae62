"""Shared fixtures. nnreg's own tests run with strict rank promotion, as equinox's do.

Not the tests marked `keras` (Keras's Dense adds a (k,) bias to (n, k)), and no strict dtype
promotion: Optax's Adam mixes Python floats and int32 counts.
"""

import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
# The stages' own CPU target (two host devices among its pins), before JAX starts: the tests
# compute the committed bits, and the stages they run inherit the same XLA_FLAGS. Not the
# user's compilation cache: the tests that run stages give them a cache of their own.
from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)

import jax  # noqa: E402
import pytest  # noqa: E402


from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.params.schema import DataParams  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE_VARIABLE = "NNREG_TEST_JAX_CACHE"


def pytest_configure(config):
    """One JAX compilation cache for every stage the run's tests start, made by the first
    process (pytest-xdist's controller, before it starts its workers, which inherit the
    environment): a program one worker compiled, the other reads back. Removed at the end."""
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="nnreg-test-jax-cache-")
        config.stash[_OWN_CACHE] = os.environ[CACHE_VARIABLE]


def pytest_unconfigure(config):
    if _OWN_CACHE in config.stash:
        shutil.rmtree(config.stash[_OWN_CACHE], ignore_errors=True)


_OWN_CACHE = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def strict_rank_promotion(request):
    if request.node.get_closest_marker("keras"):  # Keras's Dense adds a (k,) bias to (n, k)
        yield
        return
    with jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture(scope="session")
def tiny_dataset():
    """20 training and 20 validation points from the lecture's generator."""
    return make_dataset(DataParams(n_points=20))


@pytest.fixture(scope="session")
def lecture_dataset():
    """The lecture's data: 400 + 400 points, seed 14."""
    return make_dataset(DataParams())


def copy_project(dest: Path) -> Path:
    """The pipeline's files (not its results) in `dest`, for tests that run stages or DVC."""
    for name in ("dvc.yaml", "params.yaml", "stages", "nnreg"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest
