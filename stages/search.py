"""Stage search: Exercise 23.1 answered by search. Optuna asks `search.n_trials` strategies from
the `search:` space, `search.batch` at a time; each is trained on `search.n_seeds` search
replicates in compiled groups, the worst pruned at each rung (nnreg.search.study). The study
is Optuna's journal (models/search.journal: resumed after an interruption, started afresh for
other params or code). The `search.confirm.top` best are then trained again by the JAX trainer
on the stats replicates and compared with `stats.baseline`, paired, one family (Holm)
-> metrics/search.json, plots/search/trials.csv (one row a trial),
plots/search/confirm.csv (one row a confirmed trial's replicate), plots/search/differences.csv
(the confirmed trials against the baseline), plots/search/importance.csv (Optuna's PED-ANOVA),
metrics/timing/search.json."""

import _machine  # noqa: F401  (first: the environment checked, the CPU target pinned, before JAX starts)

import time

import numpy as np

from nnreg.core.stats import DIFFERENCE_COLUMNS
from nnreg.params.load import load_params
from nnreg.runtime import machine
from nnreg.runtime.files import read_seeds, write_csv, write_json, write_rows
from nnreg.runtime.paths import (PARAMS, SEARCH_CONFIRM, SEARCH_DIFFERENCES, SEARCH_IMPORTANCE,
                                 SEARCH_JOURNAL, SEARCH_METRICS, SEARCH_TIMING, SEARCH_TRIALS, seeds_path)
from nnreg.runtime.progress import log
from nnreg.runtime.stage import all_or_none, check_memory, run_stage
from nnreg.search import confirm
from nnreg.search.importance import importances
from nnreg.search.journal import finished, fingerprint, provenance
from nnreg.search.shared import search_shared
from nnreg.search.study import run_search


def main(argv):
    del argv
    params = load_params(PARAMS)
    space = params.search
    started = time.perf_counter()
    log(f"search: {len(space.shapes_eligible())} shapes with at most {space.max_parameters} parameters; "
        f"{space.n_trials} trials, {space.batch} at a time, {space.n_seeds} search replicates each")
    made = provenance(params)
    check = lambda program: check_memory(program, f"search (search.n_seeds: {space.n_seeds}, "  # noqa: E731
                                                  f"trials_per_call: {space.trials_per_call})")
    if space.storage is None:
        study, stats, resumed = run_search(params, SEARCH_JOURNAL, fingerprint(made), log, check=check)
    else:
        study, stats, resumed = search_shared(params, made, SEARCH_JOURNAL, log, check)
    if resumed:
        log("search: resumed the study (made by the same params and code)")
    trials = finished(study)
    rows = confirm.trial_rows(trials, params)
    best = confirm.best_complete(trials, rows)
    if not best:
        raise SystemExit("search: every trial was pruned or diverged; nothing to confirm")
    search_s = time.perf_counter() - started
    confirmed, confirm_rows = confirm.confirm(
        params, best[: space.confirm.top], read_seeds(seeds_path(params.stats.baseline), params.stats.n_seeds),
        lambda compiled: check_memory(compiled, f"search (stats.n_seeds: {params.stats.n_seeds})"))
    metrics = confirm.summary(params, trials, rows, confirmed)
    timing = {"search_s": search_s, "confirm_s": time.perf_counter() - started - search_s, "resumed": resumed,
              **stats._asdict(), "machine": machine.record()}
    importance, sparse = importances(study)
    if sparse:
        log(f"search: importance of {', '.join(sparse)}: regimes with fewer than 2 complete trials left out "
            f"(Optuna's PED-ANOVA), so it may read low (0 if one regime was left)")
    with all_or_none():
        write_json(SEARCH_METRICS, metrics)
        write_rows(SEARCH_TRIALS, rows, confirm.TRIAL_COLUMNS)
        write_rows(SEARCH_DIFFERENCES, confirm.differences(confirmed), DIFFERENCE_COLUMNS)
        write_rows(SEARCH_IMPORTANCE, importance, ["parameter", "importance"])
        write_csv(SEARCH_CONFIRM, {k: np.array([r[k] for r in confirm_rows]) for k in confirm_rows[0]})
        write_json(SEARCH_TIMING, timing)
    log(f"search: {metrics['n_trials']} trials ({metrics['n_pruned']} pruned, {metrics['n_diverged']} diverged) in "
        f"{search_s:.1f} s: {stats.compiles} programs compiled in {stats.compile_s:.1f} s, training "
        f"{stats.train_s:.1f} s, sampler {stats.sampler_s:.1f} s")
    log(f"search: {metrics['answer']}")


if __name__ == "__main__":
    run_stage(main)
