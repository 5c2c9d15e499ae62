"""The search spread over worker processes sharing one study (`nnreg.search.shared`): a real
PostgreSQL server started by the test (tests/postgres.py) and a journal file shared on one
host. Three workers (the stage and two `python -m nnreg.search.worker`), one SIGKILLed
mid-batch: every trial finished once, exactly `n_trials`, the killed worker's trials proposed
again and finished, the winner confirmed, the password in no file or log. The server restarted
mid-search (the workers carry on) and kept away (a one-line stop; the next run resumes). A worker
with other params refuses to join, in one line."""

import json
import signal
import subprocess
import sys
import threading
import time

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.conftest import copy_project
from tests.helpers import TINY, edited, env_for, run, write_params
from tests.postgres import postgres  # noqa: F401: the fixture

N_TRIALS = 12
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
# Enough data and replicates that a batch trains for about a second: a worker is killed inside one.
PARAMS = edited(edited(edited(edited(edited(edited(edited(
    TINY, "search.n_trials", N_TRIALS), "search.batch", 2), "search.n_seeds", 16), "data.n_points", 20000),
    "train.epochs", 400), "search.pruning", {"min_epochs": 100, "reduction_factor": 2}),
    "search.storage", {"url_env": "NNREG_SEARCH_STORAGE", "lease_s": 15.0, "retry_s": 60.0})


