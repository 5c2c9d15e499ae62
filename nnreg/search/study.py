"""The search loop: Optuna asks `search.batch` trials at a time, nnreg trains them in compiled
groups (`nnreg.search.programs`), successive halving prunes the worst at each rung of epochs,
and Optuna is told the results. The study lives in a journal file that `optuna` and
`optuna-dashboard` open.

Deterministic and resumable:
- each batch's sampler is seeded by (`search.seed`, batch number), so a batch's proposals depend
  only on the seed, the batch number and the trials before it;
- a batch reaches the journal whole or not at all (`nnreg.search.journal.BatchJournal`), so a
  search killed at any point resumes from its last whole batch and ends as an uninterrupted one;
- a journal written for other params or code (`journal.fingerprint`) is not resumed: it is started afresh.

A trial's score is its mean validation MSE over the `search.n_seeds` search replicates; a
trial with a diverged replicate scores infinity and is stopped there, told pruned (recorded as
diverged). Rung k trains the trial to `min_epochs * reduction_factor**k` epochs, going on from
the state the rung before left (one program for every rung: a kept trial's 4,000 epochs are one
run's bits, tested).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import numpy as np
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage
from optuna.trial import TrialState

from nnreg.core.optimizers import LINE_SEARCH
from nnreg.core.replicates import ReplicateResult, diverged
from nnreg.params.schema import Params
from nnreg.search.journal import STUDY, BatchJournal, best_value, whole_batches
from nnreg.search.programs import (SEARCH_STREAM, Carry, Inputs, Program, SearchedOptimizers, compile_program,
                                   make_network_fn, padded_shape, stack)
from nnreg.search.space import Strategy, rate_table, suggest

def make_sampler(params: Params, batch: int) -> optuna.samplers.BaseSampler:
    """Batch `batch`'s sampler, seeded by (search.seed, batch), every setting written out (TPE's
    defaults changed between Optuna 4 and 5)."""
    space, seed = params.search, int(np.random.SeedSequence([params.search.seed, batch]).generate_state(1)[0])
    if space.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # multivariate and group are marked experimental: said once, in the docs
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=space.startup_trials, multivariate=True, group=True, constant_liar=True,
            n_ei_candidates=24)  # the other settings are deprecated (Optuna 4.3 to 4.9): their defaults hold


def rungs(params: Params) -> list[int]:
    """The epochs at which trials are judged: successive halving's rungs, then every epoch."""
    epochs, pruning, out = params.train.epochs, params.search.pruning, []
    if pruning is None:
        return [epochs]
    while (e := pruning.min_epochs * pruning.reduction_factor ** len(out)) < epochs:
        out.append(e)
    return out + [epochs]


def make_pruner(params: Params) -> optuna.pruners.BasePruner:
    """Successive halving (`search.pruning`), or none."""
    pruning = params.search.pruning
    if pruning is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=pruning.min_epochs,
                                                  reduction_factor=pruning.reduction_factor,
                                                  min_early_stopping_rate=0, bootstrap_count=0)


