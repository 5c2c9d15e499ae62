"""Are the JAX models' results bitwise repeatable on this device, and how far from the CPU's?

Trains each JAX model `--runs` times on the default device and once on the host
CPU, in one process, and prints: whether every run gave the same bits, the median
runtime, and the largest relative difference of the final parameters and of the
validation MSE against the CPU. Run it twice to compare XLA flags, e.g.
XLA_FLAGS=--xla_gpu_deterministic_ops=true.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)  # the stages' CPU target (NNREG_CPU_TARGET=native: XLA's own); compiles timed cold

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nnreg.params.schema import DataParams  # noqa: E402
from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.core.network import init_network, mse  # noqa: E402
from nnreg.params.schema import Params  # noqa: E402
from nnreg.trainers.jax import optimizer_of  # noqa: E402
from nnreg.core.training import make_train_fn  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    cpu = jax.devices("cpu")[0]
    dev = jax.devices()[0]
    with jax.default_device(cpu):
        d_cpu = make_dataset(DataParams())
    theta0 = init_network(jax.random.PRNGKey(1234), (1, 10, 10, 10, 1))
    rows = []
    for model in ("gd", "optax_sgd", "optax_adam"):
        fn = make_train_fn(optimizer_of(Params().models[model], 0.001), 4000)
        ref = jax.device_get(fn(jax.device_put(theta0, cpu), *d_cpu))
        args = jax.device_put((theta0, *d_cpu), dev)
        jax.block_until_ready(fn(*args))
        outs, times = [], []
        for _ in range(a.runs):
            t = time.perf_counter()
            outs.append(jax.device_get(jax.block_until_ready(fn(*args))))
            times.append(time.perf_counter() - t)
        leaves = [jax.tree.leaves(o) for o in outs]
        same = all(all(np.array_equal(x, y) for x, y in zip(leaves[0], l, strict=True)) for l in leaves[1:])
        rel = max(float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-30)))
                  for x, y in zip(jax.tree.leaves(outs[0][0]), jax.tree.leaves(ref[0]), strict=True))
        val_dev = float(mse(outs[0][0], *d_cpu[2:]))
        val_cpu = float(mse(ref[0], *d_cpu[2:]))
        rows.append({"model": model, "bitwise_repeatable": same, "median_s": statistics.median(times),
                     "max_rel_param_diff_vs_cpu": rel, "validate_mse": val_dev, "validate_mse_cpu": val_cpu,
                     "rel_mse_diff_vs_cpu": abs(val_dev - val_cpu) / val_cpu})
    print(f"device {dev.device_kind} ({dev.platform}); XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; {a.runs} runs")
    print("| model | bitwise repeatable | median (s) | max rel. param diff vs CPU | val MSE | val MSE CPU | rel. MSE diff |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['bitwise_repeatable']} | {r['median_s']:.4f} | {r['max_rel_param_diff_vs_cpu']:.2e} "
              f"| {r['validate_mse']:.8f} | {r['validate_mse_cpu']:.8f} | {r['rel_mse_diff_vs_cpu']:.2e} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
