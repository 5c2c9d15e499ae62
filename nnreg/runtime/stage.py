"""Running a stage: its arguments, one-line errors, stop signals, outputs written all or none,
and the memory check of a replicate batch.

`run(main)` is each stage script's last line. SIGINT (Ctrl-C, `dvc queue kill`) and SIGTERM
(`kill`) stop the stage with status 128 + the signal, so DVC records nothing; a stage's outputs
are written all or none (`all_or_none`), even if Python lost the KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from nnreg.errors import NnregError


def model_arg(argv: list[str], allowed) -> str:
    """The one command-line argument of a per-model stage: a model of params.yaml in `allowed`."""
    if len(argv) != 2 or argv[1] not in allowed:
        raise NnregError(f"usage: {Path(argv[0]).name} MODEL, with MODEL one of {', '.join(allowed)}")
    return argv[1]


class _Stop:
    """The stop signal this stage's process received, if any. Python can lose the
    KeyboardInterrupt a signal raises (when it lands in a `__del__` or a weakref callback,
    which JAX and Keras run all the time) and go on to finish; this record cannot be lost."""

    signal: int | None = None
    writing = False  # inside `all_or_none()`: a stop signal waits for the writes to finish
    writing_s = 0.0  # time spent inside `all_or_none()` (benchmarks/pipeline.py's breakdown)


_stop = _Stop()  # one process, one stage


def _on_stop_signal(signum, frame):
    _stop.signal = signum
    if not _stop.writing:
        raise KeyboardInterrupt


def ensure_not_interrupted() -> None:
    """Raises KeyboardInterrupt if the stage was ever told to stop: call before writing outputs."""
    if _stop.signal is not None:
        raise KeyboardInterrupt


@contextlib.contextmanager
def all_or_none():
    """A stage's outputs, written together: all of them or none when the stage is told to stop.

    A stop signal received before (even one whose KeyboardInterrupt was lost) stops the
    stage here, before its first write. One that arrives during the writes (a trainer's
    include its evaluation) is held until they are done; the stage
    then stops with 128 + the signal. So a stopped stage never leaves some of its new
    outputs beside old ones. (A write that fails, say on a full disk, is an error of its
    own: one line naming the file, exit 2.)"""
    _stop.writing = True
    start = time.perf_counter()
    try:
        ensure_not_interrupted()
        yield
    finally:
        _stop.writing = False
        _stop.writing_s += time.perf_counter() - start
    ensure_not_interrupted()


def run_stage(main: Callable[[list[str]], None]) -> None:
    """Runs a stage's main; a user's error is one line on stderr and exit status 2.

    SIGINT (Ctrl-C, `dvc queue kill`) and SIGTERM (`kill`) stop the stage with status
    128 + signal, so DVC records nothing. Every write is atomic, and a stage's outputs
    are written all or none (`all_or_none`), even if the KeyboardInterrupt got lost in a callback.

    The stage then leaves at once (`os._exit`, after flushing its output): tearing down
    the interpreter (JAX's and Keras's modules, XLA's client) takes time and writes nothing
    (docs/performance.md). Every output is already written, closed and renamed."""
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
        signum = _stop.signal or signal.SIGINT
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
            "main_at": main_at, "done_at": time.time(), "writing_s": _stop.writing_s}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def check_memory(batch, what: str) -> None:
    """Stops the stage, before a compiled replicate batch (`nnreg.core.replicates.Batch`) trains,
    if it would not fit in memory: one line saying how much it needs and what to change."""
    devices = batch.devices
    free = _free_bytes(devices[0])
    # Host devices share one RAM; accelerators each have their own.
    need = batch.memory_bytes * (len(devices) if devices[0].platform == "cpu" else 1)
    if free is not None and need > 0.9 * free:
        raise NnregError(f"{what}: {batch.n} networks need about {_gib(need)} of memory, but {_gib(free)} is free; "
                         f"use fewer replicates, learning rates or data points")


def _free_bytes(device) -> int | None:
    """Memory a batch may use on `device`: the accelerator's free memory, or the host's available RAM."""
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return stats["bytes_limit"] - stats.get("bytes_in_use", 0)
        return None
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _exit(status: int) -> None:
    """Ends the process with `status`, skipping the interpreter's teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
