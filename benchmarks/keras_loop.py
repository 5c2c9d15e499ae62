"""Keras's two loops side by side: `fit` (the lecture's benchmark) and `scan` (the same Keras
steps in one jitted lax.scan, nnreg.trainers.keras.train_scan), in this process, alternating.

Each repeat builds the lecture's Keras model from the same seed and trains it both ways
on the lecture's data. Prints the medians, the median of the paired ratios fit/scan,
and whether the two ended with the same bits (exit status 1 if the weights differ).

    python benchmarks/keras_loop.py [--repeats 5] [--epochs 4000]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)  # the stages' CPU target (NNREG_CPU_TARGET=native: XLA's own); compiles timed cold

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nnreg.params.schema import Params  # noqa: E402
from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.trainers.keras import build_model, fit_model, keras  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4000)
    a = ap.parse_args()

    p = Params()
    d = make_dataset(p.data)
    times = {"fit": [], "scan": []}
    compile_s = {"fit": [], "scan": []}
    same = True
    for _ in range(a.repeats):
        nets = {}
        for loop in ("fit", "scan"):
            keras.utils.set_random_seed(p.network.init_seed)
            model = build_model(p.network.layer_sizes, p.network.activation, p.models["keras"].learning_rate)
            net, history, timing = fit_model(model, *d, epochs=a.epochs, loop=loop)
            times[loop].append(timing.runtime_s)
            compile_s[loop].append(timing.compile_s)
            nets[loop] = (net, history)
        same &= all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(nets["fit"]), jax.tree.leaves(nets["scan"]),
                                                         strict=True))
    ratios = [f / s for f, s in zip(times["fit"], times["scan"], strict=True)]
    dev = jax.devices()[0]
    print(f"{dev.device_kind if dev.platform != 'cpu' else machine.cpu_info()['model']} ({dev.platform}), "
          f"{time.strftime('%Y-%m-%d')}, "
          f"keras {keras.__version__}, jax {jax.__version__}, {a.epochs} epochs, median of {a.repeats} paired runs")
    print("| loop | training (s) | µs/epoch | compile (s) |\n| --- | ---: | ---: | ---: |")
    for loop in ("fit", "scan"):
        t = statistics.median(times[loop])
        print(f"| {loop} | {t:.3f} | {1e6 * t / a.epochs:.1f} | {statistics.median(compile_s[loop]):.2f} |")
    print(f"fit / scan: {statistics.median(ratios):.1f} (paired ratios {min(ratios):.1f} to {max(ratios):.1f}); "
          f"weights and losses {'the same bits' if same else 'DIFFERENT'}")
    if not same:
        sys.exit("FAILED: the scan loop did not end with fit's bits")


if __name__ == "__main__":
    main()
