"""Speed of nnreg's training function against the lecture's own code, side by side.

Each of `--rounds` rounds times the lecture's three loops as its users run them
(benchmarks/lecture_loop.py: a process of their own, JAX's default flags), then, in this
process under nnreg's CPU target (the stages' pins; NNREG_CPU_TARGET=native: XLA's own), nnreg's
trainer as train@ runs it and the lecture's loop again, `--repeats` runs each after compiling.
Prints the medians over the rounds of each round's median, the ratio lecture as published /
nnreg paired by round (> 1: nnreg is faster), and checks that all reach the same validation
MSE (within 1e-4 relative; exit status 1 if not). The lecture's loop under nnreg's flags is
there to show what the flags do to it, not as the baseline: nobody runs the lecture that way.

    python benchmarks/bench.py [--rounds 5] [--repeats 5] [--epochs 4000] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)  # the stages' CPU target (NNREG_CPU_TARGET=native: XLA's own); compiles timed cold

import jax  # noqa: E402
import optax  # noqa: E402

from nnreg.params.schema import DataParams  # noqa: E402
from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.core.network import init_network, mse  # noqa: E402
from nnreg.params.schema import Params  # noqa: E402
from nnreg.trainers.jax import optimizer_of  # noqa: E402
from nnreg.core.training import make_train_fn  # noqa: E402
from lecture import reference  # noqa: E402

SIZES = (1, 10, 10, 10, 1)
HERE = Path(__file__).resolve().parent


def lecture_as_published(repeats: int, epochs: int) -> dict:
    """benchmarks/lecture_loop.py in a fresh process with JAX's defaults (no XLA_FLAGS, no target)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NNREG_CPU_TARGET")}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, str(HERE / "lecture_loop.py"), "--repeats", str(repeats), "--epochs",
                        str(epochs), "--json", str(out)], env={**env, "JAX_PLATFORMS": "cpu"}, check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())["models"]


def _time(fn, args, repeats):
    compiled_start = time.perf_counter()
    jax.block_until_ready(fn(*args))  # warm-up: compiles
    compile_s = time.perf_counter() - compiled_start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        runs.append(time.perf_counter() - start)
    return out, compile_s, runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--json")
    a = ap.parse_args()

    d = make_dataset(DataParams())
    theta0 = init_network(jax.random.PRNGKey(1234), SIZES)
    loops = {
        "gd": jax.jit(lambda t, x, y: reference.train_gd(t, x, y, a.epochs, 0.001)),
        "optax_sgd": jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.sgd(0.001))),
        "optax_adam": jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.adam(0.001))),
    }
    ours_fns = {model: make_train_fn(optimizer_of(Params().models[model], 0.001), a.epochs, shared_x=d.shares_x())
                for model in loops}  # as train@
    per_round = {model: {"published": [], "nnreg": [], "here": []} for model in loops}
    last = {}
    for _ in range(a.rounds):
        published = lecture_as_published(a.repeats, a.epochs)
        for model, lecture_fn in loops.items():
            ours, ours_c, ours_runs = _time(ours_fns[model], (theta0, *d), a.repeats)
            lect, lect_c, lect_runs = _time(lecture_fn, (theta0, d.x_train, d.y_train), a.repeats)
            per_round[model]["published"].append(statistics.median(published[model]["runs_s"]))
            per_round[model]["nnreg"].append(statistics.median(ours_runs))
            per_round[model]["here"].append(statistics.median(lect_runs))
            last.setdefault(model, (ours, ours_c, lect, lect_c, published[model]["validate_mse"]))  # compiles: round 1

    rows = []
    for model, runs in per_round.items():
        ours, ours_c, lect, lect_c, published_mse = last[model]
        nnreg_s = statistics.median(runs["nnreg"])
        rows.append({
            "model": model,
            "lecture_published_s": statistics.median(runs["published"]),
            "lecture_s": statistics.median(runs["here"]),  # the lecture's loop in this process, under nnreg's flags
            "nnreg_s": nnreg_s,
            "ratio": statistics.median(p / n for p, n in zip(runs["published"], runs["nnreg"])),
            "nnreg_us_per_epoch": 1e6 * nnreg_s / a.epochs,
            "lecture_compile_s": lect_c,
            "nnreg_compile_s": ours_c,
            "lecture_published_validate_mse": published_mse,
            "lecture_validate_mse": float(mse(lect, d.x_validate, d.y_validate)),
            "nnreg_validate_mse": float(mse(ours[0], d.x_validate, d.y_validate)),
        })

    dev = jax.devices()[0]
    cpu = machine.cpu_info()["model"] if dev.platform == "cpu" else dev.device_kind
    print(f"{cpu} ({dev.platform}, {machine.target()} target), jax {jax.__version__}, {a.epochs} epochs; "
          f"{a.rounds} rounds of {a.repeats} runs, medians, {time.strftime('%Y-%m-%d')}")
    print("nnreg records training and validation loss every epoch; the lecture's loop records nothing.")
    print("| model | lecture as published (s) | nnreg (s) | lecture / nnreg | nnreg µs/epoch "
          "| lecture under nnreg's flags (s) | val MSE lecture | val MSE nnreg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['lecture_published_s']:.4f} | {r['nnreg_s']:.4f} | {r['ratio']:.2f} | "
              f"{r['nnreg_us_per_epoch']:.1f} | {r['lecture_s']:.4f} | {r['lecture_published_validate_mse']:.7f} | "
              f"{r['nnreg_validate_mse']:.7f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"device": str(dev), "cpu": cpu, "jax": jax.__version__, "rows": rows},
                                           indent=2))
    # The two loops must train the same network: the same validation MSE within 1e-4 relative
    # (the tests hold every parameter to that; rounding differs only in the loop around the step).
    off = [r["model"] for r in rows for lecture in ("lecture_validate_mse", "lecture_published_validate_mse")
           if abs(r["nnreg_validate_mse"] - r[lecture]) > 1e-4 * abs(r[lecture])]
    if off:
        sys.exit(f"FAILED: nnreg and the lecture's code reach different validation MSEs for {', '.join(off)}")
    print("both loops reach the same validation MSE (within 1e-4 relative) for every model")


if __name__ == "__main__":
    main()
