"""The real `dvc repro` in a temporary git repo on a tiny params file."""

import copy
import json
import sys

import numpy as np
import pytest
import yaml
from scipy import stats

from tests.conftest import REPO
from tests.helpers import TINY, commit_results, dvc, make_repo, ran_stages, restore, run, stale_stages
from tests.helpers import write_params
from tests.recompute import check_family

pytestmark = pytest.mark.integration

MODELS = list(TINY["models"])
JAX_MODELS = [m for m in MODELS if TINY["models"][m]["trainer"] == "jax"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return commit_results(make_repo(tmp_path_factory.mktemp("pipeline")))


def _json(root, path):
    return json.loads((root / path).read_text())


def _changed_metrics(root) -> set[str]:
    diff = json.loads(dvc(root, "metrics", "diff", "--json").stdout)
    return {path for path, values in diff.items() if any(v.get("diff") for v in values.values())}


def _seeds(root, model) -> dict:
    """plots/seeds/<model>.csv, its MSEs as the float32 values the stage wrote."""
    d = np.genfromtxt(root / f"plots/seeds/{model}.csv", delimiter=",", names=True)
    return {k: d[k].astype(np.float32).astype(np.float64) if k.endswith("mse") else d[k] for k in d.dtype.names}


def _restore(root) -> None:
    """Back to the committed params and results: every output is in git (`cache: false`)."""
    restore(root)
    assert stale_stages(root) == set()


def test_repro_makes_every_output(repo):
    assert stale_stages(repo) == set()
    for m in MODELS:
        metrics = _json(repo, f"metrics/{m}.json")
        assert metrics["train_mse"] > 0 and metrics["validate_mse"] > 0 and metrics["true_mse"] > 0
        assert metrics["diverged"] is False and metrics["n_parameters"] == 12 + 42 + 7
        timing = _json(repo, f"metrics/timing/{m}.json")
        assert timing["runtime_s"] > 0 and timing["compile_s"] >= 0 and timing["device"]
        assert (repo / f"models/{m}.npz").exists() and (repo / f"plots/fit/{m}.csv").exists()
        history = (repo / f"plots/history/{m}.csv").read_text().splitlines()
        assert history[0] == "epoch,train_loss,validate_loss" and len(history) == 31
    for m in MODELS:  # Keras's too: a batch of Keras-initialised networks
        rows = (repo / f"plots/seeds/{m}.csv").read_text().splitlines()
        assert rows[0] == "replicate,validate_mse,true_mse,diverged" and len(rows) == 1 + TINY["stats"]["n_seeds"]
        seeds = _json(repo, f"metrics/seeds/{m}.json")
        assert seeds["n_replicates"] == TINY["stats"]["n_seeds"] and seeds["n_diverged"] == 0
        for key in ("validate_mse", "true_mse"):
            assert set(seeds[key]) == {"mean", "median", "std", "ci_low", "ci_high"}
            assert seeds[key]["ci_low"] < seeds[key]["mean"] < seeds[key]["ci_high"]
    assert set(_json(repo, "metrics/compare.json")) == set(MODELS) - {"optax_adam"}  # all but the baseline
    summary = _json(repo, "plots/summary.json")
    assert [r["model"] for r in summary["single_run"]] == MODELS
    text = (repo / "plots/summary.md").read_text()
    assert "| Pure JAX (hand-coded GD) |" in text and "excluded" not in text
    assert "Noise floor: validation MSE cannot fall below noise² = 0.040000" in text
    # Not the lecture's params (30 epochs, a smaller network): its numbers are not shown as if comparable.
    assert "Lecture:" not in text and "left out, since the params differ from the lecture's (" in text
    assert "network.layer_sizes" in text and "train.epochs" in text and "data.n_points" in text
    for name in ("data", "fits", "loss", "summary", "seeds", "differences", "sweep"):
        assert (repo / f"plots/images/{name}.png").read_bytes()[:4] == b"\x89PNG"
    # Everything the pipeline makes is in git (`cache: false`), the data set and the models too.
    for path in ("data/dataset.npz", "models/gd.npz", "metrics/gd.json", "plots/seeds/gd.csv"):
        assert run(repo, "git", "ls-files", "--error-unmatch", path, check=False).returncode == 0, path


def test_a_clone_is_up_to_date_without_retraining(repo, tmp_path):
    """The data set and the models are in git (`cache: false`), so a fresh clone (no DVC cache)
    needs no stage rerun (test_exp_run_set_param: after an experiment, `git checkout` alone
    brings every output back)."""
    clone = tmp_path / "clone"
    run(repo, "git", "clone", "-q", str(repo), str(clone))
    assert stale_stages(clone) == set()
    out = dvc(clone, "repro").stdout
    assert ran_stages(out) == set() and "Data and pipelines are up to date" in out, out


def test_statistics_recomputed_from_the_replicates_match_the_metrics(repo):
    """scipy.stats on the per-replicate CSVs, here, gives the committed summaries and comparisons."""
    data = {m: _seeds(repo, m) for m in MODELS}
    for m, d in data.items():
        summary = _json(repo, f"metrics/seeds/{m}.json")["validate_mse"]
        ci = stats.ttest_1samp(d["validate_mse"], 0).confidence_interval(0.95)
        assert summary["mean"] == pytest.approx(d["validate_mse"].mean(), rel=1e-12)
        assert summary["median"] == pytest.approx(np.median(d["validate_mse"]), rel=1e-12)
        assert summary["std"] == pytest.approx(d["validate_mse"].std(ddof=1), rel=1e-12)
        assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)
    compare = _json(repo, "metrics/compare.json")
    base = data["optax_adam"]["validate_mse"]
    assert set(compare) == {"gd", "keras"} and not any(data[m]["diverged"].any() for m in data)
    check_family(compare, {m: (data[m]["validate_mse"], base) for m in ("gd", "keras")}, rel=1e-12)


