"""What the portable CPU target costs: the same benchmarks under `NNREG_CPU_TARGET=portable` (the
default: XLA's code generation pinned to AVX2, YNNPACK's consistent kernels, two host devices)
and `native` (XLA's own choices, every core a device), side by side.

Each round runs, for both targets one after the other, `benchmarks/bench.py` (the JAX trainers
against the lecture's loop, in one process) and `benchmarks/replicates.py` (a replicate batch's
cost per network), each in a fresh process, since XLA's flags are fixed when JAX starts; with
`--pipeline`, also `dvc repro -f` of the whole default pipeline in a fresh clone of HEAD. Prints
the medians over the rounds and the median of the paired ratios native / portable (< 1: the
pin costs time).

    python benchmarks/cpu_target.py [--rounds 3] [--repeats 5] [--pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("portable", "native")


def _env(target: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NNREG_CPU_TARGET")}
    env.update(NNREG_CPU_TARGET=target, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", DVC_NO_ANALYTICS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return env


def _json_of(script: str, target: str, *args: str) -> object:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args, "--json", str(out)], cwd=REPO,
                       env=_env(target), check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def _pipeline_s(target: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        start = time.perf_counter()
        # PYTHONPATH: the clone's own nnreg, not the working tree the venv's editable install points at.
        subprocess.run([sys.executable, "-m", "dvc", "repro", "-f", "-q"], cwd=clone,
                       env={**_env(target), "PYTHONPATH": str(clone)}, check=True)
        return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs inside each benchmark process")
    ap.add_argument("--models", nargs="+", default=["gd", "optax_adam", "deep_schedule_l2", "keras"],
                    help="replicate batches to time")
    ap.add_argument("--pipeline", action="store_true", help="also time `dvc repro -f` (minutes a round)")
    a = ap.parse_args()

    rows: dict[tuple[str, str], dict[str, list[float]]] = {}

    def add(what: str, target: str, value: float):
        rows.setdefault((what, "ms" if "per network" in what else "s"), {}).setdefault(
            target, []).append(value)

    for _ in range(a.rounds):
        for target in TARGETS:
            for r in _json_of("bench.py", target, "--repeats", str(a.repeats))["rows"]:
                add(f"trainer {r['model']} (4000 epochs)", target, r["nnreg_s"])
                add(f"lecture's loop, {r['model']}", target, r["lecture_s"])
            for r in _json_of("replicates.py", target, "--repeats", str(a.repeats), "--models", *a.models):
                add(f"batch of {r['n']}, {r['model']} (per network)", target, r["batch_ms_per_network"])
            if a.pipeline:
                add("pipeline, dvc repro -f", target, _pipeline_s(target))

    from nnreg.runtime.machine import cpu_info

    print(f"{cpu_info()['model']}, {os.cpu_count()} cores; {a.rounds} rounds, each target in a fresh process; "
          f"medians\n")
    print("| what | portable | native | native / portable |")
    print("| --- | ---: | ---: | ---: |")
    for (what, unit), by in rows.items():
        p, n = by["portable"], by["native"]
        ratio = statistics.median(x / y for x, y in zip(n, p))
        print(f"| {what} | {statistics.median(p):.4g} {unit} | {statistics.median(n):.4g} {unit} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
