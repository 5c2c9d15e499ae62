"""A paired family's statistics recomputed here, independently of nnreg.core.stats: scipy.stats
for each test and interval, Holm's step-down as its definition reads (a loop over the sorted
p-values), so that the tests compare the pipeline's numbers with a second computation."""

import numpy as np
from scipy import stats


def holm_by_definition(p: dict) -> dict:
    """name -> Holm-adjusted p: p_(i) sorted ascending becomes max_{j <= i} min(1, (m - j + 1) p_(j))."""
    names = sorted(p, key=lambda n: p[n])
    out, running = {}, 0.0
    for i, name in enumerate(names):
        running = max(running, min(1.0, (len(names) - i) * p[name]))
        out[name] = running
    return out


def expected_family(pairs: dict) -> dict:
    """name -> the statistics `nnreg.core.stats.compare_family` must give for `name: (model,
    baseline)` with no divergence: t and Wilcoxon p-values Holm-corrected over the distinct
    comparisons, the t intervals alone and simultaneous, the BCa interval, the win rate (a tie
    half) and its exact interval."""
    distinct, raw = {}, {}
    for name, (model, base) in pairs.items():
        key = np.asarray(model, np.float64).tobytes()
        if key in distinct:
            continue
        distinct[key] = name
        raw[name] = (stats.ttest_rel(model, base).pvalue, stats.wilcoxon(np.asarray(model) - base).pvalue)
    m = len(raw)
    p_t = holm_by_definition({n: v[0] for n, v in raw.items()})
    p_w = holm_by_definition({n: v[1] for n, v in raw.items()})
    out = {}
    for name, (model, base) in pairs.items():
        head = distinct[np.asarray(model, np.float64).tobytes()]
        d = np.asarray(model, np.float64) - base
        test = stats.ttest_rel(model, base)
        wins = np.sum(d < 0) + 0.5 * np.sum(d == 0)
        n = d.size
        boot = stats.bootstrap((d,), np.mean, method="BCa", rng=np.random.default_rng(0)).confidence_interval
        out[name] = {
            "family": m, "hypothesis": head, "p_value": p_t[head], "p_wilcoxon": p_w[head],
            "mean_diff": d.mean(), "median_diff": np.median(d),
            "ci": tuple(test.confidence_interval(0.95)),
            "sim": tuple(test.confidence_interval(1 - 0.05 / m)),
            "bca": (boot.low, boot.high),
            "win_rate": wins / n,
            "win": (stats.beta.ppf(0.025, wins, n - wins + 1) if wins > 0 else 0.0,
                    stats.beta.ppf(0.975, wins + 1, n - wins) if wins < n else 1.0),
        }
    return out


def check_family(found: dict, pairs: dict, rel: float = 1e-9) -> None:
    """Asserts that `found` (name -> a comparison of the pipeline's) is `expected_family(pairs)`."""
    import pytest

    for name, e in expected_family(pairs).items():
        c = found[name]
        assert c["family"] == e["family"] and c["hypothesis"] == e["hypothesis"], name
        assert c["p_value"] == pytest.approx(e["p_value"], rel=rel, abs=1e-300), name
        assert c["p_wilcoxon"] == pytest.approx(e["p_wilcoxon"], rel=rel, abs=1e-300), name
        assert c["mean_diff"] == pytest.approx(e["mean_diff"], rel=rel, abs=1e-15), name
        assert c["median_diff"] == pytest.approx(e["median_diff"], rel=rel, abs=1e-15), name
        assert (c["ci_low"], c["ci_high"]) == pytest.approx(e["ci"], rel=rel, abs=1e-15), name
        assert (c["sim_low"], c["sim_high"]) == pytest.approx(e["sim"], rel=rel, abs=1e-15), name
        assert (c["bca_low"], c["bca_high"]) == pytest.approx(e["bca"], rel=rel, abs=1e-15), name
        assert c["win_rate"] == pytest.approx(e["win_rate"]), name
        assert (c["win_low"], c["win_high"]) == pytest.approx(e["win"], rel=1e-9), name
        verdict = ("no detectable difference" if c["p_value"] >= 0.05 else "better" if c["mean_diff"] < 0
                   else "worse")
        robust = ("no detectable difference" if c["p_wilcoxon"] >= 0.05 else "better" if c["median_diff"] < 0
                  else "worse")
        assert (c["verdict"], c["verdict_wilcoxon"], c["depends_on_test"]) == (verdict, robust, verdict != robust)
