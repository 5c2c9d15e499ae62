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

    python benchmarks/pipeline.py [--repeats 3] [--warm]
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
STAGES = ["data", "train@keras", "train@gd", "train@optax_sgd", "train@optax_adam", "report"]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT",
                                                                    "NNREG_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", KERAS_BACKEND="jax",
               DVC_NO_ANALYTICS="1", **extra)
    return env


def _wall(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def pipeline_run(clone: Path, cache: Path, log: Path) -> tuple[float, list[dict]]:
    log.unlink(missing_ok=True)
    env = _env(JAX_COMPILATION_CACHE_DIR=str(cache), NNREG_STAGE_LOG=str(log))
    wall = _wall([sys.executable, "-m", "dvc", "repro", "-f", "-s", *STAGES], clone, env)
    stages = [json.loads(line) for line in log.read_text().splitlines()]
    for s in stages:
        model = s["stage"].split()[-1]
        timing = clone / f"metrics/timing/{model}.json"
        s.update(json.loads(timing.read_text()) if s["stage"].startswith("train ") else {})
    return wall, stages


def breakdown(wall: float, stages: list[dict]) -> list[str]:
    rows = ["| stage | start and imports (s) | compile (s) | training (s) | evaluation and writing (s) | rest (s) "
            "| process (s) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    in_stages = 0.0
    for s in stages:
        start = (s["main_at"] - s["process_start"]) if s["process_start"] else float("nan")
        main = s["done_at"] - s["main_at"]
        compile_s, train_s = s.get("compile_s", 0.0), s.get("runtime_s", 0.0)
        process = s["done_at"] - (s["process_start"] or s["main_at"])
        in_stages += process
        rows.append(f"| {s['stage']} | {start:.2f} | {compile_s:.2f} | {train_s:.2f} | {s['writing_s']:.2f} | "
                    f"{main - compile_s - train_s - s['writing_s']:.2f} | {process:.2f} |")
    rows.append(f"| DVC (its start, hashing, dvc.lock, between stages) | | | | | | {wall - in_stages:.2f} |")
    rows.append(f"| total (wall of dvc repro) | | | | | | {wall:.2f} |")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="also time runs with the compilation cache filled")
    a = ap.parse_args()

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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ratios = [p / lect for p, lect in zip(walls["pipeline"], walls["lecture"], strict=True)]
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
          f"{', '.join(f'{w:.2f}' for w in noop)})")
    wall, stages = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    print(f"\nThe median cold run, stage by stage ({wall:.1f} s):")
    print("\n".join(breakdown(wall, stages)))


if __name__ == "__main__":
    main()
