"""The search spread over worker processes, on one machine or many, sharing one study in a
database or a shared journal file (`nnreg.search.storage`). Each worker asks a batch of trials,
trains it on all of its own devices (`nnreg.search.study.SearchPrograms`), tells the results, and
stops when the study has `search.n_trials` finished trials. The search stage is a worker too:
it makes the study, works, waits for the others' last trials, then confirms.

What a worker relies on, and what it adds to Optuna:
- Leases. Optuna's heartbeat covers `study.optimize` only, not ask-and-tell, so a worker holds
  each trial it asked under a lease: the user attribute `lease` = {worker, until} (a Unix time),
  renewed every `lease_s / 3` seconds by a thread. Before asking, every worker looks for
  running trials whose lease ran out (a worker killed, or cut off): it stops each as failed
  (the storage finishes a trial once: of two workers that both try, one succeeds) and, if it
  did, proposes its parameters again (`enqueue_trial`, `retry_of` = its number), which the
  next ask takes first. A failed trial does not count; its retry does.
- Exactly `n_trials`. The trials that are not failed, in order of their number, are the
  study's slots: a worker asks at most as many trials as slots are left, and a trial whose
  place among them is `n_trials` or later (two workers asked at once) is stopped as failed,
  `surplus`, before it trains, and checked again before it is told (a trial's place can only
  move forward). A worker whose lease ran out cannot tell its trial any more: the storage
  refuses, so no trial is counted twice and no two workers train one trial to the end.
- Two workers asking at once get different trials: each ask makes a new trial, or takes a
  waiting one, which the storage hands to one worker only.
- Not bit-reproducible: which trials the sampler proposes depends on which others are running,
  so the study depends on timing. The confirmation is reproducible from the study it reads.

JAX's multi-process mode (`jax.distributed`) is the wrong tool here: its processes run one
program in lock-step, and all of them fail when one dies; trials are independent.
"""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage
from optuna.trial import TrialState

from nnreg.errors import NnregError
from nnreg.params.schema import Params
from nnreg.search.journal import STUDY, BatchJournal, best_value
from nnreg.search.leases import Leases, fail_expired
from nnreg.search.programs import Program
from nnreg.search.space import suggest
from nnreg.search.storage import open_storage, read_url
from nnreg.search.study import Cost, SearchPrograms, make_pruner, make_sampler, rungs, train_batch

LIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class JoinRefused(NnregError):
    """A worker that must not join this study: one line."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def differences(made: dict, here: dict) -> list[str]:
    """What differs between the study's `provenance` and this checkout's, in words."""
    words = {"commit": "commit", "params": "search params", "lock": "requirements.lock", "code": "code",
             "optuna": "Optuna", "jax": "JAX", "jaxlib": "jaxlib"}
    return [f"{words.get(k, k)} {str(made.get(k))[:12]} (here {str(here[k])[:12]})"
            for k in here if made.get(k) != here[k]]


def create(params: Params, storage: optuna.storages.BaseStorage, made: dict) -> tuple[optuna.Study, bool]:
    """The study in `storage`, made by this checkout: kept if it was made by the same commit,
    params and code (a study being resumed), else deleted and made afresh. Returns (study,
    resumed)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        old = optuna.load_study(study_name=STUDY, storage=storage, pruner=make_pruner(params))
        if not differences(old.user_attrs.get("provenance", {}), made):
            return old, True
        optuna.delete_study(study_name=STUDY, storage=storage)
    except KeyError:  # no study yet
        pass
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="minimize", pruner=make_pruner(params))
    study.set_user_attr("provenance", made)
    study.set_user_attr("search", params.search.model_dump(mode="json"))
    return study, False


def join(params: Params, storage: optuna.storages.BaseStorage, made: dict, shown: str, wait_s: float,
         log: Callable[[str], None]) -> optuna.Study:
    """The study the search stage made in `storage`, waited for up to `wait_s` seconds; refused
    (JoinRefused) if it was made by another commit, params or code."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    deadline, said = time.monotonic() + wait_s, False
    while True:
        try:
            study = optuna.load_study(study_name=STUDY, storage=storage, pruner=make_pruner(params))
            break
        except KeyError:
            if time.monotonic() > deadline:
                raise JoinRefused(f"no study {STUDY!r} in {shown} after {wait_s:g} s: start the search stage "
                                  "(dvc repro) with the same search.storage first") from None
            if not said:
                log(f"worker: waiting for the search stage to make study {STUDY!r} in {shown}")
                said = True
            time.sleep(1.0)
    differ = differences(study.user_attrs.get("provenance", {}), made)
    if differ:
        raise JoinRefused(f"study {STUDY!r} in {shown} was made by another checkout: {'; '.join(differ)}; check "
                          "out its commit, install, and run the worker there")
    return study


def slots(study: optuna.Study) -> dict[int, int]:
    """Trial number -> its place among the study's trials that are not failed, in order of number."""
    return {number: i for i, number in enumerate(sorted(t.number for t in study.get_trials(deepcopy=False,
                                                                                           states=LIVE)))}


class WorkStats(NamedTuple):
    batches: int
    trials_told: int
    trials_reaped: int
    surplus: int
    train_s: float
    storage_s: float  # asks, tells, leases, reads: the time spent in storage calls (the lease thread's too)
    storage_calls: int
    wall_s: float


