"""Determinism and faults, with the real DVC: reruns, interruptions, damaged outputs,
divergence, parallel queued experiments and a broken dvc.yaml."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnreg import trainers
from nnreg.core.data import make_dataset
from nnreg.core.evaluate import evaluate
from nnreg.params.load import parse_params
from tests.helpers import TINY, commit_results, deterministic, dvc, env_for, lock_md5s, make_repo, restore, run
from tests.helpers import wait_for_queue
from tools import check_reproduced

pytestmark = pytest.mark.integration

# Keras (whose fit runs long enough to be interrupted mid-fit: 1,000 epochs) and hand GD, the
# baseline: the faults need two trainers, not four models. The search prunes at 250 epochs.
PARAMS = copy.deepcopy(TINY)
PARAMS["train"] = {"epochs": 1000}
PARAMS["search"]["pruning"] = {"min_epochs": 250, "reduction_factor": 4}
PARAMS["models"] = {m: TINY["models"][m] for m in ("keras", "gd")}
PARAMS["stats"]["baseline"] = "gd"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, committed: its dvc.lock md5s."""
    root = commit_results(make_repo(tmp_path_factory.mktemp("reference"), PARAMS))
    return root, lock_md5s(root)


def test_two_runs_from_scratch_give_the_same_bytes(reference, tmp_path):
    _, first = reference
    root = make_repo(tmp_path, PARAMS)
    dvc(root, "repro")
    second = lock_md5s(root)
    assert set(first) == set(second)
    assert deterministic(second) == deterministic(first)
    # data; each model: model, history, metrics, fit, replicates, their summary; the swept
    # model's sweep; compare.json, sweep.json and plots/compare; the search's metrics and plots;
    # the plots/data folder
    assert len(deterministic(first)) == 1 + len(PARAMS["models"]) * 6 + 1 + 3 + 2 + 1
    # The search's journal: the same operations, but for the writer's random id and the clock.
    assert (check_reproduced.clock_free("models/search.journal", (root / "models/search.journal").read_text())
            == check_reproduced.clock_free("models/search.journal", (reference[0] / "models/search.journal").read_text()))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_training_then_repro_gives_the_uninterrupted_results(reference, tmp_path, sig):
    root = make_repo(tmp_path, PARAMS)
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=root, env=env_for(root),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("keras: epoch"):  # mid-fit: 1/8 of the epochs done
            os.killpg(proc.pid, sig)
            break
    seen.append(proc.communicate(timeout=120)[0])
    output = "".join(seen)
    assert proc.returncode != 0, output
    # Nothing half-written: outputs are renamed into place only when complete, and a
    # trainer that got SIGINT writes none (tests/stages/test_stages.py covers a lost interrupt).
    assert not list(root.glob("models/*.tmp")) and not list(root.glob("plots/history/*.tmp")), output
    if f"keras: {PARAMS['train']['epochs']} epochs on" in output:
        # The signal came after training ended (the test read the progress line late):
        # then the outputs, if there, must be the whole uninterrupted ones.
        for path in ("models/keras.npz", "plots/history/keras.csv"):
            if (root / path).exists():
                assert run(root, "md5sum", path).stdout.split()[0] == reference[1][path], output
    else:
        assert not (root / "models/keras.npz").exists(), output
        assert not (root / "metrics/timing/keras.json").exists(), output
        if sig == signal.SIGINT:
            assert "interrupted (SIGINT)" in output, output
    dvc(root, "repro", "train@keras")  # the interrupted stage again (the data stage had finished)
    rerun = deterministic(lock_md5s(root))
    assert "models/keras.npz" in rerun and rerun == {p: reference[1][p] for p in rerun}


def test_deleted_or_corrupted_outputs_are_restored(reference):
    root, md5s = reference
    (root / "models/gd.npz").unlink()
    (root / "data/dataset.npz").write_bytes(b"\x00garbage" * 50)
    assert {"data", "train@gd"} <= set(json.loads(dvc(root, "status", "--json").stdout))
    dvc(root, "repro")
    assert deterministic(lock_md5s(root)) == deterministic(md5s)
    assert np.load(root / "data/dataset.npz")["x_train"].shape == (24, 1)

    # Models and the data set are in git, not DVC's cache (`cache: false`): a damaged one is
    # reported, and rebuilt with the same bytes (or taken back from git, in a repo that committed it).
    (root / "models/gd.npz").write_bytes(b"not an npz")
    assert "train@gd" in json.loads(dvc(root, "status", "--json").stdout)
    dvc(root, "repro")
    assert run(root, "md5sum", "models/gd.npz").stdout.split()[0] == md5s["models/gd.npz"]
    assert json.loads(dvc(root, "status", "--json").stdout or "{}") == {}


