"""The results committed in git: the lecture's numbers and the exercise's (CI reruns the pipeline
and checks they reproduce bit for bit), and statistics that follow from the committed replicates."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nnreg.params.load import load_params
from tests.conftest import REPO
from tests.recompute import check_family
from tests.shared import LECTURE_TABLE, assert_printed_as

EXERCISE_MODELS = ("deep", "deep_schedule", "deep_schedule_l2", "adam_l2")  # the lecture's four strategies

PARAMS = load_params(REPO / "params.yaml")
# The committed Keras metrics (Keras 3, JAX backend, CPU; Glorot-uniform init from
# keras.utils.set_random_seed(1234)): the README quotes them.
KERAS_COMMITTED = {"train_mse": 0.040923409163951874, "validate_mse": 0.045766681432724,
                   "true_mse": 0.005154966376721859}


def _metrics(path):
    return json.loads((REPO / "metrics" / path).read_text())


def test_committed_metrics_are_the_lecture_numbers():
    gd, sgd, adam, keras = (_metrics(f"{m}.json") for m in ("gd", "optax_sgd", "optax_adam", "keras"))
    assert not any(m["diverged"] for m in (gd, sgd, adam, keras))
    # Every digit the lecture prints, training and validation (its Keras run is its own random init).
    printed = {(m, split): f"{metrics[f'{split}_mse']:.6f}" for m, metrics in (("gd", gd), ("optax_adam", adam))
               for split in ("train", "validate")}
    assert printed == LECTURE_TABLE
    assert (sgd["train_mse"], sgd["validate_mse"]) == (gd["train_mse"], gd["validate_mse"])
    # Keras from its own seeded init: the committed bits, which CI regenerates (.ci/run) and
    # tests/training/test_lecture.py recomputes in process.
    assert {k: keras[k] for k in KERAS_COMMITTED} == KERAS_COMMITTED


def test_committed_exercise_numbers_are_the_lecture_s():
    """The lecture's Exercise 23.1 table (validation MSE, one seed), every printed digit but the deeper
    network's (a chaotic run, within 1e-4: tests/shared.py::assert_printed_as)."""
    lecture = {"deep": 0.041686, "deep_schedule": 0.041633, "deep_schedule_l2": 0.040845, "adam_l2": 0.040959}
    for model, value in lecture.items():
        assert_printed_as(_metrics(f"{model}.json")["validate_mse"], value, model)
    assert [_metrics(f"{m}.json")["n_parameters"] for m in EXERCISE_MODELS] == [187, 187, 187, 251]
    summary = (REPO / "plots/summary.md").read_text()
    assert "## Exercise 23.1" in summary and "| 1. Deeper network (6 layers) | 187 |" in summary


def test_committed_timing_is_separate_from_accuracy():
    for model in PARAMS.models:
        assert set(_metrics(f"{model}.json")) == {"n_parameters", "train_mse", "validate_mse", "true_mse", "diverged",
                                                  "first_nonfinite_epoch"}
        timing = _metrics(f"timing/{model}.json")
        assert {"runtime_s", "compile_s", "device", "platform"} <= set(timing)


