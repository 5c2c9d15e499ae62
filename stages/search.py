"""Stage search: Exercise 23.1 answered by search. Optuna asks `search.n_trials` strategies from
the `search:` space, `search.batch` at a time; each is trained on `search.n_seeds` search
replicates in compiled groups, the worst pruned at each rung (nnreg.search.study). The study
is Optuna's journal (models/search.journal: resumed after an interruption, started afresh for
other params or code). The `search.confirm.top` best are then trained again by the JAX trainer
on the stats replicates and compared with `stats.baseline`, paired, corrected for `top`
comparisons -> metrics/search.json, plots/search/trials.csv (one row a trial),
plots/search/confirm.csv (one row a confirmed trial's replicate), plots/search/differences.csv
(the confirmed trials against the baseline), plots/search/importance.csv (Optuna's PED-ANOVA),
metrics/timing/search.json."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg.runtime import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for, the compilation cache

import math  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from nnreg import trainers  # noqa: E402
from nnreg.core.replicates import compile_batch, diverged, train_compiled  # noqa: E402
from nnreg.core.stats import compare_paired, describe, detectable_difference  # noqa: E402
from nnreg.params.load import load_params  # noqa: E402
from nnreg.params.schema import JaxModel  # noqa: E402
from nnreg.runtime.files import DIFFERENCE_COLUMNS, read_seeds, write_csv, write_json, write_rows  # noqa: E402
from nnreg.runtime.paths import (PARAMS, SEARCH_CONFIRM, SEARCH_DIFFERENCES, SEARCH_IMPORTANCE,  # noqa: E402
                                 SEARCH_JOURNAL, SEARCH_METRICS, SEARCH_TIMING, SEARCH_TRIALS, seeds_path)
from nnreg.runtime.progress import log  # noqa: E402
from nnreg.runtime.stage import all_or_none, check_memory, run_stage  # noqa: E402
from nnreg.search.importance import importances  # noqa: E402
from nnreg.search.space import confirmed_label, entry_text, model_entry, shape_label  # noqa: E402
from nnreg.search.study import Stats, finished, fingerprint, made_by, run_search, strategy_of  # noqa: E402

TRIAL_COLUMNS = ["trial", "batch", "state", "score", "best_so_far", "epochs", "diverged", "true_mse", "shape",
                 "activation", "init", "optimizer", "learning_rate", "schedule", "schedule_arg", "l2", "settings"]


JAX_TRAINER = trainers.get("jax")  # the confirmation's


def trial_rows(trials, params) -> list[dict]:
    rows, best = [], math.inf
    for t in trials:
        s = strategy_of(t, params)
        value = t.value if t.state == TrialState.COMPLETE else t.intermediate_values[t.user_attrs["epochs"]]
        if t.state == TrialState.COMPLETE:
            best = min(best, value)
        rows.append({"trial": t.number,
                     "batch": t.user_attrs["batch"], "state": t.state.name.lower(), "score": value,
                     "best_so_far": best, "epochs": t.user_attrs["epochs"], "diverged": int(t.user_attrs["diverged"]),
                     "true_mse": t.user_attrs["true_mse"], "shape": shape_label(s.layer_sizes),
                     "activation": s.activation, "init": s.init, "optimizer": s.optimizer,
                     "learning_rate": s.learning_rate, "schedule": s.schedule, "schedule_arg": s.schedule_arg,
                     "l2": s.l2, "settings": " ".join(f"{k}={v:.6g}" for k, v in s.settings.items()) or "-"})
    return rows


def confirm(params, best, base) -> tuple[dict, list[dict]]:
    """The best trials trained by the JAX trainer on the stats replicates, each against the
    baseline, paired, Bonferroni-corrected for the trials confirmed."""
    n, top = params.stats.n_seeds, len(best)
    confirmed, rows = {}, []
    entries = [model_entry(strategy_of(trial, params), params.train.epochs) for _, trial in best]
    replicates = [JAX_TRAINER.make_replicate(
        JaxModel.of(entry["optimizer"], **{k: v for k, v in entry.items() if k not in ("trainer", "optimizer")}),
        params.network, params.data, params.train.epochs, params.stats.seed) for entry in entries]
    # Every program compiled at the start, two at a time (XLA compiles outside Python's lock),
    # each trained once compiled and checked: the same executables, so the same bits.
    pool = ThreadPoolExecutor(max_workers=2)
    batches = [pool.submit(compile_batch, replicate, np.arange(n)) for replicate in replicates]
    try:
        for rank, ((number, trial), entry, future) in enumerate(zip(best, entries, batches), start=1):
            confirmed[f"rank_{rank}"], new_rows = _confirmed(params, rank, top, number, trial, entry, future.result(),
                                                             base)
            rows += new_rows
    finally:
        pool.shutdown(cancel_futures=True)
    return confirmed, rows


def _confirmed(params, rank: int, top: int, number: int, trial, entry: dict, batch, base) -> tuple[dict, list[dict]]:
    """One confirmed trial of `top`: its compiled batch checked, trained and compared with the
    baseline (Bonferroni for `top`)."""
    n = params.stats.n_seeds
    what = f"search (stats.n_seeds: {n})"
    result, timing = train_compiled(batch, check=lambda compiled: check_memory(compiled, what))
    bad = diverged(result)
    validate, true = np.where(bad, np.nan, result.validate_mse), np.where(bad, np.nan, result.true_mse)
    paired = compare_paired(validate.astype(np.float32).astype(np.float64), base["validate_mse"], bad,
                            base["diverged"], n_comparisons=top)
    paired["detectable"] = detectable_difference(validate.astype(np.float32).astype(np.float64) - base["validate_mse"],
                                                 n_comparisons=top)
    confirmed = {"trial": number, "score": trial.value, "n_diverged": int(bad.sum()),
                 "validate_mse": describe(validate[~bad]), "true_mse": describe(true[~bad]),
                 "vs_baseline": paired, "entry": entry}
    rows = [{"rank": rank, "trial": number, "replicate": i, "validate_mse": validate[i], "true_mse": true[i],
             "diverged": int(bad[i]), "baseline_validate_mse": base["validate_mse"][i],
             "baseline_diverged": int(base["diverged"][i])} for i in range(n)]
    log(f"search: confirmed rank {rank} (trial {number}) on {n} stats replicates in {timing.runtime_s:.1f} s: "
        f"validate_mse mean {confirmed['validate_mse']['mean']}, vs {params.stats.baseline} "
        f"{paired['mean_diff']} [{paired['ci_low']}, {paired['ci_high']}] p {paired['p_value']}: {paired['verdict']}")
    return confirmed, rows


def _g(x, spec: str) -> str:
    """`x` formatted by `spec`, or n/a for a statistic that does not exist (too few finite pairs)."""
    return "n/a" if x is None else format(x, spec)


def answer(params, confirmed: dict) -> str:
    """The exercise's answer in one sentence, with its evidence."""
    baseline, n, top = params.stats.baseline, params.stats.n_seeds, len(confirmed)
    better = [(c["vs_baseline"]["mean_diff"], k) for k, c in confirmed.items() if c["vs_baseline"]["verdict"] == "better"]
    if better:
        c = confirmed[min(better)[1]]
        v = c["vs_baseline"]
        return (f"Within {params.search.max_parameters} parameters and {params.train.epochs} epochs, the lowest "
                f"validation MSE found is {entry_text(c['entry'])}: mean {_g(c['validate_mse']['mean'], '.6f')} on "
                f"{n} fresh replicates, {_g(-v['mean_diff'], '.6f')} below {baseline} (uncorrected 95 % CI of the difference "
                f"[{_g(v['ci_low'], '.6f')}, {_g(v['ci_high'], '.6f')}], p = {_g(v['p_value'], '.2g')} corrected for "
                f"{top}).")
    c = confirmed["rank_1"]
    v = c["vs_baseline"]
    return (f"No strategy of the search beats {baseline} detectably: its best, {entry_text(c['entry'])}, differs "
            f"by {_g(v['mean_diff'], '+.6f')} on {n} fresh replicates (uncorrected 95 % CI [{_g(v['ci_low'], '.6f')}, "
            f"{_g(v['ci_high'], '.6f')}], corrected p = {_g(v['p_value'], '.2g')}); the confirmation would have "
            f"detected an improvement of about {_g(v['detectable'], '.6f')} (80 % power).")