def open_study(params: Params, path: Path, fingerprint_: str) -> tuple[optuna.Study, BatchJournal, bool]:
    """The study in `path`: resumed if its fingerprint is `fingerprint_` and it holds whole
    batches, else started afresh. Returns (study, journal, resumed)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    resumed = False
    if path.exists():
        try:
            old = optuna.load_study(study_name=STUDY, storage=JournalStorage(BatchJournal(path)))
            resumed = (old.user_attrs.get("fingerprint") == fingerprint_
                       and whole_batches(old, params.search.batch, params.search.n_trials))
        except (KeyError, ValueError):  # no study, or not a journal: resumed stays False
            pass
        if not resumed:
            path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = BatchJournal(path)
    study = optuna.create_study(study_name=STUDY, storage=JournalStorage(journal), direction="minimize",
                                pruner=make_pruner(params), load_if_exists=True)
    if not resumed:
        study.set_user_attr("fingerprint", fingerprint_)
        study.set_user_attr("search", params.search.model_dump(mode="json"))
    return study, journal, resumed


def calls(strategies: list[Strategy], per_call: int) -> list[tuple[list[int], int]]:
    """`strategies` as compiled calls, each (the positions of at most `per_call` strategies of
    one depth and activation, all with a line search or none, their layer sizes' count: the
    program's depth + 2), grouped in order of first appearance."""
    groups: dict[tuple[int, str, bool], list[int]] = {}
    for i, s in enumerate(strategies):
        groups.setdefault((len(s.layer_sizes), s.activation, s.optimizer in LINE_SEARCH), []).append(i)
    return [(members[k:k + per_call], n_layers) for (n_layers, _, _), members in groups.items()
            for k in range(0, len(members), per_call)]


class Cost(NamedTuple):  # what the search cost
    compiles: int
    compile_s: float
    train_s: float
    sampler_s: float
    network_epochs: int  # networks x epochs trained, padding excluded
    padded_network_epochs: int


class SearchPrograms:
    """Trains strategies on the search replicates, `search.trials_per_call` trials of one depth
    and activation a call, with one compiled program per depth (`nnreg.search.programs`), kept
    for the whole search."""

    def __init__(self, params: Params, devices=None):
        space = params.search
        self.params, self.devices = params, list(devices or jax.devices())
        ranges = space.optimizer_ranges()
        self.searched = SearchedOptimizers(tuple(ranges), tuple(tuple(r) for r in ranges.values()))
        by_depth: dict[int, list] = {}
        for shape in space.shapes_eligible():
            by_depth.setdefault(len(shape), []).append(shape)
        self.padded = {depth: padded_shape(shapes) for depth, shapes in by_depth.items()}
        n = space.n_seeds + (-space.n_seeds) % len(self.devices)  # padded with further replicates, dropped
        self.indices = SEARCH_STREAM + np.arange(n, dtype=np.int32)
        self.trials_per_call = space.trials_per_call
        self.compiles, self.compile_s, self.train_s, self.network_epochs, self.padded_network_epochs = 0, 0.0, 0.0, 0, 0
        # Every depth's program, compiled two at a time as the search starts (XLA compiles outside Python's lock).
        examples = {d: Strategy(shapes[0], space.activations[0], space.inits[0], self.searched.optimizers[0], {},
                                space.learning_rate[0], "none", 0.0, 0.0) for d, shapes in by_depth.items()}
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)))
        self._programs = {d: self._pool.submit(self._compile, d, stack([self.inputs(example)] * self.trials_per_call))
                          for d, example in sorted(examples.items())}

    def _compile(self, depth: int, example: Inputs):
        space = self.params.search
        return compile_program(make_network_fn(self.searched, space.activations, space.inits, self.padded[depth],
                                               self.params.data, space.seed), example, self.devices)

    def wait(self) -> list:
        """Every program, compiled (`compiles`, `compile_s`: their count and summed compile time)."""
        programs = [f.result() for f in self._programs.values()]
        self._pool.shutdown()
        self.compiles, self.compile_s = len(programs), sum(p.compile_s for p in programs)
        return programs

    def program(self, n_layers: int) -> Program:
        """The compiled program of networks with `n_layers` layer sizes (depth + 2)."""
        return self._programs[n_layers].result()

    def inputs(self, s: Strategy) -> Inputs:
        """A trial's networks, one a search replicate, with its hyperparameters."""
        space, n = self.params.search, len(self.indices)
        own = self.searched.settings[self.searched.optimizers.index(s.optimizer)]  # each must be given: no silent 0
        assert set(own) <= set(s.settings), f"{s.optimizer} searches {own}; the strategy gives {sorted(s.settings)}"
        settings = {k: np.full(n, s.settings[k.split(".", 1)[1]] if k.split(".", 1)[0] == s.optimizer else 0.0,
                               np.float32) for k in self.searched.keys()}
        return Inputs(self.indices, np.tile(np.asarray(s.layer_sizes, dtype=np.int32), (n, 1)),
                      np.full(n, space.inits.index(s.init), np.int32),
                      np.tile(rate_table(s, self.params.train.epochs), (n, 1)),
                      np.full(n, self.searched.optimizers.index(s.optimizer), np.int32), settings,
                      np.full(n, s.l2, np.float32), np.int32(space.activations.index(s.activation)),
                      np.bool_(s.optimizer in LINE_SEARCH))

    def cost(self, sampler_s: float = 0.0) -> Cost:
        """What this trainer's compiling and training cost, with the sampler's `sampler_s`."""
        return Cost(self.compiles, self.compile_s, self.train_s, sampler_s, self.network_epochs,
                     self.padded_network_epochs)

    def train(self, strategies: list[Strategy], end: int, begin: int = 0, carries: list[Carry] | None = None
              ) -> tuple[list[ReplicateResult], list[Carry]]:
        """Each strategy trained on every search replicate from epoch `begin` (from its initial
        weights at 0, else from its `carries`, as this returned them) to `end`: its (n_seeds,)
        results and its carry, to go on from, each. Every call is dispatched before the first
        is waited for, so Python's part of each call runs beside the training."""
        results: list[ReplicateResult | None] = [None] * len(strategies)
        out: list[Carry | None] = [None] * len(strategies)
        n, n_seeds, t = len(self.indices), self.params.search.n_seeds, self.trials_per_call
        start, running = time.perf_counter(), []
        for members, n_layers in calls(strategies, t):
            padded = members + [members[-1]] * (t - len(members))  # the last trial again, its results dropped
            carry = (None if carries is None else carries[members[0]] if t == 1  # a carry as the call left it
                     else jax.tree.map(lambda *a: np.concatenate(a), *(carries[i] for i in padded)))
            inputs = stack([self.inputs(strategies[i]) for i in padded])
            running.append((members, self.program(n_layers).dispatch(inputs, begin, end, carry)))
            self.network_epochs += len(members) * n_seeds * (end - begin)
            self.padded_network_epochs += t * n * (end - begin)
        for members, (carry, result) in running:
            result = ReplicateResult(*(np.asarray(a) for a in result))  # waits for the call
            if t > 1:  # each trial's part of the call's carry, in numpy, to be stacked again with others
                carry = Carry(*jax.tree.map(np.asarray, tuple(carry)))
            for k, i in enumerate(members):
                results[i] = ReplicateResult(*(a[k * n:k * n + n_seeds] for a in result))
                out[i] = carry if t == 1 else jax.tree.map(lambda a, k=k: a[k * n:(k + 1) * n], carry)
        self.train_s += time.perf_counter() - start
        return results, out


