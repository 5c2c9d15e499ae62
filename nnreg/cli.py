"""The edge shared by the stage scripts: file locations and one-line errors."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from nnreg import NnregError

def compilation_cache_dir() -> Path | None:
    """Where the stages keep JAX's persistent compilation cache: a folder per CPU kind
    (`machine.machine_id()`) in $JAX_COMPILATION_CACHE_DIR, or in $XDG_CACHE_HOME/nnreg/jax
    (~/.cache/nnreg/jax); None when NNREG_COMPILE_CACHE=0.

    Per CPU kind because JAX's cache key covers the program, the XLA flags and the versions
    but not the host CPU (its platform version is "cpu"): a cache shared by two machines
    (a home folder on NFS) would hand one CPU's executable to the other, compiled for the
    first one's instruction set (a crash, or the first one's bits under `native`)."""
    from nnreg.machine import machine_id

    if os.environ.get("NNREG_COMPILE_CACHE", "1") == "0":
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"]) / machine_id()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnreg" / "jax" / machine_id()


def use_compilation_cache() -> None:
    """Turns on JAX's persistent compilation cache for this stage: a stage compiles what an earlier
    stage or run compiled already (the small eager functions every stage shares, a model's
    programs when only its outputs were removed) by reading the executable back. The same
    executable gives the same bits. Outside git and shared by every checkout, queued
    experiment and parallel stage: with a size limit set, JAX reads and writes it under a
    file lock. `make clean-cache` empties it.

    Imports no JAX itself: if JAX is not imported yet, the settings are made the moment it is
    (`_AfterImport`), so the stages that never compute with JAX (compare, report) skip its
    import (0.3 to 0.6 s)."""
    path = compilation_cache_dir()
    if path is None:
        return

    def configure(jax):
        jax.config.update("jax_compilation_cache_dir", str(path))
        if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # the small ones add up
        jax.config.update("jax_compilation_cache_max_size", 2**30)  # least recently used out beyond 1 GiB

    if "jax" in sys.modules:
        configure(sys.modules["jax"])
    else:
        sys.meta_path.insert(0, _AfterImport("jax", configure))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` once module `name` has been imported (its first import), then steps aside."""

    def __init__(self, name: str, then: Callable):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name or fullname in sys.modules:
            return None
        position = sys.meta_path.index(self)  # ask the finders after this one (a probe may ask first:
        sys.meta_path.remove(self)  # the hook stays until the module is actually executed)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(position, self)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then(module):
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            self.then(module)

        spec.loader.exec_module = exec_then  # this module's own loader object
        return spec


use_compilation_cache()

# Where the pipeline keeps its files (dvc.yaml lists the same paths).
PARAMS = Path("params.yaml")
DATASET = Path("data/dataset.npz")


COMPARE = Path("metrics/compare.json")
SWEEP_METRICS = Path("metrics/sweep.json")
DIFFERENCES = Path("plots/compare/differences.csv")
REPLICATES = Path("plots/data/replicates.csv")
SWEEP_LONG = Path("plots/compare/sweep.csv")


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


class Progress:
    """Progress lines for long work: `progress(done, loss)` logs one when at least a tenth of
    the run or `every_s` seconds has passed since the last, and always at the end, with the
    epochs done, the loss and an estimate of the time left (from the rate so far).
    `progress(0, ...)` restarts the clock (the work begins), printing nothing."""

    def __init__(self, name: str, total: int, loss_name: str = "loss", every_s: float = 5.0, clock=time.perf_counter,
                 write: Callable[[str], None] | None = None):
        self.name, self.total, self.loss_name, self.every_s, self.clock = name, total, loss_name, every_s, clock
        self.write = write or log
        self.start = self.last_time = clock()
        self.last_done = 0

    def __call__(self, done: int, loss: float, extra: str = "") -> None:
        now = self.clock()
        if done == 0:  # the work starts now (after compiling): the clock starts here
            self.start = self.last_time = now
            return
        if done < self.total and done - self.last_done < self.total / 10 and now - self.last_time < self.every_s:
            return
        elapsed = now - self.start
        left = elapsed / done * (self.total - done)
        self.write(f"{self.name}: epoch {done}/{self.total} ({100 * done / self.total:.0f} %), {self.loss_name} "
                   f"{loss:.6f}{extra}; {elapsed:.1f} s, "
                   + ("done" if done >= self.total else f"about {left:.1f} s left"))
        self.last_done, self.last_time = done, now


def tenths(epochs: int) -> list[int]:
    """The epochs (counted from 1) at each tenth of a run, the last included."""
    return sorted({max(1, round(epochs * k / 10)) for k in range(1, 11)})


