"""The real `dvc repro` in a temporary git repo on a tiny params file."""

import json

import numpy as np
import pytest
import yaml

from nnreg import MODELS
from tests.helpers import dvc, make_repo, ran_stages, run, stale_stages, write_params

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("pipeline"))
    dvc(root, "repro")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "results")
    return root


def test_repro_makes_every_output(repo):
    assert stale_stages(repo) == set()
    for m in MODELS:
        metrics = json.loads((repo / f"metrics/{m}.json").read_text())
        assert metrics["train_mse"] > 0 and metrics["validate_mse"] > 0 and metrics["diverged"] is False
        timing = json.loads((repo / f"metrics/timing/{m}.json").read_text())
        assert timing["runtime_s"] > 0 and timing["compile_s"] >= 0 and timing["device"]
        assert (repo / f"models/{m}.npz").exists() and (repo / f"plots/fit/{m}.csv").exists()
        history = (repo / f"plots/history/{m}.csv").read_text().splitlines()
        assert history[0] == "epoch,train_loss,validate_loss" and len(history) == 31
    summary = json.loads((repo / "plots/summary.json").read_text())
    assert [r["model"] for r in summary] == list(MODELS)
    assert "| Pure JAX (hand-coded GD) |" in (repo / "plots/summary.md").read_text()
    for name in ("data", "fits", "loss", "summary"):
        assert (repo / f"plots/images/{name}.png").read_bytes()[:4] == b"\x89PNG"
    # Data and models are in DVC's cache and ignored by git; metrics and plot data are not.
    assert "dataset.npz" in (repo / "data/.gitignore").read_text()
    assert run(repo, "git", "check-ignore", "-q", "metrics/gd.json", check=False).returncode == 1
    # gd and optax_sgd: the same bits.
    gd, sgd = np.load(repo / "models/gd.npz"), np.load(repo / "models/optax_sgd.npz")
    for k in gd.files:
        np.testing.assert_array_equal(gd[k], sgd[k])


def test_one_learning_rate_reruns_only_its_model(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["optax_adam"]["learning_rate"] = 0.03
    write_params(repo, params)
    assert stale_stages(repo) == {"train@optax_adam"}  # dvc status names changed stages, not downstream
    assert ran_stages(dvc(repo, "repro").stdout) == {"train@optax_adam", "evaluate@optax_adam", "report"}
    diff = json.loads(dvc(repo, "metrics", "diff", "--json").stdout)
    changed = {path for path, values in diff.items() if any(v.get("diff") for v in values.values())}
    assert changed == {"metrics/optax_adam.json"}, diff
    page = repo / "page"
    dvc(repo, "plots", "show", "-o", str(page))
    html = (page / "index.html").read_text()
    assert "Loss per epoch" in html and "Training and validation data" in html and "summary.png" in html
    run(repo, "git", "checkout", "-q", "params.yaml")
    dvc(repo, "repro")  # back to the committed results, from DVC's run-cache
    assert stale_stages(repo) == set()


def test_exp_run_set_param(repo):
    out = dvc(repo, "exp", "run", "-S", "models.gd.learning_rate=0.02").stdout
    assert ran_stages(out) == {"train@gd", "evaluate@gd", "report"}, out
    diff = json.loads(dvc(repo, "metrics", "diff", "--json").stdout)
    changed = {path for path, values in diff.items() if any(v.get("diff") for v in values.values())}
    assert changed == {"metrics/gd.json"}, diff
    run(repo, "git", "checkout", "-q", "params.yaml")
    dvc(repo, "repro")


def test_changing_the_point_count_reruns_the_data_stage(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for n in (26, 24, 26):  # there, back (run-cache) and there again
        params["data"]["n_points"] = n
        write_params(repo, params)
        assert "data" in stale_stages(repo)
        dvc(repo, "repro", "data")
        assert np.load(repo / "data/dataset.npz")["x_train"].shape == (n, 1)
    run(repo, "git", "checkout", "-q", "params.yaml")
    dvc(repo, "repro")
