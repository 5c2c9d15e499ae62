"""The lecture's three training loops as its users run them: in a process of their own, with JAX's
default flags (nothing of nnreg's CPU target), the lecture's data and initial network, each loop
jitted, run once to compile, then timed `--repeats` times. Writes JSON: per model, the runs'
seconds and the validation MSE. The baseline of benchmarks/cpu_target.py, which starts it in a
fresh process with XLA_FLAGS unset.

    python benchmarks/lecture_loop.py [--repeats 5] [--epochs 4000] --json out.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import optax  # noqa: E402

from lecture import reference  # noqa: E402  (jax and optax only: no nnreg, no pins)

SEED, SIZES = 14, (1, 10, 10, 10, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    key_train, key_validate = jax.random.split(jax.random.PRNGKey(SEED))
    x, y = reference.generate_data(key_train)
    x_validate, y_validate = reference.generate_data(key_validate)
    theta = reference.initialize_network(jax.random.PRNGKey(1234), SIZES)
    loops = {"gd": jax.jit(lambda t, x, y: reference.train_gd(t, x, y, a.epochs, 0.001)),
             "optax_sgd": jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.sgd(0.001))),
             "optax_adam": jax.jit(lambda t, x, y: reference.train_optax(t, x, y, a.epochs, optax.adam(0.001)))}
    out = {}
    for model, loop in loops.items():
        trained = jax.block_until_ready(loop(theta, x, y))  # compiles
        runs = []
        for _ in range(a.repeats):
            start = time.perf_counter()
            jax.block_until_ready(loop(theta, x, y))
            runs.append(time.perf_counter() - start)
        out[model] = {"runs_s": runs, "validate_mse": float(reference.loss_fn(trained, x_validate, y_validate))}
    Path(a.json).write_text(json.dumps({"jax": jax.__version__, "devices": len(jax.devices()), "models": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
