"""The cost per network of a replicate batch against a loop of single runs, side by side.

For each model, trains `--n` replicates (fresh init and data noise each, as the seeds
stage does) two ways in this process: a loop of single compiled runs (`jax.jit(one)`
called once per replicate) and one compiled, vmapped call with the batch split over
every local device (the stages' host devices: two, or every core with
NNREG_CPU_TARGET=native; or every GPU). Both are compiled
first; the timed runs alternate, `--repeats` times, and the table gives medians per
network and the ratio loop / batch (> 1: the batch is faster). It checks that both
ways give the same validation MSEs within 1e-3 relative and prints the largest
difference (vmap is not bit for bit, and float32 rounding grows over 4,000 epochs).

It also times what the stages' progress lines cost: the batch as the stages run it (in
chunks, reading the mean training loss after each: see nnreg.core.replicates.PROGRESS_EVERY_S),
and in a chunk every tenth of the epochs, against the same batch as one compiled program
for the whole run, alternating; all three must give the same bits.

    python benchmarks/replicates.py [--models gd optax_adam keras] [--n 32] [--loop-n 8] [--repeats 5]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)  # as the seeds and sweep stages do (two host devices, or every core under native), compiles cold

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nnreg import trainers  # noqa: E402
from nnreg.core.replicates import compile_batch  # noqa: E402
from nnreg.params.load import load_params  # noqa: E402


def _replicate(params, model):
    """The model's `Replicate`, as its seeds stage makes it."""
    entry = params.models[model]
    return trainers.get(entry.trainer).make_replicate(entry, params.network, params.data, params.train.epochs,
                                                      params.stats.seed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["gd", "optax_adam", "deep_schedule_l2", "keras"])
    ap.add_argument("--n", type=int, default=32, help="networks in the batch")
    ap.add_argument("--loop-n", type=int, default=8, help="networks in the timed loop (the first of the batch's)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    devices = jax.devices()
    rows = []
    for model in a.models:
        one = _replicate(params, model)
        batch = compile_batch(one, np.arange(a.n))
        compile_s, memory = batch.compile_s, batch.memory_bytes
        indices = batch.args[0]
        whole = jax.jit(jax.vmap(one)).lower(indices).compile(compiler_options={"xla_backend_optimization_level": 1})
        single = jax.jit(lambda i: one(i))
        start = time.perf_counter()
        jax.block_until_ready(single(0))
        single_compile_s = time.perf_counter() - start
        batch_ms, loop_ms, whole_ms, tenths_ms = [], [], [], []
        for _ in range(a.repeats):
            start = time.perf_counter()
            out = batch.run(progress=lambda *_: None)
            batch_ms.append(1e3 * (time.perf_counter() - start) / a.n)
            start = time.perf_counter()
            out_tenths = batch.run(progress=lambda *_: None, every_s=0.0)
            tenths_ms.append(1e3 * (time.perf_counter() - start) / a.n)
            np.testing.assert_array_equal(out.validate_mse, out_tenths.validate_mse)
            start = time.perf_counter()
            out_whole = jax.block_until_ready(whole(indices))
            whole_ms.append(1e3 * (time.perf_counter() - start) / a.n)
            np.testing.assert_array_equal(out.validate_mse, np.asarray(out_whole.validate_mse)[: a.n])
            start = time.perf_counter()
            looped = [jax.block_until_ready(single(i)) for i in range(a.loop_n)]
            loop_ms.append(1e3 * (time.perf_counter() - start) / a.loop_n)
        batch_val = np.asarray(out.validate_mse)[: a.loop_n]
        loop_val = np.array([float(r.validate_mse) for r in looped])
        np.testing.assert_allclose(batch_val, loop_val, rtol=1e-3, err_msg=f"{model}: batch and loop disagree")
        b, l, w = statistics.median(batch_ms), statistics.median(loop_ms), statistics.median(whole_ms)
        rows.append({"model": model, "n": a.n, "devices": len(devices), "device": devices[0].device_kind,
                     "loop_ms_per_network": l, "batch_ms_per_network": b, "loop_over_batch": l / b,
                     "one_program_ms_per_network": w,
                     # medians of the ratios of the runs made side by side (less noisy than ratios of medians)
                     "progress_cost": statistics.median(x / y for x, y in zip(batch_ms, whole_ms)) - 1,
                     "tenths_cost": statistics.median(x / y for x, y in zip(tenths_ms, whole_ms)) - 1,
                     "batch_compile_s": compile_s, "single_compile_s": single_compile_s,
                     "batch_memory_mb_per_device": memory / 2**20,
                     "max_relative_difference": float(np.max(np.abs(batch_val - loop_val) / loop_val))})
    print(f"{machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}, jax {jax.__version__}, {len(devices)} x {devices[0].device_kind}, "
          f"{params.train.epochs} epochs, {a.repeats} repeats (medians)\n")
    print("| model | networks | loop (ms/network) | batch (ms/network) | loop / batch | batch compile (s) "
          "| largest MSE difference | one program (ms/network) | progress cost | a chunk a tenth |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['n']} | {r['loop_ms_per_network']:.1f} | {r['batch_ms_per_network']:.2f} | "
              f"{r['loop_over_batch']:.2f} | {r['batch_compile_s']:.2f} | {r['max_relative_difference']:.1e} | "
              f"{r['one_program_ms_per_network']:.2f} | {100 * r['progress_cost']:+.1f} % | "
              f"{100 * r['tenths_cost']:+.1f} % |")
    print("\nbatch and loop gave the same validation MSEs within 1e-3 relative; the batch in chunks with "
          "progress and as one program gave the same bits")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