def test_divergence_is_recorded_not_reported_as_a_result(reference):
    root, _ = reference
    out = dvc(root, "exp", "run", "-S", "models.gd.learning_rate=10.0", "-S", "models.keras.learning_rate=10.0").stdout
    assert "DIVERGED" in out
    for model in ("gd", "keras"):
        metrics = json.loads((root / f"metrics/{model}.json").read_text())
        assert metrics["diverged"] is True and metrics["first_nonfinite_epoch"] >= 1
        assert metrics["train_mse"] is None and metrics["validate_mse"] is None
        # One convention: the metrics, the log and the summary name the history CSV's epoch
        # (counted from 1) of the first row with a loss that is not finite.
        rows = [line.split(",") for line in (root / f"plots/history/{model}.csv").read_text().splitlines()[1:]]
        first = next(int(r[0]) for r in rows if not all(np.isfinite(float(v)) for v in r[1:]))
        assert metrics["first_nonfinite_epoch"] == first and f"{model}: DIVERGED at epoch {first}" in out
        # Keras stops at the first epoch whose training loss is not finite (TerminateOnNaN),
        # the JAX loop runs every epoch, masked: the log and the timing file say how many
        # ran (not the padded history's length).
        first_train = next(int(r[0]) for r in rows if not np.isfinite(float(r[1])))
        ran = first_train if model == "keras" else PARAMS["train"]["epochs"]
        assert ran < PARAMS["train"]["epochs"] or model == "gd"
        assert json.loads((root / f"metrics/timing/{model}.json").read_text())["epochs"] == ran
        assert f"{model}: {ran} epochs on " in out
    gd_first = json.loads((root / "metrics/gd.json").read_text())["first_nonfinite_epoch"]
    assert f"Pure JAX (hand-coded GD) **diverged at epoch {gd_first}**" in (root / "plots/summary.md").read_text()
    history = (root / "plots/history/gd.csv").read_text().splitlines()
    assert len(history) == 1 + PARAMS["train"]["epochs"] and history[-1].endswith("nan,nan")
    restore(root)


def test_a_dvc_yaml_pointing_at_a_missing_file_fails_clearly(reference):
    root, _ = reference
    text = (root / "dvc.yaml").read_text()
    try:
        (root / "dvc.yaml").write_text(text.replace("- stages/data.py\n", "- stages/data.py\n      - nnreg/missing.py\n", 1))
        proc = dvc(root, "repro", check=False)
        assert proc.returncode != 0
        assert "nnreg/missing.py" in proc.stderr + proc.stdout
    finally:
        (root / "dvc.yaml").write_text(text)


def _expected_gd_metrics(params: dict) -> dict:
    """What the pipeline must report for gd under `params`, computed in this process."""
    p = parse_params(params)
    dataset = make_dataset(p.data)
    trained = trainers.get("jax").train(p.models["gd"], p.network, p.train.epochs, dataset)  # as train@gd
    return evaluate(trained.network, dataset, trained.activation, int(trained.history.first_nonfinite_epoch))


def test_parallel_queued_experiments_each_get_their_own_metrics(reference, tmp_path):
    root = tmp_path / "clone"  # the committed reference: up to date without a rerun
    run(reference[0], "git", "clone", "-q", str(reference[0]), str(root))
    rates = ["0.003", "0.05"]  # two workers, two experiments at once
    for lr in rates:  # each reproduces train@gd only: the stage whose metrics would mix
        dvc(root, "exp", "run", "--queue", "train@gd", "-S", f"models.gd.learning_rate={lr}", "-n", f"lr-{lr}")
    try:
        # Not through a pipe: `queue start` forks a helper per worker that keeps the
        # caller's stdout open until its worker exits.
        with open(root / ".dvc/tmp/queue-start.log", "w") as log:
            subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", "2"], cwd=root, env=env_for(root),
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=True)
        status = wait_for_queue(root, len(rates), timeout=300)
        assert status.count("Success") == len(rates), status
    finally:
        _stop_workers(root)
    params = copy.deepcopy(PARAMS)
    for lr in rates:
        params["models"]["gd"]["learning_rate"] = float(lr)
        expected = _expected_gd_metrics(params)
        shown = _exp_metrics(root, f"lr-{lr}")
        assert shown["train_mse"] == expected["train_mse"] and shown["validate_mse"] == expected["validate_mse"]
        assert shown["diverged"] is False


def _stop_workers(root) -> None:
    """Stops the queue's workers and kills any still there. A worker should exit 10 s after the
    queue empties; once, in CI, one was still alive after 600 s, its tasks done or not."""
    dvc(root, "queue", "stop", check=False)
    time.sleep(1)
    for pidfile in (root / ".dvc/tmp/exps/celery").glob("*.pid"):
        pid = pidfile.read_text().strip()
        try:
            if b"queue-worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):  # gone already
            pass


def _exp_metrics(root, name: str) -> dict:
    """metrics/gd.json as committed in experiment `name`."""
    ref = [line.split()[0] for line in run(root, "git", "for-each-ref", "refs/exps").stdout.splitlines()
           if line.endswith(f"/{name}")]
    assert len(ref) == 1, name
    return json.loads(run(root, "git", "show", f"{ref[0]}:metrics/gd.json").stdout)
