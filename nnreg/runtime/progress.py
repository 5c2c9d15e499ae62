"""Progress lines: what a long stage prints while it works, and after a compiled loop that
printed nothing. Text only: no output file depends on them (the dvc.yaml test lists this module
as such)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def log(message: str) -> None:
    print(message, flush=True)


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