def test_a_sweep_that_reaches_divergence_marks_it(repo):
    rows = np.genfromtxt(repo / "plots/sweep/gd.csv", delimiter=",", names=True)
    assert list(rows["learning_rate"]) == TINY["sweep"]["learning_rates"]
    assert rows["diverged_fraction"].tolist() == [0.0, 1.0] and np.isnan(rows["validate_mse_mean"][1])
    assert _json(repo, "metrics/sweep.json") == {
        "gd": {"best_learning_rate": 0.01, "best_validate_mse": pytest.approx(rows["validate_mse_mean"][0])}}
    assert "| 10 | n/a (100% diverged) |" in (repo / "plots/summary.md").read_text()


def test_one_learning_rate_reruns_only_its_model(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["optax_adam"]["learning_rate"] = 0.03
    write_params(repo, params)
    assert stale_stages(repo) == {"train@optax_adam", "seeds@optax_adam", "compare", "report"}
    # optax_adam is the baseline: the search's confirmation pairs with its replicates (the study is
    # resumed, finished: only the confirmation reruns).
    out = dvc(repo, "repro").stdout
    assert ran_stages(out) == {"train@optax_adam", "seeds@optax_adam", "compare", "search", "report"}
    assert "search: resumed" in out
    assert _changed_metrics(repo) == {"metrics/optax_adam.json", "metrics/seeds/optax_adam.json",
                                      "metrics/compare.json", "metrics/search.json"}
    page = repo.parent / f"{repo.name}-page"
    dvc(repo, "plots", "show", "-o", str(page))
    html = (page / "index.html").read_text()
    for title in ("Loss per epoch", "Training and validation data", "summary.png", "Validation MSE of every replicate",
                  "Paired difference from the baseline", "Validation MSE against learning rate", "sweep.png",
                  "Search: the best validation MSE so far", "importance", "search.png"):
        assert title in html, title
    _restore(repo)


def test_exp_run_set_param(repo, tmp_path):
    """In a fresh clone: `dvc exp run -S` reruns one model's stages, `dvc metrics diff` shows only
    that model and the comparison, `make exp` shows the experiment; then `git checkout` alone
    brings every output back."""
    clone = tmp_path / "clone"
    run(repo, "git", "clone", "-q", str(repo), str(clone))
    out = dvc(clone, "exp", "run", "-S", "models.gd.learning_rate=0.02").stdout
    assert ran_stages(out) == {"train@gd", "seeds@gd", "sweep@gd", "compare", "report"}, out
    assert _changed_metrics(clone) == {"metrics/gd.json", "metrics/seeds/gd.json", "metrics/compare.json"}
    # make exp: the param that changed and every model's validation MSE, nothing else.
    name = json.loads(dvc(clone, "exp", "show", "--json").stdout)[1]["experiments"][0]["name"]
    table = run(clone, sys.executable, str(REPO / "tools/exp_table.py")).stdout
    lines = table.splitlines()
    header = lines[0].split()
    assert header == ["Created", "models.gd.learning_rate", *MODELS], table
    assert "md5" not in table and ".py" not in table and max(map(len, lines)) <= 120
    gd = json.loads((clone / "metrics/gd.json").read_text())["validate_mse"]
    mean = json.loads((clone / "metrics/seeds/gd.json").read_text())["validate_mse"]["mean"]
    single_row = next(line for line in lines if line.split()[:1] == [name])
    assert "0.02" in single_row.split() and f"{gd:.6f}" in single_row.split() and "single run" in single_row
    replicate_row = lines[lines.index(single_row) + 1]
    assert replicate_row.split()[:2] == ["replicate", "mean"] and f"{mean:.6f}" in replicate_row.split()
    keras_mean = json.loads((clone / "metrics/seeds/keras.json").read_text())["validate_mse"]["mean"]
    assert replicate_row.split()[2] == "0.02" and replicate_row.split()[3] == f"{keras_mean:.6f}"  # Keras's too
    assert any(line.startswith("workspace") for line in lines)
    run(clone, "git", "checkout", "-q", "--", ".")
    assert stale_stages(clone) == set() and run(clone, "git", "status", "--porcelain").stdout == ""


def test_the_keras_scan_loop_gives_fit_s_results_through_dvc(repo):
    """`-S models.keras.loop=scan`: Keras's stages rerun, and the model, its history and its
    metrics are fit's, byte for byte (the scan runs fit's own steps)."""
    files = ["metrics/keras.json", "plots/history/keras.csv", "plots/fit/keras.csv"]
    before = [(repo / f).read_bytes() for f in files]
    model_md5 = _model_md5(repo)
    out = dvc(repo, "exp", "run", "-S", "models.keras.loop=scan").stdout
    assert ran_stages(out) == {"train@keras", "seeds@keras", "compare", "report"}, out  # these read models.keras
    assert [(repo / f).read_bytes() for f in files] == before
    assert _model_md5(repo) == model_md5
    assert "keras: epoch 30/30 (100 %)" in out  # the tenths, from the recorded losses
    assert _json(repo, "metrics/timing/keras.json")["loop"] == "scan"  # what ran, as the trainer reports it
    assert _changed_metrics(repo) == set()
    _restore(repo)


def _model_md5(root) -> str:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"]["train@keras"]["outs"] if o["path"] == "models/keras.npz")


def test_a_strategy_added_through_params_runs_only_its_stages(repo):
    params = copy.deepcopy(TINY)
    params["models"]["cosine_l2"] = {  # no `trainer`: jax, by default (DVC's dvc.yaml needs none either)
        "optimizer": "nesterov", "momentum": 0.8, "layer_sizes": [1, 4, 4, 4, 1],
        "activation": "elu", "init": "glorot_uniform", "l2": 0.001,
        "schedule": {"name": "cosine_decay", "init_value": 0.05, "decay_steps": 30}}
    write_params(repo, params)
    out = dvc(repo, "repro").stdout
    assert ran_stages(out) == {"train@cosine_l2", "seeds@cosine_l2", "compare", "report"}, out
    metrics = _json(repo, "metrics/cosine_l2.json")
    assert metrics["n_parameters"] == 8 + 20 + 20 + 5 and metrics["validate_mse"] > 0
    assert set(_json(repo, "metrics/compare.json")) == {"keras", "gd", "cosine_l2"}
    assert "| cosine_l2 | 53 |" in (repo / "plots/summary.md").read_text()  # the exercise table
    # Changing it: only its stages are stale (test_one_learning_rate_reruns_only_its_model runs them).
    params["models"]["cosine_l2"]["l2"] = 0.01
    write_params(repo, params)
    assert stale_stages(repo) == {"train@cosine_l2", "seeds@cosine_l2", "compare", "report"}
    # Removed again: DVC leaves a removed stage's outputs in place; git clean takes them away.
    run(repo, "git", "checkout", "-q", ".")
    run(repo, "git", "clean", "-fdq", "metrics", "plots", "models")
    assert ran_stages(dvc(repo, "repro").stdout) == set()  # every output is back from git
    assert stale_stages(repo) == set() and run(repo, "git", "status", "--porcelain").stdout == ""


def test_changing_only_the_sweep_reruns_only_the_sweep_and_the_gatherers(repo):
    out = dvc(repo, "exp", "run", "-S", "sweep.n_seeds=3").stdout
    assert ran_stages(out) == {"sweep@gd", "compare", "report"}, out
    _restore(repo)
    params = copy.deepcopy(TINY)
    params["stats"]["n_seeds"] = 5
    write_params(repo, params)  # dvc status names the stages whose own deps changed
    assert stale_stages(repo) == {f"seeds@{m}" for m in MODELS} | {"compare", "search", "report"}
    _restore(repo)


def test_changing_only_the_search_reruns_only_the_search_and_the_report(repo):
    """A `search.*` param: only `search` and `report` rerun; `dvc metrics diff` shows only the search."""
    out = dvc(repo, "exp", "run", "-S", "search.seed=1").stdout
    assert ran_stages(out) == {"search", "report"}, out
    assert _changed_metrics(repo) == {"metrics/search.json"}
    _restore(repo)


def test_changing_the_point_count_reruns_the_data_stage(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for n in (26, 24, 26):  # there, back (run-cache) and there again
        params["data"]["n_points"] = n
        write_params(repo, params)
        assert "data" in stale_stages(repo)
        dvc(repo, "repro", "data")
        assert np.load(repo / "data/dataset.npz")["x_train"].shape == (n, 1)
    _restore(repo)


def test_dvc_repro_outside_the_environment_says_to_activate_it(tmp_path):
    """`python` on the PATH is a Python without the project's packages (the venv not active)."""
    import os
    import sys
    from pathlib import Path

    from tests.helpers import env_for

    (tmp_path / "repo").mkdir()
    root = make_repo(tmp_path / "repo")
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
    env = env_for(root)
    env.pop("PYTHONPATH")
    env["PATH"] = os.pathsep.join([str(bare)] + [p for p in env["PATH"].split(os.pathsep)
                                                  if Path(p).resolve() != Path(sys.executable).parent.resolve()])
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "data"], cwd=root, env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr and "ModuleNotFoundError" not in proc.stdout + proc.stderr
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "run `source .venv/bin/activate` first (or `make repro`" in errors[0], proc.stderr
    assert not (root / "data/dataset.npz").exists()