class Proc:
    """A process whose output lines are collected as they come."""

    def __init__(self, root, env, *args):
        self.p = subprocess.Popen([sys.executable, "-u", *args], cwd=root, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.p.stdout), daemon=True)
        self._reader.start()

    def wait_for(self, text: str, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while not any(text in line for line in self.lines):
            assert self.p.poll() is None or any(text in line for line in self.lines), \
                f"ended before {text!r}:\n{self.output}"
            assert time.time() < deadline, f"no {text!r} in {timeout} s:\n{self.output}"
            time.sleep(0.01)

    def finish(self, timeout: float = 400) -> int:
        code = self.p.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _project(root, url: str) -> dict:
    copy_project(root)
    write_params(root, PARAMS)
    run(root, sys.executable, "stages/seeds.py", "optax_adam")  # the baseline the confirmation pairs with
    return {**env_for(root), "NNREG_SEARCH_STORAGE": url}


def _search_with_a_killed_worker(root, env, during=None) -> tuple[Proc, Proc, Proc]:
    """The stage and two workers; the first worker SIGKILLed as it starts training its first
    batch; then `during()`. Returns (stage, killed, survivor), the stage and survivor done."""
    stage = Proc(root, env, "stages/search.py")
    killed, survivor = Proc(root, env, "-m", "nnreg.search.worker"), Proc(root, env, "-m", "nnreg.search.worker")
    killed.wait_for("asked trials")
    killed.p.send_signal(signal.SIGKILL)
    killed.finish()
    if during is not None:
        during()
    assert stage.finish() == 0, stage.output
    assert survivor.finish() == 0, survivor.output
    return stage, killed, survivor


def _check_study(study: optuna.Study, killed: Proc) -> None:
    """Exactly N_TRIALS finished, none twice; every trial failed but for surplus is one of the killed
    worker's (its lease lost), proposed again, each retry finished."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state in DONE]
    assert len(done) == N_TRIALS, [(t.number, t.state) for t in trials]
    assert not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    pid = str(killed.p.pid)
    lost = [t for t in trials if t.state == TrialState.FAIL and not t.user_attrs.get("surplus")]
    assert lost, "the killed worker's trials were not noticed"
    assert all(t.state == TrialState.FAIL and t.user_attrs["lease"]["worker"].endswith(":" + pid) for t in lost), \
        [(t.number, t.user_attrs) for t in lost]
    assert not any(t.state in DONE and t.user_attrs.get("worker", "").endswith(":" + pid) for t in trials)
    retries = {t.user_attrs["retry_of"]: t for t in trials if "retry_of" in t.user_attrs}
    for t in lost:  # proposed again: as far as it was proposed (a worker killed inside `suggest` set some)
        assert retries[t.number].state in DONE and t.params.items() <= retries[t.number].params.items()
    workers = {t.user_attrs["worker"] for t in done}
    assert len(workers) == 2, workers  # the stage and the survivor both trained


def _check_outputs(root, password: str, *procs: Proc) -> None:
    metrics = json.loads((root / "metrics/search.json").read_text())
    assert metrics["n_trials"] == N_TRIALS and "rank_1" in metrics["confirmed"]
    snapshot = optuna.load_study(study_name="search", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(root / "models/search.journal"))))
    assert sum(t.state in DONE for t in snapshot.get_trials(deepcopy=False)) == N_TRIALS
    for path in root.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    for p in procs:
        assert password not in p.output


def test_three_workers_share_a_postgresql_study_through_a_kill_and_a_restart(tmp_path, postgres):  # noqa: F811
    env = _project(tmp_path, postgres.url)

    def restart():  # mid-search: the workers retry while it is away, then carry on
        time.sleep(1.0)
        postgres.stop()
        time.sleep(3.0)
        postgres.start()

    stage, killed, survivor = _search_with_a_killed_worker(tmp_path, env, restart)
    assert any("unreachable" in p.output for p in (stage, survivor)), stage.output + survivor.output
    study = optuna.load_study(study_name="search", storage=postgres.url)
    _check_study(study, killed)
    _check_outputs(tmp_path, postgres.password, stage, killed, survivor)
    shown = f"postgresql://nnreg:***@127.0.0.1:{postgres.port}/nnreg"
    assert shown in stage.output

    # A database that stays away: a worker stops with one line, the password masked.
    away = tmp_path / "away.yaml"
    away.write_text(yaml.safe_dump(edited(PARAMS, "search.storage.retry_s", 2.0), sort_keys=False))
    postgres.stop()
    try:
        stopped = run(tmp_path, sys.executable, "-m", "nnreg.search.worker", "--params", str(away), env=env,
                      check=False)
    finally:
        postgres.start()
    lines = stopped.stderr.strip().splitlines()
    assert stopped.returncode == 2 and len(lines) == 1, stopped.stderr
    assert "stayed unreachable" in lines[0] and "run again to resume" in lines[0] and shown in lines[0]
    assert postgres.password not in stopped.stdout + stopped.stderr

    # The next run resumes the study, and the confirmation is reproducible from it: the same bits.
    before = {n: (tmp_path / n).read_bytes() for n in ("metrics/search.json", "plots/search/confirm.csv",
                                                      "plots/search/trials.csv")}
    again = run(tmp_path, sys.executable, "stages/search.py", env=env)
    assert "(resumed)" in again.stdout + again.stderr
    assert before == {n: (tmp_path / n).read_bytes() for n in before}

    # A worker with other params refuses to join, in one line, the password masked.
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(edited(PARAMS, "search.seed", 1), sort_keys=False))
    refused = run(tmp_path, sys.executable, "-m", "nnreg.search.worker", "--params", str(other), env=env, check=False)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert "made by another checkout: search params" in lines[0] and shown in lines[0]
    assert postgres.password not in refused.stdout + refused.stderr


def test_three_workers_share_a_journal_file_on_one_host(tmp_path):
    shared, root = tmp_path / "shared" / "study.journal", tmp_path / "project"
    root.mkdir()
    env = _project(root, f"journal:{shared}")
    stage, killed, survivor = _search_with_a_killed_worker(root, env)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(shared)))
    _check_study(optuna.load_study(study_name="search", storage=storage), killed)
    _check_outputs(root, "no password", stage, killed, survivor)


@pytest.mark.parametrize("storage,message", [
    ({"url_env": "NNREG_NOT_SET"}, "the environment variable NNREG_NOT_SET is not set"),
    ({"url_file": "secret.url"}, "secret.url is not ignored by git"),
])
def test_a_storage_without_its_url_stops_in_one_line(tmp_path, storage, message):
    copy_project(tmp_path)
    write_params(tmp_path, edited(PARAMS, "search.storage", storage))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "secret.url").write_text("postgresql://u:hunter2@127.0.0.1:1/db\n")
    proc = run(tmp_path, sys.executable, "-m", "nnreg.search.worker", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr
