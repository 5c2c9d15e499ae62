"""The search stage as a process: the same study and bits on a rerun, a SIGKILLed search
resumed to the uninterrupted result, a journal of other params started afresh, the parameter
bound kept, and the confirmation's statistics recomputed from its per-replicate data (and its
best entry, pasted into `models:`, giving the same replicates through seeds@)."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats

from nnreg.core.network import parameter_count
from tests.conftest import copy_project
from tests.helpers import TINY, edited, env_for, run, write_params
from tests.recompute import check_family

OUTPUTS = ("metrics/search.json", "plots/search/trials.csv", "plots/search/confirm.csv")
JOURNAL = "models/search.journal"
# Four batches of three trials: room to kill the search between two of them.
PARAMS = edited(TINY, "search.n_trials", 12)


@pytest.fixture
def project(tmp_path):
    copy_project(tmp_path)
    write_params(tmp_path, PARAMS)
    run(tmp_path, sys.executable, "stages/seeds.py", "optax_adam")  # the baseline the confirmation pairs with
    return tmp_path


def read_csv(path) -> dict[str, np.ndarray]:
    return {k: v.to_numpy() for k, v in pd.read_csv(path).items()}


def _outputs(root) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in OUTPUTS}


def _trials(root) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(root / JOURNAL)))
    return optuna.load_study(study_name="search", storage=storage).get_trials(deepcopy=False)


def _kill_after_a_batch(root) -> None:
    """Starts the search and SIGKILLs it once the journal holds its first whole batch."""
    proc = subprocess.Popen([sys.executable, "stages/search.py"], cwd=root, env=env_for(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = root / JOURNAL
    deadline = time.time() + 300
    while not (journal.exists() and journal.stat().st_size > 0):
        assert proc.poll() is None, "the search ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    trials = _trials(root)
    assert 0 < len(trials) < 12 and len(trials) % 3 == 0, len(trials)  # whole batches only
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)


def test_the_search_is_deterministic_resumes_after_sigkill_and_starts_afresh_for_other_params(project):
    first = run(project, sys.executable, "stages/search.py")
    done = _outputs(project)
    assert "resumed" not in first.stdout
    metrics = json.loads(done["metrics/search.json"])
    assert metrics["n_trials"] == 12 == metrics["n_complete"] + metrics["n_pruned"] and metrics["n_pruned"] > 0
    assert len(_trials(project)) == 12

    (project / JOURNAL).unlink()  # a fresh search: the same study, the same bits
    run(project, sys.executable, "stages/search.py")
    assert _outputs(project) == done

    (project / JOURNAL).unlink()
    _kill_after_a_batch(project)
    resumed = run(project, sys.executable, "stages/search.py")
    assert "search: resumed" in resumed.stdout
    assert _outputs(project) == done and len(_trials(project)) == 12

    # A journal cut inside a batch (as a write that died half-way would leave it) is not resumed.
    journal = (project / JOURNAL).read_bytes()
    (project / JOURNAL).write_bytes(journal[: len(journal) * 2 // 3])
    cut = run(project, sys.executable, "stages/search.py")
    assert "resumed" not in cut.stdout and _outputs(project) == done and len(_trials(project)) == 12

    (project / JOURNAL).unlink()
    _kill_after_a_batch(project)
    write_params(project, edited(PARAMS, "search.seed", 1))  # the interrupted study is of other params
    other = run(project, sys.executable, "stages/search.py")
    assert "resumed" not in other.stdout
    trials = _trials(project)
    assert len(trials) == 12 and _outputs(project)["plots/search/trials.csv"] != done["plots/search/trials.csv"]
    # A finished study of the same params is read again, not retrained.
    again = run(project, sys.executable, "stages/search.py")
    assert "search: resumed" in again.stdout and "compiled" in again.stdout and len(_trials(project)) == 12


def test_every_trial_keeps_the_bound_and_the_confirmation_recomputes(project):
    proc = run(project, sys.executable, "stages/search.py")
    # Optuna's importance warnings come as one line of the stage's, naming the parameters.
    assert "Warning" not in proc.stderr + proc.stdout, proc.stderr
    few = [line for line in proc.stdout.splitlines() if "fewer than 2 complete trials" in line]
    assert len(few) <= 1 and all(line.startswith("search: importance of ") for line in few), proc.stdout
    metrics = json.loads((project / "metrics/search.json").read_text())
    trials = read_csv(project / "plots/search/trials.csv")
    shapes = [tuple(int(n) for n in s.split("-")) for s in trials["shape"]]
    assert all(parameter_count(s) <= 251 for s in shapes) and {len(s) for s in shapes} <= {3, 4}
    assert list(trials["trial"]) == list(range(12))
    complete = trials["state"] == "complete"
    assert np.all(trials["epochs"][complete] == 30) and set(trials["epochs"][~complete]) <= {10, 20}
    best = np.minimum.accumulate(np.where(complete, trials["score"], np.inf))
    np.testing.assert_array_equal(trials["best_so_far"], best)

    confirm = read_csv(project / "plots/search/confirm.csv")
    seeds = read_csv(project / "plots/seeds/optax_adam.csv")
    top = 2
    assert set(confirm["rank"]) == {1, 2}
    order = sorted(np.flatnonzero(complete), key=lambda i: (trials["score"][i], i))[:top]
    pairs = {}
    for rank, i in enumerate(order, start=1):
        rows = confirm["rank"] == rank
        c = metrics["confirmed"][f"rank_{rank}"]
        assert c["trial"] == trials["trial"][i] and np.all(confirm["trial"][rows] == trials["trial"][i])
        model = confirm["validate_mse"][rows].astype(np.float32).astype(np.float64)
        base = seeds["validate_mse"].astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(confirm["baseline_validate_mse"][rows].astype(np.float32), base.astype(np.float32))
        pairs[f"rank_{rank}"] = (model, base)
        assert c["validate_mse"]["mean"] == pytest.approx(np.mean(model), rel=1e-6)
        # The gap to the search score: the two noise floors' difference plus the selection, adding up.
        g = c["gap"]
        assert g["total"] == pytest.approx(c["validate_mse"]["mean"] - c["score"], rel=1e-9)
        assert g["noise_floor"] + g["selection"] == pytest.approx(g["total"], rel=1e-9, abs=1e-15)
        assert g["selection"] == pytest.approx(c["true_mse"]["mean"] - trials["true_mse"][i], rel=1e-6, abs=1e-12)
    check_family({k: c["vs_baseline"] for k, c in metrics["confirmed"].items()}, pairs)
    # Each rung's Spearman correlation with the final score, over the complete trials, from the journal.
    complete = [t for t in _trials(project) if t.state == optuna.trial.TrialState.COMPLETE]
    final = np.array([t.value for t in complete])
    assert [r["epochs"] for r in metrics["rungs"]] == [10, 20]
    for rung in metrics["rungs"]:
        at = np.array([t.intermediate_values[rung["epochs"]] for t in complete])
        assert rung["n_complete"] == len(complete)
        expected = stats.spearmanr(at, final).statistic if len(complete) >= 3 else None  # two points: no correlation
        assert rung["spearman_complete"] == (expected if expected is None else pytest.approx(expected, rel=1e-12))
    assert metrics["answer"] and metrics["best"]["trial"] == metrics["confirmed"]["rank_1"]["trial"]

    # The best trial's entry, pasted into models:, trains the same replicates through seeds@.
    entry = metrics["best"]["entry"]
    pasted = edited(PARAMS, "models.best", entry)
    write_params(project, pasted)
    run(project, sys.executable, "stages/seeds.py", "best")
    again = read_csv(project / "plots/seeds/best.csv")
    rows = confirm["rank"] == 1
    np.testing.assert_array_equal(again["validate_mse"], confirm["validate_mse"][rows])
    np.testing.assert_array_equal(again["true_mse"], confirm["true_mse"][rows])


def test_make_dashboard_serves_the_committed_study_with_no_network():
    """`make dashboard` serves Optuna's dashboard on the committed journal: the study's trials
    over its API, and a page whose script is served from the wheel, not fetched."""
    import os
    import socket
    import urllib.request

    from tests.conftest import REPO

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["make", "-s", "dashboard", f"DASHBOARD_PORT={port}"], cwd=REPO, env=env_for(REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, body = time.time() + 60, None
        while body is None:
            assert proc.poll() is None and time.time() < deadline, "the dashboard did not start"
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5).read()
            except OSError:
                time.sleep(0.2)
        studies = json.loads(body)["study_summaries"]
        assert [s["study_name"] for s in studies] == ["search"]
        trials = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/0?after=0").read())["trials"]
        metrics = json.loads((REPO / "metrics/search.json").read_text())
        assert len(trials) == metrics["n_trials"]
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard").read().decode()
        scripts = __import__("re").findall(r'<script[^>]*src="([^"]+)"', page)
        assert scripts and all(src.startswith("/") for src in scripts), scripts
        for src in scripts:
            assert len(urllib.request.urlopen(f"http://127.0.0.1:{port}{src}").read()) > 100_000
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_search_too_big_for_memory_stops_before_training_saying_how_much_it_needs(project):
    write_params(project, edited(edited(PARAMS, "data.n_points", 10**7), "search.n_seeds", 1024))
    proc = run(project, sys.executable, "stages/search.py", check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "search (search.n_seeds: 1024, trials_per_call: 2): 2048 networks need about" in lines[0], proc.stderr
    assert not (project / JOURNAL).exists() or (project / JOURNAL).stat().st_size == 0
    assert not (project / "metrics/search.json").exists()