def score(result: ReplicateResult) -> tuple[float, bool]:
    """(mean validation MSE over the replicates, diverged): infinity if any replicate diverged."""
    bad = diverged(result)
    if bad.any():
        return math.inf, True
    return float(np.mean(result.validate_mse.astype(np.float64))), False


def train_batch(study: optuna.Study, trials: list[optuna.Trial], strategies: list[Strategy], trainer: SearchPrograms,
                epochs_at: list[int], tell: Callable[..., Any] | None = None,
                trained: Callable[[], None] | None = None) -> None:
    """Trains a batch rung by rung (`epochs_at`), reporting each trial's score and telling the
    study (`tell(trial, values=..., state=...)`, default `study.tell`) when it is pruned, diverged
    or done; `trained()` after each rung's training. A trial the storage no longer lets this
    process update (its lease ran out and another worker has it again: `nnreg.search.shared`)
    is dropped."""
    tell = tell or study.tell
    alive, carries = list(range(len(trials))), None  # carries: the alive trials', from the rung before
    for k, epochs in enumerate(epochs_at):
        results, carries = trainer.train([strategies[i] for i in alive], epochs, epochs_at[k - 1] if k else 0, carries)
        if trained is not None:
            trained()
        kept = []
        for i, result, carry in zip(alive, results, carries):
            value, bad = score(result)
            t = trials[i]
            try:
                t.set_user_attr("epochs", epochs)
                t.set_user_attr("diverged", bad)
                t.set_user_attr("true_mse", float(np.mean(result.true_mse)) if not bad else None)
                if bad:  # stopped, as the worst at its rung (told complete, TPE could count it as good)
                    t.report(value, epochs)
                    tell(t, state=TrialState.PRUNED)
                elif k == len(epochs_at) - 1:
                    tell(t, value)
                else:
                    t.report(value, epochs)
                    if t.should_prune():
                        tell(t, state=TrialState.PRUNED)
                    else:
                        kept.append((i, carry))
            except UpdateFinishedTrialError:
                pass
        alive, carries = [i for i, _ in kept], [c for _, c in kept]


def run_search(params: Params, path: Path, fingerprint_: str, log: Callable[[str], None] | None = None,
               check: Callable[[Any], None] | None = None, devices=None) -> tuple[optuna.Study, Cost, bool]:
    """Runs (or resumes) the search in the journal `path` until it has `search.n_trials` trials,
    a progress line to `log` after each batch. Every program is compiled and handed to `check`
    (a stage's memory check raises there) before any training. Returns the study, what it cost
    and whether it resumed."""
    space = params.search
    study, journal, resumed = open_study(params, path, fingerprint_)
    epochs_at = rungs(params)
    n_batches = -(-space.n_trials // space.batch)
    done = len({t.user_attrs["batch"] for t in study.get_trials(deepcopy=False)})  # whole batches only
    if done == n_batches:  # a finished study: nothing to compile or train
        return study, Cost(0, 0.0, 0.0, 0.0, 0, 0), resumed
    trainer = SearchPrograms(params, devices)
    for program in trainer.wait():
        if check is not None:
            check(program)
    sampler_s, started = 0.0, time.perf_counter()
    for b in range(done, n_batches):
        size = min(space.batch, space.n_trials - b * space.batch)
        start = time.perf_counter()
        study.sampler = make_sampler(params, b)
        trials = [study.ask() for _ in range(size)]
        strategies = [suggest(t, space) for t in trials]
        for slot, t in enumerate(trials):
            t.set_user_attr("batch", b)
            t.set_user_attr("slot", slot)
        sampler_s += time.perf_counter() - start
        train_batch(study, trials, strategies, trainer, epochs_at)
        journal.commit()
        if log is not None:
            elapsed = time.perf_counter() - started
            log(f"search: batch {b + 1}/{n_batches}, best so far {best_value(study):.6f}; {elapsed:.1f} s, "
                f"about {elapsed / (b + 1 - done) * (n_batches - b - 1):.1f} s left")
    return study, trainer.cost(sampler_s), resumed
