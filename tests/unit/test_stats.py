"""Replicate statistics: the numbers scipy.stats gives, and diverged replicates counted, never averaged."""

import numpy as np
import pytest
from scipy import stats as sp

from nnreg.core.stats import best_learning_rate, compare_paired, describe, summarize_replicates, sweep_table
from nnreg.core.stats import verdict

RNG = np.random.default_rng(0)
A = 0.042 + 0.002 * RNG.standard_normal(32)


def test_describe_is_scipy_s_t_interval_of_the_mean():
    d = describe(A)
    ci = sp.t.interval(0.95, len(A) - 1, loc=A.mean(), scale=sp.sem(A))
    assert d["mean"] == pytest.approx(A.mean()) and d["median"] == pytest.approx(np.median(A))
    assert d["std"] == pytest.approx(A.std(ddof=1))
    assert (d["ci_low"], d["ci_high"]) == pytest.approx(ci)
    assert describe([]) == {"mean": None, "median": None, "std": None, "ci_low": None, "ci_high": None}
    assert describe([0.5]) == {"mean": 0.5, "median": 0.5, "std": None, "ci_low": None, "ci_high": None}
    assert describe([0.5, 0.5])["ci_low"] == 0.5 and describe([np.nan, 1.0, 3.0])["mean"] == 2.0


def test_diverged_replicates_are_counted_not_averaged():
    v = A.copy()
    diverged = np.zeros(32, bool)
    diverged[[3, 7]] = True
    v[3] = np.nan
    s = summarize_replicates(v, v * 0.1, diverged)
    assert s["n_replicates"] == 32 and s["n_diverged"] == 2
    assert s["validate_mse"]["mean"] == pytest.approx(np.delete(A, [3, 7]).mean())


def test_paired_comparison_is_scipy_s_paired_t_test_bonferroni_corrected():
    b = A + 0.0005 + 0.0003 * RNG.standard_normal(32)  # worse by about 5e-4
    none = np.zeros(32, bool)
    c = compare_paired(b, A, none, none, n_comparisons=6)
    test = sp.ttest_rel(b, A)
    assert c["mean_diff"] == pytest.approx((b - A).mean())
    assert (c["ci_low"], c["ci_high"]) == pytest.approx(tuple(test.confidence_interval(0.95)))
    assert c["p_value"] == pytest.approx(min(1.0, 6 * test.pvalue))
    assert c["win_rate"] == (b < A).mean() and c["n_pairs"] == 32
    assert c["verdict"] == "worse"
    assert compare_paired(A, b, none, none, 6)["verdict"] == "better"
    noisy = A + 0.002 * RNG.standard_normal(32)
    assert compare_paired(noisy, A, none, none, 6)["verdict"] == "no detectable difference"
    # Corrected for many comparisons, a difference that one test detects is no longer detectable.
    slight = A + 0.0001 + 0.0002 * RNG.standard_normal(32)
    p = sp.ttest_rel(slight, A).pvalue
    assert p < 0.05 < 100 * p
    assert compare_paired(slight, A, none, none, n_comparisons=1)["verdict"] == "worse"
    assert compare_paired(slight, A, none, none, n_comparisons=100)["verdict"] == "no detectable difference"


def test_a_paired_comparison_uses_the_replicates_where_both_stayed_finite():
    b = A + 0.001
    model_bad, base_bad = np.zeros(32, bool), np.zeros(32, bool)
    model_bad[:4] = True  # the model diverged on 4: it loses those
    base_bad[4:6] = True  # the baseline on 2: the model wins those
    b[:4] = np.nan
    c = compare_paired(b, A, model_bad, base_bad, 1)
    assert c["n_pairs"] == 26 and c["win_rate"] == pytest.approx(2 / 32)
    assert c["mean_diff"] == pytest.approx(0.001) and c["ci_low"] == c["ci_high"] == pytest.approx(0.001)
    assert c["verdict"] == "worse"  # a constant shift: p = 0
    same = compare_paired(A, A, np.zeros(32, bool), np.zeros(32, bool), 3)
    assert same["mean_diff"] == 0 and same["p_value"] == 1.0 and same["verdict"] == "no detectable difference"
    assert compare_paired(b, A, np.ones(32, bool), base_bad, 1)["mean_diff"] is None


def test_a_tie_is_no_win_and_a_pair_where_both_diverged_is_no_win_either():
    """win_rate counts the replicates where the model is strictly lower, or finite where the
    baseline diverged: an equal MSE is no win, and neither is a replicate where both diverged."""
    b = A.copy()
    b[:8] = A[:8] - 0.001  # lower on 8
    b[8:16] = A[8:16]  # equal on 8: no win
    model_bad, base_bad = np.zeros(32, bool), np.zeros(32, bool)
    model_bad[16:20] = base_bad[16:20] = True  # both diverged on 4: no win, no pair
    base_bad[20:22] = True  # only the baseline on 2: wins
    b[16:20] = np.nan
    c = compare_paired(b, A, model_bad, base_bad, 1)
    assert c["win_rate"] == pytest.approx((8 + 2) / 32)
    assert c["n_pairs"] == 32 - 4 - 2


def test_the_verdict_needs_p_below_0_05_strictly():
    assert verdict(0.001, 0.049999) == "worse" and verdict(-0.001, 0.049999) == "better"
    assert verdict(0.001, 0.05) == verdict(-0.001, 0.05) == "no detectable difference"
    assert verdict(-0.001, 1.0) == "no detectable difference"


def test_sweep_rows_and_the_best_rate():
    rates = [0.01, 0.1, 1.0]
    rate_of = np.repeat(np.float32(rates), 4)
    # Rate 1.0's one surviving replicate is the lowest of all: a rate that diverged must not win.
    v = np.array([0.05, 0.06, 0.05, 0.06, 0.042, 0.044, 0.043, 0.041, np.nan, np.nan, 0.03, np.nan])
    diverged = np.isnan(v)
    rows = sweep_table(rates, rate_of, v, diverged)
    assert [r["diverged_fraction"] for r in rows] == [0.0, 0.0, 0.75]
    assert rows[1]["validate_mse_mean"] == pytest.approx(0.0425) and rows[2]["validate_mse_mean"] == pytest.approx(0.03)
    assert rows[2]["ci_low"] is None  # one finite replicate: no interval
    assert best_learning_rate(rows) == {"best_learning_rate": 0.1, "best_validate_mse": pytest.approx(0.0425)}
    all_bad = [dict(r, diverged_fraction=1.0, validate_mse_mean=None) for r in rows]
    assert best_learning_rate(all_bad) == {"best_learning_rate": None, "best_validate_mse": None}
