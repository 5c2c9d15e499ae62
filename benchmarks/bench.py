"""Speed of nnreg's training function against the lecture's own code, side by side.

Both train the lecture's network on the lecture's data for the same epochs, in this
process, alternating, `--repeats` times each after compiling. Prints a table of
medians and the ratio lecture/nnreg (> 1: nnreg is faster), and checks that both
reach the same validation MSE (within 1e-4 relative; exit status 1 if not).

    python benchmarks/bench.py [--repeats 7] [--epochs 4000] [--json out.json]
"""

import argparse
import json
import platform
import statistics
import sys
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
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--json")
    a = ap.parse_args()

    d = make_dataset(DataParams())
    theta0 = init_network(jax.random.PRNGKey(1234), SIZES)
    rows = []
    for model, lecture_fn in [
        ("gd", jax.jit(lambda t, x, y: reference.train_gd(t, x, y, a.epochs, 0.001))),
        ("optax_sgd", jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.sgd(0.001)))),
        ("optax_adam", jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.adam(0.001)))),
    ]:
        ours_fn = make_train_fn(optimizer_of(Params().models[model], 0.001), a.epochs, shared_x=d.shares_x())  # as train@
        ours, ours_c, ours_runs = _time(ours_fn, (theta0, *d), a.repeats)
        lect, lect_c, lect_runs = _time(lecture_fn, (theta0, d.x_train, d.y_train), a.repeats)
        ours_med, lect_med = statistics.median(ours_runs), statistics.median(lect_runs)
        rows.append({
            "model": model,
            "lecture_s": lect_med,
            "nnreg_s": ours_med,
            "ratio": lect_med / ours_med,
            "nnreg_us_per_epoch": 1e6 * ours_med / a.epochs,
            "lecture_compile_s": lect_c,
            "nnreg_compile_s": ours_c,
            "lecture_validate_mse": float(mse(lect, d.x_validate, d.y_validate)),
            "nnreg_validate_mse": float(mse(ours[0], d.x_validate, d.y_validate)),
        })

    dev = jax.devices()[0]
    print(f"device: {dev.device_kind if dev.platform != 'cpu' else platform.processor() or 'cpu'} "
          f"({dev.platform}), jax {jax.__version__}, {a.epochs} epochs, median of {a.repeats} runs")
    print("nnreg records training and validation loss every epoch; the lecture's loop records nothing.")
    print("| model | lecture (s) | nnreg (s) | ratio lecture/nnreg | nnreg µs/epoch | val MSE lecture | val MSE nnreg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['lecture_s']:.4f} | {r['nnreg_s']:.4f} | {r['ratio']:.2f} | "
              f"{r['nnreg_us_per_epoch']:.1f} | {r['lecture_validate_mse']:.7f} | {r['nnreg_validate_mse']:.7f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"device": str(dev), "jax": jax.__version__, "rows": rows}, indent=2))
    # The two loops must train the same network: the same validation MSE within 1e-4 relative
    # (the tests hold every parameter to that; rounding differs only in the loop around the step).
    off = [r["model"] for r in rows
           if abs(r["nnreg_validate_mse"] - r["lecture_validate_mse"]) > 1e-4 * abs(r["lecture_validate_mse"])]
    if off:
        sys.exit(f"FAILED: nnreg and the lecture's code reach different validation MSEs for {', '.join(off)}")
    print("both loops reach the same validation MSE (within 1e-4 relative) for every model")


if __name__ == "__main__":
    main()
