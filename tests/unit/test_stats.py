"""Replicate statistics: the numbers scipy.stats gives, and diverged replicates counted, never averaged."""

import numpy as np
import pytest
from scipy import stats as sp

from nnreg.core.stats import best_learning_rate, compare_family, compare_paired, describe, holm, summarize_replicates
from nnreg.core.stats import sweep_table, verdict, win_interval
from tests.recompute import check_family

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


def test_a_family_of_comparisons_is_scipy_s_tests_corrected_by_holm():
    """Each comparison is scipy's paired t-test, Wilcoxon's and a BCa bootstrap; the family's
    p-values are Holm's (recomputed by its definition in tests/recompute.py), and the simultaneous
    intervals are the t intervals at 1 - 0.05 / family."""
    worse = A + 0.0005 + 0.0003 * RNG.standard_normal(32)
    slight = A + 0.0001 + 0.0002 * RNG.standard_normal(32)
    noisy = A + 0.002 * RNG.standard_normal(32)
    pairs = {"worse": (worse, A), "slight": (slight, A), "noisy": (noisy, A), "better": (A - 0.0004 + 0.0003 *
                                                                                          RNG.standard_normal(32), A)}
    none = np.zeros(32, bool)
    found = compare_family({k: (m, b, none, none) for k, (m, b) in pairs.items()})
    check_family(found, pairs)
    assert found["worse"]["verdict"] == "worse" and found["better"]["verdict"] == "better"
    assert found["noisy"]["verdict"] == "no detectable difference" and found["worse"]["family"] == 4


def test_holm_has_bonferroni_s_guarantee_and_rejects_more():
    """Holm on a textbook example (p = 0.01, 0.04, 0.03, 0.005: adjusted 0.03, 0.06, 0.06, 0.02),
    never above Bonferroni's, and under the null its rejections stay at most 5 % of families."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    p = RNG.uniform(size=(2000, 6))
    adjusted = np.array([holm(row) for row in p])
    assert np.all(adjusted <= np.minimum(1, 6 * p) + 1e-15)
    assert np.mean((adjusted < 0.05).any(axis=1)) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000)
    # Where Bonferroni detects nothing and Holm detects: the second of two p-values below 0.05 / 2.
    assert (holm([0.02, 0.04]) < 0.05).all() and not (np.minimum(1, 2 * np.array([0.02, 0.04])) < 0.05).all()


def test_models_with_the_same_numbers_are_one_hypothesis():
    """Hand GD and Optax SGD give the same bits: one hypothesis of the family, not two."""
    b = A + 0.0003 + 0.0003 * RNG.standard_normal(32)
    c = A + 0.001 * RNG.standard_normal(32)
    none = np.zeros(32, bool)
    found = compare_family({"gd": (b, A, none, none), "sgd": (b.copy(), A, none, none), "other": (c, A, none, none)})
    assert found["gd"]["family"] == found["other"]["family"] == 2
    assert found["sgd"]["hypothesis"] == "gd" and found["sgd"]["p_value"] == found["gd"]["p_value"]
    check_family(found, {"gd": (b, A), "sgd": (b.copy(), A), "other": (c, A)})


def test_a_verdict_that_depends_on_the_test_is_flagged():
    """Heavy tails: one huge difference drives the t-test's mean, the signed ranks see the rest.
    Here most replicates are slightly better and one is far worse: Wilcoxon says better, the
    t-test sees no difference."""
    d = np.full(32, -0.0002) + 0.00002 * RNG.standard_normal(32)
    d[0] = 0.01
    none = np.zeros(32, bool)
    c = compare_family({"tailed": (A + d, A, none, none)})["tailed"]
    assert c["verdict"] == "no detectable difference" and c["verdict_wilcoxon"] == "better"
    assert c["depends_on_test"] is True
    assert sp.wilcoxon(d).pvalue == pytest.approx(c["p_wilcoxon"], rel=1e-12)


def test_the_win_rate_interval_is_the_exact_binomial_one():
    """16 of 32 gives 32 % to 68 % (scipy's binomtest, exact); 0 of 32 starts at 0, 32 of 32 ends at 1."""
    for k in (0, 5, 16, 31, 32):
        ci = sp.binomtest(k, 32).proportion_ci(0.95, method="exact")
        assert win_interval(k, 32) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
    assert win_interval(16, 32) == pytest.approx((0.3189, 0.6811), abs=1e-4)
    low, high = win_interval(16.5, 32)  # a tie among them: between 16's and 17's
    assert win_interval(16, 32)[0] < low < win_interval(17, 32)[0] and high < win_interval(17, 32)[1]


def test_the_bca_interval_is_scipy_s_and_close_to_t_s_for_normal_data():
    d = 0.001 + 0.002 * np.random.default_rng(5).standard_normal(400)
    none = np.zeros(400, bool)
    c = compare_family({"m": (d, np.zeros(400), none, none)})["m"]
    boot = sp.bootstrap((d,), np.mean, method="BCa", rng=np.random.default_rng(0)).confidence_interval
    assert (c["bca_low"], c["bca_high"]) == pytest.approx((boot.low, boot.high), rel=1e-12)
    assert (c["bca_low"], c["bca_high"]) == pytest.approx((c["ci_low"], c["ci_high"]), rel=0.05)


def test_a_paired_comparison_uses_the_replicates_where_both_stayed_finite():
    b = A + 0.001
    model_bad, base_bad = np.zeros(32, bool), np.zeros(32, bool)
    model_bad[:4] = True  # the model diverged on 4: it loses those
    base_bad[4:6] = True  # the baseline on 2: the model wins those
    b[:4] = np.nan
    c = compare_paired(b, A, model_bad, base_bad)
    assert c["n_pairs"] == 26 and c["win_rate"] == pytest.approx(2 / 32)
    assert c["mean_diff"] == pytest.approx(0.001) and c["ci_low"] == c["ci_high"] == pytest.approx(0.001)
    assert compare_family({"b": (b, A, model_bad, base_bad)})["b"]["verdict"] == "worse"  # a constant shift: p = 0
    same = compare_family({"a": (A, A, np.zeros(32, bool), np.zeros(32, bool))})["a"]
    assert same["mean_diff"] == 0 and same["p_value"] == 1.0 and same["verdict"] == "no detectable difference"
    assert same["win_rate"] == 0.5  # every replicate a tie
    assert compare_paired(b, A, np.ones(32, bool), base_bad)["mean_diff"] is None


def test_a_tie_counts_half_and_a_pair_where_both_diverged_is_a_tie():
    """win_rate counts the replicates where the model is strictly lower, or finite where the
    baseline diverged, and half of those where they tie: an equal MSE, or both diverged."""
    b = A.copy()
    b[:8] = A[:8] - 0.001  # lower on 8
    b[8:16] = A[8:16]  # equal on 8: half a win each
    model_bad, base_bad = np.zeros(32, bool), np.zeros(32, bool)
    model_bad[16:20] = base_bad[16:20] = True  # both diverged on 4: half a win each, no pair
    base_bad[20:22] = True  # only the baseline on 2: wins
    b[16:20] = np.nan
    b[22:] = A[22:] + 0.001  # higher on the other 10: losses
    c = compare_paired(b, A, model_bad, base_bad)
    assert c["win_rate"] == pytest.approx((8 + 2 + 0.5 * (8 + 4)) / 32)
    assert (c["win_low"], c["win_high"]) == pytest.approx(win_interval(16, 32))
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