def with_workers(params, made, check):
    """The search in `search.storage`, shared with workers (`python -m nnreg.search.worker`):
    makes the study (or resumes it), works as a worker, waits for the study's last trials, and
    copies the study into the journal file the rest of the stage (and `dvc`, and the
    dashboard) reads. Returns (study, stats, resumed)."""
    import optuna
    from optuna.storages import JournalStorage

    from nnreg.search.storage import open_storage, read_url
    from nnreg.search.study import STUDY, BatchJournal
    from nnreg.search.workers import create, take_part

    space = params.search
    url = read_url(space.storage, Path.cwd())
    storage = open_storage(url, space.storage.retry_s, log)
    study, resumed = create(params, storage, made)
    log(f"search: study in {url.shown} ({'resumed' if resumed else 'new'}); workers may join: "
        f"python -m nnreg.search.worker")
    trainer, _ = take_part(params, study, log, "search", check)
    stats = trainer.cost() if trainer is not None else Stats(0, 0.0, 0.0, 0.0, 0, 0)
    SEARCH_JOURNAL.unlink(missing_ok=True)
    journal = BatchJournal(SEARCH_JOURNAL)
    optuna.copy_study(from_study_name=STUDY, from_storage=storage, to_storage=JournalStorage(journal))
    journal.commit()
    return optuna.load_study(study_name=STUDY, storage=JournalStorage(BatchJournal(SEARCH_JOURNAL))), stats, resumed


