"""Statistics over replicates, with scipy: summaries, paired comparisons, sweeps.

All intervals are 95 % Student t intervals of a mean. A paired comparison is
`scipy.stats.ttest_rel` with its `.confidence_interval()`, its p-value
Bonferroni-corrected for the number of models compared. A summary's interval is
mean ± t·s/√n with t from `scipy.stats.t.ppf`: the same interval as
`scipy.stats.ttest_1samp(...).confidence_interval()` to 1e-13 (the tests compare the two).
A diverged replicate is counted (`n_diverged`), never averaged in as NaN:
summaries use the finite values, and a paired comparison uses the replicates where
both models stayed finite.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05

VERDICTS = ("better", "worse", "no detectable difference")


def _num(x) -> float | None:
    """A JSON-ready float: None for NaN or infinity."""
    x = float(x)
    return x if math.isfinite(x) else None


def describe(values) -> dict:
    """mean, median, std (n-1) and the 95 % t interval of the mean of the finite `values`."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out = {"mean": None, "median": None, "std": None, "ci_low": None, "ci_high": None}
    if v.size == 0:
        return out
    out.update(mean=_num(np.mean(v)), median=_num(np.median(v)))
    if v.size >= 2:
        out["std"] = _num(np.std(v, ddof=1))
        low, high = _mean_interval(v)
        out.update(ci_low=low, ci_high=high)
    return out


def _mean_interval(v: np.ndarray) -> tuple[float | None, float | None]:
    """The 95 % t interval of the mean of `v` (two or more finite values)."""
    if np.all(v == v[0]):  # no spread: the interval is the point (scipy would give NaN)
        return _num(v[0]), _num(v[0])
    mean, half = np.mean(v), stats.t.ppf((1 + CONFIDENCE) / 2, v.size - 1) * np.std(v, ddof=1) / np.sqrt(v.size)
    return _num(mean - half), _num(mean + half)


def summarize_replicates(validate_mse, true_mse, diverged) -> dict:
    """metrics/seeds/<model>.json: counts, and a summary of validation and true MSE."""
    diverged = np.asarray(diverged, dtype=bool)
    keep = ~diverged
    return {
        "n_replicates": int(diverged.size),
        "n_diverged": int(diverged.sum()),
        "validate_mse": describe(np.asarray(validate_mse)[keep]),
        "true_mse": describe(np.asarray(true_mse)[keep]),
    }


def compare_paired(model, baseline, model_diverged, baseline_diverged, n_comparisons: int) -> dict:
    """`model` against `baseline` on the same replicates (arrays in replicate order).

    mean_diff is model minus baseline (negative: the model is better); win_rate is the
    share of all replicates where the model is lower (a diverged model loses, a model
    that stays finite where the baseline diverged wins)."""
    model, baseline = np.asarray(model, np.float64), np.asarray(baseline, np.float64)
    model_bad = np.asarray(model_diverged, bool) | ~np.isfinite(model)
    baseline_bad = np.asarray(baseline_diverged, bool) | ~np.isfinite(baseline)
    both = ~model_bad & ~baseline_bad
    wins = (both & (model < baseline)) | (~model_bad & baseline_bad)
    diff = model[both] - baseline[both]
    out = {"n_pairs": int(both.sum()), "mean_diff": None, "ci_low": None, "ci_high": None,
           "win_rate": _num(wins.mean()) if wins.size else None, "p_value": None,
           "verdict": "no detectable difference"}
    if diff.size == 0:
        return out
    out["mean_diff"] = _num(diff.mean())
    if diff.size < 2:
        return out
    if np.all(diff == diff[0]):  # no spread: identical or shifted by a constant
        p = 1.0 if diff[0] == 0 else 0.0
        low = high = _num(diff[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            test = stats.ttest_rel(model[both], baseline[both])
        p = float(test.pvalue)
        ci = test.confidence_interval(CONFIDENCE)
        low, high = _num(ci.low), _num(ci.high)
    p = min(1.0, p * max(1, n_comparisons))  # Bonferroni
    out.update(ci_low=low, ci_high=high, p_value=_num(p), verdict=verdict(float(diff.mean()), p))
    return out


def verdict(mean_diff: float, p_value: float) -> str:
    """`better` or `worse` (the sign of model minus baseline) when the corrected p-value is below
    ALPHA, strictly; otherwise `no detectable difference`."""
    if p_value < ALPHA:
        return "better" if mean_diff < 0 else "worse"
    return "no detectable difference"


def sweep_table(learning_rates, rates, validate_mse, diverged) -> list[dict]:
    """One row per learning rate: mean validation MSE over its finite replicates, its 95 % t
    interval, and the share of replicates that diverged. `rates` gives each replicate's rate."""
    rates, validate_mse, diverged = np.asarray(rates), np.asarray(validate_mse, np.float64), np.asarray(diverged, bool)
    rows = []
    for lr in learning_rates:
        at = rates == np.float32(lr)
        d = describe(validate_mse[at & ~diverged])
        rows.append({"learning_rate": float(lr), "validate_mse_mean": d["mean"], "ci_low": d["ci_low"],
                     "ci_high": d["ci_high"], "diverged_fraction": float(diverged[at].mean())})
    return rows


def best_learning_rate(rows: list[dict]) -> dict:
    """The rate with the lowest mean validation MSE among those where no replicate diverged."""
    healthy = [r for r in rows if r["diverged_fraction"] == 0 and r["validate_mse_mean"] is not None]
    if not healthy:
        return {"best_learning_rate": None, "best_validate_mse": None}
    best = min(healthy, key=lambda r: r["validate_mse_mean"])
    return {"best_learning_rate": best["learning_rate"], "best_validate_mse": best["validate_mse_mean"]}


def detectable_difference(diff, n_comparisons: int, power: float = 0.8) -> float | None:
    """The smallest mean paired difference that a paired t-test at 0.05 / `n_comparisons`
    (two-sided) detects with probability `power`, given the spread of the finite `diff`:
    (t_{1 - alpha/2} + t_{power}) * sd / sqrt(n), with n - 1 degrees of freedom."""
    d = np.asarray(diff, np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return None
    alpha = (1 - CONFIDENCE) / max(1, n_comparisons)
    t = stats.t.ppf(1 - alpha / 2, d.size - 1) + stats.t.ppf(power, d.size - 1)
    return _num(t * d.std(ddof=1) / np.sqrt(d.size))
