"""A worker's hold on the trials it asked: a lease each, renewed by a thread (`Leases`), and the
reaper that tells a trial whose lease ran out failed and proposes it again (`fail_expired`).
Optuna's heartbeat starts only inside `study.optimize` (a batch of trials here trains in one
compiled call) and the journal storage has none: docs/experiments.md."""

from __future__ import annotations

import threading
import time
from typing import Callable

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState


class Leases:
    """The trials this worker holds, their leases renewed by a thread every `lease_s / 3` s."""

    def __init__(self, lease_s: float, me: str):
        self.lease_s, self.me = lease_s, me
        self._held: dict[int, optuna.Trial] = {}  # number -> trial
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._renew, daemon=True, name="leases")
        self._thread.start()

    def take(self, trial: optuna.Trial) -> None:
        self._write(trial)
        with self._lock:
            self._held[trial.number] = trial

    def drop(self, trial: optuna.Trial) -> None:
        with self._lock:
            self._held.pop(trial.number, None)

    def _write(self, trial: optuna.Trial) -> None:
        trial.set_user_attr("lease", {"worker": self.me, "until": time.time() + self.lease_s})

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                held = list(self._held.values())
            for trial in held:
                try:
                    self._write(trial)
                except UpdateFinishedTrialError:  # finished meanwhile, by us or by a reaper
                    self.drop(trial)
                except BaseException as error:  # noqa: BLE001: the storage stayed away; the main loop says so
                    self.error = error
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def expired(trial: optuna.trial.FrozenTrial, now: float, lease_s: float) -> bool:
    """Whether a running trial's lease ran out (one never leased: `lease_s` after it started)."""
    lease = trial.user_attrs.get("lease")
    if lease is not None:
        return lease["until"] < now
    started = trial.datetime_start.timestamp() if trial.datetime_start is not None else now
    return started + lease_s < now


def fail_expired(study: optuna.Study, lease_s: float, log: Callable[[str], None]) -> int:
    """Every running trial whose lease ran out told failed and proposed again (the retry's
    `retry_of` names it). Returns how many this worker stopped."""
    now, n = time.time(), 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not expired(t, now, lease_s):
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except (ValueError, UpdateFinishedTrialError):  # seen finished, or finished meanwhile: by another
            continue  # worker's reaper or by its owner
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
        holder = (t.user_attrs.get("lease") or {}).get("worker", "nobody")
        log(f"worker: trial {t.number}'s lease ({holder}) ran out: proposed again")
        n += 1
    return n
