"""JAX releases side by side: nnreg's trainers and pipeline under each of several interpreters,
each a venv with nnreg's pinned packages but its own jax/jaxlib.

Each of `--rounds` rounds runs, for every interpreter in turn (the order reversed every other
round, so neither always runs first on a warming machine):
- `benchmarks/bench.py --rounds 1` (the lecture's loops as published, in a process of their
  own under JAX's defaults, then nnreg's trainers as train@ runs them under the stages' CPU
  target), and
- with `--pipeline`, the lecture-equivalent stages (benchmarks/pipeline.py's STAGES: the data,
  the four trainers with their evaluation, the report) forced in a fresh clone of HEAD, with an
  empty compilation cache, `python -m dvc repro -f -s ...`, its wall; with `--whole` instead,
  every stage (`dvc repro -f`, the search's journal removed: from scratch).

Prints, per interpreter, the medians over the rounds and, against the first interpreter, the
median of the ratios paired by round (> 1: this release is slower). Which release computes
which bits is not this script's business: `tools/check_reproduced.py` after `dvc repro -f`.

    python benchmarks/releases.py --python .venv/bin/python --python /path/to/other/bin/python \
        [--rounds 5] [--repeats 5] [--pipeline | --whole]
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

from benchmarks.pipeline import STAGES  # noqa: E402

MODELS = ("gd", "optax_sgd", "optax_adam")


def _env(python: str, **extra) -> dict:
    """The interpreter's venv first on PATH (its dvc), this checkout's nnreg, no inherited cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "NNREG_"))}
    env.update(PATH=f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}", KERAS_BACKEND="jax",
               JAX_PLATFORMS="cpu", DVC_NO_ANALYTICS="1", PYTHONPATH=str(REPO))
    return {**env, **extra}


def release(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys, jax, jaxlib; print(jax.__version__, jaxlib.__version__, "
                          "'.'.join(map(str, sys.version_info[:2])))"],
                         env=_env(python), capture_output=True, text=True, check=True).stdout.split()
    return f"jax {out[0]} (jaxlib {out[1]}), Python {out[2]}"


def trainers(python: str, repeats: int, tmp: Path) -> dict:
    """One round of bench.py under `python`: {model: (lecture as published s, nnreg s)}."""
    out = tmp / "bench.json"
    subprocess.run([python, str(REPO / "benchmarks/bench.py"), "--rounds", "1", "--repeats", str(repeats),
                    "--json", str(out)], env=_env(python), check=True, stdout=subprocess.DEVNULL)
    return {r["model"]: (r["lecture_published_s"], r["nnreg_s"]) for r in json.loads(out.read_text())["rows"]}


def pipeline(python: str, clone: Path, cache: Path, whole: bool) -> float:
    """The lecture-equivalent stages (`whole`: every stage, the search from scratch) forced in
    `clone` under `python`, an empty compilation cache: wall (s)."""
    shutil.rmtree(cache, ignore_errors=True)
    if whole:
        (clone / "models/search.journal").unlink(missing_ok=True)
    env = _env(python, JAX_COMPILATION_CACHE_DIR=str(cache), PYTHONPATH=str(clone))
    start = time.perf_counter()
    command = [python, "-m", "dvc", "repro", "-f", *([] if whole else ["-s", *STAGES])]
    proc = subprocess.run(command, cwd=clone, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"dvc repro under {python} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", required=True,
                    help="an interpreter of a venv to compare (twice at least); the first is the reference")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pipeline", action="store_true", help="also time the lecture-equivalent stages")
    ap.add_argument("--whole", action="store_true", help="also time every stage, the search from scratch")
    a = ap.parse_args()
    a.pipeline = a.pipeline or a.whole
    if len(a.python) < 2:
        ap.error("give --python twice at least")

    names = {p: release(p) for p in a.python}
    results = {p: {"trainers": [], "pipeline": []} for p in a.python}
    tmp = Path(tempfile.mkdtemp(prefix="nnreg-releases-"))
    try:
        clones = {}
        if a.pipeline:
            for i, p in enumerate(a.python):
                clones[p] = tmp / f"repo{i}"
                subprocess.run(["git", "clone", "-q", str(REPO), str(clones[p])], check=True)
        for r in range(a.rounds):
            for i, p in enumerate(a.python if r % 2 == 0 else a.python[::-1]):
                results[p]["trainers"].append(trainers(p, a.repeats, tmp))
                if a.pipeline:
                    results[p]["pipeline"].append(pipeline(p, clones[p], tmp / "cache", a.whole))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    from nnreg.runtime import machine  # the CPU's name only (imports no JAX)

    ref = a.python[0]
    print(f"{machine.cpu_info()['model']}, {os.cpu_count()} CPUs; {a.rounds} rounds, each {a.repeats} runs "
          f"per trainer, medians; the ratio to the first row paired by round (> 1: slower); "
          f"{time.strftime('%Y-%m-%d')}")
    head = "| release | " + " | ".join(f"{m} nnreg (s) | {m} vs first" for m in MODELS)
    head += " | lecture as published, " + ", ".join(MODELS) + " (s)"
    stages = "whole pipeline, search from scratch" if a.whole else "pipeline's lecture stages"
    head += f" | {stages} (s) | vs first |" if a.pipeline else " |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for p in a.python:
        runs, ref_runs = results[p]["trainers"], results[ref]["trainers"]
        cells = []
        for m in MODELS:
            ours = [run[m][1] for run in runs]
            ratio = statistics.median(o[m][1] / f[m][1] for o, f in zip(runs, ref_runs, strict=True))
            cells += [f"{statistics.median(ours):.4f}", f"{ratio:.2f}"]
        cells.append(" / ".join(f"{statistics.median(run[m][0] for run in runs):.3f}" for m in MODELS))
        if a.pipeline:
            walls, ref_walls = results[p]["pipeline"], results[ref]["pipeline"]
            cells += [f"{statistics.median(walls):.1f}",
                      f"{statistics.median(w / f for w, f in zip(walls, ref_walls, strict=True)):.2f}"]
        print(f"| {names[p]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
