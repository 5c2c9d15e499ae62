"""What the portable CPU target costs: the same benchmarks under `NNREG_CPU_TARGET=portable` (the
default: XLA's code generation pinned to AVX2, YNNPACK's consistent kernels, two host devices)
and `native` (XLA's own choices, every core a device), side by side.

Each round runs, for both targets one after the other, `benchmarks/bench.py` (one round: the
lecture's three loops as its users run them, in a process of their own with JAX's default flags,
then the JAX trainers as train@ runs them under the target) and `benchmarks/replicates.py` (a
replicate batch's cost per network), each in a fresh process, since XLA's flags are fixed when
JAX starts; with `--pipeline`, also `dvc repro -f` of the whole default pipeline in a fresh clone
of HEAD. Prints
the medians over the rounds (each round's figure the median of its process's runs), the median
of the paired ratios native / portable (< 1: the pin costs time), and each trainer against the
lecture as published (lecture / nnreg > 1: nnreg is faster).

    python benchmarks/cpu_target.py [--rounds 3] [--repeats 5] [--pipeline] [--against="XLA flags"]

`--against FLAGS`: the portable target with FLAGS in place of its pins of the same name, rather
than `native` (what one pin costs: `--against=--xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce`
is the target before its fourth pin; write it with `=`, as argparse wants).
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
AGAINST: str | None = None  # --against: the other target's XLA flags (portable with these), else native


def _env(target: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NNREG_CPU_TARGET")}
    env.update(NNREG_CPU_TARGET="portable" if target == "portable" or AGAINST else target, KERAS_BACKEND="jax",
               JAX_PLATFORMS="cpu", DVC_NO_ANALYTICS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    if AGAINST and target != "portable":
        env["XLA_FLAGS"] = AGAINST  # honoured by the stages' set-up, which adds the other pins
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
    ap.add_argument("--against", help="XLA flags: the portable target with these, in place of native")
    a = ap.parse_args()
    global AGAINST
    AGAINST = a.against

    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    published: dict[str, dict[str, list[float]]] = {}  # model -> target -> lecture as published / nnreg, a round

    def add(what: str, target: str, value: float):
        rows.setdefault((what, "ms" if "per network" in what else "s"), {}).setdefault(
            target, []).append(value)

    for _ in range(a.rounds):
        for target in TARGETS:
            for r in _json_of("bench.py", target, "--rounds", "1", "--repeats", str(a.repeats))["rows"]:
                add(f"trainer {r['model']} (4000 epochs)", target, r["nnreg_s"])
                add(f"lecture as published, {r['model']} (beside this target's run)", target, r["lecture_published_s"])
                add(f"lecture's loop under this target's flags, {r['model']}", target, r["lecture_s"])
                published.setdefault(r["model"], {}).setdefault(target, []).append(r["ratio"])
            for r in _json_of("replicates.py", target, "--repeats", str(a.repeats), "--models", *a.models):
                add(f"batch of {r['n']}, {r['model']} (per network)", target, r["batch_ms_per_network"])
            if a.pipeline:
                add("pipeline, dvc repro -f", target, _pipeline_s(target))

    from nnreg.runtime.machine import cpu_info

    other_target = f"portable with {AGAINST}" if AGAINST else "native"
    print(f"{cpu_info()['model']}, {os.cpu_count()} cores; {a.rounds} rounds, each target in a fresh process; "
          f"medians; {time.strftime('%Y-%m-%d')}; against portable: {other_target}\n")
    other = "against" if AGAINST else "native"
    print(f"| what | portable | {other} | {other} / portable |")
    print("| --- | ---: | ---: | ---: |")
    for (what, unit), by in rows.items():
        p, n = by["portable"], by["native"]
        ratio = statistics.median(x / y for x, y in zip(n, p))
        print(f"| {what} | {statistics.median(p):.4g} {unit} | {statistics.median(n):.4g} {unit} | {ratio:.2f} |")

    print("\nThe lecture as its users run it (its own process, JAX's default flags) / nnreg's trainer, "
          "4000 epochs, each ratio from one bench.py run (> 1: nnreg is faster)")
    print(f"| model | lecture / portable | lecture / {other} |")
    print("| --- | ---: | ---: |")
    for model, by in published.items():
        print(f"| {model} | {statistics.median(by['portable']):.2f} | {statistics.median(by['native']):.2f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
