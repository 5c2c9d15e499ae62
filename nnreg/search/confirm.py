"""The search's end, after its trials: their table, the best confirmed on the stats replicates
against the baseline (paired, one family corrected by Holm), and the exercise's answer in one
sentence. `stages/search.py` writes what these return."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from optuna.trial import TrialState
from scipy.stats import spearmanr

from nnreg.core.replicates import compile_batch, diverged, train_compiled
from nnreg.core.stats import DIFFERENCE_COLUMNS, compare_family, describe, detectable_difference
from nnreg.params.schema import JaxModel
from nnreg.runtime.progress import log
from nnreg.search.space import confirmed_label, entry_text, model_entry, rank_key, ranked, shape_label, strategy_of
from nnreg.trainers import jax as jax_trainer  # the confirmation's trainer

TRIAL_COLUMNS = ["trial", "batch", "state", "score", "best_so_far", "epochs", "diverged", "true_mse", "shape",
                 "activation", "init", "optimizer", "learning_rate", "schedule", "schedule_arg", "l2", "settings"]


def trial_rows(trials, params) -> list[dict]:
    """plots/search/trials.csv's rows (TRIAL_COLUMNS): each finished trial, its score (the last
    rung's for a pruned one), the best complete score so far, its strategy."""
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


def confirm(params, best, base, check) -> tuple[dict, list[dict]]:
    """The `best` trials ((number, trial), best first) trained by the JAX trainer on the stats
    replicates, each against the baseline's (`base`, its seeds file), paired, the trials confirmed
    one family (Holm); `check(compiled)` before each trains. Returns metrics/search.json's
    `confirmed` and plots/search/confirm.csv's rows."""
    n = params.stats.n_seeds
    confirmed, rows, pairs = {}, [], {}
    entries = [model_entry(strategy_of(trial, params), params.train.epochs) for _, trial in best]
    replicates = [jax_trainer.make_replicate(
        JaxModel.of(entry["optimizer"], **{k: v for k, v in entry.items() if k not in ("trainer", "optimizer")}),
        params.network, params.data, params.train.epochs, params.stats.seed) for entry in entries]
    # Every program compiled at the start, two at a time (XLA compiles outside Python's lock),
    # each trained once compiled and checked: the same executables, so the same bits.
    pool = ThreadPoolExecutor(max_workers=2)
    batches = [pool.submit(compile_batch, replicate, np.arange(n)) for replicate in replicates]
    try:
        for rank, ((number, trial), entry, future) in enumerate(zip(best, entries, batches), start=1):
            result, timing = train_compiled(future.result(), check=check)
            bad = diverged(result)
            validate, true = np.where(bad, np.nan, result.validate_mse), np.where(bad, np.nan, result.true_mse)
            confirmed[rank_key(rank)] = {"trial": number, "score": trial.value, "n_diverged": int(bad.sum()),
                                         "validate_mse": describe(validate[~bad]), "true_mse": describe(true[~bad]),
                                         "gap": gap(trial, validate[~bad], true[~bad]), "entry": entry}
            pairs[rank_key(rank)] = (validate.astype(np.float32).astype(np.float64), base["validate_mse"], bad,
                                     base["diverged"])
            rows += [{"rank": rank, "trial": number, "replicate": i, "validate_mse": validate[i], "true_mse": true[i],
                      "diverged": int(bad[i]), "baseline_validate_mse": base["validate_mse"][i],
                      "baseline_diverged": int(base["diverged"][i])} for i in range(n)]
            log(f"search: confirmed rank {rank} (trial {number}) on {n} stats replicates in {timing.runtime_s:.1f} s: "
                f"validate_mse mean {confirmed[rank_key(rank)]['validate_mse']['mean']}")
    finally:
        pool.shutdown(cancel_futures=True)
    for key, paired in compare_family(pairs).items():
        model, baseline = pairs[key][0], pairs[key][1]
        paired["detectable"] = detectable_difference(model - baseline, n_comparisons=paired["family"])
        confirmed[key] = {**confirmed[key], "vs_baseline": paired}
        log(f"search: {key} vs {params.stats.baseline} {paired['mean_diff']} [{paired['ci_low']}, "
            f"{paired['ci_high']}] p (Holm, {paired['family']}) {paired['p_value']}: {paired['verdict']}")
    return confirmed, rows


def gap(trial, validate: np.ndarray, true: np.ndarray) -> dict | None:
    """How far a confirmed trial's mean validation MSE on the stats replicates lies above its search
    score, in two parts that add up: `noise_floor`, how much higher the stats replicates'
    validation noise is than the search replicates' (each set's validation minus true MSE, about
    the same for every trial of a set), and `selection`, how much higher its true MSE is there than
    on the search replicates it was chosen on (a winner's flattery)."""
    search_true = trial.user_attrs.get("true_mse")
    if search_true is None or validate.size == 0:
        return None
    validate, true = np.asarray(validate, np.float64), np.asarray(true, np.float64)
    search_floor, stats_floor = trial.value - search_true, float(np.mean(validate) - np.mean(true))
    return {"total": float(np.mean(validate)) - trial.value, "noise_floor": stats_floor - search_floor,
            "selection": float(np.mean(true)) - search_true, "search_floor": search_floor, "stats_floor": stats_floor}


