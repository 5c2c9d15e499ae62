"""Each stage script as a process: one-line errors, nothing written on failure."""

import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import copy_project
from tests.helpers import TINY, edited, run, write_params


@pytest.fixture
def project(tmp_path):
    copy_project(tmp_path)
    write_params(tmp_path, TINY)
    return tmp_path


@pytest.mark.parametrize(
    "stage,key,value,rule",
    [
        (["stages/data.py"], "data.n_points", 1, "between 2 and"),
        (["stages/train.py", "gd"], "train.epochs", 0, "must be > 0"),
        (["stages/train.py", "optax_adam"], "models.optax_adam.learning_rate", -1.0, "must be > 0"),
        (["stages/train.py", "keras"], "network.activation", "swish", "must be one of"),
        (["stages/train.py", "keras"], "network.layer_sizes", [1, 5, 2], "starting and ending with 1"),
        (["stages/seeds.py", "gd"], "stats.n_seeds", 1, "must be between 2 and 65536"),
        (["stages/sweep.py", "gd"], "sweep.learning_rates", [0.1], "must be a list of 2 to 256 different numbers"),
        (["stages/compare.py"], "stats.baseline", "keras", "must name a model whose trainer is jax"),
        (["stages/train.py", "gd"], "models.gd.optimizer", "adamax", "must be one of gd, sgd, momentum"),
    ],
)
def test_bad_params_stop_the_stage_with_one_line(project, stage, key, value, rule):
    write_params(project, edited(TINY, key, value))
    proc = run(project, sys.executable, *stage, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and rule in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project / "data").exists() and not (project / "models").exists()