def log_tenths(name: str, history) -> None:
    """A progress line at each tenth of a run that printed nothing while it ran (one compiled
    loop of a fraction of a second), from its recorded losses."""
    train_loss, validate_loss = np.asarray(history.train_loss), np.asarray(history.validate_loss)
    epochs = len(train_loss)
    for done in tenths(epochs):
        log(f"{name}: epoch {done}/{epochs} ({100 * done / epochs:.0f} %), loss {train_loss[done - 1]:.6f}, "
            f"val_loss {validate_loss[done - 1]:.6f}")


def model_arg(argv: list[str], allowed) -> str:
    """The one command-line argument of a per-model stage: a model of params.yaml in `allowed`."""
    if len(argv) != 2 or argv[1] not in allowed:
        raise NnregError(f"usage: {Path(argv[0]).name} MODEL, with MODEL one of {', '.join(allowed)}")
    return argv[1]


def log(message: str) -> None:
    print(message, flush=True)


# The stop signal a stage received, if any. Python can lose the KeyboardInterrupt a
# signal raises (when it lands in a `__del__` or a weakref callback, which JAX and
# Keras run all the time) and go on to finish; this flag cannot be lost.
_stop_signal: int | None = None
_writing = False  # inside `all_or_none()`: a stop signal waits for the writes to finish
_writing_s = 0.0  # time spent inside `all_or_none()` (benchmarks/pipeline.py's breakdown)


def _on_stop_signal(signum, frame):
    global _stop_signal
    _stop_signal = signum
    if not _writing:
        raise KeyboardInterrupt


def ensure_not_interrupted() -> None:
    """Raises KeyboardInterrupt if the stage was ever told to stop: call before writing outputs."""
    if _stop_signal is not None:
        raise KeyboardInterrupt


@contextlib.contextmanager
def all_or_none():
    """A stage's outputs, written together: all of them or none when the stage is told to stop.

    A stop signal received before (even one whose KeyboardInterrupt was lost) stops the
    stage here, before its first write. One that arrives during the writes (a trainer's
    take 0.2 to 0.7 s with its evaluation) is held until they are done; the stage
    then stops with 128 + the signal. So a stopped stage never leaves some of its new
    outputs beside old ones. (A write that fails, say on a full disk, is an error of its
    own: one line naming the file, exit 2.)"""
    global _writing, _writing_s
    _writing = True
    start = time.perf_counter()
    try:
        ensure_not_interrupted()
        yield
    finally:
        _writing = False
        _writing_s += time.perf_counter() - start
    ensure_not_interrupted()


def run_stage(main: Callable[[list[str]], None]) -> None:
    """Runs a stage's main; a user's error is one line on stderr and exit status 2.

    SIGINT (Ctrl-C, `dvc queue kill`) and SIGTERM (`kill`) stop the stage with status
    128 + signal, so DVC records nothing. Every write is atomic, and a stage's outputs
    are written all or none (`all_or_none`), even if the KeyboardInterrupt got lost in a callback.

    The stage then leaves at once (`os._exit`, after flushing its output): tearing down
    the interpreter (JAX's and Keras's modules, XLA's client) took 0.3 to 0.5 s a stage
    and writes nothing. Every output is already written, closed and renamed."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # `nohup` and `cmd &` ignore it: keep that
            signal.signal(signum, _on_stop_signal)
    main_at = time.time()
    try:
        main(sys.argv)
        ensure_not_interrupted()
        _log_stage_times(main_at)
    except NnregError as e:
        print(f"error: {e}", file=sys.stderr)
        _exit(2)
    except KeyboardInterrupt:
        signum = _stop_signal or signal.SIGINT
        print(f"interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        _exit(128 + signum)
    _exit(0)


def _process_start() -> float | None:
    """When this process started (epoch seconds, to the kernel's clock tick), on Linux."""
    try:
        started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])  # the same clock, since boot
        return time.time() - (uptime - started)
    except (OSError, ValueError, IndexError):
        return None


def _log_stage_times(main_at: float) -> None:
    """With NNREG_STAGE_LOG set (benchmarks/pipeline.py), appends one JSON line to that file: the
    stage, when its process started, when its main began (imports done) and ended, and the
    time it spent writing its outputs (`all_or_none`)."""
    path = os.environ.get("NNREG_STAGE_LOG")
    if not path:
        return
    import json

    line = {"stage": " ".join([Path(sys.argv[0]).stem, *sys.argv[1:]]), "process_start": _process_start(),
            "main_at": main_at, "done_at": time.time(), "writing_s": _writing_s}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def _exit(status: int) -> None:
    """Ends the process with `status`, skipping the interpreter's teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