def work(params: Params, study: optuna.Study, trainer: SearchPrograms, lease_s: float, log: Callable[[str], None],
         progress: Callable[[optuna.Study, float], None] | None = None, poll_s: float = 1.0,
         storage: optuna.storages.BaseStorage | None = None) -> WorkStats:
    """Asks, trains and tells batches until `study` has `search.n_trials` finished trials (waiting,
    while others hold the last ones, for them to finish or their leases to run out). `storage`,
    the study's (`nnreg.search.storage.Retrying`), counts the storage calls."""
    space, me = params.search, worker_id()
    epochs_at, n = rungs(params), space.n_trials
    leases = Leases(lease_s, me)
    started = time.perf_counter()
    batches = told = reaped = surplus = 0
    train_s = 0.0
    try:
        while True:
            if leases.error is not None:
                raise leases.error
            reaped += fail_expired(study, lease_s, log)
            trials = study.get_trials(deepcopy=False)
            if sum(t.state in DONE for t in trials) >= n:
                break
            live = [t for t in trials if t.state in LIVE]
            waiting = sum(t.state == TrialState.WAITING for t in trials)
            k = min(space.batch, n - len(live) + waiting)
            if k <= 0:  # the last trials are others': wait for them, or for their leases to run out
                time.sleep(min(poll_s, lease_s / 4))
                continue
            seed = int(np.random.SeedSequence([space.seed, len(trials), os.getpid()]).generate_state(1)[0])
            study.sampler = make_sampler(params, seed)
            asked = []
            for _ in range(k):
                t = study.ask()
                leases.take(t)
                t.set_user_attr("worker", me)
                t.set_user_attr("batch", batches)  # this worker's
                asked.append(t)
            mine, placed = [], slots(study)
            for t in asked:  # two workers asked at once: the later places stop here
                if placed[t.number] >= n:
                    _stop_surplus(study, t, leases)
                    surplus += 1
                else:
                    mine.append(t)
            log(f"worker {me}: batch {batches}: asked trials {', '.join(str(t.number) for t in mine) or 'none'}")
            strategies = [suggest(t, space) for t in mine]

            def trained():  # the places again, once a rung (a trial asked at once elsewhere may now be seen)
                placed.update(slots(study))

            def tell(t, values=None, state=None):
                nonlocal told, surplus
                if placed.get(t.number, n) >= n:
                    _stop_surplus(study, t, leases)
                    surplus += 1
                    return
                study.tell(t, values, state=state)
                leases.drop(t)
                told += 1

            before = trainer.train_s
            train_batch(study, mine, strategies, trainer, epochs_at, tell, trained)
            train_s += trainer.train_s - before
            for t in mine:  # told, or lost to a reaper
                leases.drop(t)
            batches += 1
            if progress is not None:
                progress(study, time.perf_counter() - started)
    finally:
        leases.close()
    wall = time.perf_counter() - started
    return WorkStats(batches, told, reaped, surplus, train_s, getattr(storage, "seconds", math.nan),
                     getattr(storage, "calls", 0), wall)


def _stop_surplus(study: optuna.Study, t: optuna.Trial, leases: Leases) -> None:
    try:
        t.set_user_attr("surplus", True)
        study.tell(t, state=TrialState.FAIL)
    except UpdateFinishedTrialError:
        pass
    leases.drop(t)


def take_part(params: Params, study: optuna.Study, storage: optuna.storages.BaseStorage, log: Callable[[str], None],
              name: str, check: Callable[[Program], None] | None = None
              ) -> tuple[SearchPrograms | None, WorkStats | None]:
    """This process as one of `study`'s workers (the stage's and `python -m nnreg.search.worker`'s
    part): nothing if the study has its trials; else its programs compiled (each handed to
    `check` before any training), then `work` until the study is done, its progress and last
    line logged as `name`. Returns (the trainer, what the work cost), or (None, None)."""
    if n_done(study) >= params.search.n_trials:
        return None, None
    trainer = SearchPrograms(params)
    for program in trainer.wait():
        if check is not None:
            check(program)
    stats = work(params, study, trainer, params.search.storage.lease_s, log,
                 lambda study, elapsed: log(f"{name}: {elapsed:.1f} s, best so far {best_value(study):.6f}"),
                 storage=storage)
    log(f"{name}: done: {stats.batches} batches, {stats.trials_told} trials told, {stats.trials_reaped} leases "
        f"reaped, {stats.surplus} surplus; training {stats.train_s:.1f} s, storage {stats.storage_s:.1f} s in "
        f"{stats.storage_calls} calls, {stats.wall_s:.1f} s in all")
    return trainer, stats


def n_done(study: optuna.Study) -> int:
    """The study's finished trials (complete or pruned)."""
    return sum(t.state in DONE for t in study.get_trials(deepcopy=False))


def search_shared(params: Params, made: dict, journal: Path, log: Callable[[str], None],
                  check: Callable[[Program], None] | None = None) -> tuple[optuna.Study, Cost, bool]:
    """The search stage's part in `search.storage`, shared with workers (`python -m
    nnreg.search.worker`): makes the study (or resumes it), works as a worker, waits for the
    study's last trials, and copies the study into the `journal` file the rest of the stage (and
    `dvc`, and the dashboard) reads. Returns (that study, what the search cost, resumed)."""
    space = params.search
    url = read_url(space.storage, Path.cwd())
    storage = open_storage(url, space.storage.retry_s, log)
    study, resumed = create(params, storage, made)
    log(f"search: study in {url.shown} ({'resumed' if resumed else 'new'}); workers may join: "
        f"python -m nnreg.search.worker")
    trainer, _ = take_part(params, study, storage, log, "search", check)
    stats = trainer.cost() if trainer is not None else Cost(0, 0.0, 0.0, 0.0, 0, 0)
    journal.unlink(missing_ok=True)
    copy = BatchJournal(journal)
    optuna.copy_study(from_study_name=STUDY, from_storage=storage, to_storage=JournalStorage(copy))
    copy.commit()
    return optuna.load_study(study_name=STUDY, storage=JournalStorage(BatchJournal(journal))), stats, resumed
