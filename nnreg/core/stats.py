"""Statistics over replicates, with scipy: summaries, paired comparisons, sweeps.

A summary's interval is the 95 % Student t interval of a mean. A paired comparison is
`scipy.stats.ttest_rel` with its `.confidence_interval()` beside two robust companions, the
Wilcoxon signed-rank test and a BCa bootstrap interval of the mean; the models compared with one
baseline are one family, whose p-values Holm's step-down corrects (`compare_family`), with the
simultaneous intervals beside the per-comparison ones. A summary's interval is
mean ± t·s/√n with t from `scipy.special.stdtrit` (what `scipy.stats.t.ppf` returns): the same
interval as `scipy.stats.ttest_1samp(...).confidence_interval()` to 1e-13 (the tests compare the
two). scipy.stats, slow to import, is imported by the functions that test, so a stage that only
summarizes (seeds@, sweep@) starts without it.
A diverged replicate is counted (`n_diverged`), never averaged in as NaN:
summaries use the finite values, and a paired comparison uses the replicates where
both models stayed finite.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special  # the t quantile

CONFIDENCE = 0.95
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0  # the bootstrap's resamples are drawn from this seed: the same intervals on every run

VERDICTS = ("better", "worse", "no detectable difference")
# A paired comparison with the baseline as a CSV row, one a model (compare) or a confirmed trial (search).
DIFFERENCE_COLUMNS = ["model", "mean_diff", "ci_low", "ci_high", "sim_low", "sim_high", "bca_low", "bca_high",
                      "win_rate", "win_low", "win_high", "p_value", "p_wilcoxon", "verdict", "verdict_wilcoxon"]


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


def _mean_interval(v: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """The t interval of the mean of `v` (two or more finite values), 95 % unless said."""
    if np.all(v == v[0]):  # no spread: the interval is the point (scipy would give NaN)
        return _num(v[0]), _num(v[0])
    mean, half = np.mean(v), special.stdtrit(v.size - 1, (1 + confidence) / 2) * np.std(v, ddof=1) / np.sqrt(v.size)
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


def _paired(model, baseline, model_diverged, baseline_diverged):
    """(model, baseline as float64, the model's and the baseline's bad replicates (diverged or not
    finite), the replicates where both stayed finite)."""
    model, baseline = np.asarray(model, np.float64), np.asarray(baseline, np.float64)
    model_bad = np.asarray(model_diverged, bool) | ~np.isfinite(model)
    baseline_bad = np.asarray(baseline_diverged, bool) | ~np.isfinite(baseline)
    return model, baseline, model_bad, baseline_bad, ~model_bad & ~baseline_bad


def compare_paired(model, baseline, model_diverged, baseline_diverged) -> dict:
    """`model` against `baseline` on the same replicates (arrays in replicate order), uncorrected.

    mean_diff and median_diff are model minus baseline (negative: the model is better), over the
    replicates where both stayed finite; ci_* the paired t interval of the mean (95 %, this
    comparison alone), bca_* the BCa bootstrap interval of the mean (95 %, `scipy.stats.bootstrap`,
    seeded). win_rate is the share of all replicates where the model is lower, a tie counting
    half (a diverged model loses, a model that stays finite where the baseline diverged wins, both
    diverged is a tie), win_low/win_high its exact 95 % interval (`win_interval`). p_t and
    p_wilcoxon are the paired t-test's and the Wilcoxon signed-rank test's p-values, before any
    correction (`compare_family` corrects them)."""
    from scipy import stats

    model, baseline, model_bad, baseline_bad, both = _paired(model, baseline, model_diverged, baseline_diverged)
    wins = (both & (model < baseline)) | (~model_bad & baseline_bad)
    ties = (both & (model == baseline)) | (model_bad & baseline_bad)
    diff = model[both] - baseline[both]
    n = wins.size
    out = {"n_pairs": int(both.sum()), "mean_diff": None, "median_diff": None, "ci_low": None, "ci_high": None,
           "bca_low": None, "bca_high": None, "win_rate": None, "win_low": None, "win_high": None,
           "p_t": None, "p_wilcoxon": None}
    if n:
        score = float(wins.sum() + 0.5 * ties.sum())
        out.update(win_rate=_num(score / n), **dict(zip(("win_low", "win_high"), win_interval(score, n))))
    if diff.size == 0:
        return out
    out.update(mean_diff=_num(diff.mean()), median_diff=_num(np.median(diff)))
    if diff.size < 2:
        return out
    if np.all(diff == diff[0]):  # no spread: identical or shifted by a constant
        p = p_rank = 1.0 if diff[0] == 0 else 0.0
        low = high = bca_low = bca_high = _num(diff[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            test = stats.ttest_rel(model[both], baseline[both])
        p = float(test.pvalue)
        ci = test.confidence_interval(CONFIDENCE)
        low, high = _num(ci.low), _num(ci.high)
        p_rank = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
        boot = stats.bootstrap((diff,), np.mean, confidence_level=CONFIDENCE, method="BCa",
                               n_resamples=BOOTSTRAP_RESAMPLES, rng=np.random.default_rng(BOOTSTRAP_SEED))
        bca_low, bca_high = _num(boot.confidence_interval.low), _num(boot.confidence_interval.high)
    out.update(ci_low=low, ci_high=high, bca_low=bca_low, bca_high=bca_high, p_t=_num(p), p_wilcoxon=_num(p_rank))
    return out


def win_interval(score: float, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95 % interval of a share of `score` out of `n`: the beta
    quantiles of `scipy.stats.binomtest(...).proportion_ci()`, which take a half count (a tie)
    as they take a whole one."""
    from scipy import stats

    alpha = 1 - CONFIDENCE
    low = 0.0 if score <= 0 else float(stats.beta.ppf(alpha / 2, score, n - score + 1))
    high = 1.0 if score >= n else float(stats.beta.ppf(1 - alpha / 2, score + 1, n - score))
    return low, high


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values: with the m p-values sorted, p_(i) becomes
    max over j <= i of min(1, (m - j + 1) p_(j)). Rejecting where the adjusted p < alpha keeps the
    chance of any false rejection at most alpha, as Bonferroni does, and rejects at least as much."""
    p = np.asarray(p_values, np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((p.size - np.arange(p.size)) * p[order]))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def compare_family(pairs: dict[str, tuple]) -> dict[str, dict]:
    """Each `name: (model, baseline, model_diverged, baseline_diverged)` compared (`compare_paired`),
    then corrected as one family of hypotheses by Holm (`holm`), the t-test's and Wilcoxon's p-values
    each. Names whose replicates are the same numbers (hand GD and Optax SGD) are one hypothesis:
    `hypothesis` is the first such name, `family` the number of distinct hypotheses tested. Adds
    sim_low/sim_high, the simultaneous 95 % t intervals of the family (each at 1 - 0.05/family:
    Bonferroni's, which cover every difference at once), the verdict by the t-test (`verdict`) and
    by Wilcoxon's (`verdict_wilcoxon`, its sign the median's), and `depends_on_test` when they
    differ."""
    out, first, diffs = {}, {}, {}
    for name, arrays in pairs.items():
        model, baseline, model_bad, _, both = _paired(*arrays)
        first.setdefault((model.tobytes(), model_bad.tobytes()), name)
        out[name] = {**compare_paired(*arrays), "hypothesis": first[(model.tobytes(), model_bad.tobytes())]}
        diffs[name] = model[both] - baseline[both]
    tested = [n for n in out if out[n]["hypothesis"] == n and out[n]["p_t"] is not None]
    family = len(tested)
    adjusted = {test: dict(zip(tested, holm([out[n][f"p_{test}"] for n in tested]))) for test in ("t", "wilcoxon")}
    for name, c in out.items():
        head = c["hypothesis"]
        p, p_rank = (_num(adjusted[t][head]) if head in adjusted[t] else None for t in ("t", "wilcoxon"))
        low, high = _mean_interval(diffs[name], 1 - (1 - CONFIDENCE) / max(1, family)) if diffs[name].size >= 2 \
            else (None, None)
        by_t, by_rank = verdict(c["mean_diff"], p), verdict(c["median_diff"], p_rank)
        out[name] = {**{k: c[k] for k in ("n_pairs", "mean_diff", "median_diff", "ci_low", "ci_high")},
                     "sim_low": low, "sim_high": high,
                     **{k: c[k] for k in ("bca_low", "bca_high", "win_rate", "win_low", "win_high")},
                     "p_value": p, "p_wilcoxon": p_rank, "family": family, "hypothesis": head, "verdict": by_t,
                     "verdict_wilcoxon": by_rank, "depends_on_test": by_t != by_rank}
    return out


def verdict(difference: float | None, p_value: float | None) -> str:
    """`better` or `worse` (the sign of model minus baseline) when the corrected p-value is below
    ALPHA, strictly; otherwise (or with no test: too few pairs) `no detectable difference`."""
    if p_value is not None and p_value < ALPHA and difference != 0:
        return "better" if difference < 0 else "worse"
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
    t = special.stdtrit(d.size - 1, 1 - alpha / 2) + special.stdtrit(d.size - 1, power)
    return _num(t * d.std(ddof=1) / np.sqrt(d.size))
