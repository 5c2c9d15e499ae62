"""The lecture-equivalent part of the pipeline against the lecture's code as one script, side by side.

Pipeline: in a fresh clone of this repository's HEAD, `dvc repro -f -s data train@keras
train@gd train@optax_sgd train@optax_adam report` (the data, the four trainers with their
evaluation, the report), with an empty JAX compilation cache (cold) or the one the cold
run filled (`--warm` adds those runs). Baseline: `lecture/script.py`, the
lecture's notebook as one process (data, Keras `fit`, hand GD, Optax SGD and Adam, their
plots and table). They alternate, `--repeats` times; walls are from starting the
command to its exit.

Prints the medians, the median of the paired ratios pipeline / lecture, a breakdown per
stage of the median cold run (process start and imports, compile, training, evaluation
and writing, the rest of the stage's main, and DVC's own time between stages), and the
wall of a no-op `dvc repro` in this repository.

`--whole`: instead, the whole default pipeline cold, as the search issue's target reads it
(`dvc repro -f`, every stage, an empty compilation cache, the search's study removed so it
runs from scratch), `--repeats` times (no baseline: the lecture has no such script), with
the same breakdown, summed by kind of stage. Beside the no-op `dvc repro`, DVC's own floor: the
same in a bare project of as many stages that only read params.yaml, and of one.

    python benchmarks/pipeline.py [--repeats 3] [--warm]
    python benchmarks/pipeline.py --whole [--repeats 1]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nnreg.runtime import machine  # noqa: E402  (the standard library only: no JAX in this process)
STAGES = ["data", "train@keras", "train@gd", "train@optax_sgd", "train@optax_adam", "report"]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT",
                                                                    "NNREG_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", KERAS_BACKEND="jax",
               DVC_NO_ANALYTICS="1", **extra)
    return env


def _wall(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:  # what failed, not only that it did
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode} in {cwd}:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def pipeline_run(clone: Path, cache: Path, log: Path, stages: list[str] | None = STAGES) -> tuple[float, list[dict]]:
    """`dvc repro -f` of `stages` (None: every stage) in `clone`: its wall, and each stage's
    times from its log line and its timing file (compile and training)."""
    log.unlink(missing_ok=True)
    # PYTHONPATH: the clone's own nnreg, not the one the venv's editable install points at (this
    # repository's working tree, which may hold uncommitted changes).
    env = _env(JAX_COMPILATION_CACHE_DIR=str(cache), NNREG_STAGE_LOG=str(log), PYTHONPATH=str(clone))
    wall = _wall([sys.executable, "-m", "dvc", "repro", "-f", *(["-s", *stages] if stages else [])], clone, env)
    done = [json.loads(line) for line in log.read_text().splitlines()]
    for s in done:
        kind, *model = s["stage"].split()
        timing = {"train": f"metrics/timing/{''.join(model)}.json", "seeds": f"metrics/timing/seeds/{''.join(model)}.json",
                  "sweep": f"metrics/timing/sweep/{''.join(model)}.json", "search": "metrics/timing/search.json"}
        if kind in timing:
            t = json.loads((clone / timing[kind]).read_text())
            # The search: its training's wall; its compile time is summed over two threads (wall: less).
            s.update(compile_s=t["compile_s"], runtime_s=t["train_s"] if kind == "search" else t["runtime_s"])
    return wall, done


def breakdown(wall: float, stages: list[dict]) -> list[str]:
    rows = ["| stage | start and imports (s) | compile (s) | training (s) | evaluation and writing (s) | rest (s) "
            "| process (s) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    in_stages = 0.0
    for s in stages:
        known = s["process_start"] is not None
        start = (s["main_at"] - s["process_start"]) if known else float("nan")
        main = s["done_at"] - s["main_at"]
        compile_s, train_s = s.get("compile_s", 0.0), s.get("runtime_s", 0.0)
        process = s["done_at"] - (s["process_start"] if known else s["main_at"])
        in_stages += process
        rows.append(f"| {s['stage']} | {start:.2f} | {compile_s:.2f} | {train_s:.2f} | {s['writing_s']:.2f} | "
                    f"{main - compile_s - train_s - s['writing_s']:.2f} | {process:.2f} |")
    rows.append(f"| DVC (its start, hashing, dvc.lock, between stages) | | | | | | {wall - in_stages:.2f} |")
    rows.append(f"| total (wall of dvc repro) | | | | | | {wall:.2f} |")
    return rows


def by_kind(stages: list[dict]) -> list[dict]:
    """The stages' log lines summed by kind (train, seeds, sweep, ...), with their count."""
    kinds: dict[str, dict] = {}
    for s in stages:
        kind = s["stage"].split()[0]
        k = kinds.setdefault(kind, {"stage": kind, "n": 0, "process_start": 0.0, "main_at": 0.0, "done_at": 0.0,
                                    "writing_s": 0.0, "compile_s": 0.0, "runtime_s": 0.0})
        k["n"] += 1
        start = s["process_start"] if s["process_start"] is not None else s["main_at"]
        k["main_at"] += s["main_at"] - start  # as offsets from process_start 0: the sums of each part
        k["done_at"] += s["done_at"] - start
        for key in ("writing_s", "compile_s", "runtime_s"):
            k[key] += s.get(key, 0.0)
    return [{**k, "stage": f"{k['stage']} ({k['n']})"} for k in kinds.values()]