def test_committed_replicate_statistics_follow_from_the_committed_replicates():
    """Every model (Keras's too) over the same stats.n_seeds replicates; its summary and its comparison with
    the baseline recomputed here with scipy.stats from plots/seeds/*.csv."""
    n, baseline = PARAMS.stats.n_seeds, PARAMS.stats.baseline
    models = PARAMS.model_names()
    data = {m: np.genfromtxt(REPO / f"plots/seeds/{m}.csv", delimiter=",", names=True) for m in models}
    # The MSEs as the float32 values the stage wrote (their 9-digit decimals are not exactly those).
    data = {m: {k: d[k].astype(np.float32).astype(np.float64) if k.endswith("mse") else d[k] for k in d.dtype.names}
            for m, d in data.items()}
    compare = _metrics("compare.json")
    assert set(compare) == set(models) - {baseline}
    for m, d in data.items():
        assert d["replicate"].tolist() == list(range(n))
        seeds = _metrics(f"seeds/{m}.json")
        assert seeds["n_replicates"] == n and seeds["n_diverged"] == int(d["diverged"].sum())
        ok = d["diverged"] == 0
        for key in ("validate_mse", "true_mse"):
            values = d[key][ok]
            ci = stats.ttest_1samp(values, 0).confidence_interval(0.95)
            assert seeds[key]["mean"] == pytest.approx(values.mean(), rel=1e-9), (m, key)
            assert (seeds[key]["ci_low"], seeds[key]["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert not any(d["diverged"].any() for d in data.values())
    check_family(compare, {m: (data[m]["validate_mse"], data[baseline]["validate_mse"]) for m in compare})
    # Hand GD and Optax SGD give the same bits: one hypothesis of the family, not two.
    assert compare["optax_sgd"]["hypothesis"] == "gd" and compare["gd"]["family"] == len(models) - 2
    # Over seeds, hand GD is far from its lucky single-seed 0.042.
    assert _metrics("seeds/gd.json")["validate_mse"]["mean"] > 0.06


def test_committed_sweep_reaches_divergence_and_names_the_best_rate():
    best = _metrics("sweep.json")
    assert set(best) == set(PARAMS.sweep.models)
    for m in PARAMS.sweep.models:
        rows = np.genfromtxt(REPO / f"plots/sweep/{m}.csv", delimiter=",", names=True)
        assert rows["learning_rate"].tolist() == list(PARAMS.sweep.learning_rates)
        healthy = rows["diverged_fraction"] == 0
        assert best[m]["best_learning_rate"] == rows["learning_rate"][healthy][np.argmin(rows["validate_mse_mean"][healthy])]
    gd = np.genfromtxt(REPO / "plots/sweep/gd.csv", delimiter=",", names=True)
    assert gd["diverged_fraction"][-1] == 1.0 and gd["diverged_fraction"][0] == 0.0


def test_the_readme_s_result_tables_are_the_committed_summary_s():
    """Every table row in the README's Results section is a row of the committed plots/summary.md."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Results")
    results = readme[start:readme.index("\n## ", start + 1)]
    summary = set((REPO / "plots/summary.md").read_text().splitlines())
    rows = [line for line in results.splitlines() if line.startswith("| ")]
    assert len(rows) >= 4 + 5 + 8, "the README's result tables are missing"
    missing = [row for row in rows if row not in summary]
    assert not missing, f"README rows not in plots/summary.md (run make readme): {missing}"


def test_the_committed_lock_holds_exactly_the_pipeline_s_stages():
    """DVC keeps a removed stage's entry in dvc.lock (it rewrites only the stages it runs), and
    every stage's run reads and writes the whole lock: an entry left behind is dead weight
    (eight stale `evaluate@` entries, 554 lines, were found and removed) and misleads a reader."""
    import yaml
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(REPO)) as repo:  # the stages of the top dvc.yaml (dvc.lock's), by name, wherever pytest runs
        stages = {stage.name for stage in repo.index.stages
                  if isinstance(stage, PipelineStage) and Path(stage.path).resolve() == (REPO / "dvc.yaml").resolve()}
    locked = set(yaml.safe_load((REPO / "dvc.lock").read_text())["stages"])
    assert locked == stages, {"stale in dvc.lock": sorted(locked - stages), "not locked": sorted(stages - locked)}


def test_committed_versions_table_is_the_committed_comparisons():
    """plots/summary.md's versions table is made from the committed single runs and comparisons, and
    the README holds its rows."""
    from nnreg.report.lecture import versions_markdown

    compare = _metrics("compare.json")
    single = {m: _metrics(f"{m}.json")["validate_mse"] for m in PARAMS.models}
    table = versions_markdown(single, compare, PARAMS.stats.baseline, PARAMS.stats.n_seeds)
    summary, readme = (REPO / "plots/summary.md").read_text(), (REPO / "README.md").read_text()
    assert table and table in summary
    for row in table.splitlines():
        if row.startswith("| ") and not row.startswith("| ---"):
            assert row in readme, row
    assert ("e5d26bf: Baseline + Armijo line search (its winner) | #268, 2026-07-09 | 0.040810 (+0.000058) | "
            "0.040810 (+0.000058) |") in table