def summary(params, trials, rows: list[dict], confirmed: dict) -> dict:
    """metrics/search.json: the search's counts, its best complete trial, the confirmed ones and
    the answer. `rows` are `trial_rows(trials, params)`."""
    complete = best_complete(trials, rows)
    best_number, best = complete[0]
    return {
        "n_trials": len(trials),
        "n_complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "n_diverged": sum(bool(t.user_attrs["diverged"]) for t in trials),
        "n_shapes": len(params.search.shapes_eligible()),
        "baseline": params.stats.baseline,
        "best": {"trial": best_number, "score": best.value,
                 "entry": model_entry(strategy_of(best, params), params.train.epochs)},
        "rungs": rung_predictions(trials),
        "confirmed": confirmed,
        "answer": answer(params, confirmed),
    }


def rung_predictions(trials) -> list[dict]:
    """How well each rung of successive halving predicts a trial's final score: among the complete
    trials (the only ones with both), the Spearman rank correlation between their score at the
    rung and their final score, over all of them and over the best quarter (those the
    confirmation chooses among). Near 0 or below, the rung prunes about at random among them."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and math.isfinite(t.value)]
    final = np.array([t.value for t in complete])
    best = final <= np.quantile(final, 0.25) if final.size else final.astype(bool)
    out = []
    for epochs in sorted({e for t in complete for e in t.intermediate_values}):
        at = np.array([t.intermediate_values.get(epochs, math.nan) for t in complete])
        row = {"epochs": int(epochs)}
        for name, chosen in (("complete", np.isfinite(at)), ("best_quarter", np.isfinite(at) & best)):
            rho = spearmanr(at[chosen], final[chosen]).statistic if chosen.sum() >= 3 else math.nan
            row.update({f"n_{name}": int(chosen.sum()), f"spearman_{name}": float(rho) if math.isfinite(rho) else None})
        out.append(row)
    return out


def best_complete(trials, rows: list[dict]) -> list[tuple[int, object]]:
    """The complete trials with a finite score as (number, trial), best first (ties: the earlier)."""
    return sorted(((r["trial"], t) for r, t in zip(rows, trials)
                   if t.state == TrialState.COMPLETE and math.isfinite(t.value)), key=lambda p: (p[1].value, p[0]))


def differences(confirmed: dict) -> list[dict]:
    """plots/search/differences.csv's rows: each confirmed trial against the baseline."""
    return [{"model": confirmed_label(rank, c["entry"]), **{f: c["vs_baseline"][f] for f in DIFFERENCE_COLUMNS[1:]}}
            for rank, c in ranked(confirmed)]


def _g(x, spec: str) -> str:
    """`x` formatted by `spec`, or n/a for a statistic that does not exist (too few finite pairs)."""
    return "n/a" if x is None else format(x, spec)


def answer(params, confirmed: dict) -> str:
    """The exercise's answer in one sentence, with its evidence."""
    baseline, n = params.stats.baseline, params.stats.n_seeds
    better = [(c["vs_baseline"]["mean_diff"], rank) for rank, c in ranked(confirmed)
              if c["vs_baseline"]["verdict"] == "better"]
    c = confirmed[rank_key(min(better)[1] if better else 1)]
    v = c["vs_baseline"]
    evidence = (f"95 % CI of the difference [{_g(v['ci_low'], '.6f')}, {_g(v['ci_high'], '.6f')}] alone, "
                f"[{_g(v['sim_low'], '.6f')}, {_g(v['sim_high'], '.6f')}] simultaneous; p = {_g(v['p_value'], '.2g')} "
                f"by the t-test, {_g(v['p_wilcoxon'], '.2g')} by Wilcoxon's, Holm over {v['family']}")
    robust = f"; Wilcoxon's test says {v['verdict_wilcoxon']}" if v["depends_on_test"] else ""
    if better:
        return (f"Within {params.search.max_parameters} parameters and {params.train.epochs} epochs, the lowest "
                f"validation MSE found is {entry_text(c['entry'])}: mean {_g(c['validate_mse']['mean'], '.6f')} on "
                f"{n} fresh replicates, {_g(-v['mean_diff'], '.6f')} below {baseline} ({evidence}){robust}.")
    return (f"No strategy of the search beats {baseline} detectably: its best, {entry_text(c['entry'])}, differs "
            f"by {_g(v['mean_diff'], '+.6f')} on {n} fresh replicates ({evidence}){robust}; the confirmation would "
            f"have detected an improvement of about {_g(v['detectable'], '.6f')} (80 % power).")