def main(argv):
    del argv
    params = load_params(PARAMS)
    space = params.search
    started = time.perf_counter()
    log(f"search: {len(space.shapes_eligible())} shapes with at most {space.max_parameters} parameters; "
        f"{space.n_trials} trials, {space.batch} at a time, {space.n_seeds} search replicates each")

    first: list[int] = []

    def progress(done, total, study, elapsed):
        if not first:
            first.append(done - 1)  # the batches done before this run (a resumed study's)
        trials = study.get_trials(deepcopy=False)
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        values = [t.value for t in trials if t.state == TrialState.COMPLETE and math.isfinite(t.value)]
        log(f"search: batch {done}/{total}, {len(trials)} trials ({pruned} pruned), best so far "
            f"{min(values) if values else float('nan'):.6f}; {elapsed:.1f} s, about "
            f"{elapsed / (done - first[0]) * (total - done):.1f} s left")

    made = made_by(params)
    check = lambda program: check_memory(program, f"search (search.n_seeds: {space.n_seeds}, "  # noqa: E731
                                                  f"trials_per_call: {space.trials_per_call})")
    if space.storage is None:
        study, stats, resumed = run_search(params, SEARCH_JOURNAL, fingerprint(made), progress, check=check)
    else:
        study, stats, resumed = with_workers(params, made, check)
    if resumed:
        log("search: resumed the study (made by the same params and code)")
    trials = finished(study)
    rows = trial_rows(trials, params)
    complete = sorted(((r["trial"], t) for r, t in zip(rows, trials)
                       if t.state == TrialState.COMPLETE and math.isfinite(t.value)), key=lambda p: (p[1].value, p[0]))
    if not complete:
        raise SystemExit("search: every trial was pruned or diverged; nothing to confirm")
    base = read_seeds(seeds_path(params.stats.baseline), params.stats.n_seeds)
    search_s = time.perf_counter() - started
    confirmed, confirm_rows = confirm(params, complete[: space.confirm.top], base)
    best_number, best = complete[0]
    metrics = {
        "n_trials": len(trials),
        "n_complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "n_diverged": sum(bool(t.user_attrs["diverged"]) for t in trials),
        "n_shapes": len(space.shapes_eligible()),
        "baseline": params.stats.baseline,
        "best": {"trial": best_number, "score": best.value,
                 "entry": model_entry(strategy_of(best, params), params.train.epochs)},
        "confirmed": confirmed,
        "answer": answer(params, confirmed),
    }
    timing = {"search_s": search_s, "confirm_s": time.perf_counter() - started - search_s, "resumed": resumed,
              **stats._asdict(), "machine": machine.record()}
    differences = [{"model": confirmed_label(int(k.split("_")[1]), c["entry"]), **{f: c["vs_baseline"][f] for f in
                                                                          DIFFERENCE_COLUMNS[1:]}}
                   for k, c in confirmed.items()]
    importance, sparse = importances(study)
    if sparse:
        log(f"search: importance of {', '.join(sparse)}: regimes with fewer than 2 complete trials left out "
            f"(Optuna's PED-ANOVA), so it may read low (0 if one regime was left)")
    with all_or_none():
        write_json(SEARCH_METRICS, metrics)
        write_rows(SEARCH_TRIALS, rows, TRIAL_COLUMNS)
        write_rows(SEARCH_DIFFERENCES, differences, DIFFERENCE_COLUMNS)
        write_rows(SEARCH_IMPORTANCE, importance, ["parameter", "importance"])
        write_csv(SEARCH_CONFIRM, {k: np.array([r[k] for r in confirm_rows]) for k in confirm_rows[0]})
        write_json(SEARCH_TIMING, timing)
    log(f"search: {metrics['n_trials']} trials ({metrics['n_pruned']} pruned, {metrics['n_diverged']} diverged) in "
        f"{search_s:.1f} s: {stats.compiles} programs compiled in {stats.compile_s:.1f} s, training "
        f"{stats.train_s:.1f} s, sampler {stats.sampler_s:.1f} s")
    log(f"search: {metrics['answer']}")


if __name__ == "__main__":
    run_stage(main)
