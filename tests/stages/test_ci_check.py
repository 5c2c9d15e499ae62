"""tools/check_reproduced.py, which .ci/run uses after `dvc repro -f`: it must see any change to a
deterministic output (dvc.lock's md5s included) and ignore only clock readings."""

import copy
import json
import subprocess
import sys

import yaml

from tests.conftest import REPO

from tools import check_reproduced as check

LOCK = yaml.safe_load((REPO / "dvc.lock").read_text())


def _set_md5(lock, stage, path, md5, kind="outs"):
    new = copy.deepcopy(lock)
    entry = next(e for e in new["stages"][stage][kind] if e["path"] == path)
    entry["md5"] = md5
    return new


def test_the_lock_comparison_sees_every_deterministic_change_and_only_those():
    assert check.lock_differences(LOCK, LOCK) == []
    # A model or the data set changed: reported.
    changed = _set_md5(LOCK, "train@gd", "models/gd.npz", "0" * 32)
    assert check.lock_differences(LOCK, changed) == [
        f"dvc.lock: train@gd: out models/gd.npz: md5 {next(e['md5'] for e in LOCK['stages']['train@gd']['outs'] if e['path'] == 'models/gd.npz')} -> {'0' * 32}"]
    assert len(check.lock_differences(LOCK, _set_md5(LOCK, "report", "data/dataset.npz", "1" * 32, "deps"))) == 1
    # Clock readings: ignored.
    assert check.lock_differences(LOCK, _set_md5(LOCK, "train@gd", "metrics/timing/gd.json", "2" * 32)) == []
    assert check.lock_differences(LOCK, _set_md5(LOCK, "report", "metrics", "3" * 32 + ".dir", "deps")) == []
    # A stage gone or its params changed: reported.
    fewer = copy.deepcopy(LOCK)
    del fewer["stages"]["train@keras"]
    assert check.lock_differences(LOCK, fewer) == ["dvc.lock: stage train@keras is in only one of the locks"]
    other = copy.deepcopy(LOCK)
    other["stages"]["data"]["params"]["params.yaml"]["data"]["seed"] = 15
    assert check.lock_differences(LOCK, other) == ["dvc.lock: data: params differs"]


def test_only_clock_readings_are_masked():
    summary = (REPO / "plots/summary.md").read_text()
    runtime = summary.splitlines()[4]  # the Keras row: | Keras | 8.081 | 0.151 | cpu | ...
    assert runtime.startswith("| Keras | ")
    cells = runtime.split("|")
    faster = "|".join(cells[:2] + [" 1.000 ", " 0.001 "] + cells[4:])
    other_mse = runtime.replace(cells[5], " 0.999999 ")
    assert check.clock_free("plots/summary.md", summary.replace(runtime, faster)) == check.clock_free(
        "plots/summary.md", summary)
    assert check.clock_free("plots/summary.md", summary.replace(runtime, other_mse)) != check.clock_free(
        "plots/summary.md", summary)
    timing = json.loads((REPO / "metrics/timing/gd.json").read_text())
    same = check.clock_free("metrics/timing/gd.json", json.dumps(timing))
    assert check.clock_free("metrics/timing/gd.json", json.dumps({**timing, "runtime_s": 9.0, "compile_s": 1.0})) == same
    assert check.clock_free("metrics/timing/gd.json", json.dumps({**timing, "epochs": 3})) != same
    # another CPU model, another record of the machine: the same results
    zen4 = {**timing["machine"], "cpu": "AMD EPYC 9454 48-Core Processor (family 25, model 17)",
            "cpu_isa": [*timing["machine"]["cpu_isa"], "avx512f"]}
    assert check.clock_free("metrics/timing/gd.json", json.dumps({**timing, "machine": zen4})) == same
    data = json.loads((REPO / "plots/summary.json").read_text())
    slower = copy.deepcopy(data)
    slower["single_run"][0]["runtime_s"] += 1
    other = copy.deepcopy(data)
    other["single_run"][0]["validate_mse"] += 1e-12
    assert check.clock_free("plots/summary.json", json.dumps(slower)) == check.clock_free(
        "plots/summary.json", json.dumps(data))
    assert check.clock_free("plots/summary.json", json.dumps(other)) != check.clock_free(
        "plots/summary.json", json.dumps(data))


def test_the_check_in_a_clone_fails_on_a_changed_result_and_passes_on_new_timings(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    tool = [sys.executable, str(REPO / "tools/check_reproduced.py")]

    def check_in_clone():
        return subprocess.run(tool, cwd=clone, capture_output=True, text=True)

    ok = check_in_clone()
    assert ok.returncode == 0 and "0 identical but for their clock readings" in ok.stdout, ok.stderr
    timing = clone / "metrics/timing/gd.json"
    timing.write_text(json.dumps({**json.loads(timing.read_text()), "runtime_s": 123.0}, indent=2) + "\n")
    (clone / "plots/images/summary.png").write_bytes(b"another picture of the runtimes")
    ok = check_in_clone()
    assert ok.returncode == 0 and "1 identical but for their clock readings" in ok.stdout, ok.stderr

    fit = clone / "plots/fit/gd.csv"
    fit.write_text(fit.read_text().replace("0", "1", 1))
    (clone / "metrics/new.json").write_text("{}")
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    (clone / "dvc.lock").write_text(yaml.safe_dump(_set_md5(lock, "train@optax_adam", "models/optax_adam.npz", "f" * 32)))
    failed = check_in_clone()
    assert failed.returncode == 1
    assert sorted(line.split(": ")[1] for line in failed.stderr.splitlines()) == [
        "dvc.lock", "metrics/new.json", "plots/fit/gd.csv"], failed.stderr
    assert "train@optax_adam: out models/optax_adam.npz" in failed.stderr