def dvc_floor(tmp: Path, n_stages: int) -> float:
    """A no-op `dvc repro`'s wall (median of 3) in a bare DVC project of `n_stages` stages, each
    reading params.yaml's data, network and train (nnreg's file) and writing one small file:
    what DVC itself costs, whatever its stages do."""
    root = tmp / f"floor{n_stages}"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, env=_env())
    shutil.copy2(REPO / "params.yaml", root / "params.yaml")
    (root / "dvc.yaml").write_text("stages:\n" + "".join(
        f"  s{i}:\n    cmd: echo {i} > out{i}.txt\n    params: [data, network, train]\n    outs: [out{i}.txt]\n"
        for i in range(n_stages)))
    _wall([sys.executable, "-m", "dvc", "repro"], root, _env())
    return statistics.median(_wall([sys.executable, "-m", "dvc", "repro"], root, _env()) for _ in range(3))


def whole(repeats: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="nnreg-bench-"))
    try:
        clone = tmp / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        runs, lecture = [], []
        for i in range(repeats):
            (clone / "models/search.journal").unlink(missing_ok=True)  # the search from scratch
            runs.append(pipeline_run(clone, tmp / f"cache{i}", tmp / "stages.jsonl", stages=None))
            # The box's speed at the time (shared machines vary): the lecture's script beside it.
            lecture.append(_wall([sys.executable, str(REPO / "lecture/script.py"), str(tmp / "lecture")], REPO, _env()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    walls = [w for w, _ in runs]
    print(f"{machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}")
    print(f"The whole default pipeline cold (dvc repro -f, empty compilation cache, the search from scratch); "
          f"{os.cpu_count()} CPUs; median {statistics.median(walls):.1f} s (runs: {', '.join(f'{w:.1f}' for w in walls)}); "
          f"the lecture's script beside each: {', '.join(f'{w:.1f}' for w in lecture)} s; pipeline / lecture "
          f"{statistics.median([w / lect for w, lect in zip(walls, lecture, strict=True)]):.1f}")
    wall, stages = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    print(f"\nThe median run, by kind of stage ({wall:.1f} s; the search's compile is summed over its threads):")
    print("\n".join(breakdown(wall, by_kind(stages))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="also time runs with the compilation cache filled")
    ap.add_argument("--whole", action="store_true", help="the whole default pipeline cold, the search from scratch")
    a = ap.parse_args()
    if a.whole:
        return whole(a.repeats)

    tmp = Path(tempfile.mkdtemp(prefix="nnreg-bench-"))
    try:
        clone = tmp / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        walls = {"pipeline": [], "warm": [], "lecture": []}
        runs = []
        for i in range(a.repeats):
            cache = tmp / f"cache{i}"
            wall, stages = pipeline_run(clone, cache, tmp / "stages.jsonl")
            walls["pipeline"].append(wall)
            runs.append((wall, stages))
            if a.warm:
                walls["warm"].append(pipeline_run(clone, cache, tmp / "stages.jsonl")[0])
            walls["lecture"].append(_wall([sys.executable, str(REPO / "lecture/script.py"),
                                           str(tmp / "lecture")], REPO, _env()))
        noop = [_wall([sys.executable, "-m", "dvc", "repro"], REPO, _env()) for _ in range(3)]
        n_stages = len(subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=REPO,
                                      env=_env(), capture_output=True, text=True, check=True).stdout.split())
        floors = {n: dvc_floor(tmp, n) for n in (1, n_stages)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ratios = [p / lect for p, lect in zip(walls["pipeline"], walls["lecture"], strict=True)]
    print(f"{machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}")
    print(f"{a.repeats} alternating runs each; {os.cpu_count()} CPUs; stages: {' '.join(STAGES)}")
    print("| run | wall (s), median | runs (s) |\n| --- | ---: | --- |")
    for name, label in (("lecture", "the lecture's code, one script"),
                        ("pipeline", "pipeline, cold compilation cache"), ("warm", "pipeline, warm cache")):
        if walls[name]:
            print(f"| {label} | {statistics.median(walls[name]):.1f} | "
                  f"{', '.join(f'{w:.1f}' for w in walls[name])} |")
    print(f"pipeline (cold) / lecture: {statistics.median(ratios):.2f} (paired: "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")
    if walls["warm"]:
        warm = [w / lect for w, lect in zip(walls["warm"], walls["lecture"], strict=True)]
        print(f"pipeline (warm) / lecture: {statistics.median(warm):.2f}")
    print(f"no-op dvc repro (this repository): {statistics.median(noop):.2f} s (runs: "
          f"{', '.join(f'{w:.2f}' for w in noop)}); a bare DVC project's, stages that only read params.yaml: "
          + ", ".join(f"{n} stage{'s' * (n > 1)} {w:.2f} s" for n, w in floors.items()))
    wall, stages = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    print(f"\nThe median cold run, stage by stage ({wall:.1f} s):")
    print("\n".join(breakdown(wall, stages)))


if __name__ == "__main__":
    main()