def test_a_date_that_does_not_exist_and_a_failed_write_stop_the_stage_with_one_line(project):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text.replace("seed: 14", "seed: 2020-02-30"))
    proc = run(project, sys.executable, "stages/data.py", check=False)
    assert proc.returncode == 2 and proc.stderr == ("error: params.yaml: a value YAML cannot read (ValueError: day is "
                                                    "out of range for month)\n"), proc.stderr
    (project / "params.yaml").write_text(text)
    (project / "data").write_text("a file where the data folder should be")
    proc = run(project, sys.executable, "stages/data.py", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: data/dataset.npz: cannot write (")
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_unknown_model_and_missing_data(project):
    proc = run(project, sys.executable, "stages/train.py", "adam", check=False)
    assert proc.returncode == 2 and "MODEL one of keras, gd, optax_adam" in proc.stderr
    proc = run(project, sys.executable, "stages/train.py", "gd", check=False)
    assert proc.returncode == 2 and "data/dataset.npz: file not found" in proc.stderr


def test_corrupt_dataset_names_the_file(project):
    run(project, sys.executable, "stages/data.py")
    (project / "data/dataset.npz").write_bytes(b"garbage" * 100)
    proc = run(project, sys.executable, "stages/train.py", "gd", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0]
    assert "data/dataset.npz: not a valid .npz file" in proc.stderr
    assert not (project / "models").exists()


def test_same_seed_gives_byte_identical_data(project):
    run(project, sys.executable, "stages/data.py")
    first = (project / "data/dataset.npz").read_bytes()
    run(project, sys.executable, "stages/data.py")
    assert (project / "data/dataset.npz").read_bytes() == first


# stages/train.py run as `python stages/train.py <model>` would, with `patch` applied first
# (to the runtime modules the stage then imports from).
TRAINER_WITH = """
import os, signal, sys
sys.argv = ["stages/{stage}", "{model}"]
import runpy
from nnreg.runtime import files, stage
{patch}
sys.path.insert(0, "stages")  # as `python stages/{stage}` has it
runpy.run_path("stages/{stage}", run_name="__main__")
"""

# The KeyboardInterrupt lost, as when the signal lands in a `__del__` or a weakref
# callback: Python prints "Exception ignored" and carries on.
LOST_INTERRUPT = """
real = stage.all_or_none

class Swallower:
    def __del__(self):
        os.kill(os.getpid(), signal.{sig})
        for _ in range(10_000):  # the handler runs here; its exception is ignored
            pass

def write_after_a_lost_interrupt():
    Swallower()  # dropped at once: __del__ runs and swallows the KeyboardInterrupt
    print("still running", flush=True)
    return real()

stage.all_or_none = write_after_a_lost_interrupt
"""

# Told to stop while it writes: the signal arrives after its second file.
STOP_WHILE_WRITING = """
real = files.write_history

def write_then_stop(*args):
    real(*args)
    os.kill(os.getpid(), signal.{sig})
    print("signalled", flush=True)

files.write_history = write_then_stop
"""

TRAINERS = [("train.py", "gd"), ("train.py", "keras")]


def _outputs(project, model):
    return [project / f for f in (f"models/{model}.npz", f"plots/history/{model}.csv", f"metrics/timing/{model}.json",
                                  f"metrics/{model}.json", f"plots/fit/{model}.csv")]


@pytest.mark.parametrize("stage,model", TRAINERS)
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_trainer_told_to_stop_writes_nothing_even_if_the_interrupt_is_lost(project, sig, stage, model):
    run(project, sys.executable, "stages/data.py")
    script = TRAINER_WITH.format(stage=stage, model=model, patch=LOST_INTERRUPT.format(sig=sig))
    proc = run(project, sys.executable, "-c", script, check=False)
    assert "still running" in proc.stdout and "Exception ignored" in proc.stderr, proc.stderr
    assert proc.returncode == 128 + getattr(signal, sig), proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"interrupted ({sig})"
    assert not (project / "models").exists() and not (project / "plots").exists()
    assert not (project / "metrics").exists()


@pytest.mark.parametrize("stage,model", TRAINERS)
def test_a_trainer_told_to_stop_while_writing_finishes_every_output_then_stops(project, stage, model):
    """All or none: a signal between two writes waits for the rest, then stops the stage."""
    run(project, sys.executable, "stages/data.py")
    script = TRAINER_WITH.format(stage=stage, model=model, patch=STOP_WHILE_WRITING.format(sig="SIGTERM"))
    proc = run(project, sys.executable, "-c", script, check=False)
    assert "signalled" in proc.stdout, proc.stderr
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "interrupted (SIGTERM)"
    assert all(f.exists() for f in _outputs(project, model)), [f for f in _outputs(project, model) if not f.exists()]
    # ... and they are the outputs of an uninterrupted run.
    written = [f.read_bytes() for f in _outputs(project, model)[:2] + _outputs(project, model)[3:]]
    run(project, sys.executable, f"stages/{stage}", model)
    assert written == [f.read_bytes() for f in _outputs(project, model)[:2] + _outputs(project, model)[3:]]


def test_progress_lines_come_every_tenth_of_the_run_or_five_seconds_and_at_the_end():
    from nnreg.runtime.progress import Progress, tenths

    assert tenths(4000) == list(range(400, 4001, 400)) and tenths(17) == [2, 3, 5, 7, 8, 10, 12, 14, 15, 17]
    assert tenths(3) == [1, 2, 3]
    now, lines = [-7.0], []
    progress = Progress("gd", 1000, clock=lambda: now[0], write=lines.append)
    now[0] = 0.0
    progress(0, float("nan"))  # the work starts, 7 s (compiling) after the object was made
    assert lines == []
    for done in range(1, 1001):
        now[0] = done * 0.001 if done < 500 else 0.5 + (done - 500) * 0.1  # slow after half way
        progress(done, 1.0 / done)
    epochs = [int(line.split("epoch ")[1].split("/")[0]) for line in lines]
    # Each tenth while fast; every 5 s (50 epochs) once slow; the end always.
    assert epochs == [100, 200, 300, 400, 500, 550, 600, 650, 700, 750, 800, 850, 900, 950, 1000], epochs
    assert lines[0] == "gd: epoch 100/1000 (10 %), loss 0.010000; 0.1 s, about 0.9 s left"
    assert lines[-1].endswith("; 50.5 s, done")


def test_the_jax_trainer_logs_its_last_epoch(project):
    write_params(project, edited(TINY, "train.epochs", 17))
    run(project, sys.executable, "stages/data.py")
    out = run(project, sys.executable, "stages/train.py", "gd").stdout
    assert [line.split(",")[0] for line in out.splitlines() if " epoch " in line][-2:] == [
        "gd: epoch 15/17 (88 %)", "gd: epoch 17/17 (100 %)"]


def test_replicate_stages_name_their_models_and_files(project):
    proc = run(project, sys.executable, "stages/sweep.py", "optax_adam", check=False)
    assert proc.returncode == 2 and "MODEL one of gd" in proc.stderr  # TINY sweeps gd only
    proc = run(project, sys.executable, "stages/compare.py", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: plots/seeds/keras.csv: file not found (run the stage " \
                                                          "that writes it: dvc repro)"


def test_keras_is_swept_with_its_own_sgd_rate(project):
    """sweep.models may name Keras: its replicates at each rate, Keras's SGD at that rate; the
    rate that blows up is marked diverged, the other has a finite mean."""
    import csv
    import json

    write_params(project, edited(TINY, "sweep.models", ["gd", "keras"]))
    run(project, sys.executable, "stages/data.py")
    out = run(project, sys.executable, "stages/sweep.py", "keras").stdout
    assert "keras: 4 networks (2 rates x 2 replicates)" in out
    rows = list(csv.DictReader((project / "plots/sweep/keras.csv").open()))
    assert [float(r["learning_rate"]) for r in rows] == [0.01, 10.0]
    assert float(rows[0]["diverged_fraction"]) == 0.0 and 0 < float(rows[0]["validate_mse_mean"]) < 10
    assert float(rows[1]["diverged_fraction"]) == 1.0
    assert json.loads((project / "metrics/timing/sweep/keras.json").read_text())["n_networks"] == 4


def test_a_replicate_batch_too_big_stops_before_training(project):
    params = edited(edited(TINY, "data.n_points", 10**7), "stats.n_seeds", 4096)
    write_params(project, params)
    proc = run(project, sys.executable, "stages/seeds.py", "gd", check=False)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: seeds@gd (stats.n_seeds: 4096): 4096 networks need about ") and "GiB is free" in line
    assert not (project / "plots").exists() and not (project / "metrics").exists()


def test_the_compilation_cache_is_used_and_changes_no_bit(project, tmp_path):
    """A trainer with an empty cache, again with it warm, and with it off: the same bytes. The
    cache is the stages' own default, $XDG_CACHE_HOME/nnreg/jax/<this CPU kind>."""
    import subprocess

    from nnreg.runtime.machine import machine_id
    from tests.helpers import env_for

    run(project, sys.executable, "stages/data.py")
    cache = tmp_path / "xdg/nnreg/jax" / machine_id()
    outputs = []
    for extra in ({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")},
                  {"NNREG_COMPILE_CACHE": "0"}):
        env = {**env_for(project), **extra}
        env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")  # the stage's own setting: cache everything
        env.pop("JAX_COMPILATION_CACHE_DIR")
        subprocess.run([sys.executable, "stages/train.py", "optax_adam"], cwd=project, env=env, check=True,
                       capture_output=True)
        outputs.append((project / "models/optax_adam.npz").read_bytes())
        if len(outputs) == 1:
            entries = len(list(cache.iterdir()))
            assert entries > 3, "the stage wrote nothing to the cache"
    assert len(list(cache.iterdir())) == entries  # the warm run compiled nothing new
    assert outputs[0] == outputs[1] == outputs[2]


def test_every_jax_stage_sets_up_its_machine_and_cache_before_jax_starts(project, tmp_path):
    """Each stage that computes with JAX calls `machine.setup()` first, explicitly: loaded (not run),
    its process has the pins in XLA_FLAGS, JAX's backends not started yet, and the compilation
    cache in $XDG_CACHE_HOME/nnreg/jax/<this CPU kind>; a seeds stage then fills it. The stages
    that compute nothing with JAX (compare, report) set up nothing."""
    import subprocess

    from nnreg.runtime.machine import machine_id
    from tests.helpers import env_for

    env = {**env_for(project), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    env.pop("JAX_COMPILATION_CACHE_DIR")
    env.pop("XLA_FLAGS", None)
    probe = ("import os, runpy, sys; sys.path.insert(0, 'stages'); runpy.run_path(sys.argv[1], run_name='probe'); "
             "import jax; from jax._src import xla_bridge; "
             "print(os.environ.get('XLA_FLAGS', ''), '|', xla_bridge.backends_are_initialized(), '|', "
             "jax.config.jax_compilation_cache_dir)")
    cache = str(tmp_path / "xdg/nnreg/jax" / machine_id())
    scripts = {"stages/data.py": True, "stages/train.py": True, "stages/seeds.py": True, "stages/sweep.py": True,
               "stages/compare.py": False, "stages/report.py": False}  # script: computes with JAX

    def loaded(script):
        return subprocess.run([sys.executable, "-c", probe, script], cwd=project, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = dict(zip(scripts, pool.map(loaded, scripts)))
    for script, computes in scripts.items():
        flags, started, cache_dir = (part.strip() for part in outs[script].split("|"))
        assert started == "False", script
        assert ("--xla_cpu_max_isa=AVX2" in flags.split(), cache_dir == cache) == (computes, computes), outs[script]
    run(project, sys.executable, "stages/data.py")
    subprocess.run([sys.executable, "stages/seeds.py", "gd"], cwd=project, env=env, check=True, capture_output=True)
    assert len(list((tmp_path / "xdg/nnreg/jax" / machine_id()).iterdir())) > 3, "seeds@gd wrote nothing to the cache"


def test_long_stages_print_progress_with_the_loss_and_the_time_left(project):
    run(project, sys.executable, "stages/data.py")
    for cmd, head in ((["stages/seeds.py", "gd"], "gd: 4 replicates: epoch"),
                      (["stages/sweep.py", "gd"], "gd: 4 networks: epoch"), (["stages/train.py", "keras"], "keras: epoch")):
        out = run(project, sys.executable, *cmd).stdout
        lines = [line for line in out.splitlines() if line.startswith(head)]
        done = [int(line.split(" (")[0].split("epoch ")[1].removesuffix("/30")) for line in lines]
        if "keras" in head:  # every tenth (each epoch is reported to Progress)
            assert done == list(range(3, 31, 3)), out
        else:  # the first tenth, then chunks of at most 5 s at that pace: here, the rest at once
            assert done[0] == 3 and done[-1] == 30 and done == sorted(set(done)), out
        assert all(" left" in line for line in lines[:-1]) and lines[-1].endswith(", done"), lines
        assert "loss " in lines[0] and float(lines[0].split("loss ")[1].split(",")[0].split(";")[0]) > 0


def test_a_stage_logs_its_times_for_the_pipeline_benchmark(project, tmp_path):
    """NNREG_STAGE_LOG (benchmarks/pipeline.py): one JSON line a stage, in time order."""
    import json
    import os
    import subprocess
    import time

    from tests.helpers import env_for

    log = tmp_path / "stages.jsonl"
    before = time.time()
    for cmd in (["stages/data.py"], ["stages/train.py", "gd"]):
        subprocess.run([sys.executable, *cmd], cwd=project, env={**env_for(project), "NNREG_STAGE_LOG": str(log)},
                       check=True, capture_output=True)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["stage"] for s in lines] == ["data", "train gd"]
    for s in lines:
        assert before - 0.05 <= s["process_start"] <= s["main_at"] <= s["done_at"] <= time.time()
    assert lines[0]["writing_s"] == 0 and 0 < lines[1]["writing_s"] < lines[1]["done_at"] - lines[1]["main_at"]
    assert lines[1]["process_start"] >= lines[0]["done_at"] - 0.05  # one after the other
    assert "NNREG_STAGE_LOG" not in os.environ
